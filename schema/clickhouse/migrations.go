package clickhousemigrate

import (
	"embed"
	"regexp"
	"strings"

	"github.com/tollgate/tollgate/internal/migration"
)

//go:embed *.sql
var files embed.FS

// DatabasePlaceholder stands for the database name in the migrations'
// statements. Names are qualified because a materialized view resolves an
// unqualified table in the session's current database, which a pooled
// connection does not promise.
const DatabasePlaceholder = "{database}"

// Migration is one versioned SQL file: its version and name, parsed from
// the file name (1 and "init" for 001_init.sql), its statements, with
// DatabasePlaceholder where the database goes, and their checksum, which
// does not depend on the database.
type Migration migration.Migration

// String names the migration as its file does.
func (m Migration) String() string { return m.File }

// In returns m's statements for database.
func (m Migration) In(database string) []string {
	out := make([]string, len(m.Statements))
	for i, s := range m.Statements {
		out[i] = strings.ReplaceAll(s, DatabasePlaceholder, database)
	}
	return out
}

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	migs, err := sql.Load(files)
	if err != nil {
		return nil, err
	}
	out := make([]Migration, len(migs))
	for i, m := range migs {
		out[i] = Migration(m)
	}
	return out, nil
}

// viewStatement is how the migrations create a materialized view: the
// view, the table it writes to, and its SELECT.
var viewStatement = regexp.MustCompile(`^CREATE MATERIALIZED VIEW (?:IF NOT EXISTS )?\{database\}\.\w+ TO \{database\}\.(\w+) AS\n(SELECT\n[\s\S]*)$`)

// Views returns the SELECT of the materialized view that writes to each
// table, as the last of migs to create one defines it (a later migration
// may replace a view), with DatabasePlaceholder where the database goes.
func Views(migs []Migration) map[string]string {
	views := map[string]string{}
	for _, m := range migs {
		for _, stmt := range m.Statements {
			if v := viewStatement.FindStringSubmatch(stmt); v != nil {
				views[v[1]] = v[2]
			}
		}
	}
	return views
}

// common returns migs as the shared package takes them.
func common(migs []Migration) []migration.Migration {
	out := make([]migration.Migration, len(migs))
	for i, m := range migs {
		out[i] = migration.Migration(m)
	}
	return out
}

// sql reads ClickHouse SQL migration files.
var sql = migration.Dialect{Ext: ".sql", Example: "002_add_rollup.sql", Comment: stripComment}

// stripComment returns line without its trailing comment, given the quote
// open at its start, and the quote open at its end. `--` starts a comment
// that runs to the end of the line, except inside '…' strings and "…" or
// `…` identifiers. ClickHouse escapes a quote inside a string with a
// backslash or by doubling it; doubling closes and reopens the string,
// which leaves the state right, and a backslash skips the next character.
func stripComment(line string, quote byte) (string, byte) {
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '-' && i+1 < len(line) && line[i+1] == '-':
			return line[:i], 0
		}
	}
	return line, quote
}
