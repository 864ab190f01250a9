package usage

import (
	"context"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad/internal/testenv"
	"github.com/quotad/quotad/tiers"
)

// A day's usage is the sum over its epochs; days are ascending, both ends
// of the range count, days outside it and days whose counts are all zero
// are left out, and Total sums what is shown.
func TestStore_Days(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	s := NewStore(pool)
	ctx := context.Background()
	mustRecord(t, pool,
		Count{Client: "c1", Day: day(t, "2026-02-28"), Epoch: "e1", Admitted: 100}, // before the range
		Count{Client: "c1", Day: day(t, "2026-03-01"), Epoch: "e1", Admitted: 5, Refused: 1},
		Count{Client: "c1", Day: day(t, "2026-03-01"), Epoch: "e2", Admitted: 7, Overage: 2},
		Count{Client: "c1", Day: day(t, "2026-03-02"), Epoch: "e2"}, // all zero
		Count{Client: "c1", Day: day(t, "2026-03-10"), Epoch: "e2", Refused: 4},
		Count{Client: "c1", Day: day(t, "2026-03-11"), Epoch: "e2", Admitted: 100}, // after the range
		Count{Client: "c2", Day: day(t, "2026-03-05"), Epoch: "e1", Admitted: 100}, // another client
	)
	// from and to at other hours than midnight: only their UTC dates count.
	got, err := s.Days(ctx, "c1", day(t, "2026-03-01").Add(23*time.Hour), day(t, "2026-03-10").Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := Report{
		Days: []Day{
			{Date: day(t, "2026-03-01"), Totals: Totals{Admitted: 12, Refused: 1, Overage: 2}},
			{Date: day(t, "2026-03-10"), Totals: Totals{Refused: 4}},
		},
		Total: Totals{Admitted: 12, Refused: 5, Overage: 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Days:\n got %+v\nwant %+v", got, want)
	}

	// One day: from equal to to.
	got, err = s.Days(ctx, "c1", day(t, "2026-03-10"), day(t, "2026-03-10"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Days) != 1 || got.Total != (Totals{Refused: 4}) {
		t.Fatalf("one day: %+v", got)
	}
}

// A client without usage, or an empty range, reads as zeros.
func TestStore_DaysNone(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	s := NewStore(pool)
	mustRecord(t, pool, Count{Client: "c1", Day: day(t, "2026-03-01"), Epoch: "e1", Admitted: 5})
	for name, args := range map[string][2]string{
		"no usage in range": {"2026-03-02", "2026-03-31"},
		"from after to":     {"2026-03-01", "2026-02-01"},
	} {
		got, err := s.Days(context.Background(), "c1", day(t, args[0]), day(t, args[1]))
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Days) != 0 || got.Total != (Totals{}) {
			t.Errorf("%s: %+v, want no days and zero totals", name, got)
		}
	}
	got, err := s.Days(context.Background(), "nobody", day(t, "2026-01-01"), day(t, "2026-12-31"))
	if err != nil || len(got.Days) != 0 || got.Total != (Totals{}) {
		t.Errorf("a client without usage: %+v, %v", got, err)
	}
}

// setupTier creates a tier priced at priceCents and overageMicros.
func setupTier(tb testing.TB, pool *pgxpool.Pool, name string, priceCents, overageMicros int64) {
	tb.Helper()
	ctx := context.Background()
	_, err := tiers.NewStore(pool).CreateTier(ctx, tiers.Tier{Name: name, PriceCents: priceCents, Currency: "EUR",
		Windows: []tiers.Window{{Limit: 100, Per: time.Minute}}})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE tiers SET overage_price_micros = $2 WHERE name = $1`, name, overageMicros); err != nil {
		tb.Fatal(err)
	}
}

// assign puts client on tier.
func assign(tb testing.TB, pool *pgxpool.Pool, client, tier string) {
	tb.Helper()
	if _, err := tiers.NewStore(pool).AssignClient(context.Background(), client, tier, 0); err != nil {
		tb.Fatal(err)
	}
}

// Month sums each client's days of the UTC calendar month, over epochs,
// and prices them with the client's current tier: one moved to another
// tier after the month is billed on the new one, one never assigned on
// free.
func TestStore_Month(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	s := NewStore(pool)
	setupTier(t, pool, "pro", 4900, 200)
	setupTier(t, pool, "team", 9900, 150)
	assign(t, pool, "moved", "pro")
	assign(t, pool, "idle", "pro")
	mustRecord(t, pool,
		Count{Client: "moved", Day: day(t, "2026-01-31"), Epoch: "e1", Admitted: 1000, Overage: 1000}, // month before
		Count{Client: "moved", Day: day(t, "2026-02-01"), Epoch: "e1", Admitted: 600, Refused: 2, Overage: 500},
		Count{Client: "moved", Day: day(t, "2026-02-28"), Epoch: "e1", Admitted: 900, Overage: 700},
		Count{Client: "moved", Day: day(t, "2026-02-28"), Epoch: "e2", Admitted: 400, Refused: 1, Overage: 300},
		Count{Client: "moved", Day: day(t, "2026-03-01"), Epoch: "e2", Admitted: 1000, Overage: 1000}, // month after
		Count{Client: "a-free", Day: day(t, "2026-02-14"), Epoch: "e1", Admitted: 3, Refused: 9},
		Count{Client: "idle", Day: day(t, "2026-02-14"), Epoch: "e1"}, // no requests
	)
	assign(t, pool, "moved", "team") // after the month, before the export

	got, err := s.Month(context.Background(), day(t, "2026-02-17").Add(5*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []Line{
		{Client: "a-free", Tier: tiers.Free, PriceCents: 0, Currency: "USD", OveragePriceMicros: 0,
			Totals: Totals{Admitted: 3, Refused: 9}, OverageChargeMicros: 0},
		{Client: "moved", Tier: "team", PriceCents: 9900, Currency: "EUR", OveragePriceMicros: 150,
			Totals: Totals{Admitted: 1900, Refused: 3, Overage: 1500}, OverageChargeMicros: 1500 * 150},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Month:\n got %+v\nwant %+v", got, want)
	}

	none, err := s.Month(context.Background(), day(t, "2025-02-01"))
	if err != nil || len(none) != 0 {
		t.Fatalf("a month without usage: %+v, %v", none, err)
	}
}

// Sums and the charge beyond int64 are capped at math.MaxInt64, not
// wrapped or failed.
func TestStore_OverflowIsCapped(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	s := NewStore(pool)
	setupTier(t, pool, "dear", 0, 1_000_000_000_000)
	assign(t, pool, "big", "dear")
	assign(t, pool, "edge", "dear")
	const maxI = math.MaxInt64
	d1, d2 := day(t, "2026-05-01"), day(t, "2026-05-02")
	mustRecord(t, pool,
		Count{Client: "big", Day: d1, Epoch: "e1", Admitted: maxI, Refused: maxI, Overage: maxI},
		Count{Client: "big", Day: d1, Epoch: "e2", Admitted: maxI, Refused: 1, Overage: 1},
		Count{Client: "big", Day: d2, Epoch: "e1", Admitted: 1, Refused: maxI},
		// 9,223,372 × 10^12 fits in int64; one more request does not.
		Count{Client: "edge", Day: d1, Epoch: "e1", Overage: maxI / 1_000_000_000_000},
	)
	lines, err := s.Month(context.Background(), d1)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 {
		t.Fatalf("lines %+v, want big and edge", lines)
	}
	if l := lines[0]; l.Totals != (Totals{Admitted: maxI, Refused: maxI, Overage: maxI}) || l.OverageChargeMicros != maxI {
		t.Errorf("big: %+v, want every sum and the charge at MaxInt64", l)
	}
	if l := lines[1]; l.OverageChargeMicros != (maxI/1_000_000_000_000)*1_000_000_000_000 {
		t.Errorf("edge: charge %d, want the exact product below the cap", l.OverageChargeMicros)
	}

	mustRecord(t, pool, Count{Client: "edge", Day: d1, Epoch: "e1", Overage: maxI/1_000_000_000_000 + 1})
	if lines, err = s.Month(context.Background(), d1); err != nil {
		t.Fatal(err)
	}
	if l := lines[1]; l.OverageChargeMicros != maxI {
		t.Errorf("edge past the bound: charge %d, want MaxInt64", l.OverageChargeMicros)
	}

	r, err := s.Days(context.Background(), "big", d1, d2)
	if err != nil {
		t.Fatal(err)
	}
	want := Report{
		Days: []Day{
			{Date: d1, Totals: Totals{Admitted: maxI, Refused: maxI, Overage: maxI}},
			{Date: d2, Totals: Totals{Admitted: 1, Refused: maxI}},
		},
		Total: Totals{Admitted: maxI, Refused: maxI, Overage: maxI},
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("Days:\n got %+v\nwant %+v", r, want)
	}
}

// Prune deletes the days before the given one's UTC date, every epoch of
// them, and keeps that day and later ones.
func TestStore_Prune(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	s := NewStore(pool)
	mustRecord(t, pool,
		Count{Client: "c1", Day: day(t, "2024-01-01"), Epoch: "e1", Admitted: 1},
		Count{Client: "c1", Day: day(t, "2024-01-09"), Epoch: "e1", Admitted: 1},
		Count{Client: "c1", Day: day(t, "2024-01-09"), Epoch: "e2", Admitted: 1},
		Count{Client: "c2", Day: day(t, "2024-01-09"), Epoch: "e1", Admitted: 1},
		Count{Client: "c1", Day: day(t, "2024-01-10"), Epoch: "e1", Admitted: 2},
		Count{Client: "c2", Day: day(t, "2026-01-10"), Epoch: "e1", Admitted: 3},
	)
	n, err := s.Prune(context.Background(), day(t, "2024-01-10").Add(20*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("pruned %d rows, want 4", n)
	}
	if left := countRows(t, pool); left != 2 {
		t.Errorf("%d rows left, want 2", left)
	}
	r, err := s.Days(context.Background(), "c1", day(t, "2023-01-01"), day(t, "2024-12-31"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Days) != 1 || !r.Days[0].Date.Equal(day(t, "2024-01-10")) {
		t.Errorf("c1 after prune: %+v, want 2024-01-10 only", r)
	}
	if n, err := s.Prune(context.Background(), day(t, "2024-01-10")); err != nil || n != 0 {
		t.Errorf("pruning again: %d, %v; want 0 rows", n, err)
	}
}

// A Postgres that cannot be reached is ErrUnavailable.
func TestStore_UnreachableIsUnavailable(t *testing.T) {
	t.Parallel()
	pool, err := pgxpool.New(context.Background(),
		"postgres://postgres@"+testenv.ClosedAddr(t)+"/postgres?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := NewStore(pool)
	if _, err := s.Days(context.Background(), "c1", day(t, "2026-01-01"), day(t, "2026-01-02")); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Days: %v, want ErrUnavailable", err)
	}
	if _, err := s.Month(context.Background(), day(t, "2026-01-01")); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Month: %v, want ErrUnavailable", err)
	}
	if _, err := s.Prune(context.Background(), day(t, "2026-01-01")); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Prune: %v, want ErrUnavailable", err)
	}
	if err := Record(context.Background(), pool, []Count{{Client: "c", Day: day(t, "2026-01-01"), Epoch: "e"}}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Record: %v, want ErrUnavailable", err)
	}
}
