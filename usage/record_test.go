package usage

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Recording the same snapshot again, or an older one, changes nothing,
// updated_at included; a newer one raises each column to its greatest
// value on its own.
func TestRecord_Idempotent(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	d := day(t, "2026-03-04")
	mustRecord(t, pool, Count{Client: "c1", Day: d, Epoch: "e1", Admitted: 10, Refused: 3, Overage: 1})
	first := readRow(t, pool, "c1", d, "e1")

	mustRecord(t, pool, Count{Client: "c1", Day: d, Epoch: "e1", Admitted: 10, Refused: 3, Overage: 1})
	mustRecord(t, pool, Count{Client: "c1", Day: d, Epoch: "e1", Admitted: 7, Refused: 2, Overage: 0})
	if got := readRow(t, pool, "c1", d, "e1"); got != first {
		t.Fatalf("after the same and an older snapshot: %+v, want %+v unchanged", got, first)
	}

	// Columns are maxed independently: a snapshot newer in one column only.
	mustRecord(t, pool, Count{Client: "c1", Day: d, Epoch: "e1", Admitted: 9, Refused: 5, Overage: 1})
	got := readRow(t, pool, "c1", d, "e1")
	if got.admitted != 10 || got.refused != 5 || got.overage != 1 {
		t.Fatalf("after a snapshot with more refused: %+v, want 10/5/1", got)
	}
	if !got.updatedAt.After(first.updatedAt) {
		t.Errorf("updated_at %v not after %v though the row grew", got.updatedAt, first.updatedAt)
	}
	if n := countRows(t, pool); n != 1 {
		t.Errorf("%d rows, want 1", n)
	}
}

// One key given twice in a batch keeps the greater values (a single
// upsert statement may not touch a row twice).
func TestRecord_DuplicateKeysInBatch(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	d := day(t, "2026-03-04")
	mustRecord(t, pool,
		Count{Client: "c1", Day: d, Epoch: "e1", Admitted: 4, Refused: 9},
		Count{Client: "c1", Day: d, Epoch: "e1", Admitted: 6, Refused: 1, Overage: 2},
	)
	if got := readRow(t, pool, "c1", d, "e1"); got.admitted != 6 || got.refused != 9 || got.overage != 2 {
		t.Fatalf("got %+v, want 6/9/2", got)
	}
}

// Concurrent Records of overlapping batches, in different orders and with
// snapshots of different ages, all succeed (no deadlock, no unique
// violation) and leave each column at the greatest value recorded.
func TestRecord_Concurrent(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	const writers, keys = 8, 20
	d := day(t, "2026-03-04")
	want := make(map[string]int64)
	batches := make([][]Count, writers)
	for w := range writers {
		for k := range keys {
			client := fmt.Sprintf("c%02d", k)
			v := int64(w*keys + k)
			batches[w] = append(batches[w], Count{Client: client, Day: d, Epoch: "e", Admitted: v, Refused: 1000 - v, Overage: v % 7})
			want[client] = max(want[client], v)
		}
		rand.Shuffle(len(batches[w]), func(i, j int) { batches[w][i], batches[w][j] = batches[w][j], batches[w][i] })
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*3)
	for w := range writers {
		for range 3 {
			wg.Go(func() { errs <- Record(context.Background(), pool, batches[w]) })
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent record: %v", err)
		}
	}
	for k := range keys {
		client := fmt.Sprintf("c%02d", k)
		got := readRow(t, pool, client, d, "e")
		if got.admitted != want[client] || got.refused != 1000-int64(k) || got.overage != 6 {
			t.Errorf("%s: %+v, want admitted %d, refused %d, overage 6", client, got, want[client], 1000-k)
		}
	}
}

// Record runs in the caller's transaction: rolled back, it leaves nothing.
func TestRecord_InCallersTransaction(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	ctx := context.Background()
	d := day(t, "2026-03-04")
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustRecord(t, tx, Count{Client: "c1", Day: d, Epoch: "e1", Admitted: 1})
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, pool); n != 0 {
		t.Fatalf("%d rows after a rollback, want 0", n)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return Record(ctx, tx, []Count{{Client: "c1", Day: d, Epoch: "e1", Admitted: 1}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, pool); n != 1 {
		t.Fatalf("%d rows after a commit, want 1", n)
	}
}

// A bad count fails the whole batch with ErrInvalid and writes nothing,
// not even the good counts beside it.
func TestRecord_InvalidWritesNothing(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	d := day(t, "2026-03-04")
	good := Count{Client: "c1", Day: d, Epoch: "e1", Admitted: 1}
	paris := time.FixedZone("CET", 3600)
	for name, bad := range map[string]Count{
		"empty client":      {Day: d, Epoch: "e1"},
		"long client":       {Client: strings.Repeat("x", MaxClientIDLen+1), Day: d, Epoch: "e1"},
		"empty epoch":       {Client: "c1", Day: d},
		"long epoch":        {Client: "c1", Day: d, Epoch: strings.Repeat("e", MaxEpochLen+1)},
		"negative admitted": {Client: "c1", Day: d, Epoch: "e1", Admitted: -1},
		"negative refused":  {Client: "c1", Day: d, Epoch: "e1", Refused: -1},
		"negative overage":  {Client: "c1", Day: d, Epoch: "e1", Overage: -1},
		"not midnight":      {Client: "c1", Day: d.Add(time.Hour), Epoch: "e1"},
		"local midnight":    {Client: "c1", Day: time.Date(2026, 3, 4, 0, 0, 0, 0, paris), Epoch: "e1"},
	} {
		err := Record(context.Background(), pool, []Count{good, bad})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v, want ErrInvalid", name, err)
		}
	}
	if n := countRows(t, pool); n != 0 {
		t.Fatalf("%d rows after invalid batches, want 0", n)
	}
	// The same instant as a UTC midnight, in another zone, is the UTC day.
	mustRecord(t, pool, Count{Client: "c1", Day: d.In(paris), Epoch: "e1", Admitted: 2})
	if got := readRow(t, pool, "c1", d, "e1"); got.admitted != 2 {
		t.Fatalf("got %+v, want admitted 2 on %s", got, d.Format(time.DateOnly))
	}
}

// The table's CHECKs refuse what Record's validation refuses, for writers
// other than Record (psql).
func TestMigration_ChecksRefuseBadRows(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	for _, values := range []string{
		`('', '2026-01-01', 'e', 0, 0, 0)`,
		`('c', '2026-01-01', '', 0, 0, 0)`,
		`('c', '2026-01-01', repeat('e', 129), 0, 0, 0)`,
		`(repeat('c', 256), '2026-01-01', 'e', 0, 0, 0)`,
		`('c', '2026-01-01', 'e', -1, 0, 0)`,
		`('c', '2026-01-01', 'e', 0, -1, 0)`,
		`('c', '2026-01-01', 'e', 0, 0, -1)`,
	} {
		_, err := pool.Exec(context.Background(),
			`INSERT INTO usage_days (client_id, day, epoch, admitted, refused, overage) VALUES `+values)
		if err == nil {
			t.Errorf("row %s was accepted", values)
		}
	}
}

// An empty batch is no statement at all, so it works on any DB.
func TestRecord_EmptyBatch(t *testing.T) {
	t.Parallel()
	if err := Record(context.Background(), nil, nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
}
