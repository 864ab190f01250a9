package operations

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad/internal/testdb"
	"github.com/quotad/quotad/tiers"
)

func TestStore_RoundTrips(t *testing.T) {
	t.Parallel()
	pool := testdb.Pool(t)
	ctx := context.Background()
	s := NewStore(pool).As(tiers.Audit{Actor: "admin-1", RequestID: "req-1"})

	search := Rule{Name: "search", Method: "GET", Path: "/v1/search/*", Cost: 5}
	created, err := s.Create(ctx, search)
	if err != nil {
		t.Fatal(err)
	}
	if created.Version <= 0 || created.UpdatedAt.IsZero() || !sameRule(created, search) {
		t.Fatalf("Create = %+v", created)
	}
	if got, err := s.Get(ctx, "search"); err != nil || got != created {
		t.Errorf("Get = %+v, %v; want %+v", got, err, created)
	}
	if _, err := s.Create(ctx, search); !errors.Is(err, ErrConflict) {
		t.Errorf("Create again: %v, want ErrConflict", err)
	}
	if _, err := s.Create(ctx, Rule{Name: "other", Method: "GET", Path: "/v1/search/*", Cost: 1}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("Create of the same pattern: %v, want ErrDuplicate", err)
	}

	replaced, isNew, err := s.Put(ctx, Rule{Name: "search", Method: "*", Path: "/v1/search", Cost: 0})
	if err != nil || isNew || replaced.Version <= created.Version || replaced.Cost != 0 || replaced.Method != "*" {
		t.Fatalf("Put (replace) = %+v, %v, %v", replaced, isNew, err)
	}
	added, isNew, err := s.Put(ctx, Rule{Name: "export", Method: "POST", Path: "/v1/export/*", Cost: 100})
	if err != nil || !isNew {
		t.Fatalf("Put (create) = %+v, %v, %v", added, isNew, err)
	}
	if _, _, err := s.Put(ctx, Rule{Name: "export", Method: "*", Path: "/v1/search", Cost: 1}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("Put onto search's pattern: %v, want ErrDuplicate", err)
	}
	list, err := s.List(ctx)
	if err != nil || !slices.Equal(names(list), []string{"export", "search"}) {
		t.Errorf("List = %+v, %v", list, err)
	}

	deleted, err := s.Delete(ctx, "search")
	if err != nil || deleted != replaced {
		t.Errorf("Delete = %+v, %v; want %+v", deleted, err, replaced)
	}
	if _, err := s.Get(ctx, "search"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if _, err := s.Delete(ctx, "search"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete again: %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, "Bad Name"); fieldsOf(t, err) == nil {
		t.Errorf("Get of a bad name: %v, want a ValidationError", err)
	}

	// Every successful write has its audit row, the failed ones none.
	type entry struct {
		Action, Target, Actor, RequestID string
		Before, After                    *record
	}
	rows, err := pool.Query(ctx, `SELECT action, target, actor, request_id, before, after FROM audit_log ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []entry
	for rows.Next() {
		var e entry
		var before, after []byte
		if err := rows.Scan(&e.Action, &e.Target, &e.Actor, &e.RequestID, &before, &after); err != nil {
			t.Fatal(err)
		}
		e.Before, e.After = decodeRecord(t, before), decodeRecord(t, after)
		got = append(got, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []entry{
		{ActionPut, "search", "admin-1", "req-1", nil, recordOf(&created)},
		{ActionPut, "search", "admin-1", "req-1", recordOf(&created), recordOf(&replaced)},
		{ActionPut, "export", "admin-1", "req-1", nil, recordOf(&added)},
		{ActionDelete, "search", "admin-1", "req-1", recordOf(&replaced), nil},
	}
	if len(got) != len(want) {
		t.Fatalf("audit rows = %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Action != w.Action || g.Target != w.Target || g.Actor != w.Actor || g.RequestID != w.RequestID ||
			!equalRecord(g.Before, w.Before) || !equalRecord(g.After, w.After) {
			t.Errorf("audit row %d = %+v, want %+v", i, g, w)
		}
	}
}

// Rows written past Validate (psql) meet the same bounds, reported as the
// same fields.
func TestStore_ConstraintsNameFields(t *testing.T) {
	t.Parallel()
	pool := testdb.Pool(t)
	ctx := context.Background()
	for _, tc := range []struct {
		method, path string
		cost         int64
		field        string
	}{
		{"get", "/a", 1, "method"},
		{"GET", "/a?b", 1, "path"},
		{"GET", "/a*", 1, "path"},
		{"GET", "/a/*/b", 1, "path"},
		{"GET", "/a", -1, "cost"},
		{"GET", "/a", MaxCost + 1, "cost"},
	} {
		_, err := pool.Exec(ctx, `INSERT INTO operations (name, method, path, cost) VALUES ('x', $1, $2, $3)`, tc.method, tc.path, tc.cost)
		if got := fieldsOf(t, interpretError(err)); !slices.Equal(got, []string{tc.field}) {
			t.Errorf("insert %s %s %d: fields %v (%v), want [%s]", tc.method, tc.path, tc.cost, got, err, tc.field)
		}
	}
	_, err := pool.Exec(ctx, `INSERT INTO operations (name, method, path, cost) VALUES ('Bad', 'GET', '/a', 1)`)
	if got := fieldsOf(t, interpretError(err)); !slices.Equal(got, []string{"name"}) {
		t.Errorf("bad name: fields %v (%v)", got, err)
	}
	// And what Validate accepts, the database does.
	for _, p := range []string{"/", "/*", "/v1/a-b_c.d~e/*", `/!"$%&'()+,-.:;<=>@[\]^_{|}~`} {
		if _, err := NewStore(pool).Create(ctx, Rule{Name: "ok", Method: "*", Path: p, Cost: 1}); err != nil {
			t.Errorf("Create with path %q: %v", p, err)
		}
		if _, err := NewStore(pool).Delete(ctx, "ok"); err != nil {
			t.Fatal(err)
		}
	}
}

func names(rs []Rule) []string {
	var ns []string
	for _, r := range rs {
		ns = append(ns, r.Name)
	}
	return ns
}

func sameRule(a, b Rule) bool {
	return a.Name == b.Name && a.Method == b.Method && a.Path == b.Path && a.Cost == b.Cost
}

func decodeRecord(tb testing.TB, b []byte) *record {
	tb.Helper()
	if b == nil {
		return nil
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		tb.Fatal(err)
	}
	return &r
}

func equalRecord(a, b *record) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// newPool returns a second pool on pool's database, as another instance
// would have.
func newPool(tb testing.TB, pool *pgxpool.Pool) *pgxpool.Pool {
	tb.Helper()
	p, err := pgxpool.NewWithConfig(context.Background(), pool.Config())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Close)
	return p
}
