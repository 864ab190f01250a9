package main

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad/internal/scratchdb"
	"github.com/quotad/quotad/tiers"
)

// createDatabase creates a throwaway database (peerbench_<random>) on the
// server of adminURL, applies quotad's migrations and sets the free tier
// to 1,000,000,000 requests per 3600 s, so the benchmark's client is never
// refused. Drop it with Drop.
func createDatabase(ctx context.Context, adminURL string) (*scratchdb.Database, error) {
	db, err := scratchdb.Create(ctx, adminURL, "peerbench")
	if err != nil {
		return nil, err
	}
	if err := setUp(ctx, db.URL); err != nil {
		_ = db.Drop(context.WithoutCancel(ctx))
		return nil, err
	}
	return db, nil
}

func setUp(ctx context.Context, dbURL string) error {
	if err := tiers.MigrateURL(ctx, dbURL); err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := tiers.NewStore(pool)
	free, err := store.GetTier(ctx, tiers.Free)
	if err != nil {
		return err
	}
	free.Windows = []tiers.Window{{Limit: tiers.MaxLimit, Per: time.Hour}}
	_, err = store.UpdateTier(ctx, free)
	return err
}
