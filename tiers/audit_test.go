package tiers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

// auditRows returns every audit row, oldest first, read with raw SQL.
func auditRows(tb testing.TB, dbURL string) []AuditEntry {
	tb.Helper()
	conn := connect(tb, dbURL)
	rows, err := conn.Query(context.Background(), `SELECT id, at, actor, action, target,
		COALESCE(before::text, 'null'), COALESCE(after::text, 'null'), request_id FROM audit_log ORDER BY id`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var before, after string
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Target, &before, &after, &e.RequestID); err != nil {
			tb.Fatal(err)
		}
		e.Before, e.After = json.RawMessage(before), json.RawMessage(after)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// jsonEqual reports whether a and b are the same JSON value.
func jsonEqual(tb testing.TB, a json.RawMessage, b string) bool {
	tb.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		tb.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		tb.Fatalf("%s: %v", b, err)
	}
	xs, _ := json.Marshal(x)
	ys, _ := json.Marshal(y)
	return string(xs) == string(ys)
}

func TestAudit_EachWriteRecordsOneRow(t *testing.T) {
	t.Parallel()
	base, dbURL := newTestStore(t)
	ctx := context.Background()
	s := base.As(Audit{Actor: "ops@example", RequestID: "req-1"})

	pro := Tier{Name: "pro", Windows: []Window{{Limit: 10, Per: time.Minute}, {Limit: 1000, Per: Month, Soft: true}}, PriceCents: 4900,
		OveragePriceMicros: 1500}
	created, err := s.CreateTier(ctx, pro)
	if err != nil {
		t.Fatal(err)
	}
	replaced, _, err := s.PutTier(ctx, Tier{Name: "pro", Windows: one(20, time.Minute), Description: "Teams."})
	if err != nil {
		t.Fatal(err)
	}
	price := int64(999)
	patched, err := s.PatchTier(ctx, "pro", TierPatch{PriceCents: &price})
	if err != nil {
		t.Fatal(err)
	}
	assigned, err := s.AssignClient(ctx, "c1", "pro", 5)
	if err != nil {
		t.Fatal(err)
	}
	moved, err := s.AssignClient(ctx, "c1", Free, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UnassignClient(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := s.NotifyReset(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteTier(ctx, "pro"); err != nil {
		t.Fatal(err)
	}

	tierJSON := func(t Tier) string {
		b, _ := json.Marshal(recordTier(&t))
		return string(b)
	}
	clientJSON := func(c Client) string {
		b, _ := json.Marshal(recordClient(&c))
		return string(b)
	}
	want := []struct{ action, target, before, after string }{
		{ActionTierCreate, "pro", "null", tierJSON(created)},
		{ActionTierReplace, "pro", tierJSON(created), tierJSON(replaced)},
		{ActionTierUpdate, "pro", tierJSON(replaced), tierJSON(patched)},
		{ActionClientAssign, "c1", "null", clientJSON(assigned)},
		{ActionClientAssign, "c1", clientJSON(assigned), clientJSON(moved)},
		{ActionClientUnassign, "c1", clientJSON(moved), "null"},
		{ActionClientQuotaReset, "c1", "null", "null"},
		{ActionTierDelete, "pro", tierJSON(patched), "null"},
	}
	got := auditRows(t, dbURL)
	if len(got) != len(want) {
		t.Fatalf("%d audit rows, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Actor != "ops@example" || g.RequestID != "req-1" || g.Action != w.action || g.Target != w.target ||
			!jsonEqual(t, g.Before, w.before) || !jsonEqual(t, g.After, w.after) {
			t.Errorf("row %d = %s %s %s by %s (%s): %s → %s; want %s %s: %s → %s", i, g.Action, g.Target, g.At, g.Actor, g.RequestID,
				g.Before, g.After, w.action, w.target, w.before, w.after)
		}
	}
	// The windows are spelled out, a month as "month", soft only where it
	// is true.
	if !jsonEqual(t, got[0].After, `{"name":"pro","windows":[{"limit":10,"per":60},{"limit":1000,"per":"month","soft":true}],
		"description":"","price_cents":4900,"currency":"USD","overage_price_micros":1500,"version":`+strconv.FormatInt(created.Version, 10)+`}`) {
		t.Errorf("create after = %s", got[0].After)
	}
	if !jsonEqual(t, got[1].After, `{"name":"pro","windows":[{"limit":20,"per":60}],
		"description":"Teams.","price_cents":0,"currency":"USD","overage_price_micros":0,"version":`+strconv.FormatInt(replaced.Version, 10)+`}`) {
		t.Errorf("replace after = %s", got[1].After)
	}
}

func TestAudit_FailedWritesRecordNothing(t *testing.T) {
	t.Parallel()
	s, dbURL := newTestStore(t)
	ctx := context.Background()
	if _, err := s.CreateTier(ctx, Tier{Name: "pro", Windows: one(1, time.Second)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AssignClient(ctx, "c1", "pro", 0); err != nil {
		t.Fatal(err)
	}
	before := len(auditRows(t, dbURL))
	price := int64(1)
	fails := map[string]error{}
	_, fails["create taken"] = s.CreateTier(ctx, Tier{Name: "pro", Windows: one(1, time.Second)})
	_, fails["create invalid"] = s.CreateTier(ctx, Tier{Name: "x", Windows: one(0, time.Second)})
	_, fails["update missing"] = s.UpdateTier(ctx, Tier{Name: "nope", Windows: one(1, time.Second)})
	_, fails["patch missing"] = s.PatchTier(ctx, "nope", TierPatch{PriceCents: &price})
	_, fails["delete in use"] = s.DeleteTier(ctx, "pro")
	_, fails["delete missing"] = s.DeleteTier(ctx, "nope")
	_, fails["delete protected"] = s.DeleteTier(ctx, Free)
	_, fails["assign unknown tier"] = s.AssignClient(ctx, "c2", "nope", 0)
	for name, err := range fails {
		if err == nil {
			t.Errorf("%s succeeded", name)
		}
	}
	if !errors.Is(fails["delete in use"], ErrInUse) {
		t.Errorf("delete in use: %v", fails["delete in use"])
	}
	if after := auditRows(t, dbURL); len(after) != before {
		t.Errorf("failed writes left %d audit rows: %+v", len(after)-before, after[before:])
	}
}

// A write and its row are one transaction: when the row cannot be written,
// the change is not kept either.
func TestAudit_NoRowNoChange(t *testing.T) {
	t.Parallel()
	s, dbURL := newTestStore(t)
	ctx := context.Background()
	conn := connect(t, dbURL)
	if _, err := conn.Exec(ctx, `ALTER TABLE audit_log ADD CONSTRAINT no_pro CHECK (target <> 'pro')`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTier(ctx, Tier{Name: "pro", Windows: one(1, time.Second)}); err == nil {
		t.Fatal("create succeeded without its audit row")
	}
	if _, err := s.GetTier(ctx, "pro"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the tier was kept without its audit row: %v", err)
	}
}

func TestAudit_ListPagesNewestFirst(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t)
	ctx := context.Background()
	const n = 7
	for i := range n {
		if _, err := s.As(Audit{Actor: "a", RequestID: strconv.Itoa(i)}).AssignClient(ctx, fmt.Sprintf("c%d", i), Free, 0); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	p := AuditParams{Limit: 3}
	for pages := 0; ; pages++ {
		if pages > n {
			t.Fatal("paging does not end")
		}
		page, err := s.ListAudit(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) > 3 {
			t.Fatalf("page of %d", len(page.Entries))
		}
		for _, e := range page.Entries {
			got = append(got, e.RequestID)
		}
		if page.Next == "" {
			break
		}
		p.After = page.Next
	}
	if want := "[6 5 4 3 2 1 0]"; fmt.Sprint(got) != want {
		t.Errorf("entries %v, want %s", got, want)
	}
	for _, bad := range []AuditParams{{After: "x"}, {After: "0"}, {After: "-3"}, {Limit: -1}, {Limit: MaxListLimit + 1}} {
		var v *ValidationError
		if _, err := s.ListAudit(ctx, bad); !errors.As(err, &v) || len(v.Fields) != 1 {
			t.Errorf("ListAudit(%+v) = %v, want one invalid field", bad, err)
		}
	}
}

func TestAudit_ConcurrentWritesEachGetTheirRow(t *testing.T) {
	t.Parallel()
	s, dbURL := newTestStore(t)
	ctx := context.Background()
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			// The same client for all: every write but the first has a before.
			_, errs[i] = s.As(Audit{Actor: "a", RequestID: strconv.Itoa(i)}).AssignClient(ctx, "c1", Free, i%28+1)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	rows := auditRows(t, dbURL)
	seen := map[string]bool{}
	for i, r := range rows {
		seen[r.RequestID] = true
		// Each row's before is the previous row's after: no write lost.
		prev := "null"
		if i > 0 {
			prev = string(rows[i-1].After)
		}
		if !jsonEqual(t, r.Before, prev) {
			t.Errorf("row %d before %s, want the previous after %s", i, r.Before, prev)
		}
	}
	if len(rows) != n || len(seen) != n {
		t.Errorf("%d rows for %d writes (%d request ids)", len(rows), n, len(seen))
	}
}

func TestMigrate_AuditLogDownAndUp(t *testing.T) {
	t.Parallel()
	dbURL := newTestDB(t)
	ctx := context.Background()
	p, db := gooseProvider(t, dbURL)
	exists := func() bool {
		var ok bool
		if err := db.QueryRowContext(ctx, `SELECT to_regclass('audit_log') IS NOT NULL`).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !exists() {
		t.Fatal("no audit_log after migrating")
	}
	if _, err := p.DownTo(ctx, 6); err != nil {
		t.Fatalf("down: %v", err)
	}
	if exists() {
		t.Error("audit_log left after migrating down")
	}
	if _, err := p.UpTo(ctx, 7); err != nil {
		t.Fatalf("up: %v", err)
	}
	if !exists() {
		t.Error("no audit_log after migrating up again")
	}
}
