// Package testenv gives tests their own slice of the real Postgres and
// Redis: a fresh database, or a key prefix, removed when the test ends. A
// test that cannot reach a service fails with a one-line hint; it never
// skips, so a broken setup cannot pass as green.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/quotad/quotad/internal/scratchdb"
	"github.com/redis/go-redis/v9"
)

// Defaults of QUOTA_TEST_DATABASE_URL and QUOTA_TEST_REDIS_URL: the
// servers `make services` starts.
const (
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
)

// DatabaseURL is the Postgres server tests create their databases on.
func DatabaseURL() string { return env("QUOTA_TEST_DATABASE_URL", DefaultDatabaseURL) }

// RedisURL is the Redis tests use, each under its own key prefix.
func RedisURL() string { return env("QUOTA_TEST_REDIS_URL", DefaultRedisURL) }

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// RandomName returns prefix followed by 12 random hex digits.
func RandomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Database creates an empty database for this test alone, dropped with
// its connections when the test ends, and returns its URL.
func Database(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := scratchdb.Create(ctx, DatabaseURL(), "quota_test")
	if err != nil {
		tb.Fatalf("cannot create a database on Postgres at %s (run 'make services' or set QUOTA_TEST_DATABASE_URL): %s",
			target(DatabaseURL()), oneLine(err))
	}
	tb.Cleanup(func() {
		if err := db.Drop(context.Background()); err != nil {
			tb.Errorf("drop database %s: %v", db.Name, err)
		}
	})
	return db.URL
}

// Redis returns a client of the test Redis that does not retry and honours
// context deadlines (so quota.New uses it as is), and a key prefix no
// other test uses. Keys under the prefix are deleted when the test ends.
func Redis(tb testing.TB) (*redis.Client, string) {
	tb.Helper()
	opt, err := redis.ParseURL(RedisURL())
	if err != nil {
		tb.Fatalf("QUOTA_TEST_REDIS_URL %q: %v", RedisURL(), err)
	}
	opt.MaxRetries, opt.ContextTimeoutEnabled = -1, true
	client := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		tb.Fatalf("cannot reach Redis at %s (run 'make services' or set QUOTA_TEST_REDIS_URL): %s", opt.Addr, oneLine(err))
	}
	prefix := RandomName("quotatest:")
	tb.Cleanup(func() {
		ctx := context.Background()
		var cursor uint64
		for {
			keys, next, err := client.Scan(ctx, cursor, prefix+"*", 10000).Result()
			if err != nil {
				tb.Errorf("clean up Redis keys %s*: %v", prefix, err)
				break
			}
			if len(keys) > 0 {
				client.Unlink(ctx, keys...)
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
		client.Close()
	})
	return client, prefix
}

// target names a Postgres server without credentials.
func target(dsn string) string {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "the configured URL"
	}
	return fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }
