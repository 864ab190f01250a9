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

type memoryKey struct {
	key string
	per int64
}

type memoryWindow struct {
	start int64 // Unix seconds
	count int64
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

// window returns the start of the window containing now and when it ends.
func window(now time.Time, l Limit) (start int64, reset time.Time, resetAfter time.Duration) {
	per := l.seconds()
	sec := now.Unix()
	start = sec - sec%per
	reset = time.Unix(start+per, 0)
	return start, reset, reset.Sub(now)
}

// Allow implements Store.
func (s *MemoryStore) Allow(ctx context.Context, key string, l Limit) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, err
	}
	now := s.now()
	start, reset, resetAfter := window(now, l)
	k := memoryKey{key, l.seconds()}

	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.windows[k]
	if !ok || w.start != start {
		if !ok && len(s.windows) >= s.maxKeys && !s.sweep(now) {
			return Decision{}, fmt.Errorf("%w: %d live windows", ErrStoreFull, len(s.windows))
		}
		w = memoryWindow{start: start}
	}
	if w.count >= l.Requests {
		return newDecision(l, false, w.count, reset, resetAfter), nil
	}
	w.count++
	s.windows[k] = w
	return newDecision(l, true, w.count, reset, resetAfter), nil
}

// sweep drops ended windows and reports whether there is room for one more.
// It runs at most once per second so a full store of live windows does not
// rescan the whole map on every new key.
func (s *MemoryStore) sweep(now time.Time) bool {
	if now.Before(s.nextScan) {
		return false
	}
	s.nextScan = now.Add(time.Second)
	sec := now.Unix()
	for k, w := range s.windows {
		if w.start+k.per <= sec {
			delete(s.windows, k)
		}
	}
	return len(s.windows) < s.maxKeys
}

// Peek implements Store.
func (s *MemoryStore) Peek(ctx context.Context, key string, l Limit) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, err
	}
	now := s.now()
	start, reset, resetAfter := window(now, l)

	s.mu.Lock()
	w, ok := s.windows[memoryKey{key, l.seconds()}]
	s.mu.Unlock()
	var count int64
	if ok && w.start == start {
		count = w.count
	}
	return newDecision(l, count < l.Requests, count, reset, resetAfter), nil
}

// Reset implements Store.
func (s *MemoryStore) Reset(ctx context.Context, key string, l Limit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.windows, memoryKey{key, l.seconds()})
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
