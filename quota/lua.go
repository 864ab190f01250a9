package quota

import "github.com/redis/go-redis/v9"

// allowScript consumes ARGV[3] requests from the current window of ARGV[1]
// seconds held in KEYS[1], if ARGV[2] (the limit) leaves room.
//
// The key is a hash whose one field is named after the window's start (Unix
// seconds) and holds its count: the window id lives in the value, not in the
// key name, so the key is known before the script runs and Redis Cluster
// can route it by its hash tag. Time comes from Redis TIME, so every
// instance agrees on the window whatever its own clock says.
//
// The common case is one HINCRBY. A count equal to the cost means the
// window just started: older windows' fields are dropped and the expiry is
// set to the window's end, in the same atomic step, so no key lives without
// a TTL or beyond its window. An increment past the limit is undone at once
// (the script is atomic, so nobody sees it): the count never exceeds the
// limit and Remaining never goes negative.
//
// Reply: "<count> <Unix seconds> <microseconds>" from Redis TIME, the count
// negated when refused; the caller derives the window from the time exactly
// as the script did. One string costs Redis less to build and the client
// less to read than an array of integers.
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
local n = redis.call('HINCRBY', KEYS[1], start, cost)
if n == cost then
  if redis.call('HLEN', KEYS[1]) > 1 then
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], start, n)
  end
  redis.call('EXPIREAT', KEYS[1], start + per)
end
if n > limit then
  n = redis.call('HINCRBY', KEYS[1], start, -cost)
  return -n .. ' ' .. t[1] .. ' ' .. t[2]
end
return n .. ' ' .. t[1] .. ' ' .. t[2]
`)

// peekScript reads the current window of ARGV[1] seconds held in KEYS[1]
// without writing; its reply has allowScript's shape, the count negated
// when one more request would be refused (ARGV[2] is the limit).
var peekScript = redis.NewScript(`
local per = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1])
local n = tonumber(redis.call('HGET', KEYS[1], now - (now % per))) or 0
if n >= limit then n = -n end
return n .. ' ' .. t[1] .. ' ' .. t[2]
`)
