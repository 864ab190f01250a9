package usage

import (
	"context"
	"fmt"
	"time"
)

// sqlRecord upserts a batch given as six parallel arrays. Counts of one
// key given twice in the batch are merged first (ON CONFLICT may touch a
// row once per statement), and rows are written in key order so that two
// batches over the same keys lock them in the same order and never
// deadlock. GREATEST keeps each column's largest value, and the WHERE
// leaves a row whose counts would not grow untouched, updated_at
// included: the same or an older snapshot changes nothing.
const sqlRecord = `
INSERT INTO usage_days AS u (client_id, day, epoch, admitted, refused, overage)
SELECT client_id, day, epoch, max(admitted), max(refused), max(overage)
FROM unnest($1::text[], $2::date[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[])
    AS t(client_id, day, epoch, admitted, refused, overage)
GROUP BY client_id, day, epoch
ORDER BY client_id, day, epoch
ON CONFLICT (client_id, day, epoch) DO UPDATE SET
    admitted = GREATEST(u.admitted, EXCLUDED.admitted),
    refused = GREATEST(u.refused, EXCLUDED.refused),
    overage = GREATEST(u.overage, EXCLUDED.overage),
    updated_at = now()
WHERE EXCLUDED.admitted > u.admitted OR EXCLUDED.refused > u.refused OR EXCLUDED.overage > u.overage`

// Record stores counts in one statement on db (a pool, or the caller's
// transaction). Each count is an absolute snapshot of its client, day and
// epoch; the stored row keeps, per column, the greatest value ever
// recorded, so recording a snapshot again or an older one after it is a
// no-op, and concurrent Records of overlapping batches agree. A count
// that fails validation fails the whole batch with ErrInvalid, before
// anything is written.
func Record(ctx context.Context, db DB, counts []Count) error {
	if len(counts) == 0 {
		return nil
	}
	n := len(counts)
	clients, days, epochs := make([]string, n), make([]time.Time, n), make([]string, n)
	admitted, refused, overage := make([]int64, n), make([]int64, n), make([]int64, n)
	for i, c := range counts {
		if err := c.validate(); err != nil {
			return fmt.Errorf("usage: record: count %d: %w", i, err)
		}
		// In UTC: pgx writes a date from the time's own calendar day.
		clients[i], days[i], epochs[i] = c.Client, c.Day.UTC(), c.Epoch
		admitted[i], refused[i], overage[i] = c.Admitted, c.Refused, c.Overage
	}
	if _, err := db.Exec(ctx, sqlRecord, clients, days, epochs, admitted, refused, overage); err != nil {
		return fmt.Errorf("usage: record %d counts: %w", n, interpretError(err))
	}
	return nil
}

// validate checks c against the table's constraints, so a bad count is
// refused with a clear error rather than a failed statement.
func (c Count) validate() error {
	switch {
	case len(c.Client) < 1 || len(c.Client) > MaxClientIDLen:
		return fmt.Errorf("%w: client ID must be 1-%d bytes", ErrInvalid, MaxClientIDLen)
	case len(c.Epoch) < 1 || len(c.Epoch) > MaxEpochLen:
		return fmt.Errorf("%w: epoch must be 1-%d bytes", ErrInvalid, MaxEpochLen)
	case c.Admitted < 0 || c.Refused < 0 || c.Overage < 0:
		return fmt.Errorf("%w: counts must not be negative", ErrInvalid)
	case !c.Day.Equal(utcDate(c.Day)):
		return fmt.Errorf("%w: day %s is not a UTC midnight", ErrInvalid, c.Day)
	}
	return nil
}
