package migration

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Migration is one versioned file of statements.
type Migration struct {
	// Version is the file name's numeric prefix (1 for 001_init.cql).
	Version int
	// Name is the rest of the file name without the extension ("init").
	Name string
	// File is the file name ("001_init.cql").
	File string
	// Statements are the file's statements, comments stripped, without
	// their terminating semicolons, in file order.
	Statements []string
	// Checksum is the SHA-256 (hex) of the statements as split: comments,
	// blank lines and indentation may change without changing it; any
	// change to a statement does.
	Checksum string
}

// String names the migration as its file does.
func (m Migration) String() string { return m.File }

// Dialect is what a database's language changes in reading migrations.
type Dialect struct {
	// Ext is the migration files' extension, with its dot (".cql").
	Ext string
	// Example is a well-formed file name, shown in the error for one that
	// is not ("002_add_index.cql").
	Example string
	// Comment returns line without its trailing comment, given the quote
	// character open at its start (0 for none), and the quote open at its
	// end. It knows the language's comment markers, quotes and escapes.
	Comment func(line string, quote byte) (code string, open byte)
}

// fileName is a migration's file name without its extension: a version,
// an underscore, a name.
var fileName = regexp.MustCompile(`^([0-9]+)_([A-Za-z0-9_]+)$`)

// ParseName parses file, a migration's file name ending in d.Ext, into
// its version and name.
func (d Dialect) ParseName(file string) (version int, name string, err error) {
	base, ok := strings.CutSuffix(file, d.Ext)
	m := fileName.FindStringSubmatch(base)
	if !ok || m == nil {
		return 0, "", fmt.Errorf("file name must be <version>_<name>%s, e.g. %s", d.Ext, d.Example)
	}
	version, err = strconv.Atoi(m[1])
	if err != nil || version <= 0 {
		return 0, "", fmt.Errorf("version %q must be a positive integer", m[1])
	}
	return version, m[2], nil
}

// Load reads every file ending in d.Ext at the root of fsys and returns
// the migrations in version order. It names every bad file in its error:
// a malformed name, a version used twice, a file that does not split or
// holds no statement.
func (d Dialect) Load(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.Glob(fsys, "*"+d.Ext)
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var (
		out  []Migration
		errs []error
		seen = map[int]string{}
	)
	for _, file := range entries {
		version, name, err := d.ParseName(file)
		if err != nil {
			errs = append(errs, fmt.Errorf("migration %s: %w", file, err))
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
		stmts, err := d.Split(string(data))
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
			Name:       name,
			File:       file,
			Statements: stmts,
			Checksum:   Checksum(stmts),
		})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Contiguous reports the first gap in migs, which are in version order:
// the versions must run 1, 2, 3… Load accepts gaps; the migrations a
// binary ships must not have them.
func Contiguous(migs []Migration) error {
	for i, m := range migs {
		if m.Version != i+1 {
			return fmt.Errorf("migration %s: version %d, want %d (versions are contiguous)", m.File, m.Version, i+1)
		}
	}
	return nil
}

// Checksum hashes statements as split, each followed by ";\n", so that
// the hash depends on what is executed and not on comments or layout.
// Databases record it for every migration they applied: it must never
// change for the same statements.
func Checksum(stmts []string) string {
	h := sha256.New()
	for _, s := range stmts {
		h.Write([]byte(s))
		h.Write([]byte{';', '\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Split cuts src into statements. A statement ends with a semicolon at
// the end of a line, after d.Comment has taken the line's comment off;
// a semicolon inside a quote does not end one. Lines are trimmed and blank
// lines dropped, so the result depends only on the statements. Block
// comments (/* */) are not supported: the migrations do not use them.
func (d Dialect) Split(src string) ([]string, error) {
	var (
		stmts []string
		cur   []string
		quote byte // the open quote character, or 0
		start int  // line number where cur began
	)
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	for i, line := range lines {
		code, q := d.Comment(line, quote)
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

// FirstLine shortens a statement for a message.
func FirstLine(stmt string) string {
	line, _, more := strings.Cut(stmt, "\n")
	if more {
		line += " …"
	}
	return line
}
