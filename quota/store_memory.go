package quota

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// defaultMemoryMaxKeys bounds a memoryStore whose MaxKeys is zero.
const defaultMemoryMaxKeys = 1_000_000

// errStoreFull is wrapped by a memoryStore's refusal to track a new key
// while MaxKeys live windows exist. Evicting a live window instead would
// forget its count and admit more than its limit.
var errStoreFull = errors.New("quota: memory store full")

// memoryConfig configures a memoryStore.
type memoryConfig struct {
	// MaxKeys bounds how many (key, window length) counters are held.
	// Optional. Default value defaultMemoryMaxKeys.
	MaxKeys int
	// Now is the store's clock. Optional. Default value time.Now.
	Now func() time.Time
}

// memoryStore is a store for a single process: exact, bounded, and swept of
// ended windows as it fills. Several processes need a shared store such as
// redisStore.
type memoryStore struct {
	maxKeys int
	now     func() time.Time

	mu       sync.Mutex
	windows  map[memoryKey]memoryWindow
	nextScan time.Time
}

// memoryKey names a counter: a key's windows of one length (per in
// seconds, 0 for Month), as the Redis store's keys do.
type memoryKey struct {
	key string
	per int64
}

type memoryWindow struct {
	start, end int64 // Unix seconds
	count      int64
}

var _ store = (*memoryStore)(nil)

// newMemoryStore returns an empty memoryStore.
func newMemoryStore(cfg memoryConfig) (*memoryStore, error) {
	if cfg.MaxKeys < 0 {
		return nil, fmt.Errorf("quota: newMemoryStore: MaxKeys %d is negative", cfg.MaxKeys)
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = defaultMemoryMaxKeys
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &memoryStore{maxKeys: cfg.MaxKeys, now: cfg.Now, windows: make(map[memoryKey]memoryWindow)}, nil
}

// Allow implements store.
func (s *memoryStore) Allow(ctx context.Context, key string, l Limit, n int64) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, err
	}
	now := s.now()
	sec, usec := now.Unix(), int64(now.Nanosecond()/1e3)
	anchor := l.anchor()
	var counts [MaxWindows]int64
	var starts [MaxWindows]int64

	s.mu.Lock()
	defer s.mu.Unlock()
	fresh := 0
	for i, w := range l.Windows {
		starts[i], _ = w.bounds(sec, anchor)
		cur, ok := s.windows[memoryKey{key, w.seconds()}]
		if !ok {
			fresh++
		}
		if ok && cur.start == starts[i] {
			counts[i] = cur.count
		}
	}
	if fresh > 0 && len(s.windows)+fresh > s.maxKeys && !s.sweep(now, fresh) {
		return Decision{}, fmt.Errorf("%w: %d live windows", errStoreFull, len(s.windows))
	}
	d := decide(l, &counts, n, sec, usec)
	if d.Allowed {
		for i, w := range l.Windows {
			s.windows[memoryKey{key, w.seconds()}] = memoryWindow{start: starts[i], end: d.Window(i).Reset.Unix(), count: counts[i]}
		}
	}
	return d, nil
}

// sweep drops ended windows and reports whether there is room for one more.
// It runs at most once per second so a full store of live windows does not
// rescan the whole map on every new key.
func (s *memoryStore) sweep(now time.Time, room int) bool {
	if now.Before(s.nextScan) {
		return false
	}
	s.nextScan = now.Add(time.Second)
	sec := now.Unix()
	for k, w := range s.windows {
		if w.end <= sec {
			delete(s.windows, k)
		}
	}
	return len(s.windows)+room <= s.maxKeys
}

// Peek implements store.
func (s *memoryStore) Peek(ctx context.Context, key string, l Limit) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, err
	}
	now := s.now()
	sec, usec := now.Unix(), int64(now.Nanosecond()/1e3)
	var counts [MaxWindows]int64
	s.mu.Lock()
	for i, w := range l.Windows {
		start, _ := w.bounds(sec, l.anchor())
		if cur, ok := s.windows[memoryKey{key, w.seconds()}]; ok && cur.start == start {
			counts[i] = cur.count
		}
	}
	s.mu.Unlock()
	return peekDecision(l, &counts, sec, usec), nil
}

// Reset implements store.
func (s *memoryStore) Reset(ctx context.Context, key string, l Limit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	for _, w := range l.Windows {
		delete(s.windows, memoryKey{key, w.seconds()})
	}
	s.mu.Unlock()
	return nil
}

// Len returns how many counters the store holds, ended windows included
// until a sweep drops them.
func (s *memoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.windows)
}
