package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
)

// Errors returned by the spool; test with errors.Is.
var (
	// ErrFull: the append would take the spool past Options.MaxBytes. Nothing
	// of it was written.
	ErrFull = errors.New("spool: full")
	// ErrTooLarge: a record does not fit in one segment.
	ErrTooLarge = errors.New("spool: record larger than a segment")
	// ErrClosed: the spool was closed.
	ErrClosed = errors.New("spool: closed")
	// ErrCorrupt: Peek found a damaged record and skipped it; the error is a
	// *CorruptError.
	ErrCorrupt = errors.New("spool: corrupt record")
)

// CorruptError says where Peek found damage and how much it skipped.
type CorruptError struct {
	File    string // segment file path
	Offset  int64  // where the damage starts
	Skipped int64  // bytes skipped: from Offset to the end of the segment
	Reason  string // what was wrong: "CRC mismatch", "record length … past the end …"
}

func (e *CorruptError) Error() string {
	return "spool: corrupt record in " + e.File + " at offset " + strconv.FormatInt(e.Offset, 10) +
		": " + e.Reason + "; skipped " + strconv.FormatInt(e.Skipped, 10) + " bytes"
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Options configures a Spool. The zero value takes every default.
type Options struct {
	// MaxBytes bounds the segment files' total size on disk; an Append that
	// would go past it fails with ErrFull. Default 1 GiB.
	MaxBytes int64
	// SegmentBytes is the size a segment file grows to before a new one is
	// started; it also bounds one record. Default 16 MiB.
	SegmentBytes int64
	// Logger receives recoveries and skipped damage. Default: discard.
	Logger *slog.Logger
}

const (
	defaultMaxBytes     = 1 << 30
	defaultSegmentBytes = 16 << 20
)

// Stats is a snapshot of the spool's state and of the damage it has met.
type Stats struct {
	Records      int   // records appended and not yet committed
	Bytes        int64 // segment files' total size on disk
	TornBytes    int64 // bytes truncated from torn tails when opening
	Corruptions  int64 // damaged regions skipped by Peek
	CorruptBytes int64 // bytes in those regions
}

// segment is one segment file. Frames in [headerSize, end) were good when
// scanned or written; bytes in [end, size) are damage that Peek reports
// and skips.
type segment struct {
	seq   uint64
	size  int64
	end   int64
	count int    // frames before end
	bad   string // why [end, size) is damaged
	badAt int64  // where the damage was found (end, or 0 for a bad header)
}

// position is the place after one record handed out by Peek.
type position struct {
	seq uint64
	off int64
	idx int
}

// Spool is a bounded FIFO of byte records on disk. Append may be called from
// any goroutine; Peek and Commit are meant for one consumer and are
// serialized with each other.
type Spool struct {
	dir      string
	maxBytes int64
	segBytes int64
	log      *slog.Logger

	mu      sync.Mutex // guards the fields below; held for writes
	segs    []*segment // oldest first
	w       *os.File   // writer of segs[len(segs)-1]; nil until the next Append opens a segment
	nextSeq uint64
	headOff int64 // next unread frame in segs[0]
	headIdx int   // frames of segs[0] before headOff
	records int
	bytes   int64
	stats   Stats
	wbuf    []byte
	closed  bool

	rmu    sync.Mutex // serializes Peek and Commit; taken before mu
	rf     *os.File   // reader of segment rseq
	rseq   uint64
	peeked []position
}

// Open opens the spool in dir, creating dir if needed, and recovers from a
// crash: consumed segments left behind are deleted, a torn record at the end
// of the newest segment is truncated away, and damage elsewhere is noted for
// Peek to report.
func Open(dir string, opts Options) (*Spool, error) {
	if opts.MaxBytes == 0 {
		opts.MaxBytes = defaultMaxBytes
	}
	if opts.SegmentBytes == 0 {
		opts.SegmentBytes = defaultSegmentBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.SegmentBytes < headerSize+frameHeaderSize+1 || opts.SegmentBytes > 1<<31 {
		return nil, fmt.Errorf("open spool %s: SegmentBytes %d outside %d..%d", dir, opts.SegmentBytes, headerSize+frameHeaderSize+1, 1<<31)
	}
	if opts.MaxBytes < opts.SegmentBytes {
		return nil, fmt.Errorf("open spool %s: MaxBytes %d is less than SegmentBytes %d", dir, opts.MaxBytes, opts.SegmentBytes)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	s := &Spool{
		dir:      dir,
		maxBytes: opts.MaxBytes,
		segBytes: opts.SegmentBytes,
		log:      opts.Logger.With("spool", dir),
		nextSeq:  1,
		headOff:  headerSize,
	}
	if err := s.recover(); err != nil {
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	return s, nil
}

func (s *Spool) path(seq uint64) string { return filepath.Join(s.dir, segmentName(seq)) }

func (s *Spool) recover() error {
	if err := os.Remove(filepath.Join(s.dir, "head.tmp")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	var seqs []uint64
	for _, e := range entries {
		if seq, ok := parseSegmentName(e.Name()); ok && e.Type().IsRegular() {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)

	headSeq, headOff, haveHead := uint64(0), headerSize, false
	switch b, err := os.ReadFile(filepath.Join(s.dir, "head")); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		if headSeq, headOff, err = decodeHead(b); err != nil {
			// Replaying from the oldest segment duplicates records, which
			// the collector tolerates; trusting a damaged position could
			// skip records, which nothing downstream can repair.
			s.log.Warn("spool head file is damaged; replaying every segment", "err", err)
			headSeq, headOff = 0, headerSize
		} else {
			haveHead = true
		}
	}
	if haveHead {
		s.nextSeq = headSeq + 1
	}
	for len(seqs) > 0 && haveHead && seqs[0] < headSeq {
		// Consumed: the head moved past it before a crash cut the deletion short.
		if err := os.Remove(s.path(seqs[0])); err != nil {
			return err
		}
		seqs = seqs[1:]
	}
	if len(seqs) == 0 || !haveHead || seqs[0] != headSeq {
		headOff = headerSize
	}

	for i, seq := range seqs {
		last := i == len(seqs)-1
		seg, idx, err := s.scan(seq, last, headOff, i == 0)
		if err != nil {
			return err
		}
		if seg == nil {
			continue
		}
		if i == 0 {
			if idx < 0 {
				s.log.Warn("spool head is not on a record boundary; replaying its segment", "file", s.path(seq), "offset", headOff)
				headOff, idx = headerSize, 0
			}
			s.headOff, s.headIdx = headOff, idx
			s.records -= idx
		}
		s.segs = append(s.segs, seg)
		s.records += seg.count
		s.bytes += seg.size
		s.nextSeq = max(s.nextSeq, seq+1)
	}
	if n := len(s.segs); n > 0 && s.segs[n-1].size < s.segBytes {
		tail := s.segs[n-1]
		f, err := os.OpenFile(s.path(tail.seq), os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		s.w = f
	}
	if s.records > 0 || len(s.segs) > 0 {
		s.log.Info("spool opened", "records", s.records, "bytes", s.bytes, "segments", len(s.segs))
	}
	return s.trimLocked()
}

// scan reads one segment at open. It returns nil for a newest segment with no
// good frame (removed), and idx = frames before headOff (-1 if headOff is not
// a frame boundary) when isHead.
func (s *Spool) scan(seq uint64, last bool, headOff int64, isHead bool) (*segment, int, error) {
	p := s.path(seq)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	mark := int64(-1)
	if isHead {
		mark = headOff
	}
	res, err := scanSegment(f, fi.Size(), mark)
	if err != nil {
		return nil, 0, fmt.Errorf("scan %s: %w", p, err)
	}
	seg := &segment{seq: seq, size: fi.Size(), end: res.end, count: res.count}
	if res.bad != "" {
		seg.bad, seg.badAt = res.bad, res.end
	}
	if last && seg.end < seg.size {
		// A torn tail: the write of the newest records was cut short.
		// Nothing after it can exist, so it is truncated, not skipped.
		torn := seg.size - seg.end
		s.stats.TornBytes += torn
		s.log.Warn("spool: truncated a torn record at the end of the newest segment",
			"file", p, "offset", seg.end, "bytes", torn, "reason", res.bad)
		if seg.end < headerSize || seg.count == 0 {
			if err := f.Close(); err != nil {
				return nil, 0, err
			}
			if err := os.Remove(p); err != nil {
				return nil, 0, err
			}
			return nil, 0, syncDir(s.dir)
		}
		if err := f.Truncate(seg.end); err != nil {
			return nil, 0, err
		}
		if err := f.Sync(); err != nil {
			return nil, 0, err
		}
		seg.size, seg.bad = seg.end, ""
	} else if seg.bad != "" {
		if seg.end < headerSize {
			seg.end = headerSize
			seg.badAt = 0
		}
		s.log.Error("spool: damaged record; Peek will skip the rest of the segment",
			"file", p, "offset", seg.badAt, "reason", seg.bad, "good_records", seg.count)
	}
	idx := 0
	if isHead {
		idx = -1
		if res.markOK {
			idx = res.markIdx
		}
	}
	return seg, idx, nil
}

// Append writes recs at the tail, in order, as one unit: either all of them
// are written and synced, or none is (ErrFull, ErrTooLarge, or an I/O error
// after which the files are rolled back).
func (s *Spool) Append(recs ...[]byte) error {
	if len(recs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}

	// Plan which segment each frame goes to before writing anything, so
	// that ErrFull is decided on the exact bytes it would cost.
	type part struct {
		seg     *segment
		f       *os.File
		base    int64 // file size before this append
		frames  []byte
		created bool
		count   int
	}
	var parts []*part
	var cur *part
	if n := len(s.segs); s.w != nil && n > 0 {
		tail := s.segs[n-1]
		cur = &part{seg: tail, f: s.w, base: tail.size, frames: s.wbuf[:0]}
		parts = append(parts, cur)
	}
	created := 0
	need := int64(0)
	for _, rec := range recs {
		fsize := int64(frameHeaderSize + len(rec))
		if headerSize+fsize > s.segBytes {
			return fmt.Errorf("%w: %d bytes, segments hold %d", ErrTooLarge, len(rec), s.segBytes-headerSize-frameHeaderSize)
		}
		if cur == nil || cur.base+int64(len(cur.frames))+fsize > s.segBytes {
			cur = &part{seg: &segment{seq: s.nextSeq + uint64(created)}, created: true}
			if created == 0 && len(parts) == 0 {
				cur.frames = s.wbuf[:0]
			}
			cur.frames = append(cur.frames, segmentMagic...)
			created++
			need += headerSize
			parts = append(parts, cur)
		}
		cur.frames = appendFrame(cur.frames, rec)
		cur.count++
		need += fsize
	}
	if len(parts[0].frames) <= 4<<20 {
		// Keep the common single-segment buffer for the next append, but
		// not a huge one from a burst.
		s.wbuf = parts[0].frames[:0]
	}
	if s.bytes+need > s.maxBytes {
		return fmt.Errorf("%w: %d bytes on disk, appending %d would pass the limit of %d", ErrFull, s.bytes, need, s.maxBytes)
	}

	rollback := func(cause error) error {
		errs := []error{cause}
		for _, p := range parts {
			if p.created {
				if p.f != nil {
					errs = append(errs, p.f.Close())
				}
				if err := os.Remove(s.path(p.seg.seq)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					errs = append(errs, err)
				}
			} else {
				errs = append(errs, p.f.Truncate(p.base))
			}
		}
		return errors.Join(errs...)
	}
	for _, p := range parts {
		if p.created {
			f, err := os.OpenFile(s.path(p.seg.seq), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
			if err != nil {
				return rollback(fmt.Errorf("spool append: %w", err))
			}
			p.f = f
		}
		if len(p.frames) == 0 {
			continue
		}
		if _, err := p.f.WriteAt(p.frames, p.base); err != nil {
			return rollback(fmt.Errorf("spool append to %s: %w", s.path(p.seg.seq), err))
		}
		if err := p.f.Sync(); err != nil {
			return rollback(fmt.Errorf("spool sync %s: %w", s.path(p.seg.seq), err))
		}
	}
	if created > 0 {
		if err := syncDir(s.dir); err != nil {
			return rollback(fmt.Errorf("spool sync dir: %w", err))
		}
	}

	// Committed to disk; now the in-memory state follows.
	var errs []error
	for i, p := range parts {
		p.seg.size = p.base + int64(len(p.frames))
		p.seg.end = p.seg.size
		p.seg.count += p.count
		if p.created {
			s.segs = append(s.segs, p.seg)
			s.nextSeq = p.seg.seq + 1
			if len(s.segs) == 1 {
				s.headOff, s.headIdx = headerSize, 0
			}
		}
		if i < len(parts)-1 {
			// Full segments keep no writer.
			errs = append(errs, p.f.Close())
		}
	}
	s.w = parts[len(parts)-1].f
	s.records += len(recs)
	s.bytes += need
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("spool append: close full segment: %w", err)
	}
	return nil
}

// Peek returns up to limit of the oldest records without removing them, oldest
// first. The slices are the caller's. Calling Peek again without Commit
// returns the same records.
//
// When the oldest remaining bytes are damaged, Peek skips them (to the end of
// their segment, where the next good frame is known to start), makes the
// skip durable, and returns a *CorruptError saying where; the next Peek goes
// on after it. When damage is found after some good records, those records
// are returned first and the damage is reported by a later Peek.
func (s *Spool) Peek(limit int) ([][]byte, error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	snap := make([]segment, len(s.segs))
	for i, seg := range s.segs {
		snap[i] = *seg
	}
	headOff, headIdx := s.headOff, s.headIdx
	s.mu.Unlock()

	s.peeked = s.peeked[:0]
	if limit <= 0 {
		return nil, nil
	}
	var out [][]byte
	for i, seg := range snap {
		off, idx := int64(headerSize), 0
		if i == 0 {
			off, idx = headOff, headIdx
		}
		if off < seg.end {
			recs, pos, badAt, bad, err := s.readFrames(seg.seq, off, idx, seg.end, limit-len(out))
			if err != nil {
				return nil, err
			}
			out = append(out, recs...)
			s.peeked = append(s.peeked, pos...)
			if bad != "" {
				// Damage that appeared after the segment was scanned or
				// written (the disk changed under us).
				s.markBad(seg.seq, badAt, bad, idx+len(recs))
				seg.end, seg.bad, seg.badAt = badAt, bad, badAt
			}
		}
		if len(out) >= limit {
			break
		}
		if seg.bad != "" {
			if len(out) > 0 {
				break
			}
			return nil, s.skip(seg)
		}
	}
	return out, nil
}

// readFrames reads up to limit frames of segment seq from off (the idx-th
// frame) to end. It stops at the first bad frame, returning where and why.
func (s *Spool) readFrames(seq uint64, off int64, idx int, end int64, limit int) (recs [][]byte, pos []position, badAt int64, bad string, err error) {
	if s.rf == nil || s.rseq != seq {
		if s.rf != nil {
			s.rf.Close()
			s.rf = nil
		}
		f, err := os.Open(s.path(seq))
		if err != nil {
			return nil, nil, 0, "", fmt.Errorf("spool peek: %w", err)
		}
		s.rf, s.rseq = f, seq
	}
	const chunk = 1 << 20
	var buf []byte
	bufOff := off
	for off < end && len(recs) < limit {
		rel := off - bufOff
		rec, size, why, needMore := parseFrame(buf[min(rel, int64(len(buf))):], end-off)
		if why != "" {
			return recs, pos, off, why, nil
		}
		if needMore {
			n := min(max(chunk, size, frameHeaderSize), end-off)
			buf = make([]byte, n)
			if _, err := s.rf.ReadAt(buf, off); err != nil {
				return nil, nil, 0, "", fmt.Errorf("spool peek %s at offset %d: %w", s.path(seq), off, err)
			}
			bufOff = off
			continue
		}
		off += size
		idx++
		recs = append(recs, rec)
		pos = append(pos, position{seq: seq, off: off, idx: idx})
	}
	return recs, pos, 0, "", nil
}

// markBad records damage found by Peek at badAt in segment seq, idx frames in.
func (s *Spool) markBad(seq uint64, badAt int64, why string, idx int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, seg := range s.segs {
		if seg.seq != seq {
			continue
		}
		if badAt >= seg.end {
			return
		}
		// Frames after the damage, even good ones, cannot be found without
		// trusting a damaged length, so they leave the count now.
		s.records -= seg.count - idx
		seg.count, seg.end, seg.bad, seg.badAt = idx, badAt, why, badAt
		if i == len(s.segs)-1 && s.w != nil {
			// New records must not land behind the damage.
			s.w.Close()
			s.w = nil
		}
		s.log.Error("spool: damaged record found while reading", "file", s.path(seq), "offset", badAt, "reason", why)
		return
	}
}

// skip drops every segment up to and including seg, whose good records have
// all been consumed and whose remaining bytes are damaged.
func (s *Spool) skip(seg segment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cerr := &CorruptError{File: s.path(seg.seq), Offset: seg.badAt, Skipped: seg.size - seg.badAt, Reason: seg.bad}
	s.stats.Corruptions++
	s.stats.CorruptBytes += cerr.Skipped
	s.log.Error("spool: skipping damaged records", "file", cerr.File, "offset", cerr.Offset, "bytes", cerr.Skipped, "reason", cerr.Reason)
	n := 0
	for n < len(s.segs) && s.segs[n].seq <= seg.seq {
		n++
	}
	if n == len(s.segs) && s.w != nil {
		s.w.Close()
		s.w = nil
	}
	if err := s.dropLocked(n, seg.seq+1, headerSize); err != nil {
		return errors.Join(cerr, err)
	}
	return cerr
}

// Commit removes the n oldest records, which the last Peek returned. It makes
// the new head durable before deleting any segment, so a crash in between
// only leaves files that Open deletes.
func (s *Spool) Commit(n int) error {
	if n == 0 {
		return nil
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if n < 0 || n > len(s.peeked) {
		return fmt.Errorf("spool commit %d records: the last Peek returned %d", n, len(s.peeked))
	}
	p := s.peeked[n-1]
	s.peeked = slices.Delete(s.peeked, 0, n)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	drop := 0
	for drop < len(s.segs) && s.segs[drop].seq < p.seq {
		drop++
	}
	s.records -= n
	if err := s.dropLocked(drop, p.seq, p.off); err != nil {
		return err
	}
	s.headIdx = p.idx
	return s.trimLocked()
}

// dropLocked writes the head (seq, off), then deletes the first n segments.
func (s *Spool) dropLocked(n int, seq uint64, off int64) error {
	if err := writeHead(s.dir, seq, off); err != nil {
		return fmt.Errorf("spool commit: %w", err)
	}
	var errs []error
	for _, seg := range s.segs[:n] {
		s.bytes -= seg.size
		if s.rf != nil && s.rseq == seg.seq {
			errs = append(errs, s.rf.Close())
			s.rf = nil
		}
		if err := os.Remove(s.path(seg.seq)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	s.segs = slices.Delete(s.segs, 0, n)
	s.headOff, s.headIdx = off, 0
	if len(s.segs) > 0 && s.segs[0].seq != seq {
		s.headOff = headerSize
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("spool delete consumed segment: %w", err)
	}
	return nil
}

// trimLocked deletes the oldest segment while it is fully consumed and not
// damaged. The segment being written is deleted too once nothing is left, so
// an idle spool holds no files.
func (s *Spool) trimLocked() error {
	for len(s.segs) > 0 {
		seg := s.segs[0]
		if s.headOff < seg.end || seg.bad != "" || seg.end < seg.size {
			return nil
		}
		isTail := len(s.segs) == 1
		if isTail && s.w != nil && s.records > 0 {
			return nil
		}
		if isTail && s.w != nil {
			if err := s.w.Close(); err != nil {
				return fmt.Errorf("spool close consumed segment: %w", err)
			}
			s.w = nil
		}
		next := seg.seq + 1
		if !isTail {
			next = s.segs[1].seq
		}
		if err := s.dropLocked(1, next, headerSize); err != nil {
			return err
		}
	}
	return nil
}

// Len returns how many records are appended and not yet committed.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records
}

// Bytes returns the segment files' total size, the figure MaxBytes bounds.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// Stats returns a snapshot of the spool's counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Records, st.Bytes = s.records, s.bytes
	return st
}

// Close syncs and closes the files. It is safe to call more than once; later
// calls return nil.
func (s *Spool) Close() error {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if s.w != nil {
		errs = append(errs, s.w.Sync(), s.w.Close())
		s.w = nil
	}
	if s.rf != nil {
		errs = append(errs, s.rf.Close())
		s.rf = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close spool %s: %w", s.dir, err)
	}
	return nil
}

// writeHead replaces the head file atomically: write a temporary file, sync
// it, rename it over the old one, sync the directory.
func writeHead(dir string, seq uint64, off int64) error {
	tmp := filepath.Join(dir, "head.tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("write head: %w", err)
	}
	_, err = f.Write(encodeHead(seq, off))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, "head"))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("write head: %w", err)
	}
	return nil
}

// syncDir makes created, renamed and removed names in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
