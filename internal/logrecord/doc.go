// Package logrecord defines the request log record: one per request a gateway
// node proxies or rejects, the unit that analytics counts and billing meters.
//
// It owns the record's Go type, its wire encoding (protobuf wire format as
// described by schema/logrecord/v1/record.proto, hand-written with protowire
// so there is no generated code and no reflection on the request path) and
// the rule for which records may be loaded (Validate).
//
// It must not know where records are sent or stored, and must never put
// secrets (credential keys, passwords, tokens) into a record.
package logrecord
