package quota

import "github.com/redis/go-redis/v9"

// allowScript admits up to ARGV[3] requests, in order, into the current
// window of ARGV[1] seconds held in KEYS[1], as far as ARGV[2] (the limit)
// leaves room. One request is the usual call; several are one batch's
// requests for the same key, merged into one increment.
//
// The key is a hash whose one field is named after the window's start (Unix
// seconds) and holds its count: the window id lives in the value, not in the
// key name, so the key is known before the script runs and Redis Cluster
// can route it by its hash tag. Time comes from Redis TIME, so every
// instance agrees on the window whatever its own clock says.
//
// The common case is one HINCRBY. A count equal to the increment means the
// window just started: older windows' fields are dropped and the expiry is
// set to the window's end, in the same atomic step, so no key lives without
// a TTL or beyond its window. What goes past the limit is taken back at once
// (the script is atomic, so nobody sees it): the count never exceeds the
// limit and Remaining never goes negative.
//
// Reply: "<admitted> <count> <Unix seconds> <microseconds>", the count
// after the call and the time from Redis TIME; the caller derives the window
// from the time exactly as the script did. One string costs Redis less to
// build and the client less to read than an array of integers.
//
// Shaped for several windows per client later: each window length has its
// own key with the same hash tag, so one script call can check them all.
var allowScript = redis.NewScript(`
local per = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local k = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1])
local start = now - (now % per)
local n = redis.call('HINCRBY', KEYS[1], start, k)
if n == k then
  if redis.call('HLEN', KEYS[1]) > 1 then
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], start, n)
  end
  redis.call('EXPIREAT', KEYS[1], start + per)
end
local admitted = k
if n > limit then
  local over = math.min(n - limit, k)
  admitted = k - over
  n = redis.call('HINCRBY', KEYS[1], start, -over)
end
return admitted .. ' ' .. n .. ' ' .. t[1] .. ' ' .. t[2]
`)

// allowManyScript is allowScript for several keys at once. A batch on one
// Redis server goes as one call, so Redis runs the script machinery (and
// TIME) once per batch instead of once per key. Keys of different clients
// may sit on different Cluster slots, so it is used only with a
// single-server client.
//
// The keys come in runs that share one limit (in quotad, one run per tier
// in the batch): ARGV holds, for each run in turn, the window's length in
// seconds, the limit, the run's number of keys, then each key's increment;
// the run's keys are the next ones in KEYS. A negative number of keys means
// that many keys with an increment of 1 each, and no increments follow:
// the usual run, since a key repeats in a batch only when it is hot.
// Arguments cost the client a write and Redis a read and a conversion
// each, and allowScript's shape would be three per key.
//
// The reply is, for each key in order, its count just after the increment
// and before anything past the limit is taken back, then the Unix seconds
// and microseconds of Redis TIME. The client works out the rest exactly as
// the script did: with over = min(max(count - limit, 0), increment), it
// admitted increment - over and the window holds count - over. An array of
// integers needs no number formatting in Lua, and one integer per key is
// half the reply of two.
var allowManyScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1])
local out = {}
local i = 0
local a = 1
while a <= #ARGV do
  local per = tonumber(ARGV[a])
  local limit = tonumber(ARGV[a + 1])
  local count = tonumber(ARGV[a + 2])
  local ones = count < 0
  if ones then count = -count end
  local start = now - (now % per)
  local field = tostring(start)
  for j = a + 3, a + 2 + count do
    i = i + 1
    local key = KEYS[i]
    local k = 1
    if not ones then k = tonumber(ARGV[j]) end
    local n = redis.call('HINCRBY', key, field, k)
    if n == k then
      if redis.call('HLEN', key) > 1 then
        redis.call('DEL', key)
        redis.call('HSET', key, field, n)
      end
      redis.call('EXPIREAT', key, start + per)
    end
    if n > limit then
      redis.call('HINCRBY', key, field, -math.min(n - limit, k))
    end
    out[i] = n
  end
  a = a + 3
  if not ones then a = a + count end
end
out[i + 1] = now
out[i + 2] = tonumber(t[2])
return out
`)

// peekScript reads the current window of ARGV[1] seconds held in KEYS[1]
// without writing; its reply has allowScript's shape, admitted being 1 when
// one more request would be admitted under the limit ARGV[2].
var peekScript = redis.NewScript(`
local per = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1])
local n = tonumber(redis.call('HGET', KEYS[1], now - (now % per))) or 0
local admitted = 0
if n < limit then admitted = 1 end
return admitted .. ' ' .. n .. ' ' .. t[1] .. ' ' .. t[2]
`)
