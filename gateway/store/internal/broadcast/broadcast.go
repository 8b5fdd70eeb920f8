// Package broadcast fans a "something changed" signal out to subscribers,
// for the config stores' Subscribe. It owns the subscriber channels; it
// never blocks a writer and never closes a subscriber's channel.
package broadcast

import "sync"

// Hub tracks subscribers. The zero value is ready to use.
type Hub struct {
	mu   sync.Mutex
	next uint64
	subs map[uint64]chan struct{}
}

// Subscribe returns a channel that receives after Notify, coalesced: the
// channel holds at most one pending signal. stop ends the subscription and
// may be called more than once.
func (h *Hub) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = make(map[uint64]chan struct{})
	}
	id := h.next
	h.next++
	h.subs[id] = ch
	h.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs, id)
			h.mu.Unlock()
		})
	}
}

// Notify signals every subscriber without blocking.
func (h *Hub) Notify() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ch := range h.subs {
		select {
		case ch <- struct{}{}:
		default: // a signal is already pending: coalesce
		}
	}
}
