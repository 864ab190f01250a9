// Command loadtest runs several quotad processes on loopback against one
// private Redis and a throwaway Postgres database, loads them with paying
// users, anonymous addresses and one hog, SIGKILLs one instance (the
// metering leader) at a quarter of the load and starts it again,
// optionally restarts Redis in the middle, and checks every (client,
// window) pair: a window must admit exactly min(sent, limit) requests.
// Then it checks the meter: the usage quotad copied to Postgres must equal,
// per client and UTC day, what the clients saw admitted, short only of
// what the Redis restart lost, within a bound computed from the meter
// interval. Then, with Redis up, a flood of tens of thousands of new
// clients checks that a stampede of new callers answers no assigned
// client under another tier and degrades (almost) nothing. It writes a
// markdown report.
//
//	cd bench && go run ./cmd/loadtest -out /tmp/loadtest.md
//
// It exits non-zero when a window that does not overlap the fault is not
// exact, when a 5xx or a transport error happens outside the faults, when
// Postgres counts an admission twice or misses one it should have, or
// when the flood misses its goals, so it is a check as well as a
// measurement.
//
// Everything it starts is its own: quotad is built from this checkout into
// a temporary directory, Redis is a private redis-server on a free loopback
// port (never the shared one: the fault restarts it), and the Postgres
// database loadtest_<random> is dropped at the end, on Ctrl-C too.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/quotad/quotad/bench/internal/benchenv"
	"github.com/quotad/quotad/internal/scratchdb"
)

// Faults -fault accepts.
const (
	faultNone         = "none"
	faultRedisRestart = "redis-restart"
)

func main() { benchenv.Main("loadtest", run) }

// config is loadtest's flags, parsed.
type config struct {
	instances    int
	duration     time.Duration
	window       int // seconds; every tier's per
	users        int
	anon         int
	fault        string
	kill         bool          // SIGKILL an instance at a quarter of the load
	downtime     time.Duration // how long Redis, and the killed instance, stay down
	meterEvery   time.Duration // QUOTA_METER_INTERVAL of the instances
	out          string
	redisTimeout time.Duration
	postgresURL  string
	seed         uint64
	command      string // how to run this again, for the report

	// The flood after the load; flood 0 skips it.
	flood                                 time.Duration
	floodClients, floodAssign, floodConns int
}

// windowDur is the tiers' window as a duration.
func (c config) windowDur() time.Duration { return time.Duration(c.window) * time.Second }

// run is the whole program.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	return loadtest(ctx, cfg, stdout, benchenv.NewLockedWriter(stderr))
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	fs.IntVar(&cfg.instances, "instances", 3, "quotad processes sharing one Redis and one Postgres database")
	fs.DurationVar(&cfg.duration, "duration", 30*time.Second, "length of the load")
	fs.IntVar(&cfg.window, "window", 10, "window of every tier, in `seconds`")
	fs.IntVar(&cfg.users, "users", 30, "authenticated users, assigned round-robin to bronze, silver, gold and (unassigned) free")
	fs.IntVar(&cfg.anon, "anon", 20, "anonymous client addresses (sent as X-Forwarded-For)")
	fs.StringVar(&cfg.fault, "fault", faultRedisRestart, "fault at the midpoint: none or redis-restart (stop Redis, start it again empty)")
	fs.BoolVar(&cfg.kill, "kill", true, "SIGKILL one instance (the metering leader) at a quarter of the load and start it again")
	fs.DurationVar(&cfg.downtime, "downtime", 2*time.Second, "how long Redis (redis-restart) and the killed instance stay down (at most a quarter of -duration)")
	fs.DurationVar(&cfg.meterEvery, "meter-interval", time.Second, "QUOTA_METER_INTERVAL of the instances (at most 10s)")
	fs.StringVar(&cfg.out, "out", "", "markdown `file` to write the report to (it goes to stdout as well)")
	fs.DurationVar(&cfg.redisTimeout, "redis-timeout", 250*time.Millisecond, "QUOTA_REDIS_TIMEOUT of the instances")
	fs.StringVar(&cfg.postgresURL, "postgres", benchenv.DefaultPostgresURL, "Postgres `URL` to create the throwaway database from")
	fs.Uint64Var(&cfg.seed, "seed", 1, "seed of the pacing jitter and the flood's order")
	fs.DurationVar(&cfg.flood, "flood", 10*time.Second, "length of the flood of new clients after the load (0: none)")
	fs.IntVar(&cfg.floodClients, "flood-clients", 20_000, "clients of the flood, each with a token of its own")
	fs.IntVar(&cfg.floodAssign, "flood-assigned", 2_000, "flood clients assigned to the paid tiers; the rest are free")
	fs.IntVar(&cfg.floodConns, "flood-conns", 256, "requests the flood keeps in flight")
	if err := fs.Parse(args[1:]); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case cfg.instances < 1 || cfg.instances > 64:
		return config{}, errors.New("-instances must be between 1 and 64")
	case cfg.duration <= 0:
		return config{}, errors.New("-duration must be positive")
	case cfg.window < 1:
		return config{}, errors.New("-window must be at least 1 second")
	case cfg.users < 0 || cfg.anon < 0 || cfg.anon > 60_000:
		return config{}, errors.New("-users must be at least 0, -anon between 0 and 60000")
	case cfg.fault != faultNone && cfg.fault != faultRedisRestart:
		return config{}, fmt.Errorf("-fault: %q is neither %s nor %s", cfg.fault, faultNone, faultRedisRestart)
	case cfg.kill && cfg.instances < 2:
		return config{}, errors.New("-kill needs at least 2 instances (or -kill=false)")
	case cfg.downtime < 0:
		return config{}, errors.New("-downtime must not be negative")
	case cfg.meterEvery <= 0 || cfg.meterEvery > 10*time.Second:
		return config{}, errors.New("-meter-interval must be positive and at most 10s")
	case cfg.redisTimeout <= 0:
		return config{}, errors.New("-redis-timeout must be positive")
	case cfg.flood < 0 || cfg.floodClients < 1 || cfg.floodConns < 1:
		return config{}, errors.New("-flood must not be negative, -flood-clients and -flood-conns must be at least 1")
	case cfg.floodAssign < 0 || cfg.floodAssign > cfg.floodClients:
		return config{}, errors.New("-flood-assigned must be between 0 and -flood-clients")
	}
	cfg.downtime = min(cfg.downtime, cfg.duration/4)
	cfg.command = benchenv.RerunCommand("loadtest", args[1:])
	return cfg, nil
}

// loadtest sets everything up, runs the load and the fault, tears
// everything down and writes the report. The error is non-nil when the
// check failed, after the report is out.
func loadtest(ctx context.Context, cfg config, stdout, progress io.Writer) (err error) {
	started := time.Now()
	mach := machine{Machine: benchenv.ReadMachine()}
	dir, err := os.MkdirTemp("", "loadtest-")
	if err != nil {
		return err
	}
	// The instances' logs stay for a post-mortem when anything failed
	// (not when interrupted: a full run's logs are hundreds of MB).
	defer func() {
		if err != nil && ctx.Err() == nil {
			fmt.Fprintf(progress, "logs kept in %s\n", dir)
			return
		}
		_ = os.RemoveAll(dir)
	}()
	cleanup := context.WithoutCancel(ctx)

	fmt.Fprintln(progress, "building quotad…")
	bin, err := buildQuotad(ctx, dir)
	if err != nil {
		return err
	}
	db, err := scratchdb.Create(ctx, cfg.postgresURL, "loadtest")
	if err != nil {
		return err
	}
	// Deferred first, so it runs last: after the instances have stopped.
	defer func() {
		if derr := db.Drop(cleanup); derr != nil && err == nil {
			err = derr
		}
	}()
	mach.postgresVersion = db.Version

	rs, err := startRedis(ctx, dir)
	if err != nil {
		return err
	}
	defer rs.kill()
	mach.redisVersion = redisVersion(ctx)
	fmt.Fprintf(progress, "postgres database %s, redis-server on %s\n", db.Name, rs.addr())

	secret, err := randomHex(32)
	if err != nil {
		return err
	}
	env := instanceEnv{
		bin: bin, dir: dir, databaseURL: db.URL, redisURL: rs.url(), secret: secret,
		redisTimeout: cfg.redisTimeout, meterEvery: cfg.meterEvery,
	}
	insts, err := startInstances(ctx, env, cfg.instances, progress)
	defer func() {
		for _, in := range insts {
			if serr := in.stop(); serr != nil && err == nil {
				err = serr
			}
		}
	}()
	if err != nil {
		return err
	}

	ids, err := makeIdentities(cfg, secret)
	if err != nil {
		return err
	}
	propagation, err := setUpTiers(ctx, cfg, insts, ids, secret)
	if err != nil {
		return err
	}
	fmt.Fprintf(progress, "tiers and %d assignments visible on all %d instances after %v\n",
		countAssigned(ids), len(insts), propagation.Round(time.Millisecond))

	mach.loadStart = benchenv.LoadAverage()
	cpuStart := benchenv.ReadCPUTimes()
	res, err := runLoad(ctx, cfg, env, insts, ids, rs, progress)
	if err != nil {
		return err
	}
	mach.loadEnd = benchenv.LoadAverage()
	mach.cpuShare = benchenv.CPUShare(cpuStart, benchenv.ReadCPUTimes())
	if err := ctx.Err(); err != nil {
		return err
	}
	an := analyze(cfg, ids, res, len(insts))
	// Before the flood, whose clients are metered too.
	met, err := checkMeter(ctx, cfg, db.URL, ids, res, an, progress)
	if err != nil {
		return err
	}
	var fl *floodResult
	if cfg.flood > 0 {
		if fl, err = floodPhase(ctx, cfg, insts, secret, progress); err != nil {
			return err
		}
	}

	for _, in := range insts {
		if serr := in.stop(); serr != nil {
			return serr
		}
	}
	logs := make([]logCounts, len(insts))
	for i, in := range insts {
		logs[i] = countLogLevels(in.logPath)
	}
	rep := &report{
		cfg: cfg, started: started, machine: mach, ids: ids, res: res, an: an, meter: met,
		propagation: propagation, instances: insts, logs: logs, flood: fl,
	}
	if err := benchenv.WriteReport(rep.render(), cfg.out, stdout, progress); err != nil {
		return err
	}
	if reasons := rep.failures(); len(reasons) > 0 {
		return fmt.Errorf("check failed: %s", strings.Join(reasons, "; "))
	}
	return nil
}
