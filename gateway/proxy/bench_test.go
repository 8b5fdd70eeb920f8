package proxy

import (
	"encoding/json"
	"net"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/tollgate/tollgate/gateway/plugin"
	"github.com/tollgate/tollgate/gateway/plugins/keyauth"
	"github.com/tollgate/tollgate/gateway/plugins/requesttransformer"
	"github.com/tollgate/tollgate/gateway/validate"
	"github.com/tollgate/tollgate/internal/entity"
)

// benchUpstream is a minimal fasthttp upstream on loopback.
func benchUpstream(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"hello":"world"}`)
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
	}}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Shutdown(); <-done })
	return ln.Addr().String()
}

// BenchmarkProxy measures client → proxy → upstream over loopback, in
// process, against the same client talking to the upstream directly
// ("direct", the baseline of the same run). With -benchmem the numbers
// include the client's and the upstream's allocations.
func BenchmarkProxy(b *testing.B) {
	upAddr := benchUpstream(b)
	cases := []struct {
		name    string
		plugins bool
		direct  bool
	}{
		{name: "direct", direct: true},
		{name: "no-plugins"},
		{name: "key-auth+request-transformer", plugins: true},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			target := upAddr
			var hdrKey, hdrVal string
			if !bc.direct {
				e := newEnv(b, envOptions{noMetrics: false, factories: []*plugin.Factory{keyauth.Factory(), requesttransformer.Factory()}})
				svc := e.service("bench", "http://"+upAddr)
				rt := e.route(svc, func(r *entity.Route) { r.Paths = []string{"/bench"} })
				if bc.plugins {
					e.create(&entity.Plugin{Name: "key-auth", Route: &entity.Ref{ID: rt.ID}, Config: json.RawMessage(`{}`)})
					e.create(&entity.Plugin{Name: "request-transformer", Route: &entity.Ref{ID: rt.ID},
						Config: json.RawMessage(`{"add":{"headers":["x-bench:1"]}}`)})
					e.create(&entity.Consumer{Meta: entity.Meta{ID: "bench-consumer"}, Username: "bench"})
					e.create(&entity.KeyAuthCredential{KeyHash: validate.HashKey("bench-key"), Consumer: &entity.Ref{ID: "bench-consumer"}})
					hdrKey, hdrVal = "apikey", "bench-key"
				}
				e.sync()
				target = e.http[len("http://"):]
			}
			client := &fasthttp.HostClient{Addr: target, MaxConns: 512, Dial: func(addr string) (net.Conn, error) {
				return net.Dial("tcp", addr) // not fasthttp's dialer: it leaves a cache cleaner running
			}}
			b.Cleanup(client.CloseIdleConnections)
			b.ReportAllocs()
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				defer fasthttp.ReleaseResponse(resp)
				for pb.Next() {
					req.SetRequestURI("http://" + target + "/bench/items?id=7")
					if hdrKey != "" {
						req.Header.Set(hdrKey, hdrVal)
					}
					if err := client.Do(req, resp); err != nil {
						b.Error(err)
						return
					}
					if resp.StatusCode() != 200 {
						b.Errorf("status %d: %s", resp.StatusCode(), resp.Body())
						return
					}
				}
			})
		})
	}
}
