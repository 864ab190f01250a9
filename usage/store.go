package usage

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad/tiers"
)

// Sums of bigint are numeric in Postgres and may exceed int64; each is
// capped at math.MaxInt64 before it is read (see Totals). Days and
// clients whose counts are all zero had no requests and are left out.
const (
	sqlDays = `
SELECT day,
    LEAST(sum(admitted), 9223372036854775807)::bigint,
    LEAST(sum(refused), 9223372036854775807)::bigint,
    LEAST(sum(overage), 9223372036854775807)::bigint
FROM usage_days
WHERE client_id = $1 AND day BETWEEN $2 AND $3
GROUP BY day
HAVING sum(admitted) + sum(refused) + sum(overage) > 0
ORDER BY day`

	// A client without a row in clients is on $3, the free tier. The
	// charge is multiplied in numeric, where it cannot overflow, then
	// capped.
	sqlMonth = `
WITH m AS (
    SELECT client_id, sum(admitted) AS admitted, sum(refused) AS refused, sum(overage) AS overage
    FROM usage_days
    WHERE day >= $1 AND day < $2
    GROUP BY client_id
    HAVING sum(admitted) + sum(refused) + sum(overage) > 0
)
SELECT m.client_id, t.name, t.price_cents, t.currency, t.overage_price_micros,
    LEAST(m.admitted, 9223372036854775807)::bigint,
    LEAST(m.refused, 9223372036854775807)::bigint,
    LEAST(m.overage, 9223372036854775807)::bigint,
    LEAST(m.overage * t.overage_price_micros, 9223372036854775807)::bigint
FROM m
LEFT JOIN clients c ON c.id = m.client_id
JOIN tiers t ON t.name = COALESCE(c.tier, $3)
ORDER BY m.client_id`

	sqlPrune = `DELETE FROM usage_days WHERE day < $1`
)

// Store reads usage for the API and prunes it.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a Store over pool, a database migrated with
// tiers.Migrate.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Days returns client's usage on the UTC dates from … to, both included
// (only the dates of from and to count, taken in UTC). A client without
// usage there, or a range with from after to, gives an empty Report whose
// Total is zeros. The range is not bounded here; the API keeps it within
// MaxDays.
func (s *Store) Days(ctx context.Context, client string, from, to time.Time) (Report, error) {
	rows, err := s.pool.Query(ctx, sqlDays, client, utcDate(from), utcDate(to))
	if err != nil {
		return Report{}, fmt.Errorf("usage: days of %q: %w", client, interpretError(err))
	}
	days, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Day, error) {
		var d Day
		err := row.Scan(&d.Date, &d.Admitted, &d.Refused, &d.Overage)
		d.Date = utcDate(d.Date)
		return d, err
	})
	if err != nil {
		return Report{}, fmt.Errorf("usage: days of %q: %w", client, interpretError(err))
	}
	r := Report{Days: days}
	for _, d := range days {
		r.Total.add(d.Totals)
	}
	return r, nil
}

// Month returns every client with usage in the UTC calendar month of
// month, sorted by client ID (bytewise), priced with its current tier.
func (s *Store) Month(ctx context.Context, month time.Time) ([]Line, error) {
	y, m, _ := month.UTC().Date()
	start := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	rows, err := s.pool.Query(ctx, sqlMonth, start, start.AddDate(0, 1, 0), tiers.Free)
	if err != nil {
		return nil, fmt.Errorf("usage: month %s: %w", start.Format("2006-01"), interpretError(err))
	}
	lines, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Line, error) {
		var l Line
		err := row.Scan(&l.Client, &l.Tier, &l.PriceCents, &l.Currency, &l.OveragePriceMicros,
			&l.Admitted, &l.Refused, &l.Overage, &l.OverageChargeMicros)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("usage: month %s: %w", start.Format("2006-01"), interpretError(err))
	}
	return lines, nil
}

// Prune deletes the usage of the UTC days before before's UTC date and
// returns how many rows went. The flusher calls it with now − 800 days;
// see the package documentation for the retention this gives.
func (s *Store) Prune(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, sqlPrune, utcDate(before))
	if err != nil {
		return 0, fmt.Errorf("usage: prune before %s: %w", utcDate(before).Format(time.DateOnly), interpretError(err))
	}
	return tag.RowsAffected(), nil
}

// add adds o to t, each sum capped at math.MaxInt64.
func (t *Totals) add(o Totals) {
	t.Admitted = addCapped(t.Admitted, o.Admitted)
	t.Refused = addCapped(t.Refused, o.Refused)
	t.Overage = addCapped(t.Overage, o.Overage)
}

// addCapped returns a + b for a, b ≥ 0, or math.MaxInt64 if that is more.
func addCapped(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
