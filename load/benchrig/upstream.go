package benchrig

import (
	"fmt"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// Upstream is the in-process service a benchmark's routes proxy to: it
// answers every request 200 "ok".
type Upstream struct {
	addr string
	srv  *fasthttp.Server
	done chan error
}

// StartUpstream listens on a free port of 127.0.0.1 and serves until
// Close.
func StartUpstream() (*Upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	u := &Upstream{
		addr: ln.Addr().String(),
		srv: &fasthttp.Server{
			Handler: func(c *fasthttp.RequestCtx) {
				c.SetContentType("text/plain")
				c.SetBodyString("ok")
			},
			Name:            "bench-upstream",
			IdleTimeout:     2 * time.Minute,
			ReadTimeout:     30 * time.Second,
			CloseOnShutdown: true,
		},
		done: make(chan error, 1),
	}
	go func() { u.done <- u.srv.Serve(ln) }()
	return u, nil
}

// URL is the upstream's http:// URL, as a service's url.
func (u *Upstream) URL() string { return "http://" + u.addr }

// Close stops serving, closes the connections and waits for the server's
// goroutine. Call it once.
func (u *Upstream) Close() error {
	err := u.srv.Shutdown()
	if serr := <-u.done; serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("upstream: %w", err)
	}
	return nil
}
