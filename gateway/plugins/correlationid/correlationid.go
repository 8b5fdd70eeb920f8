// Package correlationid is the correlation-id plugin: it gives every request
// an id in a header, keeping one the client sent, so that upstream services
// and logs can correlate the hops of a request; as Kong 3's correlation-id
// does (same config, generators, priority 100001 so it runs first).
//
// It owns generating ids; it never replaces a non-empty id the client sent.
package correlationid

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/internal/entity"
)

// Name and Priority are Kong's.
const (
	Name     = "correlation-id"
	Priority = 100001
)

// Config is correlation-id's configuration, with Kong's fields and defaults.
type Config struct {
	// HeaderName is the header carrying the id.
	HeaderName string `json:"header_name"`
	// Generator is "uuid" (a random UUID per request), "uuid#counter" (a
	// UUID per plugin instance and a counter: cheaper, still unique) or
	// "tracker" (<host>-<pid>-<counter>-<unix time in seconds with
	// milliseconds>; Kong's tracker names nginx's address, port and
	// connection instead, which a gateway without nginx does not have).
	Generator string `json:"generator"`
	// EchoDownstream sends the id back to the client in the response.
	EchoDownstream bool `json:"echo_downstream"`
}

// DefaultConfig returns Kong's defaults.
func DefaultConfig() *Config {
	return &Config{HeaderName: "Kong-Request-ID", Generator: "uuid#counter"}
}

// Factory returns the correlation-id plugin factory.
func Factory() *plugin.Factory {
	return &plugin.Factory{
		Name:      Name,
		Priority:  Priority,
		NewConfig: func() any { return DefaultConfig() },
		New: func(cfg any, env plugin.Env) (any, error) {
			return New(cfg.(*Config), env)
		},
	}
}

// CorrelationID is a correlation-id instance.
type CorrelationID struct {
	cfg     Config
	prefix  string // the instance's UUID followed by "#", for uuid#counter
	pid     string
	counter atomic.Uint64
	now     func() time.Time
}

var _ plugin.Accessor = (*CorrelationID)(nil)

// New validates cfg and returns an instance.
func New(cfg *Config, env plugin.Env) (*CorrelationID, error) {
	fe := entity.FieldErrors{}
	if msg := plugin.HeaderNameError(cfg.HeaderName); msg != "" {
		fe["header_name"] = msg
	}
	if msg := plugin.OneOfError(cfg.Generator, "uuid", "uuid#counter", "tracker"); msg != "" {
		fe["generator"] = msg
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	p := &CorrelationID{cfg: *cfg, prefix: newUUID() + "#", pid: strconv.Itoa(os.Getpid()), now: env.Now}
	if p.now == nil {
		p.now = time.Now
	}
	return p, nil
}

// newUUID returns a random (version 4) UUID, RFC 9562 §5.4.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

func (p *CorrelationID) generate(c *plugin.Context) string {
	switch p.cfg.Generator {
	case "uuid":
		return newUUID()
	case "tracker":
		now := p.now()
		return c.Request.Host() + "-" + p.pid + "-" + strconv.FormatUint(p.counter.Add(1), 10) + "-" +
			strconv.FormatFloat(float64(now.UnixMilli())/1000, 'f', 3, 64)
	}
	var buf [64]byte
	b := append(buf[:0], p.prefix...)
	b = strconv.AppendUint(b, p.counter.Add(1), 10)
	return string(b)
}

// Access keeps the id the client sent or sets a new one upstream, and
// arranges for the response to echo it when asked.
func (p *CorrelationID) Access(c *plugin.Context) {
	id := c.Request.Header(p.cfg.HeaderName)
	if id == "" {
		id = p.generate(c)
		c.Request.SetHeader(p.cfg.HeaderName, id)
	}
	if c.Record != nil && c.Record.TraceID == "" {
		c.Record.TraceID = id
	}
	if p.cfg.EchoDownstream {
		c.SetResponseHeader(p.cfg.HeaderName, id)
	}
}
