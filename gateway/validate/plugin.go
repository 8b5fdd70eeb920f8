package validate

import (
	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/internal/entity"
)

func normalizePlugin(p *entity.Plugin, plugins *plugin.Registry, errs entity.FieldErrors) {
	checkName(errs, "instance_name", p.InstanceName)
	if p.Protocols == nil {
		p.Protocols = []string{"grpc", "grpcs", "http", "https"}
	}
	p.Protocols = dedupe(p.Protocols)
	if len(p.Protocols) == 0 {
		errs.Add("protocols", "length must be at least 1")
	}
	for _, proto := range p.Protocols {
		if !oneOf(errs, "protocols", proto, "grpc", "grpcs", "http", "https") {
			break
		}
	}
	if p.Enabled == nil {
		p.Enabled = boolPtr(true)
	}
	checkRef(errs, "service", p.Service)
	checkRef(errs, "route", p.Route)
	checkRef(errs, "consumer", p.Consumer)
	switch {
	case p.Name == "":
		errs.Add("name", msgRequired)
	case plugins == nil:
		errs.Add("name", "plugin '"+p.Name+"' not enabled; add it to 'plugins' configuration property")
	default:
		f, ok := plugins.Lookup(p.Name)
		if !ok {
			// The registry words this error; it concerns the name, not config.
			_, ferr := plugins.Validate(p.Name, p.Config)
			for k, v := range ferr {
				errs[k] = v
			}
			return
		}
		// Kong's typedefs.no_consumer: authentication plugins and the like
		// run before a consumer is known.
		if f.NoConsumer && p.Consumer != nil {
			errs.Add("consumer", "value must be null")
		}
		cfg, ferr := plugins.Validate(p.Name, p.Config)
		if len(ferr) > 0 {
			errs.Nest("config", ferr)
			return
		}
		p.Config = cfg
	}
}
