// Package migrations holds the Postgres schema of quotad as goose SQL
// migrations. Apply them with tiers.Migrate, which takes a lock so several
// instances starting at once are safe.
package migrations

import "embed"

// FS holds every migration, named <version>_<what>.sql, for goose's
// Provider. Versions are applied in order and never edited once released;
// a schema change is a new file.
//
//go:embed *.sql
var FS embed.FS
