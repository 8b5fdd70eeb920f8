package main

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/tollgate/tollgate/internal/logrecord"
)

// The synthetic traffic: a few nodes in front of services of an API
// marketplace, each with a handful of routes, called by consumers with
// credentials (and some anonymous callers), with the spread of statuses,
// methods and sizes such traffic has. The values matter to the collector
// and to ClickHouse as much as their number: strings of realistic length
// and cardinality compress and sort as real ones do.
const (
	genNodes     = 3
	genServices  = 10
	genConsumers = 100
	genClientIPs = 1000
)

type genRoute struct {
	id, pattern, prefix string
}

type genService struct {
	id, host string
	routes   []genRoute
}

type genConsumer struct {
	id, credential string
}

// statusWeights is how often each status is answered, per 10 000.
var statusWeights = []struct {
	status, weight int
}{
	{200, 8200}, {201, 600}, {204, 250}, {304, 150},
	{400, 150}, {401, 120}, {403, 60}, {404, 200}, {429, 150},
	{500, 40}, {502, 40}, {503, 20}, {504, 20},
}

// generator makes log records. It is not safe for concurrent use.
type generator struct {
	rng       *rand.Rand
	nodes     []string
	services  []genService
	consumers []genConsumer
	ips       []string
	agents    []string
	statuses  []int // 10 000 entries drawn from statusWeights
	idbuf     [36]byte
}

// newGenerator returns a generator whose entities (ids, hosts, routes)
// come from seed, and whose request ids come from a random source of
// their own, so that two runs do not repeat ids.
func newGenerator(seed uint64) *generator {
	g := &generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for i := range genNodes {
		g.nodes = append(g.nodes, fmt.Sprintf("gw-%d", i+1))
	}
	names := []string{"orders", "payments", "users", "catalog", "search", "shipping", "reviews", "inventory", "pricing", "notifications"}
	resources := []string{"items", "accounts", "events", "reports", "sessions", "files"}
	for i := range genServices {
		s := genService{id: g.uuid(), host: names[i%len(names)] + ".api.example.com"}
		nroutes := 3 + i%3
		for j := range nroutes {
			res := resources[(i+j)%len(resources)]
			prefix := fmt.Sprintf("/v%d/%s", 1+j%2, res)
			s.routes = append(s.routes, genRoute{id: g.uuid(), pattern: prefix, prefix: prefix + "/"})
		}
		g.services = append(g.services, s)
	}
	for range genConsumers {
		g.consumers = append(g.consumers, genConsumer{id: g.uuid(), credential: g.uuid()})
	}
	for range genClientIPs {
		g.ips = append(g.ips, fmt.Sprintf("10.%d.%d.%d", g.rng.IntN(256), g.rng.IntN(256), 1+g.rng.IntN(254)))
	}
	g.agents = []string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
		"okhttp/4.12.0", "python-requests/2.32.3", "Go-http-client/1.1", "curl/8.5.0", "axios/1.7.2",
	}
	for _, sw := range statusWeights {
		for range sw.weight {
			g.statuses = append(g.statuses, sw.status)
		}
	}
	g.rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	return g
}

// uuid returns a random version 4 UUID in its text form.
func (g *generator) uuid() string {
	var b [16]byte
	lo, hi := g.rng.Uint64(), g.rng.Uint64()
	for i := range 8 {
		b[i], b[8+i] = byte(lo>>(8*i)), byte(hi>>(8*i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	hex.Encode(g.idbuf[0:8], b[0:4])
	g.idbuf[8] = '-'
	hex.Encode(g.idbuf[9:13], b[4:6])
	g.idbuf[13] = '-'
	hex.Encode(g.idbuf[14:18], b[6:8])
	g.idbuf[18] = '-'
	hex.Encode(g.idbuf[19:23], b[8:10])
	g.idbuf[23] = '-'
	hex.Encode(g.idbuf[24:36], b[10:16])
	return string(g.idbuf[:])
}

// fill overwrites r with a new request that started at startedMs (unix
// milliseconds).
func (g *generator) fill(r *logrecord.Record, startedMs int64) {
	rng := g.rng
	svc := &g.services[rng.IntN(len(g.services))]
	route := &svc.routes[rng.IntN(len(svc.routes))]
	status := g.statuses[rng.IntN(len(g.statuses))]
	*r = logrecord.Record{
		RequestID: g.uuid(),
		StartedAt: startedMs,
		NodeID:    g.nodes[rng.IntN(len(g.nodes))],
		Workspace: "default",
		ServiceID: svc.id,
		RouteID:   route.id,
		RoutePath: route.pattern,
		Protocol:  "https",
		Host:      svc.host,
		Path:      route.prefix + strconv.Itoa(1+rng.IntN(100000)),
		ClientIP:  g.ips[rng.IntN(len(g.ips))],
		UserAgent: g.agents[rng.IntN(len(g.agents))],
		Status:    status,
	}
	switch n := rng.IntN(100); {
	case n < 70:
		r.Method = "GET"
	case n < 88:
		r.Method = "POST"
	case n < 95:
		r.Method = "PUT"
	case n < 98:
		r.Method = "DELETE"
	default:
		r.Method = "PATCH"
	}
	if rng.IntN(50) == 0 {
		r.TraceID = hex.EncodeToString(binary16(rng))
	}
	// Who called: a consumer with a key, or (5 %) an anonymous caller of
	// a public route.
	if rng.IntN(20) != 0 {
		c := &g.consumers[rng.IntN(len(g.consumers))]
		r.ConsumerID, r.CredentialID = c.id, c.credential
		r.AuthOutcome = "authenticated"
	} else {
		r.AuthOutcome = "anonymous"
	}
	r.RateLimitOutcome = "allowed"
	gateway := 0.05 + 0.25*rng.Float64() // ms spent in the gateway
	r.RequestBytes = int64(200 + rng.IntN(600))
	if r.Method == "POST" || r.Method == "PUT" || r.Method == "PATCH" {
		r.RequestBytes += int64(rng.IntN(8000))
	}
	switch status {
	case 401:
		r.AuthOutcome, r.ConsumerID, r.CredentialID = "rejected", "", ""
		r.Responder = "gateway"
	case 429:
		r.RateLimitOutcome = "limited"
		r.Responder = "gateway"
	case 502:
		r.Responder, r.ErrorClass, r.UpstreamTries = "gateway", "connect", 2
	case 504:
		r.Responder, r.ErrorClass, r.UpstreamTries = "gateway", "timeout", 1
		r.LatencyUpstreamMs = 60000
	default:
		r.Responder = "upstream"
	}
	if r.Responder == "upstream" {
		r.UpstreamStatus = status
		r.UpstreamTries = 1
		r.UpstreamAddr = "10.1." + strconv.Itoa(rng.IntN(4)) + ".10:8080"
		// Log-normal upstream latency around 20 ms, tail to seconds.
		r.LatencyUpstreamMs = math.Round(math.Exp(3+0.9*rng.NormFloat64())*1000) / 1000
		r.ResponseBytes = int64(100 + rng.IntN(20000))
	} else {
		r.ResponseBytes = int64(60 + rng.IntN(100))
	}
	r.LatencyGatewayMs = math.Round(gateway*1000) / 1000
	r.LatencyTotalMs = r.LatencyGatewayMs + r.LatencyUpstreamMs
	if r.ConsumerID != "" && status < 500 && status != 429 {
		r.Billable, r.BillingUnits = true, 1
	}
}

func binary16(rng *rand.Rand) []byte {
	b := make([]byte, 16)
	lo, hi := rng.Uint64(), rng.Uint64()
	for i := range 8 {
		b[i], b[8+i] = byte(lo>>(8*i)), byte(hi>>(8*i))
	}
	return b
}
