package webhooks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// EventType is the "type" of every event this package sends.
const EventType = "quota.threshold"

// Event is a client's usage of a month window reaching a threshold.
type Event struct {
	// Client is the client's id (its token's sub).
	Client string
	// Tier is the client's tier when the threshold was reached.
	Tier string
	// Policy names the window as the RateLimit-Policy header does, e.g.
	// "pro:month".
	Policy string
	// Threshold is the percentage of Limit reached: 80 or 100.
	Threshold int
	// Used is the window's usage when the threshold was seen (at least
	// Threshold % of Limit), and Limit the window's limit.
	Used, Limit int64
	// WindowStart and WindowEnd bound the month window. WindowStart, with
	// Client and Threshold, identifies the event.
	WindowStart, WindowEnd time.Time
	// CreatedAt is when the threshold was seen; retries stop a day or more
	// after it. Zero means now.
	CreatedAt time.Time
}

// ID returns the event's stable id, "evt_" and 32 hex digits of a hash of
// its client, window start and threshold: the same for every instance that
// sees the same crossing, so the outbox keeps one of them.
func (e Event) ID() string {
	h := sha256.New()
	h.Write([]byte(e.Client))
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatInt(e.WindowStart.UnixNano(), 10)))
	h.Write([]byte{0})
	h.Write([]byte(strconv.Itoa(e.Threshold)))
	return "evt_" + hex.EncodeToString(h.Sum(nil)[:16])
}

// payload is the JSON sent, fields in the order SPEC.md lists them.
type payload struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	Client      string `json:"client"`
	Tier        string `json:"tier"`
	Policy      string `json:"policy"`
	Threshold   int    `json:"threshold"`
	Used        int64  `json:"used"`
	Limit       int64  `json:"limit"`
	WindowStart string `json:"window_start"`
	WindowEnd   string `json:"window_end"`
	CreatedAt   string `json:"created_at"`
}

// body returns the event's JSON, times in RFC 3339 UTC.
func (e Event) body() ([]byte, error) {
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	return json.Marshal(payload{
		ID: e.ID(), Type: EventType, Client: e.Client, Tier: e.Tier, Policy: e.Policy,
		Threshold: e.Threshold, Used: e.Used, Limit: e.Limit,
		WindowStart: ts(e.WindowStart), WindowEnd: ts(e.WindowEnd), CreatedAt: ts(e.CreatedAt),
	})
}

func (e Event) validate() error {
	switch {
	case e.Client == "":
		return fmt.Errorf("webhooks: event without a client")
	case e.Threshold != 80 && e.Threshold != 100:
		return fmt.Errorf("webhooks: event for %q: threshold %d is neither 80 nor 100", e.Client, e.Threshold)
	case e.WindowStart.IsZero() || !e.WindowEnd.After(e.WindowStart):
		return fmt.Errorf("webhooks: event for %q: window %v to %v is empty", e.Client, e.WindowStart, e.WindowEnd)
	}
	return nil
}

// Execer runs a statement: a pgx.Tx, *pgxpool.Pool or *pgx.Conn.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Enqueue puts evs in the outbox, each due at once, and returns how many
// were new. An event already there (the same client, window start and
// threshold, from this call, an earlier one or a concurrent transaction) is
// left as it is, so calling Enqueue inside the transaction that records the
// usage makes each event exist exactly once. Nothing is inserted if any
// event is invalid.
func Enqueue(ctx context.Context, db Execer, evs []Event) (inserted int, err error) {
	if len(evs) == 0 {
		return 0, nil
	}
	now := time.Now()
	n := len(evs)
	ids, clients, bodies := make([]string, n), make([]string, n), make([]string, n)
	starts, created := make([]time.Time, n), make([]time.Time, n)
	thresholds := make([]int16, n)
	for i, e := range evs {
		if err := e.validate(); err != nil {
			return 0, err
		}
		if e.CreatedAt.IsZero() {
			e.CreatedAt = now
		}
		b, err := e.body()
		if err != nil {
			return 0, fmt.Errorf("webhooks: event for %q: %w", e.Client, err)
		}
		ids[i], clients[i], bodies[i] = e.ID(), e.Client, string(b)
		starts[i], created[i], thresholds[i] = e.WindowStart, e.CreatedAt, int16(e.Threshold)
	}
	tag, err := db.Exec(ctx, `
		INSERT INTO webhook_events (id, client_id, window_start, threshold, body, created_at, next_attempt_at)
		SELECT id, client_id, window_start, threshold, body, created_at, created_at
		FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::smallint[], $5::text[], $6::timestamptz[])
			AS e (id, client_id, window_start, threshold, body, created_at)
		ON CONFLICT DO NOTHING`,
		ids, clients, starts, thresholds, bodies, created)
	if err != nil {
		return 0, fmt.Errorf("webhooks: enqueue %d events: %w", n, err)
	}
	return int(tag.RowsAffected()), nil
}
