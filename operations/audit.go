package operations

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"
)

// record is a rule as the audit log shows it.
type record struct {
	Name    string `json:"name"`
	Method  string `json:"method"`
	Path    string `json:"path"`
	Cost    int64  `json:"cost"`
	Version int64  `json:"version"`
}

// recordOf returns r as the audit log shows it; nil (JSON null, "no row")
// for nil.
func recordOf(r *Rule) *record {
	if r == nil {
		return nil
	}
	return &record{Name: r.Name, Method: r.Method, Path: r.Path, Cost: r.Cost, Version: r.Version}
}

// write runs fn in a transaction and records, in the same transaction,
// the audit entry of action on target with the rows fn returns as before
// and after (nil: no row). Nothing is recorded if fn fails, and nothing fn
// did is kept if recording fails.
func (s *Store) write(ctx context.Context, action, target string, fn func(tx pgx.Tx) (before, after *Rule, err error)) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		before, after, err := fn(tx)
		if err != nil {
			return err
		}
		b, err := json.Marshal(recordOf(before))
		if err != nil {
			return err
		}
		a, err := json.Marshal(recordOf(after))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, sqlInsertAudit, s.audit.Actor, action, target, string(b), string(a), s.audit.RequestID)
		return err
	})
}
