package cqlserver

import (
	"encoding/binary"
	"fmt"
)

// Frame layout of native protocol v4 (spec §2): version, flags, stream
// (int16), opcode, body length (int32).
const (
	headerSize    = 9
	protoVersion  = 0x04
	responseFlag  = 0x80
	maxBodyLength = 256 << 20

	flagCompression   = 0x01
	flagTracing       = 0x02
	flagCustomPayload = 0x04
	flagWarning       = 0x08
)

// Opcodes (spec §2.4).
const (
	opError        = 0x00
	opStartup      = 0x01
	opReady        = 0x02
	opAuthenticate = 0x03
	opOptions      = 0x05
	opSupported    = 0x06
	opQuery        = 0x07
	opResult       = 0x08
	opPrepare      = 0x09
	opExecute      = 0x0A
	opRegister     = 0x0B
	opEvent        = 0x0C
	opBatch        = 0x0D
	opAuthResponse = 0x0F
)

// Query flags (spec §4.1.4).
const (
	qfValues            = 0x01
	qfSkipMetadata      = 0x02
	qfPageSize          = 0x04
	qfPagingState       = 0x08
	qfSerialConsistency = 0x10
	qfDefaultTimestamp  = 0x20
	qfNamesForValues    = 0x40
)

// Rows metadata flags (spec §4.2.5.2).
const (
	mfGlobalTableSpec = 0x0001
	mfHasMorePages    = 0x0002
	mfNoMetadata      = 0x0004
)

// rbuf reads protocol primitives from a request body. A short body sets
// err instead of panicking; callers check err once at the end.
type rbuf struct {
	b   []byte
	err error
}

func (r *rbuf) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("truncated frame body")
		r.b = nil
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *rbuf) byte() byte {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *rbuf) short() uint16 {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

func (r *rbuf) int() int32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

func (r *rbuf) long() int64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

func (r *rbuf) string() string { return string(r.take(int(r.short()))) }

func (r *rbuf) longString() string { return string(r.take(int(r.int()))) }

func (r *rbuf) shortBytes() []byte { return r.take(int(r.short())) }

// bytes reads [bytes]; a negative length is null.
func (r *rbuf) bytes() []byte {
	n := r.int()
	if n < 0 {
		return nil
	}
	b := r.take(int(n))
	if b == nil && r.err == nil {
		return []byte{}
	}
	return b
}

// value reads a [value]: [bytes] where -2 means unset (spec §3).
func (r *rbuf) value() boundValue {
	n := r.int()
	switch {
	case n == -2:
		return boundValue{unset: true}
	case n < 0:
		return boundValue{}
	}
	b := r.take(int(n))
	if b == nil && r.err == nil {
		b = []byte{}
	}
	return boundValue{b: b}
}

func (r *rbuf) stringMap() map[string]string {
	n := int(r.short())
	m := make(map[string]string, min(n, 64))
	for i := 0; i < n && r.err == nil; i++ {
		k := r.string()
		m[k] = r.string()
	}
	return m
}

func (r *rbuf) stringList() []string {
	n := int(r.short())
	var out []string
	for i := 0; i < n && r.err == nil; i++ {
		out = append(out, r.string())
	}
	return out
}

func (r *rbuf) skipBytesMap() {
	n := int(r.short())
	for i := 0; i < n && r.err == nil; i++ {
		r.string()
		r.bytes()
	}
}

// wbuf builds a response body.
type wbuf struct{ b []byte }

func (w *wbuf) byte(v byte)    { w.b = append(w.b, v) }
func (w *wbuf) short(v uint16) { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *wbuf) int(v int32)    { w.b = binary.BigEndian.AppendUint32(w.b, uint32(v)) }

func (w *wbuf) string(s string) {
	w.short(uint16(len(s)))
	w.b = append(w.b, s...)
}

func (w *wbuf) shortBytes(b []byte) {
	w.short(uint16(len(b)))
	w.b = append(w.b, b...)
}

func (w *wbuf) bytes(b []byte) {
	if b == nil {
		w.int(-1)
		return
	}
	w.int(int32(len(b)))
	w.b = append(w.b, b...)
}

func (w *wbuf) stringList(l []string) {
	w.short(uint16(len(l)))
	for _, s := range l {
		w.string(s)
	}
}

func (w *wbuf) typ(t *cqlType) {
	w.short(t.id)
	switch t.id {
	case typeList, typeSet:
		w.typ(t.elem)
	case typeMap:
		w.typ(t.key)
		w.typ(t.elem)
	}
}

// colSpecs writes column specifications, with the global table spec when
// every column comes from one table (always, for this server).
func (w *wbuf) colSpecs(cols []colSpec) {
	global := len(cols) > 0
	for _, c := range cols {
		global = global && c.ks == cols[0].ks && c.table == cols[0].table
	}
	if global {
		w.string(cols[0].ks)
		w.string(cols[0].table)
	}
	for _, c := range cols {
		if !global {
			w.string(c.ks)
			w.string(c.table)
		}
		w.string(c.name)
		w.typ(c.typ)
	}
}

func globalFlag(cols []colSpec) int32 {
	if len(cols) == 0 {
		return 0
	}
	for _, c := range cols {
		if c.ks != cols[0].ks || c.table != cols[0].table {
			return 0
		}
	}
	return mfGlobalTableSpec
}

// rowsMetadata writes the metadata of a Rows result (spec §4.2.5.2).
func (w *wbuf) rowsMetadata(cols []colSpec, paging []byte, skip bool) {
	flags := int32(0)
	if paging != nil {
		flags |= mfHasMorePages
	}
	if skip {
		flags |= mfNoMetadata
	} else {
		flags |= globalFlag(cols)
	}
	w.int(flags)
	w.int(int32(len(cols)))
	if paging != nil {
		w.bytes(paging)
	}
	if !skip {
		w.colSpecs(cols)
	}
}

func (w *wbuf) result(res *result, skipMeta bool) {
	w.int(int32(res.kind))
	switch res.kind {
	case resultRows:
		w.rowsMetadata(res.cols, res.paging, skipMeta && !res.fullMeta)
		w.int(int32(len(res.rows)))
		for _, row := range res.rows {
			for _, v := range row {
				w.bytes(v)
			}
		}
	case resultSetKeyspace:
		w.string(res.keyspace)
	case resultSchemaChange:
		w.string(res.change)
		w.string(res.target)
		w.string(res.keyspace)
		if res.target != "KEYSPACE" {
			w.string(res.name)
		}
	}
}

// prepared writes a Prepared result (spec §4.2.5.4).
func (w *wbuf) prepared(id []byte, info *prepInfo) {
	w.int(int32(resultPrepared))
	w.shortBytes(id)
	w.int(globalFlag(info.binds))
	w.int(int32(len(info.binds)))
	w.int(int32(len(info.pkIdx)))
	for _, i := range info.pkIdx {
		w.short(uint16(i))
	}
	w.colSpecs(info.binds)
	if len(info.results) == 0 {
		w.int(mfNoMetadata)
		w.int(0)
		return
	}
	w.rowsMetadata(info.results, nil, false)
}

func (w *wbuf) error(e *cqlError) {
	w.int(e.code)
	w.string(e.msg)
	switch e.code {
	case errAlreadyExists:
		w.string(e.ks)
		w.string(e.table)
	case errUnprepared:
		w.shortBytes(e.id)
	}
}
