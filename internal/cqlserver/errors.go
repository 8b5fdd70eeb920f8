package cqlserver

import "fmt"

// Error codes of the native protocol (v4 spec §9).
const (
	errServer        int32 = 0x0000
	errProtocol      int32 = 0x000A
	errSyntax        int32 = 0x2000
	errUnauthorized  int32 = 0x2100
	errInvalid       int32 = 0x2200
	errConfig        int32 = 0x2300
	errAlreadyExists int32 = 0x2400
	errUnprepared    int32 = 0x2500
)

// cqlError is an error the server answers with an ERROR frame.
type cqlError struct {
	code int32
	msg  string
	// already exists: keyspace and table; unprepared: the statement id.
	ks, table string
	id        []byte
}

func (e *cqlError) Error() string { return fmt.Sprintf("cql error 0x%04x: %s", e.code, e.msg) }

func invalidf(format string, args ...any) *cqlError {
	return &cqlError{code: errInvalid, msg: fmt.Sprintf(format, args...)}
}

func protocolf(format string, args ...any) *cqlError {
	return &cqlError{code: errProtocol, msg: fmt.Sprintf(format, args...)}
}

func unsupportedf(format string, args ...any) *cqlError {
	return &cqlError{code: errInvalid, msg: "cqlserver does not support " + fmt.Sprintf(format, args...) + " (it is an in-memory test server implementing the subset of CQL Tollgate uses)"}
}
