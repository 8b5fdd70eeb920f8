//go:build linux

package proxy

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// writeBatch sends the short writes of one round of connection turns
// together.
//
// Connections take turns (turns.go): under load, one step of a request
// (read the client's request and write it upstream, or read the answer and
// write it to the client) runs, then every other connection's step. Each
// write to a peer wakes the process reading it, and when that process had
// gone back to sleep on an idle core the wake-up is an inter-processor
// interrupt, which a virtual machine makes dear. The steps of different
// connections wrote to the clients and to the upstreams in turn, 10–20 µs
// apart, long enough for each reader to go back to sleep in between:
// under make bench-proxy's load a node sent 0.35–0.66 wake-ups per request,
// nginx 0.08–0.17 (BENCHMARKS.md, Proxy). nginx handles the events of one
// epoll_wait in a row, so its writes come in bursts.
//
// So a write joins the batch and yields. The first writer of the round,
// when its turn comes again, sends the writes of the whole batch in a row,
// each as far as its socket takes it without waiting; the other writers
// then find theirs sent, and finish what a full socket left over
// themselves. With nothing else runnable the yield returns at once and a
// writer sends its own write: an idle node answers as fast as before.
type writeBatch struct {
	mu      sync.Mutex // pending
	pending []*rawIO
	sending sync.Mutex // one send at a time; spare
	spare   []*rawIO   // the slice of the last send, pending's next
}

// batchMax: writes of this size and longer are sent at once. The
// connections write through 4 KiB buffers (fasthttp's default), so a
// shorter write is the end of a message: a request or a response, or its
// last piece, rather than a piece of a long body streaming through, which
// would wait a round per buffer.
const batchMax = 4 << 10

// batches are the node's batches, one per processor the runtime had when
// the first connection was made: a round's writes go out together whichever
// listener or upstream they are for, and on a node with several processors
// the connections share their batches' locks among as many batches.
var (
	batches     []writeBatch
	batchesOnce sync.Once
	nextBatch   atomic.Uint32
)

// batchFor picks the batch of a new connection, in turn.
func batchFor() *writeBatch {
	batchesOnce.Do(func() { batches = make([]writeBatch, runtime.GOMAXPROCS(0)) })
	return &batches[int(nextBatch.Add(1))%len(batches)]
}

// sendHook, when set (by tests), is told the size of every send.
var sendHook atomic.Pointer[func(n int)]

// write sends p on r with the round's batch and returns as rawIO's Write
// does.
func (b *writeBatch) write(r *rawIO, p []byte) (int, error) {
	r.bp, r.bn, r.berr = p, 0, nil
	r.done.Store(false)
	b.mu.Lock()
	b.pending = append(b.pending, r)
	b.mu.Unlock()
	runtime.Gosched()
	if !r.done.Load() {
		// Either this write is still pending and this send takes it, or a
		// send under way on another processor took it, and that send
		// holds b.sending until every write it took is done.
		b.send()
	}
	n, err := r.bn, r.berr
	r.bp, r.berr = nil, nil
	if err == nil && n < len(p) {
		m, err := r.writeNow(p[n:])
		return n + m, err
	}
	return n, err
}

// send writes every pending write as far as its socket takes it.
func (b *writeBatch) send() {
	b.sending.Lock()
	b.mu.Lock()
	list := b.pending
	b.pending = b.spare[:0]
	b.mu.Unlock()
	if h := sendHook.Load(); h != nil {
		(*h)(len(list))
	}
	for i, r := range list {
		r.bn, r.berr = r.tryWrite(r.bp)
		r.done.Store(true)
		list[i] = nil
	}
	b.spare = list[:0]
	b.sending.Unlock()
}
