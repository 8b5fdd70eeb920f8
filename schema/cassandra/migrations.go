package cassandramigrate

import (
	"embed"

	"github.com/tollgate/tollgate/internal/migration"
)

// Component is the component under which Tollgate's own migrations are
// recorded in schema_migrations (Kong's "core" subsystem); plugins that
// bring tables would record theirs under their own name.
const Component = "core"

//go:embed *.cql
var files embed.FS

// Migration is one versioned CQL file: its version and name, parsed from
// the file name (1 and "init" for 001_init.cql), its statements and their
// checksum.
type Migration = migration.Migration

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) { return cql.Load(files) }

// cql reads CQL migration files.
var cql = migration.Dialect{Ext: ".cql", Example: "002_add_index.cql", Comment: stripComment}

// stripComment returns line without its trailing comment, given the quote
// open at its start, and the quote open at its end. `--` and `//` start a
// comment that runs to the end of the line, except inside '…' strings and
// "…" identifiers. A quote doubled inside a string, as CQL escapes it,
// closes and reopens it, which leaves the state right.
func stripComment(line string, quote byte) (string, byte) {
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case (c == '-' || c == '/') && i+1 < len(line) && line[i+1] == c:
			return line[:i], 0
		}
	}
	return line, quote
}
