package main

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// redisStats is one reading of Redis's INFO cpu and commandstats.
type redisStats struct {
	cpu   float64          // used_cpu_sys + used_cpu_user, seconds
	calls map[string]int64 // commandstats calls by command name ("evalsha", "hincrby")
}

// readRedisStats asks INFO for the CPU and per-command counters. The INFO
// calls themselves are left out of calls: they are the benchmark's, not the
// contender's.
func readRedisStats(ctx context.Context, rdb *redis.Client) (redisStats, error) {
	text, err := rdb.Info(ctx, "cpu", "commandstats").Result()
	if err != nil {
		return redisStats{}, fmt.Errorf("redis INFO: %w", err)
	}
	return parseRedisStats(text)
}

// parseRedisStats reads INFO text such as
//
//	used_cpu_sys:12.5
//	used_cpu_user:30.25
//	cmdstat_evalsha:calls=663204,usec=3131339,...
func parseRedisStats(text string) (redisStats, error) {
	s := redisStats{calls: map[string]int64{}}
	var seenCPU int
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch {
		case name == "used_cpu_sys" || name == "used_cpu_user":
			f, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return redisStats{}, fmt.Errorf("redis INFO %s: %w", name, err)
			}
			s.cpu += f
			seenCPU++
		case strings.HasPrefix(name, "cmdstat_"):
			cmd := strings.TrimPrefix(name, "cmdstat_")
			if cmd == "info" {
				continue
			}
			calls, _, _ := strings.Cut(strings.TrimPrefix(value, "calls="), ",")
			n, err := strconv.ParseInt(calls, 10, 64)
			if err != nil {
				return redisStats{}, fmt.Errorf("redis INFO %s: %w", name, err)
			}
			s.calls[cmd] = n
		}
	}
	if seenCPU != 2 {
		return redisStats{}, fmt.Errorf("redis INFO has no used_cpu_sys/used_cpu_user")
	}
	return s, nil
}

// sub returns the counters' growth from before to s.
func (s redisStats) sub(before redisStats) redisStats {
	d := redisStats{cpu: s.cpu - before.cpu, calls: map[string]int64{}}
	for cmd, n := range s.calls {
		if delta := n - before.calls[cmd]; delta > 0 {
			d.calls[cmd] = delta
		}
	}
	return d
}

// total is the number of commands of every kind.
func (s redisStats) total() int64 {
	var n int64
	for _, c := range s.calls {
		n += c
	}
	return n
}

// wireCounter is a go-redis hook counting what one client sends: round
// trips (a command alone, or a pipeline or MULTI/EXEC block) and the
// commands in them. Unlike INFO it sees neither other clients' load nor the
// commands a Lua script runs inside Redis. Its cost is two atomic adds per
// round trip, the same for every contender.
type wireCounter struct {
	roundTrips, commands atomic.Int64
}

var _ redis.Hook = (*wireCounter)(nil)

// DialHook implements redis.Hook.
func (w *wireCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (w *wireCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		w.roundTrips.Add(1)
		w.commands.Add(1)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook; a MULTI/EXEC block arrives
// here with its MULTI and EXEC included.
func (w *wireCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		w.roundTrips.Add(1)
		w.commands.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// wireCounts is one reading of a wireCounter.
type wireCounts struct{ roundTrips, commands int64 }

func (w *wireCounter) read() wireCounts {
	return wireCounts{w.roundTrips.Load(), w.commands.Load()}
}

func (c wireCounts) sub(before wireCounts) wireCounts {
	return wireCounts{c.roundTrips - before.roundTrips, c.commands - before.commands}
}
