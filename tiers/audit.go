package tiers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Audit names who makes a write and in answer to which request; every
// write of a Store records it in the audit log (Store.As).
type Audit struct {
	// Actor is the caller's identity: the admin token's sub, never the
	// token itself.
	Actor string
	// RequestID is the request's X-Request-Id, to find its log lines.
	RequestID string
}

// Actions of the audit log, one per kind of admin write.
const (
	ActionTierCreate       = "tier.create"
	ActionTierReplace      = "tier.replace"
	ActionTierUpdate       = "tier.update"
	ActionTierDelete       = "tier.delete"
	ActionClientAssign     = "client.assign"
	ActionClientUnassign   = "client.unassign"
	ActionClientQuotaReset = "client.quota_reset"
)

// AuditEntry is one row of the audit log. Before and After are the
// written row as JSON, or JSON null where there was no row.
type AuditEntry struct {
	ID        int64
	At        time.Time
	Actor     string
	Action    string
	Target    string
	Before    json.RawMessage
	After     json.RawMessage
	RequestID string
}

// AuditParams selects one page of ListAudit.
type AuditParams struct {
	// After is the Next of the previous page; the page starts after it.
	// Optional. Default: the newest entry.
	After string
	// Limit is the page size, 1 … MaxListLimit. Optional. Default
	// DefaultListLimit.
	Limit int
}

// AuditPage is one page of ListAudit.
type AuditPage struct {
	// Entries are the page's entries, newest first.
	Entries []AuditEntry
	// Next is the After of the following page, or empty if this page ends
	// the log.
	Next string
}

const (
	// NULLIF turns a marshalled nil into SQL NULL, so "no row" is one
	// thing in the table.
	sqlInsertAudit = `
INSERT INTO audit_log (actor, action, target, before, after, request_id)
VALUES ($1, $2, $3, NULLIF($4::jsonb, 'null'::jsonb), NULLIF($5::jsonb, 'null'::jsonb), $6)`

	// Newest first is id descending: ids are handed out in insert order. A
	// write whose transaction commits after a reader passed its id is not
	// on that reader's later pages, but is on any new first page.
	sqlListAudit = `
SELECT id, at, actor, action, target, COALESCE(before, 'null'::jsonb), COALESCE(after, 'null'::jsonb), request_id
FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2`
)

// As returns a view of s whose writes record a in the audit log. The view
// shares s's pool; s itself records an empty actor and request id. A view
// rather than an argument of each write or a context value: the caller
// says once, visibly, on whose behalf it writes, and the write methods
// keep their signatures.
func (s *Store) As(a Audit) *Store {
	v := *s
	v.audit = a
	return &v
}

// errRaced reports that a row appeared between a write's read of the row
// as it was and its upsert, so the before it recorded would be wrong. The
// name lock the writes take rules that out for inserts; a rename made in
// psql does not take it.
var errRaced = errors.New("row created concurrently")

// write runs fn in a transaction and records in the same transaction the
// audit entry of action on target with the before and after fn returns
// (each marshalled as JSON; a nil pointer is "no row"). Nothing is
// recorded if fn fails, and nothing fn did is kept if recording fails. A
// write that raced a concurrent insert (errRaced) is run again.
func (s *Store) write(ctx context.Context, action, target string, fn func(tx pgx.Tx) (before, after any, err error)) error {
	var err error
	for range 3 {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			before, after, err := fn(tx)
			if err != nil {
				return err
			}
			b, err := json.Marshal(before)
			if err != nil {
				return err
			}
			a, err := json.Marshal(after)
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, sqlInsertAudit, s.audit.Actor, action, target, string(b), string(a), s.audit.RequestID)
			return err
		})
		if !errors.Is(err, errRaced) {
			break
		}
	}
	if err != nil {
		resetIfBroken(ctx, s.pool, err)
	}
	return err
}

// ListAudit returns one page of the audit log, newest first; pass its Next
// as After to get the following page.
func (s *Store) ListAudit(ctx context.Context, p AuditParams) (AuditPage, error) {
	var v ValidationError
	after := int64(1<<63 - 1)
	if p.After != "" {
		n, err := strconv.ParseInt(p.After, 10, 64)
		if err != nil || n < 1 {
			v.add("after", "is not a cursor this API returned")
		}
		after = n
	}
	if p.Limit == 0 {
		p.Limit = DefaultListLimit
	}
	if p.Limit < 1 || p.Limit > MaxListLimit {
		v.add("limit", fmt.Sprintf("must be between 1 and %d", MaxListLimit))
	}
	if err := v.orNil(); err != nil {
		return AuditPage{}, err
	}
	// One row more than the page tells whether another page follows.
	list, err := readAgain(ctx, s.pool, func() ([]AuditEntry, error) {
		rows, _ := s.pool.Query(ctx, sqlListAudit, after, p.Limit+1)
		return pgx.CollectRows(rows, func(row pgx.CollectableRow) (AuditEntry, error) {
			var e AuditEntry
			var before, afterJSON []byte
			err := row.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Target, &before, &afterJSON, &e.RequestID)
			e.Before, e.After = before, afterJSON
			return e, err
		})
	})
	if err != nil {
		return AuditPage{}, fmt.Errorf("tiers: list audit: %w", interpretError(err))
	}
	if len(list) > p.Limit {
		list = list[:p.Limit]
		return AuditPage{Entries: list, Next: strconv.FormatInt(list[len(list)-1].ID, 10)}, nil
	}
	return AuditPage{Entries: list}, nil
}

// tierRecord is a tier as the audit log shows it.
type tierRecord struct {
	Name               string         `json:"name"`
	Windows            []windowRecord `json:"windows"`
	Description        string         `json:"description"`
	PriceCents         int64          `json:"price_cents"`
	Currency           string         `json:"currency"`
	OveragePriceMicros int64          `json:"overage_price_micros"`
	Version            int64          `json:"version"`
}

// windowRecord is a window as the audit log shows it: per in seconds, or
// "month", and soft only on a soft month window, as the admin API shows it.
type windowRecord struct {
	Limit int64 `json:"limit"`
	Per   any   `json:"per"`
	Soft  bool  `json:"soft,omitempty"`
}

// clientRecord is an assignment as the audit log shows it.
type clientRecord struct {
	ID        string `json:"id"`
	Tier      string `json:"tier"`
	AnchorDay int    `json:"anchor_day"`
	Version   int64  `json:"version"`
}

// recordTier returns t as the audit log shows it; nil for nil.
func recordTier(t *Tier) *tierRecord {
	if t == nil {
		return nil
	}
	ws := make([]windowRecord, len(t.Windows))
	for i, w := range t.Windows {
		ws[i] = windowRecord{Limit: w.Limit, Per: int64(w.Per / time.Second), Soft: w.Soft}
		if w.Per == Month {
			ws[i].Per = "month"
		}
	}
	return &tierRecord{Name: t.Name, Windows: ws, Description: t.Description, PriceCents: t.PriceCents,
		Currency: t.Currency, OveragePriceMicros: t.OveragePriceMicros, Version: t.Version}
}

// recordClient returns c as the audit log shows it; nil for nil.
func recordClient(c *Client) *clientRecord {
	if c == nil {
		return nil
	}
	return &clientRecord{ID: c.ID, Tier: c.Tier, AnchorDay: c.AnchorDay, Version: c.Version}
}
