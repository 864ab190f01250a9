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

// DefaultRedisPrefix starts every key the Redis store writes.
const DefaultRedisPrefix = "quota"

// rediser is the part of a go-redis client the store uses; a Client, a Ring
// and a ClusterClient all fit, and so does any redis.UniversalClient.
type rediser interface {
	redis.Scripter
	Del(ctx context.Context, keys ...string) *redis.IntCmd
}

// RedisConfig configures a RedisStore.
type RedisConfig struct {
	// Prefix starts every key, as in "quota:{user-42}:60".
	// Optional. Default value DefaultRedisPrefix.
	Prefix string
}

// RedisStore is a Store on Redis (standalone, Sentinel or Cluster): one
// script call, so one round trip, per decision.
type RedisStore struct {
	client rediser
	prefix string
	args   sync.Map // argsKey → []any, the script's arguments boxed once per limit
}

type argsKey struct{ per, requests int64 }

// scriptArgs returns the script arguments of l, boxed once: boxing two
// int64s per call would cost two allocations on every decision.
func (s *RedisStore) scriptArgs(l Limit) []any {
	k := argsKey{l.seconds(), l.Requests}
	if a, ok := s.args.Load(k); ok {
		return a.([]any)
	}
	a, _ := s.args.LoadOrStore(k, []any{k.per, k.requests, 1})
	return a.([]any)
}

var _ Store = (*RedisStore)(nil)

// NewRedisStore returns a Store on client.
//
// The client must not retry commands: a retried script whose first reply was
// lost counts the request twice. It must also honour context deadlines, or a
// hung Redis holds a request for the client's own (5s) timeouts instead of
// the Limiter's. Create it with MaxRetries: -1 and ContextTimeoutEnabled:
// true (see NewRedisClient); NewRedisStore returns an error for a Client,
// Ring or ClusterClient configured otherwise.
func NewRedisStore(client redis.UniversalClient, cfg RedisConfig) (*RedisStore, error) {
	if client == nil {
		return nil, errors.New("quota: NewRedisStore: nil client")
	}
	if err := checkClientOptions(client); err != nil {
		return nil, err
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultRedisPrefix
	}
	return &RedisStore{client: client, prefix: cfg.Prefix}, nil
}

// NewRedisClient parses a redis:// or rediss:// URL into a client set up as
// NewRedisStore requires: no retries, context deadlines honoured.
func NewRedisClient(url string) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("quota: redis URL: %w", err)
	}
	opt.MaxRetries = -1
	opt.ContextTimeoutEnabled = true
	return redis.NewClient(opt), nil
}

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

// Key returns the Redis key holding key's windows of length l.Per. The
// braces are a hash tag: every window of one key lands in one Cluster slot.
func (s *RedisStore) Key(key string, l Limit) string {
	return s.prefix + ":{" + key + "}:" + strconv.FormatInt(l.seconds(), 10)
}

// Allow implements Store.
func (s *RedisStore) Allow(ctx context.Context, key string, l Limit) (Decision, error) {
	reply, err := allowScript.Run(ctx, s.client, []string{s.Key(key, l)}, s.scriptArgs(l)...).Text()
	if err != nil {
		return Decision{}, fmt.Errorf("quota: redis allow: %w", err)
	}
	return decodeReply(l, reply)
}

// Peek implements Store.
func (s *RedisStore) Peek(ctx context.Context, key string, l Limit) (Decision, error) {
	reply, err := peekScript.Run(ctx, s.client, []string{s.Key(key, l)}, s.scriptArgs(l)[:2]...).Text()
	if err != nil {
		return Decision{}, fmt.Errorf("quota: redis peek: %w", err)
	}
	return decodeReply(l, reply)
}

// Reset implements Store.
func (s *RedisStore) Reset(ctx context.Context, key string, l Limit) error {
	if err := s.client.Del(ctx, s.Key(key, l)).Err(); err != nil {
		return fmt.Errorf("quota: redis reset: %w", err)
	}
	return nil
}

// decodeReply turns a script reply "<±count> <seconds> <microseconds>"
// into a Decision. The window is derived from Redis's time exactly as the
// script derived it, so Reset and ResetAfter are on Redis's clock alone.
func decodeReply(l Limit, r string) (Decision, error) {
	c, rest, ok1 := strings.Cut(r, " ")
	sec, usec, ok2 := strings.Cut(rest, " ")
	count, err1 := strconv.ParseInt(c, 10, 64)
	nowSec, err2 := strconv.ParseInt(sec, 10, 64)
	nowUsec, err3 := strconv.ParseInt(usec, 10, 64)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || err3 != nil {
		return Decision{}, fmt.Errorf("quota: redis script replied %q, want count, seconds and microseconds", r)
	}
	allowed := count >= 0
	if !allowed {
		count = -count
	}
	per := l.seconds()
	reset := nowSec - nowSec%per + per
	resetAfter := time.Duration(reset-nowSec)*time.Second - time.Duration(nowUsec)*time.Microsecond
	return newDecision(l, allowed, count, time.Unix(reset, 0), resetAfter), nil
}
