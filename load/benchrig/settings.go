package benchrig

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Settings reads a benchmark's settings from an environment lookup
// (os.Getenv in a command, a map in a test). Every method returns the
// default for an unset or bad value and remembers what was bad, so that
// Err names every bad setting at once, before anything starts.
type Settings struct {
	getenv func(string) string
	errs   []error
}

// NewSettings reads from getenv.
func NewSettings(getenv func(string) string) *Settings {
	return &Settings{getenv: getenv}
}

// String returns the trimmed value of name, or def when it is unset or
// blank.
func (s *Settings) String(name, def string) string {
	if v := strings.TrimSpace(s.getenv(name)); v != "" {
		return v
	}
	return def
}

// Int reads a whole number of at least lo. Underscores group digits:
// 1_000_000.
func (s *Settings) Int(name string, def, lo int) int {
	v := s.String(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(strings.ReplaceAll(v, "_", ""))
	if err != nil || n < lo {
		s.errs = append(s.errs, fmt.Errorf("%s=%q: want a whole number ≥ %d", name, v, lo))
		return def
	}
	return n
}

// IntIn reads a whole number from lo to hi, as Int does.
func (s *Settings) IntIn(name string, def, lo, hi int) int {
	v := s.String(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(strings.ReplaceAll(v, "_", ""))
	if err != nil || n < lo || n > hi {
		s.errs = append(s.errs, fmt.Errorf("%s=%q: want a whole number from %d to %d", name, v, lo, hi))
		return def
	}
	return n
}

// Duration reads a Go duration or a whole number of seconds
// (ParseDuration).
func (s *Settings) Duration(name string, def time.Duration) time.Duration {
	v := s.String(name, "")
	if v == "" {
		return def
	}
	d, err := ParseDuration(v)
	if err != nil {
		s.errs = append(s.errs, fmt.Errorf("%s=%q: %w", name, v, err))
		return def
	}
	return d
}

// Flag reads "0" (the default) or "1".
func (s *Settings) Flag(name string) bool {
	switch v := s.String(name, "0"); v {
	case "0":
		return false
	case "1":
		return true
	default:
		s.errs = append(s.errs, fmt.Errorf("%s=%q: want 0 or 1", name, v))
		return false
	}
}

// Phases reads a comma-separated list of the names in known (def when
// unset) and returns the set of them; an unknown name or an empty list is
// an error.
func (s *Settings) Phases(name, def string, known ...string) map[string]bool {
	phases := map[string]bool{}
	for _, p := range strings.Split(s.String(name, def), ",") {
		p = strings.TrimSpace(p)
		switch {
		case p == "":
		case slices.Contains(known, p):
			phases[p] = true
		default:
			s.errs = append(s.errs, fmt.Errorf("%s: unknown phase %q: want %s", name, p, strings.Join(known, ", ")))
		}
	}
	if len(phases) == 0 {
		s.errs = append(s.errs, fmt.Errorf("%s: no phase to run", name))
	}
	return phases
}

// Fail records a bad setting the caller found itself, such as two that
// contradict each other.
func (s *Settings) Fail(err error) {
	if err != nil {
		s.errs = append(s.errs, err)
	}
}

// Err returns every bad setting met so far, joined; nil when none.
func (s *Settings) Err() error { return errors.Join(s.errs...) }

// ParseDuration reads a Go duration ("10s") or a whole number of seconds
// ("10"), as the bench-*.sh scripts' settings are written.
func ParseDuration(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0, errors.New("must not be negative")
		}
		if n > int(math.MaxInt64/time.Second) {
			return 0, errors.New("too long")
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errors.New("want a duration such as 10s or a whole number of seconds")
	}
	if d < 0 {
		return 0, errors.New("must not be negative")
	}
	return d, nil
}
