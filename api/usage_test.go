package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad/usage"
)

// usageNow is the clock of the usage tests' servers: "today" is
// 2026-12-15 and the current month 2026-12.
var usageNow = time.Date(2026, 12, 15, 10, 30, 0, 0, time.UTC)

// usageServer starts a server whose clock reads usageNow, and returns it
// with a pool on its database to seed usage with.
func usageServer(tb testing.TB) (*instance, *pgxpool.Pool) {
	tb.Helper()
	b := newBackend(tb)
	inst := b.start(tb, instanceOpts{now: func() time.Time { return usageNow }})
	pool, err := pgxpool.New(context.Background(), b.dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return inst, pool
}

// record seeds usage as the flusher would.
func record(tb testing.TB, pool *pgxpool.Pool, counts ...usage.Count) {
	tb.Helper()
	if err := usage.Record(context.Background(), pool, counts); err != nil {
		tb.Fatal(err)
	}
}

// date is the UTC midnight of "2006-01-02".
func date(tb testing.TB, s string) time.Time {
	tb.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// A consumer reads its own usage, summed over epochs, days without
// requests left out; the range defaults to the 30 days ending today.
func TestUsage_Own(t *testing.T) {
	t.Parallel()
	inst, pool := usageServer(t)
	record(t, pool,
		usage.Count{Client: "c1", Day: date(t, "2026-11-15"), Epoch: "e1", Admitted: 99}, // 31 days ago
		usage.Count{Client: "c1", Day: date(t, "2026-11-16"), Epoch: "e1", Admitted: 5, Refused: 1},
		usage.Count{Client: "c1", Day: date(t, "2026-12-15"), Epoch: "e1", Admitted: 7},
		usage.Count{Client: "c1", Day: date(t, "2026-12-15"), Epoch: "e2", Admitted: 3, Overage: 2},
		usage.Count{Client: "c1", Day: date(t, "2026-12-16"), Epoch: "e2", Admitted: 99}, // tomorrow
		usage.Count{Client: "c2", Day: date(t, "2026-12-15"), Epoch: "e1", Admitted: 1000},
	)
	var got UsageView
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/usage", token(t, "c1", false), nil), http.StatusOK).decode(t, &got)
	want := UsageView{ID: "c1", Tier: "free", From: "2026-11-16", To: "2026-12-15",
		Days: []UsageDayView{
			{Date: "2026-11-16", UsageTotals: UsageTotals{Admitted: 5, Refused: 1}},
			{Date: "2026-12-15", UsageTotals: UsageTotals{Admitted: 10, Overage: 2}},
		},
		Total: UsageTotals{Admitted: 15, Refused: 1, Overage: 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("GET /v1/usage:\n got %+v\nwant %+v", got, want)
	}

	// Both ends of an explicit range are included.
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/usage?from=2026-11-15&to=2026-11-16", token(t, "c1", false), nil), http.StatusOK).decode(t, &got)
	if len(got.Days) != 2 || got.Total != (UsageTotals{Admitted: 104, Refused: 1}) || got.From != "2026-11-15" || got.To != "2026-11-16" {
		t.Fatalf("2026-11-15 … 2026-11-16: %+v", got)
	}
	// Only from: to is still today.
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/usage?from=2026-12-01", token(t, "c1", false), nil), http.StatusOK).decode(t, &got)
	if got.To != "2026-12-15" || got.Total != (UsageTotals{Admitted: 10, Overage: 2}) {
		t.Fatalf("from 2026-12-01: %+v", got)
	}
	// A client without usage: no days, a zero total, the days field an
	// empty array rather than null.
	r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/usage", token(t, "newcomer", false), nil), http.StatusOK)
	if !bytes.Contains(r.Body, []byte(`"days":[]`)) || !bytes.Contains(r.Body, []byte(`"total":{"admitted":0,"refused":0,"overage":0}`)) {
		t.Fatalf("no usage: body %s", r.Body)
	}
}

// The consumer route needs a token: anonymous and bad tokens get 401, and
// nothing lets a client read another's usage.
func TestUsage_OwnNeedsToken(t *testing.T) {
	t.Parallel()
	inst, _ := usageServer(t)
	r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/usage", "", nil), http.StatusUnauthorized)
	if code := r.errorCode(t); code != CodeUnauthorized || r.Header.Get("WWW-Authenticate") != "Bearer" {
		t.Errorf("anonymous: code %q, WWW-Authenticate %q", code, r.Header.Get("WWW-Authenticate"))
	}
	r = mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/usage", "not-a-token", nil), http.StatusUnauthorized)
	if code := r.errorCode(t); code != CodeUnauthorized {
		t.Errorf("bad token: code %q", code)
	}
	// An id parameter is no way into another client's usage.
	var got UsageView
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/usage?id=c2&client=c2", token(t, "c1", false), nil), http.StatusOK).decode(t, &got)
	if got.ID != "c1" {
		t.Errorf("id %q, want the caller's c1", got.ID)
	}
}

// An admin reads any client's usage in the same shape, with its current
// tier; a client token is 403, no token 401, a bad ID 422.
func TestUsage_AdminClient(t *testing.T) {
	t.Parallel()
	inst, pool := usageServer(t)
	admin := token(t, "admin", true)
	setTier(t, inst, "pro", 1000, 60)
	mustStatus(t, do(t, http.MethodPut, inst.URL+"/v1/admin/clients/c%2F1", admin, map[string]string{"tier": "pro"}), http.StatusOK)
	waitChanges(t, inst, "client", "c/1", 1)
	record(t, pool, usage.Count{Client: "c/1", Day: date(t, "2026-12-01"), Epoch: "e1", Admitted: 4, Refused: 2})

	var got UsageView
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/clients/c%2F1/usage?from=2026-12-01&to=2026-12-01", admin, nil), http.StatusOK).decode(t, &got)
	want := UsageView{ID: "c/1", Tier: "pro", From: "2026-12-01", To: "2026-12-01",
		Days:  []UsageDayView{{Date: "2026-12-01", UsageTotals: UsageTotals{Admitted: 4, Refused: 2}}},
		Total: UsageTotals{Admitted: 4, Refused: 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("admin read:\n got %+v\nwant %+v", got, want)
	}
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/clients/nobody/usage", admin, nil), http.StatusOK).decode(t, &got)
	if got.ID != "nobody" || got.Tier != "free" || len(got.Days) != 0 || got.Total != (UsageTotals{}) {
		t.Errorf("a client without usage: %+v", got)
	}

	for _, tc := range []struct {
		tok    string
		status int
	}{{"", http.StatusUnauthorized}, {token(t, "c/1", false), http.StatusForbidden}} {
		for _, path := range []string{"/v1/admin/clients/c%2F1/usage", "/v1/admin/usage"} {
			mustStatus(t, do(t, http.MethodGet, inst.URL+path, tc.tok, nil), tc.status)
		}
	}
	long := strings.Repeat("x", 256)
	r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/clients/"+long+"/usage", admin, nil), http.StatusUnprocessableEntity)
	var e ErrorBody
	r.decode(t, &e)
	if _, ok := e.Error.Fields["id"]; !ok {
		t.Errorf("bad id: fields %v, want id named", e.Error.Fields)
	}
}

// Bad ranges and months are 422 naming the parameter.
func TestUsage_BadQuery(t *testing.T) {
	t.Parallel()
	inst, _ := usageServer(t)
	c1, admin := token(t, "c1", false), token(t, "admin", true)
	for _, tc := range []struct {
		path, tok string
		fields    []string
	}{
		{"/v1/usage?from=2026-1-01", c1, []string{"from"}},
		{"/v1/usage?to=2026-02-30", c1, []string{"to"}},
		{"/v1/usage?from=yesterday&to=today", c1, []string{"from", "to"}},
		{"/v1/usage?from=", c1, []string{"from"}},
		{"/v1/usage?from=2026-12-02&to=2026-12-01", c1, []string{"from"}},
		{"/v1/usage?from=2026-12-16", c1, []string{"from"}},               // after today
		{"/v1/usage?from=2025-11-09&to=2026-12-14", c1, []string{"from"}}, // 401 days
		{"/v1/admin/clients/c1/usage?to=2026-12-01T00:00:00Z", admin, []string{"to"}},
		{"/v1/admin/usage?month=2026-13", admin, []string{"month"}},
		{"/v1/admin/usage?month=2026-12-01", admin, []string{"month"}},
		{"/v1/admin/usage?month=", admin, []string{"month"}},
	} {
		r := mustStatus(t, do(t, http.MethodGet, inst.URL+tc.path, tc.tok, nil), http.StatusUnprocessableEntity)
		var e ErrorBody
		r.decode(t, &e)
		var got []string
		for f := range e.Error.Fields {
			got = append(got, f)
		}
		if e.Error.Code != CodeInvalid || len(got) != len(tc.fields) {
			t.Errorf("%s: %s, want code invalid naming %v", tc.path, r.Body, tc.fields)
			continue
		}
		for _, f := range tc.fields {
			if _, ok := e.Error.Fields[f]; !ok {
				t.Errorf("%s: fields %v, want %v", tc.path, e.Error.Fields, tc.fields)
			}
		}
	}
	// The longest range, 400 days, is fine.
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/usage?from=2025-11-11&to=2026-12-15", c1, nil), http.StatusOK)
}

// seedMonth gives inst clients with usage in 2026-12 and around it: c-pro
// on tier pro with priced overage, moved to team after its usage; c-free
// never assigned; "=x,\"y\"" with a name CSV must quote.
func seedMonth(tb testing.TB, inst *instance, pool *pgxpool.Pool) {
	tb.Helper()
	admin := token(tb, "admin", true)
	setTier(tb, inst, "pro", 1000, 60)
	setTier(tb, inst, "team", 5000, 60)
	for name, micros := range map[string]int64{"pro": 200, "team": 150} {
		if _, err := pool.Exec(context.Background(), `UPDATE tiers SET overage_price_micros = $2, price_cents = 4900, currency = 'EUR' WHERE name = $1`, name, micros); err != nil {
			tb.Fatal(err)
		}
	}
	mustStatus(tb, do(tb, http.MethodPut, inst.URL+"/v1/admin/clients/c-pro", admin, map[string]string{"tier": "pro"}), http.StatusOK)
	record(tb, pool,
		usage.Count{Client: "c-pro", Day: date(tb, "2026-11-30"), Epoch: "e1", Admitted: 1, Overage: 1},
		usage.Count{Client: "c-pro", Day: date(tb, "2026-12-01"), Epoch: "e1", Admitted: 900, Overage: 400},
		usage.Count{Client: "c-pro", Day: date(tb, "2026-12-31"), Epoch: "e2", Admitted: 600, Refused: 7, Overage: 600},
		usage.Count{Client: "c-pro", Day: date(tb, "2027-01-01"), Epoch: "e2", Admitted: 1, Overage: 1},
		usage.Count{Client: "c-free", Day: date(tb, "2026-12-10"), Epoch: "e1", Admitted: 3, Refused: 1},
		usage.Count{Client: `=x,"y"`, Day: date(tb, "2026-12-10"), Epoch: "e1", Refused: 2},
	)
	mustStatus(tb, do(tb, http.MethodPut, inst.URL+"/v1/admin/clients/c-pro", admin, map[string]string{"tier": "team"}), http.StatusOK)
}

// wantMonth is what seedMonth's 2026-12 exports.
var wantMonth = UsageMonthView{Month: "2026-12", Clients: []UsageLineView{
	{ID: `=x,"y"`, Tier: "free", PriceCents: 0, Currency: "USD", Refused: 2},
	{ID: "c-free", Tier: "free", PriceCents: 0, Currency: "USD", Admitted: 3, Refused: 1},
	{ID: "c-pro", Tier: "team", PriceCents: 4900, Currency: "EUR", Admitted: 1500, Refused: 7, Overage: 1000,
		OveragePriceMicros: 150, OverageChargeMicros: 150_000},
}}

// The month export lists each client with usage that month, on its
// current tier, priced; month defaults to the current one.
func TestUsage_MonthJSON(t *testing.T) {
	t.Parallel()
	inst, pool := usageServer(t)
	seedMonth(t, inst, pool)
	admin := token(t, "admin", true)
	for _, path := range []string{"/v1/admin/usage?month=2026-12", "/v1/admin/usage"} {
		var got UsageMonthView
		r := mustStatus(t, do(t, http.MethodGet, inst.URL+path, admin, nil), http.StatusOK)
		r.decode(t, &got)
		if !reflect.DeepEqual(got, wantMonth) {
			t.Errorf("%s:\n got %+v\nwant %+v", path, got, wantMonth)
		}
		if r.Header.Get("Vary") != "Accept" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: Vary %q, Content-Type %q", path, r.Header.Get("Vary"), r.Header.Get("Content-Type"))
		}
	}
	var empty UsageMonthView
	r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/usage?month=2026-10", admin, nil), http.StatusOK)
	r.decode(t, &empty)
	if empty.Month != "2026-10" || len(empty.Clients) != 0 || !bytes.Contains(r.Body, []byte(`"clients":[]`)) {
		t.Errorf("a month without usage: %s", r.Body)
	}
}

// With Accept: text/csv the export is CSV with a header row, each field
// what the JSON holds.
func TestUsage_MonthCSV(t *testing.T) {
	t.Parallel()
	inst, pool := usageServer(t)
	seedMonth(t, inst, pool)
	r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/usage?month=2026-12", token(t, "admin", true), nil,
		"Accept", "text/csv"), http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := r.Header.Get("Content-Disposition"); cd != `attachment; filename="usage-2026-12.csv"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	records, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v\n%s", err, r.Body)
	}
	header := []string{"id", "tier", "price_cents", "currency", "admitted", "refused", "overage",
		"overage_price_micros", "overage_charge_micros"}
	if len(records) != 1+len(wantMonth.Clients) || !reflect.DeepEqual(records[0], header) {
		t.Fatalf("CSV records %q, want the header %q and %d lines", records, header, len(wantMonth.Clients))
	}
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	for i, l := range wantMonth.Clients {
		want := []string{l.ID, l.Tier, n(l.PriceCents), l.Currency, n(l.Admitted), n(l.Refused), n(l.Overage),
			n(l.OveragePriceMicros), n(l.OverageChargeMicros)}
		for j := range header {
			if records[i+1][j] != want[j] {
				t.Errorf("line %d, %s: %q, want %q", i+1, header[j], records[i+1][j], want[j])
			}
		}
	}
	if !bytes.HasSuffix(r.Body, []byte("\r\n")) {
		t.Errorf("CSV lines do not end in CRLF: %q", r.Body)
	}
}

// The export's format follows Accept's qualities: JSON by default and on
// ties, CSV when text/csv is preferred, 406 when neither is acceptable.
func TestUsage_MonthAccept(t *testing.T) {
	t.Parallel()
	inst, _ := usageServer(t)
	admin := token(t, "admin", true)
	for accept, want := range map[string]string{
		"":                                       "application/json",
		"*/*":                                    "application/json",
		"application/json":                       "application/json",
		"application/*":                          "application/json",
		"text/csv, application/json":             "application/json",
		"text/csv;q=0, */*":                      "application/json",
		"text/csv":                               "text/csv; charset=utf-8",
		"TEXT/CSV; charset=utf-8":                "text/csv; charset=utf-8",
		"text/*":                                 "text/csv; charset=utf-8",
		"application/json;q=0.5, text/csv;q=0.9": "text/csv; charset=utf-8",
		"application/json;q=0, */*;q=0.1":        "text/csv; charset=utf-8",
		"image/png":                              "406",
		"application/json;q=0, text/csv;q=0":     "406",
		"text/html, application/xml;q=0.9":       "406",
		"text/csv;q=2, application/json;q=nan":   "406",
	} {
		r := do(t, http.MethodGet, inst.URL+"/v1/admin/usage", admin, nil, "Accept", accept)
		got := r.Header.Get("Content-Type")
		if r.StatusCode == http.StatusNotAcceptable {
			if code := r.errorCode(t); code != CodeNotAcceptable {
				t.Errorf("Accept %q: 406 with code %q", accept, code)
			}
			got = "406"
		} else if r.StatusCode != http.StatusOK {
			t.Errorf("Accept %q: status %d", accept, r.StatusCode)
		}
		if got != want && !(want == "application/json" && strings.HasPrefix(got, want)) {
			t.Errorf("Accept %q: %s, want %s", accept, got, want)
		}
	}
}

// Each usage route answers HEAD with GET's status and headers, no body.
func TestUsage_Head(t *testing.T) {
	t.Parallel()
	inst, pool := usageServer(t)
	seedMonth(t, inst, pool)
	admin := token(t, "admin", true)
	for _, tc := range []struct{ path, tok, accept string }{
		{"/v1/usage", token(t, "c-pro", false), ""},
		{"/v1/usage", "", ""},
		{"/v1/usage?from=bad", token(t, "c-pro", false), ""},
		{"/v1/admin/clients/c-pro/usage", admin, ""},
		{"/v1/admin/usage", admin, ""},
		{"/v1/admin/usage", admin, "text/csv"},
		{"/v1/admin/usage", admin, "image/png"},
	} {
		get := do(t, http.MethodGet, inst.URL+tc.path, tc.tok, nil, "Accept", tc.accept)
		head := do(t, http.MethodHead, inst.URL+tc.path, tc.tok, nil, "Accept", tc.accept)
		where := "HEAD " + tc.path + " Accept " + tc.accept
		if head.StatusCode != get.StatusCode || head.Header.Get("Content-Type") != get.Header.Get("Content-Type") ||
			head.Header.Get("Content-Disposition") != get.Header.Get("Content-Disposition") {
			t.Errorf("%s: %d %q, want GET's %d %q", where, head.StatusCode, head.Header.Get("Content-Type"), get.StatusCode, get.Header.Get("Content-Type"))
		}
		if len(head.Body) != 0 || head.ContentLength != int64(len(get.Body)) {
			t.Errorf("%s: body %d bytes, Content-Length %d; want none and GET's %d", where, len(head.Body), head.ContentLength, len(get.Body))
		}
	}
}
