package main

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad/internal/scratchdb"
	"github.com/quotad/quotad/tiers"
)

// planClient is the client the quotad-3w server's load is counted under,
// on a tier of three windows.
const planClient = "peerbench-3w"

// createDatabase creates a throwaway database (peerbench_<random>) on the
// server of adminURL, applies quotad's migrations, sets the free tier to
// 1,000,000,000 requests per 3600 s, so the benchmark's client is never
// refused, and puts planClient on a tier of that window, a day and a
// month, none ever reached. Drop it with Drop.
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
	if _, err = store.UpdateTier(ctx, free); err != nil {
		return err
	}
	plan := tiers.Tier{Name: "plan3", Windows: []tiers.Window{
		{Limit: tiers.MaxLimit, Per: time.Hour}, {Limit: tiers.MaxLimit, Per: 24 * time.Hour}, {Limit: tiers.MaxLimit, Per: tiers.Month},
	}}
	if _, err := store.CreateTier(ctx, plan); err != nil {
		return err
	}
	_, err = store.AssignClient(ctx, planClient, plan.Name, 1)
	return err
}
