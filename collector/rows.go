package collector

import (
	"encoding/binary"
	"slices"

	"github.com/ClickHouse/ch-go/proto"

	"github.com/tollgate/tollgate/internal/logrecord"
)

// insertColumns names every column the loader writes, in the order of
// Rows.input. 18.16 rejects an INSERT of a native block without a column
// list, and naming them keeps the loader working when a later migration
// adds a column.
const insertColumns = "request_id, trace_id, started_at, started_at_ms, node_id, workspace, service_id, route_id, route_path, " +
	"consumer_id, credential_id, method, protocol, host, path, client_ip, user_agent, status, upstream_status, responder, " +
	"upstream_tries, upstream_addr, latency_total_ms, latency_gateway_ms, latency_upstream_ms, request_bytes, response_bytes, " +
	"auth_outcome, rate_limit_outcome, error_class, billable, billing_units, kafka_topic, kafka_partition, kafka_offset"

// Rows are records as the collector loads them, with where in Kafka each
// was read, held column by column: the loader encodes these columns into
// the INSERT's native block as they are, with no copy in between, and the
// collector keeps one Rows from batch to batch (Reset keeps the capacity)
// so that a batch of the same size allocates nothing.
//
// Rows keeps the strings it is given, not copies: with
// logrecord.DecodeShared they point into the Kafka message values, which
// nothing writes to, and stay alive until Reset.
type Rows struct {
	requestID, traceID                                []string
	startedAt                                         proto.ColDateTime // seconds
	startedAtMs                                       []int64
	nodeID, workspace, serviceID, routeID, routePath  []string
	consumerID, credentialID                          []string
	method, protocol, host, path, clientIP, userAgent []string
	status, upstreamStatus                            []uint16
	responder                                         []string
	upstreamTries                                     []uint16
	upstreamAddr                                      []string
	latencyTotal, latencyGateway, latencyUpstream     []float64
	requestBytes, responseBytes                       []int64
	authOutcome, rateLimitOutcome, errorClass         []string
	billable                                          []uint8
	billingUnits                                      []int64
	topic                                             []string
	partition                                         []int32
	offset                                            []int64
}

// Len returns the number of rows.
func (rs *Rows) Len() int { return len(rs.requestID) }

// Add appends r, read from topic at partition and offset.
func (rs *Rows) Add(r *logrecord.Record, topic string, partition int, offset int64) {
	rs.requestID = append(rs.requestID, r.RequestID)
	rs.traceID = append(rs.traceID, r.TraceID)
	// Validate keeps StartedAt positive, so division truncates to the
	// second the DateTime column holds.
	rs.startedAt.Data = append(rs.startedAt.Data, proto.DateTime(r.StartedAt/1000))
	rs.startedAtMs = append(rs.startedAtMs, r.StartedAt)
	rs.nodeID = append(rs.nodeID, r.NodeID)
	rs.workspace = append(rs.workspace, r.Workspace)
	rs.serviceID = append(rs.serviceID, r.ServiceID)
	rs.routeID = append(rs.routeID, r.RouteID)
	rs.routePath = append(rs.routePath, r.RoutePath)
	rs.consumerID = append(rs.consumerID, r.ConsumerID)
	rs.credentialID = append(rs.credentialID, r.CredentialID)
	rs.method = append(rs.method, r.Method)
	rs.protocol = append(rs.protocol, r.Protocol)
	rs.host = append(rs.host, r.Host)
	rs.path = append(rs.path, r.Path)
	rs.clientIP = append(rs.clientIP, r.ClientIP)
	rs.userAgent = append(rs.userAgent, r.UserAgent)
	rs.status = append(rs.status, uint16(r.Status))
	rs.upstreamStatus = append(rs.upstreamStatus, uint16(r.UpstreamStatus))
	rs.responder = append(rs.responder, r.Responder)
	rs.upstreamTries = append(rs.upstreamTries, clampUint16(r.UpstreamTries))
	rs.upstreamAddr = append(rs.upstreamAddr, r.UpstreamAddr)
	rs.latencyTotal = append(rs.latencyTotal, r.LatencyTotalMs)
	rs.latencyGateway = append(rs.latencyGateway, r.LatencyGatewayMs)
	rs.latencyUpstream = append(rs.latencyUpstream, r.LatencyUpstreamMs)
	rs.requestBytes = append(rs.requestBytes, r.RequestBytes)
	rs.responseBytes = append(rs.responseBytes, r.ResponseBytes)
	rs.authOutcome = append(rs.authOutcome, r.AuthOutcome)
	rs.rateLimitOutcome = append(rs.rateLimitOutcome, r.RateLimitOutcome)
	rs.errorClass = append(rs.errorClass, r.ErrorClass)
	var billable uint8
	if r.Billable {
		billable = 1
	}
	rs.billable = append(rs.billable, billable)
	rs.billingUnits = append(rs.billingUnits, r.BillingUnits)
	rs.topic = append(rs.topic, topic)
	rs.partition = append(rs.partition, int32(partition))
	rs.offset = append(rs.offset, offset)
}

// RequestID, StartedAt, Partition and Offset return a field of row i.
func (rs *Rows) RequestID(i int) string { return rs.requestID[i] }
func (rs *Rows) StartedAt(i int) int64  { return rs.startedAtMs[i] }
func (rs *Rows) Partition(i int) int    { return int(rs.partition[i]) }
func (rs *Rows) Offset(i int) int64     { return rs.offset[i] }

// Reset empties rs and keeps its capacity. It clears the strings so that
// an idle collector does not hold the last batch's messages.
func (rs *Rows) Reset() { rs.truncate(0) }

// truncate keeps the first n rows.
func (rs *Rows) truncate(n int) {
	rs.each(func(s *[]string) { clear((*s)[n:]); *s = (*s)[:n] })
	rs.startedAt.Data, rs.startedAtMs = rs.startedAt.Data[:n], rs.startedAtMs[:n]
	rs.status, rs.upstreamStatus, rs.upstreamTries = rs.status[:n], rs.upstreamStatus[:n], rs.upstreamTries[:n]
	rs.latencyTotal, rs.latencyGateway, rs.latencyUpstream = rs.latencyTotal[:n], rs.latencyGateway[:n], rs.latencyUpstream[:n]
	rs.requestBytes, rs.responseBytes = rs.requestBytes[:n], rs.responseBytes[:n]
	rs.billable, rs.billingUnits = rs.billable[:n], rs.billingUnits[:n]
	rs.partition, rs.offset = rs.partition[:n], rs.offset[:n]
}

// each calls f with every string column.
func (rs *Rows) each(f func(*[]string)) {
	for _, s := range [...]*[]string{
		&rs.requestID, &rs.traceID, &rs.nodeID, &rs.workspace, &rs.serviceID, &rs.routeID, &rs.routePath,
		&rs.consumerID, &rs.credentialID, &rs.method, &rs.protocol, &rs.host, &rs.path, &rs.clientIP,
		&rs.userAgent, &rs.responder, &rs.upstreamAddr, &rs.authOutcome, &rs.rateLimitOutcome,
		&rs.errorClass, &rs.topic,
	} {
		f(s)
	}
}

// Keep removes the rows for which keep returns false, keeping the order
// of the others, and returns how many it removed.
func (rs *Rows) Keep(keep func(i int) bool) int {
	n := rs.Len()
	kept := 0
	for i := range n {
		if !keep(i) {
			continue
		}
		if kept != i {
			rs.move(kept, i)
		}
		kept++
	}
	rs.truncate(kept)
	return n - kept
}

// move copies row from to row to.
func (rs *Rows) move(to, from int) {
	rs.each(func(s *[]string) { (*s)[to] = (*s)[from] })
	rs.startedAt.Data[to], rs.startedAtMs[to] = rs.startedAt.Data[from], rs.startedAtMs[from]
	rs.status[to], rs.upstreamStatus[to], rs.upstreamTries[to] = rs.status[from], rs.upstreamStatus[from], rs.upstreamTries[from]
	rs.latencyTotal[to], rs.latencyGateway[to], rs.latencyUpstream[to] = rs.latencyTotal[from], rs.latencyGateway[from], rs.latencyUpstream[from]
	rs.requestBytes[to], rs.responseBytes[to] = rs.requestBytes[from], rs.responseBytes[from]
	rs.billable[to], rs.billingUnits[to] = rs.billable[from], rs.billingUnits[from]
	rs.partition[to], rs.offset[to] = rs.partition[from], rs.offset[from]
}

// input returns the columns in the order of insertColumns as the
// INSERT's block: views of rs, valid until rs changes.
func (rs *Rows) input() proto.Input {
	return proto.Input{
		{Name: "request_id", Data: (*colStr)(&rs.requestID)},
		{Name: "trace_id", Data: (*colStr)(&rs.traceID)},
		{Name: "started_at", Data: &rs.startedAt},
		{Name: "started_at_ms", Data: (*proto.ColInt64)(&rs.startedAtMs)},
		{Name: "node_id", Data: (*colStr)(&rs.nodeID)},
		{Name: "workspace", Data: (*colStr)(&rs.workspace)},
		{Name: "service_id", Data: (*colStr)(&rs.serviceID)},
		{Name: "route_id", Data: (*colStr)(&rs.routeID)},
		{Name: "route_path", Data: (*colStr)(&rs.routePath)},
		{Name: "consumer_id", Data: (*colStr)(&rs.consumerID)},
		{Name: "credential_id", Data: (*colStr)(&rs.credentialID)},
		{Name: "method", Data: (*colStr)(&rs.method)},
		{Name: "protocol", Data: (*colStr)(&rs.protocol)},
		{Name: "host", Data: (*colStr)(&rs.host)},
		{Name: "path", Data: (*colStr)(&rs.path)},
		{Name: "client_ip", Data: (*colStr)(&rs.clientIP)},
		{Name: "user_agent", Data: (*colStr)(&rs.userAgent)},
		{Name: "status", Data: (*proto.ColUInt16)(&rs.status)},
		{Name: "upstream_status", Data: (*proto.ColUInt16)(&rs.upstreamStatus)},
		{Name: "responder", Data: (*colStr)(&rs.responder)},
		{Name: "upstream_tries", Data: (*proto.ColUInt16)(&rs.upstreamTries)},
		{Name: "upstream_addr", Data: (*colStr)(&rs.upstreamAddr)},
		{Name: "latency_total_ms", Data: (*proto.ColFloat64)(&rs.latencyTotal)},
		{Name: "latency_gateway_ms", Data: (*proto.ColFloat64)(&rs.latencyGateway)},
		{Name: "latency_upstream_ms", Data: (*proto.ColFloat64)(&rs.latencyUpstream)},
		{Name: "request_bytes", Data: (*proto.ColInt64)(&rs.requestBytes)},
		{Name: "response_bytes", Data: (*proto.ColInt64)(&rs.responseBytes)},
		{Name: "auth_outcome", Data: (*colStr)(&rs.authOutcome)},
		{Name: "rate_limit_outcome", Data: (*colStr)(&rs.rateLimitOutcome)},
		{Name: "error_class", Data: (*colStr)(&rs.errorClass)},
		{Name: "billable", Data: (*proto.ColUInt8)(&rs.billable)},
		{Name: "billing_units", Data: (*proto.ColInt64)(&rs.billingUnits)},
		{Name: "kafka_topic", Data: (*colStr)(&rs.topic)},
		{Name: "kafka_partition", Data: (*proto.ColInt32)(&rs.partition)},
		{Name: "kafka_offset", Data: (*proto.ColInt64)(&rs.offset)},
	}
}

// colStr is a String column over strings Rows holds. proto.ColStr would
// first copy every value into a buffer of its own; colStr encodes them
// straight into the block.
type colStr []string

var _ proto.ColInput = (*colStr)(nil)

func (c colStr) Type() proto.ColumnType { return proto.ColumnTypeString }
func (c colStr) Rows() int              { return len(c) }

// EncodeColumn appends the native String encoding of c to b: each value
// as its length (uvarint) and its bytes.
func (c colStr) EncodeColumn(b *proto.Buffer) {
	n := 0
	for _, s := range c {
		n += 1 + len(s)
		for l := len(s); l >= 0x80; l >>= 7 {
			n++ // a length of more than one uvarint byte
		}
	}
	b.Buf = slices.Grow(b.Buf, n)
	for _, s := range c {
		b.Buf = binary.AppendUvarint(b.Buf, uint64(len(s)))
		b.Buf = append(b.Buf, s...)
	}
}

func (c colStr) WriteColumn(w *proto.Writer) { w.ChainBuffer(c.EncodeColumn) }
