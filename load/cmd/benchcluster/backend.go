package main

import (
	"fmt"
	"net"

	"github.com/tollgate/tollgate/internal/cqlserver"
)

// backend is the Cassandra the nodes share: the in-memory CQL server
// started here, or a real one named by TOLLGATE_BENCH_CASSANDRA (srv nil),
// whose requests this program cannot count.
type backend struct {
	addr string
	srv  *cqlserver.Server
}

// cqlOps counts the requests a CQL server answered.
type cqlOps struct {
	queries, executes, batches, prepares int64
}

// total is the operations that read or write data: QUERY, EXECUTE and
// BATCH. PREPARE is counted apart: a driver prepares each statement once
// per connection.
func (o cqlOps) total() int64 { return o.queries + o.executes + o.batches }

func (o cqlOps) sub(p cqlOps) cqlOps {
	return cqlOps{o.queries - p.queries, o.executes - p.executes, o.batches - p.batches, o.prepares - p.prepares}
}

func startBackend(external string) (*backend, error) {
	if external != "" {
		if _, _, err := net.SplitHostPort(external); err != nil {
			return nil, fmt.Errorf("TOLLGATE_BENCH_CASSANDRA=%q: want host:port: %w", external, err)
		}
		return &backend{addr: external}, nil
	}
	srv := cqlserver.New(cqlserver.Options{})
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		srv.Close()
		return nil, fmt.Errorf("start the in-memory CQL server: %w", err)
	}
	return &backend{addr: srv.Addr(), srv: srv}, nil
}

// ops returns the server's counts so far; false with a real Cassandra.
func (b *backend) ops() (cqlOps, bool) {
	if b.srv == nil {
		return cqlOps{}, false
	}
	s := b.srv.Stats()
	return cqlOps{queries: s.Queries, executes: s.Executes, batches: s.Batches, prepares: s.Prepares}, true
}

func (b *backend) close() error {
	if b.srv == nil {
		return nil
	}
	if err := b.srv.Close(); err != nil {
		return fmt.Errorf("CQL server: %w", err)
	}
	return nil
}
