package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/quotad/quotad/internal/loopback"
)

// buildQuotad builds cmd/quotad of this checkout (the module the bench
// module's replace directive points at) into dir.
func buildQuotad(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/quotad/quotad").Output()
	if err != nil {
		return "", fmt.Errorf("locating the quotad module (go list -m): %w", err)
	}
	root := strings.TrimSpace(string(out))
	bin := filepath.Join(dir, "quotad")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/quotad")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/quotad in %s: %w\n%s", root, err, out)
	}
	return bin, nil
}

// instanceEnv is what every instance shares.
type instanceEnv struct {
	bin          string
	dir          string // logs go here
	databaseURL  string
	redisURL     string
	secret       string
	redisTimeout time.Duration
	meterEvery   time.Duration // QUOTA_METER_INTERVAL
}

// instance is one running quotad process.
type instance struct {
	n       int // 1-based, for names and the report
	addr    string
	url     string // http://127.0.0.1:port
	logPath string

	// down is set while the instance is killed: the load generator
	// sends to the others meanwhile.
	down atomic.Bool

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// startInstances starts n quotad processes at once (so their migrations
// race, as the SPEC says they may) and waits until each answers /healthz.
// On error it returns the instances started so far, for the caller to stop.
func startInstances(ctx context.Context, env instanceEnv, n int, progress io.Writer) ([]*instance, error) {
	insts := make([]*instance, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { insts[i], errs[i] = startInstance(ctx, env, i+1) })
	}
	wg.Wait()
	var started []*instance
	for _, in := range insts {
		if in != nil {
			started = append(started, in)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return started, err
	}
	for _, in := range insts {
		fmt.Fprintf(progress, "quotad %d on %s (log %s)\n", in.n, in.addr, in.logPath)
	}
	return insts, nil
}

// startInstance starts instance n on a free port, trying another port if
// the one chosen was taken meanwhile.
func startInstance(ctx context.Context, env instanceEnv, n int) (*instance, error) {
	for attempt := 1; ; attempt++ {
		port, err := loopback.FreePort()
		if err != nil {
			return nil, err
		}
		in := &instance{
			n:       n,
			addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			logPath: filepath.Join(env.dir, fmt.Sprintf("quotad-%d.log", n)),
		}
		in.url = "http://" + in.addr
		err = in.start(ctx, env)
		if err == nil {
			return in, nil
		}
		if !strings.Contains(err.Error(), "address already in use") || attempt == 3 {
			return nil, fmt.Errorf("quotad %d: %w", n, err)
		}
	}
}

// vars are the environment variables loadtest sets; any of them
// (or other QUOTA_*) in loadtest's own environment is not passed on.
func (env instanceEnv) vars(addr string) []string {
	return []string{
		"QUOTA_ADDR=" + addr,
		"DATABASE_URL=" + env.databaseURL,
		"REDIS_URL=" + env.redisURL,
		"QUOTA_JWT_SECRET=" + env.secret,
		// The load generator stands in for a proxy: it presents many
		// anonymous clients in X-Forwarded-For.
		"QUOTA_TRUSTED_PROXIES=127.0.0.1/32",
		"QUOTA_REDIS_FAILURE=open",
		"QUOTA_REDIS_TIMEOUT=" + env.redisTimeout.String(),
		"QUOTA_LOG_FORMAT=json",
		"QUOTA_METER_INTERVAL=" + env.meterEvery.String(),
	}
}

// start launches the instance on its address and waits until it answers
// /healthz. The log is appended to: a restarted instance keeps the lines
// of its previous life.
func (in *instance) start(ctx context.Context, env instanceEnv) error {
	logf, err := os.OpenFile(in.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(env.bin)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "QUOTA_") && !strings.HasPrefix(kv, "DATABASE_URL=") && !strings.HasPrefix(kv, "REDIS_URL=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env.vars(in.addr)...)
	exited, err := startLogged(cmd, logf)
	if err != nil {
		return fmt.Errorf("start %s: %w", env.bin, err)
	}
	in.mu.Lock()
	in.cmd, in.exited = cmd, exited
	in.mu.Unlock()

	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := client.Get(in.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			in.mu.Lock()
			in.cmd = nil
			in.mu.Unlock()
			return fmt.Errorf("exited at start:\n%s", readFrom(in.logPath, 0))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no /healthz 200 within 60s:\n%s", readFrom(in.logPath, 0))
		}
	}
}

// stop sends SIGTERM, which drains in-flight requests, and waits up to 20
// seconds before killing. Stopping a stopped instance does nothing.
func (in *instance) stop() error {
	in.mu.Lock()
	cmd, exited := in.cmd, in.exited
	in.cmd = nil
	in.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if stopLogged(cmd, exited, syscall.SIGTERM, 20*time.Second) {
		return fmt.Errorf("quotad %d ignored SIGTERM for 20s; killed", in.n)
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		return fmt.Errorf("quotad %d exited with status %d; see %s", in.n, code, in.logPath)
	}
	return nil
}

// logCounts is how many lines of an instance's JSON log have each level,
// and the first warning or error, for the report.
type logCounts struct {
	levels    map[string]int
	firstWarn string
}

// countLogLevels reads an instance's log after it stopped.
func countLogLevels(path string) logCounts {
	lc := logCounts{levels: map[string]int{}}
	f, err := os.Open(path)
	if err != nil {
		return lc
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Level == "" {
			lc.levels["(not JSON)"]++
			continue
		}
		lc.levels[line.Level]++
		if lc.firstWarn == "" && (line.Level == "WARN" || line.Level == "ERROR") {
			lc.firstWarn = line.Msg
		}
	}
	return lc
}

// randomHex returns n random bytes as hex (2n characters).
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
