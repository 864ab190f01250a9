package quota

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The benchmarks run against the test Redis. Compare Allow with the bare
// INCR floor from the same run:
//
//	go test -run '^$' -bench . -count 6 ./quota | tee new.txt; benchstat new.txt

var benchCallers = []int{1, 16, 64}

// runCallers runs op b.N times spread over callers goroutines; op gets a
// per-goroutine sequence number to pick keys with.
func runCallers(b *testing.B, callers int, op func(ctx context.Context, i int) error) {
	ctx := context.Background()
	b.ReportAllocs()
	if callers == 1 {
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			if err := op(ctx, i); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.SetParallelism((callers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	var seed atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(7919))
		for pb.Next() {
			i++
			if err := op(ctx, i); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "user-" + strconv.Itoa(i)
	}
	return keys
}

// BenchmarkRedisINCR is the floor: one bare INCR round trip per operation.
func BenchmarkRedisINCR(b *testing.B) {
	client, prefix := newTestRedis(b)
	for _, nkeys := range []int{1, 10_000} {
		keys := benchKeys(nkeys)
		for i := range keys {
			keys[i] = prefix + ":" + keys[i]
		}
		for _, callers := range benchCallers {
			b.Run("keys="+strconv.Itoa(nkeys)+"/callers="+strconv.Itoa(callers), func(b *testing.B) {
				runCallers(b, callers, func(ctx context.Context, i int) error {
					return client.Incr(ctx, keys[i%nkeys]).Err()
				})
			})
		}
	}
}

// BenchmarkLimiter_Allow measures admitted decisions with the default
// batching: the limit is never reached, so every call is one script call,
// pipelined with whatever else is in flight.
func BenchmarkLimiter_Allow(b *testing.B) {
	s, _ := newTestRedisStore(b)
	benchAllow(b, s)
}

// BenchmarkLimiter_AllowUnbatched measures admitted decisions with one
// round trip each.
func BenchmarkLimiter_AllowUnbatched(b *testing.B) {
	client, prefix := newTestRedis(b)
	s, err := newRedisStore(client, redisConfig{Prefix: prefix, DisableBatching: true})
	if err != nil {
		b.Fatal(err)
	}
	benchAllow(b, s)
}

func benchAllow(b *testing.B, s store) {
	l := mustLimiter(b, s, limiterConfig{Timeout: time.Second})
	lim := Limit{Windows: []Window{{Requests: MaxRequests, Per: MaxPer}}}
	for _, nkeys := range []int{1, 10_000} {
		keys := benchKeys(nkeys)
		for _, callers := range benchCallers {
			b.Run("keys="+strconv.Itoa(nkeys)+"/callers="+strconv.Itoa(callers), func(b *testing.B) {
				runCallers(b, callers, func(ctx context.Context, i int) error {
					d, err := l.Allow(ctx, keys[i%nkeys], lim)
					if err == nil && !d.Allowed {
						b.Fatal("refused")
					}
					return err
				})
			})
		}
	}
}

// BenchmarkLimiter_AllowOverLimit measures a hog: one key far over its
// limit, refused from the in-process cache.
func BenchmarkLimiter_AllowOverLimit(b *testing.B) {
	s, _ := newTestRedisStore(b)
	l := mustLimiter(b, s, limiterConfig{Timeout: time.Second})
	lim := Limit{Windows: []Window{{Requests: 1, Per: MaxPer}}}
	for _, callers := range benchCallers {
		b.Run("callers="+strconv.Itoa(callers), func(b *testing.B) {
			runCallers(b, callers, func(ctx context.Context, _ int) error {
				d, err := l.Allow(ctx, "hog", lim)
				if err == nil && d.Allowed && d.Remaining != 0 {
					b.Fatal("hog admitted twice")
				}
				return err
			})
		})
	}
}

// BenchmarkLimiter_AllowIdentities measures admitted decisions over 10³,
// 10⁵ and 10⁶ distinct identities at 64 callers, under one window and
// under a plan of three (an hour, a day, a month), and reports the
// process's live heap after the run (the limiter keeps no per-identity
// state for admitted keys; the hog cache is bounded) and Redis's bytes per
// identity (MEMORY USAGE of a sample of keys, summed over the windows).
//
//	go test -run '^$' -bench AllowIdentities -benchtime 1000000x ./quota
func BenchmarkLimiter_AllowIdentities(b *testing.B) {
	client, prefix := newTestRedis(b)
	s, err := newRedisStore(client, redisConfig{Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	l := mustLimiter(b, s, limiterConfig{Timeout: time.Second})
	plans := map[string]Limit{
		"windows=1": {Windows: []Window{{Requests: MaxRequests, Per: MaxPer}}},
		"windows=3": {Windows: []Window{{Requests: MaxRequests, Per: time.Hour}, {Requests: MaxRequests, Per: 24 * time.Hour}, {Requests: MaxRequests, Per: Month}}},
	}
	for _, name := range []string{"windows=1", "windows=3"} {
		lim := plans[name]
		for _, ids := range []int{1_000, 100_000, 1_000_000} {
			b.Run(name+"/ids="+strconv.Itoa(ids), func(b *testing.B) {
				benchIdentities(b, l, s, client, lim, ids)
			})
		}
	}
}

// benchIdentities is one run of BenchmarkLimiter_AllowIdentities.
func benchIdentities(b *testing.B, l *Limiter, s *redisStore, client redis.UniversalClient, lim Limit, ids int) {
	var n atomic.Int64
	runCallers(b, 64, func(ctx context.Context, _ int) error {
		i := n.Add(1) % int64(ids)
		_, err := l.Allow(ctx, "id-"+strconv.FormatInt(i, 10), lim)
		return err
	})
	b.StopTimer()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	var bytes, sampled int64
	for i := 0; i < min(ids, 100); i++ {
		for _, w := range lim.Windows {
			if v, err := client.MemoryUsage(context.Background(), s.windowKey("id-"+strconv.Itoa(i), w)).Result(); err == nil {
				bytes += v
			}
		}
		sampled++
	}
	b.ReportMetric(float64(bytes)/float64(sampled), "redis-B/id")
}

// BenchmarkRedisStore_BatchPipelines compares pipelines in flight, for
// tuning redisConfig.BatchPipelines: 10,000 keys, 16 and 64 callers.
func BenchmarkRedisStore_BatchPipelines(b *testing.B) {
	client, prefix := newTestRedis(b)
	lim := Limit{Windows: []Window{{Requests: MaxRequests, Per: MaxPer}}}
	keys := benchKeys(10_000)
	for _, pipelines := range []int{1, 2, 4, 8, 16} {
		s, err := newRedisStore(client, redisConfig{Prefix: prefix, BatchPipelines: pipelines})
		if err != nil {
			b.Fatal(err)
		}
		l := mustLimiter(b, s, limiterConfig{Timeout: time.Second})
		for _, callers := range []int{16, 64} {
			b.Run("pipelines="+strconv.Itoa(pipelines)+"/callers="+strconv.Itoa(callers), func(b *testing.B) {
				runCallers(b, callers, func(ctx context.Context, i int) error {
					_, err := l.Allow(ctx, keys[i%len(keys)], lim)
					return err
				})
			})
		}
	}
}
