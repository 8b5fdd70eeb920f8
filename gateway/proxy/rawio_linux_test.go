//go:build linux

package proxy

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() {
		_ = c.Close()
		_ = s.Close()
	})
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// rawIO must behave as the net.Conn it replaces in every case the proxy
// meets: data both ways, a write larger than the socket's buffers (which
// waits for the peer to read), deadlines, the peer closing or resetting,
// and the connection closed under a blocked read.
func TestRawIOBehavesAsNetConn(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, raw *rawIO, c, peer *net.TCPConn)
	}{
		{
			name: "a read returns what the peer wrote, waiting for it",
			run: func(t *testing.T, raw *rawIO, c, peer *net.TCPConn) {
				go func() {
					time.Sleep(20 * time.Millisecond) // the read waits first
					_, _ = peer.Write([]byte("hello"))
				}()
				buf := make([]byte, 64)
				n, err := raw.Read(buf)
				if err != nil || string(buf[:n]) != "hello" {
					t.Fatalf("Read = %q, %v; want hello", buf[:n], err)
				}
			},
		},
		{
			name: "a large write is delivered whole while the peer reads slowly",
			run: func(t *testing.T, raw *rawIO, c, peer *net.TCPConn) {
				payload := make([]byte, 16<<20) // far more than the socket buffers hold
				_, _ = rand.Read(payload)
				got := make(chan []byte, 1)
				go func() {
					time.Sleep(50 * time.Millisecond) // the writer fills the buffers and waits
					b, _ := io.ReadAll(peer)
					got <- b
				}()
				n, err := raw.Write(payload)
				if err != nil || n != len(payload) {
					t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(payload))
				}
				_ = c.CloseWrite()
				if b := <-got; !bytes.Equal(b, payload) {
					t.Fatalf("peer read %d bytes, not the %d written", len(b), len(payload))
				}
			},
		},
		{
			name: "the read deadline ends a read that waits",
			run: func(t *testing.T, raw *rawIO, c, peer *net.TCPConn) {
				_ = c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
				_, err := raw.Read(make([]byte, 8))
				var ne net.Error
				if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
					t.Fatalf("Read = %v; want a timeout", err)
				}
			},
		},
		{
			name: "the write deadline ends a write the peer never reads",
			run: func(t *testing.T, raw *rawIO, c, peer *net.TCPConn) {
				_ = c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
				n, err := raw.Write(make([]byte, 64<<20))
				if !errors.Is(err, os.ErrDeadlineExceeded) || n == 0 || n == 64<<20 {
					t.Fatalf("Write = %d, %v; want part written and a timeout", n, err)
				}
			},
		},
		{
			name: "the peer closing is io.EOF",
			run: func(t *testing.T, raw *rawIO, c, peer *net.TCPConn) {
				_ = peer.Close()
				if n, err := raw.Read(make([]byte, 8)); n != 0 || err != io.EOF {
					t.Fatalf("Read = %d, %v; want 0, io.EOF", n, err)
				}
			},
		},
		{
			name: "a reset is ECONNRESET, wrapped as net.Conn wraps it",
			run: func(t *testing.T, raw *rawIO, c, peer *net.TCPConn) {
				_ = peer.SetLinger(0) // close sends RST
				_ = peer.Close()
				time.Sleep(20 * time.Millisecond)
				_, err := raw.Read(make([]byte, 8))
				var op *net.OpError
				if !errors.Is(err, syscall.ECONNRESET) || !errors.As(err, &op) || op.Op != "read" {
					t.Fatalf("Read = %v; want a read OpError wrapping ECONNRESET", err)
				}
			},
		},
		{
			name: "closing the connection ends a blocked read",
			run: func(t *testing.T, raw *rawIO, c, peer *net.TCPConn) {
				go func() {
					time.Sleep(20 * time.Millisecond)
					_ = c.Close()
				}()
				if _, err := raw.Read(make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
					t.Fatalf("Read = %v; want net.ErrClosed", err)
				}
			},
		},
		{
			name: "empty reads and writes do nothing",
			run: func(t *testing.T, raw *rawIO, c, peer *net.TCPConn) {
				if n, err := raw.Read(nil); n != 0 || err != nil {
					t.Fatalf("Read(nil) = %d, %v", n, err)
				}
				if n, err := raw.Write(nil); n != 0 || err != nil {
					t.Fatalf("Write(nil) = %d, %v", n, err)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, peer := tcpPair(t)
			raw := newRawIO(c)
			if raw == nil {
				t.Fatal("newRawIO returned nil for a TCP connection")
			}
			tc.run(t, raw, c, peer)
		})
	}
	c, _ := tcpPair(t)
	if _, ok := socketIO(c).(*rawIO); !ok {
		t.Errorf("socketIO of a TCP connection is %T, want raw I/O", socketIO(c))
	}
	if u := (&net.UnixConn{}); socketIO(u) != io.ReadWriter(u) {
		t.Errorf("socketIO of a connection that is not TCP is %T, want the connection itself", socketIO(u))
	}
}
