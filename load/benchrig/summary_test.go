package benchrig

import (
	"strings"
	"testing"
)

func TestSummary(t *testing.T) {
	type row struct {
		name, value, target string
		ok                  bool
		info                bool
	}
	tests := []struct {
		name       string
		rows       []row
		want       string
		wantMissed bool
	}{
		{
			name: "no rows prints nothing",
			want: "",
		},
		{
			name: "columns as wide as the widest cell",
			rows: []row{
				{name: "propagation p50 / p99 ms", value: "12.0 / 40.1", target: "p99 ≤ 1000, none lost", ok: true},
				{name: "pipeline throughput, events/s", value: "152 301", info: true},
			},
			want: "\nSummary\n" +
				"measure                        value        target                 result\n" +
				"propagation p50 / p99 ms       12.0 / 40.1  p99 ≤ 1000, none lost  ok\n" +
				"pipeline throughput, events/s  152 301      -                      -\n",
		},
		{
			name: "the header is wider than the cells",
			rows: []row{{name: "a", value: "1", target: "≥ 1", ok: false}},
			want: "\nSummary\n" +
				"measure  value  target  result\n" +
				"a        1      ≥ 1     MISSED\n",
			wantMissed: true,
		},
		{
			// ≥ and … are three bytes each but one column wide.
			name: "width counts characters, not bytes",
			rows: []row{
				{name: "x", value: "…", target: "≥ 0.95", ok: true},
				{name: "y", value: "1 … 1.01", target: "1 … 1.01", ok: true},
			},
			want: "\nSummary\n" +
				"measure  value     target    result\n" +
				"x        …         ≥ 0.95    ok\n" +
				"y        1 … 1.01  1 … 1.01  ok\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Summary
			for _, r := range tt.rows {
				if r.info {
					s.Info(r.name, r.value)
				} else {
					s.Add(r.name, r.value, r.target, r.ok)
				}
			}
			var out strings.Builder
			n, err := s.WriteTo(&out)
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("table:\n%s\nwant:\n%s", out.String(), tt.want)
			}
			if n != int64(out.Len()) {
				t.Errorf("WriteTo = %d, wrote %d bytes", n, out.Len())
			}
			if s.Missed() != tt.wantMissed {
				t.Errorf("Missed = %v, want %v", s.Missed(), tt.wantMissed)
			}
			if s.Len() != len(tt.rows) {
				t.Errorf("Len = %d, want %d", s.Len(), len(tt.rows))
			}
		})
	}
}
