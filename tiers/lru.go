package tiers

import (
	"container/list"
	"sync"
)

// lru maps client IDs to tier names, holding at most max entries and
// evicting the least recently used. It is the Cache's memory bound: a
// million distinct callers cost max entries, not a million.
//
// Every removal bumps an epoch. A lookup that misses reads the epoch before
// querying Postgres and stores its answer only if the epoch is unchanged,
// so an answer read before a concurrent change cannot overwrite the
// eviction that change caused.
type lru struct {
	mu    sync.Mutex
	max   int
	order *list.List // front is most recently used; values are *lruEntry
	items map[string]*list.Element
	epoch uint64
}

type lruEntry struct {
	id, tier string
}

func newLRU(max int) *lru {
	return &lru{max: max, order: list.New(), items: make(map[string]*list.Element)}
}

// get returns id's tier name and marks it recently used.
func (l *lru) get(id string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.items[id]
	if !ok {
		return "", false
	}
	l.order.MoveToFront(el)
	return el.Value.(*lruEntry).tier, true
}

// currentEpoch returns the epoch to pass to put after a lookup.
func (l *lru) currentEpoch() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epoch
}

// put stores id → tier unless something was removed since epoch was read.
func (l *lru) put(id, tier string, epoch uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if epoch != l.epoch {
		return
	}
	if el, ok := l.items[id]; ok {
		el.Value.(*lruEntry).tier = tier
		l.order.MoveToFront(el)
		return
	}
	l.items[id] = l.order.PushFront(&lruEntry{id: id, tier: tier})
	for l.order.Len() > l.max {
		oldest := l.order.Back()
		l.order.Remove(oldest)
		delete(l.items, oldest.Value.(*lruEntry).id)
	}
}

// remove forgets id.
func (l *lru) remove(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.epoch++
	if el, ok := l.items[id]; ok {
		l.order.Remove(el)
		delete(l.items, id)
	}
}

// flush forgets everything.
func (l *lru) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.epoch++
	l.order.Init()
	clear(l.items)
}

// len returns the number of entries.
func (l *lru) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.order.Len()
}
