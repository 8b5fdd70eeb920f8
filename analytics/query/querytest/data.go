package querytest

import (
	"fmt"
	"time"

	"github.com/tollgate/tollgate/internal/logrecord"
)

// T0 is midnight UTC of the day the records start: bulk traffic runs from
// T0 to T0+10h (nothing in the fourth hour), the hand-checked records from
// T0+10h to T0+11h30.
var T0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// Workspaces of the records.
const (
	Acme   = "acme"
	Globex = "globex"
	// Odd is a workspace whose ids are the strings injection tests try:
	// they must match exactly, like any other id.
	Odd = `it's`
)

// Ids in Odd.
const (
	OddService  = `a'b\c"d`
	OddConsumer = "ünï'cödé"
)

// Records returns the records every store is seeded with.
func Records() []logrecord.Record {
	recs := HandRecords()
	recs = append(recs, bulk()...)
	recs = append(recs, globex()...)
	recs = append(recs, odd()...)
	return recs
}

func base(id string, at time.Time) logrecord.Record {
	return logrecord.Record{
		RequestID: id, TraceID: "trace-" + id, StartedAt: at.UnixMilli(), NodeID: "n1", Workspace: Acme,
		ServiceID: "svc-h", RouteID: "r-hand", RoutePath: "/hand", ConsumerID: "alice", CredentialID: "cred-1",
		Method: "GET", Protocol: "https", Host: "api.acme.test", Path: "/hand/" + id, ClientIP: "203.0.113.9",
		UserAgent: "querytest/1", Status: 200, UpstreamStatus: 200, Responder: "upstream", UpstreamTries: 1,
		UpstreamAddr: "10.0.0.1:8080", AuthOutcome: "authenticated", RateLimitOutcome: "allowed",
	}
}

// HandRecords are five records of route r-hand (service svc-h, workspace
// acme) whose results the suite checks against numbers written by hand:
//
//	id  at          method status consumer latency(total/upstream/gateway) in/out   billable units
//	h1  10:00:05    GET    200    alice    10/8/2                           100/1000 yes      2
//	h2  10:00:40    POST   201    alice    20/16/4                          200/2000 yes      3
//	h3  10:02:10    GET    404    bob      30/24/6                          300/3000 no       5
//	h4  10:02:59.5  GET    503    bob      40/32/8                          400/4000 yes      1
//	h5  11:30:00    DELETE 500    (none)   50/40/10                         500/5000 no       0
func HandRecords() []logrecord.Record {
	type row struct {
		id       string
		at       time.Duration
		method   string
		status   int
		consumer string
		billable bool
		units    int64
		node     string
	}
	rows := []row{
		{"h1", 10*time.Hour + 5*time.Second, "GET", 200, "alice", true, 2, "n1"},
		{"h2", 10*time.Hour + 40*time.Second, "POST", 201, "alice", true, 3, "n2"},
		{"h3", 10*time.Hour + 2*time.Minute + 10*time.Second, "GET", 404, "bob", false, 5, "n1"},
		{"h4", 10*time.Hour + 2*time.Minute + 59500*time.Millisecond, "GET", 503, "bob", true, 1, "n2"},
		{"h5", 11*time.Hour + 30*time.Minute, "DELETE", 500, "", false, 0, "n1"},
	}
	out := make([]logrecord.Record, len(rows))
	for i, r := range rows {
		k := float64(i + 1)
		rec := base(r.id, T0.Add(r.at))
		rec.Method, rec.Status, rec.UpstreamStatus, rec.ConsumerID = r.method, r.status, r.status, r.consumer
		rec.NodeID, rec.Billable, rec.BillingUnits = r.node, r.billable, r.units
		rec.LatencyTotalMs, rec.LatencyUpstreamMs, rec.LatencyGatewayMs = 10*k, 8*k, 2*k
		rec.RequestBytes, rec.ResponseBytes = 100*int64(i+1), 1000*int64(i+1)
		if r.consumer == "" {
			rec.CredentialID, rec.AuthOutcome = "", "anonymous"
		}
		if r.status >= 500 {
			rec.ErrorClass = "upstream_error"
		}
		out[i] = rec
	}
	return out
}

// bulk is acme's traffic: a record every 50 s from T0 to T0+10h, none in
// [T0+3h, T0+4h), spread over services, routes, consumers, nodes, methods
// and statuses by the record's number.
func bulk() []logrecord.Record {
	var out []logrecord.Record
	for i := 0; i < 720; i++ {
		at := T0.Add(time.Duration(i) * 50 * time.Second)
		if at.Sub(T0) >= 3*time.Hour && at.Sub(T0) < 4*time.Hour {
			continue
		}
		r := base(fmt.Sprintf("acme-%04d", i), at.Add(time.Duration(i%1000)*time.Millisecond))
		switch {
		case i%3 == 0:
			r.ServiceID, r.RouteID = "svc-b", "r-b1"
		case i%2 == 0:
			r.ServiceID, r.RouteID = "svc-a", "r-a1"
		default:
			r.ServiceID, r.RouteID = "svc-a", "r-a2"
		}
		r.ConsumerID = []string{"alice", "bob", "carol", ""}[i%4]
		if i%5 >= 3 {
			r.NodeID = "n2"
		}
		if i%6 == 0 {
			r.Method = "POST"
		}
		switch {
		case i%10 == 3:
			r.Status = 404
		case i%10 == 7:
			r.Status = 500
		case i%20 == 9:
			r.Status = 429
		case i%50 == 1:
			r.Status = 302
		}
		r.UpstreamStatus = r.Status
		switch {
		case r.Status == 500 && i%3 == 0:
			r.ErrorClass = "timeout"
		case r.Status == 500:
			r.ErrorClass = "upstream_error"
		case r.Status == 429:
			r.ErrorClass = "rate_limited"
		}
		r.LatencyTotalMs = 1.5 + float64((i*37)%200)
		r.LatencyUpstreamMs = r.LatencyTotalMs * 0.75
		r.LatencyGatewayMs = r.LatencyTotalMs - r.LatencyUpstreamMs
		r.RequestBytes, r.ResponseBytes = 100+int64(i%7), 1000+int64(i%11)*10
		r.Billable, r.BillingUnits = r.Status < 400, 1+int64(i%3)
		out = append(out, r)
	}
	return out
}

// globex is another tenant with the same service, route, consumer and
// node ids as acme, every other request failing: a query for acme that
// counted any of it would show it.
func globex() []logrecord.Record {
	var out []logrecord.Record
	for i := 0; i < 300; i++ {
		r := base(fmt.Sprintf("globex-%04d", i), T0.Add(time.Duration(i)*97*time.Second))
		r.Workspace, r.ServiceID, r.RouteID, r.Host = Globex, "svc-a", "r-a1", "api.globex.test"
		r.ConsumerID = []string{"alice", "mallory"}[i%2]
		if i%2 == 0 {
			r.Status = 500
		}
		r.UpstreamStatus = r.Status
		r.LatencyTotalMs, r.LatencyUpstreamMs, r.LatencyGatewayMs = 900, 800, 100
		r.RequestBytes, r.ResponseBytes = 7, 70000
		r.Billable, r.BillingUnits = true, 100
		out = append(out, r)
	}
	return out
}

// odd is a workspace whose ids are the kind of strings injection tests
// send.
func odd() []logrecord.Record {
	var out []logrecord.Record
	for i := 0; i < 3; i++ {
		r := base(fmt.Sprintf("odd-%d", i), T0.Add(time.Duration(i)*time.Minute))
		r.Workspace, r.ServiceID, r.ConsumerID = Odd, OddService, OddConsumer
		r.LatencyTotalMs, r.LatencyUpstreamMs, r.LatencyGatewayMs = 5, 4, 1
		out = append(out, r)
	}
	return out
}
