package quota

import "github.com/redis/go-redis/v9"

// allowScript consumes ARGV[3] requests from the window of ARGV[1] seconds
// held in KEYS[1], if ARGV[2] (the limit) leaves room.
//
// The key is a hash {w = window start (Unix seconds), n = count}: the window
// id lives in the value, not in the key name, so the key is known before the
// script runs and Redis Cluster can route it by its hash tag. Time comes from
// Redis TIME so every instance agrees on the window whatever its own clock
// says. The expiry is set in the same atomic step that starts a window, so no
// key ever lives without a TTL, and it is the window's end: nothing outlives
// its window.
//
// A refused request writes nothing, so a hog costs a read, not a write, and
// the count never exceeds the limit (Remaining never goes negative).
//
// Reply: {allowed (0|1), count, window end (Unix s), µs until the window
// end on Redis's clock}.
//
// Shaped for several windows per client later: each window length has its
// own key with the same hash tag, so one script call can check them all.
var allowScript = redis.NewScript(`
local per = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1])
local start = now - (now % per)
local reset = start + per
local cur = redis.call('HMGET', KEYS[1], 'w', 'n')
local same = tonumber(cur[1]) == start
local n = 0
if same then n = tonumber(cur[2]) or 0 end
if n + cost > limit then
  return {0, n, reset, (reset - now) * 1000000 - tonumber(t[2])}
end
n = n + cost
if same then
  redis.call('HINCRBY', KEYS[1], 'n', cost)
else
  redis.call('HSET', KEYS[1], 'w', start, 'n', n)
  redis.call('EXPIREAT', KEYS[1], reset)
end
return {1, n, reset, (reset - now) * 1000000 - tonumber(t[2])}
`)

// peekScript reads the window of ARGV[1] seconds held in KEYS[1] without
// writing; its reply has allowScript's shape, allowed meaning "one more
// request would be admitted".
var peekScript = redis.NewScript(`
local per = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1])
local start = now - (now % per)
local cur = redis.call('HMGET', KEYS[1], 'w', 'n')
local n = 0
if tonumber(cur[1]) == start then n = tonumber(cur[2]) or 0 end
local allowed = 0
if n < limit then allowed = 1 end
return {allowed, n, start + per, (start + per - now) * 1000000 - tonumber(t[2])}
`)
