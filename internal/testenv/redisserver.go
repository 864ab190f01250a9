package testenv

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quotad/quotad/internal/loopback"
)

// RedisServer is a private redis-server process on a loopback port of its
// own, for tests that stop, restart or freeze Redis: the shared server
// other tests use is never touched. It keeps no data on disk, so Start
// after Stop is a restart with an empty dataset.
//
// Its methods fail the test that started it, so call them from that test's
// goroutine.
type RedisServer struct {
	tb   testing.TB
	port int
	dir  string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
	out    *Buffer
	paused bool
}

// StartRedis starts a redis-server on a free loopback port, waits until it
// answers PING, and kills it when the test ends. It fails the test with a
// one-line hint when redis-server is not installed.
func StartRedis(tb testing.TB) *RedisServer {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		tb.Fatalf("redis-server not found in PATH (apt-get install redis-server, or run 'make services'): %v", err)
	}
	s := &RedisServer{tb: tb, port: FreePort(tb), dir: tb.TempDir()}
	tb.Cleanup(s.kill)
	for attempt := 1; ; attempt++ {
		err := s.launch()
		if err == nil {
			return s
		}
		// Another process took the port since FreePort saw it free.
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			tb.Fatal(err)
		}
		s.port = FreePort(tb)
	}
}

// Addr is the server's host:port.
func (s *RedisServer) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the server's redis:// URL, database 0.
func (s *RedisServer) URL() string { return "redis://" + s.Addr() + "/0" }

// Start starts the server on its port (again, after Stop: with no data)
// and waits until it answers PING.
func (s *RedisServer) Start() {
	s.tb.Helper()
	if err := s.launch(); err != nil {
		s.tb.Fatal(err)
	}
}

// errPortTaken reports a server that could not bind its port.
var errPortTaken = errors.New("port taken")

func (s *RedisServer) launch() error {
	s.mu.Lock()
	if s.cmd != nil {
		s.mu.Unlock()
		return fmt.Errorf("redis %s: Start while running", s.Addr())
	}
	cmd := exec.Command("redis-server",
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--daemonize", "no", "--logfile", "")
	out := &Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.exited, s.out, s.paused = cmd, exited, out, false
	s.mu.Unlock()

	deadline := time.Now().Add(10 * time.Second)
	for !loopback.PingRedis(s.Addr()) {
		select {
		case <-exited:
			s.mu.Lock()
			s.cmd = nil
			s.mu.Unlock()
			if strings.Contains(out.String(), "Address already in use") {
				return fmt.Errorf("redis-server on port %d: %w", s.port, errPortTaken)
			}
			return fmt.Errorf("redis-server on port %d exited at start:\n%s", s.port, out)
		case <-time.After(10 * time.Millisecond): // poll: PING is redis's only readiness signal
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on port %d did not answer PING within 10s:\n%s", s.port, out)
		}
	}
	return nil
}

// Stop shuts the server down with SIGTERM (resuming it first if paused)
// and waits for it to exit: connections are refused until Start.
func (s *RedisServer) Stop() {
	s.tb.Helper()
	if err := s.stop(syscall.SIGTERM, 10*time.Second); err != nil {
		s.tb.Fatal(err)
	}
}

// Pause freezes the server with SIGSTOP, as a hung host would be: the
// kernel still accepts connections, but nothing answers.
func (s *RedisServer) Pause() {
	s.tb.Helper()
	s.signal(syscall.SIGSTOP, true)
}

// Resume undoes Pause with SIGCONT.
func (s *RedisServer) Resume() {
	s.tb.Helper()
	s.signal(syscall.SIGCONT, false)
}

func (s *RedisServer) signal(sig syscall.Signal, paused bool) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.tb.Fatalf("redis %s: %v while stopped", s.Addr(), sig)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.tb.Fatalf("redis %s: %v: %v", s.Addr(), sig, err)
	}
	s.paused = paused
}

// stop signals the process, resuming it first if paused, and waits up to
// wait for it to exit before killing it.
func (s *RedisServer) stop(sig syscall.Signal, wait time.Duration) error {
	s.mu.Lock()
	cmd, exited, paused := s.cmd, s.exited, s.paused
	s.cmd, s.paused = nil, false
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if paused {
		_ = cmd.Process.Signal(syscall.SIGCONT)
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
		return nil
	case <-time.After(wait):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("redis-server on port %d ignored %v for %v; killed", s.port, sig, wait)
	}
}

// kill is the cleanup: no data is worth saving.
func (s *RedisServer) kill() {
	if err := s.stop(syscall.SIGKILL, 10*time.Second); err != nil {
		s.tb.Error(err)
	}
}

// FreePort is loopback.FreePort for a test: a free loopback port below the
// kernel's ephemeral range, or the test fails.
func FreePort(tb testing.TB) int {
	tb.Helper()
	port, err := loopback.FreePort()
	if err != nil {
		tb.Fatal(err)
	}
	return port
}
