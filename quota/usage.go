package quota

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Usage is what a Limiter metered for one key (see Limit.Meter) and has
// not settled yet: per UTC day, and the thresholds its month windows
// reached.
//
// Counts are absolute: a later read of the same key and Epoch never shows
// less for a day. A reader that keeps, per key, day and Epoch, the largest
// counts it has read and sums over epochs therefore never counts twice,
// however often it copies, and loses only what Redis loses.
type Usage struct {
	// Key is the limiter key, as given to Allow.
	Key string
	// Epoch names this incarnation of the key's counters: counters lost
	// with Redis and started again get another one.
	Epoch string
	// Days are the days counted and not yet settled, oldest first.
	Days []DayUsage
	// Alerts are the thresholds reached and not yet settled.
	Alerts []Alert

	fields map[string]string // as read, for Settle
}

// DayUsage is one key's usage on one UTC day, in requests (units of
// cost).
type DayUsage struct {
	// Day is the day's 00:00 UTC.
	Day time.Time
	// Admitted is what was admitted, Overage included.
	Admitted int64
	// Refused is what was refused.
	Refused int64
	// Overage is what was admitted past a soft month window's Requests.
	Overage int64
}

// Alert records the request that first brought a Month window to Percent
// of its Requests.
type Alert struct {
	// Percent is 80 or 100.
	Percent int
	// Used is the window's count just after the decision that reached it
	// (requests of one key decided in one batch count together).
	Used int64
	// Limit is the window's Requests then.
	Limit int64
	// Start and End bound the month window.
	Start, End time.Time
	// At is when, on the store's clock.
	At time.Time
}

// errNoMeter is ReadUsage's and Settle's error on a store that does not
// meter.
var errNoMeter = errors.New("quota: usage metering needs the Redis store")

// usageSuffix ends the name of a key's usage hash.
const usageSuffix = "}:usage"

// usageKey returns the Redis key of key's metered usage:
// "quota:{key}:usage", in the same hash slot as its windows.
func (s *redisStore) usageKey(key string) string {
	return s.prefix + ":{" + key + usageSuffix
}

// ReadUsage calls fn with the Usage of every metered key in the store, in
// no particular order, until fn returns an error. Keys counted while it
// runs may or may not be seen; the next call sees them. Its cost grows
// with the number of keys in Redis (it walks them with SCAN).
func (l *Limiter) ReadUsage(ctx context.Context, fn func(Usage) error) error {
	s, ok := l.store.(*redisStore)
	if !ok {
		return errNoMeter
	}
	if err := l.meter.flush(ctx); err != nil {
		return err
	}
	return s.readUsage(ctx, fn)
}

// Settle removes from the store the days of u that are over and its
// alerts, once the caller has copied them for good: a field whose value
// changed since u was read stays, to be read again.
func (l *Limiter) Settle(ctx context.Context, u Usage) error {
	s, ok := l.store.(*redisStore)
	if !ok {
		return errNoMeter
	}
	args := make([]any, 0, 2*len(u.fields))
	for f, v := range u.fields {
		if f != "e" {
			args = append(args, f, v)
		}
	}
	if len(args) == 0 {
		return nil
	}
	if err := settleScript.Run(ctx, s.client, []string{s.usageKey(u.Key)}, args...).Err(); err != nil {
		return wrapRedisErr("settle", err)
	}
	return nil
}

// settleScript deletes the usage fields named in ARGV (pairs of field and
// value read) that still hold that value: alerts, and days before Redis's
// today, which nobody counts in any more.
var settleScript = redis.NewScript(`
local t = redis.call('TIME')
local today = math.floor(t[1] / 86400)
for j = 1, #ARGV, 2 do
  local f = ARGV[j]
  local d = tonumber(string.match(f, '^(%d+)[aro]$'))
  if (d == nil or d < today) and redis.call('HGET', KEYS[1], f) == ARGV[j + 1] then
    redis.call('HDEL', KEYS[1], f)
  end
end
return 0
`)

// readUsage is ReadUsage on every master of the store's client.
func (s *redisStore) readUsage(ctx context.Context, fn func(Usage) error) error {
	match := s.prefix + ":{*" + usageSuffix
	var err error
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		fn = serialized(fn)
		err = c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return s.scanUsage(ctx, node, match, fn)
		})
	case *redis.Ring:
		fn = serialized(fn)
		err = c.ForEachShard(ctx, func(ctx context.Context, node *redis.Client) error {
			return s.scanUsage(ctx, node, match, fn)
		})
	case redis.UniversalClient:
		err = s.scanUsage(ctx, c, match, fn)
	default:
		return errNoMeter
	}
	return err
}

// serialized wraps fn so that the servers' scans, which run at once,
// call it one at a time.
func serialized(fn func(Usage) error) func(Usage) error {
	var mu sync.Mutex
	return func(u Usage) error {
		mu.Lock()
		defer mu.Unlock()
		return fn(u)
	}
}

// scanBatch is how many keys one SCAN step asks for, and one pipeline of
// HGETALLs reads.
const scanBatch = 1000

// scanUsage reads the usage hashes of one server.
func (s *redisStore) scanUsage(ctx context.Context, node redis.UniversalClient, match string, fn func(Usage) error) error {
	var cursor uint64
	for {
		keys, next, err := node.Scan(ctx, cursor, match, scanBatch).Result()
		if err != nil {
			return wrapRedisErr("scan", err)
		}
		if len(keys) > 0 {
			pipe := node.Pipeline()
			cmds := make([]*redis.MapStringStringCmd, len(keys))
			for i, k := range keys {
				cmds[i] = pipe.HGetAll(ctx, k)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return wrapRedisErr("read usage", err)
			}
			for i, k := range keys {
				u, ok := parseUsage(strings.TrimSuffix(strings.TrimPrefix(k, s.prefix+":{"), usageSuffix), cmds[i].Val())
				if !ok {
					continue
				}
				if err := fn(u); err != nil {
					return err
				}
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

// parseUsage reads a usage hash; ok is false for one that expired between
// SCAN and HGETALL or holds nothing to copy.
func parseUsage(key string, h map[string]string) (Usage, bool) {
	u := Usage{Key: key, Epoch: h["e"], fields: h}
	days := map[int64]*DayUsage{}
	for f, v := range h {
		switch {
		case f == "e":
		case strings.HasPrefix(f, "t"):
			if a, err := parseAlert(f, v); err == nil {
				u.Alerts = append(u.Alerts, a)
			}
		case len(f) > 1:
			d, err := strconv.ParseInt(f[:len(f)-1], 10, 64)
			n, err2 := strconv.ParseInt(v, 10, 64)
			if err != nil || err2 != nil {
				continue
			}
			du := days[d]
			if du == nil {
				du = &DayUsage{Day: time.Unix(d*86400, 0).UTC()}
				days[d] = du
			}
			switch f[len(f)-1] {
			case 'a':
				du.Admitted = n
			case 'r':
				du.Refused = n
			case 'o':
				du.Overage = n
			}
		}
	}
	if u.Epoch == "" || len(days)+len(u.Alerts) == 0 {
		return Usage{}, false
	}
	for _, du := range days {
		u.Days = append(u.Days, *du)
	}
	slices.SortFunc(u.Days, func(a, b DayUsage) int { return a.Day.Compare(b.Day) })
	return u, true
}

// parseAlert reads field "t<percent>:<start>" = "<used> <limit> <end> <at>".
func parseAlert(f, v string) (Alert, error) {
	p, start, ok := strings.Cut(f[1:], ":")
	parts := strings.Fields(v)
	if !ok || len(parts) != 4 {
		return Alert{}, fmt.Errorf("quota: malformed alert %q", f)
	}
	var nums [6]int64
	for i, s := range append([]string{p, start}, parts...) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Alert{}, fmt.Errorf("quota: malformed alert %q: %w", f, err)
		}
		nums[i] = n
	}
	return Alert{
		Percent: int(nums[0]), Start: time.Unix(nums[1], 0).UTC(),
		Used: nums[2], Limit: nums[3], End: time.Unix(nums[4], 0).UTC(), At: time.Unix(nums[5], 0).UTC(),
	}, nil
}
