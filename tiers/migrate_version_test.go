package tiers

import (
	"context"
	"regexp"
	"strings"
	"testing"
)

// versionField matches the version column in a snapshot's row JSON.
var versionField = regexp.MustCompile(`,"version":(\d+|null)`)

// Versioning rows keeps every row as it was (timestamps included) and
// gives each its own version.
func TestMigrate_VersionsKeepEveryRow(t *testing.T) {
	t.Parallel()
	dbURL := createDatabase(t)
	ctx := context.Background()
	p, _ := gooseProvider(t, dbURL)
	if _, err := p.UpTo(ctx, 3); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, dbURL)
	if _, err := conn.Exec(ctx, `
		INSERT INTO tiers (name, "limit", per_seconds, description, price_cents, currency)
			VALUES ('pro', 6000, 60, 'Teams.', 1999, 'EUR'), ('basic', 10, 1, '', 0, 'USD');
		INSERT INTO clients (id, tier) VALUES ('c1', 'pro'), ('c2', 'basic'), ('c3', 'pro');
		UPDATE tiers SET updated_at = '2020-01-02T03:04:05Z', created_at = '2020-01-01T00:00:00Z';
		UPDATE clients SET updated_at = '2021-01-02T03:04:05Z', created_at = '2021-01-01T00:00:00Z'`); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dbURL)

	// Up to the versioning migration only: later ones add other columns.
	if _, err := p.UpTo(ctx, 4); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	// The rows as before, with a version column added.
	after := snapshot(t, dbURL)
	var versions []string
	stripped := versionField.ReplaceAllStringFunc(after, func(m string) string {
		versions = append(versions, m)
		return ""
	})
	if stripped != before {
		t.Errorf("rows changed:\n%s\nthen\n%s", before, after)
	}
	seen := map[string]bool{}
	for _, v := range versions {
		if seen[v] || strings.HasSuffix(v, "null") {
			t.Errorf("version %s repeated or missing in\n%s", v, after)
		}
		seen[v] = true
	}
	if len(versions) != 2+2+3 {
		t.Errorf("%d versions in\n%s; want one per row", len(versions), after)
	}
}
