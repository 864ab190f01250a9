package e2e

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quotad/quotad/internal/testenv"
)

// secret is every test quotad's QUOTA_JWT_SECRET.
const secret = "e2e-secret-of-at-least-thirty-two-bytes"

// quotad is one quotad process.
type quotad struct {
	tb     testing.TB
	URL    string // http://127.0.0.1:port
	cmd    *exec.Cmd
	stdout *testenv.Buffer // the JSON log
	stderr *testenv.Buffer // main's one-line error, race reports
	exited chan struct{}
	state  *os.ProcessState // set before exited closes
}

// env is the environment quotad needs against db and the Redis at
// redisURL: JSON logs, the default 100 ms Redis deadline spelled out.
func env(db, redisURL string) map[string]string {
	return map[string]string{
		"DATABASE_URL":        db,
		"REDIS_URL":           redisURL,
		"QUOTA_JWT_SECRET":    secret,
		"QUOTA_LOG_FORMAT":    "json",
		"QUOTA_ACCESS_LOG":    "all",
		"QUOTA_REDIS_TIMEOUT": "100ms",
	}
}

// startQuotad launches quotad and waits until /healthz answers.
func startQuotad(tb testing.TB, vars map[string]string) *quotad {
	tb.Helper()
	q := launchQuotad(tb, vars)
	q.waitHealthy(30 * time.Second)
	return q
}

// launchQuotad starts quotad with vars (plus QUOTA_ADDR on a free loopback
// port) and nothing else of ours in its environment. When the test ends
// the process gets SIGTERM, then SIGKILL if it lingers; a failed test
// shows its output, and a data race reported by a -race build fails it.
func launchQuotad(tb testing.TB, vars map[string]string) *quotad {
	tb.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(tb)))
	var environ []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "QUOTA_") || name == "DATABASE_URL" || name == "REDIS_URL" || name == "GORACE" {
			continue
		}
		environ = append(environ, kv)
	}
	// A -race build otherwise sleeps a second at exit (atexit_sleep_ms),
	// which every test would wait for and TestSIGTERMUnderLoad would time.
	environ = append(environ, "QUOTA_ADDR="+addr, "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=100")
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	q := &quotad{tb: tb, URL: "http://" + addr, stdout: &testenv.Buffer{}, stderr: &testenv.Buffer{}, exited: make(chan struct{})}
	q.cmd = exec.Command(quotadBin)
	q.cmd.Env = environ
	q.cmd.Stdout, q.cmd.Stderr = q.stdout, q.stderr
	if err := q.cmd.Start(); err != nil {
		tb.Fatalf("start quotad: %v", err)
	}
	go func() {
		_ = q.cmd.Wait()
		q.state = q.cmd.ProcessState
		close(q.exited)
	}()
	tb.Cleanup(func() {
		select {
		case <-q.exited:
		default:
			_ = q.cmd.Process.Signal(syscall.SIGCONT) // in case a failed test left it frozen
			_ = q.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-q.exited:
			case <-time.After(20 * time.Second):
				tb.Errorf("quotad %s ignored SIGTERM for 20s; killing it", q.URL)
				_ = q.cmd.Process.Kill()
				<-q.exited
			}
		}
		if strings.Contains(q.stderr.String(), "DATA RACE") {
			tb.Errorf("quotad %s reported a data race:\n%s", q.URL, q.stderr)
		} else if tb.Failed() {
			tb.Logf("quotad %s stdout (tail):\n%s\nstderr:\n%s", q.URL, tail(q.stdout.String(), 40), q.stderr)
		}
	})
	return q
}

// waitHealthy polls /healthz, the only signal quotad gives that it is up.
func (q *quotad) waitHealthy(timeout time.Duration) {
	q.tb.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get(q.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-q.exited:
			q.tb.Fatalf("quotad exited (%v) before answering /healthz:\n%s\n%s", q.state, tail(q.stdout.String(), 40), q.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			q.tb.Fatalf("quotad not healthy within %v:\n%s\n%s", timeout, tail(q.stdout.String(), 40), q.stderr)
		}
	}
}

// signal sends sig to the process.
func (q *quotad) signal(sig syscall.Signal) {
	q.tb.Helper()
	if err := q.cmd.Process.Signal(sig); err != nil {
		q.tb.Fatalf("signal quotad: %v", err)
	}
}

// waitExit waits up to timeout for the process to exit and returns its
// exit code, or fails the test.
func (q *quotad) waitExit(timeout time.Duration) int {
	q.tb.Helper()
	select {
	case <-q.exited:
		return q.state.ExitCode()
	case <-time.After(timeout):
		q.tb.Fatalf("quotad still running after %v:\n%s", timeout, tail(q.stdout.String(), 40))
		return -1
	}
}

// logLines returns the JSON log lines whose msg is msg.
func (q *quotad) logLines(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(q.stdout.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// waitLog waits until the log has a line with msg: a signal from the
// process, not a sleep.
func (q *quotad) waitLog(msg string, timeout time.Duration) {
	q.tb.Helper()
	deadline := time.Now().Add(timeout)
	for len(q.logLines(msg)) == 0 {
		if time.Now().After(deadline) {
			q.tb.Fatalf("quotad never logged %q within %v:\n%s", msg, timeout, tail(q.stdout.String(), 40))
		}
		time.Sleep(10 * time.Millisecond) // poll the log
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// isDialError reports an error of a request that never reached the server
// because its connection could not be made.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
