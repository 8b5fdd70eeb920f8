package cassandramigrate

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Replication strategies Cassandra offers for a keyspace.
const (
	SimpleStrategy          = "SimpleStrategy"
	NetworkTopologyStrategy = "NetworkTopologyStrategy"
)

// Replication is a keyspace's replication: SimpleStrategy with one factor
// (one datacenter, development and small clusters) or
// NetworkTopologyStrategy with a factor per datacenter (production).
type Replication struct {
	// Class is SimpleStrategy or NetworkTopologyStrategy.
	Class string
	// Factor is the number of replicas with SimpleStrategy.
	Factor int
	// DCs maps each datacenter to its number of replicas with
	// NetworkTopologyStrategy.
	DCs map[string]int
}

// DefaultReplication is SimpleStrategy with one replica, Kong's default
// (cassandra_repl_strategy = SimpleStrategy, cassandra_repl_factor = 1).
func DefaultReplication() Replication {
	return Replication{Class: SimpleStrategy, Factor: 1}
}

// dcName is what the replication map accepts as a datacenter name without
// quoting trouble: letters, digits, '_', '-' and '.' (as snitches name
// them: "dc1", "us-east-1", "datacenter1").
var dcName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// ParseReplication reads the compact form "SimpleStrategy:3" or
// "NetworkTopologyStrategy:dc1=3,dc2=2" (dc1:3 is accepted for dc1=3, as in
// Kong's cassandra_data_centers). A bare "SimpleStrategy" means factor 1.
// Strategy names are matched without regard to case. Errors name the bad
// part.
func ParseReplication(s string) (Replication, error) {
	s = strings.TrimSpace(s)
	class, rest, hasRest := strings.Cut(s, ":")
	class = strings.TrimSpace(class)
	switch {
	case strings.EqualFold(class, SimpleStrategy):
		if !hasRest {
			return DefaultReplication(), nil
		}
		return NewReplication(SimpleStrategy, rest, "")
	case strings.EqualFold(class, NetworkTopologyStrategy):
		if !hasRest || strings.TrimSpace(rest) == "" {
			return Replication{}, fmt.Errorf("replication %q: NetworkTopologyStrategy needs datacenter factors, e.g. NetworkTopologyStrategy:dc1=3,dc2=2", s)
		}
		return NewReplication(NetworkTopologyStrategy, "", rest)
	case class == "":
		return Replication{}, fmt.Errorf("replication %q: no strategy (SimpleStrategy:<factor> or NetworkTopologyStrategy:<dc>=<factor>,…)", s)
	default:
		return Replication{}, fmt.Errorf("replication %q: unknown strategy %q (SimpleStrategy or NetworkTopologyStrategy)", s, class)
	}
}

// NewReplication builds a Replication from Kong's three settings:
// cassandra_repl_strategy, cassandra_repl_factor (used with SimpleStrategy)
// and cassandra_data_centers ("dc1:3,dc2:2" or "dc1=3,dc2=2", used with
// NetworkTopologyStrategy). The setting the strategy does not use is
// ignored. Errors name the bad part.
func NewReplication(strategy, factor, dataCenters string) (Replication, error) {
	strategy = strings.TrimSpace(strategy)
	switch {
	case strings.EqualFold(strategy, SimpleStrategy):
		f, err := parseFactor(factor)
		if err != nil {
			return Replication{}, fmt.Errorf("replication factor: %w", err)
		}
		return Replication{Class: SimpleStrategy, Factor: f}, nil
	case strings.EqualFold(strategy, NetworkTopologyStrategy):
		dcs, err := parseDCs(dataCenters)
		if err != nil {
			return Replication{}, err
		}
		return Replication{Class: NetworkTopologyStrategy, DCs: dcs}, nil
	}
	return Replication{}, fmt.Errorf("replication strategy %q: must be SimpleStrategy or NetworkTopologyStrategy", strategy)
}

func parseFactor(s string) (int, error) {
	s = strings.TrimSpace(s)
	f, err := strconv.Atoi(s)
	if err != nil || f < 1 {
		return 0, fmt.Errorf("%q is not a positive integer", s)
	}
	return f, nil
}

// parseDCs reads "dc1=3,dc2=2" (or "dc1:3,dc2:2").
func parseDCs(s string) (map[string]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("replication data centers: none given (e.g. dc1=3,dc2=2)")
	}
	dcs := map[string]int{}
	var errs []error
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		name, f, ok := strings.Cut(part, "=")
		if !ok {
			name, f, ok = strings.Cut(part, ":")
		}
		name = strings.TrimSpace(name)
		switch {
		case part == "":
			errs = append(errs, fmt.Errorf("replication data centers %q: empty entry", s))
			continue
		case !ok:
			errs = append(errs, fmt.Errorf("data center %q: want <name>=<factor>", part))
			continue
		case !dcName.MatchString(name):
			errs = append(errs, fmt.Errorf("data center %q: name must be letters, digits, '_', '-' or '.'", name))
			continue
		}
		n, err := parseFactor(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("data center %q: factor %w", name, err))
			continue
		}
		if _, dup := dcs[name]; dup {
			errs = append(errs, fmt.Errorf("data center %q: given twice", name))
			continue
		}
		dcs[name] = n
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return dcs, nil
}

// Validate reports what is wrong with r.
func (r Replication) Validate() error {
	switch r.Class {
	case SimpleStrategy:
		if r.Factor < 1 {
			return fmt.Errorf("replication: SimpleStrategy factor %d must be at least 1", r.Factor)
		}
		if len(r.DCs) > 0 {
			return errors.New("replication: SimpleStrategy takes one factor, not datacenters (use NetworkTopologyStrategy)")
		}
	case NetworkTopologyStrategy:
		if len(r.DCs) == 0 {
			return errors.New("replication: NetworkTopologyStrategy needs at least one datacenter factor")
		}
		var errs []error
		for _, dc := range r.dcNames() {
			if !dcName.MatchString(dc) {
				errs = append(errs, fmt.Errorf("replication: data center %q: name must be letters, digits, '_', '-' or '.'", dc))
			}
			if r.DCs[dc] < 1 {
				errs = append(errs, fmt.Errorf("replication: data center %q: factor %d must be at least 1", dc, r.DCs[dc]))
			}
		}
		return errors.Join(errs...)
	default:
		return fmt.Errorf("replication: unknown strategy %q (SimpleStrategy or NetworkTopologyStrategy)", r.Class)
	}
	return nil
}

func (r Replication) dcNames() []string {
	names := make([]string, 0, len(r.DCs))
	for dc := range r.DCs {
		names = append(names, dc)
	}
	sort.Strings(names)
	return names
}

// CQL is the replication map of CREATE KEYSPACE, e.g.
// {'class': 'SimpleStrategy', 'replication_factor': 1}. r must be valid.
func (r Replication) CQL() string {
	var b strings.Builder
	b.WriteString("{'class': '")
	b.WriteString(r.Class)
	b.WriteString("'")
	if r.Class == SimpleStrategy {
		fmt.Fprintf(&b, ", 'replication_factor': %d", r.Factor)
	}
	if r.Class == NetworkTopologyStrategy {
		for _, dc := range r.dcNames() {
			fmt.Fprintf(&b, ", '%s': %d", dc, r.DCs[dc])
		}
	}
	b.WriteString("}")
	return b.String()
}

// String is the compact form ParseReplication reads.
func (r Replication) String() string {
	if r.Class != NetworkTopologyStrategy {
		return fmt.Sprintf("%s:%d", r.Class, r.Factor)
	}
	parts := make([]string, 0, len(r.DCs))
	for _, dc := range r.dcNames() {
		parts = append(parts, fmt.Sprintf("%s=%d", dc, r.DCs[dc]))
	}
	return r.Class + ":" + strings.Join(parts, ",")
}

// replicationFromMap reads system_schema.keyspaces' replication column:
// {"class": "org.apache.cassandra.locator.SimpleStrategy",
// "replication_factor": "3"} or a factor per datacenter.
func replicationFromMap(m map[string]string) (Replication, error) {
	class := m["class"]
	if i := strings.LastIndexByte(class, '.'); i >= 0 {
		class = class[i+1:]
	}
	switch class {
	case SimpleStrategy:
		f, err := parseFactor(m["replication_factor"])
		if err != nil {
			return Replication{}, fmt.Errorf("replication_factor: %w", err)
		}
		return Replication{Class: SimpleStrategy, Factor: f}, nil
	case NetworkTopologyStrategy:
		r := Replication{Class: NetworkTopologyStrategy, DCs: map[string]int{}}
		for k, v := range m {
			if k == "class" {
				continue
			}
			f, err := parseFactor(v)
			if err != nil {
				return Replication{}, fmt.Errorf("data center %q: %w", k, err)
			}
			r.DCs[k] = f
		}
		return r, nil
	}
	return Replication{}, fmt.Errorf("replication class %q", m["class"])
}

// equal reports whether r and o replicate alike.
func (r Replication) equal(o Replication) bool {
	return r.String() == o.String()
}
