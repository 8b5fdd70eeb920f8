package collector

import (
	"encoding/binary"

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
// was read, held column by column: the loader writes these columns into
// the INSERT's native block as they are, and the collector keeps one Rows
// from batch to batch (Reset keeps the capacity) so that a batch of the
// same size allocates nothing.
//
// String columns are kept in ClickHouse's native encoding (strColumn),
// copied from the record as it is added, while its bytes are still in the
// CPU's cache: a batch's column is then one contiguous buffer. Keeping the
// records' own strings instead (pointing into 50,000 Kafka messages) made
// encoding each of the 21 string columns a pass over every message of the
// batch, tens of megabytes read 21 times, the largest cost of the
// collector in a profile.
type Rows struct {
	requestID, traceID                                strColumn
	startedAt                                         proto.ColDateTime // seconds
	startedAtMs                                       []int64
	nodeID, workspace, serviceID, routeID, routePath  strColumn
	consumerID, credentialID                          strColumn
	method, protocol, host, path, clientIP, userAgent strColumn
	status, upstreamStatus                            []uint16
	responder                                         strColumn
	upstreamTries                                     []uint16
	upstreamAddr                                      strColumn
	latencyTotal, latencyGateway, latencyUpstream     []float64
	requestBytes, responseBytes                       []int64
	authOutcome, rateLimitOutcome, errorClass         strColumn
	billable                                          []uint8
	billingUnits                                      []int64
	topic                                             strColumn
	partition                                         []int32
	offset                                            []int64
}

// Len returns the number of rows.
func (rs *Rows) Len() int { return len(rs.offset) }

// Add appends r, read from topic at partition and offset.
func (rs *Rows) Add(r *logrecord.Record, topic string, partition int, offset int64) {
	rs.requestID.add(r.RequestID)
	rs.traceID.add(r.TraceID)
	// Validate keeps StartedAt positive, so division truncates to the
	// second the DateTime column holds.
	rs.startedAt.Data = append(rs.startedAt.Data, proto.DateTime(r.StartedAt/1000))
	rs.startedAtMs = append(rs.startedAtMs, r.StartedAt)
	rs.nodeID.add(r.NodeID)
	rs.workspace.add(r.Workspace)
	rs.serviceID.add(r.ServiceID)
	rs.routeID.add(r.RouteID)
	rs.routePath.add(r.RoutePath)
	rs.consumerID.add(r.ConsumerID)
	rs.credentialID.add(r.CredentialID)
	rs.method.add(r.Method)
	rs.protocol.add(r.Protocol)
	rs.host.add(r.Host)
	rs.path.add(r.Path)
	rs.clientIP.add(r.ClientIP)
	rs.userAgent.add(r.UserAgent)
	rs.status = append(rs.status, uint16(r.Status))
	rs.upstreamStatus = append(rs.upstreamStatus, uint16(r.UpstreamStatus))
	rs.responder.add(r.Responder)
	rs.upstreamTries = append(rs.upstreamTries, clampUint16(r.UpstreamTries))
	rs.upstreamAddr.add(r.UpstreamAddr)
	rs.latencyTotal = append(rs.latencyTotal, r.LatencyTotalMs)
	rs.latencyGateway = append(rs.latencyGateway, r.LatencyGatewayMs)
	rs.latencyUpstream = append(rs.latencyUpstream, r.LatencyUpstreamMs)
	rs.requestBytes = append(rs.requestBytes, r.RequestBytes)
	rs.responseBytes = append(rs.responseBytes, r.ResponseBytes)
	rs.authOutcome.add(r.AuthOutcome)
	rs.rateLimitOutcome.add(r.RateLimitOutcome)
	rs.errorClass.add(r.ErrorClass)
	var billable uint8
	if r.Billable {
		billable = 1
	}
	rs.billable = append(rs.billable, billable)
	rs.billingUnits = append(rs.billingUnits, r.BillingUnits)
	rs.topic.add(topic)
	rs.partition = append(rs.partition, int32(partition))
	rs.offset = append(rs.offset, offset)
}

// RequestID, StartedAt, Partition and Offset return a field of row i.
func (rs *Rows) RequestID(i int) string { return rs.requestID.value(i) }
func (rs *Rows) StartedAt(i int) int64  { return rs.startedAtMs[i] }
func (rs *Rows) Partition(i int) int    { return int(rs.partition[i]) }
func (rs *Rows) Offset(i int) int64     { return rs.offset[i] }

// Reset empties rs and keeps its capacity.
func (rs *Rows) Reset() { rs.truncate(0) }

// truncate keeps the first n rows.
func (rs *Rows) truncate(n int) {
	rs.each(func(c *strColumn) { c.truncate(n) })
	rs.startedAt.Data, rs.startedAtMs = rs.startedAt.Data[:n], rs.startedAtMs[:n]
	rs.status, rs.upstreamStatus, rs.upstreamTries = rs.status[:n], rs.upstreamStatus[:n], rs.upstreamTries[:n]
	rs.latencyTotal, rs.latencyGateway, rs.latencyUpstream = rs.latencyTotal[:n], rs.latencyGateway[:n], rs.latencyUpstream[:n]
	rs.requestBytes, rs.responseBytes = rs.requestBytes[:n], rs.responseBytes[:n]
	rs.billable, rs.billingUnits = rs.billable[:n], rs.billingUnits[:n]
	rs.partition, rs.offset = rs.partition[:n], rs.offset[:n]
}

// each calls f with every string column.
func (rs *Rows) each(f func(*strColumn)) {
	for _, s := range [...]*strColumn{
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
	kept := make([]bool, n)
	for i := range n {
		kept[i] = keep(i)
	}
	rs.each(func(c *strColumn) { c.keep(kept) })
	k := 0
	for i := range n {
		if !kept[i] {
			continue
		}
		if k != i {
			rs.move(k, i)
		}
		k++
	}
	rs.truncate(k)
	return n - k
}

// move copies the fixed-size fields of row from to row to; Keep has
// compacted the string columns already.
func (rs *Rows) move(to, from int) {
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
		{Name: "request_id", Data: &rs.requestID},
		{Name: "trace_id", Data: &rs.traceID},
		{Name: "started_at", Data: &rs.startedAt},
		{Name: "started_at_ms", Data: (*proto.ColInt64)(&rs.startedAtMs)},
		{Name: "node_id", Data: &rs.nodeID},
		{Name: "workspace", Data: &rs.workspace},
		{Name: "service_id", Data: &rs.serviceID},
		{Name: "route_id", Data: &rs.routeID},
		{Name: "route_path", Data: &rs.routePath},
		{Name: "consumer_id", Data: &rs.consumerID},
		{Name: "credential_id", Data: &rs.credentialID},
		{Name: "method", Data: &rs.method},
		{Name: "protocol", Data: &rs.protocol},
		{Name: "host", Data: &rs.host},
		{Name: "path", Data: &rs.path},
		{Name: "client_ip", Data: &rs.clientIP},
		{Name: "user_agent", Data: &rs.userAgent},
		{Name: "status", Data: (*proto.ColUInt16)(&rs.status)},
		{Name: "upstream_status", Data: (*proto.ColUInt16)(&rs.upstreamStatus)},
		{Name: "responder", Data: &rs.responder},
		{Name: "upstream_tries", Data: (*proto.ColUInt16)(&rs.upstreamTries)},
		{Name: "upstream_addr", Data: &rs.upstreamAddr},
		{Name: "latency_total_ms", Data: (*proto.ColFloat64)(&rs.latencyTotal)},
		{Name: "latency_gateway_ms", Data: (*proto.ColFloat64)(&rs.latencyGateway)},
		{Name: "latency_upstream_ms", Data: (*proto.ColFloat64)(&rs.latencyUpstream)},
		{Name: "request_bytes", Data: (*proto.ColInt64)(&rs.requestBytes)},
		{Name: "response_bytes", Data: (*proto.ColInt64)(&rs.responseBytes)},
		{Name: "auth_outcome", Data: &rs.authOutcome},
		{Name: "rate_limit_outcome", Data: &rs.rateLimitOutcome},
		{Name: "error_class", Data: &rs.errorClass},
		{Name: "billable", Data: (*proto.ColUInt8)(&rs.billable)},
		{Name: "billing_units", Data: (*proto.ColInt64)(&rs.billingUnits)},
		{Name: "kafka_topic", Data: &rs.topic},
		{Name: "kafka_partition", Data: (*proto.ColInt32)(&rs.partition)},
		{Name: "kafka_offset", Data: (*proto.ColInt64)(&rs.offset)},
	}
}

// strColumn is a String column kept as ClickHouse's native encoding of
// its values (each one's length as a uvarint, then its bytes), the bytes
// the INSERT's block carries, with where each value ends.
type strColumn struct {
	enc  []byte
	ends []int
}

var _ proto.ColInput = (*strColumn)(nil)

func (c *strColumn) add(s string) {
	c.enc = binary.AppendUvarint(c.enc, uint64(len(s)))
	c.enc = append(c.enc, s...)
	c.ends = append(c.ends, len(c.enc))
}

// value returns value i, a copy.
func (c *strColumn) value(i int) string {
	start := 0
	if i > 0 {
		start = c.ends[i-1]
	}
	_, n := binary.Uvarint(c.enc[start:])
	return string(c.enc[start+n : c.ends[i]])
}

// truncate keeps the first n values.
func (c *strColumn) truncate(n int) {
	if n == 0 {
		c.enc, c.ends = c.enc[:0], c.ends[:0]
		return
	}
	c.enc, c.ends = c.enc[:c.ends[n-1]], c.ends[:n]
}

// keep moves the values i for which kept[i] to the front, in order, and
// truncates the column to them.
func (c *strColumn) keep(kept []bool) {
	w, k, start := 0, 0, 0
	for i, end := range c.ends {
		if kept[i] {
			w += copy(c.enc[w:], c.enc[start:end])
			c.ends[k] = w
			k++
		}
		start = end
	}
	c.enc, c.ends = c.enc[:w], c.ends[:k]
}

func (c *strColumn) Type() proto.ColumnType { return proto.ColumnTypeString }
func (c *strColumn) Rows() int              { return len(c.ends) }

// EncodeColumn appends the column's encoding to b.
func (c *strColumn) EncodeColumn(b *proto.Buffer) { b.Buf = append(b.Buf, c.enc...) }

// WriteColumn hands the encoding to w as it is, for an uncompressed
// block.
func (c *strColumn) WriteColumn(w *proto.Writer) { w.ChainWrite(c.enc) }
