package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/quotad/quotad/tiers"
)

// ErrUnavailable is wrapped by ClientEvents' errors when Postgres could not
// be reached or did not answer in time; the read may be retried.
var ErrUnavailable = errors.New("database unavailable")

// States of a Stored event.
const (
	// StatePending is an event still to be delivered, or being delivered.
	StatePending = "pending"
	// StateDelivered is an event its receiver answered with a 2xx.
	StateDelivered = "delivered"
	// StateFailed is an event given up on after a day of failed attempts.
	StateFailed = "failed"
)

// Stored is an event as the outbox holds it, with its delivery so far.
type Stored struct {
	// ID is the event's id (Event.ID).
	ID string
	// Threshold, Policy, Used and Limit are the Event's.
	Threshold   int
	Policy      string
	Used, Limit int64
	// WindowStart, WindowEnd and CreatedAt are the Event's, in UTC.
	WindowStart, WindowEnd, CreatedAt time.Time
	// State is StatePending, StateDelivered or StateFailed.
	State string
	// Attempts counts the requests made, whatever their outcome.
	Attempts int
	// LastStatus is the last answer's HTTP status; 0 if there was none
	// (no attempt yet, or the last one got no answer).
	LastStatus int
	// LastError says why the last attempt failed; empty if it did not or
	// none was made.
	LastError string
	// DeliveredAt is set when State is StateDelivered, FailedAt when it is
	// StateFailed, and NextAttemptAt (when the event is next due) when it
	// is StatePending; the others are zero.
	DeliveredAt, FailedAt, NextAttemptAt time.Time
}

// Querier runs a query: a pgx.Tx, *pgxpool.Pool or *pgx.Conn.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// The UNIQUE (client_id, window_start, threshold) index finds a client's
// rows; a client has two a month, so sorting them costs nothing.
const sqlClientEvents = `
	SELECT id, threshold, body, created_at, attempts, next_attempt_at,
		last_status, last_error, delivered_at, failed_at
	FROM webhook_events WHERE client_id = $1
	ORDER BY created_at DESC, id DESC
	LIMIT $2`

// ClientEvents returns up to limit (at least 1) of client's events, newest
// (by CreatedAt, then ID) first; none is an empty list, not an error.
func ClientEvents(ctx context.Context, db Querier, client string, limit int) ([]Stored, error) {
	if limit < 1 {
		return nil, fmt.Errorf("webhooks: events of %q: limit %d is below 1", client, limit)
	}
	rows, _ := db.Query(ctx, sqlClientEvents, client, limit)
	evs, err := pgx.CollectRows(rows, scanStored)
	if err != nil {
		if tiers.Unreachable(err) {
			err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return nil, fmt.Errorf("webhooks: events of %q: %w", client, err)
	}
	return evs, nil
}

func scanStored(row pgx.CollectableRow) (Stored, error) {
	var (
		ev                    Stored
		body                  string
		next                  time.Time
		status                *int32
		lastErr               *string
		deliveredAt, failedAt *time.Time
		threshold, attempts   int32
	)
	if err := row.Scan(&ev.ID, &threshold, &body, &ev.CreatedAt, &attempts, &next,
		&status, &lastErr, &deliveredAt, &failedAt); err != nil {
		return Stored{}, err
	}
	// The body is the JSON sent; the columns hold only what the outbox
	// needs to find and order events.
	var p payload
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return Stored{}, fmt.Errorf("event %s: body: %w", ev.ID, err)
	}
	var err error
	if ev.WindowStart, err = time.Parse(time.RFC3339, p.WindowStart); err != nil {
		return Stored{}, fmt.Errorf("event %s: window_start: %w", ev.ID, err)
	}
	if ev.WindowEnd, err = time.Parse(time.RFC3339, p.WindowEnd); err != nil {
		return Stored{}, fmt.Errorf("event %s: window_end: %w", ev.ID, err)
	}
	ev.Threshold, ev.Attempts = int(threshold), int(attempts)
	ev.Policy, ev.Used, ev.Limit = p.Policy, p.Used, p.Limit
	ev.CreatedAt, ev.WindowStart, ev.WindowEnd = ev.CreatedAt.UTC(), ev.WindowStart.UTC(), ev.WindowEnd.UTC()
	if status != nil {
		ev.LastStatus = int(*status)
	}
	if lastErr != nil {
		ev.LastError = *lastErr
	}
	switch {
	case deliveredAt != nil:
		ev.State, ev.DeliveredAt = StateDelivered, deliveredAt.UTC()
	case failedAt != nil:
		ev.State, ev.FailedAt = StateFailed, failedAt.UTC()
	default:
		ev.State, ev.NextAttemptAt = StatePending, next.UTC()
	}
	return ev, nil
}
