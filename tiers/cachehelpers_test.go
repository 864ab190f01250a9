package tiers

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// startCache starts c, closed when the test ends, and returns it with a
// channel of the changes it reports.
func startCache(tb testing.TB, c *Cache) (*Cache, <-chan Change) {
	tb.Helper()
	changes := make(chan Change, 1024)
	c.cfg.OnChange = func(ch Change) {
		select {
		case changes <- ch:
		default:
			tb.Errorf("change channel full; dropped %+v", ch)
		}
	}
	if err := c.Start(context.Background()); err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(c.Close)
	return c, changes
}

// waitChange waits up to timeout for want, skipping other changes.
func waitChange(tb testing.TB, changes <-chan Change, timeout time.Duration, want Change) {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var seen []Change
	for {
		select {
		case ch := <-changes:
			if ch == want {
				return
			}
			seen = append(seen, ch)
		case <-deadline.C:
			tb.Fatalf("no %+v within %v (saw %+v)", want, timeout, seen)
		}
	}
}

func drain(changes <-chan Change) {
	for {
		select {
		case <-changes:
		default:
			return
		}
	}
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	ticker := time.NewTicker(5 * time.Millisecond)
	defer ticker.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-ticker.C:
		case <-deadline:
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// outage is a database refusing new connections until end is called.
type outage struct {
	tb    testing.TB
	admin *pgx.Conn
	name  string
	ended bool
}

// refuseConnections makes the test's database refuse new connections
// (existing ones live on), until end or the end of the test. It simulates
// Postgres being down without touching the server others share.
func refuseConnections(tb testing.TB, dbURL string) *outage {
	tb.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	o := &outage{tb: tb, admin: connectAdmin(tb), name: cfg.Database}
	if _, err := o.admin.Exec(context.Background(), "ALTER DATABASE "+o.name+" ALLOW_CONNECTIONS false"); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(o.end)
	return o
}

func (o *outage) end() {
	if o.ended {
		return
	}
	o.ended = true
	if _, err := o.admin.Exec(context.Background(), "ALTER DATABASE "+o.name+" ALLOW_CONNECTIONS true"); err != nil {
		o.tb.Errorf("end outage: %v", err)
	}
}

// terminate kills one backend, as a crashing server or a DBA would.
func terminate(tb testing.TB, pid uint32) {
	tb.Helper()
	var ok bool
	if err := connectAdmin(tb).QueryRow(context.Background(), "SELECT pg_terminate_backend($1)", int32(pid)).Scan(&ok); err != nil || !ok {
		tb.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
	}
}

// terminateAllBut kills every backend of the test's database except keep.
func terminateAllBut(tb testing.TB, dbURL string, keep uint32) {
	tb.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	_, err = connectAdmin(tb).Exec(context.Background(),
		`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> $2`,
		cfg.Database, int32(keep))
	if err != nil {
		tb.Fatal(err)
	}
}

// one returns the windows of a tier with one window.
func one(limit int64, per time.Duration) []Window {
	return []Window{{Limit: limit, Per: per}}
}
