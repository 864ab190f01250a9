package quota

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultMemoryMaxKeys bounds a MemoryStore whose MaxKeys is zero.
const DefaultMemoryMaxKeys = 1_000_000

// ErrStoreFull is wrapped by a MemoryStore's refusal to track a new key
// while MaxKeys live windows exist. Evicting a live window instead would
// forget its count and admit more than its limit.
var ErrStoreFull = errors.New("quota: memory store full")

// MemoryConfig configures a MemoryStore.
type MemoryConfig struct {
	// MaxKeys bounds how many (key, window length) counters are held.
	// Optional. Default value DefaultMemoryMaxKeys.
	MaxKeys int
	// Now is the store's clock. Optional. Default value time.Now.
	Now func() time.Time
}

// MemoryStore is a Store for a single process: exact, bounded, and swept of
// ended windows as it fills. Several processes need a shared store such as
// RedisStore.
type MemoryStore struct {
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

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(cfg MemoryConfig) (*MemoryStore, error) {
	if cfg.MaxKeys < 0 {
		return nil, fmt.Errorf("quota: NewMemoryStore: MaxKeys %d is negative", cfg.MaxKeys)
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = DefaultMemoryMaxKeys
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &MemoryStore{maxKeys: cfg.MaxKeys, now: cfg.Now, windows: make(map[memoryKey]memoryWindow)}, nil
}

// Allow implements Store.
func (s *MemoryStore) Allow(ctx context.Context, key string, l Limit, n int64) (Decision, error) {
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
		return Decision{}, fmt.Errorf("%w: %d live windows", ErrStoreFull, len(s.windows))
	}
	d := decide(l, &counts, n, sec, usec)
	if d.Allowed {
		for i, w := range l.Windows {
			s.windows[memoryKey{key, w.seconds()}] = memoryWindow{start: starts[i], end: d.windows[i].Reset.Unix(), count: counts[i]}
		}
	}
	return d, nil
}

// sweep drops ended windows and reports whether there is room for one more.
// It runs at most once per second so a full store of live windows does not
// rescan the whole map on every new key.
func (s *MemoryStore) sweep(now time.Time, room int) bool {
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

// Peek implements Store.
func (s *MemoryStore) Peek(ctx context.Context, key string, l Limit) (Decision, error) {
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

// Reset implements Store.
func (s *MemoryStore) Reset(ctx context.Context, key string, l Limit) error {
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
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.windows)
}
