package cassandra

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tollgate/tollgate/internal/entity"
)

// cacheFormat is the layout version of the cache file.
const cacheFormat = 1

// cacheFile is the cache: the whole config at one version. It is JSON so
// that an operator can read what a node would start with.
type cacheFile struct {
	Format    int           `json:"format"`
	Version   uint64        `json:"version"`
	WrittenAt time.Time     `json:"written_at"`
	Node      string        `json:"node"`
	Entities  []cacheEntity `json:"entities"`
}

type cacheEntity struct {
	Kind      entity.Kind     `json:"kind"`
	Workspace string          `json:"workspace"`
	ID        string          `json:"id"`
	Entity    json.RawMessage `json:"entity"`
}

// loadCache reads the cache file at path into a mirror. A missing file is
// an error matching os.ErrNotExist.
func loadCache(path string) (*mirror, time.Time, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, time.Time{}, err
	}
	var f cacheFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, time.Time{}, fmt.Errorf("read config cache %s: %w", path, err)
	}
	if f.Format != cacheFormat {
		return nil, time.Time{}, fmt.Errorf("read config cache %s: unsupported format %d (this build reads %d)", path, f.Format, cacheFormat)
	}
	m := newMirror()
	m.version = f.Version
	for _, e := range f.Entities {
		if _, err := entity.New(e.Kind); err != nil || e.ID == "" {
			return nil, time.Time{}, fmt.Errorf("read config cache %s: bad entity %q/%q", path, e.Kind, e.ID)
		}
		m.putRaw(e.Kind, e.Workspace, e.ID, e.Entity)
	}
	if err := m.reindex(); err != nil {
		return nil, time.Time{}, fmt.Errorf("read config cache %s: %w", path, err)
	}
	return m, f.WrittenAt, nil
}

// kickCache tells the cache writer the mirror changed.
func (s *Store) kickCache() {
	select {
	case s.cacheKick <- struct{}{}:
	default:
	}
}

// cacheLoop writes the cache file after changes, at most once per
// cacheEvery: a burst of writes costs one file write, and the cache is
// never more than about a second behind the mirror.
func (s *Store) cacheLoop() {
	defer s.wg.Done()
	if s.opts.CachePath == "" {
		return
	}
	t := time.NewTimer(cacheEvery)
	t.Stop()
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.cacheKick:
		}
		if err := s.writeCache(); err != nil {
			s.log.Warn("config store: cannot write the config cache", "path", s.opts.CachePath, "error", err)
		}
		t.Reset(cacheEvery)
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

// writeCache writes the mirror to the cache file unless the file already
// holds it: to a temporary file in the same directory, synced, then
// renamed over the old one, so that a crash leaves the old cache or the new
// one, never half of one.
func (s *Store) writeCache() error {
	if s.opts.CachePath == "" {
		return nil
	}
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	s.mu.RLock()
	if s.m == nil || s.seq == s.cacheWritten {
		s.mu.RUnlock()
		return nil
	}
	seq, version, all := s.seq, s.m.version, s.m.all()
	s.mu.RUnlock()

	f := cacheFile{Format: cacheFormat, Version: version, WrittenAt: s.now().UTC(), Node: s.opts.NodeID,
		Entities: make([]cacheEntity, len(all))}
	for i, e := range all {
		f.Entities[i] = cacheEntity{Kind: e.kind, Workspace: e.ws, ID: e.id, Entity: e.body}
	}
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode config cache: %w", err)
	}
	if err := writeFileAtomic(s.opts.CachePath, data); err != nil {
		return err
	}
	s.cacheWritten = seq
	return nil
}

func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write config cache: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write config cache: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write config cache: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write config cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write config cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write config cache: %w", err)
	}
	// Make the rename durable; a directory that cannot be synced (some
	// filesystems) leaves it to the OS.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
