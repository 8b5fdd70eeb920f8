// Package listing holds the parts of store.List that every config store
// implements alike: page sizes, opaque offsets and the tag and reference
// filters. It never touches storage.
package listing

import (
	"encoding/base64"
	"errors"
	"slices"
	"sort"

	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/internal/entity"
)

// Page sizes of store.ListOptions.
const (
	DefaultSize = 100
	MaxSize     = 1000
)

// ErrBadOffset says an offset was not one a List returned.
var ErrBadOffset = errors.New("invalid list offset")

// Size returns the page size for a requested one.
func Size(n int) int {
	switch {
	case n <= 0:
		return DefaultSize
	case n > MaxSize:
		return MaxSize
	}
	return n
}

// offsetPrefix marks offsets as this package's, so that a token from
// elsewhere is refused rather than silently misread.
const offsetPrefix = "k1:"

// EncodeOffset makes the opaque offset that resumes a listing after key.
func EncodeOffset(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(offsetPrefix + key))
}

// DecodeOffset returns the key an offset resumes after ("" for "").
func DecodeOffset(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) <= len(offsetPrefix) || string(b[:len(offsetPrefix)]) != offsetPrefix {
		return "", ErrBadOffset
	}
	key := string(b[len(offsetPrefix):])
	// The decoder skips newlines; only the canonical form is an offset.
	if EncodeOffset(key) != s {
		return "", ErrBadOffset
	}
	return key, nil
}

// Match reports whether e passes the tag and reference filters of opts.
func Match(e entity.Entity, opts store.ListOptions) bool {
	if opts.RefKind != "" && e.Refs()[opts.RefKind] != opts.RefID {
		return false
	}
	if len(opts.Tags) == 0 {
		return true
	}
	tags := e.GetMeta().Tags
	for _, t := range opts.Tags {
		has := slices.Contains(tags, t)
		if opts.TagsAny && has {
			return true
		}
		if !opts.TagsAny && !has {
			return false
		}
	}
	return !opts.TagsAny
}

// Sorted is store.List over entities kept in memory: ids in List order, after
// the key an offset decoded to (when opts.Offset is set), each decoded with
// decode and kept when it passes Match, until size are found.
func Sorted(ids []string, after string, opts store.ListOptions, size int, decode func(id string) (entity.Entity, error)) (store.Page, error) {
	var page store.Page
	start := 0
	if opts.Offset != "" {
		start = sort.SearchStrings(ids, after)
		if start < len(ids) && ids[start] == after {
			start++
		}
	}
	for _, id := range ids[start:] {
		e, err := decode(id)
		if err != nil {
			return store.Page{}, err
		}
		if !Match(e, opts) {
			continue
		}
		if len(page.Entities) == size {
			// There is at least one more: the page ends at its last entity.
			page.Next = EncodeOffset(page.Entities[size-1].GetMeta().ID)
			break
		}
		page.Entities = append(page.Entities, e)
	}
	return page, nil
}
