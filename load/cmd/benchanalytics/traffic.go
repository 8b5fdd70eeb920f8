package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	guuid "github.com/google/uuid"

	"github.com/tollgate/tollgate/internal/logrecord"
)

// The seeded traffic: an API marketplace run by a few tenants
// (workspaces) of very different sizes, each with its services, their
// routes and its consumers. Who calls what is skewed the way real API
// traffic is: a few services, routes and consumers take most requests
// (Zipf-like), and the rate follows the day (a UTC afternoon peak, a
// night trough, quieter weekends). What the rollups can fold together
// depends on this shape as much as on the row count: 5,000 consumers
// spread over 300 routes leave the hour rollup a good fraction of the
// raw rows at 10 million requests a month.
const (
	genNodes        = 4
	genServices     = 50
	genConsumers    = 5000
	genClientIPs    = 20000
	genAnonymous    = 0.03 // share of requests without a consumer
	genRouteMissing = 0.002
)

// genWorkspaces are the tenants, busiest first, with their share of the
// requests, services and consumers.
var genWorkspaces = []struct {
	name  string
	share float64
}{
	{"acme", 0.45}, {"globex", 0.25}, {"initech", 0.15}, {"umbrella", 0.10}, {"hooli", 0.05},
}

// genVersion names the shape of the generated traffic; a seeded data
// directory is reused only by a generator of the same version.
const genVersion = 1

type genWorkspace struct {
	name      string
	share     float64
	services  []*genService
	svcCum    []float64 // cumulative weights of services
	consumers []genConsumer
	zipfS     float64 // Zipf exponent of its consumers
}

type genService struct {
	id, name, host string
	routes         []genRoute
	routeCum       []float64
	latMu, latSig  float64 // log-normal upstream latency, ms
	fail           float64 // multiplier of the base 5xx rate
}

type genRoute struct {
	id, name, path, method string
	units                  int64 // billing units per billable request
	slow                   float64
}

type genConsumer struct {
	id, username, credential string
}

// traffic generates a fixed number of records over a window, in time
// order, batch by batch. The records of a batch depend only on the seed,
// the window and the batch's index, so batches can be made in parallel,
// in any order, and the same settings give the same records. It is safe
// for concurrent use: Batch keeps its state on its own stack.
type traffic struct {
	seed       uint64
	rows       int64
	batch      int
	from       time.Time // the window's first minute (UTC)
	minutes    int
	cum        []int64 // cum[m] is the number of records before minute m; len minutes+1
	workspaces []*genWorkspace
	wsCum      []float64
	nodes      []string
	ips        []string
	agents     []string
}

// newTraffic lays out rows records over days days ending at the minute
// of end, in batches of batch records, with entities drawn from seed.
func newTraffic(seed uint64, rows int64, batch, days int, end time.Time) *traffic {
	end = end.UTC().Truncate(time.Minute)
	t := &traffic{seed: seed, rows: rows, batch: batch, minutes: days * 24 * 60}
	t.from = end.Add(-time.Duration(t.minutes) * time.Minute)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	t.entities(rng)
	t.layout()
	return t
}

// entities makes the workspaces, services, routes, consumers, nodes and
// clients.
func (t *traffic) entities(rng *rand.Rand) {
	names := []string{"orders", "payments", "users", "catalog", "search", "shipping", "reviews", "inventory",
		"pricing", "notifications", "auth", "billing", "media", "geo", "messages", "analytics", "ledger"}
	resources := []string{"items", "accounts", "events", "reports", "sessions", "files", "quotes", "tokens", "jobs", "lists"}
	svc, cons := 0, 0
	for wi, w := range genWorkspaces {
		ws := &genWorkspace{name: w.name, share: w.share, zipfS: 1.05 + 0.05*float64(wi)}
		nsvc := int(math.Round(w.share * genServices))
		if wi == len(genWorkspaces)-1 {
			nsvc = genServices - svc
		}
		ncons := int(math.Round(w.share * genConsumers))
		if wi == len(genWorkspaces)-1 {
			ncons = genConsumers - cons
		}
		svc += nsvc
		cons += ncons
		var weights []float64
		for i := range nsvc {
			s := &genService{
				id:   uuid(rng),
				name: names[(wi*7+i)%len(names)] + "-" + strconv.Itoa(i+1),
				// Median upstream latency from 8 to 250 ms, log-uniform.
				latMu:  math.Log(8) + rng.Float64()*math.Log(250.0/8),
				latSig: 0.5 + 0.5*rng.Float64(),
				fail:   1,
			}
			s.host = s.name + "." + w.name + ".example.com"
			if rng.IntN(8) == 0 {
				s.fail = 4 + 6*rng.Float64() // a flaky one
			}
			nr := 2 + rng.IntN(9) // 2..10 routes, about 6 on average
			var rw []float64
			for j := range nr {
				res := resources[(i+j)%len(resources)]
				r := genRoute{
					id:     uuid(rng),
					name:   s.name + "-" + res + "-" + strconv.Itoa(j+1),
					path:   fmt.Sprintf("/v%d/%s", 1+j%2, res),
					method: "GET",
					units:  1,
					slow:   1,
				}
				switch rng.IntN(10) {
				case 0, 1:
					r.method = "POST"
				case 2:
					r.method = "PUT"
				case 3:
					r.units = 5 // an expensive call
					r.slow = 3
				}
				s.routes = append(s.routes, r)
				rw = append(rw, 1/float64(j+1))
			}
			s.routeCum = cumulative(rw)
			ws.services = append(ws.services, s)
			weights = append(weights, 1/math.Pow(float64(i+1), 0.9))
		}
		ws.svcCum = cumulative(weights)
		for i := range ncons {
			ws.consumers = append(ws.consumers, genConsumer{
				id: uuid(rng), username: fmt.Sprintf("%s-user-%05d", w.name, i+1), credential: uuid(rng),
			})
		}
		t.workspaces = append(t.workspaces, ws)
	}
	var shares []float64
	for _, ws := range t.workspaces {
		shares = append(shares, ws.share)
	}
	t.wsCum = cumulative(shares)
	for i := range genNodes {
		t.nodes = append(t.nodes, "gw-"+strconv.Itoa(i+1))
	}
	for range genClientIPs {
		t.ips = append(t.ips, fmt.Sprintf("%d.%d.%d.%d", 11+rng.IntN(200), rng.IntN(256), rng.IntN(256), 1+rng.IntN(254)))
	}
	t.agents = []string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
		"okhttp/4.12.0", "python-requests/2.32.3", "Go-http-client/1.1", "curl/8.5.0", "axios/1.7.2",
	}
}

// diurnal is the relative request rate at t: a UTC afternoon peak about
// 3.5 times the night trough, weekends at 60 %.
func diurnal(t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	w := 1 + 0.55*math.Sin(2*math.Pi*(h-9)/24)
	if d := t.Weekday(); d == time.Saturday || d == time.Sunday {
		w *= 0.6
	}
	return w
}

// layout spreads the records over the minutes in proportion to the
// diurnal curve, exactly t.rows in all.
func (t *traffic) layout() {
	weights := make([]float64, t.minutes)
	var total float64
	for m := range t.minutes {
		weights[m] = diurnal(t.from.Add(time.Duration(m) * time.Minute))
		total += weights[m]
	}
	t.cum = make([]int64, t.minutes+1)
	var acc float64
	for m := range t.minutes {
		acc += weights[m]
		t.cum[m+1] = int64(math.Round(acc / total * float64(t.rows)))
	}
	t.cum[t.minutes] = t.rows
}

// Batches is the number of batches.
func (t *traffic) Batches() int { return int((t.rows + int64(t.batch) - 1) / int64(t.batch)) }

// To is the end of the window.
func (t *traffic) To() time.Time { return t.from.Add(time.Duration(t.minutes) * time.Minute) }

// Batch calls add with each record of batch k (0 ≤ k < Batches), in time
// order, with its index among all records. r is overwritten before every
// call: add must copy what it keeps (collector.Rows keeps the strings,
// which are never written to).
func (t *traffic) Batch(k int, add func(i int64, r *logrecord.Record)) {
	lo := int64(k) * int64(t.batch)
	hi := min(lo+int64(t.batch), t.rows)
	rng := rand.New(rand.NewPCG(t.seed, uint64(k)+1))
	zipfs := make([]*rand.Zipf, len(t.workspaces))
	for i, ws := range t.workspaces {
		zipfs[i] = rand.NewZipf(rng, ws.zipfS, 2, uint64(len(ws.consumers)-1))
	}
	// The minute of record lo: the last m with cum[m] ≤ lo.
	m := sort.Search(t.minutes+1, func(m int) bool { return t.cum[m] > lo }) - 1
	var r logrecord.Record
	for i := lo; i < hi; i++ {
		for t.cum[m+1] <= i {
			m++
		}
		startMs := t.from.Add(time.Duration(m)*time.Minute).UnixMilli() + rng.Int64N(60_000)
		t.fill(rng, zipfs, &r, startMs)
		add(i, &r)
	}
}

// fill overwrites r with a request that started at startMs.
func (t *traffic) fill(rng *rand.Rand, zipfs []*rand.Zipf, r *logrecord.Record, startMs int64) {
	wi := pick(rng, t.wsCum)
	ws := t.workspaces[wi]
	svc := ws.services[pick(rng, ws.svcCum)]
	route := &svc.routes[pick(rng, svc.routeCum)]
	*r = logrecord.Record{
		RequestID: uuid(rng),
		StartedAt: startMs,
		NodeID:    t.nodes[rng.IntN(len(t.nodes))],
		Workspace: ws.name,
		ServiceID: svc.id,
		RouteID:   route.id,
		RoutePath: route.path,
		Method:    route.method,
		Protocol:  "https",
		Host:      svc.host,
		Path:      route.path + "/" + strconv.Itoa(1+rng.IntN(100000)),
		ClientIP:  t.ips[rng.IntN(len(t.ips))],
		UserAgent: t.agents[rng.IntN(len(t.agents))],
	}
	if rng.IntN(50) == 0 {
		r.TraceID = hex32(rng)
	}
	r.AuthOutcome, r.RateLimitOutcome = "anonymous", "allowed"
	if rng.Float64() >= genAnonymous {
		c := &ws.consumers[zipfs[wi].Uint64()]
		r.ConsumerID, r.CredentialID = c.id, c.credential
		r.AuthOutcome = "authenticated"
	}
	r.RequestBytes = int64(200 + rng.IntN(600))
	if r.Method != "GET" {
		r.RequestBytes += int64(rng.IntN(8000))
	}
	r.LatencyGatewayMs = round3(math.Exp(math.Log(0.15) + 0.5*rng.NormFloat64()))

	status, class := t.status(rng, svc)
	r.Status, r.ErrorClass = status, class
	switch {
	case class == "route_not_found":
		// No route matched: no service, route or consumer.
		r.ServiceID, r.RouteID, r.RoutePath = "", "", ""
		r.ConsumerID, r.CredentialID, r.AuthOutcome = "", "", ""
		r.Responder = "gateway"
	case class == "plugin":
		r.Responder = "gateway"
		if status == 401 {
			r.ConsumerID, r.CredentialID, r.AuthOutcome = "", "", "rejected"
		} else if status == 429 {
			r.RateLimitOutcome = "limited"
		}
	case class == "connect":
		r.Responder, r.UpstreamTries = "gateway", 2
		r.LatencyUpstreamMs = round3(1 + 3*rng.Float64())
	case class == "timeout":
		r.Responder, r.UpstreamTries = "gateway", 1
		r.LatencyUpstreamMs = 60000
	case class == "no_healthy_target":
		r.Responder = "gateway"
	case class == "client_closed":
		r.Responder, r.UpstreamTries = "gateway", 1
		r.LatencyUpstreamMs = round3(math.Exp(svc.latMu+1.5+svc.latSig*rng.NormFloat64()) * route.slow)
	default:
		r.Responder, r.UpstreamStatus, r.UpstreamTries = "upstream", status, 1
		r.LatencyUpstreamMs = round3(math.Exp(svc.latMu+svc.latSig*rng.NormFloat64()) * route.slow)
	}
	if r.UpstreamTries > 0 {
		r.UpstreamAddr = "10.1." + strconv.Itoa(rng.IntN(8)) + ".10:8080"
	}
	if r.Responder == "upstream" && status < 300 {
		r.ResponseBytes = int64(math.Exp(math.Log(2000) + rng.NormFloat64()))
	} else {
		r.ResponseBytes = int64(60 + rng.IntN(200))
	}
	r.LatencyTotalMs = round3(r.LatencyGatewayMs + r.LatencyUpstreamMs)
	if r.ConsumerID != "" && r.Responder == "upstream" && status < 500 {
		r.Billable, r.BillingUnits = true, route.units
	}
}

// status draws the answer's status and, for a gateway's own answer, its
// error class: about 93 % 2xx, 1.5 % 3xx, 4.5 % 4xx and 1 % 5xx, more
// 5xx from flaky services.
func (t *traffic) status(rng *rand.Rand, svc *genService) (int, string) {
	x := rng.Float64()
	if x < genRouteMissing {
		return 404, "route_not_found"
	}
	// 5xx and client aborts, scaled by the service's flakiness.
	if y := rng.Float64() / svc.fail; y < 0.012 {
		switch {
		case y < 0.004:
			return 500, ""
		case y < 0.007:
			return 502, "connect"
		case y < 0.008:
			return 503, "no_healthy_target"
		case y < 0.010:
			return 504, "timeout"
		}
		return 499, "client_closed"
	}
	switch x = rng.Float64(); {
	case x < 0.010:
		return 401, "plugin"
	case x < 0.013:
		return 403, "plugin"
	case x < 0.020:
		return 429, "plugin"
	case x < 0.030:
		return 404, ""
	case x < 0.040:
		return 400, ""
	case x < 0.045:
		return 422, ""
	case x < 0.060:
		return 304, ""
	case x < 0.120:
		return 201, ""
	case x < 0.140:
		return 204, ""
	}
	return 200, ""
}

// cumulative returns the running sums of ws, scaled to end at 1.
func cumulative(ws []float64) []float64 {
	out := make([]float64, len(ws))
	var s float64
	for i, w := range ws {
		s += w
		out[i] = s
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

// pick draws an index with the weights whose cumulative sums are cum.
func pick(rng *rand.Rand, cum []float64) int {
	x := rng.Float64()
	i := sort.SearchFloat64s(cum, x)
	return min(i, len(cum)-1)
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// uuid returns a random version 4 UUID in its text form.
func uuid(rng *rand.Rand) string {
	var u guuid.UUID
	binary.LittleEndian.PutUint64(u[0:8], rng.Uint64())
	binary.LittleEndian.PutUint64(u[8:16], rng.Uint64())
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u.String()
}

// hex32 returns 16 random bytes in hex, as a W3C trace id.
func hex32(rng *rand.Rand) string {
	var b [16]byte
	lo, hi := rng.Uint64(), rng.Uint64()
	for i := range 8 {
		b[i], b[8+i] = byte(lo>>(8*i)), byte(hi>>(8*i))
	}
	return hex.EncodeToString(b[:])
}
