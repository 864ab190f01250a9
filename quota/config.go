package quota

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config configures a Limiter on Redis.
type Config struct {
	// Prefix starts every Redis key the Limiter writes, as in
	// "quota:{user-42}:60". Optional. Default value "quota".
	Prefix string

	// Timeout is how long a decision waits for a Redis that may be down.
	// A Redis that is answering may be busy, not dead, and is waited for
	// longer, the patience: 10 × Timeout, but no more than a second unless
	// Timeout itself is longer (100 ms → 1 s, 500 ms → 1 s, 2 s → 2 s).
	// While it has answered a decision that started within the last
	// patience and no call has failed since, a decision waits up to the
	// patience, and so does the circuit breaker's probe, so that load does
	// not turn into failure-policy decisions. A Redis that has gone quiet
	// for that long, whose last call failed, or that has not answered yet
	// gets Timeout. Either wait is rounded up to the next millisecond, or
	// is the caller's deadline if that comes first. A decision already
	// under way is not cut short when its caller's context is cancelled:
	// it ends by its own deadline. The default is generous on purpose: a
	// deadline a loaded machine misses turns load into failure-policy
	// admissions, which breaks exactness under FailOpen.
	// Optional. Default value 100ms.
	Timeout time.Duration

	// DisableBatching makes every decision its own round trip. By default
	// decisions that arrive while a round trip is in flight go together in
	// one pipeline, merged per key; a lone caller is never delayed.
	// Optional. Default value false.
	DisableBatching bool
}

// New returns a Limiter on rdb with the default Config: see NewWithConfig.
func New(rdb redis.UniversalClient) (*Limiter, error) {
	return NewWithConfig(rdb, Config{})
}

// NewWithConfig returns a Limiter on rdb (a Client, ClusterClient, Ring or
// any other redis.UniversalClient) configured by cfg.
//
// The Limiter's client must not retry commands, since a retried script whose
// first reply was lost counts the request twice, and must honour context
// deadlines, or a hung Redis holds a request for the client's own timeouts
// instead of the Limiter's. A Client, ClusterClient or Ring with MaxRetries
// above zero or ContextTimeoutEnabled false is therefore not used as is: the
// Limiter opens its own connections through a new client made from a copy
// of its options with those two fixed (hooks added to rdb are not copied),
// and Close closes it. Any other client is used as is and must be set up
// so by its owner. rdb itself stays the caller's to close.
func NewWithConfig(rdb redis.UniversalClient, cfg Config) (*Limiter, error) {
	if rdb == nil {
		return nil, errors.New("quota: New: nil redis client")
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("quota: New: negative Timeout %v", cfg.Timeout)
	}
	client, own := limiterClient(rdb)
	s, err := newRedisStore(client, redisConfig{Prefix: cfg.Prefix, DisableBatching: cfg.DisableBatching})
	if err == nil {
		var l *Limiter
		if l, err = newLimiter(s, limiterConfig{Timeout: cfg.Timeout}); err == nil {
			if own {
				l.own = client
			}
			return l, nil
		}
	}
	if own {
		_ = client.Close()
	}
	return nil, err
}

// NewInMemory returns a Limiter that counts in this process's memory: exact,
// and bounded to a million (key, window length) counters, but not shared with
// other processes. It suits tests and apps that run as one instance.
func NewInMemory() *Limiter {
	s, _ := newMemoryStore(memoryConfig{}) // a zero memoryConfig is valid
	l, _ := newLimiter(s, limiterConfig{}) // and so is a zero limiterConfig
	return l
}

// Close sends the metered refusals it answered from memory (see
// Limit.Meter) and closes the Redis client the Limiter made for itself
// (see NewWithConfig), if any; a client it was given is left open. The
// Limiter must not be used after Close.
func (l *Limiter) Close() error {
	var err error
	if l.meter != nil {
		err = l.meter.close(context.Background())
	}
	if l.own == nil {
		return err
	}
	return errors.Join(err, l.own.Close())
}

// limiterClient returns rdb if the Limiter may use it as is, or else a new
// client on a copy of its options that neither retries nor ignores context
// deadlines, and true. Options read from a client have had their defaults
// filled in: MaxRetries 0 there means none, -1 asks a new client for none.
func limiterClient(rdb redis.UniversalClient) (redis.UniversalClient, bool) {
	switch c := rdb.(type) {
	case *redis.Client:
		if o := *c.Options(); unsafeOptions(o.MaxRetries, o.ContextTimeoutEnabled) {
			o.MaxRetries, o.ContextTimeoutEnabled = -1, true
			// Per-client state that NewClient keeps in the options must not
			// be shared: the push processor rdb registered its handlers on,
			// and a client-side cache, which scripts never read anyway.
			o.PushNotificationProcessor = nil
			o.ClientSideCache, o.ClientSideCacheConfig = nil, nil
			if m := o.MaintNotificationsConfig; m != nil {
				mc := *m
				o.MaintNotificationsConfig = &mc
			}
			return redis.NewClient(&o), true
		}
	case *redis.ClusterClient:
		if o := *c.Options(); unsafeOptions(o.MaxRetries, o.ContextTimeoutEnabled) {
			o.MaxRetries, o.ContextTimeoutEnabled = -1, true
			if m := o.MaintNotificationsConfig; m != nil {
				mc := *m
				o.MaintNotificationsConfig = &mc
			}
			return redis.NewClusterClient(&o), true
		}
	case *redis.Ring:
		if o := *c.Options(); unsafeOptions(o.MaxRetries, o.ContextTimeoutEnabled) {
			o.MaxRetries, o.ContextTimeoutEnabled = -1, true
			return redis.NewRing(&o), true
		}
	}
	return rdb, false
}

// unsafeOptions reports whether a client's options would let it retry a
// script or outlive the Limiter's deadline.
func unsafeOptions(maxRetries int, contextTimeouts bool) bool {
	return maxRetries > 0 || !contextTimeouts
}
