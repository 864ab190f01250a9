package tiers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/quotad/quotad/migrations"
)

// Migrate applies every pending migration of package migrations to db, a
// database/sql handle over pgx's stdlib driver.
//
// It holds a Postgres session-level advisory lock for the whole run, so
// several instances starting against the same database at once are safe:
// one applies each migration and the others wait, then find nothing to do.
// (goose does not lock unless asked.) A waiter retries the lock every
// second for up to five minutes; ctx bounds the whole wait.
func Migrate(ctx context.Context, db *sql.DB) error {
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("tiers: migrate: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS,
		goose.WithSessionLocker(locker),
		// Only this package's SQL files: Go migrations registered globally
		// by some other import must not sneak into our schema.
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return fmt.Errorf("tiers: migrate: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		// Only unavailability is worth a sentinel here; anything else is
		// for an operator, who needs goose's whole story (which file, which
		// statement).
		if mapped := interpretError(err); errors.Is(mapped, ErrUnavailable) {
			err = mapped
		}
		return fmt.Errorf("tiers: migrate: %w", err)
	}
	return nil
}

// MigrateURL is Migrate for a Postgres URL (pgx syntax), opening and
// closing its own connection.
func MigrateURL(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx masks the password in this error.
		return fmt.Errorf("tiers: migrate: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	return Migrate(ctx, db)
}
