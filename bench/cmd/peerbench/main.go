// Command peerbench measures quotad's limiter against its peers on one
// Redis, and quotad's HTTP stack against bare Echo, and writes the results
// as a markdown report (docs/PERFORMANCE.md).
//
//	cd bench && go run ./cmd/peerbench -out ../docs/PERFORMANCE.md
//
// Scenarios (-scenarios, comma-separated, default all):
//
//	decision  admitted decisions over -keys keys: bare INCR, quota (batched
//	          and not), redis_rate, ulule/limiter, the seed's MULTI pipeline
//	hog       the same contenders on one key far over its limit
//	http      GET /rate-limited on bare Echo, Echo + RateLimiter, quotad;
//	          quotad's GET /v1/authorize as nginx's auth_request sends it;
//	          nginx running deploy/nginx.conf in front of Echo, with quotad
//	          behind auth_request and without (skipped without nginx)
//
// -contenders limits decision and hog to some contenders (bare INCR always
// runs), for quicker A/B runs of one change:
//
//	go run ./cmd/peerbench -scenarios decision -contenders quota,ulule -rounds 5
//
// It writes only keys under a random "peerbench:<hex>" prefix (redis_rate
// adds "rate:" in front) and deletes them at the end; the http scenario
// creates a Postgres database with a random name and drops it.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quotad/quotad/bench/internal/benchenv"
	"github.com/redis/go-redis/v9"
)

const defaultRedisURL = "redis://127.0.0.1:6379/0"

var allScenarios = []string{"decision", "hog", "http"}

func main() { benchenv.Main("peerbench", run) }

// config is peerbench's flags, parsed.
type config struct {
	redisURL    string
	postgresURL string
	rounds      int
	duration    time.Duration
	callers     []int
	conns       []int
	keys        int
	out         string
	scenarios   []string
	contenders  []string // of contenderNames, in their order; always with incr
	pin         bool
	wake        time.Duration // see wakeEvery; 0: never
	command     string        // how to run this again, for the report
}

// run is the whole program; "serve-http" as the first argument runs one of
// the HTTP scenario's servers instead (peerbench starts them itself, and
// stops them by closing their standard input).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 1 && args[1] == "serve-http" {
		return serveChild(ctx, args[2:], os.Stdin, stdout, stderr)
	}
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	// Progress lines and the child servers' stderr share the writer.
	return bench(ctx, cfg, stdout, benchenv.NewLockedWriter(stderr))
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("peerbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	fs.StringVar(&cfg.redisURL, "redis", defaultRedisURL, "Redis `URL`")
	fs.StringVar(&cfg.postgresURL, "postgres", benchenv.DefaultPostgresURL, "Postgres `URL` of a database to create the http scenario's throwaway database from")
	fs.IntVar(&cfg.rounds, "rounds", 5, "interleaved rounds per scenario")
	fs.DurationVar(&cfg.duration, "duration", 3*time.Second, "timed length of one measurement")
	callers := fs.String("callers", "1,16,64", "concurrent callers of the decision and hog scenarios, comma-separated")
	conns := fs.String("conns", "16,64", "keep-alive connections of the http scenario, comma-separated")
	fs.IntVar(&cfg.keys, "keys", 10_000, "keys of the decision scenario")
	fs.StringVar(&cfg.out, "out", "", "markdown `file` to write the report to (it goes to stdout as well)")
	scenarios := fs.String("scenarios", "all", "scenarios to run: all, or some of decision,hog,http")
	contenders := fs.String("contenders", "all", "decision and hog contenders: all, or some of "+strings.Join(contenderNames, ",")+
		" (incr always runs: every ratio is to it); fewer make an A/B comparison quicker, and its rounds closer in time")
	fs.BoolVar(&cfg.pin, "pin", true, "http scenario: pin the servers to CPU 0 and the load to CPU 1 with taskset")
	fs.DurationVar(&cfg.wake, "wake", time.Millisecond, "wake every process of the run this often (0: never), so that no contender's latency depends on how deeply an idle CPU sleeps")
	if err := fs.Parse(args[1:]); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if cfg.callers, err = intList("-callers", *callers); err != nil {
		return config{}, err
	}
	if cfg.conns, err = intList("-conns", *conns); err != nil {
		return config{}, err
	}
	if cfg.rounds < 1 || cfg.duration <= 0 || cfg.keys < 1 {
		return config{}, errors.New("-rounds, -duration and -keys must be positive")
	}
	if cfg.wake < 0 {
		return config{}, errors.New("-wake must not be negative")
	}
	if *scenarios == "all" {
		cfg.scenarios = allScenarios
	} else {
		for s := range strings.SplitSeq(*scenarios, ",") {
			if !slices.Contains(allScenarios, s) {
				return config{}, fmt.Errorf("-scenarios: unknown scenario %q (want all or some of %s)", s, strings.Join(allScenarios, ","))
			}
			cfg.scenarios = append(cfg.scenarios, s)
		}
	}
	if cfg.contenders, err = contenderList(*contenders); err != nil {
		return config{}, err
	}
	cfg.command = benchenv.RerunCommand("peerbench", args[1:])
	return cfg, nil
}

// contenderList parses -contenders: the named contenders and incr, in
// contenderNames' order.
func contenderList(s string) ([]string, error) {
	if s == "all" {
		return contenderNames, nil
	}
	want := map[string]bool{"incr": true}
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(contenderNames, f) {
			return nil, fmt.Errorf("-contenders: unknown contender %q (want all or some of %s)", f, strings.Join(contenderNames, ","))
		}
		want[f] = true
	}
	var out []string
	for _, name := range contenderNames {
		if want[name] {
			out = append(out, name)
		}
	}
	return out, nil
}

// intList parses "1,16,64".
func intList(flagName, s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s: %q is not a positive integer", flagName, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// bench runs the scenarios and writes the report.
func bench(ctx context.Context, cfg config, stdout, stderr io.Writer) (err error) {
	opt, err := redis.ParseURL(cfg.redisURL)
	if err != nil {
		return fmt.Errorf("-redis: %w", err)
	}
	admin := redis.NewClient(opt)
	defer admin.Close()
	if err := admin.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "peerbench:" + hex.EncodeToString(b[:])
	defer func() {
		if cerr := deleteKeys(context.WithoutCancel(ctx), admin, prefix); cerr != nil && err == nil {
			err = cerr
		}
	}()

	defer wakeEvery(cfg.wake)()
	rep := &report{cfg: cfg, started: time.Now(), machine: readMachine(ctx, admin)}
	cs, err := newContenders(cfg.redisURL, prefix, cfg.contenders)
	if err != nil {
		return err
	}
	defer closeContenders(cs)
	for _, sc := range cfg.scenarios {
		switch sc {
		case "decision":
			rep.decision, err = runRedisScenario(ctx, cfg, admin, cs, redisScenario{
				name: "decision", keys: cfg.keys, lim: limitSpec{requests: 1_000_000_000, per: time.Minute}, admitted: true,
			}, stderr)
		case "hog":
			rep.hog, err = runRedisScenario(ctx, cfg, admin, cs, redisScenario{
				name: "hog", keys: 1, lim: limitSpec{requests: 1, per: time.Hour}, admitted: false,
			}, stderr)
		case "http":
			rep.http, err = benchHTTP(ctx, cfg, prefix, rep, stderr)
		}
		if err != nil {
			return fmt.Errorf("%s scenario: %w", sc, err)
		}
	}
	rep.machine.loadEnd = benchenv.LoadAverage()
	rep.machine.cpuShare = benchenv.CPUShare(rep.machine.cpuStart, benchenv.ReadCPUTimes())

	return benchenv.WriteReport(rep.render(), cfg.out, stdout, stderr)
}

// benchHTTP runs the http scenario on a throwaway database.
func benchHTTP(ctx context.Context, cfg config, prefix string, rep *report, stderr io.Writer) (res *httpResults, err error) {
	db, err := createDatabase(ctx, cfg.postgresURL)
	if err != nil {
		return nil, err
	}
	defer func() {
		if derr := db.Drop(context.WithoutCancel(ctx)); derr != nil && err == nil {
			err = derr
		}
	}()
	rep.machine.postgresVersion = db.Version
	return runHTTPScenario(ctx, cfg, prefix, db, stderr, stderr)
}

// deleteKeys removes every key the run wrote: prefix:* and redis_rate's
// rate:prefix:*.
func deleteKeys(ctx context.Context, rdb *redis.Client, prefix string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, pattern := range []string{prefix + ":*", "rate:" + prefix + ":*"} {
		iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
		var batch []string
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
			if len(batch) == 500 {
				if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
					return fmt.Errorf("redis: delete keys: %w", err)
				}
				batch = batch[:0]
			}
		}
		if err := iter.Err(); err != nil {
			return fmt.Errorf("redis: delete keys: %w", err)
		}
		if len(batch) > 0 {
			if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
				return fmt.Errorf("redis: delete keys: %w", err)
			}
		}
	}
	return nil
}
