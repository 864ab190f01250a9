package quota

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// argsKey names the one-window scripts' boxed arguments for one window
// length and limit (see limitArgs).
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
