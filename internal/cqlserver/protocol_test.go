package cqlserver

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// rawClient speaks frames to a server directly, to test what gocql never
// sends.
type rawClient struct {
	t  *testing.T
	c  net.Conn
	r  *bufio.Reader
	id int16
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawClient{t: t, c: c, r: bufio.NewReader(c)}
}

// roundTrip sends one request and returns the response opcode and body.
func (rc *rawClient) roundTrip(version, op byte, body []byte) (byte, *rbuf) {
	rc.t.Helper()
	rc.id++
	h := make([]byte, headerSize, headerSize+len(body))
	h[0] = version
	binary.BigEndian.PutUint16(h[2:4], uint16(rc.id))
	h[4] = op
	binary.BigEndian.PutUint32(h[5:9], uint32(len(body)))
	if _, err := rc.c.Write(append(h, body...)); err != nil {
		rc.t.Fatal(err)
	}
	var rh [headerSize]byte
	if _, err := io.ReadFull(rc.r, rh[:]); err != nil {
		rc.t.Fatal(err)
	}
	if rh[0] != protoVersion|responseFlag {
		rc.t.Fatalf("response version 0x%02x", rh[0])
	}
	if got := int16(binary.BigEndian.Uint16(rh[2:4])); got != rc.id {
		rc.t.Fatalf("response stream %d, want %d", got, rc.id)
	}
	b := make([]byte, binary.BigEndian.Uint32(rh[5:9]))
	if _, err := io.ReadFull(rc.r, b); err != nil {
		rc.t.Fatal(err)
	}
	return rh[4], &rbuf{b: b}
}

func (rc *rawClient) wantError(op byte, body *rbuf, code int32, contains string) {
	rc.t.Helper()
	if op != opError {
		rc.t.Fatalf("opcode 0x%02x, want ERROR", op)
	}
	if got := body.int(); got != code {
		rc.t.Fatalf("error code 0x%04x, want 0x%04x", got, code)
	}
	if msg := body.string(); !strings.Contains(msg, contains) {
		rc.t.Fatalf("error %q does not mention %q", msg, contains)
	}
}

func startupBody() []byte {
	w := wbuf{}
	w.short(1)
	w.string("CQL_VERSION")
	w.string("3.0.0")
	return w.b
}

func queryBody(q string, pageSize int32, paging []byte, values ...[]byte) []byte {
	w := wbuf{}
	w.int(int32(len(q)))
	w.b = append(w.b, q...)
	w.short(0x0006) // LOCAL_QUORUM
	flags := byte(qfSerialConsistency | qfDefaultTimestamp)
	if len(values) > 0 {
		flags |= qfValues
	}
	if pageSize > 0 {
		flags |= qfPageSize
	}
	if paging != nil {
		flags |= qfPagingState
	}
	w.byte(flags)
	if len(values) > 0 {
		w.short(uint16(len(values)))
		for _, v := range values {
			w.bytes(v)
		}
	}
	if pageSize > 0 {
		w.int(pageSize)
	}
	if paging != nil {
		w.bytes(paging)
	}
	w.short(0x0009) // LOCAL_SERIAL
	w.b = binary.BigEndian.AppendUint64(w.b, uint64(time.Now().UnixMicro()))
	return w.b
}

func TestProtocol(t *testing.T) {
	srv := New(Options{})
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rc := dialRaw(t, srv.Addr())

	// Anything but OPTIONS and STARTUP first is a protocol error.
	op, body := rc.roundTrip(protoVersion, opQuery, queryBody("SELECT * FROM system.local", 0, nil))
	rc.wantError(op, body, errProtocol, "STARTUP")

	// A newer protocol version is refused in the words gocql parses.
	op, body = rc.roundTrip(0x05, opOptions, nil)
	rc.wantError(op, body, errProtocol, "the lowest supported version is 4 and the greatest is 4")

	op, body = rc.roundTrip(protoVersion, opOptions, nil)
	if op != opSupported {
		t.Fatalf("OPTIONS answered 0x%02x", op)
	}
	n := int(body.short())
	opts := map[string][]string{}
	for i := 0; i < n; i++ {
		k := body.string()
		opts[k] = body.stringList()
	}
	if len(opts["COMPRESSION"]) != 0 || len(opts["CQL_VERSION"]) != 1 {
		t.Fatalf("SUPPORTED = %v", opts)
	}

	if op, _ = rc.roundTrip(protoVersion, opStartup, startupBody()); op != opReady {
		t.Fatalf("STARTUP answered 0x%02x", op)
	}
	w := wbuf{}
	w.stringList([]string{"SCHEMA_CHANGE", "STATUS_CHANGE"})
	if op, _ = rc.roundTrip(protoVersion, opRegister, w.b); op != opReady {
		t.Fatalf("REGISTER answered 0x%02x", op)
	}

	// QUERY with values, paged.
	for _, q := range []string{
		"CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}",
		"CREATE TABLE ks.t (k text, c int, v text, PRIMARY KEY (k, c))",
	} {
		op, body = rc.roundTrip(protoVersion, opQuery, queryBody(q, 0, nil))
		if op != opResult || resultKind(body.int()) != resultSchemaChange {
			t.Fatalf("%s: answered 0x%02x", q, op)
		}
	}
	for i := int32(0); i < 5; i++ {
		op, body = rc.roundTrip(protoVersion, opQuery, queryBody("INSERT INTO ks.t (k, c, v) VALUES (?, ?, 'x')", 0, nil, []byte("a"), encInt(i)))
		if op != opResult || resultKind(body.int()) != resultVoid {
			t.Fatalf("insert answered 0x%02x", op)
		}
	}
	var paging []byte
	var got []int64
	for pages := 0; ; pages++ {
		op, body = rc.roundTrip(protoVersion, opQuery, queryBody("SELECT c FROM ks.t WHERE k = ?", 2, paging, []byte("a")))
		if op != opResult || resultKind(body.int()) != resultRows {
			t.Fatalf("select answered 0x%02x", op)
		}
		flags := body.int()
		if cols := body.int(); cols != 1 {
			t.Fatalf("%d columns", cols)
		}
		paging = nil
		if flags&mfHasMorePages != 0 {
			paging = body.bytes()
		}
		if flags&mfGlobalTableSpec == 0 {
			t.Fatalf("no global table spec")
		}
		if ks, tbl, name, typ := body.string(), body.string(), body.string(), body.short(); ks != "ks" || tbl != "t" || name != "c" || typ != typeInt {
			t.Fatalf("column spec %s.%s.%s type %d", ks, tbl, name, typ)
		}
		rows := int(body.int())
		for i := 0; i < rows; i++ {
			v, _ := decInt(body.bytes())
			got = append(got, v)
		}
		if body.err != nil {
			t.Fatal(body.err)
		}
		if paging == nil {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(got) != 5 || got[0] != 0 || got[4] != 4 {
		t.Fatalf("paged rows %v", got)
	}

	// EXECUTE of an unknown id answers UNPREPARED with the id.
	w = wbuf{}
	w.shortBytes([]byte{1, 2, 3})
	w.short(1)
	w.byte(0)
	op, body = rc.roundTrip(protoVersion, opExecute, w.b)
	rc.wantError(op, body, errUnprepared, "not found")
	if id := body.shortBytes(); string(id) != "\x01\x02\x03" {
		t.Fatalf("unprepared id %x", id)
	}

	// Named values are refused clearly.
	body2 := queryBody("SELECT c FROM ks.t WHERE k = ?", 0, nil, []byte("a"))
	i := 4 + len("SELECT c FROM ks.t WHERE k = ?") + 2
	body2[i] |= qfNamesForValues
	op, body = rc.roundTrip(protoVersion, opQuery, body2)
	rc.wantError(op, body, errProtocol, "named values")

	// Wrong number of values.
	op, body = rc.roundTrip(protoVersion, opQuery, queryBody("SELECT c FROM ks.t WHERE k = ?", 0, nil))
	rc.wantError(op, body, errInvalid, "markers")

	if st := srv.Stats(); st.Queries != 13 || st.Executes != 1 {
		t.Fatalf("stats %+v, want 13 queries and 1 execute", st)
	}
}

func TestLifecycle(t *testing.T) {
	srv := New(Options{})
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen("127.0.0.1:0"); err == nil {
		t.Fatal("second Listen succeeded while listening")
	}
	addr := srv.Addr()
	rc := dialRaw(t, addr)
	if op, _ := rc.roundTrip(protoVersion, opOptions, nil); op != opSupported {
		t.Fatal("no SUPPORTED")
	}
	srv.Stop()
	// Stop dropped the client connection.
	if _, err := rc.r.ReadByte(); err == nil {
		t.Fatal("connection still open after Stop")
	}
	if err := srv.Listen(""); err != nil {
		t.Fatalf("Listen after Stop: %v", err)
	}
	if srv.Addr() != addr {
		t.Fatalf("address %s after restart, want %s", srv.Addr(), addr)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := srv.Listen(addr); !errors.Is(err, ErrClosed) {
		t.Fatalf("Listen after Close: %v", err)
	}
}
