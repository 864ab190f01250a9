package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/quotad/quotad/api"
	"github.com/quotad/quotad/internal/stack"
	"github.com/quotad/quotad/quota"
	"golang.org/x/time/rate"
)

// The HTTP servers under test, each run as a child process of peerbench
// ("peerbench serve-http -kind …") so it can be pinned to its own CPU.
const (
	serverEcho      = "echo"           // a bare Echo JSON handler
	serverEchoLimit = "echo-ratelimit" // plus Echo's RateLimiter, memory store
	serverQuotad    = "quotad"         // internal/stack, as cmd/quotad builds it
	serverQuotadMem = "quotad-memory"  // the same with quota's memory store
	serverQuotad3w  = "quotad-3w"      // quotad, its client on a plan of three windows
	// serverQuotadAuth is quotad asked as nginx's auth_request asks it:
	// GET /v1/authorize naming the original request in headers.
	serverQuotadAuth = "quotad-authorize"
)

var serverKinds = []string{serverEcho, serverEchoLimit, serverQuotad, serverQuotadAuth, serverQuotad3w, serverQuotadMem}

// serverAbout describes each server for the report.
var serverAbout = map[string]string{
	serverEcho:       "a bare Echo v4 handler answering the same JSON as quotad's `/rate-limited`",
	serverEchoLimit:  "the same behind Echo's `middleware.RateLimiter` with its memory store (1e9/s, burst 1e9: never refuses)",
	serverQuotad:     "quotad's real stack, built by `internal/stack` as `cmd/quotad` builds it (request IDs, JSON request log to a discarding writer, Prometheus metrics, JWT auth, tier cache on Postgres, `quota` limiter on Redis), `free` tier set to 1,000,000,000 per 3600 s",
	serverQuotad3w:   "the same stack and database, the load's token naming a client on a tier of three windows (1,000,000,000 per 3600 s, per day and per calendar month), so every decision goes by the plan script",
	serverQuotadAuth: "the same stack asked `GET /v1/authorize` as nginx's `auth_request` asks it (`X-Original-Method: GET`, `X-Original-URI: /v1/orders?page=2`, the client's token): the same decision, answered with an empty body",
	serverQuotadMem:  "the same stack with `quota.NewInMemory` in place of Redis: not a way to run quotad (instances would not share counts), but it shows what the Redis round trip costs",
}

// Child process protocol: the child prints "listening <addr>" on stdout once
// it serves, and stops when its stdin closes (so it never outlives
// peerbench). statsPath answers its serverStats.
const (
	childEnv  = "PEERBENCH_CHILD" // set in the child's environment
	secretEnv = "PEERBENCH_JWT_SECRET"
	// profileEnv names a directory: each server child writes its CPU
	// profile there as <kind>-<pid>.pprof, for `go tool pprof`.
	profileEnv   = "PEERBENCH_CPUPROFILE_DIR"
	statsPath    = "/_peerbench/stats"
	listenPrefix = "listening "
)

// serverStats is a server process's counters at one moment.
type serverStats struct {
	Mallocs    uint64 `json:"mallocs"`
	TotalAlloc uint64 `json:"total_alloc"`
	CPUNanos   int64  `json:"cpu_ns"`
	GOMAXPROCS int    `json:"gomaxprocs"`
}

func (s serverStats) sub(before serverStats) serverStats {
	return serverStats{
		Mallocs:    s.Mallocs - before.Mallocs,
		TotalAlloc: s.TotalAlloc - before.TotalAlloc,
		CPUNanos:   s.CPUNanos - before.CPUNanos,
		GOMAXPROCS: s.GOMAXPROCS,
	}
}

func readServerStats() serverStats {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return serverStats{
		Mallocs:    ms.Mallocs,
		TotalAlloc: ms.TotalAlloc,
		CPUNanos:   ru.Utime.Nano() + ru.Stime.Nano(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
	}
}

// serveChild is the child's whole life: build the server of -kind, listen
// on a loopback port, say where, serve until stdin closes.
func serveChild(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("peerbench serve-http", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kind := fs.String("kind", serverEcho, "server: echo, echo-ratelimit or quotad")
	redisURL := fs.String("redis", defaultRedisURL, "Redis URL (quotad)")
	dbURL := fs.String("database", "", "Postgres URL of a migrated database (quotad)")
	prefix := fs.String("prefix", "peerbench-quotad", "Redis key prefix (quotad)")
	wake := fs.Duration("wake", 0, "wake the process this often (0: never); see wakeEvery")
	behindNginx := fs.Bool("nginx", false, "quotad: configured as deploy/nginx.conf requires (QUOTA_AUTHORIZE_DENY_STATUS=403, nginx on 127.0.0.1 trusted)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	defer wakeEvery(*wake)()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // stdin closing is the signal to stop
		_, _ = io.Copy(io.Discard, stdin)
		cancel()
	}()

	if dir := os.Getenv(profileEnv); dir != "" {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", *kind, os.Getpid())))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	var app http.Handler
	switch *kind {
	case serverEcho, serverEchoLimit:
		app = newEchoServer(*kind == serverEchoLimit)
	case serverQuotad, serverQuotadAuth, serverQuotad3w, serverQuotadMem:
		h, closeAll, err := newQuotadServer(ctx, *redisURL, *dbURL, *prefix, []byte(os.Getenv(secretEnv)), *kind == serverQuotadMem, *behindNginx)
		if err != nil {
			return err
		}
		defer closeAll()
		app = h
	default:
		return fmt.Errorf("serve-http: unknown -kind %q", *kind)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == statsPath {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(readServerStats())
			return
		}
		app.ServeHTTP(w, r)
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// quotad's own server settings, for every server under test.
	srv := api.NewHTTPServer(handler, ctx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintln(stdout, listenPrefix+ln.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("serve-http: %w", err)
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// rateLimitedBody is quotad's /rate-limited answer, served by the Echo
// baselines too so every server writes the same bytes.
type rateLimitedBody struct {
	Response string `json:"response"`
}

func newEchoServer(limited bool) http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	if limited {
		store := middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
			Rate: rate.Limit(1e9), Burst: 1_000_000_000, ExpiresIn: 3 * time.Minute,
		})
		e.Use(middleware.RateLimiter(store))
	}
	e.GET("/rate-limited", func(c echo.Context) error {
		return c.JSON(http.StatusOK, rateLimitedBody{Response: "This is a rate limited response"})
	})
	return e
}

// newQuotadServer builds quotad's handler with internal/stack, as
// cmd/quotad/serve.go does with its defaults (QUOTA_REDIS_FAILURE=open,
// QUOTA_REDIS_TIMEOUT=100ms, no trusted proxies, JSON logs), except that
// the log goes nowhere, the Redis keys start with prefix and, with memory,
// the counts are kept in process; behindNginx sets what deploy/nginx.conf
// asks of quotad: refusals of /v1/authorize as 403, and nginx (on
// 127.0.0.1) trusted to set X-Forwarded-For.
func newQuotadServer(ctx context.Context, redisURL, dbURL, prefix string, secret []byte, memory, behindNginx bool) (http.Handler, func(), error) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, nil, fmt.Errorf("quotad server: %w", err)
	}
	rdb, err := newRedisClient(redisURL)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	closeClients := func() {
		_ = rdb.Close()
		pool.Close()
	}
	cfg := stack.Config{
		Pool: pool, Redis: rdb, RedisPrefix: prefix, Logger: log,
		Auth: api.AuthConfig{Secret: secret},
	}
	if memory {
		cfg.Limiter = quota.NewInMemory()
	}
	if behindNginx {
		cfg.AuthorizeDenyStatus = http.StatusForbidden
		cfg.TrustedProxies = []string{"127.0.0.1/32"}
	}
	handler, closeStack, err := stack.New(ctx, cfg)
	if err != nil {
		closeClients()
		return nil, nil, fmt.Errorf("quotad server: %w", err)
	}
	return handler, func() {
		closeStack()
		closeClients()
	}, nil
}

// readListenLine waits for the child's "listening <addr>" line.
func readListenLine(r *bufio.Reader) (string, error) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", fmt.Errorf("the server exited before listening: %w", err)
		}
		if addr, ok := strings.CutPrefix(strings.TrimSpace(line), listenPrefix); ok {
			return addr, nil
		}
	}
}
