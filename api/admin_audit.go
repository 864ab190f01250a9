package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/quotad/quotad/tiers"
)

// AuditEntryView is the JSON form of one audit log entry.
type AuditEntryView struct {
	ID     string    `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	// Before and After are the row as it was and as it is, JSON null where
	// there is none.
	Before    json.RawMessage `json:"before"`
	After     json.RawMessage `json:"after"`
	RequestID string          `json:"request_id"`
}

// as returns the store writing on behalf of c's caller: its token's sub
// and the request's id go into the audit log with each write.
func (s *server) as(c echo.Context) *tiers.Store {
	id, _ := IdentityFrom(c)
	return s.store.As(tiers.Audit{Actor: id.ClientID, RequestID: c.Response().Header().Get(echo.HeaderXRequestID)})
}

// listAudit pages through the audit log, newest first:
// ?limit=100&after=<cursor>.
func (s *server) listAudit(c echo.Context) error {
	p := tiers.AuditParams{After: c.QueryParam("after")}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return invalid("invalid query", map[string]string{"limit": "must be an integer"})
		}
		if n == 0 {
			// The store reads 0 as "default"; given in the query it is out of range.
			n = -1
		}
		p.Limit = n
	}
	page, err := s.store.ListAudit(c.Request().Context(), p)
	if err != nil {
		return domainError(err)
	}
	out := make([]AuditEntryView, len(page.Entries))
	for i, e := range page.Entries {
		out[i] = AuditEntryView{ID: strconv.FormatInt(e.ID, 10), At: e.At.UTC(), Actor: e.Actor, Action: e.Action,
			Target: e.Target, Before: e.Before, After: e.After, RequestID: e.RequestID}
	}
	body := map[string]any{"entries": out}
	if page.Next != "" {
		body["next"] = page.Next
	}
	return c.JSON(http.StatusOK, body)
}
