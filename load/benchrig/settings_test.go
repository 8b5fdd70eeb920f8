package benchrig

import (
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestSettings(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		read    func(s *Settings) any
		want    any
		wantErr string // a part of the error; empty: none
	}{
		{"string default", nil, func(s *Settings) any { return s.String("X", "def") }, "def", ""},
		{"string trimmed", map[string]string{"X": "  v  "}, func(s *Settings) any { return s.String("X", "def") }, "v", ""},
		{"string blank is unset", map[string]string{"X": "   "}, func(s *Settings) any { return s.String("X", "def") }, "def", ""},

		{"int default", nil, func(s *Settings) any { return s.Int("N", 7, 1) }, 7, ""},
		{"int set", map[string]string{"N": "12"}, func(s *Settings) any { return s.Int("N", 7, 1) }, 12, ""},
		{"int with underscores", map[string]string{"N": "1_000"}, func(s *Settings) any { return s.Int("N", 7, 1) }, 1000, ""},
		{"int below the least", map[string]string{"N": "0"}, func(s *Settings) any { return s.Int("N", 7, 1) }, 7, `N="0": want a whole number ≥ 1`},
		{"int not a number", map[string]string{"N": "x"}, func(s *Settings) any { return s.Int("N", 7, 1) }, 7, `N="x": want a whole number ≥ 1`},

		{"range set", map[string]string{"N": "2_000_000"}, func(s *Settings) any { return s.IntIn("N", 5, 1000, 20_000_000) }, 2_000_000, ""},
		{"range below", map[string]string{"N": "5"}, func(s *Settings) any { return s.IntIn("N", 9, 1000, 20_000_000) }, 9, `N="5": want a whole number from 1000 to 20000000`},
		{"range above", map[string]string{"N": "65"}, func(s *Settings) any { return s.IntIn("N", 3, 1, 64) }, 3, `N="65": want a whole number from 1 to 64`},

		{"duration default", nil, func(s *Settings) any { return s.Duration("D", time.Second) }, time.Second, ""},
		{"duration in seconds", map[string]string{"D": "5"}, func(s *Settings) any { return s.Duration("D", time.Second) }, 5 * time.Second, ""},
		{"go duration", map[string]string{"D": "500ms"}, func(s *Settings) any { return s.Duration("D", time.Second) }, 500 * time.Millisecond, ""},
		{"duration word", map[string]string{"D": "soon"}, func(s *Settings) any { return s.Duration("D", time.Second) }, time.Second, `D="soon": want a duration`},
		{"negative seconds", map[string]string{"D": "-1"}, func(s *Settings) any { return s.Duration("D", time.Second) }, time.Second, `D="-1": must not be negative`},
		{"negative duration", map[string]string{"D": "-1s"}, func(s *Settings) any { return s.Duration("D", time.Second) }, time.Second, `D="-1s": must not be negative`},

		{"flag default", nil, func(s *Settings) any { return s.Flag("F") }, false, ""},
		{"flag on", map[string]string{"F": "1"}, func(s *Settings) any { return s.Flag("F") }, true, ""},
		{"flag off", map[string]string{"F": "0"}, func(s *Settings) any { return s.Flag("F") }, false, ""},
		{"flag yes", map[string]string{"F": "yes"}, func(s *Settings) any { return s.Flag("F") }, false, `F="yes": want 0 or 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSettings(env(tt.env))
			if got := tt.read(s); got != tt.want {
				t.Errorf("read %v, want %v", got, tt.want)
			}
			checkErr(t, s.Err(), tt.wantErr)
		})
	}
}

func TestSettingsPhases(t *testing.T) {
	known := []string{"propagation", "accuracy", "throughput"}
	tests := []struct {
		name    string
		value   string
		want    []string
		wantErr string
	}{
		{"default: all", "", known, ""},
		{"one", "throughput", []string{"throughput"}, ""},
		{"spaces and empties", " accuracy , ,throughput", []string{"accuracy", "throughput"}, ""},
		{"unknown", "speed,accuracy", []string{"accuracy"}, `P: unknown phase "speed": want propagation, accuracy, throughput`},
		{"none", ",", nil, "P: no phase to run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSettings(env(map[string]string{"P": tt.value}))
			got := s.Phases("P", strings.Join(known, ","), known...)
			if len(got) != len(tt.want) {
				t.Errorf("phases %v, want %v", got, tt.want)
			}
			for _, p := range tt.want {
				if !got[p] {
					t.Errorf("phases %v lack %s", got, p)
				}
			}
			checkErr(t, s.Err(), tt.wantErr)
		})
	}
}

// Err names every bad setting, not only the first.
func TestSettingsErrNamesAll(t *testing.T) {
	s := NewSettings(env(map[string]string{"A": "x", "B": "soon", "C": "2"}))
	s.Int("A", 1, 1)
	s.Duration("B", time.Second)
	s.Flag("C")
	s.Fail(nil)
	s.Fail(errFake("D: contradicts E"))
	err := s.Err()
	for _, name := range []string{`A="x"`, `B="soon"`, `C="2"`, "D: contradicts E"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
}

type errFake string

func (e errFake) Error() string { return string(e) }

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Errorf("no error, want %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("error %q, want it to contain %q", err, want)
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"10", "10s", "1m30s", "-1", "-1s", "soon", "", "9223372036854775807", "1.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err == nil && d < 0 {
			t.Errorf("ParseDuration(%q) = %v, negative", s, d)
		}
	})
}
