package cluster

import (
	"context"
	"errors"
	"sync"
)

// memDB is an in-memory backend for this package's unit tests: the rows of
// ratelimit_slots and ratelimit_quotas without TTLs, and a switch that
// makes every call fail as an unreachable Cassandra would.
type memDB struct {
	mu     sync.Mutex
	slots  map[memPartition]map[string]slotRow
	quotas map[memPartition]int64
	down   bool
	calls  int
}

type memPartition struct {
	key, period string
	start       int64
}

var errDown = errors.New("memdb: unreachable")

func newMemDB() *memDB {
	return &memDB{slots: map[memPartition]map[string]slotRow{}, quotas: map[memPartition]int64{}}
}

func (m *memDB) setDown(down bool) {
	m.mu.Lock()
	m.down = down
	m.mu.Unlock()
}

func (m *memDB) writeSlots(_ context.Context, node string, rows []slotWrite) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.down {
		return errDown
	}
	for _, w := range rows {
		p := memPartition{w.key, w.period, w.start}
		if m.slots[p] == nil {
			m.slots[p] = map[string]slotRow{}
		}
		m.slots[p][node] = slotRow{node: node, hits: w.hits, rate: w.rate, claim: w.claim}
	}
	return nil
}

func (m *memDB) readSlots(_ context.Context, key, period string, start int64) ([]slotRow, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.down {
		return nil, errDown
	}
	var out []slotRow
	for _, r := range m.slots[memPartition{key, period, start}] {
		out = append(out, r)
	}
	return out, nil
}

func (m *memDB) casQuota(_ context.Context, key, period string, start int64, used, expect int64, _ int) (bool, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.down {
		return false, 0, errDown
	}
	p := memPartition{key, period, start}
	cur, ok := m.quotas[p]
	if expect < 0 {
		if ok {
			return false, cur, nil
		}
		m.quotas[p] = used
		return true, 0, nil
	}
	if !ok {
		return false, -1, nil
	}
	if cur != expect {
		return false, cur, nil
	}
	m.quotas[p] = used
	return true, 0, nil
}
