package quota

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// defaultPrefix starts every key the Redis store writes.
const defaultPrefix = "quota"

// rediser is the part of a go-redis client the store uses; a Client, a Ring
// and a ClusterClient all fit, and so does any redis.UniversalClient.
type rediser interface {
	redis.Scripter
	Del(ctx context.Context, keys ...string) *redis.IntCmd
	Pipeline() redis.Pipeliner
}

// redisConfig configures a redisStore.
type redisConfig struct {
	// Prefix starts every key, as in "quota:{user-42}:60".
	// Optional. Default value defaultPrefix.
	Prefix string
	// DisableBatching makes every decision its own round trip. By default
	// decisions that arrive while a round trip is in flight go together in
	// one pipeline, merged per key (see batcher); a lone caller is never
	// delayed. Optional. Default value false.
	DisableBatching bool
	// BatchSize bounds the decisions in one pipeline.
	// Optional. Default value defaultBatchSize.
	BatchSize int
	// BatchPipelines bounds the pipelines in flight at once; more callers
	// than that queue for the next one.
	// Optional. Default value defaultBatchPipelines.
	BatchPipelines int
}

// redisStore is a store on Redis (standalone, Sentinel or Cluster): one
// script call per decision, and under concurrency one pipeline per batch of
// decisions.
type redisStore struct {
	client rediser
	prefix string
	batch  *batcher // nil when batching is disabled
	args   sync.Map // argsKey → *limitArgs
	clock  redisClock
	now    func() time.Time // the local clock; tests replace it
	// singleServer is set for a client that talks to one server (not a
	// Cluster or Ring), where a batch may go as one multi-key script call.
	singleServer bool
}

var _ store = (*redisStore)(nil)

// newRedisStore returns a store on client, which must neither retry
// commands nor ignore context deadlines (see NewWithConfig).
func newRedisStore(client redis.UniversalClient, cfg redisConfig) (*redisStore, error) {
	if client == nil {
		return nil, errors.New("quota: newRedisStore: nil client")
	}
	if err := checkClientOptions(client); err != nil {
		return nil, err
	}
	if cfg.BatchSize < 0 || cfg.BatchPipelines < 0 {
		return nil, fmt.Errorf("quota: newRedisStore: negative BatchSize %d or BatchPipelines %d", cfg.BatchSize, cfg.BatchPipelines)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = defaultPrefix
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = defaultBatchSize
	}
	if cfg.BatchPipelines == 0 {
		cfg.BatchPipelines = defaultBatchPipelines
	}
	s := &redisStore{client: client, prefix: cfg.Prefix, now: time.Now}
	_, s.singleServer = client.(*redis.Client)
	if !cfg.DisableBatching {
		s.batch = &batcher{store: s, size: cfg.BatchSize, max: cfg.BatchPipelines}
	}
	return s, nil
}

// checkClientOptions refuses a client that NewWithConfig would not use as
// is (see limiterClient), so a store made in the package's tests cannot
// count a retried script twice either.
func checkClientOptions(client redis.UniversalClient) error {
	var retries int
	var ctxTimeouts bool
	switch c := client.(type) {
	case *redis.Client:
		retries, ctxTimeouts = c.Options().MaxRetries, c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		retries, ctxTimeouts = c.Options().MaxRetries, c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		retries, ctxTimeouts = c.Options().MaxRetries, c.Options().ContextTimeoutEnabled
	default:
		return nil
	}
	if retries > 0 {
		return fmt.Errorf("quota: redis client retries commands (MaxRetries %d); set MaxRetries: -1 so a lost reply is never counted twice", retries)
	}
	if !ctxTimeouts {
		return errors.New("quota: redis client ignores context deadlines; set ContextTimeoutEnabled: true so a hung Redis cannot hold requests")
	}
	return nil
}

// windowKey returns the Redis key holding key's windows like w:
// "quota:{key}:60", or "quota:{key}:month". The braces are a hash tag:
// every window of one key lands in one Cluster slot.
func (s *redisStore) windowKey(key string, w Window) string {
	// Built on every decision, so in one allocation: concatenating
	// strconv.FormatInt's result would cost a second.
	var num [20]byte
	per := strconv.AppendInt(num[:0], w.seconds(), 10)
	if w.Per == Month {
		per = append(num[:0], "month"...)
	}
	var b strings.Builder
	b.Grow(len(s.prefix) + len(key) + len(per) + 4)
	b.WriteString(s.prefix)
	b.WriteString(":{")
	b.WriteString(key)
	b.WriteString("}:")
	b.Write(per)
	return b.String()
}

// appendWindowKeys appends the keys of key's windows ws to dst, as
// windowKey names them, in one allocation for them all: substrings of one
// string.
func (s *redisStore) appendWindowKeys(dst []string, key string, ws []Window) []string {
	// Each key: prefix, ":{", key, "}:" and at most 8 digits (MaxPer) or
	// "month".
	var b strings.Builder
	b.Grow(len(ws) * (len(s.prefix) + len(key) + 4 + 8))
	var ends [MaxWindows]int
	for i, w := range ws {
		b.WriteString(s.prefix)
		b.WriteString(":{")
		b.WriteString(key)
		b.WriteString("}:")
		if w.Per == Month {
			b.WriteString("month")
		} else {
			var num [20]byte
			b.Write(strconv.AppendInt(num[:0], w.seconds(), 10))
		}
		ends[i] = b.Len()
	}
	all, start := b.String(), 0
	for i := range ws {
		dst = append(dst, all[start:ends[i]])
		start = ends[i]
	}
	return dst
}

// Allow implements store. A one-window Limit of whole seconds at cost 1
// goes by allowScript (or allowManyScript in a batch); anything else by
// planScript.
func (s *redisStore) Allow(ctx context.Context, key string, l Limit, n int64) (Decision, error) {
	simple := n == 1 && l.simple()
	if s.batch != nil {
		if simple {
			return s.batch.allow(ctx, s.windowKey(key, l.Windows[0]), l, 1)
		}
		return s.batch.allow(ctx, key, l, n)
	}
	if simple {
		return s.allowNow(ctx, s.windowKey(key, l.Windows[0]), l)
	}
	return s.allowPlanNow(ctx, key, l, n)
}

// allowNow decides one request for the Redis key key in a round trip of
// its own.
func (s *redisStore) allowNow(ctx context.Context, key string, l Limit) (Decision, error) {
	r, err := s.sendAllow(ctx, s.client, key, l, 1, sendRun).reply(s, l, 1)
	if err != nil {
		return Decision{}, wrapRedisErr("allow", err)
	}
	return r.decision(l, r.admitted == 1, r.count), nil
}

// Peek implements store.
func (s *redisStore) Peek(ctx context.Context, key string, l Limit) (Decision, error) {
	if !l.simple() {
		return s.peekPlan(ctx, key, l)
	}
	sent := s.now()
	text, err := peekScript.Run(ctx, s.client, []string{s.windowKey(key, l.Windows[0])}, s.limitArgs(l).peek...).Text()
	if err != nil {
		return Decision{}, wrapRedisErr("peek", err)
	}
	n, sec, usec, err := parseReply(text)
	if err != nil {
		return Decision{}, err
	}
	s.clock.learn(sent, s.now(), sec, usec) // the time is in the reply anyway
	r := reply{count: n, sec: sec, usec: usec}
	return r.decision(l, n < l.Windows[0].Requests, n), nil
}

// Reset implements store.
func (s *redisStore) Reset(ctx context.Context, key string, l Limit) error {
	keys := s.appendWindowKeys(make([]string, 0, len(l.Windows)), key, l.Windows)
	// One DEL: its keys share a hash tag, so even a Cluster takes it.
	if err := s.client.Del(ctx, keys...).Err(); err != nil {
		return wrapRedisErr("reset", err)
	}
	return nil
}

// wrapRedisErr gives a Redis error the store's context.
func wrapRedisErr(op string, err error) error {
	return fmt.Errorf("quota: redis %s: %w", op, err)
}
