package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"
)

const (
	// segmentMagic starts every segment; its last byte is the format version,
	// so a future format can be told apart instead of read as damage.
	segmentMagic = "TGSPOOL\x01"
	headerSize   = int64(len(segmentMagic))
	// frameHeaderSize is the length and the CRC in front of each record.
	frameHeaderSize = 8
	segmentSuffix   = ".seg"
)

// castagnoli is CRC-32C, which has hardware support on amd64 and arm64 and
// detects more error patterns than IEEE CRC-32 (RFC 3720 §B.4). It is never
// written after package initialization.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frameCRC covers the length as well as the data, so that a run of zero bytes
// (what a file system may leave after a crash) is never a valid empty record.
func frameCRC(lenField []byte, data []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, lenField), castagnoli, data)
}

// appendFrame appends rec framed as length | CRC | data.
func appendFrame(dst, rec []byte) []byte {
	var h [frameHeaderSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(rec)))
	binary.LittleEndian.PutUint32(h[4:8], frameCRC(h[0:4], rec))
	dst = append(dst, h[:]...)
	return append(dst, rec...)
}

// parseFrame reads the frame at the start of b, which holds avail bytes of
// the segment from there on (b may be shorter than avail when the caller
// reads in chunks). It returns the record, the frame's total size, and why
// the frame is bad ("" when it is good). needMore reports that b is too short
// to hold the frame but the segment is not.
func parseFrame(b []byte, avail int64) (rec []byte, size int64, bad string, needMore bool) {
	if avail < frameHeaderSize {
		return nil, 0, "short frame header", false
	}
	if len(b) < frameHeaderSize {
		return nil, 0, "", true
	}
	n := int64(binary.LittleEndian.Uint32(b[0:4]))
	size = frameHeaderSize + n
	if size > avail {
		return nil, 0, "record length " + strconv.FormatInt(n, 10) + " past the end of the segment", false
	}
	if int64(len(b)) < size {
		return nil, size, "", true
	}
	rec = b[frameHeaderSize:size]
	if binary.LittleEndian.Uint32(b[4:8]) != frameCRC(b[0:4], rec) {
		return nil, 0, "CRC mismatch", false
	}
	return rec, size, "", false
}

// scanResult is what a full read of one segment found.
type scanResult struct {
	end   int64  // offset after the last good frame (headerSize if none)
	count int    // good frames before end
	bad   string // why the bytes at end are not a good frame; "" when end is the file's end
	// markIdx is the number of frames before the offset passed as mark, and
	// markOK whether mark falls on a frame boundary at or before end.
	markIdx int
	markOK  bool
}

// scanSegment reads a whole segment of size bytes and finds where its good
// frames end. It reads everything once, sequentially; it never panics on
// any content.
func scanSegment(r io.ReaderAt, size int64, mark int64) (scanResult, error) {
	res := scanResult{end: headerSize}
	if size < headerSize {
		res.bad = "short segment header"
		res.end = 0
		return res, nil
	}
	var hdr [headerSize]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return res, fmt.Errorf("read segment header: %w", err)
	}
	if string(hdr[:]) != segmentMagic {
		res.bad = "not a spool segment header"
		res.end = 0
		return res, nil
	}
	off := headerSize
	if mark == off {
		res.markOK = true
	}
	br := bufio.NewReaderSize(io.NewSectionReader(r, off, size-off), 1<<20)
	var fh [frameHeaderSize]byte
	var data []byte
	for off < size {
		avail := size - off
		if avail < frameHeaderSize {
			res.bad = "short frame header"
			break
		}
		if _, err := io.ReadFull(br, fh[:]); err != nil {
			return res, fmt.Errorf("read frame at offset %d: %w", off, err)
		}
		n := int64(binary.LittleEndian.Uint32(fh[0:4]))
		if frameHeaderSize+n > avail {
			res.bad = "record length " + strconv.FormatInt(n, 10) + " past the end of the segment"
			break
		}
		if int64(cap(data)) < n {
			data = make([]byte, n)
		}
		data = data[:n]
		if _, err := io.ReadFull(br, data); err != nil {
			return res, fmt.Errorf("read frame at offset %d: %w", off, err)
		}
		if binary.LittleEndian.Uint32(fh[4:8]) != frameCRC(fh[0:4], data) {
			res.bad = "CRC mismatch"
			break
		}
		off += frameHeaderSize + n
		res.count++
		res.end = off
		if off == mark {
			res.markOK, res.markIdx = true, res.count
		}
	}
	return res, nil
}

func segmentName(seq uint64) string {
	return fmt.Sprintf("%020d%s", seq, segmentSuffix)
}

// parseSegmentName returns the sequence number of a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	base, ok := strings.CutSuffix(name, segmentSuffix)
	if !ok || len(base) != 20 {
		return 0, false
	}
	seq, err := strconv.ParseUint(base, 10, 64)
	return seq, err == nil
}

// headFile is the committed position: segment seq and offset, with a CRC so
// that a damaged file is noticed (and everything replayed) rather than
// trusted.
const (
	headMagic    = "TGHD"
	headFileSize = 4 + 8 + 8 + 4
)

func encodeHead(seq uint64, off int64) []byte {
	b := make([]byte, headFileSize)
	copy(b, headMagic)
	binary.LittleEndian.PutUint64(b[4:12], seq)
	binary.LittleEndian.PutUint64(b[12:20], uint64(off))
	binary.LittleEndian.PutUint32(b[20:24], crc32.Checksum(b[:20], castagnoli))
	return b
}

var errBadHead = errors.New("bad head file")

func decodeHead(b []byte) (seq uint64, off int64, err error) {
	if len(b) != headFileSize || string(b[:4]) != headMagic ||
		binary.LittleEndian.Uint32(b[20:24]) != crc32.Checksum(b[:20], castagnoli) {
		return 0, 0, errBadHead
	}
	seq = binary.LittleEndian.Uint64(b[4:12])
	off = int64(binary.LittleEndian.Uint64(b[12:20]))
	if off < headerSize {
		return 0, 0, errBadHead
	}
	return seq, off, nil
}
