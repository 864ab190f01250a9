package main

import (
	"context"
	"runtime/debug"
	"strings"

	"github.com/quotad/quotad/bench/internal/benchenv"
	"github.com/redis/go-redis/v9"
)

// machine describes where the numbers come from: the hardware, and the
// versions of what the contenders ran against and were built from.
type machine struct {
	benchenv.Machine
	redisVersion    string // the shared Redis's, from INFO server
	postgresVersion string // set by the HTTP scenario
	loadStart       string // benchenv.LoadAverage before the first scenario
	loadEnd         string // and after the last
	cpuStart        benchenv.CPUTimes
	cpuShare        string   // benchenv.CPUShare from the first scenario to the last
	modules         []string // peers and libraries, path@version
}

// peerModules are the modules whose versions the report names.
var peerModules = []string{
	"github.com/redis/go-redis/v9",
	"github.com/go-redis/redis_rate/v10",
	"github.com/ulule/limiter/v3",
	"github.com/labstack/echo/v4",
}

func readMachine(ctx context.Context, admin *redis.Client) machine {
	m := machine{Machine: benchenv.ReadMachine(), loadStart: benchenv.LoadAverage(), cpuStart: benchenv.ReadCPUTimes()}
	m.redisVersion = "unknown"
	if text, err := admin.Info(ctx, "server").Result(); err == nil {
		for line := range strings.Lines(text) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
				m.redisVersion = v
			}
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, want := range peerModules {
			for _, dep := range bi.Deps {
				if dep.Path == want {
					m.modules = append(m.modules, dep.Path+" "+dep.Version)
				}
			}
		}
	}
	return m
}
