package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// machine describes where the numbers come from.
type machine struct {
	cpuModel        string
	nproc           int
	memory          string
	kernel          string
	goVersion       string
	gomaxprocs      int
	redisVersion    string
	postgresVersion string // set by the HTTP scenario
	loadStart       string
	loadEnd         string
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
	m := machine{
		cpuModel:   "unknown",
		nproc:      runtime.NumCPU(),
		memory:     "unknown",
		kernel:     "unknown",
		goVersion:  runtime.Version(),
		gomaxprocs: runtime.GOMAXPROCS(0),
		loadStart:  loadAverage(),
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpuModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				if err == nil {
					m.memory = fmt.Sprintf("%.1f GiB", kb/(1<<20))
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = "Linux " + strings.TrimSpace(string(b))
	}
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

// loadAverage is /proc/loadavg's 1, 5 and 15 minute figures: other work on
// the machine shows here.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
