package cqlserver

import (
	"net"
	"sort"
)

// Identity of the single node this server pretends to be. The release
// version makes gocql read schema from system_schema (>= 3.0) and try
// system.peers_v2 first (>= 4.0), both of which are served.
const (
	releaseVersion = "4.0.11"
	cqlVersion     = "3.4.5"
	clusterName    = "cqlserver"
	dataCenter     = "datacenter1"
	rack           = "rack1"
	partitioner    = "org.apache.cassandra.dht.Murmur3Partitioner"
)

type vcol struct {
	name string
	typ  *cqlType
}

func virtual(ks, name string, cols []vcol, rows [][][]byte) *table {
	t := &table{ks: ks, name: name, byName: map[string]*column{}, virtual: rows}
	if t.virtual == nil {
		t.virtual = [][][]byte{}
	}
	for _, c := range cols {
		col := &column{name: c.name, typ: c.typ, kind: kindRegular, pos: -1}
		t.cols = append(t.cols, col)
		t.byName[c.name] = col
	}
	return t
}

// virtualTable builds a system table as of now; nil if it is not one this
// server knows. local is the address the asking client connected to, which
// system.local reports as the node's rpc_address so that drivers connect
// back to the same place.
func (e *engine) virtualTable(ks, name string, local net.IP) *table {
	if local == nil {
		local = net.IPv4(127, 0, 0, 1)
	}
	switch ks + "." + name {
	case "system.local":
		return virtual(ks, name, []vcol{
			{"key", tText}, {"bootstrapped", tText}, {"broadcast_address", tInet}, {"broadcast_port", tInt},
			{"cluster_name", tText}, {"cql_version", tText}, {"data_center", tText}, {"gossip_generation", tInt},
			{"host_id", tUUID}, {"listen_address", tInet}, {"listen_port", tInt}, {"native_protocol_version", tText},
			{"partitioner", tText}, {"rack", tText}, {"release_version", tText}, {"rpc_address", tInet},
			{"rpc_port", tInt}, {"schema_version", tUUID}, {"tokens", tSetText},
		}, [][][]byte{{
			encText("local"), encText("COMPLETED"), encInet(local), encInt(7000),
			encText(clusterName), encText(cqlVersion), encText(dataCenter), encInt(1),
			e.hostID, encInet(local), encInt(7000), encText("4"),
			encText(partitioner), encText(rack), encText(releaseVersion), encInet(local),
			encInt(9042), e.schemaVersion, encTextCollection(typeSet, []string{"0"}),
		}})
	case "system.peers":
		return virtual(ks, name, []vcol{
			{"peer", tInet}, {"data_center", tText}, {"host_id", tUUID}, {"preferred_ip", tInet}, {"rack", tText},
			{"release_version", tText}, {"rpc_address", tInet}, {"schema_version", tUUID}, {"tokens", tSetText},
		}, nil)
	case "system.peers_v2":
		return virtual(ks, name, []vcol{
			{"peer", tInet}, {"peer_port", tInt}, {"data_center", tText}, {"host_id", tUUID}, {"native_address", tInet},
			{"native_port", tInt}, {"preferred_ip", tInet}, {"preferred_port", tInt}, {"rack", tText},
			{"release_version", tText}, {"schema_version", tUUID}, {"tokens", tSetText},
		}, nil)
	case "system_schema.keyspaces":
		var rows [][][]byte
		for _, k := range e.sortedKeyspaces() {
			rows = append(rows, [][]byte{encText(k.name), encBool(k.durable), encTextMap(k.replication)})
		}
		return virtual(ks, name, []vcol{{"keyspace_name", tText}, {"durable_writes", tBoolean}, {"replication", tMapText}}, rows)
	case "system_schema.tables":
		var rows [][][]byte
		for _, k := range e.sortedKeyspaces() {
			for _, t := range sortedTables(k) {
				rows = append(rows, [][]byte{encText(k.name), encText(t.name), encDouble(0.01), encTextMap(map[string]string{"keys": "ALL", "rows_per_partition": "NONE"}),
					encText(t.comment), encTextMap(map[string]string{"class": "org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy"}),
					encTextMap(map[string]string{"class": "org.apache.cassandra.io.compress.LZ4Compressor"}), encDouble(1),
					encInt(int32(t.defaultTTL)), encTextCollection(typeSet, []string{"compound"}), encInt(864000), t.id,
					encInt(2048), encInt(0), encInt(128), encText("99p")})
			}
		}
		return virtual(ks, name, []vcol{
			{"keyspace_name", tText}, {"table_name", tText}, {"bloom_filter_fp_chance", tDouble}, {"caching", tMapText},
			{"comment", tText}, {"compaction", tMapText}, {"compression", tMapText}, {"crc_check_chance", tDouble},
			{"default_time_to_live", tInt}, {"flags", tSetText}, {"gc_grace_seconds", tInt}, {"id", tUUID},
			{"max_index_interval", tInt}, {"memtable_flush_period_in_ms", tInt}, {"min_index_interval", tInt},
			{"speculative_retry", tText},
		}, rows)
	case "system_schema.columns":
		var rows [][][]byte
		for _, k := range e.sortedKeyspaces() {
			for _, t := range sortedTables(k) {
				for _, c := range t.cols {
					order, pos := "none", int32(-1)
					switch c.kind {
					case kindPartition:
						pos = int32(c.pos)
					case kindClustering:
						pos = int32(c.pos)
						order = "asc"
						if t.desc[c.pos] {
							order = "desc"
						}
					}
					rows = append(rows, [][]byte{encText(k.name), encText(t.name), encText(c.name), encText(order),
						[]byte(c.name), encText(c.kind.String()), encInt(pos), encText(c.typ.String())})
				}
			}
		}
		return virtual(ks, name, []vcol{
			{"keyspace_name", tText}, {"table_name", tText}, {"column_name", tText}, {"clustering_order", tText},
			{"column_name_bytes", tBlob}, {"kind", tText}, {"position", tInt}, {"type", tText},
		}, rows)
	case "system_schema.types":
		return virtual(ks, name, []vcol{{"keyspace_name", tText}, {"type_name", tText}, {"field_names", tListText}, {"field_types", tListText}}, nil)
	case "system_schema.functions":
		return virtual(ks, name, []vcol{
			{"keyspace_name", tText}, {"function_name", tText}, {"argument_types", tListText}, {"argument_names", tListText},
			{"body", tText}, {"called_on_null_input", tBoolean}, {"language", tText}, {"return_type", tText},
		}, nil)
	case "system_schema.aggregates":
		return virtual(ks, name, []vcol{
			{"keyspace_name", tText}, {"aggregate_name", tText}, {"argument_types", tListText}, {"final_func", tText},
			{"initcond", tText}, {"return_type", tText}, {"state_func", tText}, {"state_type", tText},
		}, nil)
	case "system_schema.views":
		return virtual(ks, name, []vcol{
			{"keyspace_name", tText}, {"view_name", tText}, {"base_table_id", tUUID}, {"base_table_name", tText},
			{"bloom_filter_fp_chance", tDouble}, {"caching", tMapText}, {"comment", tText}, {"compaction", tMapText},
			{"compression", tMapText}, {"crc_check_chance", tDouble}, {"dclocal_read_repair_chance", tDouble},
			{"default_time_to_live", tInt}, {"extensions", tMapBlob}, {"gc_grace_seconds", tInt}, {"id", tUUID},
			{"include_all_columns", tBoolean}, {"max_index_interval", tInt}, {"memtable_flush_period_in_ms", tInt},
			{"min_index_interval", tInt}, {"read_repair_chance", tDouble}, {"speculative_retry", tText},
			{"where_clause", tText},
		}, nil)
	case "system_schema.indexes":
		return virtual(ks, name, []vcol{{"keyspace_name", tText}, {"table_name", tText}, {"index_name", tText}, {"kind", tText}, {"options", tMapText}}, nil)
	case "system_schema.triggers":
		return virtual(ks, name, []vcol{{"keyspace_name", tText}, {"table_name", tText}, {"trigger_name", tText}, {"options", tMapText}}, nil)
	}
	return nil
}

func (e *engine) sortedKeyspaces() []*keyspace {
	sys := []*keyspace{
		{name: "system", durable: true, replication: map[string]string{"class": "org.apache.cassandra.locator.LocalStrategy"}},
		{name: "system_schema", durable: true, replication: map[string]string{"class": "org.apache.cassandra.locator.LocalStrategy"}},
	}
	out := make([]*keyspace, 0, len(e.keyspaces))
	for _, k := range e.keyspaces {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return append(sys, out...)
}

func sortedTables(k *keyspace) []*table {
	out := make([]*table, 0, len(k.tables))
	for _, t := range k.tables {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}
