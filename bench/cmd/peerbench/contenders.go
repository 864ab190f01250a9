package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/quotad/quotad/quota"
	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	ululeredis "github.com/ulule/limiter/v3/drivers/store/redis"
)

// limitSpec is the quota every contender enforces in one scenario, e.g.
// 1,000,000,000 per minute (never reached) or 1 per hour (a hog).
type limitSpec struct {
	requests int64
	per      time.Duration
}

// decideFunc decides one request for key number i (taken modulo the
// scenario's key count) and reports whether it was admitted.
type decideFunc func(ctx context.Context, i int) (admitted bool, err error)

// contender is one way of deciding a request against Redis. Each has its
// own go-redis client from newRedisClient, and a wireCounter hook on it.
type contender struct {
	name string
	// limiter is false for the floors (bare INCR, the clock-reading
	// script), which decide nothing.
	limiter bool
	// decisionOnly keeps a contender out of the hog scenario, where it
	// would measure nothing the decision scenario does not.
	decisionOnly bool
	// about is one line for the report: what a decision costs on the wire.
	about  string
	client *redis.Client
	wire   *wireCounter
	// prepare returns the decide function over nkeys keys in namespace ns
	// (a scenario's own key space) under lim.
	prepare func(ctx context.Context, ns string, nkeys int, lim limitSpec) (decideFunc, error)
}

// contenderNames lists every contender in the order they run and report.
var contenderNames = []string{"incr", "script-floor", "quota", "quota-3w", "quota-3w-meter", "quota-unbatched", "redis_rate", "ulule", "seed"}

// newRedisClient returns a client of url with go-redis's default pool that
// neither retries nor ignores context deadlines, as quotad's own is: quota
// then uses it as is rather than opening connections of its own, so the
// wireCounter hook added to it sees the limiter's traffic too.
func newRedisClient(url string) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	opt.MaxRetries, opt.ContextTimeoutEnabled = -1, true
	return redis.NewClient(opt), nil
}

// newContenders builds the named contenders, each on its own client;
// prefix starts every key they write.
func newContenders(redisURL, prefix string, names []string) ([]*contender, error) {
	var cs []*contender
	for _, name := range names {
		rdb, err := newRedisClient(redisURL)
		if err != nil {
			closeContenders(cs)
			return nil, err
		}
		wire := &wireCounter{}
		rdb.AddHook(wire)
		c := &contender{name: name, limiter: true, client: rdb, wire: wire}
		base := prefix + ":" + name
		switch name {
		case "incr":
			c.limiter = false
			c.about = "bare go-redis `INCR` on the key: the one-round-trip floor; decides nothing"
			c.prepare = prepareIncr(rdb, base, func(ctx context.Context, key string) error {
				return rdb.Incr(ctx, key).Err()
			})
		case "script-floor":
			c.limiter, c.decisionOnly = false, true
			c.about = "`EVALSHA` of a script that reads Redis `TIME` and `INCR`s the key: the cheapest one-script decision that keeps the window on Redis's clock, as `quota` does; decides nothing"
			c.prepare = prepareIncr(rdb, base, func(ctx context.Context, key string) error {
				return floorScript.Run(ctx, rdb, []string{key}).Err()
			})
		case "quota":
			c.about = "`quota.Limiter` from `quota.New` (batching on, the default): decisions that queue while round trips are in flight go to Redis together, as one multi-key `EVALSHA` (on a single server); a lone caller's decision goes alone"
			c.prepare = prepareQuota(rdb, base, false, 1, false)
		case "quota-3w":
			c.about = "the same under a plan of three windows: the scenario's, a day and a calendar month (never reached), all-or-nothing in one `EVALSHA` per batch"
			c.prepare = prepareQuota(rdb, base, false, 3, false)
		case "quota-3w-meter":
			c.about = "`quota-3w` metered (`Limit.Meter`, as quotad's clients are): the same script also counts admitted and refused per UTC day in the key's usage hash"
			c.prepare = prepareQuota(rdb, base, false, 3, true)
		case "quota-unbatched":
			c.about = "the same with `quota.Config.DisableBatching`: one `EVALSHA` round trip per decision"
			c.prepare = prepareQuota(rdb, base, true, 1, false)
		case "redis_rate":
			c.about = "`go-redis/redis_rate/v10` `Allow` (GCRA in Lua): one `EVALSHA` per decision"
			c.prepare = prepareRedisRate(rdb, base)
		case "ulule":
			c.about = "`ulule/limiter/v3` with `drivers/store/redis` (fixed window in Lua): one `EVALSHA` per decision"
			c.prepare = prepareUlule(rdb, base)
		case "seed":
			c.about = "the seed tutorial: `TxPipelined` `MULTI`/`INCR`/`EXPIREAT`/`EXEC` on a key named after the window, one round trip"
			c.prepare = prepareSeed(rdb, base)
		}
		cs = append(cs, c)
	}
	return cs, nil
}

func closeContenders(cs []*contender) {
	for _, c := range cs {
		_ = c.client.Close()
	}
}

// userIDs returns "<prefix>user-0" … "<prefix>user-<n-1>", built once so the
// hot loop does not pay for them.
func userIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = prefix + "user-" + strconv.Itoa(i)
	}
	return ids
}

// floorScript is the least a script can do and still put a decision on
// Redis's clock: read TIME, count the request.
var floorScript = redis.NewScript(`
local t = redis.call('TIME')
return redis.call('INCR', KEYS[1])
`)

// prepareIncr runs incr on keys that exist before the run, with a TTL.
func prepareIncr(rdb *redis.Client, base string, incr func(ctx context.Context, key string) error) func(context.Context, string, int, limitSpec) (decideFunc, error) {
	return func(ctx context.Context, ns string, nkeys int, _ limitSpec) (decideFunc, error) {
		keys := userIDs(base+":"+ns+":", nkeys)
		// INCR keeps a key's TTL: created with one, the keys expire even
		// if the run dies before it deletes them, at no cost per call.
		for chunk := range slices.Chunk(keys, 1000) {
			_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, k := range chunk {
					p.Set(ctx, k, 0, 24*time.Hour)
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		return func(ctx context.Context, i int) (bool, error) {
			return true, incr(ctx, keys[i%nkeys])
		}, nil
	}
}

// prepareQuota decides under the scenario's limit, or with windows 3, under
// a plan of that window, a day and a month, the two added never reached.
func prepareQuota(rdb *redis.Client, base string, unbatched bool, windows int, meter bool) func(context.Context, string, int, limitSpec) (decideFunc, error) {
	return func(_ context.Context, ns string, nkeys int, lim limitSpec) (decideFunc, error) {
		l, err := quota.NewWithConfig(rdb, quota.Config{Prefix: base + ":" + ns, DisableBatching: unbatched})
		if err != nil {
			return nil, err
		}
		ql := quota.Limit{Meter: meter, Windows: []quota.Window{{Requests: lim.requests, Per: lim.per}}}
		if windows == 3 {
			ql.Windows = append(ql.Windows, quota.Window{Requests: quota.MaxRequests, Per: 24 * time.Hour}, quota.Window{Requests: quota.MaxRequests, Per: quota.Month})
		}
		if err := ql.Validate(); err != nil {
			return nil, err
		}
		ids := userIDs("", nkeys)
		return func(ctx context.Context, i int) (bool, error) {
			d, err := l.Allow(ctx, ids[i%nkeys], ql)
			return d.Allowed, err
		}, nil
	}
}

func prepareRedisRate(rdb *redis.Client, base string) func(context.Context, string, int, limitSpec) (decideFunc, error) {
	rl := redis_rate.NewLimiter(rdb)
	return func(_ context.Context, ns string, nkeys int, lim limitSpec) (decideFunc, error) {
		// {requests, per} as redis_rate's own constructors build it:
		// PerMinute(n) is {Rate: n, Burst: n, Period: time.Minute}.
		rlim := redis_rate.Limit{Rate: int(lim.requests), Burst: int(lim.requests), Period: lim.per}
		keys := userIDs(base+":"+ns+":", nkeys) // redis_rate adds "rate:" in front
		return func(ctx context.Context, i int) (bool, error) {
			res, err := rl.Allow(ctx, keys[i%nkeys], rlim)
			if err != nil {
				return false, err
			}
			return res.Allowed > 0, nil
		}, nil
	}
}

func prepareUlule(rdb *redis.Client, base string) func(context.Context, string, int, limitSpec) (decideFunc, error) {
	return func(_ context.Context, ns string, nkeys int, lim limitSpec) (decideFunc, error) {
		store, err := ululeredis.NewStoreWithOptions(rdb, limiter.StoreOptions{Prefix: base + ":" + ns})
		if err != nil {
			return nil, fmt.Errorf("ulule store: %w", err)
		}
		l := limiter.New(store, limiter.Rate{Period: lim.per, Limit: lim.requests})
		ids := userIDs("", nkeys)
		return func(ctx context.Context, i int) (bool, error) {
			res, err := l.Get(ctx, ids[i%nkeys])
			if err != nil {
				return false, err
			}
			return !res.Reached, nil
		}, nil
	}
}

// prepareSeed is the seed tutorial's limiter: INCR the key of the current
// window (named after its start on the local clock) and set it to expire
// at the window's end, both in one MULTI/EXEC. It admits while the count is
// within the limit (the seed itself said `current >= limit`, one short).
func prepareSeed(rdb *redis.Client, base string) func(context.Context, string, int, limitSpec) (decideFunc, error) {
	return func(_ context.Context, ns string, nkeys int, lim limitSpec) (decideFunc, error) {
		per := int64(lim.per / time.Second)
		if per < 1 {
			return nil, errors.New("seed: window shorter than a second")
		}
		keys := userIDs(base+":"+ns+":", nkeys)
		return func(ctx context.Context, i int) (bool, error) {
			now := time.Now().Unix()
			start := now - now%per
			key := keys[i%nkeys] + ":" + strconv.FormatInt(start, 10)
			var incr *redis.IntCmd
			_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
				incr = p.Incr(ctx, key)
				p.ExpireAt(ctx, key, time.Unix(start+per, 0))
				return nil
			})
			if err != nil {
				return false, err
			}
			return incr.Val() <= lim.requests, nil
		}, nil
	}
}
