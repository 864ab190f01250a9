package usage

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Bounds of what Record accepts, as the table's CHECK constraints have them.
const (
	// MaxClientIDLen is the longest client ID in bytes, as in tiers.
	MaxClientIDLen = 255
	// MaxEpochLen is the longest epoch in bytes.
	MaxEpochLen = 128
	// MaxDays is the longest range, in days, the usage API reads at once,
	// and the shortest time usage is kept.
	MaxDays = 400
)

// Errors returned (wrapped, test with errors.Is).
var (
	// ErrInvalid means Record was given a count it cannot store: an empty
	// or overlong client ID or epoch, a negative count, or a Day that is
	// not a UTC midnight.
	ErrInvalid = errors.New("invalid count")
	// ErrUnavailable means Postgres could not be reached or did not answer
	// in time; the operation may be retried.
	ErrUnavailable = errors.New("database unavailable")
)

// Count is one incarnation's counts of a client on a day: absolute values
// since the epoch began, not increments. Copying Count{Admitted: 7} and
// then Count{Admitted: 9} of the same client, day and epoch leaves 9.
type Count struct {
	// Client is the client ID (a token's sub), 1 … MaxClientIDLen bytes.
	Client string
	// Day is the UTC day counted, as its midnight in UTC.
	Day time.Time
	// Epoch names the incarnation of the Redis counters, 1 … MaxEpochLen
	// bytes; counters that restarted from zero have a new one.
	Epoch string
	// Admitted, Refused and Overage are the requests admitted, refused,
	// and admitted past a soft month window; each ≥ 0.
	Admitted, Refused, Overage int64
}

// Totals are the requests of some period, summed over epochs. A sum beyond
// math.MaxInt64 (more than 9.2·10^18 requests) is capped there.
type Totals struct {
	Admitted int64
	Refused  int64
	Overage  int64
}

// Day is a client's usage on one UTC day.
type Day struct {
	// Date is the day's midnight in UTC.
	Date time.Time
	Totals
}

// Report is a client's usage over a range of days.
type Report struct {
	// Days holds the days of the range with any usage, oldest first; days
	// without requests are left out.
	Days []Day
	// Total sums Days; all zeros when there are none.
	Total Totals
}

// Line is one client's usage in a month, priced with its current tier.
type Line struct {
	// Client is the client ID.
	Client string
	// Tier is the client's tier now (not the month's): its assignment, or
	// free for a client without one. PriceCents, Currency and
	// OveragePriceMicros are that tier's.
	Tier               string
	PriceCents         int64
	Currency           string
	OveragePriceMicros int64
	// Totals are the month's requests.
	Totals
	// OverageChargeMicros is OveragePriceMicros × Overage, in millionths
	// of Currency: 1,500 requests of overage at 200 micros is 300,000
	// (0.30 USD). A product beyond math.MaxInt64 (9.2·10^12 currency
	// units) is capped there rather than wrapped, so a bill is never
	// smaller than the true one by an overflow.
	OverageChargeMicros int64
}

// DB is what Record needs of Postgres: a *pgxpool.Pool, a *pgx.Conn or a
// pgx.Tx, so a caller can record counts in its own transaction together
// with other writes.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// utcDate returns the midnight in UTC of t's UTC date.
func utcDate(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
