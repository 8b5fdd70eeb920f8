package proxy

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/entity"
)

// TestAtomicSwapUnderLoad changes the configuration continuously (routes
// created, updated and deleted through the store) while clients send
// requests on routes whose target never changes: no request may fail or
// reach the wrong service, whichever snapshot serves it.
func TestAtomicSwapUnderLoad(t *testing.T) {
	ctx := context.Background()
	names := []string{"a", "b", "c"}
	e := newEnv(t, envOptions{})
	svcs := make([]*entity.Service, len(names))
	for i, n := range names {
		svcs[i] = e.service("svc-"+n, echoServer(t, n).URL)
	}
	const stable = 6
	routes := make([]*entity.Route, stable)
	for k := 0; k < stable; k++ {
		routes[k] = e.route(svcs[k%3], func(r *entity.Route) {
			r.Name = fmt.Sprintf("stable-%d", k)
			r.Paths = []string{fmt.Sprintf("/s/%d", k)}
		})
	}
	e.sync()
	v0, _ := e.holder.Applied()

	stop := make(chan struct{})
	var churnErr atomic.Value
	var churns atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var live []*entity.Route
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// Create a route elsewhere in the path space and on another host.
			r := &entity.Route{Meta: entity.Meta{ID: fmt.Sprintf("churn-%d", i), Workspace: "default", CreatedAt: 1},
				Name: fmt.Sprintf("churn-%d", i), Protocols: []string{"http"}, PathHandling: "v0",
				Paths: []string{fmt.Sprintf("/c/%d", i)}, Hosts: []string{fmt.Sprintf("h%d.churn.example", i%5)},
				Service: &entity.Ref{ID: svcs[i%3].ID}}
			if err := e.st.Create(ctx, r); err != nil {
				churnErr.Store(err)
				return
			}
			live = append(live, r)
			// Update a stable route in ways that must not change its match.
			s := *routes[i%stable]
			s.Tags = []string{fmt.Sprint(i)}
			s.RegexPriority = i % 7
			s.UpdatedAt = int64(i)
			if err := e.st.Update(ctx, &s); err != nil {
				churnErr.Store(err)
				return
			}
			// Move and delete older churn routes.
			if len(live) > 3 {
				old := live[0]
				live = live[1:]
				if i%2 == 0 {
					moved := *old
					moved.Paths = []string{fmt.Sprintf("/c/moved/%d", i)}
					if err := e.st.Update(ctx, &moved); err != nil {
						churnErr.Store(err)
						return
					}
				}
				if err := e.st.Delete(ctx, entity.KindRoute, "default", old.ID); err != nil {
					churnErr.Store(err)
					return
				}
			}
			churns.Add(1)
			time.Sleep(2 * time.Millisecond)
		}
	}()

	const clients = 8
	deadline := time.Now().Add(1500 * time.Millisecond)
	var sent, bad atomic.Int64
	var cw sync.WaitGroup
	for c := 0; c < clients; c++ {
		cw.Add(1)
		go func() {
			defer cw.Done()
			for i := 0; time.Now().Before(deadline) && i < 2000; i++ {
				k := (c + i) % stable
				resp, err := e.client.Get(fmt.Sprintf("%s/s/%d", e.http, k))
				sent.Add(1)
				if err != nil {
					bad.Add(1)
					t.Errorf("request /s/%d: %v", k, err)
					continue
				}
				b := readAll(t, resp)
				if resp.StatusCode != 200 {
					bad.Add(1)
					t.Errorf("request /s/%d: status %d: %s", k, resp.StatusCode, b)
					continue
				}
				if got := decodeEcho(t, b).Name; got != names[k%3] {
					bad.Add(1)
					t.Errorf("request /s/%d served by %q, want %q", k, got, names[k%3])
				}
			}
		}()
	}
	cw.Wait()
	close(stop)
	wg.Wait()
	if err, _ := churnErr.Load().(error); err != nil {
		t.Fatalf("churn: %v", err)
	}
	e.sync()
	v1, _ := e.holder.Applied()
	t.Logf("%d requests, %d bad, %d churn rounds, config versions %d → %d", sent.Load(), bad.Load(), churns.Load(), v0, v1)
	if churns.Load() < 20 || v1-v0 < 20 {
		t.Fatalf("too few config changes (%d rounds, %d versions) for the test to mean anything", churns.Load(), v1-v0)
	}
	if sent.Load() < 200 {
		t.Fatalf("only %d requests sent", sent.Load())
	}
}
