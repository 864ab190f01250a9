package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad/tiers"
)

// benchDatabase is a throwaway Postgres database for quotad's HTTP server.
type benchDatabase struct {
	adminURL string // the server's maintenance database, to drop it from
	name     string
	url      string
	version  string // SELECT version()
}

// createDatabase creates a database with a random name on the server of
// adminURL, applies quotad's migrations and sets the free tier to
// 1,000,000,000 requests per 3600 s, so the benchmark's client is never
// refused. Drop it with drop.
func createDatabase(ctx context.Context, adminURL string) (*benchDatabase, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	db := &benchDatabase{adminURL: adminURL, name: "peerbench_" + hex.EncodeToString(b[:])}
	u, err := url.Parse(adminURL)
	if err != nil {
		return nil, fmt.Errorf("postgres URL: %w", err)
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
	if err := db.setUp(ctx); err != nil {
		_ = db.drop(context.WithoutCancel(ctx))
		return nil, err
	}
	return db, nil
}

func (db *benchDatabase) setUp(ctx context.Context) error {
	if err := tiers.MigrateURL(ctx, db.url); err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, db.url)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := tiers.NewStore(pool)
	free, err := store.GetTier(ctx, tiers.Free)
	if err != nil {
		return err
	}
	free.Limit, free.Per = tiers.MaxLimit, time.Hour
	_, err = store.UpdateTier(ctx, free)
	return err
}

// drop deletes the database, disconnecting whoever is still on it.
func (db *benchDatabase) drop(ctx context.Context) error {
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
