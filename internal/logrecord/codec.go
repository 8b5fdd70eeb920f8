package logrecord

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
)

// SchemaVersion is written as field 1 of every encoded record. It changes only
// for an incompatible change that older decoders must refuse; adding a field
// with a new number does not change it (old decoders skip unknown fields).
const SchemaVersion = 1

// Errors returned by Decode and Validate; test with errors.Is.
var (
	// ErrMalformed: the bytes are not an encoded record this version can read.
	ErrMalformed = errors.New("logrecord: malformed record")
	// ErrInvalid: the record decodes but must not be loaded.
	ErrInvalid = errors.New("logrecord: invalid record")
)

// Field numbers, as declared in schema/logrecord/v1/record.proto. Never
// renumber or reuse one: encoded records live on in Kafka and spools.
const (
	fieldSchemaVersion     protowire.Number = 1
	fieldRequestID         protowire.Number = 2
	fieldTraceID           protowire.Number = 3
	fieldStartedAt         protowire.Number = 4
	fieldNodeID            protowire.Number = 5
	fieldWorkspace         protowire.Number = 6
	fieldServiceID         protowire.Number = 7
	fieldRouteID           protowire.Number = 8
	fieldRoutePath         protowire.Number = 9
	fieldConsumerID        protowire.Number = 10
	fieldCredentialID      protowire.Number = 11
	fieldMethod            protowire.Number = 12
	fieldProtocol          protowire.Number = 13
	fieldHost              protowire.Number = 14
	fieldPath              protowire.Number = 15
	fieldClientIP          protowire.Number = 16
	fieldUserAgent         protowire.Number = 17
	fieldStatus            protowire.Number = 18
	fieldUpstreamStatus    protowire.Number = 19
	fieldResponder         protowire.Number = 20
	fieldUpstreamTries     protowire.Number = 21
	fieldUpstreamAddr      protowire.Number = 22
	fieldLatencyTotalMs    protowire.Number = 23
	fieldLatencyGatewayMs  protowire.Number = 24
	fieldLatencyUpstreamMs protowire.Number = 25
	fieldRequestBytes      protowire.Number = 26
	fieldResponseBytes     protowire.Number = 27
	fieldAuthOutcome       protowire.Number = 28
	fieldRateLimitOutcome  protowire.Number = 29
	fieldErrorClass        protowire.Number = 30
	fieldBillable          protowire.Number = 31
	fieldBillingUnits      protowire.Number = 32
)

// Append appends the encoding of r to dst and returns the extended slice.
//
// As in proto3, zero values are left out, so a record costs only what it
// carries. Go ints are written as int64 varints so every value round-trips.
// Floats are written unless their bits are zero, so -0 and NaN survive too.
func Append(dst []byte, r *Record) []byte {
	dst = protowire.AppendTag(dst, fieldSchemaVersion, protowire.VarintType)
	dst = protowire.AppendVarint(dst, SchemaVersion)

	dst = appendString(dst, fieldRequestID, r.RequestID)
	dst = appendString(dst, fieldTraceID, r.TraceID)
	dst = appendInt(dst, fieldStartedAt, r.StartedAt)
	dst = appendString(dst, fieldNodeID, r.NodeID)

	dst = appendString(dst, fieldWorkspace, r.Workspace)
	dst = appendString(dst, fieldServiceID, r.ServiceID)
	dst = appendString(dst, fieldRouteID, r.RouteID)
	dst = appendString(dst, fieldRoutePath, r.RoutePath)
	dst = appendString(dst, fieldConsumerID, r.ConsumerID)
	dst = appendString(dst, fieldCredentialID, r.CredentialID)

	dst = appendString(dst, fieldMethod, r.Method)
	dst = appendString(dst, fieldProtocol, r.Protocol)
	dst = appendString(dst, fieldHost, r.Host)
	dst = appendString(dst, fieldPath, r.Path)
	dst = appendString(dst, fieldClientIP, r.ClientIP)
	dst = appendString(dst, fieldUserAgent, r.UserAgent)

	dst = appendInt(dst, fieldStatus, int64(r.Status))
	dst = appendInt(dst, fieldUpstreamStatus, int64(r.UpstreamStatus))
	dst = appendString(dst, fieldResponder, r.Responder)
	dst = appendInt(dst, fieldUpstreamTries, int64(r.UpstreamTries))
	dst = appendString(dst, fieldUpstreamAddr, r.UpstreamAddr)

	dst = appendDouble(dst, fieldLatencyTotalMs, r.LatencyTotalMs)
	dst = appendDouble(dst, fieldLatencyGatewayMs, r.LatencyGatewayMs)
	dst = appendDouble(dst, fieldLatencyUpstreamMs, r.LatencyUpstreamMs)

	dst = appendInt(dst, fieldRequestBytes, r.RequestBytes)
	dst = appendInt(dst, fieldResponseBytes, r.ResponseBytes)

	dst = appendString(dst, fieldAuthOutcome, r.AuthOutcome)
	dst = appendString(dst, fieldRateLimitOutcome, r.RateLimitOutcome)
	dst = appendString(dst, fieldErrorClass, r.ErrorClass)

	if r.Billable {
		dst = protowire.AppendTag(dst, fieldBillable, protowire.VarintType)
		dst = protowire.AppendVarint(dst, 1)
	}
	dst = appendInt(dst, fieldBillingUnits, r.BillingUnits)
	return dst
}

// appendString writes s as valid UTF-8, as proto3 requires of a string:
// each run of bytes that is not UTF-8 becomes U+FFFD. Request fields such
// as the User-Agent or the path are whatever bytes the client sent.
func appendString(dst []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, string(utf8.RuneError))
	}
	return protowire.AppendString(dst, s)
}

func appendInt(dst []byte, num protowire.Number, v int64) []byte {
	if v == 0 {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.VarintType)
	return protowire.AppendVarint(dst, uint64(v))
}

func appendDouble(dst []byte, num protowire.Number, v float64) []byte {
	bits := math.Float64bits(v)
	if bits == 0 {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(dst, bits)
}

// Decode resets *r and fills it from b, an encoding made by Append (of this or
// a later version with the same SchemaVersion). Unknown fields are skipped so
// that records from newer producers still load. Anything it cannot read
// returns an error wrapping ErrMalformed that says what and where; Decode
// never panics on any input.
//
// Strings in r share one allocation holding a copy of b, so r does not alias
// b and b may be reused as soon as Decode returns.
func Decode(b []byte, r *Record) error { return decode(b, r, false) }

// DecodeShared is Decode without the copy: the strings in r point into b,
// and Decode's allocation per record is saved. The caller must not modify b
// for as long as r's strings (or copies of them) are in use; a consumer that
// owns each message's bytes and never writes to them (the collector, until
// the batch holding them is inserted) may use it.
func DecodeShared(b []byte, r *Record) error { return decode(b, r, true) }

func decode(b []byte, r *Record, shared bool) error {
	*r = Record{}
	// One string conversion of the whole input instead of one per field:
	// decoding a typical record then allocates once for all its strings,
	// or not at all when the strings may share b.
	var all string
	seenVersion := false
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return malformed(off, 0, "field tag", protowire.ParseError(n))
		}
		start := off
		off += n
		want, known := fieldType(num)
		if !known {
			m := protowire.ConsumeFieldValue(num, typ, b[off:])
			if m < 0 {
				return malformed(start, num, "unknown field", protowire.ParseError(m))
			}
			off += m
			continue
		}
		if typ != want {
			return fmt.Errorf("%w: field %d at offset %d: wire type %d, want %d", ErrMalformed, num, start, typ, want)
		}
		switch typ {
		case protowire.VarintType:
			v, m := protowire.ConsumeVarint(b[off:])
			if m < 0 {
				return malformed(start, num, "varint", protowire.ParseError(m))
			}
			off += m
			if num == fieldSchemaVersion {
				seenVersion = true
				if v == 0 || v > SchemaVersion {
					return fmt.Errorf("%w: schema version %d, this decoder reads 1..%d", ErrMalformed, v, SchemaVersion)
				}
				continue
			}
			setVarint(r, num, v)
		case protowire.Fixed64Type:
			v, m := protowire.ConsumeFixed64(b[off:])
			if m < 0 {
				return malformed(start, num, "fixed64", protowire.ParseError(m))
			}
			off += m
			setDouble(r, num, math.Float64frombits(v))
		case protowire.BytesType:
			v, m := protowire.ConsumeBytes(b[off:])
			if m < 0 {
				return malformed(start, num, "length-delimited value", protowire.ParseError(m))
			}
			if !utf8.Valid(v) {
				// Another producer's record: repaired as Append would
				// have written it, not refused (it is still a request
				// to count and bill).
				off += m
				setString(r, num, strings.ToValidUTF8(string(v), string(utf8.RuneError)))
				continue
			}
			if all == "" {
				if shared {
					all = unsafe.String(unsafe.SliceData(b), len(b))
				} else {
					all = string(b)
				}
			}
			vStart := off + m - len(v)
			off += m
			setString(r, num, all[vStart:off])
		}
	}
	if !seenVersion {
		return fmt.Errorf("%w: no schema version (field 1)", ErrMalformed)
	}
	return nil
}

func malformed(off int, num protowire.Number, what string, err error) error {
	if num == 0 {
		return fmt.Errorf("%w: %s at offset %d: %v", ErrMalformed, what, off, err)
	}
	return fmt.Errorf("%w: field %d at offset %d: %s: %v", ErrMalformed, num, off, what, err)
}

// fieldType reports the wire type of a known field number.
func fieldType(num protowire.Number) (protowire.Type, bool) {
	switch num {
	case fieldSchemaVersion, fieldStartedAt, fieldStatus, fieldUpstreamStatus,
		fieldUpstreamTries, fieldRequestBytes, fieldResponseBytes,
		fieldBillable, fieldBillingUnits:
		return protowire.VarintType, true
	case fieldLatencyTotalMs, fieldLatencyGatewayMs, fieldLatencyUpstreamMs:
		return protowire.Fixed64Type, true
	case fieldRequestID, fieldTraceID, fieldNodeID, fieldWorkspace, fieldServiceID,
		fieldRouteID, fieldRoutePath, fieldConsumerID, fieldCredentialID,
		fieldMethod, fieldProtocol, fieldHost, fieldPath, fieldClientIP,
		fieldUserAgent, fieldResponder, fieldUpstreamAddr, fieldAuthOutcome,
		fieldRateLimitOutcome, fieldErrorClass:
		return protowire.BytesType, true
	}
	return 0, false
}

func setVarint(r *Record, num protowire.Number, v uint64) {
	switch num {
	case fieldStartedAt:
		r.StartedAt = int64(v)
	case fieldStatus:
		r.Status = int(int64(v))
	case fieldUpstreamStatus:
		r.UpstreamStatus = int(int64(v))
	case fieldUpstreamTries:
		r.UpstreamTries = int(int64(v))
	case fieldRequestBytes:
		r.RequestBytes = int64(v)
	case fieldResponseBytes:
		r.ResponseBytes = int64(v)
	case fieldBillable:
		r.Billable = protowire.DecodeBool(v)
	case fieldBillingUnits:
		r.BillingUnits = int64(v)
	}
}

func setDouble(r *Record, num protowire.Number, v float64) {
	switch num {
	case fieldLatencyTotalMs:
		r.LatencyTotalMs = v
	case fieldLatencyGatewayMs:
		r.LatencyGatewayMs = v
	case fieldLatencyUpstreamMs:
		r.LatencyUpstreamMs = v
	}
}

func setString(r *Record, num protowire.Number, s string) {
	switch num {
	case fieldRequestID:
		r.RequestID = s
	case fieldTraceID:
		r.TraceID = s
	case fieldNodeID:
		r.NodeID = s
	case fieldWorkspace:
		r.Workspace = s
	case fieldServiceID:
		r.ServiceID = s
	case fieldRouteID:
		r.RouteID = s
	case fieldRoutePath:
		r.RoutePath = s
	case fieldConsumerID:
		r.ConsumerID = s
	case fieldCredentialID:
		r.CredentialID = s
	case fieldMethod:
		r.Method = s
	case fieldProtocol:
		r.Protocol = s
	case fieldHost:
		r.Host = s
	case fieldPath:
		r.Path = s
	case fieldClientIP:
		r.ClientIP = s
	case fieldUserAgent:
		r.UserAgent = s
	case fieldResponder:
		r.Responder = s
	case fieldUpstreamAddr:
		r.UpstreamAddr = s
	case fieldAuthOutcome:
		r.AuthOutcome = s
	case fieldRateLimitOutcome:
		r.RateLimitOutcome = s
	case fieldErrorClass:
		r.ErrorClass = s
	}
}

// HeaderResent is the Kafka message header (value "1") a gateway node sets
// on a record that may have been written to the topic before: one it sends
// again from its spool after a write that failed or timed out, whose
// outcome it cannot know. The collector checks such records against what
// it has loaded, by request id, so that a resend is not counted twice.
const HeaderResent = "tollgate-resent"
