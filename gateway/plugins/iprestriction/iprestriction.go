// Package iprestriction is the ip-restriction plugin: it turns away
// requests by the client's IP address against lists of addresses and CIDR
// ranges (IPv4 and IPv6), as Kong 3's ip-restriction does (same config,
// priority 990 and responses).
//
// It owns parsing the lists (once, at construction) and the decision; the
// client address is the gateway's (c.ClientIP, after trusted-proxy
// handling), never a header it reads itself.
package iprestriction

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/internal/entity"
)

// Name and Priority are Kong's.
const (
	Name     = "ip-restriction"
	Priority = 990
)

// Config is ip-restriction's configuration, with Kong's fields. At least one
// of Allow and Deny must be non-empty; with both, deny is checked first.
type Config struct {
	// Allow lets only these addresses or CIDR ranges through.
	Allow []string `json:"allow"`
	// Deny turns these addresses or CIDR ranges away.
	Deny []string `json:"deny"`
	// Status is the status of rejections (default 403).
	Status *int `json:"status"`
	// Message is the message of rejections (default
	// "IP address not allowed: <client ip>").
	Message *string `json:"message"`
}

// DefaultConfig returns Kong's defaults.
func DefaultConfig() *Config { return &Config{} }

// Factory returns the ip-restriction plugin factory.
func Factory() *plugin.Factory {
	return &plugin.Factory{
		Name:      Name,
		Priority:  Priority,
		NewConfig: func() any { return DefaultConfig() },
		New: func(cfg any, env plugin.Env) (any, error) {
			return New(cfg.(*Config))
		},
	}
}

// IPRestriction is an ip-restriction instance.
type IPRestriction struct {
	allow, deny []netip.Prefix
	status      int
	message     string // "" means Kong's default, which names the client IP
	body        []byte
	headers     map[string]string
	noIP        []byte
}

var _ plugin.Accessor = (*IPRestriction)(nil)

// New validates cfg, parses its lists and returns an instance.
func New(cfg *Config) (*IPRestriction, error) {
	fe := entity.FieldErrors{}
	r := &IPRestriction{status: 403, headers: map[string]string{"Content-Type": plugin.ContentTypeJSON}}
	var errs entity.FieldErrors
	r.allow, errs = parseList(cfg.Allow)
	fe.Nest("allow", errs)
	r.deny, errs = parseList(cfg.Deny)
	fe.Nest("deny", errs)
	if len(cfg.Allow) == 0 && len(cfg.Deny) == 0 {
		fe["@entity"] = "at least one of these fields must be non-empty: 'config.allow', 'config.deny'"
	}
	if cfg.Status != nil {
		if *cfg.Status < 100 || *cfg.Status > 599 {
			fe["status"] = "value should be between 100 and 599"
		}
		r.status = *cfg.Status
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	if cfg.Message != nil {
		r.message = *cfg.Message
		r.body = plugin.MessageBody(r.message)
	}
	r.noIP = plugin.MessageBody("Cannot identify the client IP address, unix domain sockets are not supported.")
	return r, nil
}

func parseList(list []string) ([]netip.Prefix, entity.FieldErrors) {
	var out []netip.Prefix
	var fe entity.FieldErrors
	for i, s := range list {
		p, err := parse(s)
		if err != nil {
			if fe == nil {
				fe = entity.FieldErrors{}
			}
			fe[strconv.Itoa(i+1)] = "invalid ip or cidr range: '" + s + "'"
			continue
		}
		out = append(out, p)
	}
	return out, fe
}

func parse(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func match(list []netip.Prefix, ip netip.Addr) bool {
	for _, p := range list {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Access rejects the request if the client IP is denied, or not allowed.
func (r *IPRestriction) Access(c *plugin.Context) {
	ip := c.ClientIP.Unmap()
	if !ip.IsValid() {
		c.Exit(403, r.noIP, r.headers)
		return
	}
	if len(r.deny) > 0 && match(r.deny, ip) {
		r.reject(c, ip)
		return
	}
	if len(r.allow) > 0 && !match(r.allow, ip) {
		r.reject(c, ip)
	}
}

func (r *IPRestriction) reject(c *plugin.Context, ip netip.Addr) {
	body := r.body
	if body == nil {
		body = plugin.MessageBody("IP address not allowed: " + ip.String())
	}
	c.Exit(r.status, body, r.headers)
}
