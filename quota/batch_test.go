package quota

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRedisStore_BatchMergesAndStaysExact races 64 goroutines through one
// batching store for one key: batches form and merge (fewer script calls
// than decisions), exactly the limit is admitted, and the admitted
// decisions' Remaining values are each of limit-1 … 0 exactly once, as
// arrival order within a merged call assigns them.
func TestRedisStore_BatchMergesAndStaysExact(t *testing.T) {
	t.Parallel()
	client, prefix := newTestRedis(t)
	var cmds atomic.Int64
	client.AddHook(countHook{&cmds})
	s, err := NewRedisStore(client, RedisConfig{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	lim := Limit{Requests: 500, Per: MaxPer}
	if _, err := s.Allow(context.Background(), "warm", lim); err != nil { // loads the script
		t.Fatal(err)
	}
	cmds.Store(0)
	var mu sync.Mutex
	var remaining []int64
	refused := 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 64 {
		wg.Go(func() {
			<-start
			for range 20 {
				d, err := s.Allow(context.Background(), "hot", lim)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if d.Allowed {
					remaining = append(remaining, d.Remaining)
				} else {
					refused++
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if len(remaining) != 500 || refused != 64*20-500 {
		t.Fatalf("admitted %d, refused %d; want exactly 500 and %d", len(remaining), refused, 64*20-500)
	}
	slices.Sort(remaining)
	for i, r := range remaining {
		if r != int64(i) {
			t.Fatalf("admitted Remaining values are not 0…499 once each: position %d holds %d", i, r)
		}
	}
	if n := cmds.Load(); n >= 64*20 {
		t.Fatalf("%d Redis commands for %d decisions: nothing was batched", n, 64*20)
	}
	t.Logf("%d decisions in %d script calls", 64*20, cmds.Load())
}

// TestRedisStore_BatchCallerGivesUp: a caller whose context ends while its
// decision is queued behind a hung round trip gets its context's error at
// once; the others are not held beyond their own deadline.
func TestRedisStore_BatchCallerGivesUp(t *testing.T) {
	t.Parallel()
	l, _ := hungLimiter(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := decideWithin(t, l, "k", PerMinute(10), 3*time.Second)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	}
}

// TestNewRedisStore_BadBatchConfig rejects negative batch settings.
func TestNewRedisStore_BadBatchConfig(t *testing.T) {
	t.Parallel()
	client, _ := newTestRedis(t)
	for _, cfg := range []RedisConfig{{BatchSize: -1}, {BatchPipelines: -1}} {
		if _, err := NewRedisStore(client, cfg); err == nil {
			t.Errorf("NewRedisStore(%+v) accepted", cfg)
		}
	}
}
