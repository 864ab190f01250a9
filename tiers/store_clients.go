package tiers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Page sizes of ListClients.
const (
	// DefaultListLimit is the page size when ListClientsParams.Limit is 0.
	DefaultListLimit = 100
	// MaxListLimit is the largest page ListClients returns.
	MaxListLimit = 1000
	// MaxSearchLen bounds ListClientsParams.Search, in bytes.
	MaxSearchLen = 256
)

// ListClientsParams selects one page of ListClients.
type ListClientsParams struct {
	// Tier restricts the list to one tier's clients. Optional. Default: all.
	Tier string
	// Search restricts the list to clients whose ID contains it, ignoring
	// case: "CME" finds "acme-1". Every character is literal ("%" finds
	// only IDs with a "%"). At most MaxSearchLen bytes of UTF-8 without
	// control characters. Optional. Default: all.
	Search string
	// After is the last ID of the previous page; the page starts after it.
	// Optional. Default: the first page.
	After string
	// Limit is the page size, 1 … MaxListLimit. Optional. Default
	// DefaultListLimit.
	Limit int
}

// ClientPage is one page of ListClients.
type ClientPage struct {
	// Clients are the page's clients, ordered by ID.
	Clients []Client
	// Next is the After of the following page, or empty if no client
	// follows this page: a page of exactly Limit clients that ends the list
	// has no Next, so a caller never asks for an empty page.
	Next string
}

const (
	sqlGetClient = `SELECT tier, anchor_day, version FROM clients WHERE id = $1`

	sqlGetClientForUpdate = sqlGetClient + ` FOR UPDATE`

	// See sqlLockTierName: the insert trigger's lock, taken first.
	sqlLockClientID = `SELECT pg_advisory_xact_lock(hashtext('clients'), hashtext($1))`

	// On an existing row the update always runs, even to the same tier, so
	// the notification fires and every instance drops what it knew about
	// the client: a PUT is also a way to say "re-read this client".
	sqlAssignClient = `
INSERT INTO clients (id, tier, anchor_day) VALUES ($1, $2, $3)
ON CONFLICT (id) DO UPDATE SET tier = EXCLUDED.tier, anchor_day = EXCLUDED.anchor_day
RETURNING tier, anchor_day, version, xmax = 0`

	sqlUnassignClient = `DELETE FROM clients WHERE id = $1 RETURNING tier, anchor_day, version`

	// Keyset pagination: ids are COLLATE "C", so "id > $after" is stable
	// under concurrent inserts and costs one index range scan per page.
	// listClientsSQL adds the filters between the two halves.
	sqlListClientsFrom  = `SELECT id, tier, anchor_day, version FROM clients WHERE id > $1`
	sqlListClientsOrder = ` ORDER BY id LIMIT $2`
	sqlListOfTier       = ` AND tier = $%d`
	// strpos, not LIKE, so "%" and "_" in a search are plain characters.
	// lower() under the C collation of ids would fold ASCII only; the
	// database's default collation folds what its locale knows.
	sqlListSearch = ` AND strpos(lower(id COLLATE "default"), lower($%d)) > 0`

	sqlNotify = `SELECT pg_notify($1, $2)`
)

// GetClient returns the client's tier and anchor day. A client never
// assigned is not an error: it reads as {ID: id, Tier: Free, Assigned:
// false, AnchorDay: 1}.
func (s *Store) GetClient(ctx context.Context, id string) (Client, error) {
	if err := ValidClientID(id); err != nil {
		return Client{}, err
	}
	cl, err := readAgain(ctx, s.pool, func() (Client, error) {
		cl := Client{ID: id, Assigned: true}
		err := s.pool.QueryRow(ctx, sqlGetClient, id).Scan(&cl.Tier, &cl.AnchorDay, &cl.Version)
		return cl, err
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return unassigned(id), nil
	case err != nil:
		return Client{}, fmt.Errorf("tiers: get client %q: %w", id, interpretError(err))
	}
	return cl, nil
}

// AssignClient puts the client on tier with its month windows starting on
// anchorDay (1 … 28; 0 means 1), whether or not it was assigned before: both
// are replaced. It returns ErrUnknownTier if the tier does not exist.
func (s *Store) AssignClient(ctx context.Context, id, tier string, anchorDay int) (Client, error) {
	var v ValidationError
	if msg := clientIDProblem(id); msg != "" {
		v.add("id", msg)
	}
	if msg := nameProblem(tier); msg != "" {
		v.add("tier", msg)
	}
	if msg := anchorDayProblem(anchorDay); msg != "" {
		v.add("anchor_day", msg)
	}
	if err := v.orNil(); err != nil {
		return Client{}, err
	}
	cl := Client{ID: id, Assigned: true}
	err := s.write(ctx, ActionClientAssign, id, func(tx pgx.Tx) (before, after any, err error) {
		if _, err := tx.Exec(ctx, sqlLockClientID, id); err != nil {
			return nil, nil, err
		}
		var old *Client
		prev := Client{ID: id, Assigned: true}
		switch err := tx.QueryRow(ctx, sqlGetClientForUpdate, id).Scan(&prev.Tier, &prev.AnchorDay, &prev.Version); {
		case err == nil:
			old = &prev
		case !errors.Is(err, pgx.ErrNoRows):
			return nil, nil, err
		}
		var created bool
		err = tx.QueryRow(ctx, sqlAssignClient, id, tier, int16(anchorDayOrDefault(anchorDay))).Scan(&cl.Tier, &cl.AnchorDay, &cl.Version, &created)
		if err == nil && old == nil && !created {
			err = errRaced
		}
		return recordClient(old), recordClient(&cl), err
	})
	if err != nil {
		return Client{}, fmt.Errorf("tiers: assign client %q to %q: %w", id, tier, interpretError(err))
	}
	return cl, nil
}

// UnassignClient returns the client to Free. It returns the assignment it
// removed, Version included (a Cache takes that as the removal's
// version), or one with Assigned false if there was none: unassigning a
// client that has no assignment succeeds, so retries are safe.
func (s *Store) UnassignClient(ctx context.Context, id string) (Client, error) {
	if err := ValidClientID(id); err != nil {
		return Client{}, err
	}
	cl := Client{ID: id, Assigned: true}
	err := s.write(ctx, ActionClientUnassign, id, func(tx pgx.Tx) (before, after any, err error) {
		err = tx.QueryRow(ctx, sqlUnassignClient, id).Scan(&cl.Tier, &cl.AnchorDay, &cl.Version)
		if errors.Is(err, pgx.ErrNoRows) {
			// Nothing to remove: still a successful write, recorded as such.
			cl = unassigned(id)
			return nil, nil, nil
		}
		return recordClient(&cl), nil, err
	})
	if err != nil {
		return Client{}, fmt.Errorf("tiers: unassign client %q: %w", id, interpretError(err))
	}
	return cl, nil
}

// ListClients returns one page of assigned clients ordered by ID
// (bytewise); pass its Next as After to get the following page. Clients
// never assigned are not listed.
func (s *Store) ListClients(ctx context.Context, p ListClientsParams) (ClientPage, error) {
	var v ValidationError
	if p.Tier != "" {
		if msg := nameProblem(p.Tier); msg != "" {
			v.add("tier", msg)
		}
	}
	if p.After != "" {
		if msg := clientIDProblem(p.After); msg != "" {
			v.add("after", msg)
		}
	}
	if msg := searchProblem(p.Search); msg != "" {
		v.add("q", msg)
	}
	if p.Limit == 0 {
		p.Limit = DefaultListLimit
	}
	if p.Limit < 1 || p.Limit > MaxListLimit {
		v.add("limit", fmt.Sprintf("must be between 1 and %d", MaxListLimit))
	}
	if err := v.orNil(); err != nil {
		return ClientPage{}, err
	}

	// One row more than the page tells whether another page follows.
	sql, args := listClientsSQL(p)
	list, err := readAgain(ctx, s.pool, func() ([]Client, error) {
		rows, _ := s.pool.Query(ctx, sql, args...)
		return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Client, error) {
			c := Client{Assigned: true}
			err := row.Scan(&c.ID, &c.Tier, &c.AnchorDay, &c.Version)
			return c, err
		})
	})
	if err != nil {
		return ClientPage{}, fmt.Errorf("tiers: list clients: %w", interpretError(err))
	}
	if len(list) > p.Limit {
		list = list[:p.Limit]
		return ClientPage{Clients: list, Next: list[len(list)-1].ID}, nil
	}
	return ClientPage{Clients: list}, nil
}

// listClientsSQL returns the query of one page of p (Limit+1 rows) and its
// arguments: a filter only for what p sets, so each combination gets a
// plan of its own rather than one plan for "maybe a tier, maybe a search".
func listClientsSQL(p ListClientsParams) (string, []any) {
	sql, args := sqlListClientsFrom, []any{p.After, p.Limit + 1}
	if p.Tier != "" {
		args = append(args, p.Tier)
		sql += fmt.Sprintf(sqlListOfTier, len(args))
	}
	if p.Search != "" {
		args = append(args, p.Search)
		sql += fmt.Sprintf(sqlListSearch, len(args))
	}
	return sql + sqlListClientsOrder, args
}

// searchProblem says what is wrong with a ListClientsParams.Search, or ""
// if nothing is.
func searchProblem(q string) string {
	if len(q) > MaxSearchLen {
		return fmt.Sprintf("must be at most %d bytes long", MaxSearchLen)
	}
	return lineProblem(q)
}

// NotifyReset tells every instance's Cache that the client's quota was
// reset, so each drops what it knows locally about the client being over
// its limit (the Cache passes a Change of Kind ChangeReset to OnChange).
// Resetting the counter itself is the limiter's business, not this one's;
// call NotifyReset once it is done, since it records the reset in the
// audit log (before and after null: the counters live in the limiter).
func (s *Store) NotifyReset(ctx context.Context, clientID string) error {
	if err := ValidClientID(clientID); err != nil {
		return err
	}
	payload, err := json.Marshal(notification{Kind: ChangeReset, ID: clientID})
	if err != nil {
		return fmt.Errorf("tiers: notify reset %q: %w", clientID, err)
	}
	err = s.write(ctx, ActionClientQuotaReset, clientID, func(tx pgx.Tx) (before, after any, err error) {
		_, err = tx.Exec(ctx, sqlNotify, channel, string(payload))
		return nil, nil, err
	})
	if err != nil {
		return fmt.Errorf("tiers: notify reset %q: %w", clientID, interpretError(err))
	}
	return nil
}

// unassigned returns the client id as it reads without an assignment.
func unassigned(id string) Client {
	return Client{ID: id, Tier: Free, AnchorDay: MinAnchorDay}
}
