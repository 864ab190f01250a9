#!/usr/bin/env bash
# Counts the instructions a redis-server runs per call of quota's Lua
# scripts, beside a bare INCR and the least script that decides on Redis's
# clock (TIME + INCR). valgrind --tool=callgrind counts instructions, not
# seconds, so the numbers repeat for the same redis-server binary whatever
# else the machine is doing, where timings on a shared VM move by ±15 %.
#
#   scripts/script-cost.sh        (about a minute; needs valgrind)
#
# It starts its own redis-server under callgrind on SCRIPT_COST_PORT
# (default 6391), so the test and development servers are untouched.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in valgrind callgrind_control redis-server redis-cli redis-benchmark; do
	if ! command -v "$tool" >/dev/null; then
		echo "script-cost: $tool not found; install it with: apt-get install valgrind redis-server redis-tools" >&2
		exit 1
	fi
done

port=${SCRIPT_COST_PORT:-6391}
calls=20000
work=$(mktemp -d)
out=$work/callgrind.out
vpid=
cleanup() {
	if [ -n "$vpid" ]; then
		redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || kill "$vpid" 2>/dev/null || true
		wait "$vpid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

if redis-cli -p "$port" ping >/dev/null 2>&1; then
	echo "script-cost: port $port is taken; set SCRIPT_COST_PORT to a free one" >&2
	exit 1
fi
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
	redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no >"$work/valgrind.log" 2>&1 &
vpid=$!
for _ in $(seq 1 100); do
	redis-cli -p "$port" ping >/dev/null 2>&1 && break
	sleep 0.2
done
redis-cli -p "$port" ping >/dev/null

# lua prints the body of the Go variable $1 (a redis.NewScript) in
# quota/lua.go, with luaMonth (quota/month.go) in front where the script
# starts with it.
lua() {
	if grep -q "^var $1 = redis.NewScript(luaMonth + \`" quota/lua.go; then
		awk 'f && /^`$/ {f=0} f {print} /^const luaMonth = `$/ {f=1}' quota/month.go
		awk -v start="^var $1 = redis.NewScript\\\\(luaMonth \\\\+ \`" 'f && /^`\)/ {f=0} f {print} $0 ~ start {f=1}' quota/lua.go
		return
	fi
	awk -v start="^var $1 = redis.NewScript\\\\(\`" 'f && /^`\)/ {f=0} f {print} $0 ~ start {f=1}' quota/lua.go
}
load() {
	local body
	body=$(lua "$1")
	[ -n "$body" ] || { echo "script-cost: no script $1 in quota/lua.go" >&2; exit 1; }
	redis-cli -p "$port" script load "$body"
}

dumps=0
# measure LABEL KEYS_PER_CALL REDIS-BENCHMARK-COMMAND...: warms up (the keys
# exist, as in steady use), then counts the instructions of $calls calls and
# prints them per call. Each dump is one part file; its totals: line holds
# the part's own count (a later part's summary: line does not).
measure() {
	local label=$1 keys=$2
	shift 2
	redis-benchmark -p "$port" -q -n "$calls" -c 4 -r 1000 "$@" >/dev/null
	callgrind_control -i on "$vpid" >/dev/null 2>&1
	redis-benchmark -p "$port" -q -n "$calls" -c 4 -r 1000 "$@" >/dev/null
	callgrind_control -d "$vpid" >/dev/null 2>&1
	callgrind_control -i off "$vpid" >/dev/null 2>&1
	dumps=$((dumps + 1))
	local total
	total=$(awk '/^totals:/ {print $2}' "$out.$dumps")
	last=$(awk -v t="$total" -v n="$calls" 'BEGIN { printf "%.0f", t / n }')
	awk -v label="$label" -v keys="$keys" -v per="$last" 'BEGIN { printf "| %s | %d | %.1fk |\n", label, keys, per / 1000 }'
}

allow=$(load allowScript)
many=$(load allowManyScript)
floor=$(redis-cli -p "$port" script load "local t = redis.call('TIME') return redis.call('INCR', KEYS[1])")
per=3600
start=$(($(date +%s) / per * per))
limit=1000000000

echo "| call | keys | instructions per call |"
echo "|---|---:|---:|"
measure 'bare `INCR`' 1 incr 'c:{__rand_int__}'
measure '`TIME` + `INCR` script (`script-floor`)' 1 evalsha "$floor" 1 'f:{__rand_int__}'
measure '`allowScript`, window named' 1 evalsha "$allow" 1 "a:{__rand_int__}:$per" "$limit" "$((start + per))" "$start"
measure '`allowScript`, window not named' 1 evalsha "$allow" 1 "b:{__rand_int__}:$per" "$limit" "$per" 0
keys=()
for k in a b c d e f g h; do keys+=("m:{$k:__rand_int__}:$per"); done
measure '`allowManyScript`, one key' 1 evalsha "$many" 1 "${keys[0]}" "$per" "$limit" -1
one=$last
measure '`allowManyScript`, eight keys' 8 evalsha "$many" 8 "${keys[@]}" "$per" "$limit" -8
awk -v one="$one" -v eight="$last" 'BEGIN { printf "| `allowManyScript`, each key past the first | 1 | %.1fk |\n", (eight - one) / 7000 }'

# planScript: one group of one window (of whole seconds, decided as for a
# cost above one), one group of three windows (an hour, a day, a month),
# and eight groups of three windows in one run.
plan=$(load planScript)
measure '`planScript`, one group of one window' 1 evalsha "$plan" 1 "p:{__rand_int__}:$per" 1 "$per" "$limit" 1 1 1
measure '`planScript`, one group of three windows' 3 evalsha "$plan" 3 "q:{__rand_int__}:3600" "q:{__rand_int__}:86400" "q:{__rand_int__}:month" 3 3600 "$limit" 86400 "$limit" 0 "$limit" 1 1 1
one=$last
keys=()
args=()
for k in a b c d e f g h; do
	keys+=("r:{$k:__rand_int__}:3600" "r:{$k:__rand_int__}:86400" "r:{$k:__rand_int__}:month")
	args+=(1 1)
done
measure '`planScript`, eight groups of three windows' 24 evalsha "$plan" 24 "${keys[@]}" 3 3600 "$limit" 86400 "$limit" 0 "$limit" 8 "${args[@]}"
awk -v one="$one" -v eight="$last" 'BEGIN { printf "| `planScript`, each group of three windows past the first | 3 | %.1fk |\n", (eight - one) / 7000 }'
