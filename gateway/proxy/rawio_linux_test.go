//go:build linux

package proxy

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync/atomic"
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

// Short writes wait for their round's batch (batch_linux.go); they must
// still fail as net.Conn's writes do.
func TestShortWritesFailAsNetConn(t *testing.T) {
	t.Run("after the write deadline, a timeout", func(t *testing.T) {
		c, _ := tcpPair(t)
		raw := newRawIO(c)
		_ = c.SetWriteDeadline(time.Now().Add(-time.Second))
		if n, err := raw.Write([]byte("late")); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Write = %d, %v; want 0 and a timeout", n, err)
		}
	})
	t.Run("on a closed connection, net.ErrClosed", func(t *testing.T) {
		c, _ := tcpPair(t)
		raw := newRawIO(c)
		_ = c.Close()
		if n, err := raw.Write([]byte("closed")); n != 0 || !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Write = %d, %v; want 0 and net.ErrClosed", n, err)
		}
	})
	t.Run("to a peer that reset, a write OpError", func(t *testing.T) {
		c, peer := tcpPair(t)
		raw := newRawIO(c)
		_ = peer.SetLinger(0)
		_ = peer.Close()
		time.Sleep(20 * time.Millisecond)
		var err error
		for range 10 { // the first write may be taken before the reset is seen
			if _, err = raw.Write([]byte("anyone?")); err != nil {
				break
			}
		}
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "write" || !(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
			t.Fatalf("Write = %v; want a write OpError wrapping ECONNRESET or EPIPE", err)
		}
	})
}

// The short writes of connections that take turns together go out in one
// send, each whole and in order on its own connection.
func TestShortWritesOfARoundGoOutTogether(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const conns, msgs = 20, 50
	raws := make([]*rawIO, conns)
	peers := make([]*net.TCPConn, conns)
	for i := range raws {
		c, peer := tcpPair(t)
		raws[i], peers[i] = newRawIO(c), peer
	}
	var sendsN, batchedN atomic.Int64 // sends of different batches may overlap
	hook := func(n int) { sendsN.Add(1); batchedN.Add(int64(n)) }
	sendHook.Store(&hook)
	defer sendHook.Store(nil)

	start := make(chan struct{})
	errs := make(chan error, conns)
	for i, raw := range raws {
		go func() {
			<-start
			for m := range msgs {
				msg := fmt.Appendf(nil, "conn %d message %d\n", i, m)
				if n, err := raw.Write(msg); n != len(msg) || err != nil {
					errs <- fmt.Errorf("conn %d: Write = %d, %v", i, n, err)
					return
				}
			}
			errs <- nil
		}()
	}
	close(start)
	for range conns {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i, peer := range peers {
		_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		var want bytes.Buffer
		for m := range msgs {
			fmt.Fprintf(&want, "conn %d message %d\n", i, m)
		}
		got := make([]byte, want.Len())
		if _, err := io.ReadFull(peer, got); err != nil || !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("conn %d received %q, %v; want its %d messages in order", i, got, err, msgs)
		}
	}
	sends, batched := int(sendsN.Load()), int(batchedN.Load())
	// Every write went through a batch, and a round's writes together:
	// far fewer sends than writes.
	if writesN := conns * msgs; batched != writesN || sends*4 > writesN {
		t.Fatalf("%d writes, %d of them batched, in %d sends; want every write batched, a round's writes sent together", writesN, batched, sends)
	}
	t.Logf("%d writes went out in %d sends", conns*msgs, sends)
}

// A batched write that its socket cannot take whole is finished by its
// writer, once the peer reads.
func TestShortWriteFinishesWhatTheSocketLeft(t *testing.T) {
	c, peer := tcpPair(t)
	raw := newRawIO(c)
	// Fixed buffers (no autotuning), then filled until they take nothing more.
	if err := c.SetWriteBuffer(8 << 10); err != nil {
		t.Fatal(err)
	}
	if err := peer.SetReadBuffer(8 << 10); err != nil {
		t.Fatal(err)
	}
	filler := make([]byte, 64<<10)
	sent := 0
	for range 1000 {
		_ = c.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
		n, _ := raw.Write(filler) // times out once the buffers are full
		sent += n
		if n == 0 {
			break
		}
	}
	_ = c.SetWriteDeadline(time.Time{})

	msg := make([]byte, batchMax-1)
	_, _ = rand.Read(msg)
	done := make(chan error, 1)
	go func() {
		n, err := raw.Write(msg)
		if err == nil && n != len(msg) {
			err = fmt.Errorf("wrote %d of %d", n, len(msg))
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("the write returned (%v) while the peer read nothing and the socket was full", err)
	case <-time.After(50 * time.Millisecond):
	}
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, sent+len(msg))
	if _, err := io.ReadFull(peer, got); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[sent:], msg) {
		t.Fatal("the peer received the short write altered")
	}
}
