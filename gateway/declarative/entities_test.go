package declarative

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/gateway/validate"
	"github.com/tollgate/tollgate/internal/entity"
)

func TestFixtureFlattens(t *testing.T) {
	for _, name := range []string{"kong.yml", "kong.json"} {
		t.Run(name, func(t *testing.T) {
			f := mustParse(t, readFile(t, name))
			ents := mustEntities(t, f, "")
			checkFixture(t, ents)
		})
	}
}

// checkFixture checks what testdata/kong.yml must flatten into.
func checkFixture(t *testing.T, ents []entity.Entity) {
	t.Helper()
	k := byKind(ents)
	wantCounts := map[entity.Kind]int{
		entity.KindService: 2, entity.KindRoute: 3, entity.KindConsumer: 3,
		entity.KindPlugin: 5, entity.KindUpstream: 1, entity.KindTarget: 3,
		entity.KindCertificate: 1, entity.KindSNI: 2, entity.KindKeyAuth: 3,
		entity.KindBasicAuth: 1, entity.KindACL: 3,
	}
	for kind, n := range wantCounts {
		if len(k[kind]) != n {
			t.Errorf("%d %s, want %d", len(k[kind]), kind, n)
		}
	}
	// Entities come in dependency order: a kind only references kinds
	// that come before it.
	order := map[entity.Kind]int{}
	for i, kind := range entity.Kinds {
		order[kind] = i
	}
	for i := 1; i < len(ents); i++ {
		if order[ents[i].Kind()] < order[ents[i-1].Kind()] {
			t.Fatalf("entity %d (%s) after %s: not in dependency order", i, ents[i].Kind(), ents[i-1].Kind())
		}
	}

	ids := map[string]string{} // "kind/name" -> id
	for _, e := range ents {
		m := e.GetMeta()
		if !validUUID(m.ID) {
			t.Errorf("%s has id %q", e.Kind(), m.ID)
		}
		if m.Workspace != entity.DefaultWorkspace {
			t.Errorf("%s %s workspace %q", e.Kind(), m.ID, m.Workspace)
		}
		if m.CreatedAt != testNow.Unix() || m.UpdatedAt != testNow.Unix() {
			t.Errorf("%s %s timestamps %d/%d", e.Kind(), m.ID, m.CreatedAt, m.UpdatedAt)
		}
		if n := entityName(e); n != "" {
			ids[string(e.Kind())+"/"+n] = m.ID
		}
	}
	const certID = "9b4a3c1e-54d2-4c5e-9a8f-3e2d1c0b9a87"

	for _, e := range k[entity.KindService] {
		s := e.(*entity.Service)
		switch s.Name {
		case "orders":
			// The url shorthand, expanded by validate.
			if s.Protocol != "http" || s.Host != "orders.internal" || s.Port != 8080 || s.Path != "/v1" || s.URL != "" {
				t.Errorf("orders: %+v", s)
			}
			if s.RetryCount() != 3 || s.ConnectTimeout != 5000 || s.ReadTimeout != 60000 {
				t.Errorf("orders timeouts: %+v", s)
			}
			if !reflect.DeepEqual(s.Tags, []string{"team-orders"}) {
				t.Errorf("orders tags %v", s.Tags)
			}
		case "billing":
			if entity.RefID(s.ClientCertificate) != certID || s.TLSVerify == nil || !*s.TLSVerify {
				t.Errorf("billing: %+v", s)
			}
		}
	}
	for _, e := range k[entity.KindRoute] {
		r := e.(*entity.Route)
		want := map[string]string{"orders-api": "orders", "orders-admin": "orders", "billing-api": "billing"}[r.Name]
		if got := entity.RefID(r.Service); got != ids["services/"+want] {
			t.Errorf("route %s service %s, want %s (%s)", r.Name, got, ids["services/"+want], want)
		}
		if r.Name == "orders-api" && (r.ResponseBuffering == nil || *r.ResponseBuffering) {
			t.Errorf("orders-api response_buffering not kept false")
		}
		if r.Name == "billing-api" && !reflect.DeepEqual(r.Headers, map[string][]string{"x-tenant": {"acme", "globex"}}) {
			t.Errorf("billing-api headers %v", r.Headers)
		}
	}
	scopes := map[string]bool{}
	for _, e := range k[entity.KindPlugin] {
		p := e.(*entity.Plugin)
		scope := p.Name + " route=" + entity.RefID(p.Route) + " service=" + entity.RefID(p.Service) + " consumer=" + entity.RefID(p.Consumer)
		scopes[scope] = true
		if !json.Valid(p.Config) {
			t.Errorf("plugin %s config %s", p.Name, p.Config)
		}
	}
	for _, want := range []string{
		"key-auth route= service=" + ids["services/orders"] + " consumer=",
		"rate-limiting route=" + ids["routes/orders-api"] + " service= consumer=",
		"rate-limiting route= service= consumer=" + ids["consumers/alice"],
		"rate-limiting route= service= consumer=",
		"rate-limiting route=" + ids["routes/billing-api"] + " service= consumer=" + ids["consumers/bob"],
	} {
		if !scopes[want] {
			t.Errorf("no plugin %q among %v", want, scopes)
		}
	}
	// Plugin configs are normalized by the registry: defaults filled.
	for _, e := range k[entity.KindPlugin] {
		p := e.(*entity.Plugin)
		if p.Name == "key-auth" && !strings.Contains(string(p.Config), `"key_names":["apikey","x-api-key"]`) {
			t.Errorf("key-auth config %s", p.Config)
		}
		if p.Name == "rate-limiting" && !strings.Contains(string(p.Config), `"policy":"local"`) {
			t.Errorf("rate-limiting config %s lacks the default policy", p.Config)
		}
	}

	keys := map[string]string{} // key -> consumer id
	for _, e := range k[entity.KindKeyAuth] {
		c := e.(*entity.KeyAuthCredential)
		if c.Key != "" {
			t.Errorf("plaintext key kept: %+v", c)
		}
		keys[c.KeyHash] = entity.RefID(c.Consumer)
	}
	for key, user := range map[string]string{
		"alice-secret-key-0001": "alice", "bob-secret-key-0002": "bob", "carol-secret-key-0003": "carol",
	} {
		if got := keys[validate.HashKey(key)]; got != ids["consumers/"+user] {
			t.Errorf("key of %s belongs to %q, want %q", user, got, ids["consumers/"+user])
		}
	}
	ba := k[entity.KindBasicAuth][0].(*entity.BasicAuthCredential)
	if ba.Password != "" || !validate.CheckPassword(ba.PasswordHash, "correct horse battery staple") || entity.RefID(ba.Consumer) != ids["consumers/alice"] {
		t.Errorf("basic-auth: %+v", ba)
	}
	groups := map[string]bool{}
	for _, e := range k[entity.KindACL] {
		a := e.(*entity.ACLGroup)
		groups[a.Group+"@"+entity.RefID(a.Consumer)] = true
	}
	for _, want := range []string{"admins@" + ids["consumers/alice"], "billing-readers@" + ids["consumers/alice"], "billing-readers@" + ids["consumers/bob"]} {
		if !groups[want] {
			t.Errorf("no ACL group %s in %v", want, groups)
		}
	}

	for _, e := range k[entity.KindTarget] {
		tg := e.(*entity.Target)
		if entity.RefID(tg.Upstream) != ids["upstreams/orders.internal"] {
			t.Errorf("target %s upstream %v", tg.Target, tg.Upstream)
		}
		want := map[string]int{"10.0.0.1:8080": 100, "10.0.0.2:8080": 50, "10.0.0.3:8080": 100}[tg.Target]
		if tg.WeightValue() != want {
			t.Errorf("target %s weight %d, want %d", tg.Target, tg.WeightValue(), want)
		}
	}
	up := k[entity.KindUpstream][0].(*entity.Upstream)
	if up.Healthchecks.Active.HTTPPath != "/health" || up.Healthchecks.Active.Healthy.Interval != 5 || up.Healthchecks.Passive.Unhealthy.HTTPFailures != 5 {
		t.Errorf("upstream healthchecks %+v", up.Healthchecks)
	}
	for _, e := range k[entity.KindSNI] {
		if s := e.(*entity.SNI); entity.RefID(s.Certificate) != certID {
			t.Errorf("sni %s certificate %v", s.Name, s.Certificate)
		}
	}
	if c := k[entity.KindCertificate][0].(*entity.Certificate); c.ID != certID || len(c.SNIs) != 0 {
		t.Errorf("certificate %s snis %v", c.ID, c.SNIs)
	}
}

// TestYAMLAndJSONAgree: the same configuration in either syntax gives the
// same entities (bar what is random: basic-auth salts, key-auth ids).
func TestYAMLAndJSONAgree(t *testing.T) {
	flat := func(name string) []string {
		ents := mustEntities(t, mustParse(t, readFile(t, name)), "")
		for _, e := range ents {
			switch e := e.(type) {
			case *entity.BasicAuthCredential:
				e.PasswordHash = ""
			case *entity.KeyAuthCredential:
				e.ID = e.KeyHash
			}
		}
		return canonical(t, ents)
	}
	diffLines(t, flat("kong.yml"), flat("kong.json"))
}

// TestIDsAreStable: applying the same file again keeps the ids of every
// entity Kong derives ids for.
func TestIDsAreStable(t *testing.T) {
	data := readFile(t, "kong.yml")
	first := mustEntities(t, mustParse(t, data), "")
	second := mustEntities(t, mustParse(t, data), "")
	ids := map[string]bool{}
	for _, e := range second {
		ids[e.GetMeta().ID] = true
	}
	for _, e := range first {
		switch e.Kind() {
		case entity.KindKeyAuth:
			continue // random: Kong derives them from the key itself
		}
		if !ids[e.GetMeta().ID] {
			t.Errorf("%s %s changed id between imports", e.Kind(), e.GetMeta().ID)
		}
	}
}

func TestDerivedIDs(t *testing.T) {
	// Kong's scheme: v5(v5(namespace, kind), key).
	a := derivedID(entity.KindService, "orders")
	if a != derivedID(entity.KindService, "orders") || a == derivedID(entity.KindService, "billing") || a == derivedID(entity.KindRoute, "orders") {
		t.Fatal("derived ids not a function of kind and key")
	}
	if !strings.HasPrefix(a[14:], "5") {
		t.Errorf("derived id %s is not a version 5 uuid", a)
	}
	f := mustParse(t, []byte(`
_format_version: "3.0"
services:
- name: orders
  host: orders.internal
  routes:
  - name: r
    paths: [/]
    plugins:
    - name: key-auth
upstreams:
- name: u
  targets:
  - target: 10.0.0.1:80
targets:
- target: 10.0.0.2:80
  upstream: u
`))
	ents := mustEntities(t, f, "")
	k := byKind(ents)
	svc, route := k[entity.KindService][0], k[entity.KindRoute][0]
	if svc.GetMeta().ID != derivedID(entity.KindService, "orders") {
		t.Errorf("service id %s", svc.GetMeta().ID)
	}
	if got, want := k[entity.KindPlugin][0].GetMeta().ID, derivedID(entity.KindPlugin, "plugins:key-auth:"+route.GetMeta().ID+":::"); got != want {
		t.Errorf("plugin id %s, want %s", got, want)
	}
	up := k[entity.KindUpstream][0].GetMeta().ID
	for _, e := range k[entity.KindTarget] {
		tg := e.(*entity.Target)
		// Nested: keyed by the upstream's id; top-level: by the reference
		// as written.
		want := map[string]string{
			"10.0.0.1:80": derivedID(entity.KindTarget, "10.0.0.1:80:"+up),
			"10.0.0.2:80": derivedID(entity.KindTarget, "10.0.0.2:80:u"),
		}[tg.Target]
		if tg.ID != want {
			t.Errorf("target %s id %s, want %s", tg.Target, tg.ID, want)
		}
	}
}

func TestWorkspace(t *testing.T) {
	for _, tc := range []struct {
		name      string
		file      string // _workspace
		arg       string
		want      string
		wantError string
	}{
		{name: "default", want: entity.DefaultWorkspace},
		{name: "argument", arg: "team-a", want: "team-a"},
		{name: "from file", file: "team-a", want: "team-a"},
		{name: "matching", file: "team-a", arg: "team-a", want: "team-a"},
		{name: "mismatch", file: "team-a", arg: "team-b", wantError: "_workspace: the file is for workspace 'team-a', not 'team-b'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := "_format_version: \"3.0\"\nconsumers:\n- username: alice\n"
			if tc.file != "" {
				doc += "_workspace: " + tc.file + "\n"
			}
			f := mustParse(t, []byte(doc))
			ents, err := f.Entities(tc.arg, testRegistry(), testNow)
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("err = %v, want %q", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ents[0].GetMeta().Workspace; got != tc.want {
				t.Errorf("workspace %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSelectTags(t *testing.T) {
	f := mustParse(t, []byte(`
_format_version: "3.0"
_info:
  select_tags: [managed-by-deck, team-a]
consumers:
- username: alice
  tags: [team-a, gold]
  acls:
  - group: admins
`))
	for _, e := range mustEntities(t, f, "") {
		tags := e.GetMeta().Tags
		for _, want := range []string{"managed-by-deck", "team-a"} {
			n := 0
			for _, tag := range tags {
				if tag == want {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%s tags %v: %q %d times, want once", e.Kind(), tags, want, n)
			}
		}
	}
	if f.Consumers[0].Tags[len(f.Consumers[0].Tags)-1] != "gold" || len(f.Consumers[0].Tags) != 2 {
		t.Errorf("Entities changed the file: %v", f.Consumers[0].Tags)
	}
}

// TestKongExportAccepted: what Kong itself writes (kong config db_export:
// flat, with nulls, Kong's defaults spelled out, ids as references) reads
// unchanged when it uses only features Tollgate has.
func TestKongExportAccepted(t *testing.T) {
	f := mustParse(t, []byte(`
_format_version: "3.0"
_transform: false
services:
- id: 0855b320-0dd2-547d-891d-601e9b38647f
  name: foo
  host: example.com
  protocol: http
  port: 80
  path: null
  retries: 5
  connect_timeout: 60000
  read_timeout: 60000
  write_timeout: 60000
  enabled: true
  tls_verify: null
  tls_verify_depth: null
  ca_certificates: null
  client_certificate: null
  tags: null
  created_at: 1566863706
  updated_at: 1566863706
routes:
- id: 9ab9e3a4-8e31-5ed4-9e4a-9b5c2a6c2d11
  name: foo
  service: 0855b320-0dd2-547d-891d-601e9b38647f
  protocols: [http, https]
  methods: null
  hosts: null
  paths: [/foo]
  headers: null
  snis: null
  sources: null
  destinations: null
  https_redirect_status_code: 426
  regex_priority: 0
  strip_path: true
  path_handling: v0
  preserve_host: false
  request_buffering: true
  response_buffering: true
  ws_id: 7f3b9a43-3a0f-4a2f-9b49-2d2b8ed1a6e2
  _comment: from the old cluster
consumers:
- id: d885e256-1abe-5e24-80b6-8f68fe59ea8e
  username: bobo
  custom_id: null
keyauth_credentials:
- consumer: d885e256-1abe-5e24-80b6-8f68fe59ea8e
  key: bobo-key
  ttl: null
plugins:
- name: key-auth
  route: null
  service: 0855b320-0dd2-547d-891d-601e9b38647f
  consumer: null
  consumer_group: null
  instance_name: null
  protocols: [grpc, grpcs, http, https]
  enabled: true
  config:
    key_names: [apikey]
    hide_credentials: false
    realm: null
upstreams:
- name: up
  algorithm: round-robin
  hash_on: none
  hash_fallback: none
  hash_on_cookie_path: /
  hash_on_query_arg: null
  hash_fallback_query_arg: null
  hash_on_uri_capture: null
  hash_fallback_uri_capture: null
  use_srv_name: false
  client_certificate: null
  sticky_sessions_cookie: null
  sticky_sessions_cookie_path: /
  slots: 10000
  healthchecks:
    threshold: 0
    active:
      type: http
      headers: null
      https_sni: null
      http_path: /
vaults: []
ca_certificates: null
`))
	ents := mustEntities(t, f, "")
	k := byKind(ents)
	svc := k[entity.KindService][0].(*entity.Service)
	if svc.ID != "0855b320-0dd2-547d-891d-601e9b38647f" || svc.CreatedAt != 1566863706 {
		t.Errorf("service %+v", svc)
	}
	r := k[entity.KindRoute][0].(*entity.Route)
	if entity.RefID(r.Service) != svc.ID {
		t.Errorf("route service %v", r.Service)
	}
	p := k[entity.KindPlugin][0].(*entity.Plugin)
	if entity.RefID(p.Service) != svc.ID || p.Route != nil || p.Consumer != nil {
		t.Errorf("plugin scope %+v", p)
	}
}

func TestLegacyFormat(t *testing.T) {
	f := mustParse(t, []byte(`
_format_version: "1.1"
services:
- name: s
  host: s.internal
  routes:
  - name: r
    paths: [/plain, /users/\d+, ~/already]
`))
	if f.FormatVersion != FormatVersion {
		t.Errorf("format version %q, want %q", f.FormatVersion, FormatVersion)
	}
	r := byKind(mustEntities(t, f, ""))[entity.KindRoute][0].(*entity.Route)
	want := []string{"/plain", `~/users/\d+`, "~/already"}
	if !reflect.DeepEqual(r.Paths, want) {
		t.Errorf("paths %q, want %q", r.Paths, want)
	}
}

// TestYAMLAnchorsAndMerges: anchors (kept under Kong's _ignore), aliases
// and merge keys read as YAML defines them.
func TestYAMLAnchorsAndMerges(t *testing.T) {
	f := mustParse(t, []byte(`
_format_version: "3.0"
_ignore:
- &limits
  minute: 10
services:
- &svc
  name: a
  host: a.internal
  read_timeout: 1000
  plugins:
  - name: rate-limiting
    config: *limits
- <<: *svc
  name: b
  plugins: []
`))
	k := byKind(mustEntities(t, f, ""))
	if len(k[entity.KindService]) != 2 || len(k[entity.KindPlugin]) != 1 {
		t.Fatalf("got %d services, %d plugins", len(k[entity.KindService]), len(k[entity.KindPlugin]))
	}
	for _, e := range k[entity.KindService] {
		if s := e.(*entity.Service); s.Host != "a.internal" || s.ReadTimeout != 1000 {
			t.Errorf("service %s: %+v", s.Name, s)
		}
	}
	if cfg := string(k[entity.KindPlugin][0].(*entity.Plugin).Config); !strings.Contains(cfg, `"minute":10`) {
		t.Errorf("plugin config %s", cfg)
	}
}

func TestAliasBombRefused(t *testing.T) {
	doc := "_format_version: \"3.0\"\n_ignore:\n- &a0 [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i <= 9; i++ {
		prev := "*a" + string(rune('0'+i-1))
		doc += "- &a" + string(rune('0'+i)) + " [" + strings.Repeat(prev+", ", 9) + prev + "]\n"
	}
	_, err := Parse([]byte(doc))
	if err == nil || !strings.Contains(err.Error(), "too complex") {
		t.Fatalf("err = %v, want a refusal of the expansion", err)
	}
}

// TestServicesNestedInCertificate: Kong nests entities under every entity
// they reference, certificates included (client_certificate).
func TestServicesNestedInCertificate(t *testing.T) {
	fixture := mustParse(t, readFile(t, "kong.yml")).Certificates[0]
	indent := func(s string) string { return "      " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n      ") }
	doc := `_format_version: "3.0"
certificates:
- cert: |
` + indent(fixture.Cert) + `
  key: |
` + indent(fixture.Key) + `
  services:
  - name: mtls
    url: https://mtls.internal
    routes:
    - name: mtls
      paths: [/mtls]
`
	k := byKind(mustEntities(t, mustParse(t, []byte(doc)), ""))
	cert := k[entity.KindCertificate][0]
	svc := k[entity.KindService][0].(*entity.Service)
	if entity.RefID(svc.ClientCertificate) != cert.GetMeta().ID {
		t.Errorf("service client_certificate %v, want %s", svc.ClientCertificate, cert.GetMeta().ID)
	}
	if r := k[entity.KindRoute][0].(*entity.Route); entity.RefID(r.Service) != svc.ID {
		t.Errorf("route service %v", r.Service)
	}
}
