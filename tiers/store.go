package tiers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store reads and writes tiers and client assignments in Postgres. Every
// method validates its input before touching the database and returns this
// package's errors (ErrNotFound, *ValidationError, …), wrapped with the
// operation. Each write is one transaction that also records it in the
// audit log (see As), so a failed write changes nothing and leaves no
// entry. The request path should read through a Cache instead.
type Store struct {
	pool  *pgxpool.Pool
	audit Audit
	idem  chan struct{} // see LockIdempotencyKey; shared by copies
}

// NewStore returns a Store over pool. The pool is the caller's to close.
func NewStore(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, idem: newIdempotencySlots(pool)}
}

// tierColumns is the select list scanTier expects, in its order.
// The windows are the arrays limits and pers (0 is Month), and soft_month
// is the Soft of the month window; the Part 1 columns "limit" and
// per_seconds are kept equal to the first window by the database
// (migration 00006) and not read here.
const tierColumns = `name, limits, pers, soft_month, description, price_cents, currency, overage_price_micros, version`

const (
	sqlListTiers = `SELECT ` + tierColumns + ` FROM tiers ORDER BY price_cents, name`

	sqlGetTier = `SELECT ` + tierColumns + ` FROM tiers WHERE name = $1`

	// A write reads the row it changes with this, for the audit log's
	// before, and holds it until the write commits.
	sqlGetTierForUpdate = sqlGetTier + ` FOR UPDATE`

	// The insert trigger of migration 00004 takes this lock and then the
	// row's; a write that locked the row first and then inserted would
	// deadlock with a concurrent insert, so the lock comes first here too.
	// Holding it, no insert of the name can slip in after the before read.
	sqlLockTierName = `SELECT pg_advisory_xact_lock(hashtext('tiers'), hashtext($1))`

	sqlCreateTier = `
INSERT INTO tiers (name, limits, pers, description, price_cents, currency, soft_month, overage_price_micros)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING ` + tierColumns

	sqlUpdateTier = `
UPDATE tiers
SET limits = $2, pers = $3, description = $4, price_cents = $5, currency = $6,
    soft_month = $7, overage_price_micros = $8
WHERE name = $1
RETURNING ` + tierColumns

	// xmax is 0 only on a row version this statement inserted, so the last
	// column says whether the tier was created rather than replaced.
	sqlPutTier = `
INSERT INTO tiers (name, limits, pers, description, price_cents, currency, soft_month, overage_price_micros)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (name) DO UPDATE
SET limits = EXCLUDED.limits, pers = EXCLUDED.pers, description = EXCLUDED.description,
    price_cents = EXCLUDED.price_cents, currency = EXCLUDED.currency,
    soft_month = EXCLUDED.soft_month, overage_price_micros = EXCLUDED.overage_price_micros
RETURNING ` + tierColumns + `, xmax = 0`

	sqlDeleteTier = `DELETE FROM tiers WHERE name = $1 RETURNING ` + tierColumns
)

// ListTiers returns every tier, cheapest first, then by name: the order of
// a pricing page.
func (s *Store) ListTiers(ctx context.Context) ([]Tier, error) {
	list, err := readAgain(ctx, s.pool, func() ([]Tier, error) {
		rows, _ := s.pool.Query(ctx, sqlListTiers)
		return pgx.CollectRows(rows, scanTier)
	})
	if err != nil {
		return nil, fmt.Errorf("tiers: list tiers: %w", interpretError(err))
	}
	return list, nil
}

// GetTier returns the tier called name, or ErrNotFound.
func (s *Store) GetTier(ctx context.Context, name string) (Tier, error) {
	if err := validName("name", name); err != nil {
		return Tier{}, err
	}
	t, err := readAgain(ctx, s.pool, func() (Tier, error) {
		return collectTier(s.pool.Query(ctx, sqlGetTier, name))
	})
	if err != nil {
		return Tier{}, fmt.Errorf("tiers: get %q: %w", name, interpretError(err))
	}
	return t, nil
}

// CreateTier stores a new tier and returns it as stored (Currency filled
// in). It returns ErrConflict if the name is taken.
func (s *Store) CreateTier(ctx context.Context, t Tier) (Tier, error) {
	t = t.normalized()
	if err := t.Validate(); err != nil {
		return Tier{}, err
	}
	var created Tier
	err := s.write(ctx, ActionTierCreate, t.Name, func(tx pgx.Tx) (before, after any, err error) {
		created, err = collectTier(tx.Query(ctx, sqlCreateTier, tierArgs(t)...))
		return nil, recordTier(&created), err
	})
	if err != nil {
		return Tier{}, fmt.Errorf("tiers: create %q: %w", t.Name, interpretError(err))
	}
	return created, nil
}

// UpdateTier replaces every field of the tier named t.Name (a field left
// zero is set to zero, or to its default) and returns it as stored. It
// returns ErrNotFound if there is no such tier. The built-in tiers may be
// updated like any other.
func (s *Store) UpdateTier(ctx context.Context, t Tier) (Tier, error) {
	t = t.normalized()
	if err := t.Validate(); err != nil {
		return Tier{}, err
	}
	var updated Tier
	err := s.write(ctx, ActionTierReplace, t.Name, func(tx pgx.Tx) (before, after any, err error) {
		old, err := tierForUpdate(ctx, tx, t.Name)
		if err == nil && old == nil {
			err = pgx.ErrNoRows
		}
		if err != nil {
			return nil, nil, err
		}
		updated, err = collectTier(tx.Query(ctx, sqlUpdateTier, tierArgs(t)...))
		return recordTier(old), recordTier(&updated), err
	})
	if err != nil {
		return Tier{}, fmt.Errorf("tiers: update %q: %w", t.Name, interpretError(err))
	}
	return updated, nil
}

// PutTier stores t under t.Name, creating the tier or replacing every field
// of the existing one as UpdateTier does, and returns it as stored and
// whether it was created.
func (s *Store) PutTier(ctx context.Context, t Tier) (Tier, bool, error) {
	t = t.normalized()
	if err := t.Validate(); err != nil {
		return Tier{}, false, err
	}
	var created bool
	var stored Tier
	err := s.write(ctx, ActionTierReplace, t.Name, func(tx pgx.Tx) (before, after any, err error) {
		old, err := tierForUpdate(ctx, tx, t.Name)
		if err != nil {
			return nil, nil, err
		}
		rows, err := tx.Query(ctx, sqlPutTier, tierArgs(t)...)
		if err == nil {
			stored, err = pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (Tier, error) {
				return scanTierWith(row, &created)
			})
		}
		if err == nil && old == nil && !created {
			err = errRaced
		}
		return recordTier(old), recordTier(&stored), err
	})
	if err != nil {
		return Tier{}, false, fmt.Errorf("tiers: put %q: %w", t.Name, interpretError(err))
	}
	return stored, created, nil
}

// DeleteTier deletes the tier called name and returns it as it was, its
// Version included (a Cache takes that as the deletion's version). It
// returns ErrProtected for Anonymous and Free, ErrInUse while clients are
// assigned to it, and ErrNotFound if it does not exist. The first two are
// enforced by the database itself, so they hold for psql users as well.
func (s *Store) DeleteTier(ctx context.Context, name string) (Tier, error) {
	if err := validName("name", name); err != nil {
		return Tier{}, err
	}
	var deleted Tier
	err := s.write(ctx, ActionTierDelete, name, func(tx pgx.Tx) (before, after any, err error) {
		deleted, err = collectTier(tx.Query(ctx, sqlDeleteTier, name))
		return recordTier(&deleted), nil, err
	})
	if err != nil {
		return Tier{}, fmt.Errorf("tiers: delete %q: %w", name, interpretError(err))
	}
	return deleted, nil
}

// Ping checks that Postgres answers; it returns ErrUnavailable if not.
func (s *Store) Ping(ctx context.Context) error {
	_, err := readAgain(ctx, s.pool, func() (struct{}, error) { return struct{}{}, s.pool.Ping(ctx) })
	if err != nil {
		return fmt.Errorf("tiers: ping: %w", interpretError(err))
	}
	return nil
}

// tierArgs returns t's fields in the order of sqlCreateTier and
// sqlUpdateTier's parameters.
func tierArgs(t Tier) []any {
	limits, pers := windowArrays(t.Windows)
	return []any{t.Name, limits, pers, t.Description, t.PriceCents, t.Currency, softMonth(t.Windows), t.OveragePriceMicros}
}

// softMonth returns the column soft_month of windows: whether the month
// window is soft. Validate has refused Soft on any other window.
func softMonth(ws []Window) bool {
	return slices.ContainsFunc(ws, func(w Window) bool { return w.Per == Month && w.Soft })
}

// windowArrays returns windows as the columns limits and pers store them;
// nil for nil, which a patch reads as "keep".
func windowArrays(ws []Window) ([]int64, []int32) {
	if ws == nil {
		return nil, nil
	}
	limits, pers := make([]int64, len(ws)), make([]int32, len(ws))
	for i, w := range ws {
		limits[i], pers[i] = w.Limit, perColumn(w.Per)
	}
	return limits, pers
}

// perColumn returns a Per as the column pers stores it: seconds, 0 for
// Month. Validate has bounded it.
func perColumn(d time.Duration) int32 {
	if d == Month {
		return 0
	}
	return int32(d / time.Second)
}

// perOfColumn is the inverse of perColumn.
func perOfColumn(n int32) time.Duration {
	if n == 0 {
		return Month
	}
	return time.Duration(n) * time.Second
}

// scanTier reads one row selected with tierColumns.
func scanTier(row pgx.CollectableRow) (Tier, error) { return scanTierWith(row) }

// scanTierWith reads one row selected with tierColumns, and the columns
// after them into more.
func scanTierWith(row pgx.CollectableRow, more ...any) (Tier, error) {
	var t Tier
	var limits []int64
	var pers []int32
	var soft bool
	err := row.Scan(append([]any{&t.Name, &limits, &pers, &soft, &t.Description, &t.PriceCents, &t.Currency,
		&t.OveragePriceMicros, &t.Version}, more...)...)
	if err == nil && len(limits) != len(pers) {
		err = fmt.Errorf("tier %q has %d limits and %d pers", t.Name, len(limits), len(pers))
	}
	if err != nil {
		return Tier{}, err
	}
	t.Windows = make([]Window, len(limits))
	for i := range limits {
		t.Windows[i] = Window{Limit: limits[i], Per: perOfColumn(pers[i])}
		t.Windows[i].Soft = soft && t.Windows[i].Per == Month
	}
	return t, nil
}

// collectTier reads exactly one tier; no row is pgx.ErrNoRows.
func collectTier(rows pgx.Rows, err error) (Tier, error) {
	if err != nil {
		return Tier{}, err
	}
	return pgx.CollectExactlyOneRow(rows, scanTier)
}

// tierForUpdate reads and locks the tier called name in tx; nil if there
// is none.
func tierForUpdate(ctx context.Context, tx pgx.Tx, name string) (*Tier, error) {
	if _, err := tx.Exec(ctx, sqlLockTierName, name); err != nil {
		return nil, err
	}
	t, err := collectTier(tx.Query(ctx, sqlGetTierForUpdate, name))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &t, nil
}

// validName returns a *ValidationError naming field unless name is a valid
// tier name.
func validName(field, name string) error {
	if msg := nameProblem(name); msg != "" {
		var v ValidationError
		v.add(field, msg)
		return &v
	}
	return nil
}
