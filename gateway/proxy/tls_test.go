package proxy

import (
	"crypto/tls"
	"io"
	"net/http"
	"testing"

	"github.com/tollgate/tollgate/internal/testcert"

	"github.com/tollgate/tollgate/internal/entity"
)

func TestTLSCertificateBySNI(t *testing.T) {
	up := echoServer(t, "up")
	e := newEnv(t, envOptions{})
	certA, keyA := testcert.PEM(t, "a-cert", "a.example.com")
	certW, keyW := testcert.PEM(t, "wild-cert", "*.example.org")
	e.create(&entity.Certificate{Meta: entity.Meta{ID: "ca"}, Cert: certA, Key: keyA})
	e.create(&entity.Certificate{Meta: entity.Meta{ID: "cw"}, Cert: certW, Key: keyW})
	e.create(&entity.SNI{Name: "a.example.com", Certificate: &entity.Ref{ID: "ca"}})
	e.create(&entity.SNI{Name: "*.example.org", Certificate: &entity.Ref{ID: "cw"}})
	e.route(e.service("tls", up.URL), func(r *entity.Route) { r.Paths = []string{"/tls"}; r.Protocols = []string{"https"} })
	e.sync()

	tests := []struct {
		name, serverName, wantCN string
	}{
		{name: "exact", serverName: "a.example.com", wantCN: "a-cert"},
		{name: "wildcard", serverName: "www.example.org", wantCN: "wild-cert"},
		{name: "unknown name gets the default", serverName: "other.test", wantCN: "localhost"},
		{name: "no SNI gets the default", serverName: "", wantCN: "localhost"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: tc.serverName, InsecureSkipVerify: true}} //nolint:gosec // test
			defer tr.CloseIdleConnections()
			req := mustRequest(t, "GET", "https://"+e.tlsAddr+"/tls", nil)
			if tc.serverName != "" {
				req.Host = tc.serverName
			}
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got := resp.TLS.PeerCertificates[0].Subject.CommonName; got != tc.wantCN {
				t.Errorf("certificate CN = %q, want %q", got, tc.wantCN)
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			got := decodeEcho(t, b)
			if got.Header.Get("X-Forwarded-Proto") != "https" {
				t.Errorf("X-Forwarded-Proto = %q", got.Header.Get("X-Forwarded-Proto"))
			}
			rec := e.sink.byRequestID(t, resp.Header.Get("X-Request-Id"))
			if rec.Protocol != "https" {
				t.Errorf("record protocol = %q", rec.Protocol)
			}
		})
	}
}
