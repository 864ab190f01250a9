package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/quotad/quotad/api"
	"github.com/quotad/quotad/internal/scratchdb"
	"github.com/quotad/quotad/quota"
)

// httpMeasurement is one server at one connection count in one round.
type httpMeasurement struct {
	loadResult
	degraded int64       // 200s marked X-RateLimit-Degraded (Redis did not decide)
	server   serverStats // the server process's growth: allocations, CPU
}

// httpResults are the HTTP scenario's measurements, one per round per cell.
type httpResults struct {
	conns      []int
	pinned     string // how processes were placed on CPUs, for the report
	gomaxprocs map[string]int
	rounds     map[runKey][]httpMeasurement
	// gatewaySkipped says why the nginx servers did not run, or is "".
	gatewaySkipped string
	nginxWorkers   int // worker processes of each nginx; 0: unknown
}

// serverProc is a running child server.
type serverProc struct {
	kind  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	url   string // base URL, http://127.0.0.1:port
	done  chan error
}

// runHTTPScenario starts the servers as child processes, and nginx in
// front of the echo server where this machine has it (see startGateways),
// and loads each with keep-alive connections from this process,
// interleaved as the Redis scenarios are. With pinning, the servers (nginx
// included) run on CPU 0 and this process (the load) on CPU 1; Redis and
// Postgres are not pinned.
func runHTTPScenario(ctx context.Context, cfg config, prefix string, db *scratchdb.Database, progress, stderr io.Writer) (*httpResults, error) {
	res := &httpResults{conns: cfg.conns, gomaxprocs: map[string]int{}, rounds: map[runKey][]httpMeasurement{}, pinned: "not pinned (-pin=false, no taskset, or fewer than 2 CPUs)"}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var launcher []string
	if pinOK(cfg) {
		launcher = []string{"taskset", "-c", "0"}
		restore, err := pinSelf("1")
		if err != nil {
			return nil, err
		}
		defer restore()
		res.pinned = "servers pinned to CPU 0 (`taskset -c 0`), load generator (this process) to CPU 1 (`taskset -a -p -c 1`); Redis and Postgres unpinned"
	}

	var secret [32]byte
	_, _ = rand.Read(secret[:])
	secretText := hex.EncodeToString(secret[:])
	token, err := api.MintToken([]byte(secretText), api.TokenClaims{Subject: "peerbench", TTL: 24 * time.Hour})
	if err != nil {
		return nil, err
	}
	token3w, err := api.MintToken([]byte(secretText), api.TokenClaims{Subject: planClient, TTL: 24 * time.Hour})
	if err != nil {
		return nil, err
	}

	servers := make(map[string]*serverProc, len(serverKinds))
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	quotadArgs := func(kind string) []string {
		return []string{"serve-http", "-kind", kind, "-wake", cfg.wake.String(),
			"-redis", cfg.redisURL, "-database", db.URL, "-prefix", prefix + ":quotad"}
	}
	for _, kind := range serverKinds {
		args := []string{"serve-http", "-kind", kind, "-wake", cfg.wake.String()}
		if kind == serverQuotad || kind == serverQuotadAuth || kind == serverQuotad3w || kind == serverQuotadMem {
			args = quotadArgs(kind)
		}
		s, err := startServer(ctx, launcher, exe, kind, args, secretText, stderr)
		if err != nil {
			return nil, err
		}
		servers[kind] = s
		st, err := fetchServerStats(ctx, s.url)
		if err != nil {
			return nil, err
		}
		res.gomaxprocs[kind] = st.GOMAXPROCS
	}
	// urls and stats: where each server is loaded, and where its own
	// counters are read ("" for nginx, whose processes have none to serve).
	kinds := slices.Clone(serverKinds)
	urls, stats := map[string]string{}, map[string]string{}
	for kind, s := range servers {
		urls[kind], stats[kind] = s.url, s.url
	}
	gw, skip, err := startGateways(ctx, launcher, exe, quotadArgs(serverQuotad), secretText, strings.TrimPrefix(servers[serverEcho].url, "http://"), stderr)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if skip != "" {
		res.gatewaySkipped = skip
		fmt.Fprintf(progress, "http: skipping the %s servers: %s\n", strings.Join(gatewayKinds, " and "), skip)
	} else {
		defer gw.stop()
		kinds = append(kinds, gatewayKinds...)
		maps.Copy(urls, gw.urls)
	}
	for round := 1; round <= cfg.rounds; round++ {
		for _, n := range cfg.conns {
			for _, kind := range kinds {
				tok := token
				if kind == serverQuotad3w {
					tok = token3w
				}
				m, err := measureHTTP(ctx, cfg.duration, urls[kind], stats[kind], kind, tok, n)
				if err != nil {
					return nil, fmt.Errorf("http %s: %w", kind, err)
				}
				k := runKey{kind, n}
				res.rounds[k] = append(res.rounds[k], m)
				allocs := "–"
				if stats[kind] != "" {
					allocs = fmt.Sprintf("%.1f", float64(m.server.Mallocs)/float64(max(m.ok, 1)))
				}
				fmt.Fprintf(progress, "http round %d/%d conns=%-3d %-16s %10.0f req/s  p50 %-8v p99 %-8v allocs/req %s errors %d degraded %d\n",
					round, cfg.rounds, n, kind, m.rate(), m.hist.quantile(0.5), m.hist.quantile(0.99),
					allocs, m.errors, m.degraded)
				if m.firstErr != nil {
					fmt.Fprintf(progress, "  first error: %v\n", m.firstErr)
				}
			}
		}
	}
	if gw != nil {
		res.nginxWorkers = gw.workers()
	}
	return res, nil
}

// startServer runs "<launcher…> exe args…" and waits for it to listen.
func startServer(ctx context.Context, launcher []string, exe, kind string, args []string, secret string, stderr io.Writer) (*serverProc, error) {
	argv := append(append(append([]string{}, launcher...), exe), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), childEnv+"=1", secretEnv+"="+secret)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s server: %w", kind, err)
	}
	s := &serverProc{kind: kind, cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		r := bufio.NewReader(stdout)
		addr, err := readListenLine(r)
		if err != nil {
			errc <- err
			return
		}
		addrc <- addr
		_, _ = io.Copy(io.Discard, r)
	}()
	go func() { s.done <- cmd.Wait() }()
	select {
	case addr := <-addrc:
		s.url = "http://" + addr
		return s, nil
	case err := <-errc:
		s.stop()
		return nil, fmt.Errorf("%s server: %w", kind, err)
	case <-time.After(60 * time.Second):
		s.stop()
		return nil, fmt.Errorf("%s server: not listening after 60s", kind)
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
}

// stop closes the child's stdin, which makes it shut down, and kills it if
// it is still there after ten seconds.
func (s *serverProc) stop() {
	_ = s.stdin.Close()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func fetchServerStats(ctx context.Context, base string) (serverStats, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+statsPath, nil)
	if err != nil {
		return serverStats{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return serverStats{}, err
	}
	defer resp.Body.Close()
	var st serverStats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return serverStats{}, fmt.Errorf("server stats: %w", err)
	}
	return st, nil
}

// loadRequest is the request the load sends to a server of kind: GET
// /rate-limited, or for quotad-authorize the forward-auth subrequest
// nginx would send for the same client.
func loadRequest(ctx context.Context, base, kind, token string) (*http.Request, error) {
	path := "/rate-limited"
	if kind == serverQuotadAuth {
		path = "/v1/authorize"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return nil, err
	}
	// Every server gets the same token; only quotad reads it.
	req.Header.Set("Authorization", "Bearer "+token)
	if kind == serverQuotadAuth {
		req.Header.Set("X-Original-Method", http.MethodGet)
		req.Header.Set("X-Original-URI", "/v1/orders?page=2")
	}
	return req, nil
}

// measureHTTP loads a server of kind at base from conns keep-alive
// connections (one goroutine each, one request at a time) for d, after a
// warm-up that opens them, and reads the server's counters at statsBase on
// both sides (none when statsBase is "").
func measureHTTP(ctx context.Context, d time.Duration, base, statsBase, kind, token string, conns int) (httpMeasurement, error) {
	tr := &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
		DisableCompression: true, IdleConnTimeout: time.Minute,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	reqs := make([]*http.Request, conns)
	for g := range reqs {
		req, err := loadRequest(ctx, base, kind, token)
		if err != nil {
			return httpMeasurement{}, err
		}
		reqs[g] = req
	}
	var degraded atomic.Int64
	op := func(_ context.Context, g, _ int) error {
		resp, err := client.Do(reqs[g])
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		// Only quotad's answer gives nginx the header to copy.
		if kind == serverNginxQuotad && resp.Header.Get(quota.HeaderLimit) == "" {
			return fmt.Errorf("no %s: nginx did not ask quotad", quota.HeaderLimit)
		}
		if resp.Header.Get(quota.HeaderDegraded) != "" {
			degraded.Add(1)
		}
		return nil
	}
	drive(ctx, conns, warmupFor(d), op)
	var s0, s1 serverStats
	var err error
	if statsBase != "" {
		if s0, err = fetchServerStats(ctx, statsBase); err != nil {
			return httpMeasurement{}, err
		}
	}
	degraded.Store(0)
	lr := drive(ctx, conns, d, op)
	if statsBase != "" {
		if s1, err = fetchServerStats(ctx, statsBase); err != nil {
			return httpMeasurement{}, err
		}
	}
	return httpMeasurement{loadResult: lr, degraded: degraded.Load(), server: s1.sub(s0)}, ctx.Err()
}
