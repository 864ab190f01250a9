// Package metering copies what the limiter metered in Redis to Postgres:
// the usage per client and UTC day, and the month-window thresholds that
// become webhook events.
//
// Every quotad instance runs a Flusher; one at a time, the holder of a
// Postgres advisory lock, copies. A copy is idempotent: Redis holds
// absolute counts per incarnation of a client's counters (an epoch), and
// Postgres keeps the largest count it was given per client, day and epoch
// (see usage.Record), so copying twice, or an older snapshot after a newer
// one, changes nothing. Events are unique per client, window and threshold
// (see webhooks.Enqueue). Only once a copy is committed does the Flusher
// settle what it copied in Redis (see quota.Limiter.Settle): a process
// killed at any moment leaves either uncopied counts, which the next copy
// takes, or copied ones, which it takes again to no effect.
package metering

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad/quota"
	"github.com/quotad/quotad/tiers"
	"github.com/quotad/quotad/usage"
	"github.com/quotad/quotad/webhooks"
)

// Defaults of Config.
const (
	// DefaultInterval is how often the leader copies: usage is visible in
	// Postgres within about this, plus a failover when the leader dies.
	DefaultInterval = 5 * time.Second
	// Retention is how long usage is kept: more than the 400 days promised.
	Retention = 800 * 24 * time.Hour
)

// batchKeys is how many clients' usage one transaction copies.
const batchKeys = 500

// leaderLock is the advisory lock key the copying instance holds:
// "quotad:metering" as 8 bytes.
const leaderLock int64 = 0x71756f7461643a6d

// clientPrefix starts the limiter key of a client (api.UserKey); anonymous
// keys are not metered.
const clientPrefix = "u:"

// Plans gives a client's tier, for the events' tier and policy names.
type Plans interface {
	PlanFor(ctx context.Context, clientID string) (tiers.Tier, int, error)
}

// Config configures a Flusher.
type Config struct {
	// Pool reaches Postgres. Required.
	Pool *pgxpool.Pool
	// Limiter is the metering limiter. Required.
	Limiter *quota.Limiter
	// Plans names clients' tiers in events. Required.
	Plans Plans
	// Logger receives failures. Required.
	Logger *slog.Logger
	// Interval is the time between copies. Optional. Default value
	// DefaultInterval.
	Interval time.Duration
}

// Flusher copies metered usage from Redis to Postgres while it leads.
type Flusher struct {
	cfg       Config
	lastPrune time.Time
	// copied holds the counts this Flusher last committed, so that a
	// client whose counts did not change since costs no write. A new
	// leader starts empty and writes everything once, to no effect.
	copied map[copiedKey]quota.DayUsage
}

type copiedKey struct {
	key, epoch string
	day        int64
}

// New returns a Flusher; Run starts it.
func New(cfg Config) (*Flusher, error) {
	if cfg.Pool == nil || cfg.Limiter == nil || cfg.Plans == nil || cfg.Logger == nil {
		return nil, errors.New("metering: New needs Pool, Limiter, Plans and Logger")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	return &Flusher{cfg: cfg, copied: map[copiedKey]quota.DayUsage{}}, nil
}

// Run copies every Interval while this instance holds the leader lock,
// and tries to take it every Interval while another does, until ctx ends.
// A leader copies once more as it stops.
func (f *Flusher) Run(ctx context.Context) {
	t := time.NewTicker(f.cfg.Interval)
	defer t.Stop()
	for {
		if err := f.lead(ctx, t.C); err != nil && ctx.Err() == nil {
			f.cfg.Logger.Warn("metering: copying usage to postgres failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// lead takes the leader lock on a connection of its own, if free, and
// copies on every tick until ctx ends or the connection fails. The lock
// goes with the connection: a leader killed or cut off frees it at once.
func (f *Flusher) lead(ctx context.Context, tick <-chan time.Time) error {
	conn, err := f.cfg.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", leaderLock).Scan(&got); err != nil {
		return err
	}
	if !got {
		return nil
	}
	defer func() {
		// A clean stop copies once more and hands the lock back; a
		// failed connection took the lock with it.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if ctx.Err() != nil {
			if err := f.Flush(fctx); err != nil {
				f.cfg.Logger.Warn("metering: last copy before stopping failed", "err", err)
			}
		}
		_, _ = conn.Exec(fctx, "SELECT pg_advisory_unlock($1)", leaderLock)
	}()
	for {
		if err := f.Flush(ctx); err != nil {
			return err
		}
		if err := conn.Ping(ctx); err != nil {
			return fmt.Errorf("metering: leader connection: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
		}
	}
}

// Flush copies everything metered so far, then settles it in Redis. It is
// safe to run anywhere, any number of times, concurrently: the lock only
// saves the work.
func (f *Flusher) Flush(ctx context.Context) error {
	var batch []quota.Usage
	err := f.cfg.Limiter.ReadUsage(ctx, func(u quota.Usage) error {
		client, ok := strings.CutPrefix(u.Key, clientPrefix)
		if !ok {
			return nil
		}
		// quotad's tokens never name such a client, but a key written by
		// something else must not stop every client's copy.
		if err := tiers.ValidClientID(client); err != nil {
			f.cfg.Logger.Warn("metering: skipping a usage key that names no valid client", "key", u.Key, "err", err)
			return nil
		}
		batch = append(batch, u)
		if len(batch) < batchKeys {
			return nil
		}
		err := f.copy(ctx, batch)
		batch = batch[:0]
		return err
	})
	if err == nil && len(batch) > 0 {
		err = f.copy(ctx, batch)
	}
	if err != nil {
		return err
	}
	if now := time.Now(); now.Sub(f.lastPrune) > time.Hour {
		if _, err := usage.NewStore(f.cfg.Pool).Prune(ctx, now.Add(-Retention)); err != nil {
			return err
		}
		f.lastPrune = now
	}
	return nil
}

// copy writes one batch's counts and events in one transaction, then
// settles them in Redis.
func (f *Flusher) copy(ctx context.Context, batch []quota.Usage) error {
	var counts []usage.Count
	var events []webhooks.Event
	for _, u := range batch {
		client := strings.TrimPrefix(u.Key, clientPrefix)
		for _, d := range u.Days {
			if f.copied[copiedKey{u.Key, u.Epoch, d.Day.Unix()}] == d {
				continue
			}
			counts = append(counts, usage.Count{Client: client, Day: d.Day, Epoch: u.Epoch,
				Admitted: d.Admitted, Refused: d.Refused, Overage: d.Overage})
		}
		for _, a := range u.Alerts {
			ev, err := f.event(ctx, client, a)
			if err != nil {
				return err
			}
			events = append(events, ev)
		}
	}
	if len(counts)+len(events) > 0 {
		err := pgx.BeginFunc(ctx, f.cfg.Pool, func(tx pgx.Tx) error {
			if err := usage.Record(ctx, tx, counts); err != nil {
				return err
			}
			_, err := webhooks.Enqueue(ctx, tx, events)
			return err
		})
		if err != nil {
			return fmt.Errorf("metering: copying %d clients: %w", len(batch), err)
		}
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	for _, u := range batch {
		for _, d := range u.Days {
			k := copiedKey{u.Key, u.Epoch, d.Day.Unix()}
			if d.Day.Before(today) {
				delete(f.copied, k) // settled below
			} else {
				f.copied[k] = d
			}
		}
		// Only past days and alerts leave Redis; a key holding today's
		// counts alone needs no round trip.
		if len(u.Alerts) > 0 || len(u.Days) > 0 && u.Days[0].Day.Before(today) {
			if err := f.cfg.Limiter.Settle(ctx, u); err != nil {
				return err
			}
		}
	}
	for k, d := range f.copied {
		if d.Day.Before(today) {
			delete(f.copied, k) // a client gone quiet since yesterday
		}
	}
	return nil
}

// event is the webhook event of alert a of client: its tier and policy
// are the client's as the event is copied.
func (f *Flusher) event(ctx context.Context, client string, a quota.Alert) (webhooks.Event, error) {
	t, _, err := f.cfg.Plans.PlanFor(ctx, client)
	if err != nil {
		return webhooks.Event{}, err
	}
	policy := t.Name
	if len(t.Windows) > 1 {
		policy += ":month"
	}
	return webhooks.Event{Client: client, Tier: t.Name, Policy: policy, Threshold: a.Percent,
		Used: a.Used, Limit: a.Limit, WindowStart: a.Start, WindowEnd: a.End, CreatedAt: a.At}, nil
}
