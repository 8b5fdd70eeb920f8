package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// rec makes record i, of a length that varies with i so frames straddle
// segment boundaries at different places.
func rec(i int) []byte {
	return fmt.Appendf(nil, "record-%06d-%s", i, strings.Repeat("x", i%37))
}

func recNum(t testing.TB, b []byte) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(string(b), "record-%06d-", &n); err != nil {
		t.Fatalf("not a test record: %q", b)
	}
	return n
}

func mustOpen(t testing.TB, dir string, opts Options) *Spool {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func appendRange(t testing.TB, s *Spool, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := s.Append(rec(i)); err != nil {
			t.Fatalf("Append(%d): %v", i, err)
		}
	}
}

// consume peeks and commits in chunks of n until the spool is empty,
// returning the record numbers seen.
func consume(t testing.TB, s *Spool, n int) []int {
	t.Helper()
	var got []int
	for s.Len() > 0 {
		recs, err := s.Peek(n)
		if err != nil {
			t.Fatalf("Peek: %v", err)
		}
		if len(recs) == 0 {
			t.Fatalf("Peek returned nothing with Len %d", s.Len())
		}
		for _, r := range recs {
			got = append(got, recNum(t, r))
		}
		if err := s.Commit(len(recs)); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	}
	return got
}

func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segmentSuffix))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

func TestOrder(t *testing.T) {
	tests := []struct {
		name     string
		segBytes int64
		n        int
		batch    int   // records per Append
		peek     int   // records per Peek
		reopenAt []int // reopen after consuming this many
	}{
		{"one segment", 1 << 20, 200, 1, 7, nil},
		{"many small segments", 200, 300, 1, 5, nil},
		{"batched appends across segments", 256, 500, 13, 64, nil},
		{"reopen while consuming", 300, 400, 5, 9, []int{0, 50, 51, 222}},
		{"peek one at a time", 128, 60, 1, 1, []int{30}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{SegmentBytes: tt.segBytes, MaxBytes: 1 << 30}
			s := mustOpen(t, dir, opts)
			for i := 0; i < tt.n; i += tt.batch {
				var recs [][]byte
				for j := i; j < min(i+tt.batch, tt.n); j++ {
					recs = append(recs, rec(j))
				}
				if err := s.Append(recs...); err != nil {
					t.Fatalf("Append: %v", err)
				}
			}
			if s.Len() != tt.n {
				t.Fatalf("Len = %d, want %d", s.Len(), tt.n)
			}
			var got []int
			for s.Len() > 0 {
				if slices.Contains(tt.reopenAt, len(got)) {
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					s = mustOpen(t, dir, opts)
					if want := tt.n - len(got); s.Len() != want {
						t.Fatalf("after reopen Len = %d, want %d", s.Len(), want)
					}
				}
				recs, err := s.Peek(tt.peek)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range recs {
					got = append(got, recNum(t, r))
				}
				if err := s.Commit(len(recs)); err != nil {
					t.Fatal(err)
				}
			}
			if !slices.Equal(got, seq(0, tt.n)) {
				t.Fatalf("records out of order or missing: %v", got)
			}
			if files := segFiles(t, dir); len(files) != 0 || s.Bytes() != 0 {
				t.Fatalf("empty spool keeps %d bytes in %v", s.Bytes(), files)
			}
		})
	}
}

func TestPeekWithoutCommitRepeats(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{SegmentBytes: 100})
	appendRange(t, s, 0, 10)
	a, err := s.Peek(4)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Peek(6)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(a, b[:4], bytes.Equal) {
		t.Fatalf("second Peek does not start with the first's records")
	}
	if err := s.Commit(7); err == nil {
		t.Fatalf("Commit of more than peeked succeeded")
	}
	if err := s.Commit(2); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(4); err != nil {
		t.Fatal(err)
	}
	if got := consume(t, s, 3); !slices.Equal(got, seq(6, 10)) {
		t.Fatalf("after partial commits got %v", got)
	}
}

func TestFull(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SegmentBytes: 256, MaxBytes: 1024})
	n := 0
	for ; ; n++ {
		err := s.Append(rec(n))
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if s.Bytes() > 1024 {
		t.Fatalf("Bytes %d past MaxBytes", s.Bytes())
	}
	lenBefore, bytesBefore := s.Len(), s.Bytes()
	if err := s.Append(rec(n), rec(n+1), rec(n+2)); !errors.Is(err, ErrFull) {
		t.Fatalf("batch append = %v, want ErrFull", err)
	}
	if s.Len() != lenBefore || s.Bytes() != bytesBefore {
		t.Fatalf("a refused append changed the spool: Len %d→%d Bytes %d→%d", lenBefore, s.Len(), bytesBefore, s.Bytes())
	}
	// On disk too: reopening finds exactly what was accepted.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, Options{SegmentBytes: 256, MaxBytes: 1024})
	if got := consume(t, s, 100); !slices.Equal(got, seq(0, n)) {
		t.Fatalf("got %v, want 0..%d", got, n-1)
	}
	if err := s.Append(rec(n)); err != nil {
		t.Fatalf("Append after draining: %v", err)
	}
}

func TestAppendErrors(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{SegmentBytes: 64})
	tests := []struct {
		name string
		recs [][]byte
		want error
	}{
		{"record larger than a segment", [][]byte{make([]byte, 64-int(headerSize)-frameHeaderSize+1)}, ErrTooLarge},
		{"large record after good ones", [][]byte{[]byte("a"), make([]byte, 100)}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Append(tt.recs...); !errors.Is(err, tt.want) {
				t.Fatalf("Append = %v, want %v", err, tt.want)
			}
			if s.Len() != 0 {
				t.Fatalf("refused append left %d records", s.Len())
			}
		})
	}
	if err := s.Append(make([]byte, 64-int(headerSize)-frameHeaderSize)); err != nil {
		t.Fatalf("record that exactly fills a segment: %v", err)
	}
}

func TestOpenOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"segment too small", Options{SegmentBytes: 10}, "SegmentBytes 10"},
		{"max below segment", Options{SegmentBytes: 1 << 20, MaxBytes: 1000}, "MaxBytes 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(t.TempDir(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}

func TestTornTail(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(t *testing.T, path string)
		wantLen int // of 20 records written
	}{
		{"short write inside the last record", func(t *testing.T, p string) { truncateBy(t, p, 3) }, 19},
		{"short write inside the last frame header", func(t *testing.T, p string) {
			truncateBy(t, p, int64(len(rec(19)))+3)
		}, 19},
		{"bad CRC on the last record", func(t *testing.T, p string) { flipByte(t, p, -1) }, 19},
		{"zeros after the last record", func(t *testing.T, p string) { appendBytes(t, p, make([]byte, 64)) }, 20},
		{"garbage after the last record", func(t *testing.T, p string) { appendBytes(t, p, []byte("\x05\x00\x00\x00garbage")) }, 20},
		{"torn segment header", func(t *testing.T, p string) {
			// A segment created just before the crash, with half a header.
			next := filepath.Join(filepath.Dir(p), segmentName(99))
			if err := os.WriteFile(next, []byte(segmentMagic[:3]), 0o640); err != nil {
				t.Fatal(err)
			}
		}, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir, Options{SegmentBytes: 1 << 20})
			appendRange(t, s, 0, 20)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			files := segFiles(t, dir)
			tt.damage(t, files[len(files)-1])

			s = mustOpen(t, dir, Options{SegmentBytes: 1 << 20})
			if s.Len() != tt.wantLen {
				t.Fatalf("Len after recovery = %d, want %d", s.Len(), tt.wantLen)
			}
			if s.Stats().TornBytes == 0 {
				t.Fatalf("torn bytes not counted")
			}
			appendRange(t, s, 100, 102)
			want := append(seq(0, tt.wantLen), 100, 101)
			if got := consume(t, s, 8); !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

func TestCorruptMiddle(t *testing.T) {
	const segBytes = 400
	tests := []struct {
		name   string
		reopen bool // damage found by Open's scan, or by Peek on a live spool
		damage func(t *testing.T, path string)
		reason string
	}{
		{"bad CRC found at open", true, func(t *testing.T, p string) {
			flipByte(t, p, int(headerSize)+frameHeaderSize+len(rec(0))+frameHeaderSize+2)
		}, "CRC mismatch"},
		{"bad length found at open", true, func(t *testing.T, p string) { setLength(t, p, int(headerSize), 1<<30) }, "past the end"},
		{"bad segment header found at open", true, func(t *testing.T, p string) { flipByte(t, p, 0) }, "header"},
		{"bad CRC found by Peek", false, func(t *testing.T, p string) {
			flipByte(t, p, int(headerSize)+frameHeaderSize+len(rec(0))+frameHeaderSize+2)
		}, "CRC mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{SegmentBytes: segBytes}
			s := mustOpen(t, dir, opts)
			appendRange(t, s, 0, 40)
			files := segFiles(t, dir)
			if len(files) < 3 {
				t.Fatalf("want at least 3 segments, have %d", len(files))
			}
			victim := files[1]
			// Records in segments before the victim and from the one after.
			before, fromNext := countIn(t, files[0]), countIn(t, files[0])+countIn(t, files[1])
			if tt.reopen {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				tt.damage(t, victim)
				s = mustOpen(t, dir, opts)
			} else {
				tt.damage(t, victim)
			}

			var got []int
			var cerr *CorruptError
			for i := 0; s.Len() > 0 && i < 100; i++ {
				recs, err := s.Peek(7)
				if errors.As(err, &cerr) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range recs {
					got = append(got, recNum(t, r))
				}
				if err := s.Commit(len(recs)); err != nil {
					t.Fatal(err)
				}
			}
			if cerr == nil {
				t.Fatalf("no CorruptError reported")
			}
			if !errors.Is(cerr, ErrCorrupt) || cerr.File != victim || !strings.Contains(cerr.Reason, tt.reason) {
				t.Fatalf("CorruptError %v: want file %s, reason %q", cerr, victim, tt.reason)
			}
			if !strings.Contains(cerr.Error(), victim) || !strings.Contains(cerr.Error(), "offset") {
				t.Fatalf("error %q does not name the file and offset", cerr)
			}
			st := s.Stats()
			if st.Corruptions != 1 || st.CorruptBytes != cerr.Skipped {
				t.Fatalf("stats %+v, want 1 corruption of %d bytes", st, cerr.Skipped)
			}
			// Everything before the victim and everything after it arrive in
			// order; at most the victim's records are lost.
			if !slices.Equal(got[:before], seq(0, before)) {
				t.Fatalf("records before the damage: %v", got)
			}
			if !slices.Equal(got[len(got)-(40-fromNext):], seq(fromNext, 40)) {
				t.Fatalf("records after the damage: %v", got)
			}
			if !slices.IsSorted(got) {
				t.Fatalf("out of order: %v", got)
			}
			// New records still flow.
			appendRange(t, s, 40, 45)
			if got := consume(t, s, 10); !slices.Equal(got, seq(40, 45)) {
				t.Fatalf("after skip: %v", got)
			}
		})
	}
}

func TestDamagedTailSegmentFoundByPeek(t *testing.T) {
	// Damage in the segment being written: new appends must not land behind it.
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SegmentBytes: 1 << 20})
	appendRange(t, s, 0, 10)
	flipByte(t, segFiles(t, dir)[0], int(headerSize)+frameHeaderSize+len(rec(0))+frameHeaderSize+1)
	recs, err := s.Peek(100)
	if err != nil || len(recs) != 1 {
		t.Fatalf("Peek = %d records, %v; want the one before the damage", len(recs), err)
	}
	if err := s.Commit(1); err != nil {
		t.Fatal(err)
	}
	appendRange(t, s, 10, 12)
	if _, err := s.Peek(100); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Peek = %v, want ErrCorrupt", err)
	}
	if got := consume(t, s, 100); !slices.Equal(got, seq(10, 12)) {
		t.Fatalf("after the damaged segment: %v", got)
	}
}

func TestHeadRecovery(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   []int
	}{
		{"head intact", func(*testing.T, string) {}, seq(5, 30)},
		{"head damaged: replay everything", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "head"), []byte("nonsense"), 0o640); err != nil {
				t.Fatal(err)
			}
		}, seq(0, 30)},
		{"head not on a record boundary: replay its segment", func(t *testing.T, dir string) {
			b, err := os.ReadFile(filepath.Join(dir, "head"))
			if err != nil {
				t.Fatal(err)
			}
			seq, off, err := decodeHead(b)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "head"), encodeHead(seq, off+1), 0o640); err != nil {
				t.Fatal(err)
			}
		}, nil},
		{"leftover temporary head", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "head.tmp"), []byte("x"), 0o640); err != nil {
				t.Fatal(err)
			}
		}, seq(5, 30)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir, Options{SegmentBytes: 1 << 20})
			appendRange(t, s, 0, 30)
			if _, err := s.Peek(5); err != nil {
				t.Fatal(err)
			}
			if err := s.Commit(5); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, dir)
			s = mustOpen(t, dir, Options{SegmentBytes: 1 << 20})
			got := consume(t, s, 9)
			want := tt.want
			if want == nil {
				want = seq(0, 30)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

func TestCrashBetweenHeadAndDelete(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 200}
	s := mustOpen(t, dir, opts)
	appendRange(t, s, 0, 30)
	files := segFiles(t, dir)
	first, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	n := countIn(t, files[0])
	if _, err := s.Peek(n); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(n); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Put the consumed segment back, as if the crash came before its deletion.
	if err := os.WriteFile(files[0], first, 0o640); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, opts)
	if got := consume(t, s, 4); !slices.Equal(got, seq(n, 30)) {
		t.Fatalf("got %v, want %d..29", got, n)
	}
	if _, err := os.Stat(files[0]); !os.IsNotExist(err) {
		t.Fatalf("consumed segment not deleted: %v", err)
	}
}

func TestConcurrentAppendAndConsume(t *testing.T) {
	const n = 3000
	s := mustOpen(t, t.TempDir(), Options{SegmentBytes: 4096})
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Go(func() {
		for i := 0; i < n; i += 3 {
			if err := s.Append(rec(i), rec(i+1), rec(i+2)); err != nil {
				errc <- err
				return
			}
		}
	})
	var got []int
	for len(got) < n {
		select {
		case err := <-errc:
			t.Fatal(err)
		default:
		}
		recs, err := s.Peek(50)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			got = append(got, recNum(t, r))
		}
		if err := s.Commit(len(recs)); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if !slices.Equal(got, seq(0, n)) {
		t.Fatalf("records out of order or missing")
	}
	if s.Len() != 0 {
		t.Fatalf("Len = %d after consuming everything", s.Len())
	}
}

func TestClose(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendRange(t, s, 0, 3)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if err := s.Append(rec(9)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v", err)
	}
	if _, err := s.Peek(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Peek after Close = %v", err)
	}
}

// FuzzSegment opens a spool whose oldest segment holds arbitrary bytes,
// followed by a good segment: Open and Peek must never panic, and the good
// segment's record must always come out, last.
func FuzzSegment(f *testing.F) {
	good := append([]byte(segmentMagic), appendFrame(nil, []byte("hello"))...)
	f.Add(good)
	f.Add(append(slices.Clone(good), appendFrame(nil, []byte("world"))...))
	f.Add([]byte{})
	f.Add([]byte(segmentMagic))
	f.Add(append([]byte(segmentMagic), 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0))
	f.Add(append([]byte(segmentMagic), make([]byte, 32)...))
	f.Add([]byte("not a segment at all"))
	f.Fuzz(func(t *testing.T, content []byte) {
		if _, err := scanSegment(bytes.NewReader(content), int64(len(content)), headerSize); err != nil {
			t.Fatalf("scanSegment on a reader that never fails: %v", err)
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segmentName(1)), content, 0o640); err != nil {
			t.Fatal(err)
		}
		last := append([]byte(segmentMagic), appendFrame(nil, []byte("last"))...)
		if err := os.WriteFile(filepath.Join(dir, segmentName(2)), last, 0o640); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, Options{SegmentBytes: 1 << 20})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		var lastRec []byte
		for i := 0; s.Len() > 0; i++ {
			if i > len(content)+10 {
				t.Fatalf("consumer does not make progress")
			}
			recs, err := s.Peek(3)
			if errors.Is(err, ErrCorrupt) {
				continue
			}
			if err != nil {
				t.Fatalf("Peek: %v", err)
			}
			if len(recs) > 0 {
				lastRec = recs[len(recs)-1]
			}
			if err := s.Commit(len(recs)); err != nil {
				t.Fatal(err)
			}
		}
		if string(lastRec) != "last" {
			t.Fatalf("last record %q, want %q", lastRec, "last")
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := mustOpen(b, b.TempDir(), Options{MaxBytes: 1 << 40})
			recs := make([][]byte, batch)
			for i := range recs {
				recs[i] = bytes.Repeat([]byte("r"), 500)
			}
			b.ReportAllocs()
			b.SetBytes(int64(batch * 500))
			for b.Loop() {
				if err := s.Append(recs...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// countIn returns the number of good frames in a segment file.
func countIn(t testing.TB, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	res, err := scanSegment(f, fi.Size(), -1)
	if err != nil {
		t.Fatal(err)
	}
	return res.count
}

func truncateBy(t *testing.T, path string, n int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()-n); err != nil {
		t.Fatal(err)
	}
}

// flipByte inverts the byte at off (from the end when negative).
func flipByte(t *testing.T, path string, off int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += len(b)
	}
	b[off] ^= 0xff
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

func setLength(t *testing.T, path string, off int, n uint32) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(b[off:], n)
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

func appendBytes(t *testing.T, path string, extra []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(extra); err != nil {
		t.Fatal(err)
	}
}
