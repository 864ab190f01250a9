package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Config configures a Dispatcher.
type Config struct {
	// URL receives every event, POSTed. Required: an absolute http or https
	// URL.
	URL string
	// Secret signs every delivery (see Sign). Required.
	Secret []byte
	// Client sends the requests; Timeout bounds each one whatever the
	// client's own timeout. Optional. Default value a client that does not
	// follow redirects, so a 3xx is a failed attempt.
	Client *http.Client
	// Timeout bounds one attempt, from connecting to reading the status.
	// Optional. Default value 10 s.
	Timeout time.Duration
	// Concurrency is how many deliveries are in flight at once, so a slow
	// receiver holds up the rest by at most Timeout.
	// Optional. Default value 4.
	Concurrency int
	// Logger receives a line for every failed attempt and every event
	// given up. Optional. Default value a logger that discards.
	Logger *slog.Logger
	// Metrics counts attempts by outcome. Optional. Default value nil (no
	// counting).
	Metrics *Metrics
}

// Defaults of Config's optional fields.
const (
	defaultTimeout     = 10 * time.Second
	defaultConcurrency = 4
)

// Dispatcher delivers the outbox's due events. Each quotad instance runs
// one; they share the work through row locks, so an event is sent by one
// of them at a time.
type Dispatcher struct {
	pool   *pgxpool.Pool
	cfg    Config
	now    func() time.Time
	jitter func() float64
	// poll is how often an idle dispatcher looks for due events, bounding
	// how late a new event goes out.
	poll time.Duration
	// lease is how far a claim pushes an event's next attempt: past the
	// attempt's timeout and the time to record its result, so only a
	// dispatcher that died mid-attempt lets another send the event again.
	lease time.Duration
	// attempted, if set, is called after each attempt's result is stored.
	attempted func(id string)
}

// NewDispatcher returns a Dispatcher of the outbox in pool's database.
func NewDispatcher(pool *pgxpool.Pool, cfg Config) (*Dispatcher, error) {
	if pool == nil {
		return nil, errors.New("webhooks: NewDispatcher needs a pool")
	}
	if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("webhooks: URL must be an absolute http or https URL")
	}
	if len(cfg.Secret) == 0 {
		return nil, errors.New("webhooks: a Secret is required")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = defaultConcurrency
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{
		pool: pool, cfg: cfg, now: time.Now, jitter: randomJitter,
		poll: time.Second, lease: cfg.Timeout + 30*time.Second,
	}, nil
}

// claimed is an event a dispatcher holds the lease of.
type claimed struct {
	id        string
	body      []byte
	attempts  int
	createdAt time.Time
}

// Run delivers due events until ctx ends, then returns nil once the
// attempts in flight have stopped. Failures to reach Postgres are logged
// and retried at the next poll.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	idle := d.cfg.Concurrency
	done := make(chan struct{}, d.cfg.Concurrency)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if idle > 0 {
			evs, err := d.claim(ctx, idle)
			if err != nil && ctx.Err() == nil {
				d.cfg.Logger.Warn("webhooks: cannot claim due events", "err", err)
			}
			for _, ev := range evs {
				idle--
				wg.Go(func() {
					d.deliver(ctx, ev)
					done <- struct{}{}
				})
			}
		}
		timer.Reset(d.poll)
		select {
		case <-ctx.Done():
			return nil
		case <-done:
			idle++
		case <-timer.C:
		}
	}
}

// claim leases up to n due events, oldest due first, skipping those
// another dispatcher holds.
func (d *Dispatcher) claim(ctx context.Context, n int) ([]claimed, error) {
	now := d.now()
	rows, err := d.pool.Query(ctx, `
		WITH due AS (
			SELECT id FROM webhook_events
			WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1
			ORDER BY next_attempt_at
			LIMIT $2
			FOR UPDATE SKIP LOCKED
		)
		UPDATE webhook_events e SET next_attempt_at = $3
		FROM due WHERE e.id = due.id
		RETURNING e.id, e.body, e.attempts, e.created_at`,
		now, n, now.Add(d.lease))
	if err != nil {
		return nil, fmt.Errorf("webhooks: claim: %w", err)
	}
	defer rows.Close()
	var evs []claimed
	for rows.Next() {
		var ev claimed
		var body string
		if err := rows.Scan(&ev.id, &body, &ev.attempts, &ev.createdAt); err != nil {
			return evs, fmt.Errorf("webhooks: claim: %w", err)
		}
		ev.body = []byte(body)
		evs = append(evs, ev)
	}
	return evs, rows.Err()
}
