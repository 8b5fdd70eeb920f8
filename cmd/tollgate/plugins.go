package main

import (
	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/plugins/acl"
	"github.com/tollgate/tollgate/gateway/plugins/basicauth"
	"github.com/tollgate/tollgate/gateway/plugins/correlationid"
	"github.com/tollgate/tollgate/gateway/plugins/cors"
	"github.com/tollgate/tollgate/gateway/plugins/iprestriction"
	"github.com/tollgate/tollgate/gateway/plugins/keyauth"
	"github.com/tollgate/tollgate/gateway/plugins/ratelimiting"
	"github.com/tollgate/tollgate/gateway/plugins/requestsizelimiting"
	"github.com/tollgate/tollgate/gateway/plugins/requesttransformer"
	"github.com/tollgate/tollgate/gateway/plugins/responsetransformer"
)

// bundledPlugins is the explicit set of plugins a Tollgate node offers.
func bundledPlugins() *plugin.Registry {
	return plugin.NewRegistry(
		acl.Factory(),
		basicauth.Factory(),
		correlationid.Factory(),
		cors.Factory(),
		iprestriction.Factory(),
		keyauth.Factory(),
		ratelimiting.Factory(),
		requestsizelimiting.Factory(),
		requesttransformer.Factory(),
		responsetransformer.Factory(),
	)
}
