package quota

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

type argsKey struct{ per, requests int64 }

// limitArgs holds the scripts' arguments for one limit, boxed once: boxing
// them per call would cost allocations on every decision.
type limitArgs struct {
	per  int64
	peek []any // peekScript's: the window's length
	lone []any // allowScript's naming the epoch's first window, never Redis's
	win  atomic.Pointer[windowArgs]
}

// windowArgs is allowScript's arguments naming one window.
type windowArgs struct {
	start int64
	args  []any
}

// limitArgs returns l's arguments.
func (s *redisStore) limitArgs(l Limit) *limitArgs {
	w := l.Windows[0]
	k := argsKey{w.seconds(), w.Requests}
	if a, ok := s.args.Load(k); ok {
		return a.(*limitArgs)
	}
	per := strconv.FormatInt(k.per, 10)
	a, _ := s.args.LoadOrStore(k, &limitArgs{per: k.per, peek: []any{per}, lone: []any{k.requests, per, "0"}})
	return a.(*limitArgs)
}

// allowArgs returns allowScript's arguments for k requests under l, sent
// at local time now, and the estimate of Redis's time (Unix µs) whose
// window they name: 0 when they name the epoch's first window, because the
// clock needs measuring (see redisClock).
func (s *redisStore) allowArgs(l Limit, k int, now time.Time) ([]any, int64) {
	la := s.limitArgs(l)
	est, ok := s.clock.estimate(now)
	var args []any
	if !ok {
		est, args = 0, la.lone
	} else {
		sec := est / 1e6
		start := sec - sec%la.per
		w := la.win.Load()
		if w == nil || w.start != start {
			// Once per window and limit; callers racing across a window's
			// boundary may each build one, and each is right for its caller.
			w = &windowArgs{start: start, args: []any{la.lone[0], strconv.FormatInt(start+la.per, 10), strconv.FormatInt(start, 10)}}
			la.win.Store(w)
		}
		args = w.args
	}
	if k != 1 {
		args = append(args[:3:3], k)
	}
	return args, est
}

// allowCall is one allowScript call in flight: its command, when it was
// sent, and the estimate of Redis's time whose window it names (0: none).
type allowCall struct {
	cmd  *redis.Cmd
	sent time.Time
	est  int64
}

// sendHow says how sendAllow sends the script: Run (EVALSHA, then EVAL if
// Redis lost it) on a client, or EVALSHA or EVAL queued on a pipeline.
type sendHow int

const (
	sendRun sendHow = iota
	sendEvalSha
	sendEval
)

// sendAllow sends allowScript for k requests of the Redis key key under l
// through c, naming the window when the clock estimate allows.
func (s *redisStore) sendAllow(ctx context.Context, c redis.Scripter, key string, l Limit, k int, how sendHow) allowCall {
	a := allowCall{sent: s.now()}
	var args []any
	args, a.est = s.allowArgs(l, k, a.sent)
	keys := []string{key}
	switch how {
	case sendEvalSha:
		a.cmd = allowScript.EvalSha(ctx, c, keys, args...)
	case sendEval:
		a.cmd = allowScript.Eval(ctx, c, keys, args...)
	default:
		a.cmd = allowScript.Run(ctx, c, keys, args...)
	}
	return a
}

// reply reads the call's reply for k requests under l. A bare count means
// the named window was Redis's; a count with the time means the script
// chose the window, and the time corrects the clock's estimate.
func (a allowCall) reply(s *redisStore, l Limit, k int64) (reply, error) {
	v, err := a.cmd.Result()
	if err != nil {
		return reply{}, err
	}
	switch v := v.(type) {
	case int64:
		if a.est != 0 {
			return manyReply(v, l.Windows[0].Requests, k, a.est/1e6, a.est%1e6), nil
		}
	case string:
		n, sec, usec, err := parseReply(v)
		if err != nil {
			return reply{}, err
		}
		s.clock.learn(a.sent, s.now(), sec, usec)
		return manyReply(n, l.Windows[0].Requests, k, sec, usec), nil
	}
	return reply{}, fmt.Errorf("quota: redis script replied %v (%T), want a count, or a count and the time", v, v)
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
	keys := make([]string, len(l.Windows))
	for i, w := range l.Windows {
		keys[i] = s.windowKey(key, w)
	}
	// One DEL: its keys share a hash tag, so even a Cluster takes it.
	if err := s.client.Del(ctx, keys...).Err(); err != nil {
		return wrapRedisErr("reset", err)
	}
	return nil
}

// reply is a script reply: how many requests were admitted, the window's
// count after the call, and Redis's time.
type reply struct {
	admitted, count int64
	sec, usec       int64
}

// parseReply reads allowScript's and peekScript's reply, "<count> <Unix
// seconds> <microseconds>".
func parseReply(text string) (count, sec, usec int64, err error) {
	fields := [3]*int64{&count, &sec, &usec}
	rest := text
	for i, f := range fields {
		word := rest
		if i < len(fields)-1 {
			var ok bool
			if word, rest, ok = strings.Cut(rest, " "); !ok {
				return 0, 0, 0, fmt.Errorf("quota: redis script replied %q, want three integers", text)
			}
		}
		n, err := strconv.ParseInt(word, 10, 64)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("quota: redis script replied %q, want three integers", text)
		}
		*f = n
	}
	return count, sec, usec, nil
}

// decision is the Decision for one request of the reply with the given
// outcome and window count. The window is derived from Redis's time exactly
// as the script derived it, so Reset and ResetAfter are on Redis's clock.
func (r reply) decision(l Limit, allowed bool, count int64) Decision {
	per := l.Windows[0].seconds()
	reset := r.sec - r.sec%per + per
	resetAfter := time.Duration(reset-r.sec)*time.Second - time.Duration(r.usec)*time.Microsecond
	return newDecision(l, allowed, count, time.Unix(reset, 0), resetAfter)
}

// wrapRedisErr gives a Redis error the store's context.
func wrapRedisErr(op string, err error) error {
	return fmt.Errorf("quota: redis %s: %w", op, err)
}
