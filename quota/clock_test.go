package quota

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRedisClock(t *testing.T) {
	var c redisClock
	local := time.Unix(1_000_000, 0)
	if _, ok := c.estimate(local); ok {
		t.Fatal("an unmeasured clock gave an estimate")
	}
	// Sent at local, answered 2 ms later; Redis read 1,000,010.5 s at the
	// midpoint, so Redis runs 10.499 s ahead.
	c.learn(local, local.Add(2*time.Millisecond), 1_000_010, 500_000)
	if got, ok := c.estimate(local.Add(2 * time.Millisecond)); !ok || got != 1_000_010_501_000 {
		t.Fatalf("estimate 1 µs after the midpoint... = %d, %v; want 1000010501000, true", got, ok)
	}
	if _, ok := c.estimate(local.Add(2*time.Millisecond + clockCheckEvery)); ok {
		t.Fatalf("a measurement %v old still gave an estimate", clockCheckEvery)
	}
	if _, ok := c.estimate(local); ok {
		t.Fatal("a local clock gone back before the measurement gave an estimate")
	}
}

// replyKinds records the Go type of every script reply a client reads:
// int64 for allowScript's bare count, string for the count with the time.
type replyKinds struct {
	mu    sync.Mutex
	kinds []string
}

// process is a commandHook.
func (h *replyKinds) process(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if c, ok := cmd.(*redis.Cmd); ok && (c.Name() == "evalsha" || c.Name() == "eval") && err == nil {
			h.mu.Lock()
			h.kinds = append(h.kinds, fmt.Sprintf("%T", c.Val()))
			h.mu.Unlock()
		}
		return err
	}
}

// take returns the kinds recorded since the last take.
func (h *replyKinds) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := h.kinds
	h.kinds = nil
	return k
}

// TestRedisStore_NamedWindow: a lone decision names its window's field once
// the store has measured Redis's clock, and gets a bare count back; a wrong
// guess (the local clock two windows ahead, or one behind) still counts in
// Redis's window, in the one field, and brings the time back to correct the
// estimate. Both the unbatched store and a batching store's lone call.
func TestRedisStore_NamedWindow(t *testing.T) {
	t.Parallel()
	for _, batching := range []bool{false, true} {
		t.Run(fmt.Sprintf("batching=%v", batching), func(t *testing.T) {
			t.Parallel()
			client, prefix := newTestRedis(t)
			kinds := &replyKinds{}
			client.AddHook(commandHook(kinds.process))
			s, err := newRedisStore(client, redisConfig{Prefix: prefix, DisableBatching: !batching})
			if err != nil {
				t.Fatal(err)
			}
			// A year-long window: no boundary passes during the test.
			lim := Limit{Windows: []Window{{Requests: 10, Per: MaxPer}}}
			allow := func() Decision {
				t.Helper()
				if !batching {
					return mustAllow(t, s, "named", lim, true)
				}
				c := testCall(s, "named", lim)
				flushAll(t, s, []*call{c})
				if !c.d.Allowed {
					t.Fatalf("batched lone call refused: %+v", c.d)
				}
				return c.d
			}
			steps := []struct {
				name string
				skew time.Duration // added to Redis's offset as measured
				kind string
			}{
				{"unmeasured clock", 0, "string"},
				{"measured clock", 0, "int64"},
				{"clock two windows ahead", 2 * MaxPer, "string"},
				{"measured again", 0, "int64"},
				{"clock a window behind", -MaxPer, "string"},
				{"measured once more", 0, "int64"},
			}
			var first Decision
			for i, st := range steps {
				s.clock.offset.Add(st.skew.Microseconds())
				d := allow()
				if i == 0 {
					first = d
				}
				if got := kinds.take(); len(got) != 1 || got[0] != st.kind {
					t.Fatalf("%s: script replies %v, want one %s", st.name, got, st.kind)
				}
				if d.Remaining != int64(9-i) || !d.Reset.Equal(first.Reset) {
					t.Fatalf("%s: Remaining %d, Reset %v; want %d and the first decision's %v", st.name, d.Remaining, d.Reset, 9-i, first.Reset)
				}
				if d.ResetAfter <= 0 || d.ResetAfter > MaxPer {
					t.Fatalf("%s: ResetAfter %v outside the window", st.name, d.ResetAfter)
				}
			}
			fields, err := client.HGetAll(context.Background(), s.windowKey("named", lim.Windows[0])).Result()
			want := fmt.Sprint(first.Reset.Unix() - lim.Windows[0].seconds())
			if err != nil || len(fields) != 1 || fields[want] != fmt.Sprint(len(steps)) {
				t.Fatalf("hash fields %v (%v), want only %s: %d", fields, err, want, len(steps))
			}
		})
	}
}

// TestRedisStore_PeekMeasuresClock: Peek's reply carries Redis TIME, so it
// measures the clock too, and the next lone decision names its window.
func TestRedisStore_PeekMeasuresClock(t *testing.T) {
	t.Parallel()
	client, prefix := newTestRedis(t)
	kinds := &replyKinds{}
	client.AddHook(commandHook(kinds.process))
	s, err := newRedisStore(client, redisConfig{Prefix: prefix, DisableBatching: true})
	if err != nil {
		t.Fatal(err)
	}
	lim := Limit{Windows: []Window{{Requests: 10, Per: MaxPer}}}
	if _, err := s.Peek(context.Background(), "peeked", lim); err != nil {
		t.Fatal(err)
	}
	kinds.take()
	mustAllow(t, s, "peeked", lim, true)
	if got := kinds.take(); len(got) != 1 || got[0] != "int64" {
		t.Fatalf("the first Allow after a Peek got script replies %v, want one int64 (a named window)", got)
	}
}
