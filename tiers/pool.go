package tiers

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A pooled connection that Postgres has closed (a restart, a failover, a
// DBA's pg_terminate_backend) fails the first statement it is handed: the
// pool pings only connections idle for a second or more. Right after a
// restart, then, reads would fail (and admin reads and readiness answer 503)
// for a while though Postgres answers. So a statement that fails on a broken
// connection resets the pool, whose other idle connections are suspect
// too, and a read is asked once more on a fresh connection. A write is not:
// whether it ran cannot be told, so its caller gets the error.

// readAgain runs read, and once more after resetting pool if it failed on a
// broken connection.
func readAgain[T any](ctx context.Context, pool *pgxpool.Pool, read func() (T, error)) (T, error) {
	v, err := read()
	if err != nil && resetIfBroken(ctx, pool, err) {
		v, err = read()
	}
	return v, err
}

// resetIfBroken resets pool if err is a statement's failure on a connection
// the server closed, and reports whether it was.
func resetIfBroken(ctx context.Context, pool *pgxpool.Pool, err error) bool {
	if !brokenConnection(ctx, err) {
		return false
	}
	pool.Reset()
	return true
}

// brokenConnection reports whether err is a statement's failure on a
// connection the server closed, as opposed to a failure to connect, a
// deadline, or an answer from a server that is up.
func brokenConnection(ctx context.Context, err error) bool {
	var connectErr *pgconn.ConnectError
	return ctx.Err() == nil && !errors.As(err, &connectErr) && !pgconn.Timeout(err) &&
		errors.Is(interpretError(err), ErrUnavailable)
}
