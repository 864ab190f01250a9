package quota

import (
	"context"
	"runtime"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// BenchmarkBatchingFloor separates what batching gains from what the
// script costs, at 16 callers over 10,000 keys:
//
//   - incr: a bare INCR round trip per call, the floor of the other
//     benchmarks;
//   - pipelined-incr: floorBatcher, the least a leader/follower batcher
//     does (no merging per key, no deadlines, no yield accounting), sending
//     each batch as a pipeline of plain INCRs;
//   - floor-script: the same batcher sending each batch as one call of
//     floorManyScript, the least a batch script on Redis's clock can do
//     (TIME, then one HINCRBY per key; no limit, no TTL);
//   - many-script: the same batcher sending each batch as one
//     allowManyScript call, as redisStore does on a single server.
//
// pipelined-incr against incr is what batching alone can win on this
// machine; floor-script and many-script against pipelined-incr are the
// script's price in Redis; Limiter_Allow/keys=10000/callers=16 against
// many-script is the price of redisStore's own batcher.
//
//	go test -run '^$' -bench 'BatchingFloor|Limiter_Allow$/keys=10000/callers=16$' -count 6 ./quota
func BenchmarkBatchingFloor(b *testing.B) {
	client, prefix := newTestRedis(b)
	keys := benchKeys(10_000)
	for i := range keys {
		keys[i] = prefix + ":{" + keys[i] + "}:60"
	}
	const callers = 16
	b.Run("incr", func(b *testing.B) {
		runCallers(b, callers, func(ctx context.Context, i int) error {
			return client.Incr(ctx, keys[i%len(keys)]+":incr").Err()
		})
	})
	for _, name := range []string{"pipelined-incr", "floor-script", "many-script"} {
		fb := &floorBatcher{client: client, max: defaultBatchPipelines, suffix: ":" + name}
		switch name {
		case "floor-script":
			fb.script = floorManyScript
		case "many-script":
			fb.script = allowManyScript
		}
		b.Run(name, func(b *testing.B) {
			runCallers(b, callers, func(ctx context.Context, i int) error {
				return fb.do(ctx, keys[i%len(keys)])
			})
		})
	}
}

// floorManyScript counts one request per key in the current second of
// Redis's clock, and nothing more.
var floorManyScript = redis.NewScript(`
local t = redis.call('TIME')
local field = t[1]
local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('HINCRBY', KEYS[i], field, 1)
end
return out
`)

// floorBatcher is a minimal leader/follower batcher for
// BenchmarkBatchingFloor: the first max callers that find a slot free send
// what has queued after one yield; the others wait for them.
type floorBatcher struct {
	client *redis.Client
	max    int
	script *redis.Script // sent with allowManyScript's arguments; nil: a pipeline of INCRs
	suffix string        // ends every key, so each variant counts in keys of its own

	mu     sync.Mutex
	queue  []*floorCall
	active int
}

type floorCall struct {
	key  string
	done chan error
}

func (fb *floorBatcher) do(ctx context.Context, key string) error {
	c := &floorCall{key: key, done: make(chan error, 1)}
	fb.mu.Lock()
	fb.queue = append(fb.queue, c)
	lead := fb.active < fb.max
	if lead {
		fb.active++
	}
	fb.mu.Unlock()
	if lead {
		runtime.Gosched()
		if batch := fb.take(); batch != nil {
			fb.send(ctx, batch)
			runtime.Gosched()
			if batch = fb.take(); batch != nil {
				go func() {
					for batch != nil {
						fb.send(context.WithoutCancel(ctx), batch)
						runtime.Gosched()
						batch = fb.take()
					}
				}()
			}
		}
	}
	return <-c.done
}

// take empties the queue, or gives the slot back when it is empty.
func (fb *floorBatcher) take() []*floorCall {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if len(fb.queue) == 0 {
		fb.active--
		return nil
	}
	batch := fb.queue
	fb.queue = nil
	return batch
}

func (fb *floorBatcher) send(ctx context.Context, batch []*floorCall) {
	var err error
	if fb.script != nil {
		keys := make([]string, len(batch))
		for i, c := range batch {
			keys[i] = c.key + fb.suffix
		}
		args := []any{int64(60), int64(MaxRequests), -len(batch)} // one run, an increment of 1 each
		err = fb.script.Run(ctx, fb.client, keys, args...).Err()
	} else {
		_, err = fb.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, c := range batch {
				p.Incr(ctx, c.key+fb.suffix)
			}
			return nil
		})
	}
	for _, c := range batch {
		c.done <- err
	}
}
