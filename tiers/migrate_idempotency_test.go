package tiers

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// The idempotency_keys migration goes down and up again, and leaves the
// rest of the schema as it found it.
func TestMigrate_IdempotencyKeysDownAndUp(t *testing.T) {
	t.Parallel()
	dbURL := newTestDB(t)
	ctx := context.Background()
	p, db := gooseProvider(t, dbURL)
	// Found by name, so that renumbering the file keeps the test.
	var mine int64
	for _, s := range p.ListSources() {
		if strings.HasSuffix(s.Path, "_idempotency_keys.sql") {
			mine = s.Version
		}
	}
	versions := migrationVersions(t)
	i := slices.Index(versions, mine)
	if i < 1 {
		t.Fatalf("no idempotency_keys migration after the first among %v", versions)
	}
	exists := func() bool {
		t.Helper()
		var ok bool
		if err := db.QueryRowContext(ctx, `SELECT to_regclass('public.idempotency_keys') IS NOT NULL`).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !exists() {
		t.Fatal("no idempotency_keys table after migrating")
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO idempotency_keys (actor, key, method, path, body_sha256, status, body, created_at)
		VALUES ('a', 'k', 'PUT', '/x', decode(repeat('00', 32), 'hex'), 500, '', now())`); err == nil {
		t.Error("a 5xx record was accepted; the table keeps only the answers that are replayed")
	}
	conn := connect(t, dbURL)
	before := withoutGoose(dumpDatabase(t, ctx, conn))
	if _, err := p.DownTo(ctx, versions[i-1]); err != nil {
		t.Fatalf("down to %d: %v", versions[i-1], err)
	}
	if exists() {
		t.Fatal("idempotency_keys left after its down migration")
	}
	if err := Migrate(ctx, db); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if after := withoutGoose(dumpDatabase(t, ctx, conn)); after != before {
		t.Errorf("down and up changed the database:\n%s", diffLines(before, after))
	}
}

// withoutGoose drops a dump's lines about goose's own table, which records
// every migration run.
func withoutGoose(dump string) string {
	lines := strings.Split(dump, "\n")
	return strings.Join(slices.DeleteFunc(lines, func(l string) bool { return strings.Contains(l, "goose_db_version") }), "\n")
}
