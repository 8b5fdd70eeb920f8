package cqlserver

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Type option ids of the native protocol (v4 spec §6.2.6 [option]).
const (
	typeCustom    uint16 = 0x0000
	typeASCII     uint16 = 0x0001
	typeBigint    uint16 = 0x0002
	typeBlob      uint16 = 0x0003
	typeBoolean   uint16 = 0x0004
	typeCounter   uint16 = 0x0005
	typeDecimal   uint16 = 0x0006
	typeDouble    uint16 = 0x0007
	typeFloat     uint16 = 0x0008
	typeInt       uint16 = 0x0009
	typeTimestamp uint16 = 0x000B
	typeUUID      uint16 = 0x000C
	typeVarchar   uint16 = 0x000D
	typeVarint    uint16 = 0x000E
	typeTimeUUID  uint16 = 0x000F
	typeInet      uint16 = 0x0010
	typeDate      uint16 = 0x0011
	typeTime      uint16 = 0x0012
	typeSmallint  uint16 = 0x0013
	typeTinyint   uint16 = 0x0014
	typeList      uint16 = 0x0020
	typeMap       uint16 = 0x0021
	typeSet       uint16 = 0x0022
)

// cqlType is a column type: a native type, or a collection whose elem (and
// key, for maps) are native types.
type cqlType struct {
	id   uint16
	key  *cqlType // map keys
	elem *cqlType // list and set elements, map values
}

var nativeTypes = map[string]uint16{
	"ascii":     typeASCII,
	"bigint":    typeBigint,
	"blob":      typeBlob,
	"boolean":   typeBoolean,
	"double":    typeDouble,
	"float":     typeFloat,
	"int":       typeInt,
	"timestamp": typeTimestamp,
	"uuid":      typeUUID,
	"text":      typeVarchar,
	"varchar":   typeVarchar,
	"timeuuid":  typeTimeUUID,
	"inet":      typeInet,
	"date":      typeDate,
	"time":      typeTime,
	"smallint":  typeSmallint,
	"tinyint":   typeTinyint,
}

var (
	tText      = &cqlType{id: typeVarchar}
	tInt       = &cqlType{id: typeInt}
	tBigint    = &cqlType{id: typeBigint}
	tBoolean   = &cqlType{id: typeBoolean}
	tUUID      = &cqlType{id: typeUUID}
	tInet      = &cqlType{id: typeInet}
	tBlob      = &cqlType{id: typeBlob}
	tDouble    = &cqlType{id: typeDouble}
	tSetText   = &cqlType{id: typeSet, elem: tText}
	tListText  = &cqlType{id: typeList, elem: tText}
	tMapText   = &cqlType{id: typeMap, key: tText, elem: tText}
	tMapBlob   = &cqlType{id: typeMap, key: tText, elem: tBlob}
	tTimestamp = &cqlType{id: typeTimestamp}
)

func (t *cqlType) isCollection() bool {
	return t.id == typeList || t.id == typeSet || t.id == typeMap
}

// String returns the CQL name of t, as system_schema.columns spells it.
func (t *cqlType) String() string {
	switch t.id {
	case typeList:
		return "list<" + t.elem.String() + ">"
	case typeSet:
		return "set<" + t.elem.String() + ">"
	case typeMap:
		return "map<" + t.key.String() + ", " + t.elem.String() + ">"
	case typeVarchar:
		return "text"
	}
	for name, id := range nativeTypes {
		if id == t.id && name != "varchar" {
			return name
		}
	}
	return fmt.Sprintf("type(0x%04x)", t.id)
}

// fixedSize is the serialized length of fixed-size types, 0 for the rest.
func fixedSize(id uint16) int {
	switch id {
	case typeBigint, typeDouble, typeTimestamp, typeTime:
		return 8
	case typeInt, typeFloat, typeDate:
		return 4
	case typeSmallint:
		return 2
	case typeTinyint, typeBoolean:
		return 1
	case typeUUID, typeTimeUUID:
		return 16
	}
	return 0
}

// validate checks that b is a well-formed serialization of t, so that
// nothing later has to guard against a malformed value. Collections are
// returned normalized: sets and maps sorted and deduplicated, as Cassandra
// stores them.
func validate(t *cqlType, b []byte) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	if n := fixedSize(t.id); n != 0 && len(b) != n {
		if len(b) == 0 && t.id != typeBoolean {
			// An empty value of a fixed-size type is legal in Cassandra
			// and reads back as empty; keep it.
			return b, nil
		}
		return nil, fmt.Errorf("expected %d bytes for a %s value, got %d", n, t, len(b))
	}
	switch t.id {
	case typeInet:
		if len(b) != 4 && len(b) != 16 {
			return nil, fmt.Errorf("invalid inet value of %d bytes", len(b))
		}
	case typeList, typeSet, typeMap:
		return normalizeCollection(t, b)
	}
	return b, nil
}

// decodeCollection splits a collection into its elements (for maps, keys
// and values alternate).
func decodeCollection(t *cqlType, b []byte) ([][]byte, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("collection value too short (%d bytes)", len(b))
	}
	n := int(int32(binary.BigEndian.Uint32(b)))
	if n < 0 {
		return nil, fmt.Errorf("negative collection size %d", n)
	}
	per := 1
	if t.id == typeMap {
		per = 2
	}
	if n > len(b) {
		return nil, fmt.Errorf("collection size %d larger than value", n)
	}
	out := make([][]byte, 0, n*per)
	p := b[4:]
	for i := 0; i < n*per; i++ {
		if len(p) < 4 {
			return nil, fmt.Errorf("truncated collection element")
		}
		l := int(int32(binary.BigEndian.Uint32(p)))
		p = p[4:]
		if l < 0 {
			return nil, fmt.Errorf("null collection element")
		}
		if l > len(p) {
			return nil, fmt.Errorf("truncated collection element")
		}
		out = append(out, p[:l:l])
		p = p[l:]
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%d trailing bytes after collection", len(p))
	}
	return out, nil
}

func encodeCollection(elems [][]byte, count int) []byte {
	size := 4
	for _, e := range elems {
		size += 4 + len(e)
	}
	out := make([]byte, 0, size)
	out = binary.BigEndian.AppendUint32(out, uint32(count))
	for _, e := range elems {
		out = binary.BigEndian.AppendUint32(out, uint32(len(e)))
		out = append(out, e...)
	}
	return out
}

func normalizeCollection(t *cqlType, b []byte) ([]byte, error) {
	elems, err := decodeCollection(t, b)
	if err != nil {
		return nil, err
	}
	switch t.id {
	case typeList:
		for i, e := range elems {
			v, err := validate(t.elem, e)
			if err != nil {
				return nil, err
			}
			elems[i] = v
		}
		return encodeCollection(elems, len(elems)), nil
	case typeSet:
		for i, e := range elems {
			v, err := validate(t.elem, e)
			if err != nil {
				return nil, err
			}
			elems[i] = v
		}
		sort.SliceStable(elems, func(i, j int) bool { return compareValues(t.elem, elems[i], elems[j]) < 0 })
		out := elems[:0]
		for i, e := range elems {
			if i > 0 && compareValues(t.elem, out[len(out)-1], e) == 0 {
				continue
			}
			out = append(out, e)
		}
		if len(out) == 0 {
			// An empty set is no value at all in Cassandra.
			return nil, nil
		}
		return encodeCollection(out, len(out)), nil
	default:
		type kv struct{ k, v []byte }
		pairs := make([]kv, 0, len(elems)/2)
		for i := 0; i+1 < len(elems); i += 2 {
			k, err := validate(t.key, elems[i])
			if err != nil {
				return nil, err
			}
			v, err := validate(t.elem, elems[i+1])
			if err != nil {
				return nil, err
			}
			pairs = append(pairs, kv{k, v})
		}
		// Later entries win, as they would in Cassandra's cell merge.
		sort.SliceStable(pairs, func(i, j int) bool { return compareValues(t.key, pairs[i].k, pairs[j].k) < 0 })
		flat := make([][]byte, 0, len(elems))
		n := 0
		for i, p := range pairs {
			if i+1 < len(pairs) && compareValues(t.key, p.k, pairs[i+1].k) == 0 {
				continue
			}
			flat = append(flat, p.k, p.v)
			n++
		}
		if n == 0 {
			return nil, nil
		}
		return encodeCollection(flat, n), nil
	}
}

// compareValues orders two serialized values of type t as Cassandra
// orders them in a clustering. null sorts first. It never panics on
// malformed input: validate has been applied to everything stored.
func compareValues(t *cqlType, a, b []byte) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	if n := fixedSize(t.id); n != 0 && (len(a) != n || len(b) != n) {
		return cmpInt(len(a), len(b))
	}
	switch t.id {
	case typeBigint, typeTimestamp, typeTime, typeCounter:
		return cmpInt64(int64(binary.BigEndian.Uint64(a)), int64(binary.BigEndian.Uint64(b)))
	case typeInt:
		return cmpInt64(int64(int32(binary.BigEndian.Uint32(a))), int64(int32(binary.BigEndian.Uint32(b))))
	case typeSmallint:
		return cmpInt64(int64(int16(binary.BigEndian.Uint16(a))), int64(int16(binary.BigEndian.Uint16(b))))
	case typeTinyint:
		return cmpInt64(int64(int8(a[0])), int64(int8(b[0])))
	case typeDate:
		return cmpInt64(int64(binary.BigEndian.Uint32(a)), int64(binary.BigEndian.Uint32(b)))
	case typeBoolean:
		return cmpInt(int(a[0]&1), int(b[0]&1))
	case typeDouble:
		return cmpFloat(math.Float64frombits(binary.BigEndian.Uint64(a)), math.Float64frombits(binary.BigEndian.Uint64(b)))
	case typeFloat:
		return cmpFloat(float64(math.Float32frombits(binary.BigEndian.Uint32(a))), float64(math.Float32frombits(binary.BigEndian.Uint32(b))))
	case typeTimeUUID:
		// Cassandra orders timeuuids by their timestamp first.
		if c := cmpInt64(uuidTime(a), uuidTime(b)); c != 0 {
			return c
		}
		return bytes.Compare(a, b)
	case typeList, typeSet, typeMap:
		ea, err1 := decodeCollection(t, a)
		eb, err2 := decodeCollection(t, b)
		if err1 != nil || err2 != nil {
			return bytes.Compare(a, b)
		}
		for i := 0; i < len(ea) && i < len(eb); i++ {
			et := t.elem
			if t.id == typeMap && i%2 == 0 {
				et = t.key
			}
			if c := compareValues(et, ea[i], eb[i]); c != 0 {
				return c
			}
		}
		return cmpInt(len(ea), len(eb))
	}
	return bytes.Compare(a, b)
}

func uuidTime(u []byte) int64 {
	hi := int64(binary.BigEndian.Uint16(u[6:8]) & 0x0fff)
	mid := int64(binary.BigEndian.Uint16(u[4:6]))
	lo := int64(binary.BigEndian.Uint32(u[0:4]))
	return hi<<48 | mid<<32 | lo
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case a == b:
		return 0
	}
	// NaNs sort after everything, consistently.
	return cmpInt(btoi(math.IsNaN(a)), btoi(math.IsNaN(b)))
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Encoders for values the server itself produces (system tables, [applied]).

func encText(s string) []byte { return []byte(s) }

func encInt(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

func encBigint(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

func encBool(v bool) []byte {
	if v {
		return []byte{1}
	}
	return []byte{0}
}

func encDouble(v float64) []byte { return binary.BigEndian.AppendUint64(nil, math.Float64bits(v)) }

func encInet(ip net.IP) []byte {
	if v4 := ip.To4(); v4 != nil {
		return []byte(v4)
	}
	return []byte(ip.To16())
}

func encTextCollection(id uint16, items []string) []byte {
	elems := make([][]byte, len(items))
	for i, s := range items {
		elems[i] = []byte(s)
	}
	if id == typeSet {
		sort.Slice(elems, func(i, j int) bool { return bytes.Compare(elems[i], elems[j]) < 0 })
	}
	return encodeCollection(elems, len(elems))
}

func encTextMap(m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	elems := make([][]byte, 0, 2*len(keys))
	for _, k := range keys {
		elems = append(elems, []byte(k), []byte(m[k]))
	}
	return encodeCollection(elems, len(keys))
}

func decInt(b []byte) (int64, bool) {
	switch len(b) {
	case 4:
		return int64(int32(binary.BigEndian.Uint32(b))), true
	case 8:
		return int64(binary.BigEndian.Uint64(b)), true
	}
	return 0, false
}

// literal is a constant written in a statement.
type literal struct {
	kind  litKind
	text  string     // strings, numbers (as written), uuids, blobs (hex), function names
	elems []*literal // collection literals: lists, sets; maps alternate key and value
}

type litKind int

const (
	litString litKind = iota
	litInt
	litFloat
	litBool
	litNull
	litUUID
	litBlob
	litList
	litSet // also the empty {} which may be a map
	litMap
	litFunc // now(), uuid(), toTimestamp(now()), currentTimestamp()
)

// literalBytes serializes l as a value of type t, following Cassandra's
// rules of which literals each type accepts.
func literalBytes(t *cqlType, l *literal, now time.Time) ([]byte, error) {
	if l.kind == litNull {
		return nil, nil
	}
	bad := func() error {
		return fmt.Errorf("invalid literal %s for a value of type %s", l.describe(), t)
	}
	switch l.kind {
	case litFunc:
		return funcBytes(t, l.text, now)
	}
	switch t.id {
	case typeVarchar, typeASCII:
		if l.kind != litString {
			return nil, bad()
		}
		return []byte(l.text), nil
	case typeBigint, typeInt, typeSmallint, typeTinyint, typeCounter:
		if l.kind != litInt {
			return nil, bad()
		}
		bits := map[uint16]int{typeBigint: 64, typeCounter: 64, typeInt: 32, typeSmallint: 16, typeTinyint: 8}[t.id]
		v, err := strconv.ParseInt(l.text, 10, bits)
		if err != nil {
			return nil, fmt.Errorf("invalid %s literal %s: out of range", t, l.text)
		}
		switch bits {
		case 64:
			return encBigint(v), nil
		case 32:
			return encInt(int32(v)), nil
		case 16:
			return binary.BigEndian.AppendUint16(nil, uint16(v)), nil
		}
		return []byte{byte(int8(v))}, nil
	case typeDouble, typeFloat:
		if l.kind != litInt && l.kind != litFloat {
			return nil, bad()
		}
		v, err := strconv.ParseFloat(l.text, 64)
		if err != nil {
			return nil, bad()
		}
		if t.id == typeFloat {
			return binary.BigEndian.AppendUint32(nil, math.Float32bits(float32(v))), nil
		}
		return encDouble(v), nil
	case typeBoolean:
		if l.kind != litBool {
			return nil, bad()
		}
		return encBool(strings.EqualFold(l.text, "true")), nil
	case typeTimestamp:
		switch l.kind {
		case litInt:
			v, err := strconv.ParseInt(l.text, 10, 64)
			if err != nil {
				return nil, bad()
			}
			return encBigint(v), nil
		case litString:
			ts, err := parseTimestamp(l.text)
			if err != nil {
				return nil, err
			}
			return encBigint(ts.UnixMilli()), nil
		}
		return nil, bad()
	case typeUUID, typeTimeUUID:
		if l.kind != litUUID {
			return nil, bad()
		}
		b, err := hex.DecodeString(strings.ReplaceAll(l.text, "-", ""))
		if err != nil || len(b) != 16 {
			return nil, bad()
		}
		if t.id == typeTimeUUID && b[6]>>4 != 1 {
			return nil, fmt.Errorf("invalid timeuuid %s: not a version 1 uuid", l.text)
		}
		return b, nil
	case typeBlob:
		if l.kind != litBlob {
			return nil, bad()
		}
		b, err := hex.DecodeString(l.text)
		if err != nil {
			return nil, bad()
		}
		return b, nil
	case typeInet:
		if l.kind != litString {
			return nil, bad()
		}
		ip := net.ParseIP(l.text)
		if ip == nil {
			return nil, fmt.Errorf("invalid inet literal '%s'", l.text)
		}
		return encInet(ip), nil
	case typeDate:
		if l.kind != litString {
			return nil, bad()
		}
		d, err := time.Parse("2006-01-02", l.text)
		if err != nil {
			return nil, fmt.Errorf("invalid date literal '%s'", l.text)
		}
		days := d.Unix() / 86400
		return binary.BigEndian.AppendUint32(nil, uint32(days+(1<<31))), nil
	case typeList, typeSet:
		if l.kind != litList && l.kind != litSet {
			return nil, bad()
		}
		if (t.id == typeList) != (l.kind == litList) && len(l.elems) > 0 {
			return nil, bad()
		}
		elems := make([][]byte, len(l.elems))
		for i, e := range l.elems {
			if e.kind == litNull {
				return nil, fmt.Errorf("null is not supported inside collections")
			}
			b, err := literalBytes(t.elem, e, now)
			if err != nil {
				return nil, err
			}
			elems[i] = b
		}
		return validate(t, encodeCollection(elems, len(elems)))
	case typeMap:
		if l.kind != litMap && !(l.kind == litSet && len(l.elems) == 0) {
			return nil, bad()
		}
		elems := make([][]byte, len(l.elems))
		for i, e := range l.elems {
			et := t.elem
			if i%2 == 0 {
				et = t.key
			}
			if e.kind == litNull {
				return nil, fmt.Errorf("null is not supported inside collections")
			}
			b, err := literalBytes(et, e, now)
			if err != nil {
				return nil, err
			}
			elems[i] = b
		}
		return validate(t, encodeCollection(elems, len(elems)/2))
	}
	return nil, bad()
}

func (l *literal) describe() string {
	switch l.kind {
	case litString:
		return "'" + strings.ReplaceAll(l.text, "'", "''") + "'"
	case litBlob:
		return "0x" + l.text
	case litList:
		return "[...]"
	case litSet, litMap:
		return "{...}"
	case litFunc:
		return l.text + "()"
	case litNull:
		return "null"
	}
	return l.text
}

// funcBytes evaluates the few argument-less functions statements use for
// values.
func funcBytes(t *cqlType, name string, now time.Time) ([]byte, error) {
	switch name {
	case "now":
		if t.id != typeTimeUUID && t.id != typeUUID {
			return nil, fmt.Errorf("now() returns a timeuuid, not a %s", t)
		}
		return timeUUID(now), nil
	case "uuid":
		if t.id != typeUUID {
			return nil, fmt.Errorf("uuid() returns a uuid, not a %s", t)
		}
		return randomUUID(), nil
	case "totimestamp(now)", "currenttimestamp":
		if t.id != typeTimestamp {
			return nil, fmt.Errorf("%s() returns a timestamp, not a %s", name, t)
		}
		return encBigint(now.UnixMilli()), nil
	}
	return nil, fmt.Errorf("unsupported function %s()", name)
}

var timestampLayouts = []string{
	"2006-01-02T15:04:05.000Z07:00",
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02 15:04:05.000Z07:00",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02T15:04:05.000Z0700",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02 15:04:05.000Z0700",
	"2006-01-02 15:04:05Z0700",
	"2006-01-02T15:04:05.000",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05.000",
	"2006-01-02 15:04:05",
	"2006-01-02",
}

func parseTimestamp(s string) (time.Time, error) {
	for _, layout := range timestampLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unable to parse a date/time from '%s'", s)
}
