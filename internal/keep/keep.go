// Package keep holds a few large slices between uses, for code that builds
// answers of tens of thousands of elements: growing a fresh slice for each
// answer costs more than filling it, as new memory is faulted in and
// cleared. A sync.Pool does not do here: it is emptied by every other
// garbage collection, and building such an answer runs several.
package keep

// Slices keeps at most n slices of T, none longer than maxLen, for reuse.
// Safe for concurrent use.
type Slices[T any] struct {
	c      chan []T
	maxLen int
}

// NewSlices returns a Slices that keeps at most n slices, each of
// capacity at most maxLen.
func NewSlices[T any](n, maxLen int) *Slices[T] {
	return &Slices[T]{c: make(chan []T, n), maxLen: maxLen}
}

// Get returns an empty slice, with the capacity of a kept one when one is
// kept.
func (s *Slices[T]) Get() []T {
	select {
	case v := <-s.c:
		return v
	default:
		return nil
	}
}

// Put keeps v, emptied, for a later Get, unless its capacity is above
// maxLen or n slices are kept already. Every element up to its capacity is
// cleared first, so that what it held can be collected. Nothing may use v
// after.
func (s *Slices[T]) Put(v []T) {
	if cap(v) == 0 || cap(v) > s.maxLen {
		return
	}
	v = v[:cap(v)]
	clear(v)
	select {
	case s.c <- v[:0]:
	default:
	}
}
