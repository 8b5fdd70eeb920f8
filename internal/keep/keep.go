// Package keep holds a few large slices between uses, for code that fills
// megabytes per answer or batch: growing a fresh slice each time costs
// more than filling it, as new memory is faulted in and cleared. A
// sync.Pool does not do here: it is emptied by every other garbage
// collection, and building such an answer runs several.
package keep

import "reflect"

// Slices keeps at most n slices of T, none of capacity above maxLen, for
// reuse. Safe for concurrent use.
type Slices[T any] struct {
	c      chan []T
	maxLen int
	// clear: T holds pointers, which a kept slice must not keep alive.
	clear bool
}

// NewSlices returns a Slices that keeps at most n slices, each of
// capacity at most maxLen.
func NewSlices[T any](n, maxLen int) *Slices[T] {
	return &Slices[T]{c: make(chan []T, n), maxLen: maxLen, clear: hasPointers(reflect.TypeFor[T]())}
}

// Get returns an empty slice, with the capacity of a kept one when one is
// kept, nil otherwise.
func (s *Slices[T]) Get() []T {
	select {
	case v := <-s.c:
		return v
	default:
		return nil
	}
}

// Put keeps v, emptied, for a later Get, unless its capacity is above
// maxLen or n slices are kept already. When T holds pointers, every
// element up to v's capacity is cleared first, so that what they point to
// can be collected. Nothing may use v after.
func (s *Slices[T]) Put(v []T) {
	if cap(v) == 0 || cap(v) > s.maxLen {
		return
	}
	if s.clear {
		clear(v[:cap(v)])
	}
	select {
	case s.c <- v[:0]:
	default:
	}
}

// hasPointers says whether a value of t holds a pointer the garbage
// collector follows.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	default:
		return true
	}
}
