package cassandramigrate

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseReplication(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Replication
		cql     string
		wantErr []string // every part the error must name
	}{
		{name: "simple", in: "SimpleStrategy:3", want: Replication{Class: SimpleStrategy, Factor: 3},
			cql: "{'class': 'SimpleStrategy', 'replication_factor': 3}"},
		{name: "simple without factor", in: "SimpleStrategy", want: DefaultReplication(),
			cql: "{'class': 'SimpleStrategy', 'replication_factor': 1}"},
		{name: "case and spaces", in: " simplestrategy : 2 ", want: Replication{Class: SimpleStrategy, Factor: 2}},
		{name: "network topology", in: "NetworkTopologyStrategy:dc1=3,dc2=2",
			want: Replication{Class: NetworkTopologyStrategy, DCs: map[string]int{"dc1": 3, "dc2": 2}},
			cql:  "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}"},
		{name: "network topology, Kong's colon form, sorted", in: "NetworkTopologyStrategy:us-east-1:3, eu.west:1",
			want: Replication{Class: NetworkTopologyStrategy, DCs: map[string]int{"us-east-1": 3, "eu.west": 1}},
			cql:  "{'class': 'NetworkTopologyStrategy', 'eu.west': 1, 'us-east-1': 3}"},

		{name: "empty", in: "", wantErr: []string{"no strategy"}},
		{name: "unknown strategy", in: "LocalStrategy:1", wantErr: []string{`unknown strategy "LocalStrategy"`}},
		{name: "simple factor not a number", in: "SimpleStrategy:three", wantErr: []string{"replication factor", `"three"`}},
		{name: "simple factor zero", in: "SimpleStrategy:0", wantErr: []string{`"0" is not a positive integer`}},
		{name: "simple given datacenters", in: "SimpleStrategy:dc1=3", wantErr: []string{`"dc1=3"`}},
		{name: "topology without datacenters", in: "NetworkTopologyStrategy", wantErr: []string{"needs datacenter factors"}},
		{name: "topology empty datacenters", in: "NetworkTopologyStrategy:", wantErr: []string{"needs datacenter factors"}},
		{name: "every bad datacenter named", in: "NetworkTopologyStrategy:dc1=3,dc2=x,dc3,dc 4=1,dc1=2,",
			wantErr: []string{`data center "dc2": factor "x"`, `data center "dc3": want <name>=<factor>`,
				`data center "dc 4": name must be`, `data center "dc1": given twice`, "empty entry"}},
		{name: "quote in datacenter name", in: "NetworkTopologyStrategy:dc'1=3", wantErr: []string{`data center "dc'1"`}},
		{name: "negative factor", in: "NetworkTopologyStrategy:dc1=-1", wantErr: []string{`data center "dc1": factor "-1"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseReplication(tt.in)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("ParseReplication(%q) = %+v, want an error", tt.in, got)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not name %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseReplication(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseReplication(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if err := got.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if tt.cql != "" && got.CQL() != tt.cql {
				t.Errorf("CQL() = %s, want %s", got.CQL(), tt.cql)
			}
			back, err := ParseReplication(got.String())
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Errorf("String() %q parses to %+v, %v", got.String(), back, err)
			}
		})
	}
}

func TestNewReplication(t *testing.T) {
	tests := []struct {
		name                  string
		strategy, factor, dcs string
		want                  Replication
		wantErr               string
	}{
		{name: "Kong defaults", strategy: "SimpleStrategy", factor: "1", want: DefaultReplication()},
		{name: "simple ignores data centers", strategy: "SimpleStrategy", factor: "2", dcs: "dc1:3",
			want: Replication{Class: SimpleStrategy, Factor: 2}},
		{name: "topology ignores factor", strategy: "NetworkTopologyStrategy", factor: "1", dcs: "dc1:3,dc2:2",
			want: Replication{Class: NetworkTopologyStrategy, DCs: map[string]int{"dc1": 3, "dc2": 2}}},
		{name: "bad strategy", strategy: "Simple", factor: "1", wantErr: `replication strategy "Simple"`},
		{name: "bad factor", strategy: "SimpleStrategy", factor: "", wantErr: `replication factor: "" is not a positive integer`},
		{name: "no data centers", strategy: "NetworkTopologyStrategy", wantErr: "replication data centers: none given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewReplication(tt.strategy, tt.factor, tt.dcs)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReplicationValidate(t *testing.T) {
	tests := []struct {
		name    string
		r       Replication
		wantErr string
	}{
		{name: "zero value", r: Replication{}, wantErr: `unknown strategy ""`},
		{name: "simple factor 0", r: Replication{Class: SimpleStrategy}, wantErr: "factor 0 must be at least 1"},
		{name: "simple with dcs", r: Replication{Class: SimpleStrategy, Factor: 1, DCs: map[string]int{"a": 1}}, wantErr: "not datacenters"},
		{name: "topology empty", r: Replication{Class: NetworkTopologyStrategy}, wantErr: "at least one datacenter"},
		{name: "topology bad name", r: Replication{Class: NetworkTopologyStrategy, DCs: map[string]int{"a'b": 1}}, wantErr: `data center "a'b"`},
		{name: "topology zero factor", r: Replication{Class: NetworkTopologyStrategy, DCs: map[string]int{"dc1": 0}}, wantErr: `data center "dc1": factor 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func FuzzParseReplication(f *testing.F) {
	for _, s := range []string{"SimpleStrategy:3", "NetworkTopologyStrategy:dc1=3,dc2=2", "NetworkTopologyStrategy:a:1", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReplication(s)
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("ParseReplication(%q) accepted %+v, which Validate rejects: %v", s, r, err)
		}
		back, err := ParseReplication(r.String())
		if err != nil || !reflect.DeepEqual(back, r) {
			t.Fatalf("String() %q of %q parses to %+v, %v", r.String(), s, back, err)
		}
	})
}

func TestReplicationFromMap(t *testing.T) {
	tests := []struct {
		name    string
		m       map[string]string
		want    string
		wantErr string
	}{
		{name: "simple", m: map[string]string{"class": "org.apache.cassandra.locator.SimpleStrategy", "replication_factor": "3"},
			want: "SimpleStrategy:3"},
		{name: "topology", m: map[string]string{"class": "org.apache.cassandra.locator.NetworkTopologyStrategy", "dc2": "2", "dc1": "3"},
			want: "NetworkTopologyStrategy:dc1=3,dc2=2"},
		{name: "short class", m: map[string]string{"class": "SimpleStrategy", "replication_factor": "1"}, want: "SimpleStrategy:1"},
		{name: "local", m: map[string]string{"class": "org.apache.cassandra.locator.LocalStrategy"}, wantErr: "LocalStrategy"},
		{name: "bad factor", m: map[string]string{"class": "SimpleStrategy", "replication_factor": "x"}, wantErr: "replication_factor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := replicationFromMap(tt.m)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || r.String() != tt.want {
				t.Fatalf("got %s, %v; want %s", r, err, tt.want)
			}
		})
	}
}
