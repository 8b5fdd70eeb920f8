// Package requestsizelimiting is the request-size-limiting plugin: it
// rejects requests whose body is larger than a limit, as Kong 3's
// request-size-limiting does (same config, priority 951 and responses).
//
// It owns the size check. A declared Content-Length is trusted without
// reading the body; a body of unknown length (chunked) is read up to the
// limit, never further.
package requestsizelimiting

import (
	"strings"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/internal/entity"
)

// Name and Priority are Kong's.
const (
	Name     = "request-size-limiting"
	Priority = 951
)

var units = map[string]int64{"megabytes": 1 << 20, "kilobytes": 1 << 10, "bytes": 1}

// Config is request-size-limiting's configuration, with Kong's fields and
// defaults.
type Config struct {
	// AllowedPayloadSize is the largest body allowed, in SizeUnit.
	AllowedPayloadSize int64 `json:"allowed_payload_size"`
	// SizeUnit is megabytes, kilobytes or bytes.
	SizeUnit string `json:"size_unit"`
	// RequireContentLength rejects requests without a Content-Length
	// header with 411.
	RequireContentLength bool `json:"require_content_length"`
}

// DefaultConfig returns Kong's defaults.
func DefaultConfig() *Config { return &Config{AllowedPayloadSize: 128, SizeUnit: "megabytes"} }

// Factory returns the request-size-limiting plugin factory.
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

// Limiter is a request-size-limiting instance.
type Limiter struct {
	cfg     Config
	max     int64
	headers map[string]string
	tooBig  []byte
	noLen   []byte
}

var (
	_ plugin.Accessor        = (*Limiter)(nil)
	_ plugin.RequestBodyUser = (*Limiter)(nil)
)

// New validates cfg and returns an instance.
func New(cfg *Config) (*Limiter, error) {
	fe := entity.FieldErrors{}
	mult, ok := units[cfg.SizeUnit]
	if !ok {
		fe["size_unit"] = plugin.OneOfError(cfg.SizeUnit, "megabytes", "kilobytes", "bytes")
	}
	if cfg.AllowedPayloadSize < 0 {
		fe["allowed_payload_size"] = "value must be greater than or equal to 0"
	} else if ok && cfg.AllowedPayloadSize > (1<<62)/mult {
		fe["allowed_payload_size"] = "value is too large"
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return &Limiter{
		cfg:     *cfg,
		max:     cfg.AllowedPayloadSize * mult,
		headers: map[string]string{"Content-Type": plugin.ContentTypeJSON},
		tooBig:  plugin.MessageBody("Request size limit exceeded"),
		noLen:   plugin.MessageBody("A valid Content-Length header is required"),
	}, nil
}

// UsesRequestBody is true: bodies of unknown length are read to be measured.
func (l *Limiter) UsesRequestBody() bool { return true }

// Access rejects oversized requests: 413, or 417 when the client waits for
// "Expect: 100-continue" (so it does not send the body at all).
func (l *Limiter) Access(c *plugin.Context) {
	req := c.Request
	hasLen := req.Header("Content-Length") != ""
	if l.cfg.RequireContentLength && !hasLen {
		c.Exit(411, l.noLen, l.headers)
		return
	}
	if n := req.ContentLength(); n >= 0 {
		if n > l.max {
			l.reject(c)
		}
		return
	}
	_, ok, err := req.Body(l.max)
	if err == nil && !ok {
		l.reject(c)
	}
}

func (l *Limiter) reject(c *plugin.Context) {
	status := 413
	if strings.EqualFold(strings.TrimSpace(c.Request.Header("Expect")), "100-continue") {
		status = 417
	}
	c.Exit(status, l.tooBig, l.headers)
}
