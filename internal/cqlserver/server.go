package cqlserver

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server.
type Options struct {
	// Now is the clock TTLs expire by (default time.Now). Tests inject
	// one to expire rows without waiting.
	Now func() time.Time
	// Logger receives connection-level events at debug level and
	// protocol errors at warn (default: discard).
	Logger *slog.Logger
}

// Stats counts request frames by kind since the server was created or
// ResetStats was last called.
type Stats struct {
	Queries  int64 // QUERY frames
	Executes int64 // EXECUTE frames
	Batches  int64 // BATCH frames
	Prepares int64 // PREPARE frames
}

// Server is an in-memory CQL node. Its data lives as long as the Server;
// Stop and Listen take it off and back on the network.
type Server struct {
	eng *engine
	log *slog.Logger

	queries, executes, batches, prepares atomic.Int64

	mu     sync.Mutex
	ln     net.Listener
	addr   string
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// ErrClosed is returned by Listen after Close.
var ErrClosed = errors.New("cqlserver: server closed")

// New returns a server holding no keyspaces and not yet listening.
func New(opts Options) *Server {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{eng: newEngine(now), log: log, conns: map[net.Conn]struct{}{}}
}

// Listen starts accepting connections on addr (host:port; port 0 picks
// one). After Stop, Listen may be called again, with the same address to
// come back where clients expect the node; "" reuses the last address.
func (s *Server) Listen(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.ln != nil {
		return fmt.Errorf("cqlserver: already listening on %s", s.addr)
	}
	if addr == "" {
		addr = s.addr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cqlserver: listen: %w", err)
	}
	s.ln = ln
	s.addr = ln.Addr().String()
	s.wg.Add(1)
	go s.accept(ln)
	s.log.Debug("cqlserver listening", "addr", s.addr)
	return nil
}

// Addr returns the address the server listens (or last listened) on.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Stop closes the listener and every client connection and waits for
// their goroutines, keeping all data, as if the Cassandra node went away.
// Listen brings it back.
func (s *Server) Stop() {
	s.mu.Lock()
	if s.ln != nil {
		_ = s.ln.Close()
		s.ln = nil
	}
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Close stops the server for good. It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.Stop()
	return nil
}

// Stats returns the request counts.
func (s *Server) Stats() Stats {
	return Stats{
		Queries:  s.queries.Load(),
		Executes: s.executes.Load(),
		Batches:  s.batches.Load(),
		Prepares: s.prepares.Load(),
	}
}

// ResetStats sets the request counts to zero.
func (s *Server) ResetStats() {
	s.queries.Store(0)
	s.executes.Store(0)
	s.batches.Store(0)
	s.prepares.Store(0)
}

func (s *Server) accept(ln net.Listener) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		s.mu.Lock()
		if s.ln != ln {
			// Stopped between Accept and here.
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(c)
	}
}

// conn is one client connection. Requests are handled in the order they
// arrive, one at a time; drivers multiplex by stream id and do not need
// answers out of order.
type conn struct {
	srv      *Server
	nc       net.Conn
	w        *bufio.Writer
	ks       string
	started  bool
	local    net.IP
	hdr      [headerSize]byte
	response wbuf
}

func (s *Server) serve(nc net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, nc)
		s.mu.Unlock()
		_ = nc.Close()
	}()
	c := &conn{srv: s, nc: nc, w: bufio.NewWriter(nc)}
	if a, ok := nc.LocalAddr().(*net.TCPAddr); ok {
		c.local = a.IP
	}
	r := bufio.NewReader(nc)
	for {
		if err := c.handleOne(r); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Debug("cqlserver connection closed", "remote", nc.RemoteAddr().String(), "err", err)
			}
			return
		}
	}
}

// handleOne reads one request frame and writes its response. An error
// ends the connection.
func (c *conn) handleOne(r *bufio.Reader) error {
	if _, err := io.ReadFull(r, c.hdr[:]); err != nil {
		return err
	}
	version := c.hdr[0]
	flags := c.hdr[1]
	stream := int16(binary.BigEndian.Uint16(c.hdr[2:4]))
	op := c.hdr[4]
	length := int32(binary.BigEndian.Uint32(c.hdr[5:9]))
	if length < 0 || length > maxBodyLength {
		c.writeError(stream, protocolf("Invalid frame body length %d", length))
		return fmt.Errorf("bad body length %d", length)
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	if version&responseFlag != 0 {
		c.writeError(stream, protocolf("Received a response frame where a request was expected"))
		return errors.New("response frame from client")
	}
	if version != protoVersion {
		// gocql reads the supported version out of this message.
		c.writeError(stream, protocolf("Invalid or unsupported protocol version (%d); the lowest supported version is 4 and the greatest is 4", version))
		return c.w.Flush()
	}
	if flags&flagCompression != 0 {
		c.writeError(stream, protocolf("Compressed frames are not supported (no compression was negotiated)"))
		return c.w.Flush()
	}
	rb := &rbuf{b: body}
	if flags&flagCustomPayload != 0 {
		rb.skipBytesMap()
	}
	c.handle(stream, op, rb)
	return c.w.Flush()
}

func (c *conn) writeFrame(stream int16, op byte, body []byte) {
	var h [headerSize]byte
	h[0] = protoVersion | responseFlag
	binary.BigEndian.PutUint16(h[2:4], uint16(stream))
	h[4] = op
	binary.BigEndian.PutUint32(h[5:9], uint32(len(body)))
	_, _ = c.w.Write(h[:])
	_, _ = c.w.Write(body)
}

func (c *conn) writeError(stream int16, e *cqlError) {
	w := wbuf{}
	w.error(e)
	c.writeFrame(stream, opError, w.b)
}

func asCQLError(err error) *cqlError {
	var ce *cqlError
	if errors.As(err, &ce) {
		return ce
	}
	var pe *parseError
	if errors.As(err, &pe) {
		if pe.unsupported {
			return &cqlError{code: errInvalid, msg: pe.msg}
		}
		return &cqlError{code: errSyntax, msg: pe.msg}
	}
	return &cqlError{code: errServer, msg: err.Error()}
}

func (c *conn) handle(stream int16, op byte, rb *rbuf) {
	defer func() {
		// A bug must not take the test process down: answer with a
		// server error and keep serving.
		if p := recover(); p != nil {
			c.srv.log.Error("cqlserver: panic handling request", "op", op, "panic", p)
			c.writeError(stream, &cqlError{code: errServer, msg: fmt.Sprintf("internal error: %v", p)})
		}
	}()
	switch op {
	case opQuery:
		c.srv.queries.Add(1)
	case opPrepare:
		c.srv.prepares.Add(1)
	case opExecute:
		c.srv.executes.Add(1)
	case opBatch:
		c.srv.batches.Add(1)
	}
	if !c.started && op != opOptions && op != opStartup {
		c.writeError(stream, protocolf("Unexpected message %d, expecting STARTUP or OPTIONS", op))
		return
	}
	var (
		res  *result
		err  error
		skip bool
	)
	switch op {
	case opOptions:
		w := wbuf{}
		w.short(3)
		w.string("CQL_VERSION")
		w.stringList([]string{cqlVersion})
		w.string("COMPRESSION")
		w.stringList(nil)
		w.string("PROTOCOL_VERSIONS")
		w.stringList([]string{"4/v4"})
		c.writeFrame(stream, opSupported, w.b)
		return
	case opStartup:
		opts := rb.stringMap()
		if rb.err != nil {
			c.writeError(stream, protocolf("Invalid STARTUP message: %v", rb.err))
			return
		}
		if comp, ok := opts["COMPRESSION"]; ok && comp != "" {
			c.writeError(stream, protocolf("Unknown compression algorithm: %s", comp))
			return
		}
		c.started = true
		c.writeFrame(stream, opReady, nil)
		return
	case opRegister:
		rb.stringList()
		if rb.err != nil {
			c.writeError(stream, protocolf("Invalid REGISTER message: %v", rb.err))
			return
		}
		// Events are accepted but never sent: there is one node and
		// schema agreement is immediate.
		c.writeFrame(stream, opReady, nil)
		return
	case opAuthResponse:
		c.writeError(stream, protocolf("Unexpected AUTH_RESPONSE: authentication is not required"))
		return
	case opQuery:
		res, skip, err = c.query(rb)
	case opPrepare:
		c.prepare(stream, rb)
		return
	case opExecute:
		res, skip, err = c.execute(rb)
	case opBatch:
		res, err = c.batch(rb)
	default:
		c.writeError(stream, protocolf("Unknown or unexpected opcode 0x%02x", op))
		return
	}
	if err != nil {
		ce := asCQLError(err)
		if ce.code == errProtocol || ce.code == errServer {
			c.srv.log.Warn("cqlserver: request failed", "op", op, "err", ce.msg)
		}
		c.writeError(stream, ce)
		return
	}
	if res.kind == resultSetKeyspace {
		c.ks = res.keyspace
	}
	c.response.b = c.response.b[:0]
	c.response.result(res, skip)
	c.writeFrame(stream, opResult, c.response.b)
}

// queryParams reads the parameters of QUERY and EXECUTE (spec §4.1.4).
func (c *conn) queryParams(rb *rbuf, x *execCtx) (skip bool, err error) {
	rb.short() // consistency: accepted and ignored, there is one replica
	flags := rb.byte()
	if flags&qfNamesForValues != 0 {
		return false, protocolf("cqlserver does not support named values (query flag 0x40); bind values by position")
	}
	if flags&qfValues != 0 {
		n := int(rb.short())
		x.vals = make([]boundValue, 0, min(n, 1024))
		for i := 0; i < n && rb.err == nil; i++ {
			x.vals = append(x.vals, rb.value())
		}
	}
	skip = flags&qfSkipMetadata != 0
	if flags&qfPageSize != 0 {
		x.pageSize = int(rb.int())
	}
	if flags&qfPagingState != 0 {
		x.paging = rb.bytes()
	}
	if flags&qfSerialConsistency != 0 {
		rb.short()
	}
	if flags&qfDefaultTimestamp != 0 {
		rb.long()
	}
	if rb.err != nil {
		return false, protocolf("Invalid query parameters: %v", rb.err)
	}
	return skip, nil
}

func (c *conn) ctx(ks string) *execCtx {
	return &execCtx{ks: ks, now: c.srv.eng.now(), local: c.local}
}

func (c *conn) query(rb *rbuf) (*result, bool, error) {
	q := rb.longString()
	x := c.ctx(c.ks)
	// skip_metadata is ignored: without a prepared statement the client
	// has no metadata to reuse.
	if _, err := c.queryParams(rb, x); err != nil {
		return nil, false, err
	}
	p, err := parse(q)
	if err != nil {
		return nil, false, err
	}
	res, err := c.srv.eng.exec(x, p)
	return res, false, err
}

func (c *conn) prepare(stream int16, rb *rbuf) {
	q := rb.longString()
	if rb.err != nil {
		c.writeError(stream, protocolf("Invalid PREPARE message: %v", rb.err))
		return
	}
	p, err := parse(q)
	if err != nil {
		c.writeError(stream, asCQLError(err))
		return
	}
	ps, err := c.srv.eng.prepare(c.ctx(c.ks), p, q)
	if err != nil {
		c.writeError(stream, asCQLError(err))
		return
	}
	w := wbuf{}
	w.prepared(ps.id, ps.info)
	c.writeFrame(stream, opResult, w.b)
}

func (c *conn) lookupPrepared(id []byte) (*preparedStmt, error) {
	eng := c.srv.eng
	eng.mu.Lock()
	ps := eng.prepared[string(id)]
	eng.mu.Unlock()
	if ps == nil {
		return nil, &cqlError{code: errUnprepared, msg: fmt.Sprintf("Prepared query with ID %x not found", id), id: id}
	}
	return ps, nil
}

func (c *conn) execute(rb *rbuf) (*result, bool, error) {
	id := rb.shortBytes()
	if rb.err != nil {
		return nil, false, protocolf("Invalid EXECUTE message: %v", rb.err)
	}
	ps, err := c.lookupPrepared(id)
	if err != nil {
		return nil, false, err
	}
	x := c.ctx(ps.ks)
	skip, err := c.queryParams(rb, x)
	if err != nil {
		return nil, false, err
	}
	res, err := c.srv.eng.exec(x, ps.p)
	return res, skip, err
}

// batch reads and runs a BATCH (spec §4.1.7).
func (c *conn) batch(rb *rbuf) (*result, error) {
	typ := rb.byte()
	if typ == 2 {
		return nil, unsupportedf("COUNTER batches")
	}
	if typ > 2 {
		return nil, protocolf("Invalid batch type %d", typ)
	}
	n := int(rb.short())
	type entry struct {
		p    parsed
		ks   string
		vals []boundValue
	}
	entries := make([]entry, 0, min(n, 1024))
	for i := 0; i < n && rb.err == nil; i++ {
		var e entry
		switch kind := rb.byte(); kind {
		case 0:
			q := rb.longString()
			if rb.err != nil {
				break
			}
			p, err := parse(q)
			if err != nil {
				return nil, err
			}
			e.p, e.ks = p, c.ks
		case 1:
			id := rb.shortBytes()
			if rb.err != nil {
				break
			}
			ps, err := c.lookupPrepared(id)
			if err != nil {
				return nil, err
			}
			e.p, e.ks = ps.p, ps.ks
		default:
			return nil, protocolf("Invalid query kind in BATCH: %d", kind)
		}
		nv := int(rb.short())
		for j := 0; j < nv && rb.err == nil; j++ {
			e.vals = append(e.vals, rb.value())
		}
		entries = append(entries, e)
	}
	rb.short() // consistency
	flags := rb.byte()
	if flags&qfNamesForValues != 0 {
		return nil, protocolf("cqlserver does not support named values in batches")
	}
	if flags&qfSerialConsistency != 0 {
		rb.short()
	}
	if flags&qfDefaultTimestamp != 0 {
		rb.long()
	}
	if rb.err != nil {
		return nil, protocolf("Invalid BATCH message: %v", rb.err)
	}
	eng := c.srv.eng
	now := eng.now()
	eng.mu.Lock()
	defer eng.mu.Unlock()
	ms := make([]*mutation, 0, len(entries))
	for _, e := range entries {
		if len(e.vals) != e.p.markers {
			return nil, invalidf("There were %d markers(?) in CQL but %d bound variables", e.p.markers, len(e.vals))
		}
		x := &execCtx{ks: e.ks, vals: e.vals, now: now, local: c.local}
		m, err := eng.plan(x, e.p.stmt)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return eng.applyBatch(&execCtx{now: now, local: c.local}, ms)
}
