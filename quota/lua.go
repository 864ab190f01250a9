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

// allowManyScript is allowScript for several keys at once: KEYS[i] with
// ARGV[3i-2], ARGV[3i-1], ARGV[3i] as allowScript's three arguments. A
// batch on one Redis server goes as one call, so Redis runs the script
// machinery (and TIME) once per batch instead of once per key. Keys of
// different clients may sit on different Cluster slots, so it is used only
// with a single-server client.
//
// Per key it costs about a third less than allowScript's body: the window's
// field name is built once per window length (Lua's number-to-string
// conversion is its dearest step), and the reply is an array of integers,
// which Redis writes without formatting numbers as text.
//
// Reply: admitted and count for each key, in order, then the Unix seconds
// and microseconds of Redis TIME.
var allowManyScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1])
local fields = {}
local out = {}
local o = 0
for i = 1, #KEYS do
  local j = 3 * i
  local pers = ARGV[j - 2]
  local field = fields[pers]
  if not field then
    field = tostring(now - (now % tonumber(pers)))
    fields[pers] = field
  end
  local k = tonumber(ARGV[j])
  local key = KEYS[i]
  local n = redis.call('HINCRBY', key, field, k)
  if n == k then
    if redis.call('HLEN', key) > 1 then
      redis.call('DEL', key)
      redis.call('HSET', key, field, n)
    end
    redis.call('EXPIREAT', key, tonumber(field) + tonumber(pers))
  end
  local admitted = k
  local limit = tonumber(ARGV[j - 1])
  if n > limit then
    local over = math.min(n - limit, k)
    admitted = k - over
    n = redis.call('HINCRBY', key, field, -over)
  end
  out[o + 1] = admitted
  out[o + 2] = n
  o = o + 2
end
out[o + 1] = now
out[o + 2] = tonumber(t[2])
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
