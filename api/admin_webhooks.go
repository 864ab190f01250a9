package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/quotad/quotad/tiers"
	"github.com/quotad/quotad/webhooks"
)

// Page sizes of GET /v1/admin/clients/{id}/webhook-events.
const (
	defaultEventsLimit = 50
	maxEventsLimit     = 200
)

// WebhookEvents returns up to limit of a client's webhook events, newest
// first, as webhooks.ClientEvents does on quotad's database.
type WebhookEvents func(ctx context.Context, client string, limit int) ([]webhooks.Stored, error)

// WebhookEventView is one event of GET /v1/admin/clients/{id}/webhook-events.
// Times are RFC 3339 in UTC; of DeliveredAt, FailedAt and NextAttemptAt
// only the one of State is set.
type WebhookEventView struct {
	ID            string `json:"id"`
	Threshold     int    `json:"threshold"`
	Policy        string `json:"policy"`
	Used          int64  `json:"used"`
	Limit         int64  `json:"limit"`
	WindowStart   string `json:"window_start"`
	WindowEnd     string `json:"window_end"`
	CreatedAt     string `json:"created_at"`
	State         string `json:"state"`
	Attempts      int    `json:"attempts"`
	LastStatus    *int   `json:"last_status,omitempty"`
	LastError     string `json:"last_error,omitempty"`
	DeliveredAt   string `json:"delivered_at,omitempty"`
	FailedAt      string `json:"failed_at,omitempty"`
	NextAttemptAt string `json:"next_attempt_at,omitempty"`
}

func webhookEventView(ev webhooks.Stored) WebhookEventView {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	v := WebhookEventView{
		ID: ev.ID, Threshold: ev.Threshold, Policy: ev.Policy, Used: ev.Used, Limit: ev.Limit,
		WindowStart: ts(ev.WindowStart), WindowEnd: ts(ev.WindowEnd), CreatedAt: ts(ev.CreatedAt),
		State: ev.State, Attempts: ev.Attempts, LastError: ev.LastError,
		DeliveredAt: ts(ev.DeliveredAt), FailedAt: ts(ev.FailedAt), NextAttemptAt: ts(ev.NextAttemptAt),
	}
	if ev.LastStatus != 0 {
		status := ev.LastStatus
		v.LastStatus = &status
	}
	return v
}

// clientWebhookEvents lists a client's webhook events, newest first:
// ?limit=50 (1 … 200). A client without any has an empty list, since
// events may exist for any client id, assigned or not.
func (s *server) clientWebhookEvents(c echo.Context) error {
	id := param(c, "id")
	if err := tiers.ValidClientID(id); err != nil {
		return domainError(err)
	}
	limit := defaultEventsLimit
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxEventsLimit {
			return invalid("invalid query", map[string]string{"limit": "must be an integer between 1 and " + strconv.Itoa(maxEventsLimit)})
		}
		limit = n
	}
	evs, err := s.cfg.WebhookEvents(c.Request().Context(), id, limit)
	if err != nil {
		return webhookError(err)
	}
	out := make([]WebhookEventView, len(evs))
	for i, ev := range evs {
		out[i] = webhookEventView(ev)
	}
	return c.JSON(http.StatusOK, map[string]any{"events": out})
}

// withWebhookEvents answers 404 on the webhook routes of a server built
// without Config.WebhookEvents.
func (s *server) withWebhookEvents(h echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.cfg.WebhookEvents == nil {
			return echo.ErrNotFound
		}
		return h(c)
	}
}

// webhookError maps the webhooks package's errors to HTTP.
func webhookError(err error) error {
	if errors.Is(err, webhooks.ErrUnavailable) {
		he := NewError(http.StatusServiceUnavailable, CodeUnavailable, "a backing service is unavailable; try again shortly")
		he.Internal = err
		return he
	}
	return domainError(err)
}
