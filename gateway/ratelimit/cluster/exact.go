package cluster

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/tollgate/tollgate/gateway/ratelimit"
)

const (
	insertQuota = `INSERT INTO ratelimit_quotas (key, period, window_start, used) VALUES (?, ?, ?, ?) IF NOT EXISTS USING TTL ?`
	updateQuota = `UPDATE ratelimit_quotas USING TTL ? SET used = ? WHERE key = ? AND period = ? AND window_start = ? IF used = ?`
)

// exactKey names one window of one exact quota.
type exactKey struct {
	key   string
	w     ratelimit.Window
	start int64 // Unix ns
	end   int64
}

// TakeExact counts one hit against limit with a compare-and-set on the
// quota's row: INSERT ... IF NOT EXISTS for the window's first hit, then
// UPDATE ... IF used = <last seen>, retried with the value the failed
// transaction returns, at most MaxCASAttempts times (then ErrContention).
// A node that has seen the quota used up refuses without I/O: counts never
// fall within a window. When Cassandra cannot be reached it counts on this
// node alone and returns that answer with an error wrapping
// ratelimit.ErrUnsynced.
func (s *Store) TakeExact(ctx context.Context, key string, w ratelimit.Window, now time.Time, limit int64) (int64, bool, error) {
	start, end, err := window(w, now)
	if err != nil {
		return 0, false, err
	}
	k := exactKey{key: key, w: w, start: start, end: end}
	s.exactMu.Lock()
	known, seen := s.exact[k]
	s.exactMu.Unlock()
	if seen && known >= limit {
		return known, false, nil
	}
	ms := start / int64(time.Millisecond)
	ttl := int(math.Ceil((time.Duration(end-start) + s.opts.Grace).Seconds()))
	period := string(w)

	cur := known
	if !seen {
		if limit <= 0 {
			return 0, false, nil
		}
		applied, used, err := s.cas(ctx, key, period, ms, 1, -1, ttl)
		if err != nil {
			return s.takeLocal(k, limit, err)
		}
		if applied {
			s.remember(k, 1)
			return 1, true, nil
		}
		cur = used
	}
	for range s.opts.MaxCASAttempts {
		if cur >= limit {
			s.remember(k, cur)
			return cur, false, nil
		}
		applied, used, err := s.cas(ctx, key, period, ms, cur+1, cur, ttl)
		if err != nil {
			return s.takeLocal(k, limit, err)
		}
		if applied {
			s.remember(k, cur+1)
			return cur + 1, true, nil
		}
		if used < 0 {
			// No row (this node's memory outlived it): start it afresh.
			applied, used, err = s.cas(ctx, key, period, ms, 1, -1, ttl)
			if err != nil {
				return s.takeLocal(k, limit, err)
			}
			if applied {
				s.remember(k, 1)
				return 1, true, nil
			}
		}
		cur = used
	}
	s.remember(k, cur)
	return cur, false, fmt.Errorf("take %s %s: %w after %d attempts", key, w, ErrContention, s.opts.MaxCASAttempts)
}

// cas runs one lightweight transaction (see backend.casQuota).
func (s *Store) cas(ctx context.Context, key, period string, ms, used, expect int64, ttl int) (bool, int64, error) {
	s.countOps(1)
	return s.db.casQuota(ctx, key, period, ms, used, expect, ttl)
}

func (s *Store) remember(k exactKey, used int64) {
	s.exactMu.Lock()
	if used > s.exact[k] {
		s.exact[k] = used
	}
	s.exactMu.Unlock()
}

// takeLocal answers TakeExact from this node's own count of the quota,
// counted on from the last total the cluster answered.
func (s *Store) takeLocal(k exactKey, limit int64, cause error) (int64, bool, error) {
	s.localDecs.Add(1)
	if f := s.opts.Metrics.LocalDecision; f != nil {
		f()
	}
	s.exactMu.Lock()
	// Count on from the last total the cluster answered.
	n := max(s.exactLo[k], s.exact[k])
	ok := n < limit
	if ok {
		n++
		s.exactLo[k] = n
	}
	s.exactMu.Unlock()
	return n, ok, fmt.Errorf("take %s %s: %w: %w", k.key, k.w, ratelimit.ErrUnsynced, cause)
}
