// Package scratchdb creates and drops throwaway Postgres databases: one per
// test (internal/testenv) and one per benchmark or load-test run (bench).
package scratchdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

// Database is a throwaway Postgres database. It has a random name so that
// runs and tests (in parallel) never share one, and it is dropped at the
// end so that the server does not fill with them.
type Database struct {
	Name    string // prefix_<12 hex digits>, e.g. "loadtest_3f9a0c1b2d4e"
	URL     string // the admin URL with the path set to Name
	Version string // the server's SELECT version(), for the report

	adminURL string // the server's maintenance database, to drop Name from
}

// Create creates an empty database named prefix_<12 hex digits> on the
// server of adminURL. The caller migrates it (or lets quotad do so) and
// drops it with Drop, on every path out, Ctrl-C included.
func Create(ctx context.Context, adminURL, prefix string) (*Database, error) {
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails: crypto/rand crashes the program instead
	db := &Database{Name: prefix + "_" + hex.EncodeToString(b[:]), adminURL: adminURL}
	u, err := url.Parse(adminURL)
	if err != nil {
		return nil, fmt.Errorf("postgres URL: %w", err)
	}
	u.Path = "/" + db.Name
	db.URL = u.String()

	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// Closed even when ctx is cancelled, so an interrupted run leaves no
	// connection behind.
	defer conn.Close(context.WithoutCancel(ctx))
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&db.Version); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db.Name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("postgres: create database: %w", err)
	}
	return db, nil
}

// Drop deletes the database, disconnecting whoever is still on it (a
// quotad instance or child server that did not stop in time must not keep
// it alive). It gives up after 30 seconds; callers pass a context that
// outlives Ctrl-C, such as context.WithoutCancel of the run's.
func (db *Database) Drop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.adminURL)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db.Name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("postgres: drop database %s: %w", db.Name, err)
	}
	return nil
}
