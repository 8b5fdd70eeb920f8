package cassandra

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gocql/gocql"
	"golang.org/x/sync/errgroup"

	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/internal/entity"
)

// syncLoop runs sync rounds: one every PollInterval, and one as soon as a
// read or a write asks for it. Only this goroutine syncs once Open has
// returned, so rounds never overlap.
func (s *Store) syncLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.PollInterval)
	defer t.Stop()
	for {
		background := false
		select {
		case <-s.stop:
			return
		case <-t.C:
			background = true
		case <-s.kick:
		}
		s.roundMu.Lock()
		r := s.next
		s.next = newRound()
		s.roundMu.Unlock()
		r.err = s.poll(s.ctx, background || r.wantHead)
		close(r.done)
	}
}

// syncNow waits for a sync round that starts after the call, so that
// everything committed before the call is applied when it returns nil.
// withHead asks the round to read config_head as well (writers need it to
// be sure they are not behind an expired stretch of the log).
func (s *Store) syncNow(ctx context.Context, withHead bool) error {
	s.roundMu.Lock()
	r := s.next
	if withHead {
		r.wantHead = true
	}
	s.roundMu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default: // a round is already asked for; r has not started yet
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stop:
		return store.ErrClosed
	}
}

// poll is one sync round: catch up with the change log; resync fully when
// there is no mirror yet or the log has lost changes this node needs.
// checkHead also reads config_head: every headCheckEvery-th empty
// background poll, and when a writer asks.
func (s *Store) poll(ctx context.Context, checkHead bool) error {
	sess, err := s.lazy.Session()
	if err == nil {
		err = s.pollSession(ctx, sess, checkHead)
	}
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	if err != nil {
		if ctx.Err() != nil {
			return err // closing: not Cassandra's fault
		}
		if !s.down.Load() || s.lastErr != err.Error() {
			s.log.Warn("config store: cannot sync with cassandra, serving the config this node has",
				"applied_version", s.version(), "error", err)
		}
		s.down.Store(true)
		s.lastErr = err.Error()
		return err
	}
	if s.down.Load() && !s.lastSync.IsZero() {
		s.log.Info("config store: cassandra reachable again", "applied_version", s.version())
	}
	s.down.Store(false)
	s.lastErr = ""
	s.lastSync = s.now()
	s.fromCache = false
	return nil
}

func (s *Store) pollSession(ctx context.Context, sess *gocql.Session, checkHead bool) error {
	s.mu.RLock()
	empty := s.m == nil
	s.mu.RUnlock()
	if empty {
		return s.resync(ctx, sess, "no local cache")
	}
	if s.verifyCache {
		if err := s.checkCache(ctx, sess); err != nil {
			return err
		}
	}
	found, err := s.catchUp(ctx, sess)
	if err != nil {
		return err
	}
	if found {
		s.idlePolls = 0
	} else {
		s.idlePolls++
	}
	if checkHead || s.idlePolls >= headCheckEvery {
		s.idlePolls = 0
		return s.checkHead(ctx, sess)
	}
	return nil
}

// version returns the applied version (0 without a mirror).
func (s *Store) version() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.m == nil {
		return 0
	}
	return s.m.version
}

// catchUp applies the changes committed after the applied version, in
// order, reading bucket after bucket. A change missing before a later one
// means the log expired under this node: it resyncs. found says whether
// anything was applied.
func (s *Store) catchUp(ctx context.Context, sess *gocql.Session) (found bool, err error) {
	for {
		after := s.version()
		rows, err := readChanges(ctx, sess, bucketOf(after+1), after, 0)
		if err != nil {
			return found, err
		}
		if len(rows) == 0 {
			return found, nil
		}
		n := contiguous(rows, after)
		if n > 0 {
			s.applyChanges(rows[:n])
			found = true
		}
		if n < len(rows) {
			missing := after + uint64(n) + 1
			return true, s.resync(ctx, sess, fmt.Sprintf("change log expired after version %d (next retained change is %d)",
				missing-1, rows[n].version))
		}
		if !lastInBucket(rows[n-1].version) {
			return found, nil
		}
		// The bucket is exhausted: the next change opens the next one.
	}
}

// contiguous returns how many rows follow after without a hole.
func contiguous(rows []change, after uint64) int {
	for i := range rows {
		if rows[i].version != after+uint64(i)+1 {
			return i
		}
	}
	return len(rows)
}

// applyChanges applies rows (contiguous, in order) to the mirror under one
// lock, so that a reader sees all of them or none. Rows the mirror already
// has (a write of this node applied meanwhile) are skipped.
func (s *Store) applyChanges(rows []change) {
	s.mu.Lock()
	if s.closed || s.m == nil {
		s.mu.Unlock()
		return
	}
	applied := false
	for i := range rows {
		c := &rows[i]
		if c.version <= s.m.version {
			continue
		}
		if c.version != s.m.version+1 {
			break // cannot happen: rows follow the version they were read after
		}
		if err := c.apply(s.m); err != nil {
			// The writer encoded it; a change this node cannot decode
			// (a newer entity shape?) is skipped rather than stopping
			// every later one.
			s.log.Error("config store: cannot apply a config change, skipping it", "change", c.String(), "error", err)
		}
		s.m.version = c.version
		applied = true
	}
	v := s.m.version
	if applied {
		s.seq++
	}
	s.mu.Unlock()
	if applied {
		s.changed(v)
	}
}

// checkHead reads config_head. A head beyond the applied version with
// nothing in the log to reach it means the log expired: resync. A head that
// lags the applied version for long means a writer committed a change and
// died before writing its entities rows: write them (advanceHead).
func (s *Store) checkHead(ctx context.Context, sess *gocql.Session) error {
	h, err := readHead(ctx, sess)
	if err != nil {
		return err
	}
	s.noteHead(h)
	applied := s.version()
	if h > applied {
		if _, err := s.catchUp(ctx, sess); err != nil {
			return err
		}
		if applied = s.version(); h > applied {
			return s.resync(ctx, sess, fmt.Sprintf("change log expired after version %d (config head is %d)", applied, h))
		}
	}
	s.stateMu.Lock()
	switch {
	case h >= applied:
		s.lagSince = time.Time{}
	case s.lagSince.IsZero() || s.lagHead != h:
		s.lagHead, s.lagSince = h, s.now()
	}
	repair := !s.lagSince.IsZero() && s.now().Sub(s.lagSince) >= s.opts.headRepairAfter
	s.stateMu.Unlock()
	if !repair {
		return nil
	}
	s.log.Warn("config store: config head lags the change log, writing the missing entities rows",
		"head", h, "applied_version", applied)
	if err := s.advanceHead(ctx, sess, h, applied, 0); err != nil {
		return fmt.Errorf("repair config head: %w", err)
	}
	return nil
}

func (s *Store) noteHead(h uint64) {
	s.stateMu.Lock()
	if h > s.head {
		s.head = h
	}
	s.stateMu.Unlock()
}

// checkCache runs once after the node started from its cache file: if the
// cluster knows nothing of the cached version (the keyspace was recreated,
// or the cache comes from another cluster), the cluster wins.
func (s *Store) checkCache(ctx context.Context, sess *gocql.Session) error {
	v := s.version()
	h, err := readHead(ctx, sess)
	if err != nil {
		return err
	}
	s.noteHead(h)
	if h < v {
		rows, err := readChanges(ctx, sess, bucketOf(v), v-1, v)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			if err := s.resync(ctx, sess, fmt.Sprintf("cached config version %d is ahead of the cluster's (config head %d)", v, h)); err != nil {
				return err
			}
		}
	}
	s.verifyCache = false
	return nil
}

// resync rebuilds the mirror from Cassandra: config_head, then every
// entities partition, then every change of the log after the head. Reading
// the log (again) after the entities makes every change whose rows the
// entities read saw part of the replay, so the result is the state at the
// last change replayed; replay is idempotent, each change setting or
// deleting whole entities.
func (s *Store) resync(ctx context.Context, sess *gocql.Session, reason string) error {
	start := s.now()
	applied := s.version()
	s.log.Warn("config store: resynchronising the whole config from cassandra", "reason", reason, "applied_version", applied)

	h, err := readHead(ctx, sess)
	if err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	s.noteHead(h)
	log1, err := readLogFrom(ctx, sess, h)
	if err != nil {
		return fmt.Errorf("resync: %w", err)
	}

	fresh := newMirror()
	wsRows, err := readPartition(ctx, sess, entity.KindWorkspace, "")
	if err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	// Workspaces: those with a workspace entity, the default one, those
	// the node knows, those the log names.
	wss := []string{entity.DefaultWorkspace}
	for _, r := range wsRows {
		fresh.putRaw(entity.KindWorkspace, "", r.id, r.body)
		e, err := entity.Decode(entity.KindWorkspace, r.body)
		if err != nil {
			return fmt.Errorf("resync: decode workspace %s: %w", r.id, err)
		}
		wss = append(wss, e.(*entity.Workspace).Name)
	}
	s.mu.RLock()
	if s.m != nil {
		wss = append(wss, s.m.workspaces()...)
	}
	s.mu.RUnlock()
	for _, c := range log1 {
		if c.ws != "" {
			wss = append(wss, c.ws)
		}
	}
	slices.Sort(wss)
	wss = slices.Compact(wss)

	type part struct {
		key  tableKey
		rows []stored
	}
	var parts []*part
	for _, ws := range wss {
		for _, k := range workspaceKinds() {
			parts = append(parts, &part{key: tableKey{k, ws}})
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, p := range parts {
		g.Go(func() error {
			rows, err := readPartition(gctx, sess, p.key.kind, p.key.ws)
			p.rows = rows
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	for _, p := range parts {
		for _, r := range p.rows {
			fresh.putRaw(p.key.kind, p.key.ws, r.id, r.body)
		}
	}

	after := h
	if len(log1) > 0 {
		after = log1[len(log1)-1].version
	}
	log2, err := readLogFrom(ctx, sess, after)
	if err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	replay := append(log1, log2...)
	if len(replay) > 0 && replay[0].version != h+1 {
		s.log.Error("config store: changes expired from the log before their entities rows were written; the config may miss them",
			"from", h+1, "to", replay[0].version-1)
	}
	fresh.version = h
	for i := range replay {
		c := &replay[i]
		if err := c.applyRaw(fresh); err != nil {
			s.log.Error("config store: cannot replay a config change, skipping it", "change", c.String(), "error", err)
		}
		fresh.version = c.version
	}
	if err := fresh.reindex(); err != nil {
		s.log.Error("config store: entities that do not decode were left out of the config", "error", err)
	}
	if fresh.version < applied {
		// The cluster lost what this node had (its keyspace was
		// recreated): the cluster wins, and the version goes back.
		s.log.Warn("config store: the cluster's config version is behind this node's, following the cluster",
			"cluster", fresh.version, "node", applied)
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return store.ErrClosed
	}
	s.m = fresh
	s.seq++
	s.mu.Unlock()
	s.stateMu.Lock()
	s.resyncs++
	s.stateMu.Unlock()
	s.log.Warn("config store: resync done", "version", fresh.version, "workspaces", len(wss),
		"replayed_changes", len(replay), "took", s.now().Sub(start))
	s.changed(fresh.version)
	return nil
}
