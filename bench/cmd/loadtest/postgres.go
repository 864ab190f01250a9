package main

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

// database is the run's throwaway Postgres database. quotad's instances
// migrate it themselves, at once, under their migration lock.
type database struct {
	adminURL string // the server's maintenance database, to drop it from
	name     string
	url      string
	version  string // SELECT version()
}

// createDatabase creates an empty database named loadtest_<random> on the
// server of adminURL. Drop it with drop.
func createDatabase(ctx context.Context, adminURL string) (*database, error) {
	suffix, err := randomHex(6)
	if err != nil {
		return nil, err
	}
	db := &database{adminURL: adminURL, name: "loadtest_" + suffix}
	u, err := url.Parse(adminURL)
	if err != nil {
		return nil, fmt.Errorf("-postgres: %w", err)
	}
	u.Path = "/" + db.name
	db.url = u.String()

	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&db.version); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db.name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("postgres: create database: %w", err)
	}
	return db, nil
}

// drop deletes the database, disconnecting whoever is still on it.
func (db *database) drop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.adminURL)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db.name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("postgres: drop database %s: %w", db.name, err)
	}
	return nil
}
