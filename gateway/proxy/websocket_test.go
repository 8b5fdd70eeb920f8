package proxy

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tollgate/tollgate/internal/entity"
)

// wsEcho echoes every WebSocket message; /refuse answers 403 instead.
func wsEcho(t testing.TB) *httptestServer {
	t.Helper()
	up := websocket.Upgrader{}
	return newHTTPTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/refuse") {
			http.Error(w, "go away", http.StatusForbidden)
			return
		}
		h := http.Header{}
		h.Set("X-Seen-Forwarded-For", r.Header.Get("X-Forwarded-For"))
		c, err := up.Upgrade(w, r, h)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, append([]byte("echo: "), msg...)); err != nil {
				return
			}
		}
	}))
}

func TestWebSocketEcho(t *testing.T) {
	up := wsEcho(t)
	e := newEnv(t, envOptions{})
	e.route(e.service("ws", up.URL), func(r *entity.Route) { r.Paths = []string{"/ws"}; r.StripPath = new(bool) })
	e.sync()
	wsURL := "ws" + strings.TrimPrefix(e.http, "http") + "/ws/chat"

	c, resp, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("X-Request-Id") == "" || resp.Header.Get("X-Seen-Forwarded-For") != "127.0.0.1" {
		t.Errorf("handshake response: %d %v", resp.StatusCode, resp.Header)
	}
	for _, msg := range []string{"hello", strings.Repeat("big", 100000), "bye"} {
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, got, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "echo: "+msg {
			t.Fatalf("echo of %d bytes came back as %d bytes", len(msg), len(got))
		}
	}
	_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	c.Close()

	rec := e.sink.byRequestID(t, resp.Header.Get("X-Request-Id"))
	if rec.Protocol != "ws" || rec.Status != 101 || rec.UpstreamStatus != 101 || rec.RequestBytes < 300000 || rec.ResponseBytes < 300000 {
		t.Errorf("record: protocol %q, status %d/%d, bytes %d/%d", rec.Protocol, rec.Status, rec.UpstreamStatus, rec.RequestBytes, rec.ResponseBytes)
	}

	t.Run("refused handshake is relayed", func(t *testing.T) {
		_, resp, err := websocket.DefaultDialer.Dial(wsURL+"/refuse", nil)
		if err == nil {
			t.Fatal("dial succeeded")
		}
		if resp == nil || resp.StatusCode != 403 {
			t.Fatalf("response = %v", resp)
		}
	})
}

func TestShutdownEndsWebSockets(t *testing.T) {
	up := wsEcho(t)
	e := newEnv(t, envOptions{})
	e.route(e.service("ws", up.URL), func(r *entity.Route) { r.Paths = []string{"/ws"} })
	e.sync()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.http, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := c.ReadMessage(); err == nil {
		t.Fatal("tunnel still open after shutdown")
	}
	if n := len(e.sink.all()); n != 1 {
		t.Fatalf("%d records, want 1", n)
	}
}
