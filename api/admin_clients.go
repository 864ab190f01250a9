package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/quotad/quotad/tiers"
)

// ClientView is the JSON form of a client assignment.
type ClientView struct {
	ID       string `json:"id"`
	Tier     string `json:"tier"`
	Assigned bool   `json:"assigned"`
	// AnchorDay is the day of the month (1-28) the client's month windows
	// start on; 1 when unassigned.
	AnchorDay int `json:"anchor_day"`
}

func clientView(cl tiers.Client) ClientView {
	day := cl.AnchorDay
	if day == 0 {
		day = tiers.MinAnchorDay
	}
	return ClientView{ID: cl.ID, Tier: cl.Tier, Assigned: cl.Assigned, AnchorDay: day}
}

func (s *server) getClient(c echo.Context) error {
	cl, err := s.store.GetClient(c.Request().Context(), param(c, "id"))
	if err != nil {
		return domainError(err)
	}
	return c.JSON(http.StatusOK, clientView(cl))
}

// assignment is the body of PUT on a client.
type assignment struct {
	Tier string
	// AnchorDay is 1 … 28; 0 (left out) means 1, since PUT replaces.
	AnchorDay int
}

// decodeAssignment reads {"tier": "<name>", "anchor_day": 1-28} strictly;
// anchor_day is optional.
func decodeAssignment(c echo.Context, limit int64) (assignment, error) {
	var in struct {
		Tier      *string         `json:"tier"`
		AnchorDay json.RawMessage `json:"anchor_day"`
	}
	if err := decodeJSON(c, limit, &in); err != nil {
		return assignment{}, err
	}
	bad := map[string]string{}
	if in.Tier == nil {
		bad["tier"] = "is required"
	}
	var day int
	if !absent(in.AnchorDay) {
		// An integer 1 … 28: json reads 1.0 or 1e1 into no int.
		if err := json.Unmarshal(in.AnchorDay, &day); err != nil || day < tiers.MinAnchorDay || day > tiers.MaxAnchorDay {
			bad["anchor_day"] = "must be an integer between 1 and 28"
		}
	}
	if len(bad) > 0 {
		return assignment{}, invalid("invalid input", bad)
	}
	return assignment{Tier: *in.Tier, AnchorDay: day}, nil
}

func (s *server) putClient(c echo.Context) error {
	in, err := decodeAssignment(c, s.cfg.BodyLimit)
	if err != nil {
		return err
	}
	cl, err := s.as(c).AssignClient(c.Request().Context(), param(c, "id"), in.Tier, in.AnchorDay)
	if err != nil {
		return domainError(err)
	}
	s.tiers.ClientSaved(cl)
	return c.JSON(http.StatusOK, clientView(cl))
}

func (s *server) deleteClient(c echo.Context) error {
	removed, err := s.as(c).UnassignClient(c.Request().Context(), param(c, "id"))
	if err != nil {
		return domainError(err)
	}
	s.tiers.ClientDeleted(removed)
	return c.NoContent(http.StatusNoContent)
}

// listClients pages through clients by ID:
// ?tier=pro&q=acme&limit=100&after=<id>.
func (s *server) listClients(c echo.Context) error {
	p := tiers.ListClientsParams{Tier: c.QueryParam("tier"), Search: c.QueryParam("q"), After: c.QueryParam("after")}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return invalid("invalid query", map[string]string{"limit": "must be an integer"})
		}
		p.Limit = n
	}
	page, err := s.store.ListClients(c.Request().Context(), p)
	if err != nil {
		return domainError(err)
	}
	out := make([]ClientView, len(page.Clients))
	for i, cl := range page.Clients {
		out[i] = clientView(cl)
	}
	body := map[string]any{"clients": out}
	if page.Next != "" {
		body["next"] = page.Next
	}
	return c.JSON(http.StatusOK, body)
}

// clientQuota reports a client's window without consuming it.
func (s *server) clientQuota(c echo.Context) error {
	id := param(c, "id")
	if err := tiers.ValidClientID(id); err != nil {
		return domainError(err)
	}
	t, anchor, err := s.tiers.PlanFor(c.Request().Context(), id)
	if err != nil {
		return domainError(err)
	}
	d, err := s.limiter.Peek(c.Request().Context(), UserKey(id), LimitOf(t, anchor))
	if err != nil {
		return domainError(err)
	}
	return c.JSON(http.StatusOK, quotaView(id, false, d))
}

// resetClientQuota starts the client's window afresh and tells every
// instance to drop its over-limit knowledge of the client. If that notice
// cannot be sent, the answer is 503 (the reset itself is done; retrying is
// safe) since other instances might keep refusing until the window ends.
func (s *server) resetClientQuota(c echo.Context) error {
	id := param(c, "id")
	if err := tiers.ValidClientID(id); err != nil {
		return domainError(err)
	}
	ctx := c.Request().Context()
	t, anchor, err := s.tiers.PlanFor(ctx, id)
	if err != nil {
		return domainError(err)
	}
	if err := s.limiter.Reset(ctx, UserKey(id), LimitOf(t, anchor)); err != nil {
		return domainError(err)
	}
	if err := s.as(c).NotifyReset(ctx, id); err != nil {
		return domainError(err)
	}
	return c.NoContent(http.StatusNoContent)
}
