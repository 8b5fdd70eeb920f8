package cassandra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gocql/gocql"

	"github.com/tollgate/tollgate/gateway/store"
	"github.com/tollgate/tollgate/gateway/store/internal/record"
	"github.com/tollgate/tollgate/internal/entity"
)

// Create implements store.Store.
func (s *Store) Create(ctx context.Context, e entity.Entity) error {
	if err := record.Check(e); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	body, err := record.Marshal(e)
	if err != nil {
		return err
	}
	c := &change{op: opCreate, kind: e.Kind(), ws: record.Workspace(e), id: e.GetMeta().ID, body: body}
	return s.write(ctx, c, func(m *mirror) error { return m.checkCreate(e) })
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, e entity.Entity) error {
	if err := record.Check(e); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	body, err := record.Marshal(e)
	if err != nil {
		return err
	}
	c := &change{op: opUpdate, kind: e.Kind(), ws: record.Workspace(e), id: e.GetMeta().ID, body: body}
	return s.write(ctx, c, func(m *mirror) error { return m.checkUpdate(e) })
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, kind entity.Kind, workspace, id string) error {
	if kind == entity.KindWorkspace {
		workspace = ""
	}
	c := &change{op: opDelete, kind: kind, ws: workspace, id: id}
	return s.write(ctx, c, func(m *mirror) error {
		if m.get(kind, workspace, id) == nil {
			return fmt.Errorf("delete %s %s: %w", kind, id, store.ErrNotFound)
		}
		return nil
	})
}

// Replace implements store.Store. The change carries every entity of the
// workspace, so it must stay under Cassandra's mutation size limit
// (ErrTooLarge).
func (s *Store) Replace(ctx context.Context, workspace string, entities []entity.Entity) error {
	// The new set must be unique among itself; a scratch mirror checks it
	// as the store checks creates.
	scratch := newMirror()
	items := make([]replaceItem, 0, len(entities))
	for _, e := range entities {
		if e == nil {
			return fmt.Errorf("replace: %w", record.ErrNoEntity)
		}
		if e.Kind() == entity.KindWorkspace {
			return fmt.Errorf("replace %s: workspace entities are not part of a workspace", workspace)
		}
		id := e.GetMeta().ID
		if id == "" {
			return fmt.Errorf("replace: %s: %w", e.Kind(), record.ErrNoID)
		}
		body, err := record.Marshal(e)
		if err != nil {
			return err
		}
		// Check in the replaced workspace, whatever e says.
		in, err := record.Unmarshal(e.Kind(), workspace, body)
		if err != nil {
			return fmt.Errorf("replace: %w", err)
		}
		if err := scratch.checkCreate(in); err != nil {
			return err
		}
		if err := scratch.set(e.Kind(), workspace, id, body); err != nil {
			return fmt.Errorf("replace: %w", err)
		}
		items = append(items, replaceItem{Kind: e.Kind(), ID: id, Entity: body})
	}
	body, err := json.Marshal(items)
	if err != nil {
		return fmt.Errorf("replace %s: %w", workspace, err)
	}
	c := &change{op: opReplace, ws: workspace, body: body}
	return s.write(ctx, c, func(*mirror) error { return nil })
}

// write commits c as the next config version, after check has accepted it
// against the config at the version before; then applies it and writes
// its entities rows and config_head.
//
// The insert of the change row is a lightweight transaction on its
// version: of all the nodes that check against version v and try to
// commit v+1, exactly one succeeds, so a check is never invalidated by a
// write it did not see. The others catch up and check again.
func (s *Store) write(ctx context.Context, c *change, check func(m *mirror) error) error {
	if len(c.body) > maxChangeBytes {
		return fmt.Errorf("%s %s: %d bytes of JSON: %w (at most %d)", c.op, c.ws, len(c.body), ErrTooLarge, maxChangeBytes)
	}
	if err := s.checkOpen(ctx); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.checkOpen(ctx); err != nil {
		return err
	}
	// Queries end when the caller gives up or the store closes.
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()

	c.node = s.opts.NodeID
	var sess *gocql.Session
	for attempt := 1; ; attempt++ {
		if err := s.syncNow(qctx, true); err != nil {
			return s.writeError(ctx, c, err)
		}
		var err error
		if sess, err = s.lazy.Session(); err != nil {
			return s.writeError(ctx, c, err)
		}
		s.mu.RLock()
		if s.closed {
			s.mu.RUnlock()
			return store.ErrClosed
		}
		err = check(s.m)
		c.version = s.m.version + 1
		s.mu.RUnlock()
		if err != nil {
			return err
		}
		c.at = s.now().Truncate(time.Millisecond)
		ok, err := s.commit(qctx, sess, c)
		if err != nil {
			if ctx.Err() != nil || s.ctx.Err() != nil {
				return s.writeError(ctx, c, err)
			}
			return fmt.Errorf("%s: commit config version %d: %w (the change may have been committed; the node applies it if so)", c, c.version, err)
		}
		if ok {
			break
		}
		if attempt == maxCommitAttempts {
			return fmt.Errorf("%s: %w after %d attempts", c, ErrContention, attempt)
		}
		// Another node took the version: back off a little, with jitter
		// so that the losers do not collide again.
		d := time.Duration(attempt) * time.Millisecond * time.Duration(1+rand.IntN(4))
		select {
		case <-time.After(d):
		case <-qctx.Done():
			return s.writeError(ctx, c, qctx.Err())
		}
	}

	s.applyOwn(c)

	// The change is committed: whatever follows, the write has happened.
	// Its entities rows and the head are written on the store's context
	// so that a caller giving up does not leave them half done; if they
	// fail, the next writer or any node's poller writes them (checkHead).
	mctx, mcancel := context.WithTimeout(s.ctx, 2*s.opts.Cassandra.Timeout+10*time.Second)
	defer mcancel()
	if err := materialise(mctx, sess, c); err != nil {
		s.log.Warn("config store: committed change not yet written to the entities table; it will be repaired",
			"change", c.String(), "error", err)
		return nil
	}
	if err := s.advanceHead(mctx, sess, c.version-1, c.version, c.version); err != nil {
		s.log.Warn("config store: cannot advance the config head; it will be repaired", "change", c.String(), "error", err)
	}
	return nil
}

// writeError explains a write that did not get through.
func (s *Store) writeError(ctx context.Context, c *change, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case s.ctx.Err() != nil, errors.Is(err, store.ErrClosed):
		return store.ErrClosed
	}
	return fmt.Errorf("%s: %w: %w", c, ErrUnavailable, err)
}

// checkOpen reports a closed store or a done ctx before an operation.
func (s *Store) checkOpen(ctx context.Context) error {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return store.ErrClosed
	}
	return ctx.Err()
}

// applyOwn applies this node's committed change to the mirror, unless the
// sync goroutine read it back from the log first.
func (s *Store) applyOwn(c *change) {
	s.mu.Lock()
	if s.closed || c.version != s.m.version+1 {
		s.mu.Unlock()
		return
	}
	if err := c.apply(s.m); err != nil {
		s.log.Error("config store: cannot apply a config change, skipping it", "change", c.String(), "error", err)
	}
	s.m.version = c.version
	s.seq++
	s.mu.Unlock()
	s.changed(c.version)
}

// advanceHead moves config_head from h (a guess: it may be behind or
// ahead) to target. config_head is the version up to which every change's
// entities rows are written (a resync trusts the entities table that far),
// so before each compare-and-set it writes the rows of the changes between
// the head found and target. own (0: none) is the caller's change, whose
// rows it wrote itself; it must be target.
func (s *Store) advanceHead(ctx context.Context, sess *gocql.Session, h, target, own uint64) error {
	// Every change in (low, target] has its rows written.
	low := target
	if own == target {
		low = target - 1
	}
	for range 10 {
		if h < low {
			rows, err := readRange(ctx, sess, h, low)
			if err != nil {
				return err
			}
			next := h + 1
			for i := range rows {
				r := &rows[i]
				if r.version != next {
					s.log.Error("config store: changes expired before their entities rows were written; the entities table misses them",
						"from", next, "to", r.version-1)
				}
				next = r.version + 1
				if err := materialise(ctx, sess, r); err != nil {
					return fmt.Errorf("write entities rows of %s: %w", r, err)
				}
			}
			low = h
		}
		ok, cur, err := casHead(ctx, sess, h, target)
		if err != nil {
			return err
		}
		if ok || cur >= target {
			s.noteHead(max(cur, target))
			return nil
		}
		h = cur
	}
	return errors.New("config head contended, gave up")
}
