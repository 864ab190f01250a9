package tiers

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// IdempotencyRecord is the first response to an Idempotency-Key, kept to be
// replayed to retries (migration 00008).
type IdempotencyRecord struct {
	Method, Path string
	BodySHA256   [sha256.Size]byte
	// Status is below 500: a failure is not kept, so it can be retried.
	Status      int
	ContentType string
	Location    string
	Body        []byte
	CreatedAt   time.Time
}

// sweepBatch bounds the expired records one Save deletes, so its cost does
// not grow with a backlog; each Save removes up to this many, more than
// one write adds.
const sweepBatch = 100

const (
	// The advisory lock takes a 64-bit key: a hash of actor and key, the
	// actor's length first so that ("ab", "c") and ("a", "bc") differ. A
	// collision only makes two requests wait for each other.
	sqlLockIdempotencyKey = `SELECT pg_advisory_xact_lock(hashtextextended(length($1)::text || ':' || $1 || $2, 0))`

	sqlGetIdempotencyKey = `
SELECT method, path, body_sha256, status, content_type, location, body, created_at
FROM idempotency_keys WHERE actor = $1 AND key = $2 AND created_at > $3`

	sqlPutIdempotencyKey = `
INSERT INTO idempotency_keys (actor, key, method, path, body_sha256, status, content_type, location, body, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (actor, key) DO UPDATE
SET method = EXCLUDED.method, path = EXCLUDED.path, body_sha256 = EXCLUDED.body_sha256,
    status = EXCLUDED.status, content_type = EXCLUDED.content_type, location = EXCLUDED.location,
    body = EXCLUDED.body, created_at = EXCLUDED.created_at`

	sqlSweepIdempotencyKeys = `
DELETE FROM idempotency_keys WHERE ctid IN (
    SELECT ctid FROM idempotency_keys WHERE created_at <= $1 LIMIT $2)`
)

// IdempotencyLock is the exclusive right to answer one (actor, key): a
// transaction on a connection of its own holding an advisory lock on them,
// which every other request with the same actor and key, on any instance,
// waits for. Call Release when done, after Save or instead of it.
type IdempotencyLock struct {
	actor, key string
	conn       *pgxpool.Conn
	tx         pgx.Tx
	release    func()
}

// LockIdempotencyKey waits for the lock on (actor, key) and returns it.
//
// While it waits it holds a pooled connection. At most half the pool's
// connections hold or wait for these locks at once (the rest of the
// callers wait for a slot without a connection): the handler a lock
// holder runs needs a connection of its own, which must not all be taken
// by requests waiting for that very lock.
func (s *Store) LockIdempotencyKey(ctx context.Context, actor, key string) (*IdempotencyLock, error) {
	slots := s.idem
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("tiers: lock idempotency key: %w", interpretError(ctx.Err()))
	}
	release := func() { <-slots }
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		release()
		return nil, fmt.Errorf("tiers: lock idempotency key: %w", interpretError(err))
	}
	tx, err := conn.Begin(ctx)
	if err == nil {
		_, err = tx.Exec(ctx, sqlLockIdempotencyKey, actor, key)
		if err != nil {
			_ = tx.Rollback(ctx)
		}
	}
	if err != nil {
		conn.Release()
		release()
		return nil, fmt.Errorf("tiers: lock idempotency key: %w", interpretError(err))
	}
	return &IdempotencyLock{actor: actor, key: key, conn: conn, tx: tx, release: release}, nil
}

// newIdempotencySlots returns the semaphore bounding the connections of
// pool that hold or wait for idempotency locks.
func newIdempotencySlots(pool *pgxpool.Pool) chan struct{} {
	return make(chan struct{}, max(1, pool.Config().MaxConns/2))
}

// Get returns the record of the lock's actor and key created after since;
// ok is false when there is none.
func (l *IdempotencyLock) Get(ctx context.Context, since time.Time) (rec IdempotencyRecord, ok bool, err error) {
	var sum []byte
	err = l.tx.QueryRow(ctx, sqlGetIdempotencyKey, l.actor, l.key, since).Scan(
		&rec.Method, &rec.Path, &sum, &rec.Status, &rec.ContentType, &rec.Location, &rec.Body, &rec.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return IdempotencyRecord{}, false, nil
	}
	if err != nil {
		return IdempotencyRecord{}, false, fmt.Errorf("tiers: get idempotency key: %w", interpretError(err))
	}
	copy(rec.BodySHA256[:], sum)
	return rec, true, nil
}

// Save stores rec for the lock's actor and key, replacing an expired one,
// deletes up to sweepBatch records created at or before expired, and
// commits. The lock is released by Release, not by Save.
func (l *IdempotencyLock) Save(ctx context.Context, rec IdempotencyRecord, expired time.Time) error {
	if rec.Status < 100 || rec.Status >= 500 {
		return fmt.Errorf("tiers: save idempotency key: status %d is not kept", rec.Status)
	}
	if _, err := l.tx.Exec(ctx, sqlPutIdempotencyKey, l.actor, l.key, rec.Method, rec.Path, rec.BodySHA256[:],
		rec.Status, rec.ContentType, rec.Location, rec.Body, rec.CreatedAt); err != nil {
		return fmt.Errorf("tiers: save idempotency key: %w", interpretError(err))
	}
	if _, err := l.tx.Exec(ctx, sqlSweepIdempotencyKeys, expired, sweepBatch); err != nil {
		return fmt.Errorf("tiers: save idempotency key: sweep: %w", interpretError(err))
	}
	if err := l.tx.Commit(ctx); err != nil {
		return fmt.Errorf("tiers: save idempotency key: %w", interpretError(err))
	}
	return nil
}

// Release ends the transaction if Save has not (which frees the advisory
// lock) and returns the connection. It is safe to call more than once.
func (l *IdempotencyLock) Release() {
	if l.conn == nil {
		return
	}
	// A committed transaction makes Rollback a no-op. Its own context, as
	// the request's may be done: a connection left mid-transaction would
	// keep the lock.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		// The connection's state is unknown: close it rather than pool it,
		// which ends its session and so its locks.
		_ = l.conn.Conn().Close(ctx)
	}
	l.conn.Release()
	l.conn = nil
	l.release()
}
