package quota

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// hogMeterEvery is how often refusals answered from the hog cache reach
// the store's usage counts.
const hogMeterEvery = time.Second

// hogMeter counts the refusals of metered keys that the hog cache answers
// without the store, and adds them to the store's usage once per
// hogMeterEvery: a refusal from memory costs no round trip, and a second
// of them costs one call per key. What a process holds here is lost if it
// is killed before sending it (at most hogMeterEvery of refusals);
// admissions and overage never pass through here.
type hogMeter struct {
	s       *redisStore
	mu      sync.Mutex
	pending map[string]int64 // key → refused cost not yet sent
	start   sync.Once
	stop    chan struct{}
	done    chan struct{}
}

func newHogMeter(s *redisStore) *hogMeter {
	return &hogMeter{s: s, pending: map[string]int64{}, stop: make(chan struct{}), done: make(chan struct{})}
}

// add counts a refusal of cost n for key, starting the sender on first use.
func (m *hogMeter) add(key string, n int64) {
	m.start.Do(func() { go m.run() })
	m.mu.Lock()
	m.pending[key] += n
	m.mu.Unlock()
}

func (m *hogMeter) run() {
	defer close(m.done)
	t := time.NewTicker(hogMeterEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = m.flush(context.Background()) // what failed stays pending
		case <-m.stop:
			return
		}
	}
}

// close stops the sender and sends what is left.
func (m *hogMeter) close(ctx context.Context) error {
	started := true
	m.start.Do(func() { started = false })
	if started {
		close(m.stop)
		<-m.done
	}
	return m.flush(ctx)
}

// flush sends the pending refusals in one pipeline; on failure they stay
// pending for the next try.
func (m *hogMeter) flush(ctx context.Context) error {
	m.mu.Lock()
	batch := m.pending
	if len(batch) == 0 {
		m.mu.Unlock()
		return nil
	}
	m.pending = map[string]int64{}
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	keys := make([]string, 0, len(batch))
	pipe := m.s.client.Pipeline()
	for key, n := range batch {
		keys = append(keys, key)
		// Eval, not EvalSha: a pipeline cannot fall back on NOSCRIPT.
		refuseScript.Eval(ctx, pipe, []string{m.s.usageKey(key)}, n)
	}
	cmds, err := pipe.Exec(ctx)
	if err == nil {
		return nil
	}
	// A command Redis refused, or that never left, goes back to be sent
	// again; one whose reply was lost may have run, and is dropped rather
	// than risk counting it twice.
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, key := range keys {
		if i >= len(cmds) || notSent(cmds[i].Err()) {
			m.pending[key] += batch[key]
		}
	}
	return wrapRedisErr("meter refusals", err)
}

// notSent reports whether err says a command did not run: Redis answered
// it with an error, or no connection could be made.
func notSent(err error) bool {
	var rerr redis.Error
	var oerr *net.OpError
	return errors.As(err, &rerr) || errors.As(err, &oerr) && oerr.Op == "dial"
}

// refuseScript adds ARGV[1] refused requests to the usage hash KEYS[1] on
// Redis's UTC day, making the hash as planScript does if it is new.
var refuseScript = redis.NewScript(`
local t = redis.call('TIME')
local day = math.floor(t[1] / 86400)
local n = ARGV[1]
if redis.call('HINCRBY', KEYS[1], tostring(day) .. 'r', n) == n + 0 then
  redis.call('HSETNX', KEYS[1], 'e', t[1] .. '.' .. t[2])
  redis.call('EXPIREAT', KEYS[1], (day + 4) * 86400)
end
return 0
`)
