package keep

import (
	"reflect"
	"testing"
	"time"
)

func TestSlicesReuseUpToN(t *testing.T) {
	s := NewSlices[*int](2, 100)
	if v := s.Get(); v != nil {
		t.Fatalf("Get on an empty Slices = %v, want nil", v)
	}
	x := 1
	a := append(make([]*int, 0, 10), &x, &x)
	b := make([]*int, 3, 20)
	c := make([]*int, 0, 30)
	s.Put(a)
	s.Put(b)
	s.Put(c) // n are kept already: dropped
	caps := map[int]bool{}
	for range 2 {
		v := s.Get()
		if len(v) != 0 {
			t.Errorf("Get returned %d elements, want an empty slice", len(v))
		}
		for _, p := range v[:cap(v)] {
			if p != nil {
				t.Errorf("a kept slice still holds %v", p)
			}
		}
		caps[cap(v)] = true
	}
	if !caps[10] || !caps[20] {
		t.Errorf("kept capacities %v, want 10 and 20", caps)
	}
	if v := s.Get(); v != nil {
		t.Errorf("third Get = cap %d, want nil: the third Put was over n", cap(v))
	}
}

func TestSlicesDropsLongOnes(t *testing.T) {
	s := NewSlices[int](2, 100)
	s.Put(make([]int, 0, 101))
	s.Put(nil)
	if v := s.Get(); v != nil {
		t.Errorf("Get = cap %d, want nil: a slice above maxLen and a nil one are not kept", cap(v))
	}
}

func TestPointerFreeSlicesAreNotCleared(t *testing.T) {
	type point struct {
		X, Y int
		Tags [2]uint8
	}
	for _, c := range []struct {
		typ  reflect.Type
		want bool
	}{
		{reflect.TypeFor[byte](), false},
		{reflect.TypeFor[point](), false},
		{reflect.TypeFor[[4]float64](), false},
		{reflect.TypeFor[string](), true},
		{reflect.TypeFor[*int](), true},
		{reflect.TypeFor[struct {
			N int
			S []int
		}](), true},
		{reflect.TypeFor[time.Time](), true}, // its location
	} {
		if got := hasPointers(c.typ); got != c.want {
			t.Errorf("hasPointers(%v) = %v, want %v", c.typ, got, c.want)
		}
	}
	// Bytes come back as they were put: clearing megabytes that hold no
	// pointers would cost a pass over them for nothing.
	s := NewSlices[byte](1, 100)
	s.Put([]byte("kept"))
	if v := s.Get(); string(v[:4]) != "kept" {
		t.Errorf("a kept byte slice holds %q, want its bytes untouched", v[:4])
	}
}
