package clickhousemigrate

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

//go:embed *.sql
var files embed.FS

// DatabasePlaceholder stands for the database name in the migrations'
// statements. Names are qualified because a materialized view resolves an
// unqualified table in the session's current database, which a pooled
// connection does not promise.
const DatabasePlaceholder = "{database}"

// Migration is one versioned SQL file.
type Migration struct {
	// Version is the file name's numeric prefix (1 for 001_init.sql).
	Version int
	// Name is the rest of the file name without the extension ("init").
	Name string
	// File is the file name ("001_init.sql").
	File string
	// Statements are the file's statements, comments stripped, without
	// their terminating semicolons, in file order, with
	// DatabasePlaceholder where the database goes.
	Statements []string
	// Checksum is the SHA-256 (hex) of the statements as split: comments,
	// blank lines and indentation may change without changing it; any
	// change to a statement does. It does not depend on the database.
	Checksum string
}

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
func Migrations() ([]Migration, error) { return load(files) }

// fileName is a migration's file name: a version, an underscore, a name.
var fileName = regexp.MustCompile(`^([0-9]+)_([A-Za-z0-9_]+)\.sql$`)

// load reads every *.sql file at the root of fsys.
func load(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var (
		out  []Migration
		errs []error
		seen = map[int]string{}
	)
	for _, file := range entries {
		m := fileName.FindStringSubmatch(file)
		if m == nil {
			errs = append(errs, fmt.Errorf("migration %s: file name must be <version>_<name>.sql, e.g. 002_add_rollup.sql", file))
			continue
		}
		version, err := strconv.Atoi(m[1])
		if err != nil || version <= 0 {
			errs = append(errs, fmt.Errorf("migration %s: version %q must be a positive integer", file, m[1]))
			continue
		}
		if prev, ok := seen[version]; ok {
			errs = append(errs, fmt.Errorf("migration %s: version %d is also %s", file, version, prev))
			continue
		}
		seen[version] = file
		data, err := fs.ReadFile(fsys, file)
		if err != nil {
			errs = append(errs, fmt.Errorf("migration %s: %w", file, err))
			continue
		}
		stmts, err := split(string(data))
		if err != nil {
			errs = append(errs, fmt.Errorf("migration %s: %w", file, err))
			continue
		}
		if len(stmts) == 0 {
			errs = append(errs, fmt.Errorf("migration %s: no statements", file))
			continue
		}
		out = append(out, Migration{
			Version:    version,
			Name:       m[2],
			File:       file,
			Statements: stmts,
			Checksum:   checksum(stmts),
		})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// checksum hashes statements as split, so that the hash depends on what
// is executed and not on comments or layout.
func checksum(stmts []string) string {
	h := sha256.New()
	for _, s := range stmts {
		h.Write([]byte(s))
		h.Write([]byte{';', '\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// split cuts a SQL file into statements. A statement ends with a semicolon
// at the end of a line (after any comment); `--` starts a comment that
// runs to the end of the line, except inside '…' strings and "…" or `…`
// identifiers. Lines are trimmed and blank lines dropped, so the result
// depends only on the statements. Block comments (/* */) are not
// supported: the migrations do not use them.
func split(src string) ([]string, error) {
	var (
		stmts []string
		cur   []string
		quote byte // the open quote character, or 0
		start int  // line number where cur began
	)
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	for i, line := range lines {
		code, q := stripComment(line, quote)
		quote = q
		code = strings.TrimSpace(code)
		if code == "" && quote == 0 {
			continue
		}
		if len(cur) == 0 {
			start = i + 1
		}
		if quote == 0 && strings.HasSuffix(code, ";") {
			cur = append(cur, strings.TrimSpace(strings.TrimSuffix(code, ";")))
			stmt := strings.TrimSpace(strings.Join(cur, "\n"))
			cur = cur[:0]
			if stmt == "" {
				return nil, fmt.Errorf("line %d: empty statement", i+1)
			}
			stmts = append(stmts, stmt)
			continue
		}
		cur = append(cur, code)
	}
	if quote != 0 {
		return nil, fmt.Errorf("line %d: unterminated %c quote", start, quote)
	}
	if len(cur) > 0 {
		return nil, fmt.Errorf("line %d: statement not terminated by ';' at the end of a line", start)
	}
	return stmts, nil
}

// stripComment returns line without its trailing comment, given the quote
// open at its start, and the quote open at its end. ClickHouse escapes a
// quote inside a string with a backslash or by doubling it; doubling
// closes and reopens the string, which leaves the state right, and a
// backslash skips the next character.
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
