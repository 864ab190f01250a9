package operations

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad/tiers"
)

// Audit actions of rule writes, in the audit log tiers.Store keeps.
const (
	ActionPut    = "operation.put"
	ActionDelete = "operation.delete"
)

// Store reads and writes rules in Postgres. Every method validates its
// input first and returns this package's errors, wrapped with the
// operation. Each write is one transaction that also records it in the
// audit log, on behalf of whom As names, so a failed write changes nothing
// and leaves no entry. The request path reads through a Cache instead.
type Store struct {
	pool  *pgxpool.Pool
	audit tiers.Audit
}

// NewStore returns a Store over pool. The pool is the caller's to close.
func NewStore(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

// As returns a view of s whose writes record a in the audit log, as
// tiers.Store.As does.
func (s *Store) As(a tiers.Audit) *Store {
	v := *s
	v.audit = a
	return &v
}

const ruleColumns = `name, method, path, cost, version, updated_at`

const (
	sqlListRules = `SELECT ` + ruleColumns + ` FROM operations ORDER BY name`
	sqlGetRule   = `SELECT ` + ruleColumns + ` FROM operations WHERE name = $1`

	// The insert trigger of migration 00012 takes this lock and then the
	// row's; a write takes it first too, so the two cannot deadlock and no
	// insert of the name slips in after the write read the row.
	sqlLockName = `SELECT pg_advisory_xact_lock(hashtext('operations'), hashtext($1))`

	sqlInsertRule = `INSERT INTO operations (name, method, path, cost) VALUES ($1, $2, $3, $4)
RETURNING ` + ruleColumns
	sqlUpdateRule = `UPDATE operations SET method = $2, path = $3, cost = $4 WHERE name = $1
RETURNING ` + ruleColumns
	sqlDeleteRule = `DELETE FROM operations WHERE name = $1 RETURNING ` + ruleColumns

	// As tiers' audit rows: NULLIF turns a marshalled nil into SQL NULL.
	sqlInsertAudit = `
INSERT INTO audit_log (actor, action, target, before, after, request_id)
VALUES ($1, $2, $3, NULLIF($4::jsonb, 'null'::jsonb), NULLIF($5::jsonb, 'null'::jsonb), $6)`
)

// List returns every rule by name.
func (s *Store) List(ctx context.Context) ([]Rule, error) {
	rows, _ := s.pool.Query(ctx, sqlListRules)
	list, err := pgx.CollectRows(rows, scanRule)
	if err != nil {
		return nil, fmt.Errorf("operations: list: %w", interpretError(err))
	}
	return list, nil
}

// Get returns the rule called name, or ErrNotFound.
func (s *Store) Get(ctx context.Context, name string) (Rule, error) {
	if err := ValidName(name); err != nil {
		return Rule{}, err
	}
	rows, _ := s.pool.Query(ctx, sqlGetRule, name)
	r, err := pgx.CollectExactlyOneRow(rows, scanRule)
	if err != nil {
		return Rule{}, fmt.Errorf("operations: get %q: %w", name, interpretError(err))
	}
	return r, nil
}

// Create stores a new rule and returns it as stored. It returns
// ErrConflict if the name is taken and ErrDuplicate if another rule has
// the same method and path.
func (s *Store) Create(ctx context.Context, r Rule) (Rule, error) {
	stored, _, err := s.put(ctx, r, false)
	if err != nil {
		return Rule{}, fmt.Errorf("operations: create %q: %w", r.Name, err)
	}
	return stored, nil
}

// Put stores r under r.Name, creating the rule or replacing the existing
// one, and returns it as stored and whether it was created. It returns
// ErrDuplicate if another rule has the same method and path.
func (s *Store) Put(ctx context.Context, r Rule) (stored Rule, created bool, err error) {
	stored, created, err = s.put(ctx, r, true)
	if err != nil {
		return Rule{}, false, fmt.Errorf("operations: put %q: %w", r.Name, err)
	}
	return stored, created, nil
}

func (s *Store) put(ctx context.Context, r Rule, replace bool) (stored Rule, created bool, err error) {
	if err := r.Validate(); err != nil {
		return Rule{}, false, err
	}
	err = s.write(ctx, ActionPut, r.Name, func(tx pgx.Tx) (before, after *Rule, err error) {
		if _, err := tx.Exec(ctx, sqlLockName, r.Name); err != nil {
			return nil, nil, err
		}
		old, err := getForUpdate(ctx, tx, r.Name)
		if err != nil {
			return nil, nil, err
		}
		sql := sqlInsertRule
		switch {
		case old != nil && !replace:
			return nil, nil, ErrConflict
		case old != nil:
			sql = sqlUpdateRule
		}
		created = old == nil
		rows, _ := tx.Query(ctx, sql, r.Name, r.Method, r.Path, r.Cost)
		stored, err = pgx.CollectExactlyOneRow(rows, scanRule)
		return old, &stored, err
	})
	if err != nil {
		return Rule{}, false, interpretError(err)
	}
	return stored, created, nil
}

// Delete deletes the rule called name and returns it as it was, or
// ErrNotFound.
func (s *Store) Delete(ctx context.Context, name string) (Rule, error) {
	if err := ValidName(name); err != nil {
		return Rule{}, err
	}
	var deleted Rule
	err := s.write(ctx, ActionDelete, name, func(tx pgx.Tx) (before, after *Rule, err error) {
		rows, _ := tx.Query(ctx, sqlDeleteRule, name)
		deleted, err = pgx.CollectExactlyOneRow(rows, scanRule)
		return &deleted, nil, err
	})
	if err != nil {
		return Rule{}, fmt.Errorf("operations: delete %q: %w", name, interpretError(err))
	}
	return deleted, nil
}

func getForUpdate(ctx context.Context, tx pgx.Tx, name string) (*Rule, error) {
	rows, _ := tx.Query(ctx, sqlGetRule+` FOR UPDATE`, name)
	r, err := pgx.CollectExactlyOneRow(rows, scanRule)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &r, nil
}

// scanRule reads one row of ruleColumns.
func scanRule(row pgx.CollectableRow) (Rule, error) {
	var r Rule
	err := row.Scan(&r.Name, &r.Method, &r.Path, &r.Cost, &r.Version, &r.UpdatedAt)
	return r, err
}
