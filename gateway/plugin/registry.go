package plugin

import (
	"encoding/json"
	"sort"

	"github.com/tollgate/tollgate/internal/entity"
)

// Factory makes instances of one plugin from their configuration.
type Factory struct {
	Name string
	// Priority orders plugins within a phase, highest first, with Kong's
	// values so that configurations behave as they do in Kong.
	Priority int
	// NoConsumer is true for plugins that cannot be scoped to a consumer
	// (Kong's typedefs.no_consumer: the authentication plugins, acl, cors).
	// The Admin API rejects such a plugin entity with a consumer
	// ({"consumer": "value must be null"}); NewSet leaves it out.
	NoConsumer bool
	// NewConfig returns a pointer to a config struct holding the defaults;
	// the gateway decodes the user's config into it strictly (unknown fields
	// are errors) before calling New.
	NewConfig func() any
	// New validates cfg (what NewConfig returned, decoded) and returns an
	// instance implementing one or more phase interfaces. Validation errors
	// are entity.FieldErrors naming fields relative to config. No I/O.
	New func(cfg any, env Env) (any, error)
}

// Registry is the set of plugins a gateway offers, built explicitly in cmd/.
type Registry struct {
	byName map[string]*Factory
}

// NewRegistry returns a registry of the given factories.
func NewRegistry(fs ...*Factory) *Registry {
	r := &Registry{byName: make(map[string]*Factory, len(fs))}
	for _, f := range fs {
		r.byName[f.Name] = f
	}
	return r
}

// Lookup returns the factory of the named plugin.
func (r *Registry) Lookup(name string) (*Factory, bool) {
	f, ok := r.byName[name]
	return f, ok
}

// Names returns the names of all plugins, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.byName))
	for n := range r.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Validate decodes and validates a plugin configuration the way the gateway
// will when it builds the plugin, and returns the configuration with every
// default filled in (what the Admin API stores and shows). Errors name fields
// relative to config.
func (r *Registry) Validate(name string, config json.RawMessage) (json.RawMessage, entity.FieldErrors) {
	f, ok := r.Lookup(name)
	if !ok {
		return nil, entity.FieldErrors{"name": "plugin '" + name + "' not enabled; add it to 'plugins' configuration property"}
	}
	cfg, ferr := decodeConfig(f, config)
	if ferr != nil {
		// Report the constructor's complaints about the other fields too,
		// as Kong names every bad field at once.
		if cfg != nil {
			if _, err := f.New(cfg, Env{}); err != nil {
				for k, v := range AsFieldErrors(err) {
					if _, dup := ferr[k]; !dup && k != "@entity" {
						ferr[k] = v
					}
				}
			}
		}
		return nil, ferr
	}
	if _, err := f.New(cfg, Env{}); err != nil {
		return nil, AsFieldErrors(err)
	}
	out, err := json.Marshal(cfg)
	if err != nil {
		return nil, entity.FieldErrors{"config": err.Error()}
	}
	return out, nil
}
