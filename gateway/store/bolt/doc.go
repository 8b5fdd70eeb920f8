// Package bolt is the standalone config store: entities in one bbolt file
// under the data dir, so that a single tollgate process keeps its
// configuration across restarts with nothing to install.
//
// It owns the file (locked for as long as the store is open, so a second
// process fails to open it instead of corrupting it) and the layout below.
// It passes the conformance suite in storetest. It must never be shared
// between processes, and never validates entities beyond their identity.
//
// # Layout
//
// Every write is one bbolt transaction that also bumps the version, so the
// version and the entities always agree, on disk and in snapshots.
//
//	meta                         bucket
//	  "format"                   layout version, "1"
//	  "version"                  config version, 8 bytes big-endian
//	<kind>                       one bucket per entity.Kind ("services", …)
//	  "w" + <workspace>          one bucket per workspace ("w" for workspaces
//	                             themselves, whose workspace is "")
//	    "e"  <id>                → {"workspace": …, "entity": {Kong JSON}}
//	    "u"  <field> 0x00 <value> → <id>       unique-key index
//	    "r"  <kind> 0x00 <ref id> 0x00 <id> → "" reference index
//
// Lists walk "e" in id order, or the "r" range of one reference for
// ListOptions.RefKind; tags are filtered during the walk. A page's offset
// is the opaque encoding of the last id it returned. Replace deletes the
// workspace's bucket under every kind but workspaces, and fills it anew,
// in the transaction that checks the new entities' keys.
package bolt
