package benchrig

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Summary is the closing table of a run: one row a measure, with its
// value, its target and whether the target was met. The zero value is
// empty and ready to use.
type Summary struct {
	rows   []summaryRow
	missed bool
}

type summaryRow struct {
	name, value, target, result string
}

// Add adds a row with a target; a row whose target is missed marks the
// run (Missed).
func (s *Summary) Add(name, value, target string, ok bool) {
	s.rows = append(s.rows, summaryRow{name, value, target, Verdict(ok)})
	if !ok {
		s.missed = true
	}
}

// Info adds a row that has no target.
func (s *Summary) Info(name, value string) {
	s.rows = append(s.rows, summaryRow{name, value, "-", "-"})
}

// Missed tells whether a row missed its target.
func (s *Summary) Missed() bool { return s.missed }

// Len is the number of rows.
func (s *Summary) Len() int { return len(s.rows) }

// WriteTo writes "\nSummary\n" and the table, its columns as wide as
// their widest cell, or nothing when there is no row.
func (s *Summary) WriteTo(w io.Writer) (int64, error) {
	if len(s.rows) == 0 {
		return 0, nil
	}
	var b strings.Builder
	b.WriteString("\nSummary\n")
	head := summaryRow{"measure", "value", "target", "result"}
	wn, wv, wt := width(head.name), width(head.value), width(head.target)
	for _, r := range s.rows {
		wn, wv, wt = max(wn, width(r.name)), max(wv, width(r.value)), max(wt, width(r.target))
	}
	pad := func(s string, n int) string { return s + strings.Repeat(" ", max(0, n-width(s))) }
	for _, r := range append([]summaryRow{head}, s.rows...) {
		fmt.Fprintf(&b, "%s  %s  %s  %s\n", pad(r.name, wn), pad(r.value, wv), pad(r.target, wt), r.result)
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// Verdict is "ok" or "MISSED".
func Verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

// width is the number of characters of s as printed: ≥ and … are one each.
func width(s string) int { return utf8.RuneCountInString(s) }
