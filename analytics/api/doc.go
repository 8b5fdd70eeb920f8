// Package api serves the analytics HTTP API (docs/analytics-api.md): time
// series, breakdowns, top-N lists, recent requests and usage over a
// query.Store, the scope of each analytics token, the OpenAPI description
// of it all, and optionally the built-in dashboard's files.
//
// It owns the API's paths, parameters, JSON shapes and errors, and the
// mapping from a token to the query.Filter every question carries. Tokens
// and entity names come from a Directory; numbers come from the store
// unchanged.
//
// It must never widen a token's scope from anything a request carries:
// the workspace (and a consumer token's consumer) of every query comes
// from the token, and parameters can only narrow it. It never writes to
// the store, and never puts a store's error text in a response.
package api
