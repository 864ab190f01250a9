package tiers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Migrating a database that is already up to date, as every quotad start
// does, must change nothing: no version applied again, no schema object
// touched, and no row rewritten, least of all a built-in tier an operator
// edited (a seed that re-ran would put free back to 300 per 30 s).
func TestMigrate_AgainChangesNothing(t *testing.T) {
	t.Parallel()
	store, dbURL := newTestStore(t)
	conn := connect(t, dbURL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	free := Tier{Name: Free, Windows: one(7, time.Hour), Description: "edited", Currency: "USD"}
	if _, err := store.UpdateTier(ctx, free); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateTier(ctx, Tier{Name: "pro", Windows: one(1000, time.Minute), PriceCents: 4900, Currency: "USD"}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.AssignClient(ctx, "c1", "pro", 0); err != nil {
		t.Fatal(err)
	}
	before := dumpDatabase(t, ctx, conn)

	for i := range 2 {
		if err := MigrateURL(ctx, dbURL); err != nil {
			t.Fatalf("migrate again (%d): %v", i+1, err)
		}
	}

	after := dumpDatabase(t, ctx, conn)
	if diff := diffLines(before, after); diff != "" {
		t.Errorf("migrating again changed the database (- before, + after):\n%s", diff)
	}
	for _, want := range []string{"row goose_db_version ", "row tiers ", "row clients ", "constraint ", "index ", "trigger ", "function "} {
		if !strings.Contains(after, "\n"+want) {
			t.Errorf("the dump has no %q line, so it proves less than it should:\n%s", want, after)
		}
	}
	if got, err := store.GetTier(ctx, Free); err != nil || got.First().Limit != free.First().Limit || got.First().Per != free.First().Per || got.Description != free.Description {
		t.Errorf("free after migrating again: %+v, %v; want the edited %+v", got, err, free)
	}
	if got, err := store.GetClient(ctx, "c1"); err != nil || got.Tier != "pro" {
		t.Errorf("c1 after migrating again: %+v, %v; want on pro", got, err)
	}
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { _ = db.Close() })
	assertAppliedOnce(t, ctx, db)
}

// dumpDatabase describes the public schema as sorted text, one object per
// line: columns, constraints, indexes, triggers, functions and sequences,
// then every table's rows (goose's version table included) as JSON.
func dumpDatabase(tb testing.TB, ctx context.Context, conn *pgx.Conn) string {
	tb.Helper()
	schema, err := pgx.CollectRows(mustQuery(tb, ctx, conn, `
		SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' default ' ||
			coalesce(column_default, '-') || ' nullable ' || is_nullable || ' collation ' || coalesce(collation_name, '-')
		FROM information_schema.columns WHERE table_schema = 'public'
		UNION ALL
		SELECT 'constraint ' || conrelid::regclass || '.' || conname || ' ' || pg_get_constraintdef(oid)
		FROM pg_constraint WHERE connamespace = 'public'::regnamespace
		UNION ALL
		SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
		UNION ALL
		SELECT 'trigger ' || pg_get_triggerdef(tg.oid) || ' enabled ' || tg.tgenabled::text
		FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
		WHERE c.relnamespace = 'public'::regnamespace AND NOT tg.tgisinternal
		UNION ALL
		SELECT 'function ' || pg_get_functiondef(oid) FROM pg_proc WHERE pronamespace = 'public'::regnamespace
		UNION ALL
		SELECT 'sequence ' || sequencename || ' at ' || coalesce(last_value::text, 'unused')
		FROM pg_sequences WHERE schemaname = 'public'
		ORDER BY 1`), pgx.RowTo[string])
	if err != nil {
		tb.Fatal(err)
	}
	tables, err := pgx.CollectRows(mustQuery(tb, ctx, conn,
		`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`), pgx.RowTo[string])
	if err != nil {
		tb.Fatal(err)
	}
	lines := schema
	for _, table := range tables {
		rows, err := pgx.CollectRows(mustQuery(tb, ctx, conn, fmt.Sprintf(
			`SELECT to_jsonb(t)::text FROM public.%s t ORDER BY 1`, pgx.Identifier{table}.Sanitize())), pgx.RowTo[string])
		if err != nil {
			tb.Fatal(err)
		}
		for _, r := range rows {
			lines = append(lines, "row "+table+" "+r)
		}
	}
	return strings.Join(lines, "\n")
}

func mustQuery(tb testing.TB, ctx context.Context, conn *pgx.Conn, sql string) pgx.Rows {
	tb.Helper()
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	return rows
}

// diffLines lists the lines only in a (-) and only in b (+), or "".
func diffLines(a, b string) string {
	count := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		count[l]--
	}
	var out []string
	for l, n := range count {
		switch {
		case n > 0:
			out = append(out, "- "+l)
		case n < 0:
			out = append(out, "+ "+l)
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}
