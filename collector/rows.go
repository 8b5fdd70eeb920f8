package collector

import (
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tollgate/tollgate/internal/logrecord"
)

// insertColumns names every column the loader writes, in the order Rows
// hands them to the batch. 18.16 rejects a batch INSERT without a column
// list, and naming them keeps the loader working when a later migration
// adds a column.
const insertColumns = "request_id, trace_id, started_at, started_at_ms, node_id, workspace, service_id, route_id, route_path, " +
	"consumer_id, credential_id, method, protocol, host, path, client_ip, user_agent, status, upstream_status, responder, " +
	"upstream_tries, upstream_addr, latency_total_ms, latency_gateway_ms, latency_upstream_ms, request_bytes, response_bytes, " +
	"auth_outcome, rate_limit_outcome, error_class, billable, billing_units, kafka_topic, kafka_partition, kafka_offset"

// Rows are records as the collector loads them, with where in Kafka each
// was read, held column by column: the loader appends each column to the
// INSERT in one call instead of 35 values per row, and the collector keeps
// one Rows from batch to batch (Reset keeps the capacity) so that a batch
// of the same size allocates nothing.
//
// Rows keeps the strings it is given, not copies: with
// logrecord.DecodeShared they point into the Kafka message values, which
// nothing writes to, and stay alive until Reset.
type Rows struct {
	requestID, traceID                                []string
	startedAt, startedAtMs                            []int64 // seconds (DateTime) and milliseconds
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
	rs.startedAt = append(rs.startedAt, r.StartedAt/1000)
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
	rs.startedAt, rs.startedAtMs = rs.startedAt[:n], rs.startedAtMs[:n]
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
	rs.startedAt[to], rs.startedAtMs[to] = rs.startedAt[from], rs.startedAtMs[from]
	rs.status[to], rs.upstreamStatus[to], rs.upstreamTries[to] = rs.status[from], rs.upstreamStatus[from], rs.upstreamTries[from]
	rs.latencyTotal[to], rs.latencyGateway[to], rs.latencyUpstream[to] = rs.latencyTotal[from], rs.latencyGateway[from], rs.latencyUpstream[from]
	rs.requestBytes[to], rs.responseBytes[to] = rs.requestBytes[from], rs.responseBytes[from]
	rs.billable[to], rs.billingUnits[to] = rs.billable[from], rs.billingUnits[from]
	rs.partition[to], rs.offset[to] = rs.partition[from], rs.offset[from]
}

// columns returns the columns in the order of insertColumns.
func (rs *Rows) columns() [35]any {
	return [...]any{
		rs.requestID, rs.traceID, rs.startedAt, rs.startedAtMs, rs.nodeID,
		rs.workspace, rs.serviceID, rs.routeID, rs.routePath, rs.consumerID, rs.credentialID,
		rs.method, rs.protocol, rs.host, rs.path, rs.clientIP, rs.userAgent,
		rs.status, rs.upstreamStatus, rs.responder, rs.upstreamTries, rs.upstreamAddr,
		rs.latencyTotal, rs.latencyGateway, rs.latencyUpstream, rs.requestBytes, rs.responseBytes,
		rs.authOutcome, rs.rateLimitOutcome, rs.errorClass, rs.billable, rs.billingUnits,
		rs.topic, rs.partition, rs.offset,
	}
}

// columnAppender is the part of a driver.Batch that appendTo uses.
type columnAppender interface {
	Column(int) driver.BatchColumn
}

// appendTo appends every column to b, whose columns are insertColumns.
func (rs *Rows) appendTo(b columnAppender) error {
	for i, col := range rs.columns() {
		if err := b.Column(i).Append(col); err != nil {
			return fmt.Errorf("append column %d of %d rows: %w", i, rs.Len(), err)
		}
	}
	return nil
}
