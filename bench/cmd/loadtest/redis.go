package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/quotad/quotad/internal/loopback"
)

// redisServer is loadtest's private redis-server: a child process on a
// loopback port of its own that keeps nothing on disk, so start after stop
// is a restart with an empty dataset, as after a crash of a cache-only
// Redis.
type redisServer struct {
	port    int
	dir     string
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has been waited for
}

// errPortTaken reports a server that could not bind its port.
var errPortTaken = errors.New("port taken")

// startRedis starts a redis-server on a free loopback port and waits until
// it answers PING.
func startRedis(ctx context.Context, dir string) (*redisServer, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("redis-server not found in PATH (apt-get install redis-server): %w", err)
	}
	s := &redisServer{dir: dir, logPath: filepath.Join(dir, "redis.log")}
	for attempt := 1; ; attempt++ {
		port, err := loopback.FreePort()
		if err != nil {
			return nil, err
		}
		s.port = port
		err = s.start(ctx)
		if err == nil {
			return s, nil
		}
		// Another process took the port since freePort saw it free.
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			return nil, err
		}
	}
}

func (s *redisServer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

func (s *redisServer) url() string { return "redis://" + s.addr() + "/0" }

// start launches the server on its port and waits until it answers PING.
func (s *redisServer) start(ctx context.Context) error {
	s.mu.Lock()
	if s.cmd != nil {
		s.mu.Unlock()
		return fmt.Errorf("redis %s: start while running", s.addr())
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	before, _ := logf.Seek(0, 2)
	cmd := exec.Command("redis-server",
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--daemonize", "no", "--logfile", "")
	exited, err := startLogged(cmd, logf)
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("start redis-server: %w", err)
	}
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	deadline := time.Now().Add(10 * time.Second)
	for !loopback.PingRedis(s.addr()) {
		select {
		case <-exited:
			s.mu.Lock()
			s.cmd = nil
			s.mu.Unlock()
			out := readFrom(s.logPath, before)
			if strings.Contains(out, "Address already in use") {
				return fmt.Errorf("redis-server on port %d: %w", s.port, errPortTaken)
			}
			return fmt.Errorf("redis-server on port %d exited at start:\n%s", s.port, out)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond): // PING is Redis's only readiness signal
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on port %d did not answer PING within 10s:\n%s", s.port, readFrom(s.logPath, before))
		}
	}
	return nil
}

// stop sends SIGTERM (Redis shuts down at once: nothing to save) and
// waits for the process to exit, killing it after ten seconds.
func (s *redisServer) stop() error { return s.signal(syscall.SIGTERM) }

// kill is the final cleanup: no data is worth saving.
func (s *redisServer) kill() { _ = s.signal(syscall.SIGKILL) }

func (s *redisServer) signal(sig syscall.Signal) error {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if stopLogged(cmd, exited, sig, 10*time.Second) {
		return fmt.Errorf("redis-server on port %d ignored %v for 10s; killed", s.port, sig)
	}
	return nil
}

// redisVersion is "7.0.15", from redis-server --version.
func redisVersion(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "redis-server", "--version").Output()
	if err != nil {
		return "unknown"
	}
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return v
		}
	}
	return strings.TrimSpace(string(out))
}

// readFrom returns a log file's content from offset on, at most its last
// 4,000 bytes.
func readFrom(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || offset > int64(len(b)) {
		return ""
	}
	b = b[offset:]
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
