package benchrig

import (
	"math"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	// Fields 14 to 17 of proc(5): utime 250, stime 50, cutime 30, cstime 20.
	const stat = "4242 (tollgate gw) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 50 30 20 20 0 12 0 98765 123456789 4321\n"
	tests := []struct {
		name     string
		stat     string
		children bool
		want     float64
		wantErr  bool
	}{
		{"own time", stat, false, 3.00, false},
		{"with children", stat, true, 3.50, false},
		{"parentheses in the name", "1 (a) b) (c) S 1 1 1 0 -1 0 0 0 0 0 100 0 0 0 20 0 1 0 1 1 1\n", false, 1.00, false},
		{"no name", "1 a S 1", false, 0, true},
		{"too short", "1 (a) S 1 2 3", false, 0, true},
		{"not a number", "1 (a) S 1 1 1 0 -1 0 0 0 0 0 x 0 0 0 20 0 1 0 1 1 1\n", false, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat("4242", tt.stat, tt.children)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("= %v s, want %v s", got, tt.want)
			}
		})
	}
}

func TestParseMachineStat(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    float64
		wantErr bool
	}{
		// user nice system idle iowait irq softirq steal: busy is
		// user+nice+system+irq+softirq.
		{"busy fields only", "cpu  100 10 50 9999 77 5 3 8 0 0\ncpu0 1 2 3 4 5 6 7 8\n", 1.68, false},
		{"not the cpu line", "intr 1 2 3 4 5 6 7 8\n", 0, true},
		{"too short", "cpu 1 2 3\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMachineStat(tt.stat)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("= %v s, want %v s", got, tt.want)
			}
		})
	}
}

func TestCPUUse(t *testing.T) {
	u := CPUUse{Wall: 2, Self: 0.5, Names: []string{"collector", "clickhouse"}, Each: []float64{1.9, 1.2}, Other: 0.04, OK: true}
	if got, want := u.String(), "CPU % of one core: collector 95, clickhouse 60, bench 25, other 2"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if u.Of("clickhouse") != 1.2 || u.Of("gateway") != 0 {
		t.Errorf("Of: clickhouse %v, gateway %v", u.Of("clickhouse"), u.Of("gateway"))
	}
	if got := (CPUUse{}).String(); got != "CPU use unknown (/proc unreadable)" {
		t.Errorf("unknown use renders %q", got)
	}
}
