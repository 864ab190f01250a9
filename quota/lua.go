package quota

import "github.com/redis/go-redis/v9"

// allowScript adds requests to the current window held in KEYS[1] and
// admits them in order as far as the limit leaves room. ARGV holds the
// limit, the end and the start (Unix seconds) of the window the client
// expects Redis's clock to be in, and the number of requests if not one
// (several are one batch's requests for the same key, merged into one
// increment).
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
// The expected window is the client's estimate of Redis's clock (see
// redisClock). The client always sends a window aligned as the script would
// align it, so its length is end minus start. If TIME falls in it, the
// script counts there and replies the count just after the increment and
// before anything past the limit was taken back. Otherwise it counts in
// TIME's window and replies "<count> <Unix seconds> <microseconds>", the
// count and the time. The client derives the rest exactly as the script did
// (see manyReply). A client with no estimate names the epoch's first
// window, 0 to the window's length, which is never Redis's.
//
// Much of a script's cost in Redis is its arguments (each one a Lua string
// to make and collect) and converting between strings and numbers: a Lua
// number handed to redis.call or put into the reply costs an snprintf, and
// reading one from a string a strtod. So the expected window is checked by
// comparing strings (decimal strings of one length order as their numbers
// do) and reaches HINCRBY and EXPIREAT as the strings it came as, the usual
// increment of one is a literal and no argument, and "x + 0" reads a number
// where tonumber(x) parses it twice. What each of these costs, counted by
// make script-cost: docs/PERFORMANCE-ANALYSIS.md, "What a script costs
// Redis".
//
// Each window length has its own key with the same hash tag, so one script
// call could check several windows of one client on a Cluster too.
var allowScript = redis.NewScript(`
local t = redis.call('TIME')
local s = t[1]
local e, field = ARGV[2], ARGV[3]
local named = #s == #field and #s == #e and s >= field and s < e
if not named then
  local per = e - field
  local now = s + 0
  field = now - now % per
  e = field + per
end
local ks, k = ARGV[4], 1
if ks then k = ks + 0 else ks = '1' end
local n = redis.call('HINCRBY', KEYS[1], field, ks)
if n == k then
  if redis.call('HLEN', KEYS[1]) > 1 then
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], field, ks)
  end
  redis.call('EXPIREAT', KEYS[1], e)
end
local limit = ARGV[1] + 0
if n > limit then
  redis.call('HINCRBY', KEYS[1], field, -math.min(n - limit, k))
end
if named then return n end
return n .. ' ' .. s .. ' ' .. t[2]
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
//
// As in allowScript, increments reach HINCRBY as strings (the literal '1'
// for a run of ones): a number would cost an snprintf per key.
var allowManyScript = redis.NewScript(`
local t = redis.call('TIME')
local now = t[1] + 0
local out = {}
local i = 0
local a = 1
while a <= #ARGV do
  local per = ARGV[a] + 0
  local limit = ARGV[a + 1] + 0
  local count = ARGV[a + 2] + 0
  local ones = count < 0
  if ones then count = -count end
  local start = now - (now % per)
  local field = tostring(start)
  for j = a + 3, a + 2 + count do
    i = i + 1
    local key = KEYS[i]
    local ks, k = '1', 1
    if not ones then
      ks = ARGV[j]
      k = ks + 0
    end
    local n = redis.call('HINCRBY', key, field, ks)
    if n == k then
      if redis.call('HLEN', key) > 1 then
        redis.call('DEL', key)
        redis.call('HSET', key, field, ks)
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
out[i + 2] = t[2] + 0
return out
`)

// peekScript reads the current window of ARGV[1] seconds held in KEYS[1]
// without writing; its reply has allowScript's shape, the count being the
// window's (0 for a window nobody has counted in yet).
var peekScript = redis.NewScript(`
local per = ARGV[1] + 0
local t = redis.call('TIME')
local now = t[1] + 0
local n = redis.call('HGET', KEYS[1], now - (now % per)) or '0'
return n .. ' ' .. t[1] .. ' ' .. t[2]
`)

// planScript decides requests under Limits of several windows, or of a
// Month window, or of a cost other than one, or metered: all-or-nothing
// across the windows, in one atomic step. It serves one decision or a
// whole batch.
//
// ARGV holds runs of groups that share one Limit's windows: the number of
// windows w (negative when the run is metered), then each window's length
// in seconds (0 for a month, -1 for a soft month) and limit, then the
// number of groups, then for each group its anchor day and either a
// positive number of requests of cost 1, or minus the number of requests
// followed by each one's cost. Each group has w keys in KEYS, one per
// window, in order, and a metered group one more, its usage key; all of a
// group's keys have the same hash tag, so a group alone is Cluster-safe; a
// batch of many groups goes only to a single server, as allowManyScript
// does.
//
// Each window is counted as in allowScript (a hash field named after the
// window's start, the key expiring at the window's end), and month windows
// come from month (luaMonth) on Redis TIME. Field names are made once per
// run (per batch for a month, per anchor day) and a group's cost reaches
// HINCRBY as the string it came as: a Lua number handed to redis.call is
// formatted anew on every call. A group adds its whole cost to every
// window, then works out which of its requests fit, in order: a request
// fits only if every window but a soft one has its cost left after the
// requests before it. What did not fit is taken back from every window at
// once, so a refused request counts nowhere, and nobody sees the
// difference. A soft month window keeps counting past its limit; what an
// admitted request adds past it is overage.
//
// A metered group then counts, in its usage hash and in the same atomic
// step, what was admitted, refused and overage on Redis's UTC day (fields
// "<day>a", "<day>r", "<day>o", day = days since the epoch), and notes the
// first time a month window's count reaches 80 % and 100 % of its limit
// (field "t<percent>:<window start>" = "<count> <limit> <window end>
// <now>", written once). The hash names its incarnation in field "e" (the
// TIME it was made), so a reader can tell counts lost with Redis from
// counts copied before, and it expires four days after the day it was last
// counted in, which leaves a reader (Limiter.ReadUsage) days to copy it.
//
// The reply is, for each group and window in order, the window's count
// just after the whole cost was added, then Redis TIME's Unix seconds and
// microseconds: the client replays the group's requests exactly as the
// script did (see decide).
var planScript = redis.NewScript(luaMonth + `
local t = redis.call('TIME')
local now = t[1] + 0
local day = math.floor(now / 86400)
local dayf = tostring(day)
local months = {}
local out = {}
local i, k = 0, 0
local a = 1
while a <= #ARGV do
  local w = ARGV[a] + 0
  local metered = w < 0
  if metered then w = -w end
  local limits, pers, starts, fields, ends = {}, {}, {}, {}, {}
  for x = 1, w do
    local per = ARGV[a + 2 * x - 1] + 0
    pers[x] = per
    limits[x] = ARGV[a + 2 * x] + 0
    if per > 0 then
      starts[x] = now - now % per
      fields[x] = tostring(starts[x])
      ends[x] = starts[x] + per
    end
  end
  a = a + 2 * w + 1
  local groups = ARGV[a] + 0
  a = a + 1
  for g = 1, groups do
    local anchor = ARGV[a]
    local ts = ARGV[a + 1]
    local total = ts + 0
    a = a + 2
    local costs
    if total < 0 then
      costs = {}
      local n = -total
      total = 0
      for j = 1, n do
        costs[j] = ARGV[a] + 0
        total = total + costs[j]
        a = a + 1
      end
      ts = tostring(total)
    end
    local m
    local admitted = total
    for x = 1, w do
      local f, e = fields[x], ends[x]
      if not f then
        m = months[anchor]
        if not m then
          local ms, me = month(now, anchor + 0)
          m = {tostring(ms), me}
          months[anchor] = m
        end
        f, e = m[1], m[2]
      end
      local key = KEYS[k + x]
      local n = redis.call('HINCRBY', key, f, ts)
      if n == total then
        if redis.call('HLEN', key) > 1 then
          redis.call('DEL', key)
          redis.call('HSET', key, f, ts)
        end
        redis.call('EXPIREAT', key, e)
      end
      out[i + x] = n
      if pers[x] >= 0 then
        local room = limits[x] - n + total
        if room < admitted then admitted = room end
      end
    end
    if costs then
      admitted = 0
      for j = 1, #costs do
        local c, fits = costs[j], true
        for x = 1, w do
          if pers[x] >= 0 and out[i + x] - total + admitted + c > limits[x] then
            fits = false
            break
          end
        end
        if fits then admitted = admitted + c end
      end
    elseif admitted < 0 then
      admitted = 0
    end
    if admitted < total then
      for x = 1, w do
        redis.call('HINCRBY', KEYS[k + x], fields[x] or m[1], admitted - total)
      end
    end
    if metered then
      local u = KEYS[k + w + 1]
      local fresh = false
      if admitted > 0 then
        local as = admitted == total and ts or admitted
        fresh = redis.call('HINCRBY', u, dayf .. 'a', as) == admitted
      end
      if admitted < total then
        fresh = redis.call('HINCRBY', u, dayf .. 'r', total - admitted) == total - admitted or fresh
      end
      if fresh then
        redis.call('HSETNX', u, 'e', t[1] .. '.' .. t[2])
        redis.call('EXPIREAT', u, (day + 4) * 86400)
      end
      for x = 1, w do
        if pers[x] <= 0 and admitted > 0 then
          local L = limits[x]
          local before = out[i + x] - total
          local after = before + admitted
          if pers[x] < 0 and after > L then
            redis.call('HINCRBY', u, dayf .. 'o', after - math.max(L, before))
          end
          for _, p in ipairs({80, 100}) do
            local level = math.floor((L * p + 99) / 100)
            if before < level and after >= level then
              redis.call('HSETNX', u, 't' .. p .. ':' .. m[1], after .. ' ' .. L .. ' ' .. m[2] .. ' ' .. t[1])
            end
          end
        end
      end
      k = k + 1
    end
    i = i + w
    k = k + w
  end
end
out[i + 1] = now
out[i + 2] = t[2] + 0
return out
`)

// peekPlanScript reads the current windows held in KEYS without writing.
// ARGV holds the anchor day, then each window's length in seconds (0 for a
// month); the reply is each window's count (0 for a window nobody has
// counted in yet), then Redis TIME's seconds and microseconds.
var peekPlanScript = redis.NewScript(luaMonth + `
local t = redis.call('TIME')
local now = t[1] + 0
local anchor = ARGV[1] + 0
local out = {}
for x = 1, #KEYS do
  local per, s = ARGV[x + 1] + 0
  if per == 0 then
    s = month(now, anchor)
  else
    s = now - now % per
  end
  out[x] = tonumber(redis.call('HGET', KEYS[x], s) or '0')
end
out[#KEYS + 1] = now
out[#KEYS + 2] = t[2] + 0
return out
`)
