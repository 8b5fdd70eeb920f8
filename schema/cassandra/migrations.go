package cassandramigrate

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

// Component is the component under which Tollgate's own migrations are
// recorded in schema_migrations (Kong's "core" subsystem); plugins that
// bring tables would record theirs under their own name.
const Component = "core"

//go:embed *.cql
var files embed.FS

// Migration is one versioned CQL file.
type Migration struct {
	// Version is the file name's numeric prefix (1 for 001_init.cql).
	Version int
	// Name is the rest of the file name without the extension ("init").
	Name string
	// File is the file name ("001_init.cql").
	File string
	// Statements are the file's CQL statements, comments stripped, without
	// their terminating semicolons, in file order.
	Statements []string
	// Checksum is the SHA-256 (hex) of the statements as split: comments,
	// blank lines and indentation may change without changing it; any
	// change to a statement does.
	Checksum string
}

// String names the migration as its file does.
func (m Migration) String() string { return m.File }

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) { return load(files) }

// fileName is a migration's file name: a version, an underscore, a name.
var fileName = regexp.MustCompile(`^([0-9]+)_([A-Za-z0-9_]+)\.cql$`)

// load reads every *.cql file at the root of fsys.
func load(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.Glob(fsys, "*.cql")
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
			errs = append(errs, fmt.Errorf("migration %s: file name must be <version>_<name>.cql, e.g. 002_add_index.cql", file))
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

// checksum hashes statements as split, one per line group, so that the
// hash depends on what is executed and not on comments or layout.
func checksum(stmts []string) string {
	h := sha256.New()
	for _, s := range stmts {
		h.Write([]byte(s))
		h.Write([]byte{';', '\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// split cuts a CQL file into statements. A statement ends with a semicolon
// at the end of a line (after any comment); `--` and `//` start a comment
// that runs to the end of the line, except inside '…' strings and "…"
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
// open at its start, and the quote open at its end. A quote doubled inside
// a string, as CQL escapes it, closes and reopens it, which leaves the
// state right.
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
