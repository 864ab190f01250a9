package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/quotad/quotad/internal/loopback"
)

// PGServer is a private Postgres cluster (initdb into a temporary
// directory, trust authentication, user postgres) listening on a loopback
// port of its own, for tests that stop and restart Postgres: the shared
// server other tests use is never touched. Data survives Stop and Start.
//
// Creating a cluster takes about a second: share one between tests where
// they do not stop it, and give each test its own database (Database).
type PGServer struct {
	tb   testing.TB // nil for NewPostgres: failures panic
	bin  string     // directory of initdb and pg_ctl
	dir  string     // owned by the server's OS user; holds data, socket, log
	port int
	user string // OS user to run as ("postgres" when we are root), or ""

	mu      sync.Mutex
	running bool
}

// StartPostgres creates and starts a private cluster that is stopped and
// removed when the test ends. Its Stop and Start fail that test, so call
// them from its goroutine. It fails the test with a one-line hint when the
// Postgres server binaries are not installed.
func StartPostgres(tb testing.TB) *PGServer {
	tb.Helper()
	s, err := NewPostgres()
	if err != nil {
		tb.Fatal(err)
	}
	s.tb = tb
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// NewPostgres creates and starts a private cluster that lives until Close,
// for a TestMain sharing one cluster between a package's tests.
func NewPostgres() (*PGServer, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	s := &PGServer{bin: bin}
	if os.Geteuid() == 0 {
		// Postgres refuses to run as root.
		s.user = "postgres"
	}
	if s.dir, err = os.MkdirTemp("", "quotad-pg-"); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if s.user != "" {
		u, err := user.Lookup(s.user)
		if err != nil {
			os.RemoveAll(s.dir)
			return nil, fmt.Errorf("postgres: running as root needs an OS user %q to run the server as (apt-get install postgresql creates it): %w", s.user, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(s.dir, uid, gid); err != nil {
			os.RemoveAll(s.dir)
			return nil, fmt.Errorf("postgres: %w", err)
		}
	}
	if err := s.pg("initdb", "-D", s.data(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "-N"); err != nil {
		os.RemoveAll(s.dir)
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		if s.port, err = loopback.FreePort(); err != nil {
			os.RemoveAll(s.dir)
			return nil, err
		}
		err = s.start()
		if err == nil {
			return s, nil
		}
		// Another process took the port since loopback.FreePort saw it free.
		if !strings.Contains(err.Error(), "Address already in use") || attempt == 3 {
			os.RemoveAll(s.dir)
			return nil, err
		}
	}
}

// Addr is the server's host:port.
func (s *PGServer) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the URL of database db on the server (pgx syntax).
func (s *PGServer) URL(db string) string {
	return "postgres://postgres@" + s.Addr() + "/" + db + "?sslmode=disable"
}

// Database creates an empty database for this test alone, dropped when
// the test ends (if the server is running then), and returns its URL.
func (s *PGServer) Database(tb testing.TB) string {
	tb.Helper()
	name := RandomName("quota_e2e_")
	if err := s.exec("CREATE DATABASE " + name); err != nil {
		tb.Fatalf("create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if !s.Running() {
			return // the cluster goes away as a whole
		}
		if err := s.exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			tb.Errorf("drop database %s: %v", name, err)
		}
	})
	return s.URL(name)
}

// Running reports whether the server was last started rather than stopped.
func (s *PGServer) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// Stop shuts the server down (pg_ctl stop -m fast: clients are
// disconnected) and waits until it has exited.
func (s *PGServer) Stop() {
	if err := s.stop("fast"); err != nil {
		s.fatal(err)
	}
}

// Start starts the server again on the same port and waits until it
// accepts connections.
func (s *PGServer) Start() {
	if err := s.start(); err != nil {
		s.fatal(err)
	}
}

// Close stops the server at once and removes its directory.
func (s *PGServer) Close() error {
	err := s.stop("immediate")
	if rmErr := os.RemoveAll(s.dir); rmErr != nil {
		err = errors.Join(err, rmErr)
	}
	return err
}

func (s *PGServer) data() string { return filepath.Join(s.dir, "data") }

func (s *PGServer) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return fmt.Errorf("postgres %s: already running", s.Addr())
	}
	opts := strings.Join([]string{
		"-p", strconv.Itoa(s.port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
	}, " ")
	if err := s.pg("pg_ctl", "-D", s.data(), "-l", filepath.Join(s.dir, "postgres.log"),
		"-w", "-t", "60", "-o", opts, "start"); err != nil {
		return fmt.Errorf("%w\n%s", err, s.logTail())
	}
	s.running = true
	return nil
}

func (s *PGServer) stop(mode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return nil
	}
	if err := s.pg("pg_ctl", "-D", s.data(), "-w", "-t", "60", "-m", mode, "stop"); err != nil {
		return err
	}
	s.running = false
	return nil
}

// pg runs one of the server's programs as the server's OS user.
func (s *PGServer) pg(prog string, args ...string) error {
	path := filepath.Join(s.bin, prog)
	var cmd *exec.Cmd
	if s.user != "" {
		cmd = exec.Command("runuser", append([]string{"-u", s.user, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = s.dir // the server's user may not be allowed into ours
	// pg_ctl -l sends the server's output to the log file, so the server
	// does not hold these pipes open after pg_ctl returns.
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("postgres %s: %s: %v\n%s", s.Addr(), prog, err, out)
	}
	return nil
}

// exec runs one statement in the postgres database.
func (s *PGServer) exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

func (s *PGServer) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (s *PGServer) fatal(err error) {
	if s.tb == nil {
		panic(err)
	}
	s.tb.Helper()
	s.tb.Fatal(err)
}

// pgBinDir finds initdb and pg_ctl: on PATH, else in the newest
// /usr/lib/postgresql/<version>/bin (Debian does not put them on PATH).
func pgBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			// Follow symlinks such as /usr/local/bin/initdb so both
			// programs come from one installation.
			if real, err := filepath.EvalSymlinks(p); err == nil {
				p = real
			}
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("postgres: initdb and pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin (apt-get install postgresql)")
}
