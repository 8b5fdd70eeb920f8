// Package entity defines Tollgate's configuration entities — services, routes,
// consumers, plugins, upstreams, targets, credentials, ACL groups, certificates,
// SNIs, workspaces and analytics tokens — with the JSON shapes of Kong 3.x's
// Admin API.
//
// It owns the types and their identity rules (kinds, unique keys, references),
// and is shared by the gateway, its config stores and the analytics service.
// It must never do I/O or know how entities are stored.
package entity
