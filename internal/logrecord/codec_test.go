package logrecord

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"google.golang.org/protobuf/encoding/protowire"
)

// fullRecord sets every field, with realistic values, so that round trips and
// benchmarks exercise the whole schema.
func fullRecord() Record {
	return Record{
		RequestID:         "6f1c2b7e-8a4d-4c1e-9f5b-2d3a4e5f6a7b",
		TraceID:           "4bf92f3577b34da6a3ce929d0e0e4736",
		StartedAt:         1767225600123,
		NodeID:            "gw-eu-west-1a-3",
		Workspace:         "default",
		ServiceID:         "0f3a9d52-3c1b-4e7a-8d6f-1a2b3c4d5e6f",
		RouteID:           "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
		RoutePath:         "/v1/orders/{id}",
		ConsumerID:        "c0ffee00-1234-4abc-8def-0123456789ab",
		CredentialID:      "deadbeef-0000-4111-8222-333344445555",
		Method:            "POST",
		Protocol:          "https",
		Host:              "api.example.com",
		Path:              "/v1/orders/12345",
		ClientIP:          "203.0.113.42",
		UserAgent:         "Mozilla/5.0 (X11; Linux x86_64) ünïcode/1.0",
		Status:            201,
		UpstreamStatus:    201,
		Responder:         "upstream",
		UpstreamTries:     2,
		UpstreamAddr:      "10.0.3.17:8080",
		LatencyTotalMs:    12.75,
		LatencyGatewayMs:  0.41,
		LatencyUpstreamMs: 12.34,
		RequestBytes:      812,
		ResponseBytes:     1 << 20,
		AuthOutcome:       "authenticated",
		RateLimitOutcome:  "allowed",
		ErrorClass:        "",
		Billable:          true,
		BillingUnits:      3,
	}
}

func TestRoundTrip(t *testing.T) {
	extreme := fullRecord()
	extreme.Status = -1
	extreme.UpstreamTries = math.MaxInt
	extreme.RequestBytes = math.MinInt64
	extreme.LatencyTotalMs = math.Copysign(0, -1)
	extreme.LatencyGatewayMs = math.Inf(1)
	extreme.ErrorClass = "timeout"

	tests := []struct {
		name string
		rec  Record
	}{
		{"full", fullRecord()},
		{"zero", Record{}},
		{"extreme values", extreme},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Append(nil, &tt.rec)
			got := fullRecord() // not zero: Decode must reset it
			if err := Decode(b, &got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.rec) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, tt.rec)
			}
			if math.Signbit(got.LatencyTotalMs) != math.Signbit(tt.rec.LatencyTotalMs) {
				t.Fatalf("sign of -0 lost")
			}
		})
	}
}

func TestAppendKeepsPrefix(t *testing.T) {
	r := fullRecord()
	prefix := []byte("prefix")
	b := Append(append([]byte(nil), prefix...), &r)
	if !bytes.HasPrefix(b, prefix) {
		t.Fatalf("Append overwrote dst")
	}
	var got Record
	if err := Decode(b[len(prefix):], &got); err != nil || got != r {
		t.Fatalf("Decode after prefix: %v", err)
	}
}

func TestDecodeDoesNotAlias(t *testing.T) {
	r := fullRecord()
	b := Append(nil, &r)
	var got Record
	if err := Decode(b, &got); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'x'
	}
	if got != r {
		t.Fatalf("decoded record changed when its input was overwritten")
	}
}

func TestDecodeSharedAliases(t *testing.T) {
	r := fullRecord()
	b := Append(nil, &r)
	var got Record
	if err := DecodeShared(b, &got); err != nil {
		t.Fatal(err)
	}
	if got != r {
		t.Fatalf("DecodeShared = %+v; want %+v", got, r)
	}
	if testing.AllocsPerRun(100, func() { _ = DecodeShared(b, &got) }) != 0 {
		t.Errorf("DecodeShared allocates")
	}
	for i := range b {
		b[i] = 'x'
	}
	if got.RequestID == r.RequestID {
		t.Fatalf("DecodeShared copied the request id; want it to share the input")
	}
}

func TestDecodeSkipsUnknownFields(t *testing.T) {
	r := fullRecord()
	var unknown []byte
	unknown = protowire.AppendTag(unknown, 100, protowire.VarintType)
	unknown = protowire.AppendVarint(unknown, 1<<40)
	unknown = protowire.AppendTag(unknown, 101, protowire.Fixed32Type)
	unknown = protowire.AppendFixed32(unknown, 7)
	unknown = protowire.AppendTag(unknown, 102, protowire.Fixed64Type)
	unknown = protowire.AppendFixed64(unknown, 9)
	unknown = protowire.AppendTag(unknown, 103, protowire.BytesType)
	unknown = protowire.AppendBytes(unknown, []byte{0xff, 0xfe}) // not UTF-8: unknown bytes are not checked
	unknown = protowire.AppendTag(unknown, 104, protowire.StartGroupType)
	unknown = protowire.AppendTag(unknown, 1, protowire.VarintType)
	unknown = protowire.AppendVarint(unknown, 5)
	unknown = protowire.AppendTag(unknown, 104, protowire.EndGroupType)

	enc := Append(nil, &r)
	tests := []struct {
		name string
		in   []byte
	}{
		{"after", append(append([]byte(nil), enc...), unknown...)},
		{"before", append(append([]byte(nil), unknown...), enc...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Record
			if err := Decode(tt.in, &got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got != r {
				t.Fatalf("got %+v, want %+v", got, r)
			}
		})
	}
}

// versionPrefix is a valid field 1, so that malformed cases fail where they
// mean to and not for a missing version.
var versionPrefix = []byte{0x08, 0x01}

func withVersion(b ...byte) []byte { return append(append([]byte(nil), versionPrefix...), b...) }

func malformedCases() []struct {
	name string
	in   []byte
	want string
} {
	return []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "no schema version"},
		{"no version", []byte{0x12, 0x01, 'a'}, "no schema version"},
		{"version 0", []byte{0x08, 0x00}, "schema version 0"},
		{"version 2", []byte{0x08, 0x02}, "schema version 2"},
		{"truncated tag", withVersion(0x80), "field tag"},
		{"field number 0", withVersion(0x00), "field tag"},
		{"truncated varint", withVersion(0x20, 0x80), "field 4 at offset 2: varint"},
		{"varint overflow", withVersion(0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), "varint"},
		{"truncated version", []byte{0x08}, "field 1 at offset 0: varint"},
		{"bad wire type for string", withVersion(0x10, 0x01), "field 2 at offset 2: wire type 0, want 2"},
		{"bad wire type for int", withVersion(0x22, 0x01, 'a'), "field 4 at offset 2: wire type 2, want 0"},
		{"bad wire type for double", withVersion(0xb8, 0x01, 0x01), "field 23 at offset 2: wire type 0, want 1"},
		{"length past end", withVersion(0x12, 0x0a, 'a', 'b'), "field 2 at offset 2: length-delimited value"},
		{"truncated fixed64", withVersion(0xb9, 0x01, 0x00, 0x00), "field 23 at offset 2: fixed64"},
		{"unknown field truncated", withVersion(0xa2, 0x06, 0x05, 'a'), "field 100 at offset 2: unknown field"},
		{"lone end group", withVersion(0xa4, 0x06), "field 100 at offset 2: unknown field"},
		{"reserved wire type", withVersion(0xa6, 0x06), "unknown field"},
	}
}

func TestDecodeMalformed(t *testing.T) {
	for _, tt := range malformedCases() {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			err := Decode(tt.in, &r)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode(%x) = %v, want ErrMalformed", tt.in, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// A client's bytes that are not UTF-8 (a Latin-1 User-Agent, a path with
// %FF decoded) are written as U+FFFD, so that every protobuf library reads
// the record; a record of another producer with such a string is repaired
// the same way by Decode, not refused: it is still a request to count.
func TestInvalidUTF8IsRepaired(t *testing.T) {
	r := fullRecord()
	r.UserAgent = "caf\xe9 client"
	r.Path = "/v1/\xff\xfe/items"
	var back Record
	if err := Decode(Append(nil, &r), &back); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if back.UserAgent != "caf\uFFFD client" || back.Path != "/v1/\uFFFD/items" {
		t.Errorf("user agent %q, path %q; want the invalid bytes as U+FFFD", back.UserAgent, back.Path)
	}
	want := r
	want.UserAgent, want.Path = back.UserAgent, back.Path
	if back != want {
		t.Errorf("other fields changed:\n got %+v\nwant %+v", back, want)
	}

	foreign := withVersion(0x12, 0x02, 0xc3, 0x28) // request_id "\xc3("
	for _, decode := range []func([]byte, *Record) error{Decode, DecodeShared} {
		var got Record
		if err := decode(foreign, &got); err != nil || got.RequestID != "\uFFFD(" {
			t.Errorf("foreign record: request id %q, %v; want \"\uFFFD(\"", got.RequestID, err)
		}
	}
}

// protoField is one line `type name = N;` of record.proto.
type protoField struct {
	typ string
	num int
}

func parseProto(t *testing.T, path string) map[string]protoField {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	line := regexp.MustCompile(`^\s*(\w+)\s+(\w+)\s*=\s*(\d+)\s*;`)
	fields := map[string]protoField{}
	nums := map[int]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		num, _ := strconv.Atoi(m[3])
		if _, dup := fields[m[2]]; dup {
			t.Errorf("%s: field %s declared twice", path, m[2])
		}
		if other, dup := nums[num]; dup {
			t.Errorf("%s: number %d used by %s and %s", path, num, other, m[2])
		}
		fields[m[2]] = protoField{typ: m[1], num: num}
		nums[num] = m[2]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return fields
}

// snake turns a Go field name into its schema name: RequestID → request_id,
// LatencyTotalMs → latency_total_ms.
func snake(s string) string {
	rs := []rune(s)
	var b strings.Builder
	for i, r := range rs {
		if i > 0 && unicode.IsUpper(r) &&
			(unicode.IsLower(rs[i-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]))) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// TestProtoMatchesCodec keeps record.proto, the Go type and the codec in step:
// every Go field has exactly one proto field of the matching type, and the
// codec writes it under that number.
func TestProtoMatchesCodec(t *testing.T) {
	proto := parseProto(t, "../../schema/logrecord/v1/record.proto")
	if got, want := proto["schema_version"], (protoField{"uint32", 1}); got != want {
		t.Errorf("schema_version = %+v, want %+v", got, want)
	}
	protoType := map[reflect.Kind]string{
		reflect.String: "string", reflect.Int: "int64", reflect.Int64: "int64",
		reflect.Float64: "double", reflect.Bool: "bool",
	}
	wireType := map[string]protowire.Type{
		"string": protowire.BytesType, "int64": protowire.VarintType,
		"double": protowire.Fixed64Type, "bool": protowire.VarintType,
	}
	typ := reflect.TypeFor[Record]()
	seen := map[string]bool{"schema_version": true}
	for i := range typ.NumField() {
		sf := typ.Field(i)
		name := snake(sf.Name)
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			pf, ok := proto[name]
			if !ok {
				t.Fatalf("Go field %s has no proto field %s", sf.Name, name)
			}
			if want := protoType[sf.Type.Kind()]; pf.typ != want {
				t.Fatalf("proto type %s, Go kind %s wants %s", pf.typ, sf.Type.Kind(), want)
			}
			// Set only this field and see which number the codec writes.
			var r Record
			v := reflect.ValueOf(&r).Elem().Field(i)
			switch v.Kind() {
			case reflect.String:
				v.SetString("x")
			case reflect.Int, reflect.Int64:
				v.SetInt(7)
			case reflect.Float64:
				v.SetFloat(1.5)
			case reflect.Bool:
				v.SetBool(true)
			default:
				t.Fatalf("unexpected kind %s", v.Kind())
			}
			b := Append(nil, &r)
			var nums []protowire.Number
			for len(b) > 0 {
				num, wt, n := protowire.ConsumeField(b)
				if n < 0 {
					t.Fatalf("codec wrote unparsable bytes: %v", protowire.ParseError(n))
				}
				if num != fieldSchemaVersion {
					nums = append(nums, num)
					if wt != wireType[pf.typ] {
						t.Errorf("codec writes wire type %d, proto type %s needs %d", wt, pf.typ, wireType[pf.typ])
					}
				}
				b = b[n:]
			}
			if len(nums) != 1 || int(nums[0]) != pf.num {
				t.Fatalf("codec writes field numbers %v, proto says %d", nums, pf.num)
			}
		})
	}
	for name := range proto {
		if !seen[name] {
			t.Errorf("proto field %s has no Go field", name)
		}
	}
}

func FuzzDecode(f *testing.F) {
	full := fullRecord()
	f.Add(Append(nil, &full))
	f.Add(Append(nil, &Record{}))
	f.Add([]byte("garbage that is not a record"))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	for _, tt := range malformedCases() {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r, shared Record
		err := Decode(b, &r)
		// Compared by encoding: a NaN latency is not equal to itself.
		errShared := DecodeShared(b, &shared)
		if (err == nil) != (errShared == nil) || err == nil && !bytes.Equal(Append(nil, &shared), Append(nil, &r)) {
			t.Fatalf("DecodeShared = %+v, %v; Decode = %+v, %v", shared, errShared, r, err)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		enc := Append(nil, &r)
		var r2 Record
		if err := Decode(enc, &r2); err != nil {
			t.Fatalf("re-decoding our own encoding: %v", err)
		}
		if again := Append(nil, &r2); !bytes.Equal(enc, again) {
			t.Fatalf("decode→append not stable:\n%x\n%x", enc, again)
		}
	})
}

// The benchmarks compare the wire encoding with encoding/json of the same
// record; they are the measurement behind choosing protobuf wire format.
func BenchmarkEncode(b *testing.B) {
	r := fullRecord()
	b.Run("protowire", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			buf = Append(buf[:0], &r)
		}
		b.ReportMetric(float64(len(buf)), "bytes/record")
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = json.Marshal(&r); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(buf)), "bytes/record")
	})
}

func BenchmarkDecode(b *testing.B) {
	r := fullRecord()
	b.Run("protowire", func(b *testing.B) {
		enc := Append(nil, &r)
		b.ReportAllocs()
		var got Record
		for b.Loop() {
			if err := Decode(enc, &got); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(enc)), "bytes/record")
	})
	b.Run("protowire-shared", func(b *testing.B) {
		enc := Append(nil, &r)
		b.ReportAllocs()
		var got Record
		for b.Loop() {
			if err := DecodeShared(enc, &got); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(enc)), "bytes/record")
	})
	b.Run("json", func(b *testing.B) {
		enc, err := json.Marshal(&r)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		var got Record
		for b.Loop() {
			got = Record{}
			if err := json.Unmarshal(enc, &got); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(enc)), "bytes/record")
	})
}
