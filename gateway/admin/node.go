package admin

import (
	"fmt"
	"net/http"
	"os"
	"reflect"
	"runtime"
	"sort"

	"github.com/julienschmidt/httprouter"

	"github.com/tollgate/tollgate/internal/entity"
)

// root is GET /: the node's identity and plugins, in Kong's shape.
func (s *server) root(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	ctx := r.Context()
	names := s.pluginNames()
	available := make(map[string]any, len(names))
	for _, n := range names {
		available[n] = true
	}
	inUse := []string{}
	snap, err := s.store.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	seen := map[string]bool{}
	for _, e := range snap.Entities {
		if p, ok := e.(*entity.Plugin); ok && !seen[p.Name] {
			seen[p.Name] = true
			inUse = append(inUse, p.Name)
		}
	}
	sort.Strings(inUse)
	writeJSON(w, http.StatusOK, map[string]any{
		"version":  s.cfg.Version,
		"hostname": s.cfg.Hostname,
		"node_id":  s.cfg.NodeID,
		"tagline":  "Welcome to tollgate",
		"plugins": map[string]any{
			"available_on_server": available,
			"enabled_in_cluster":  inUse,
		},
		"configuration": map[string]any{
			"plugins":        names,
			"loaded_plugins": available,
			"admin_auth":     s.cfg.Token != "",
			"node_id":        s.cfg.NodeID,
		},
		"pids": map[string]any{"master": os.Getpid()},
	})
	return nil
}

// status is GET /status: Kong's shape (database reachability, memory,
// server counters, configuration hash) with the node's own state merged in.
func (s *server) status(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	version, err := s.store.Version(r.Context())
	reachable := err == nil
	if err != nil {
		s.log.Warn("config store unreachable", "err", err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out := map[string]any{
		"database": map[string]any{"reachable": reachable},
		"memory": map[string]any{
			"heap_allocated": mib(ms.HeapAlloc),
			"sys":            mib(ms.Sys),
			"goroutines":     runtime.NumGoroutine(),
		},
		// Kong reports an md5 of the config; the store's version is what
		// changes with every write here, in the same 32-hex-digit form.
		"configuration_hash": fmt.Sprintf("%032x", version),
		"config_version":     version,
	}
	if s.cfg.Status != nil {
		for k, v := range s.cfg.Status() {
			prev, ok1 := out[k].(map[string]any)
			next, ok2 := v.(map[string]any)
			if ok1 && ok2 {
				for nk, nv := range next {
					prev[nk] = nv
				}
				continue
			}
			out[k] = v
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// mib formats bytes as Kong formats its memory figures.
func mib(b uint64) string {
	return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20))
}

// listEndpoints is GET /endpoints: every path the API serves, as Kong
// lists them.
func (s *server) listEndpoints(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	seen := map[string]bool{}
	data := []string{}
	for _, p := range s.endpoints {
		if !seen[p] {
			seen[p] = true
			data = append(data, p)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
	return nil
}

// pluginSchema is GET /schemas/plugins/{name}: the plugin's config fields,
// types and defaults, in the shape of Kong's schema endpoint.
func (s *server) pluginSchema(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	name := ps.ByName("name")
	f, ok := s.plugins.Lookup(name)
	if !ok {
		return errMessage(http.StatusNotFound, fmt.Sprintf("No plugin named '%s'", name))
	}
	config := map[string]any{"type": "record", "fields": []any{}}
	if f.NewConfig != nil {
		def := reflect.ValueOf(f.NewConfig())
		config = schemaOf(def.Type(), def, 0)
	}
	config["required"] = true
	writeJSON(w, http.StatusOK, map[string]any{
		"fields": []any{
			map[string]any{"name": map[string]any{"type": "string", "required": true}},
			map[string]any{"protocols": map[string]any{"type": "set", "elements": map[string]any{"type": "string"}}},
			map[string]any{"config": config},
		},
	})
	return nil
}

// schemaOf describes type t (with the defaults in def) as a Kong schema
// field.
func schemaOf(t reflect.Type, def reflect.Value, depth int) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
		if def.IsValid() && !def.IsNil() {
			def = def.Elem()
		} else {
			def = reflect.Value{}
		}
	}
	if depth > 8 {
		return map[string]any{"type": "any"}
	}
	out := map[string]any{}
	switch t.Kind() {
	case reflect.Struct:
		fields := []any{}
		jf := jsonFields(t)
		names := make([]string, 0, len(jf))
		for n := range jf {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			sf := jf[n]
			var fv reflect.Value
			if def.IsValid() {
				fv = def.FieldByIndex(sf.Index)
			}
			fields = append(fields, map[string]any{n: schemaOf(sf.Type, fv, depth+1)})
		}
		return map[string]any{"type": "record", "fields": fields}
	case reflect.String:
		out["type"] = "string"
	case reflect.Bool:
		out["type"] = "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		out["type"] = "integer"
	case reflect.Float32, reflect.Float64:
		out["type"] = "number"
	case reflect.Slice, reflect.Array:
		out["type"] = "array"
		out["elements"] = schemaOf(t.Elem(), reflect.Value{}, depth+1)
	case reflect.Map:
		out["type"] = "map"
		out["keys"] = map[string]any{"type": "string"}
		out["values"] = schemaOf(t.Elem(), reflect.Value{}, depth+1)
	default:
		out["type"] = "any"
	}
	if def.IsValid() && def.CanInterface() && !(def.Kind() == reflect.Slice && def.IsNil()) && !(def.Kind() == reflect.Map && def.IsNil()) {
		out["default"] = def.Interface()
	}
	return out
}
