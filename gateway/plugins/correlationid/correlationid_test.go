package correlationid

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/plugin/plugintest"
	"github.com/tollgate/tollgate/internal/entity"
	"github.com/tollgate/tollgate/internal/logrecord"
)

func TestConfigValidation(t *testing.T) {
	reg := plugin.NewRegistry(Factory())
	tests := []struct {
		name   string
		config string
		want   entity.FieldErrors
	}{
		{"defaults", `{}`, nil},
		{"generator", `{"generator":"ulid"}`, entity.FieldErrors{"generator": "expected one of: uuid, uuid#counter, tracker"}},
		{"header name", `{"header_name":"bad header"}`, entity.FieldErrors{"header_name": "bad header name 'bad header', allowed characters are A-Z, a-z, 0-9, '_', and '-'"}},
		{"echo type", `{"echo_downstream":"true"}`, entity.FieldErrors{"echo_downstream": "expected a boolean"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := reg.Validate(Name, json.RawMessage(tt.config))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate = %#v, want %#v", got, tt.want)
			}
		})
	}
	out, _ := reg.Validate(Name, nil)
	if want := `{"header_name":"Kong-Request-ID","generator":"uuid#counter","echo_downstream":false}`; string(out) != want {
		t.Errorf("defaults = %s", out)
	}
}

var (
	uuidRE    = `[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`
	reUUID    = regexp.MustCompile(`^` + uuidRE + `$`)
	reCounter = regexp.MustCompile(`^` + uuidRE + `#[0-9]+$`)
	reTracker = regexp.MustCompile(`^api\.test-[0-9]+-[0-9]+-1700000000\.123$`)
)

func TestAccess(t *testing.T) {
	tests := []struct {
		name     string
		config   string
		incoming string
		want     *regexp.Regexp
		echo     bool
	}{
		{name: "uuid#counter", want: reCounter},
		{name: "uuid", config: `{"generator":"uuid"}`, want: reUUID},
		{name: "tracker", config: `{"generator":"tracker"}`, want: reTracker},
		{name: "keeps the client's id", incoming: "abc-123", want: regexp.MustCompile(`^abc-123$`)},
		{name: "echo", config: `{"echo_downstream":true,"header_name":"X-Correlation-ID"}`, want: reCounter, echo: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := plugin.Env{Now: func() time.Time { return time.UnixMilli(1700000000123) }}
			inst := plugintest.Build(t, Factory(), tt.config, env)
			p := inst.(*CorrelationID)
			h := map[string]string{"Host": "api.test"}
			if tt.incoming != "" {
				h[p.cfg.HeaderName] = tt.incoming
			}
			req := plugintest.NewRequest("GET", "/", h, nil)
			c := &plugin.Context{Request: req, Record: &logrecord.Record{}}
			p.Access(c)
			id := req.Header(p.cfg.HeaderName)
			if !tt.want.MatchString(id) {
				t.Fatalf("id = %q, want %v", id, tt.want)
			}
			if c.Record.TraceID != id {
				t.Errorf("TraceID = %q, want %q", c.Record.TraceID, id)
			}
			// The echo goes through the pipeline's response headers.
			set, err := plugin.NewSet(plugin.NewRegistry(Factory()), []*entity.Plugin{{Meta: entity.Meta{ID: "p"}, Name: Name, Config: json.RawMessage(tt.config)}}, env)
			if err != nil {
				t.Fatal(err)
			}
			req2 := plugintest.NewRequest("GET", "/", map[string]string{p.cfg.HeaderName: "given"}, nil)
			resp := plugintest.Serve(set, &plugin.Context{Request: req2}, plugintest.NewResponse(200, nil, nil))
			got := resp.Header(p.cfg.HeaderName)
			if tt.echo && got != "given" {
				t.Errorf("echoed %q, want %q", got, "given")
			}
			if !tt.echo && got != "" {
				t.Errorf("echoed %q without echo_downstream", got)
			}
		})
	}
}

func TestCounterIDsAreUnique(t *testing.T) {
	p, err := New(DefaultConfig(), plugin.Env{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		req := plugintest.NewRequest("GET", "/", nil, nil)
		p.Access(&plugin.Context{Request: req})
		id := req.Header("Kong-Request-ID")
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
	q, _ := New(DefaultConfig(), plugin.Env{})
	if strings.HasPrefix(q.prefix, p.prefix) {
		t.Error("two instances share a UUID prefix")
	}
}
