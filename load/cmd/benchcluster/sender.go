package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tollgate/tollgate/load/benchrig"
)

// flow is the open-loop load sent to one node.
type flow struct {
	node  *gnode
	rate  float64 // requests per second
	conns int     // keep-alive connections, the most requests in flight
}

// tally counts the answers of one flow. Safe for concurrent use.
type tally struct {
	scheduled atomic.Int64 // due by the schedule
	sent      atomic.Int64 // written to the node
	ok        atomic.Int64 // 200
	limited   atomic.Int64 // 429
	other     atomic.Int64 // any other status
	errors    atomic.Int64 // no answer
	unsent    atomic.Int64 // due but not sent: every connection busy, or past the span's end

	mu         sync.Mutex
	firstOther string // the first unexpected answer or error, for the report
}

func (t *tally) noteOther(s string) {
	t.mu.Lock()
	if t.firstOther == "" {
		t.firstOther = s
	}
	t.mu.Unlock()
}

// sendOpenLoop sends each flow's rate of GET path requests from from to
// until, open loop: requests are due on a fixed schedule whatever the
// answers, and a request that cannot be sent by until (its connections all
// busy meanwhile) is counted as unsent rather than sent late, so that every
// request sent lands in the window being measured. It returns when every
// request sent has been answered or has failed, and ctx cancels it.
// progress, when not nil, is called about every 10s while it runs, with
// the counts so far.
func sendOpenLoop(ctx context.Context, path string, flows []flow, from, until time.Time, progress func(elapsed time.Duration, tallies []*tally)) []*tally {
	tallies := make([]*tally, len(flows))
	clients := make([]*fasthttp.HostClient, len(flows))
	var wg sync.WaitGroup
	for i, f := range flows {
		t := &tally{}
		tallies[i] = t
		// A queue deep enough for a stall of a second or so; beyond
		// that, due requests are dropped and counted as unsent.
		due := make(chan struct{}, max(1024, int(f.rate)))
		hc := &fasthttp.HostClient{
			Addr:                     f.node.proxy,
			MaxConns:                 f.conns,
			ReadTimeout:              2 * time.Second,
			WriteTimeout:             2 * time.Second,
			MaxIdleConnDuration:      time.Minute,
			NoDefaultUserAgentHeader: true,
		}
		clients[i] = hc
		url := "http://" + f.node.proxy + path
		for range f.conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sendWorker(hc, url, until, due, t)
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(due)
			schedule(ctx, f.rate, from, until, due, t)
		}()
	}

	stop := make(chan struct{})
	var pwg sync.WaitGroup
	if progress != nil {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			tick := time.NewTicker(10 * time.Second)
			defer tick.Stop()
			for {
				select {
				case <-tick.C:
					progress(time.Since(from), tallies)
				case <-stop:
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	pwg.Wait()
	for _, hc := range clients {
		hc.CloseIdleConnections()
	}
	return tallies
}

// schedule puts a token on due for every request that falls due between
// from and until at rate per second. A Go timer may wake a little late; the
// requests due meanwhile are handed out together.
func schedule(ctx context.Context, rate float64, from, until time.Time, due chan<- struct{}, t *tally) {
	if benchrig.SleepUntil(ctx, from) != nil {
		return
	}
	total := int64(rate * until.Sub(from).Seconds())
	var issued int64
	for issued < total {
		elapsed := time.Since(from)
		n := min(int64(elapsed.Seconds()*rate)+1, total)
		for ; issued < n; issued++ {
			t.scheduled.Add(1)
			select {
			case due <- struct{}{}:
			default:
				t.unsent.Add(1)
			}
		}
		if issued >= total {
			return
		}
		next := time.Duration(float64(issued) / rate * float64(time.Second))
		if benchrig.Sleep(ctx, next-time.Since(from)) != nil {
			return
		}
	}
}

// sendWorker sends one request per token over its share of hc's
// connections until due is closed.
func sendWorker(hc *fasthttp.HostClient, url string, until time.Time, due <-chan struct{}, t *tally) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod(fasthttp.MethodGet)
	for range due {
		if time.Now().After(until) {
			t.unsent.Add(1)
			continue
		}
		t.sent.Add(1)
		err := hc.Do(req, resp)
		switch {
		case err != nil:
			t.errors.Add(1)
			t.noteOther(err.Error())
		case resp.StatusCode() == fasthttp.StatusOK:
			t.ok.Add(1)
		case resp.StatusCode() == fasthttp.StatusTooManyRequests:
			t.limited.Add(1)
		default:
			t.other.Add(1)
			t.noteOther(describeAnswer(resp))
		}
	}
}

// sumTallies adds up the counts of several flows.
func sumTallies(ts []*tally) (scheduled, sent, ok, limited, other, errs, unsent int64) {
	for _, t := range ts {
		scheduled += t.scheduled.Load()
		sent += t.sent.Load()
		ok += t.ok.Load()
		limited += t.limited.Load()
		other += t.other.Load()
		errs += t.errors.Load()
		unsent += t.unsent.Load()
	}
	return
}
