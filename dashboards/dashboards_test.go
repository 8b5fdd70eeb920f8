package dashboards

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"go.yaml.in/yaml/v3"

	"github.com/tollgate/tollgate/internal/clickhousetest"
	clickhousemigrate "github.com/tollgate/tollgate/schema/clickhouse"
)

var clickhouse clickhousetest.Shared

func TestMain(m *testing.M) { os.Exit(clickhouse.Main(m, true)) }

// pluginType is the official ClickHouse data source plugin's id.
const pluginType = "grafana-clickhouse-datasource"

// The parts of Grafana's dashboard JSON the tests read.
type (
	dashboard struct {
		UID        string `json:"uid"`
		Title      string `json:"title"`
		Templating struct {
			List []variable `json:"list"`
		} `json:"templating"`
		Panels []panel `json:"panels"`
		file   string
	}
	datasourceRef struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	variable struct {
		Name       string          `json:"name"`
		Type       string          `json:"type"`
		Datasource *datasourceRef  `json:"datasource"`
		Query      json.RawMessage `json:"query"`
		IncludeAll bool            `json:"includeAll"`
		Multi      bool            `json:"multi"`
		AllValue   string          `json:"allValue"`
	}
	panel struct {
		ID         int            `json:"id"`
		Type       string         `json:"type"`
		Title      string         `json:"title"`
		Datasource *datasourceRef `json:"datasource"`
		Interval   string         `json:"interval"`
		Targets    []target       `json:"targets"`
		Panels     []panel        `json:"panels"` // a row's
	}
	target struct {
		RefID      string         `json:"refId"`
		Datasource *datasourceRef `json:"datasource"`
		EditorType string         `json:"editorType"`
		Format     *int           `json:"format"`
		QueryType  string         `json:"queryType"`
		RawSQL     string         `json:"rawSql"`
	}
)

// The plugin's formats (sqlutil.FormatQueryOption) and the query types
// its SQL editor pairs them with.
const (
	formatTimeSeries = 0
	formatTable      = 1
)

// sql returns a query variable's SQL.
func (v variable) sql() (string, error) {
	var s string
	if err := json.Unmarshal(v.Query, &s); err != nil {
		return "", fmt.Errorf("variable %q: query is not a string of SQL: %s", v.Name, v.Query)
	}
	return s, nil
}

// allPanels returns d's panels with those of its rows, in order.
func (d dashboard) allPanels() []panel {
	var out []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

func (d dashboard) variables() map[string]variable {
	m := map[string]variable{}
	for _, v := range d.Templating.List {
		m[v.Name] = v
	}
	return m
}

func (d dashboard) panel(t *testing.T, title string) panel {
	t.Helper()
	for _, p := range d.allPanels() {
		if p.Title == title {
			return p
		}
	}
	t.Fatalf("%s has no panel %q", d.file, title)
	return panel{}
}

// loadDashboards parses every dashboard the package embeds.
func loadDashboards(t *testing.T) []dashboard {
	t.Helper()
	names, err := fs.Glob(FS, "*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no dashboards embedded")
	}
	var out []dashboard
	for _, name := range names {
		b, err := FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d.file = name
		out = append(out, d)
	}
	return out
}

func loadDashboard(t *testing.T, uid string) dashboard {
	t.Helper()
	for _, d := range loadDashboards(t) {
		if d.UID == uid {
			return d
		}
	}
	t.Fatalf("no dashboard %q", uid)
	return dashboard{}
}

// variableRef matches the template variables a statement references (see
// grafanaVariable); names starting with __ are macros or built-ins.
var variableRef = regexp.MustCompile(`\$\{(\w+)[^}]*\}|\$(\w+)|\[\[(\w+)`)

func referencedVariables(sql string) []string {
	var names []string
	for _, m := range variableRef.FindAllStringSubmatch(sql, -1) {
		if name := m[1] + m[2] + m[3]; !strings.HasPrefix(name, "__") && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

// usedMacros returns the $__ macros sql uses.
func usedMacros(sql string) []string {
	var names []string
	for _, m := range regexp.MustCompile(`\$__(\w+)`).FindAllStringSubmatch(sql, -1) {
		names = append(names, m[1])
	}
	return names
}

// TestDashboardsAreWellFormed checks what Grafana and the plugin need from
// every dashboard before any SQL runs.
func TestDashboardsAreWellFormed(t *testing.T) {
	want := []string{"tollgate-consumer", "tollgate-errors", "tollgate-overview", "tollgate-service"}
	var uids []string
	for _, d := range loadDashboards(t) {
		t.Run(d.file, func(t *testing.T) {
			if d.UID == "" || d.Title == "" {
				t.Errorf("uid %q, title %q: both are required", d.UID, d.Title)
			}
			if slices.Contains(uids, d.UID) {
				t.Errorf("uid %q is used by another dashboard", d.UID)
			}
			uids = append(uids, d.UID)

			// Variables: query variables on the provisioned data source,
			// each referencing only variables defined before it (Grafana
			// resolves them in order).
			defined := map[string]bool{}
			for _, v := range d.Templating.List {
				if defined[v.Name] {
					t.Errorf("variable %q is defined twice", v.Name)
				}
				if v.Type != "query" {
					t.Errorf("variable %q is a %q variable; the tests expand query variables only", v.Name, v.Type)
					continue
				}
				if v.Datasource == nil || v.Datasource.UID != DatasourceUID || v.Datasource.Type != pluginType {
					t.Errorf("variable %q: data source %+v, want uid %q of type %s", v.Name, v.Datasource, DatasourceUID, pluginType)
				}
				sql, err := v.sql()
				if err != nil || strings.TrimSpace(sql) == "" {
					t.Errorf("variable %q has no SQL: %v", v.Name, err)
				}
				for _, ref := range referencedVariables(sql) {
					if !defined[ref] {
						t.Errorf("variable %q references %q, which is not defined before it", v.Name, ref)
					}
				}
				checkMacros(t, "variable "+v.Name, sql)
				defined[v.Name] = true
			}

			ids := map[int]bool{}
			panels := d.allPanels()
			if len(panels) == 0 {
				t.Fatal("no panels")
			}
			for _, p := range panels {
				if p.Type == "row" {
					continue
				}
				what := fmt.Sprintf("panel %d %q", p.ID, p.Title)
				if ids[p.ID] {
					t.Errorf("%s: id %d is used by another panel", what, p.ID)
				}
				ids[p.ID] = true
				if p.Datasource == nil || p.Datasource.UID != DatasourceUID || p.Datasource.Type != pluginType {
					t.Errorf("%s: data source %+v, want uid %q of type %s", what, p.Datasource, DatasourceUID, pluginType)
				}
				if len(p.Targets) == 0 {
					t.Errorf("%s has no query", what)
				}
				for _, tg := range p.Targets {
					if tg.Datasource == nil || tg.Datasource.UID != DatasourceUID {
						t.Errorf("%s target %s: data source %+v, want uid %q", what, tg.RefID, tg.Datasource, DatasourceUID)
					}
					if tg.EditorType != "sql" || strings.TrimSpace(tg.RawSQL) == "" {
						t.Errorf("%s target %s: editorType %q, rawSql %q: want raw SQL", what, tg.RefID, tg.EditorType, tg.RawSQL)
					}
					wantFormat, wantType := formatTable, "table"
					if p.Type == "timeseries" {
						wantFormat, wantType = formatTimeSeries, "timeSeries"
					}
					if tg.Format == nil || *tg.Format != wantFormat || tg.QueryType != wantType {
						t.Errorf("%s target %s: format %v, queryType %q; a %s panel wants %d, %q",
							what, tg.RefID, tg.Format, tg.QueryType, p.Type, wantFormat, wantType)
					}
					for _, ref := range referencedVariables(tg.RawSQL) {
						if !defined[ref] {
							t.Errorf("%s references variable %q, which is not defined", what, ref)
						}
					}
					checkMacros(t, what, tg.RawSQL)
					// Buckets come from $__interval_s and must not be finer
					// than the table's own: a minute rollup cannot be split
					// into 15 s buckets. The panel's min interval sees to it.
					if strings.Contains(tg.RawSQL, "$__interval_s") {
						floor := time.Minute
						if strings.Contains(tg.RawSQL, "consumer_usage_by_hour") || strings.Contains(tg.RawSQL, "requests_by_hour") {
							floor = time.Hour
						}
						if iv, err := time.ParseDuration(p.Interval); err != nil || iv < floor || iv%floor != 0 {
							t.Errorf("%s buckets by $__interval_s with min interval %q; want a multiple of %s", what, p.Interval, floor)
						}
					}
				}
			}
		})
	}
	slices.Sort(uids)
	if !slices.Equal(uids, want) {
		t.Errorf("dashboards %v, want %v", uids, want)
	}
}

func checkMacros(t *testing.T, what, sql string) {
	t.Helper()
	for _, m := range usedMacros(sql) {
		if !backendMacros[m] && "$__"+m+"(" != conditionalAllMacro {
			t.Errorf("%s uses $__%s, which the tests do not expand (and may not run on ClickHouse 18.16)", what, m)
		}
	}
}

// TestProvisioning checks the provisioning files against the dashboards
// and the compose services they name.
func TestProvisioning(t *testing.T) {
	var ds struct {
		Datasources []struct {
			Name     string `yaml:"name"`
			UID      string `yaml:"uid"`
			Type     string `yaml:"type"`
			JSONData struct {
				Host            string `yaml:"host"`
				Port            int    `yaml:"port"`
				Protocol        string `yaml:"protocol"`
				DefaultDatabase string `yaml:"defaultDatabase"`
				Username        string `yaml:"username"`
			} `yaml:"jsonData"`
			SecureJSONData map[string]string `yaml:"secureJsonData"`
		} `yaml:"datasources"`
	}
	readYAML(t, "provisioning/datasources/clickhouse.yaml", &ds)
	if len(ds.Datasources) != 1 {
		t.Fatalf("%d data sources, want 1", len(ds.Datasources))
	}
	d := ds.Datasources[0]
	if d.UID != DatasourceUID || d.Type != pluginType {
		t.Errorf("data source uid %q type %q, want %q %q", d.UID, d.Type, DatasourceUID, pluginType)
	}
	j := d.JSONData
	if j.Host != "clickhouse" || j.Port != 9000 || j.Protocol != "native" || j.DefaultDatabase != "tollgate" {
		t.Errorf("data source reaches %s:%d (%s) database %q; want the compose service clickhouse:9000, native, tollgate",
			j.Host, j.Port, j.Protocol, j.DefaultDatabase)
	}
	if d.SecureJSONData["password"] == "" {
		t.Error("no password for the data source")
	}

	var dp struct {
		Providers []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "provisioning/dashboards/tollgate.yaml", &dp)
	if len(dp.Providers) != 1 || dp.Providers[0].Type != "file" || !path.IsAbs(dp.Providers[0].Options.Path) {
		t.Errorf("dashboard providers %+v, want one file provider with an absolute path", dp.Providers)
	}
}

func readYAML(t *testing.T, name string, v any) {
	t.Helper()
	b, err := FS.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// TestExpand checks the expansion the panels are run with against the
// plugin's documented output.
func TestExpand(t *testing.T) {
	from := time.Date(2024, 3, 1, 9, 0, 17, 500e6, time.UTC)
	to := time.Date(2024, 3, 1, 13, 0, 0, 0, time.UTC)
	vars := map[string]variable{
		"workspace": {Name: "workspace"},
		"service":   {Name: "service", Multi: true, IncludeAll: true},
		"custom":    {Name: "custom", IncludeAll: true, AllValue: ".*"},
	}
	base := func(sel map[string]selection) request {
		return request{from: from, to: to, interval: 5 * time.Minute, vars: vars, selected: sel,
			options: map[string][]string{"service": {"a", "b'c"}, "custom": {"x"}}}
	}
	one := map[string]selection{"workspace": {values: []string{"acme"}}, "service": {values: []string{"a"}}, "custom": {values: []string{"x"}}}
	all := map[string]selection{"workspace": {values: []string{"o'neil"}}, "service": {all: true}, "custom": {all: true}}
	tests := []struct {
		name, sql, want, err string
		sel                  map[string]selection
	}{
		{name: "time filter", sql: "WHERE $__timeFilter(minute)", sel: one,
			want: "WHERE minute >= toDateTime(1709283617) AND minute <= toDateTime(1709298000)"},
		{name: "time filter, spaced argument", sql: "$__timeFilter( started_at )", sel: one,
			want: "started_at >= toDateTime(1709283617) AND started_at <= toDateTime(1709298000)"},
		{name: "from and to", sql: "$__fromTime, $__toTime", sel: one,
			want: "toDateTime(1709283617), toDateTime(1709298000)"},
		{name: "interval", sql: "intDiv(toUInt32(t), $__interval_s) * $__interval_s", sel: one,
			want: "intDiv(toUInt32(t), 300) * 300"},
		{name: "single quote", sql: "workspace = ${workspace:singlequote}", sel: all,
			want: `workspace = 'o\'neil'`},
		{name: "plain single value", sql: "x = '$workspace' AND y = '${workspace}'", sel: one,
			want: "x = 'acme' AND y = 'acme'"},
		{name: "conditional all, one value", sql: "WHERE $__conditionalAll(service_id IN (${service:singlequote}), $service) AND 1",
			sel: one, want: "WHERE service_id IN ('a') AND 1"},
		{name: "conditional all, two values", sql: "$__conditionalAll(service_id IN (${service:singlequote}), ${service})",
			sel: map[string]selection{"service": {values: []string{"a", "b"}}}, want: "service_id IN ('a','b')"},
		{name: "conditional all, all", sql: "WHERE $__conditionalAll(service_id IN (${service:singlequote}), $service) AND 1",
			sel: all, want: "WHERE 1=1 AND 1"},
		{name: "all without the macro is every option", sql: "IN (${service:singlequote}) OR IN ($service)",
			sel: all, want: `IN ('a','b\'c') OR IN ('a','b'c')`},
		{name: "custom all value is not formatted", sql: "${custom:singlequote}", sel: all, want: ".*"},
		{name: "two macros", sql: "$__conditionalAll(a IN (${service:singlequote}), $service) AND $__conditionalAll(b = 1, $service)",
			sel: one, want: "a IN ('a') AND b = 1"},
		{name: "unknown variable", sql: "x = ${nope:singlequote}", sel: one, err: `"nope" is not defined`},
		{name: "unknown macro", sql: "$__timeInterval(minute)", sel: one, err: "$__timeInterval is not expanded"},
		{name: "unknown format", sql: "${service:csv}", sel: one, err: `format "csv"`},
		{name: "conditional all, one argument", sql: "$__conditionalAll(x = 1)", sel: one, err: "takes 2 arguments"},
		{name: "time filter without argument", sql: "$__timeFilter", sel: one, err: "takes 1 arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := expand(tc.sql, base(tc.sel))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("expand(%q) = %q, %v; want an error with %q", tc.sql, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("expand(%q)\n got %q, %v\nwant %q", tc.sql, got, err, tc.want)
			}
		})
	}
}

// The seeded request log. base is a whole hour; acme has six requests in
// two services, globex one with the same ids (tenancy), and q'ws one whose
// ids need quoting.
var base = time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)

type seedRow struct {
	id, workspace, service, route, consumer string
	at                                      time.Duration // after base
	status                                  uint16
	errorClass                              string
	latency                                 float64
	billable                                bool
	units                                   int64
}

var seed = []seedRow{
	{"r1", "acme", "orders", "orders-list", "alice", 10 * time.Second, 200, "", 10, true, 2},
	{"r2", "acme", "orders", "orders-list", "bob", 20 * time.Second, 201, "", 20, true, 1},
	{"r3", "acme", "orders", "orders-create", "alice", 70 * time.Second, 404, "", 30, false, 0},
	{"r4", "acme", "payments", "pay", "", 80 * time.Second, 502, "upstream_connect", 40, false, 0},
	{"r5", "acme", "payments", "pay", "alice", 130 * time.Second, 504, "upstream_timeout", 50, false, 0},
	{"r6", "acme", "orders", "orders-list", "bob", time.Hour + time.Minute, 200, "", 15, true, 3},
	{"g1", "globex", "orders", "orders-list", "alice", 15 * time.Second, 200, "", 5, true, 7},
	{"q1", "q'ws", "svc'1", "rt'1", "c'1", 30 * time.Second, 500, "it's broken", 60, true, 1},
}

// migrated returns a connection to a fresh database with the schema
// migrated and the seed loaded, through its materialized views.
func migrated(t *testing.T) driver.Conn {
	t.Helper()
	return migratedWith(t, seed)
}

// migratedWith is migrated with rows as the seed.
func migratedWith(t *testing.T, rows []seedRow) driver.Conn {
	t.Helper()
	srv := clickhouse.Server(t)
	db := srv.Database(t)
	conn := srv.Conn(t, db)
	ctx := t.Context()
	if _, err := clickhousemigrate.Up(ctx, conn, db, nil); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".requests (request_id, started_at, started_at_ms, node_id, "+
		"workspace, service_id, route_id, consumer_id, method, path, status, upstream_status, error_class, "+
		"latency_total_ms, latency_upstream_ms, request_bytes, response_bytes, billable, billing_units, "+
		"kafka_topic, kafka_partition, kafka_offset)")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		at := base.Add(r.at)
		var billable uint8
		if r.billable {
			billable = 1
		}
		if err := b.Append(r.id, at, at.UnixMilli(), "gateway-1", r.workspace, r.service, r.route, r.consumer,
			"GET", "/"+r.route, r.status, r.status, r.errorClass, r.latency, r.latency/2,
			int64(100), int64(1000), billable, r.units, "tollgate.requests", int32(0), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return conn
}

// result is a statement's columns and rows, each value as the driver
// scans it.
type result struct {
	columns []string
	types   []reflect.Type
	rows    [][]any
}

func run(t *testing.T, conn driver.Conn, sql string) (result, error) {
	t.Helper()
	rows, err := conn.Query(t.Context(), sql)
	if err != nil {
		return result{}, err
	}
	defer rows.Close()
	var res result
	res.columns = rows.Columns()
	for _, ct := range rows.ColumnTypes() {
		res.types = append(res.types, ct.ScanType())
	}
	for rows.Next() {
		dest := make([]any, len(res.types))
		for i, typ := range res.types {
			dest[i] = reflect.New(typ).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return result{}, err
		}
		row := make([]any, len(dest))
		for i, d := range dest {
			row[i] = reflect.ValueOf(d).Elem().Interface()
		}
		res.rows = append(res.rows, row)
	}
	return res, rows.Err()
}

// resolve sets d's variables in order, as Grafana does on load: each
// variable's query runs (with the variables before it) and pick chooses
// from its options.
func resolve(t *testing.T, conn driver.Conn, d dashboard, r request, pick func(v variable, options []string) selection) request {
	t.Helper()
	r.vars, r.selected, r.options = d.variables(), map[string]selection{}, map[string][]string{}
	for _, v := range d.Templating.List {
		sql, err := v.sql()
		if err != nil {
			t.Fatal(err)
		}
		stmt, err := expand(sql, r)
		if err != nil {
			t.Fatalf("variable %q: %v", v.Name, err)
		}
		res, err := run(t, conn, stmt)
		if err != nil {
			t.Fatalf("variable %q: %v\n%s", v.Name, err, stmt)
		}
		var opts []string
		for _, row := range res.rows {
			opts = append(opts, fmt.Sprint(row[0]))
		}
		r.options[v.Name] = opts
		r.selected[v.Name] = pick(v, opts)
		if s := r.selected[v.Name]; !s.all && len(s.values) == 0 {
			t.Fatalf("variable %q: nothing to pick from %q", v.Name, opts)
		}
	}
	return r
}

// scenarios are the variable settings every panel runs with.
var scenarios = []struct {
	name      string
	workspace string
	pick      func(v variable, options []string) selection
}{
	{"all", "acme", func(v variable, opts []string) selection { return selection{all: true} }},
	{"first option", "acme", func(v variable, opts []string) selection { return selection{values: opts[:min(1, len(opts))]} }},
	{"two options", "acme", func(v variable, opts []string) selection { return selection{values: opts[:min(2, len(opts))]} }},
	{"quoted ids", "q'ws", func(v variable, opts []string) selection { return selection{values: opts[:min(1, len(opts))]} }},
}

func pickFor(workspace string, pick func(variable, []string) selection) func(variable, []string) selection {
	return func(v variable, opts []string) selection {
		switch {
		case v.Name == "workspace":
			return selection{values: []string{workspace}}
		case !v.IncludeAll:
			return selection{values: opts[:min(1, len(opts))]}
		}
		return pick(v, opts)
	}
}

// TestPanelsRunOnClickHouse runs every panel's SQL, expanded for every
// scenario and for the intervals its min interval allows, on a real
// ClickHouse (18.16 on the build machines) with the schema migrated, and
// checks that time series come back as the plugin needs them.
func TestPanelsRunOnClickHouse(t *testing.T) {
	conn := migrated(t)
	var version string
	if err := conn.QueryRow(t.Context(), "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Logf("ClickHouse %s", version)
	rng := request{from: base.Add(-time.Hour + 17*time.Second), to: base.Add(3 * time.Hour)}
	for _, d := range loadDashboards(t) {
		t.Run(d.UID, func(t *testing.T) {
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					r := resolve(t, conn, d, rng, pickFor(sc.workspace, sc.pick))
					for _, p := range d.allPanels() {
						for _, tg := range p.Targets {
							for _, iv := range []time.Duration{time.Minute, 5 * time.Minute, time.Hour} {
								if min, _ := time.ParseDuration(p.Interval); iv < min {
									continue
								}
								r.interval = iv
								runPanel(t, conn, p, tg, r)
							}
						}
					}
				})
			}
		})
	}
}

func runPanel(t *testing.T, conn driver.Conn, p panel, tg target, r request) {
	t.Helper()
	what := fmt.Sprintf("panel %q (interval %s)", p.Title, r.interval)
	stmt, err := expand(tg.RawSQL, r)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	res, err := run(t, conn, stmt)
	if err != nil {
		t.Errorf("%s: %v\n%s", what, err, stmt)
		return
	}
	if *tg.Format != formatTimeSeries {
		return
	}
	// The plugin takes the DateTime column as the time and, for a
	// multi-line series, widens the long frame by its string columns,
	// which needs the rows in time order.
	if len(res.columns) < 2 || res.columns[0] != "time" || res.types[0] != reflect.TypeOf(time.Time{}) {
		t.Errorf("%s: columns %v of %v; a time series starts with a DateTime named time", what, res.columns, res.types)
		return
	}
	for i := 1; i < len(res.rows); i++ {
		if res.rows[i][0].(time.Time).Before(res.rows[i-1][0].(time.Time)) {
			t.Errorf("%s: rows not in time order", what)
			return
		}
	}
}

// point renders a row for comparison: times as Unix seconds after base.
func point(row []any) string {
	parts := make([]string, len(row))
	for i, v := range row {
		if tm, ok := v.(time.Time); ok {
			v = fmt.Sprintf("+%s", tm.Sub(base))
		}
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, " ")
}

// runTitled expands and runs one panel's query with workspace acme and
// every other variable set to All.
func runTitled(t *testing.T, conn driver.Conn, d dashboard, title string, interval time.Duration) []string {
	t.Helper()
	return runTitledIn(t, conn, d, title, interval, base.Add(-time.Hour+17*time.Second), base.Add(3*time.Hour))
}

// runTitledIn is runTitled over the time range [from, to].
func runTitledIn(t *testing.T, conn driver.Conn, d dashboard, title string, interval time.Duration, from, to time.Time) []string {
	t.Helper()
	r := request{from: from, to: to, interval: interval}
	r = resolve(t, conn, d, r, pickFor("acme", func(variable, []string) selection { return selection{all: true} }))
	p := d.panel(t, title)
	stmt, err := expand(p.Targets[0].RawSQL, r)
	if err != nil {
		t.Fatal(err)
	}
	res, err := run(t, conn, stmt)
	if err != nil {
		t.Fatalf("%v\n%s", err, stmt)
	}
	out := []string{strings.Join(res.columns, " ")}
	for _, row := range res.rows {
		out = append(out, point(row))
	}
	return out
}

// TestPanelNumbers checks key panels against what the seed implies.
// rowMatches says whether a result row matches a wanted one, field by
// field: equal, or for a wanted "~v" a number within 1 % of v (latencies
// read from the rollups' 2 % buckets).
func rowMatches(got, want string) bool {
	g, w := strings.Fields(got), strings.Fields(want)
	if len(g) != len(w) {
		return false
	}
	for i := range w {
		approx, ok := strings.CutPrefix(w[i], "~")
		if !ok {
			if g[i] != w[i] {
				return false
			}
			continue
		}
		v, err1 := strconv.ParseFloat(approx, 64)
		x, err2 := strconv.ParseFloat(g[i], 64)
		if err1 != nil || err2 != nil || math.Abs(x-v) > 0.01*math.Abs(v) {
			return false
		}
	}
	return true
}

func TestPanelNumbers(t *testing.T) {
	conn := migrated(t)
	overview := loadDashboard(t, "tollgate-overview")
	service := loadDashboard(t, "tollgate-service")
	tests := []struct {
		name      string
		dashboard dashboard
		title     string
		interval  time.Duration
		want      []string
	}{
		{
			name: "overview requests per minute", dashboard: overview, title: "Requests per $__interval", interval: time.Minute,
			want: []string{
				"time total 4xx 5xx",
				"+0s 2 0 0",   // r1, r2
				"+1m0s 2 1 1", // r3 404, r4 502
				"+2m0s 1 0 1", // r5 504
				"+1h1m0s 1 0 0",
			},
		},
		{
			name: "overview requests per hour", dashboard: overview, title: "Requests per $__interval", interval: time.Hour,
			want: []string{"time total 4xx 5xx", "+0s 5 1 2", "+1h0m0s 1 0 0"},
		},
		{
			name: "top services", dashboard: overview, title: "Top services", interval: time.Minute,
			want: []string{
				"service total failed error_rate p95_ms sent",
				"orders 4 1 0.25 ~30 4000",
				"payments 2 2 1 ~50 2000",
			},
		},
		{
			name: "top routes", dashboard: overview, title: "Top routes", interval: time.Minute,
			want: []string{
				"service route total failed error_rate p95_ms sent",
				"orders orders-list 3 0 0 ~20 3000",
				"payments pay 2 2 1 ~50 2000",
				"orders orders-create 1 1 1 ~30 1000",
			},
		},
		{
			name: "service requests per minute", dashboard: service, title: "Requests per $__interval", interval: time.Minute,
			want: []string{"time total 4xx 5xx", "+0s 2 0 0", "+1m0s 2 1 1", "+2m0s 1 0 1", "+1h1m0s 1 0 0"},
		},
		{
			name: "service routes", dashboard: service, title: "Routes", interval: time.Minute,
			want: []string{
				"service route total failed error_rate p95_ms sent",
				"orders orders-list 3 0 0 ~20 3000",
				"payments pay 2 2 1 ~50 2000",
				"orders orders-create 1 1 1 ~30 1000",
			},
		},
		{
			name: "status classes", dashboard: loadDashboard(t, "tollgate-errors"), title: "Status classes", interval: time.Minute,
			want: []string{"time class total", "+0s 2xx 2", "+1m0s 4xx 1", "+1m0s 5xx 1", "+2m0s 5xx 1", "+1h1m0s 2xx 1"},
		},
		{
			name: "billable usage", dashboard: loadDashboard(t, "tollgate-consumer"), title: "Billable usage by consumer", interval: time.Hour,
			want: []string{"consumer total billable units", "bob 2 2 4", "alice 3 1 2"},
		},
		{
			name: "error classes", dashboard: loadDashboard(t, "tollgate-errors"), title: "Error classes in the range", interval: time.Minute,
			want: []string{"class total last_seen", "upstream_connect 1 +1m20s", "upstream_timeout 1 +2m10s"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := runTitled(t, conn, tc.dashboard, tc.title, tc.interval)
			if !slices.EqualFunc(got, tc.want, rowMatches) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestPanelsSplitAtWholeHours: the status code and error class panels
// read the range's whole hours from requests_by_hour_status and the rest
// from requests (the error classes' last seen times from the raw records
// of each class's latest whole hour and of the edges), and count every
// seeded request of the range once, whether its edges fall on hours,
// inside the hours that hold requests, or within one hour.
func TestPanelsSplitAtWholeHours(t *testing.T) {
	// The seed, and failing requests of acme later in the hours that
	// hold its errors and in a later hour, so that a class's last seen
	// time is not its only request of an hour.
	rows := append(slices.Clone(seed),
		seedRow{"e1", "acme", "payments", "pay", "bob", 20 * time.Minute, 504, "upstream_timeout", 70, false, 0},
		seedRow{"e2", "acme", "orders", "orders-list", "bob", 40*time.Minute + 5*time.Second, 504, "upstream_timeout", 80, false, 0},
		seedRow{"e3", "acme", "payments", "pay", "", 2*time.Hour + 5*time.Minute, 502, "upstream_connect", 90, false, 0},
		seedRow{"e4", "acme", "payments", "pay", "", 2*time.Hour + 7*time.Minute, 502, "upstream_connect", 90, false, 0})
	conn := migratedWith(t, rows)
	service, errors := loadDashboard(t, "tollgate-service"), loadDashboard(t, "tollgate-errors")
	// byCode and byClass are what the panels should show for the
	// seeded requests of acme in a range.
	byCode := func(keep func(uint16) bool) func([]seedRow) []string {
		return func(in []seedRow) []string {
			counts := map[uint16]int{}
			for _, r := range in {
				if keep(r.status) {
					counts[r.status]++
				}
			}
			out := []string{"code total"}
			for _, c := range slices.SortedFunc(maps.Keys(counts), func(a, b uint16) int {
				return cmp.Or(cmp.Compare(counts[b], counts[a]), cmp.Compare(a, b))
			}) {
				out = append(out, fmt.Sprintf("%d %d", c, counts[c]))
			}
			return out
		}
	}
	byClass := func(in []seedRow) []string {
		counts, last := map[string]int{}, map[string]time.Duration{}
		for _, r := range in {
			if r.errorClass != "" {
				counts[r.errorClass]++
				last[r.errorClass] = max(last[r.errorClass], r.at.Truncate(time.Second))
			}
		}
		out := []string{"class total last_seen"}
		for _, c := range slices.SortedFunc(maps.Keys(counts), func(a, b string) int {
			return cmp.Or(cmp.Compare(counts[b], counts[a]), strings.Compare(a, b))
		}) {
			out = append(out, fmt.Sprintf("%s %d +%s", c, counts[c], last[c]))
		}
		return out
	}
	for _, rng := range []struct {
		name     string
		from, to time.Time
	}{
		{"whole hours inside", base.Add(-time.Hour + 17*time.Second), base.Add(3 * time.Hour)},
		{"edges inside the hours with requests", base.Add(15 * time.Second), base.Add(time.Hour + 90*time.Second)},
		{"within one hour", base.Add(time.Minute), base.Add(2 * time.Minute)},
		{"ending on a request's second", base.Add(-time.Hour), base.Add(time.Hour + time.Minute)},
		{"exactly one hour", base, base.Add(time.Hour)},
	} {
		var in []seedRow
		for _, r := range rows {
			if at := base.Add(r.at).Unix(); r.workspace == "acme" && at >= rng.from.Unix() && at <= rng.to.Unix() {
				in = append(in, r)
			}
		}
		for _, p := range []struct {
			d     dashboard
			title string
			want  func([]seedRow) []string
		}{
			{service, "Status codes", byCode(func(uint16) bool { return true })},
			{errors, "Failing status codes", byCode(func(s uint16) bool { return s >= 400 })},
			{errors, "Error classes in the range", byClass},
		} {
			t.Run(rng.name+"/"+p.title, func(t *testing.T) {
				got := runTitledIn(t, conn, p.d, p.title, time.Minute, rng.from, rng.to)
				want := p.want(in)
				if len(want) == 1 {
					t.Fatal("no seeded request in the range: the case checks nothing")
				}
				if !slices.Equal(got, want) {
					t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			})
		}
	}
}

// TestRecentFailingRequestsReadTheLatestHours: the errors dashboard's
// recent failing requests read from the latest whole hours that the hour
// status rollup counts twice the panel's limit in, and show the latest 100
// failing requests of the range, newest first, whether the range holds
// more (the rollup narrows the read) or fewer (the whole range is read).
func TestRecentFailingRequestsReadTheLatestHours(t *testing.T) {
	rows := slices.Clone(seed)
	// 300 failing requests of acme, one a minute from base+2h, and a
	// successful one between each two.
	for i := range 300 {
		status, service := uint16(500), "orders"
		if i%2 == 1 {
			status, service = 404, "payments"
		}
		at := 2*time.Hour + time.Duration(i)*time.Minute
		rows = append(rows,
			seedRow{fmt.Sprintf("f%03d", i), "acme", service, "orders-list", "bob", at, status, "", 10, false, 0},
			seedRow{fmt.Sprintf("s%03d", i), "acme", service, "orders-list", "bob", at + 30*time.Second, 200, "", 10, true, 1})
	}
	conn := migratedWith(t, rows)
	errors := loadDashboard(t, "tollgate-errors")
	for _, rng := range []struct {
		name     string
		from, to time.Time
	}{
		{"every failing request", base.Add(-time.Hour + 17*time.Second), base.Add(8 * time.Hour)},
		{"ending inside an hour", base.Add(-time.Hour), base.Add(4*time.Hour + 30*time.Minute + 17*time.Second)},
		{"fewer than the limit", base, base.Add(2 * time.Hour)},
		{"within one hour", base.Add(2*time.Hour + 10*time.Minute), base.Add(2*time.Hour + 50*time.Minute)},
	} {
		t.Run(rng.name, func(t *testing.T) {
			type rec struct {
				id string
				at int64
			}
			var want []rec
			for _, r := range rows {
				at := base.Add(r.at).Unix()
				if r.workspace == "acme" && r.status >= 400 && at >= rng.from.Unix() && at <= rng.to.Unix() {
					want = append(want, rec{r.id, at})
				}
			}
			slices.SortFunc(want, func(a, b rec) int { return cmp.Or(cmp.Compare(b.at, a.at), strings.Compare(b.id, a.id)) })
			want = want[:min(len(want), 100)]
			if len(want) == 0 {
				t.Fatal("no failing request in the range: the case checks nothing")
			}
			got := runTitledIn(t, conn, errors, "Recent failing requests", time.Minute, rng.from, rng.to)
			var ids, wantIDs []string
			for _, row := range got[1:] {
				ids = append(ids, strings.Fields(row)[1])
			}
			for _, r := range want {
				wantIDs = append(wantIDs, r.id)
			}
			if !slices.Equal(ids, wantIDs) {
				t.Errorf("request ids %v\nwant %v", ids, wantIDs)
			}
		})
	}
}

// TestLatencyPanelsReadBuckets: a panel that merges the rollups' latency
// states turns the buckets back into milliseconds exactly as the query
// layer does (clickhousemigrate.LatencyMerge); TestPanelNumbers checks
// the numbers of only one of them.
func TestLatencyPanelsReadBuckets(t *testing.T) {
	merge := clickhousemigrate.LatencyMerge("latency_total")
	found := 0
	for _, d := range loadDashboards(t) {
		for _, p := range d.allPanels() {
			for _, tg := range p.Targets {
				if !strings.Contains(tg.RawSQL, "quantilesTimingMerge") {
					continue
				}
				found++
				if strings.Count(tg.RawSQL, "quantilesTimingMerge") != strings.Count(tg.RawSQL, merge) {
					t.Errorf("%s panel %q merges latency buckets other than as %s", d.file, p.Title, merge)
				}
			}
		}
	}
	if found == 0 {
		t.Error("no panel merges the rollups' latency buckets")
	}
}
