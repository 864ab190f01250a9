package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Outcomes of an attempt, the label of quotad_webhook_attempts_total.
const (
	outcomeDelivered = "delivered" // a 2xx answer
	outcomeStatus    = "status"    // any other answer
	outcomeTimeout   = "timeout"   // no answer within Timeout
	outcomeError     = "error"     // no answer: refused, reset, DNS, TLS
)

// recordTimeout bounds storing an attempt's result, which runs even when
// Run's context has ended so a finished attempt is not sent again.
const recordTimeout = 5 * time.Second

// maxErrorLen bounds last_error: transport errors can quote long URLs.
const maxErrorLen = 500

// deliver makes one attempt at ev and stores its result.
func (d *Dispatcher) deliver(ctx context.Context, ev claimed) {
	actx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	status, err := d.post(actx, ev)
	cancel()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err != nil && ctx.Err() != nil {
		// Shutting down cut the attempt short: neither the receiver nor the
		// event is at fault, so the event is due again at once, for
		// another instance, without counting an attempt.
		d.release(rctx, ev.id)
		return
	}
	outcome := classify(status, err)
	if d.cfg.Metrics != nil {
		d.cfg.Metrics.attempts.WithLabelValues(outcome).Inc()
	}
	if outcome == outcomeDelivered {
		d.store(rctx, ev.id, `UPDATE webhook_events
			SET attempts = attempts + 1, last_status = $2, last_error = NULL, delivered_at = $3
			WHERE id = $1 AND delivered_at IS NULL AND failed_at IS NULL`,
			ev.id, status, d.now())
		return
	}
	msg := fmt.Sprintf("HTTP %d", status)
	if err != nil {
		msg = err.Error()
		if len(msg) > maxErrorLen {
			msg = strings.ToValidUTF8(msg[:maxErrorLen], "")
		}
	}
	var lastStatus *int
	if status != 0 {
		lastStatus = &status
	}
	now, attempt := d.now(), ev.attempts+1
	log := d.cfg.Logger.With("event", ev.id, "attempt", attempt, "outcome", outcome, "err", msg)
	if now.Sub(ev.createdAt) >= retryFor {
		log.Error("webhooks: giving up on an event", "created_at", ev.createdAt)
		d.store(rctx, ev.id, `UPDATE webhook_events
			SET attempts = attempts + 1, last_status = $2, last_error = $3, failed_at = $4
			WHERE id = $1 AND delivered_at IS NULL AND failed_at IS NULL`,
			ev.id, lastStatus, msg, now)
		return
	}
	next := now.Add(backoff(attempt, d.jitter()))
	log.Warn("webhooks: delivery failed; retrying", "next_attempt_at", next)
	d.store(rctx, ev.id, `UPDATE webhook_events
		SET attempts = attempts + 1, last_status = $2, last_error = $3, next_attempt_at = $4
		WHERE id = $1 AND delivered_at IS NULL AND failed_at IS NULL`,
		ev.id, lastStatus, msg, next)
}

// post sends ev and returns the answer's status code.
func (d *Dispatcher) post(ctx context.Context, ev claimed) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.cfg.URL, bytes.NewReader(ev.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "quotad-webhooks")
	req.Header.Set(EventIDHeader, ev.id)
	req.Header.Set(SignatureHeader, Sign(d.cfg.Secret, d.now(), ev.body))
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		return 0, err
	}
	// Read a little of the body so the connection can be reused; a
	// receiver has no reason to answer at length.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

func classify(status int, err error) string {
	var netErr net.Error
	switch {
	case err == nil && status >= 200 && status < 300:
		return outcomeDelivered
	case err == nil:
		return outcomeStatus
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return outcomeTimeout
	default:
		return outcomeError
	}
}

// release makes an event claimed by this dispatcher due at once.
func (d *Dispatcher) release(ctx context.Context, id string) {
	d.store(ctx, id, `UPDATE webhook_events SET next_attempt_at = $2
		WHERE id = $1 AND delivered_at IS NULL AND failed_at IS NULL`, id, d.now())
}

// store runs one update of event id's row. A failure leaves the lease to
// expire, and the event is sent again: at least once, never lost.
func (d *Dispatcher) store(ctx context.Context, id, sql string, args ...any) {
	if _, err := d.pool.Exec(ctx, sql, args...); err != nil {
		d.cfg.Logger.Warn("webhooks: cannot store an attempt's result", "event", id, "err", err)
	}
	if d.attempted != nil {
		d.attempted(id)
	}
}
