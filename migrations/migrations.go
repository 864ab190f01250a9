// Package migrations holds the Postgres schema of quotad as goose SQL
// migrations. Apply them with tiers.Migrate, which takes a lock so several
// instances starting at once are safe.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

// FS holds every migration, named <version>_<what>.sql, for goose's
// Provider. Versions are applied in order and never edited once released;
// a schema change is a new file.
//
//go:embed *.sql
var FS embed.FS

// Versions lists the versions of the embedded migrations in order, from
// their file names (00001_create_tiers.sql is version 1): what a fully
// migrated database's version table must hold, each once.
func Versions() ([]int64, error) {
	names, err := fs.Glob(FS, "*.sql")
	if err != nil {
		return nil, err
	}
	versions := make([]int64, 0, len(names))
	for _, name := range names {
		prefix, _, _ := strings.Cut(name, "_")
		v, err := strconv.ParseInt(prefix, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("migrations: %s: version prefix: %w", name, err)
		}
		versions = append(versions, v)
	}
	slices.Sort(versions)
	return versions, nil
}
