package api

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/quotad/quotad/tiers"
	"github.com/quotad/quotad/usage"
)

// Formats of the usage API's query parameters.
const (
	dateLayout  = time.DateOnly // from, to and a day's date: 2026-12-31
	monthLayout = "2006-01"     // month: 2026-12
	// defaultUsageDays is the range GET /v1/usage reads without from: the
	// 30 days ending with to.
	defaultUsageDays = 30
)

// UsageView is the body of GET /v1/usage and
// GET /v1/admin/clients/{id}/usage: a client's requests per UTC day.
type UsageView struct {
	ID   string `json:"id"`
	Tier string `json:"tier"`
	// From and To are the range read, both included (YYYY-MM-DD).
	From string `json:"from"`
	To   string `json:"to"`
	// Days lists the days of the range with requests, oldest first.
	Days []UsageDayView `json:"days"`
	// Total sums Days; zeros when there are none.
	Total UsageTotals `json:"total"`
}

// UsageTotals are the requests admitted, refused, and admitted past a
// soft month window (overage) in some period.
type UsageTotals struct {
	Admitted int64 `json:"admitted"`
	Refused  int64 `json:"refused"`
	Overage  int64 `json:"overage"`
}

// UsageDayView is one day of a UsageView.
type UsageDayView struct {
	Date string `json:"date"`
	UsageTotals
}

// UsageMonthView is the JSON body of GET /v1/admin/usage.
type UsageMonthView struct {
	// Month is YYYY-MM, in UTC.
	Month   string          `json:"month"`
	Clients []UsageLineView `json:"clients"`
}

// UsageLineView is one client's month, priced with its current tier.
type UsageLineView struct {
	ID                  string `json:"id"`
	Tier                string `json:"tier"`
	PriceCents          int64  `json:"price_cents"`
	Currency            string `json:"currency"`
	Admitted            int64  `json:"admitted"`
	Refused             int64  `json:"refused"`
	Overage             int64  `json:"overage"`
	OveragePriceMicros  int64  `json:"overage_price_micros"`
	OverageChargeMicros int64  `json:"overage_charge_micros"`
}

// usageCSVHeader is the header row of the CSV export: the JSON field names
// of UsageLineView, in its order.
var usageCSVHeader = []string{"id", "tier", "price_cents", "currency", "admitted", "refused", "overage",
	"overage_price_micros", "overage_charge_micros"}

// ownUsage reports the caller's own usage; it needs a token, since an
// anonymous caller has no usage of its own to read.
func (s *server) ownUsage(c echo.Context) error {
	id, ok := IdentityFrom(c)
	if !ok {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, "Bearer")
		return NewError(http.StatusUnauthorized, CodeUnauthorized, "a bearer token is required")
	}
	return s.usageReport(c, id.ClientID)
}

// clientUsage reports any client's usage; a client without any has zeros.
func (s *server) clientUsage(c echo.Context) error {
	id := param(c, "id")
	if err := tiers.ValidClientID(id); err != nil {
		return domainError(err)
	}
	return s.usageReport(c, id)
}

// usageReport answers with client's usage over the range of the query.
func (s *server) usageReport(c echo.Context, client string) error {
	from, to, err := s.usageRange(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	t, err := s.tiers.TierFor(ctx, client)
	if err != nil {
		return domainError(err)
	}
	r, err := s.usage.Days(ctx, client, from, to)
	if err != nil {
		return domainError(err)
	}
	days := make([]UsageDayView, len(r.Days))
	for i, d := range r.Days {
		days[i] = UsageDayView{Date: d.Date.Format(dateLayout), UsageTotals: usageTotals(d.Totals)}
	}
	return c.JSON(http.StatusOK, UsageView{ID: client, Tier: t.Name, From: from.Format(dateLayout),
		To: to.Format(dateLayout), Days: days, Total: usageTotals(r.Total)})
}

func usageTotals(t usage.Totals) UsageTotals {
	return UsageTotals{Admitted: t.Admitted, Refused: t.Refused, Overage: t.Overage}
}

// usageRange reads ?from=YYYY-MM-DD&to=YYYY-MM-DD (UTC dates, both
// included): to defaults to today, from to 29 days before to, and the
// range spans 1 … usage.MaxDays days. Other parameters are ignored, as on
// the other routes.
func (s *server) usageRange(c echo.Context) (from, to time.Time, err error) {
	q := c.QueryParams()
	bad := map[string]string{}
	to = utcDay(s.now())
	if q.Has("to") {
		if to, err = time.Parse(dateLayout, q.Get("to")); err != nil {
			bad["to"] = "must be a date YYYY-MM-DD"
		}
	}
	from = to.AddDate(0, 0, -(defaultUsageDays - 1))
	if q.Has("from") {
		if from, err = time.Parse(dateLayout, q.Get("from")); err != nil {
			bad["from"] = "must be a date YYYY-MM-DD"
		}
	}
	switch {
	case len(bad) > 0:
	case from.After(to):
		bad["from"] = "must not be after to"
	case to.Sub(from) >= usage.MaxDays*24*time.Hour:
		bad["from"] = "the range from … to must span at most " + strconv.Itoa(usage.MaxDays) + " days"
	}
	if len(bad) > 0 {
		return time.Time{}, time.Time{}, invalid("invalid query", bad)
	}
	return from, to, nil
}

// utcDay returns the midnight in UTC of t's UTC date.
func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// monthUsage exports every client's usage of ?month=YYYY-MM (default:
// the current UTC month) as JSON or, when the Accept header prefers it,
// as CSV for a spreadsheet or a billing script.
func (s *server) monthUsage(c echo.Context) error {
	q := c.QueryParams()
	today := utcDay(s.now())
	month := today.AddDate(0, 0, 1-today.Day())
	if q.Has("month") {
		var err error
		if month, err = time.Parse(monthLayout, q.Get("month")); err != nil {
			return invalid("invalid query", map[string]string{"month": "must be a month YYYY-MM"})
		}
	}
	asCSV, ok := exportAsCSV(c.Request().Header.Values(echo.HeaderAccept))
	c.Response().Header().Add(echo.HeaderVary, echo.HeaderAccept)
	if !ok {
		return NewError(http.StatusNotAcceptable, CodeNotAcceptable, "the usage export is available as application/json or text/csv")
	}
	lines, err := s.usage.Month(c.Request().Context(), month)
	if err != nil {
		return domainError(err)
	}
	out := UsageMonthView{Month: month.Format(monthLayout), Clients: make([]UsageLineView, len(lines))}
	for i, l := range lines {
		out.Clients[i] = UsageLineView{ID: l.Client, Tier: l.Tier, PriceCents: l.PriceCents, Currency: l.Currency,
			Admitted: l.Admitted, Refused: l.Refused, Overage: l.Overage,
			OveragePriceMicros: l.OveragePriceMicros, OverageChargeMicros: l.OverageChargeMicros}
	}
	if !asCSV {
		return c.JSON(http.StatusOK, out)
	}
	body, err := usageCSV(out.Clients)
	if err != nil {
		return domainError(err)
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="usage-`+out.Month+`.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", body)
}

// usageCSV writes lines as RFC 4180 CSV (CRLF line ends) under a header
// row. Fields are written as they are, so a billing script reads back the
// exact client IDs.
func usageCSV(lines []UsageLineView) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.UseCRLF = true
	_ = w.Write(usageCSVHeader)
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, l := range lines {
		_ = w.Write([]string{l.ID, l.Tier, i64(l.PriceCents), l.Currency, i64(l.Admitted), i64(l.Refused),
			i64(l.Overage), i64(l.OveragePriceMicros), i64(l.OverageChargeMicros)})
	}
	w.Flush()
	return b.Bytes(), w.Error()
}
