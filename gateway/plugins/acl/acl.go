// Package acl is the acl plugin: it lets through, or turns away, consumers
// by the ACL groups they belong to, as Kong 3's acl does (same config,
// priority 950 so it runs after authentication, same responses and
// X-Consumer-Groups upstream header).
//
// It owns the allow/deny decision; groups are looked up through
// plugin.Credentials. It never authenticates: without a consumer identified
// by an earlier plugin it rejects the request.
package acl

import (
	"strings"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/internal/entity"
)

// Name and Priority are Kong's.
const (
	Name     = "acl"
	Priority = 950
)

// Config is acl's configuration, with Kong's fields. Exactly one of Allow
// and Deny must be non-empty.
type Config struct {
	// Allow lets only consumers in one of these groups through.
	Allow []string `json:"allow"`
	// Deny turns away consumers in any of these groups.
	Deny []string `json:"deny"`
	// HideGroupsHeader stops the X-Consumer-Groups header going upstream.
	HideGroupsHeader bool `json:"hide_groups_header"`
	// AlwaysUseAuthenticatedGroups and IncludeConsumerGroups are accepted
	// for compatibility; they concern groups from external identity
	// providers and Kong consumer groups, which Tollgate does not have.
	AlwaysUseAuthenticatedGroups bool `json:"always_use_authenticated_groups"`
	IncludeConsumerGroups        bool `json:"include_consumer_groups"`
}

// DefaultConfig returns Kong's defaults.
func DefaultConfig() *Config { return &Config{} }

// Validate applies Kong's entity checks: only_one_of and at_least_one_of
// allow and deny.
func (c *Config) Validate() error {
	switch {
	case len(c.Allow) > 0 && len(c.Deny) > 0:
		return entity.FieldErrors{"@entity": "only one of these fields must be non-empty: 'config.allow', 'config.deny'"}.Err()
	case len(c.Allow) == 0 && len(c.Deny) == 0:
		return entity.FieldErrors{"@entity": "at least one of these fields must be non-empty: 'config.allow', 'config.deny'"}.Err()
	}
	return nil
}

// Factory returns the acl plugin factory.
func Factory() *plugin.Factory {
	return &plugin.Factory{
		Name:       Name,
		Priority:   Priority,
		NoConsumer: true,
		NewConfig:  func() any { return DefaultConfig() },
		New: func(cfg any, env plugin.Env) (any, error) {
			return New(cfg.(*Config))
		},
	}
}

// ACL is an acl instance.
type ACL struct {
	deny   bool
	groups map[string]struct{}
	hide   bool

	headers      map[string]string
	forbidden    []byte
	unauthorized []byte
}

var _ plugin.Accessor = (*ACL)(nil)

// New validates cfg and returns an instance.
func New(cfg *Config) (*ACL, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &ACL{
		deny:         len(cfg.Deny) > 0,
		groups:       map[string]struct{}{},
		hide:         cfg.HideGroupsHeader,
		headers:      map[string]string{"Content-Type": plugin.ContentTypeJSON},
		forbidden:    plugin.MessageBody("You cannot consume this service"),
		unauthorized: plugin.MessageBody("Unauthorized"),
	}
	list := cfg.Allow
	if a.deny {
		list = cfg.Deny
	}
	for _, g := range list {
		a.groups[g] = struct{}{}
	}
	return a, nil
}

// Access decides as Kong's acl handler does: no consumer is 401 (403 if a
// credential was nevertheless accepted); a consumer without groups is
// turned away under allow (401 for the anonymous consumer, 403 otherwise)
// and let through under deny; otherwise the groups decide, 403 when denied.
func (a *ACL) Access(c *plugin.Context) {
	if c.Consumer == nil {
		if c.Credential != nil {
			c.Exit(403, a.forbidden, a.headers)
		} else {
			c.Exit(401, a.unauthorized, a.headers)
		}
		return
	}
	var groups []string
	if c.Credentials != nil {
		groups = c.Credentials.Groups(c.Workspace, c.Consumer.ID)
	}
	if len(groups) == 0 && !a.deny {
		if c.Credential != nil {
			c.Exit(403, a.forbidden, a.headers)
		} else {
			c.Exit(401, a.unauthorized, a.headers)
		}
		return
	}
	in := false
	for _, g := range groups {
		if _, ok := a.groups[g]; ok {
			in = true
			break
		}
	}
	if in == a.deny {
		c.Exit(403, a.forbidden, a.headers)
		return
	}
	// A client must not be able to pass its own groups upstream, so the
	// header is cleared when hidden or empty rather than left as received.
	if a.hide || len(groups) == 0 {
		c.Request.DelHeader(plugin.HeaderConsumerGroups)
		return
	}
	c.Request.SetHeader(plugin.HeaderConsumerGroups, strings.Join(groups, ", "))
}
