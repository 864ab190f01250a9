package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/quotad/quotad/tiers"
)

// fuzzSmallBodyLimit is the cap of the second decoding pass of the fuzz
// targets, small enough that random bodies reach 413.
const fuzzSmallBodyLimit = 64

// fuzzPatchBase is the stored tier the fuzzed merge patches apply to.
var fuzzPatchBase = tiers.Tier{Name: "t", Windows: []tiers.Window{{Limit: 1000, Per: time.Minute}, {Limit: 100_000, Per: tiers.Month}},
	Description: "base", PriceCents: 1999, Currency: "EUR"}

// fuzzWindowField matches the names of window fields a 422 may give.
var fuzzWindowField = regexp.MustCompile(`^limits\[[0-9]+\](\.(limit|per|soft))?$`)

// fuzzCheckWindows fails unless every window of v is in range and v's
// limit and per are its first window's.
func fuzzCheckWindows(t *testing.T, v TierView) {
	t.Helper()
	if len(v.Limits) < 1 || len(v.Limits) > tiers.MaxWindows || v.Limit != v.Limits[0].Limit || v.Per != v.Limits[0].Per {
		t.Fatalf("answered %+v: want 1-4 windows, the first as limit and per", v)
	}
	months := 0
	for _, w := range v.Limits {
		if w.Per.Month {
			months++
		} else if w.Per.Seconds < 1 || w.Per.Seconds > int64(tiers.MaxPer/time.Second) {
			t.Fatalf("answered an out-of-range per in %+v", v)
		}
		if w.Limit < 1 || w.Limit > tiers.MaxLimit {
			t.Fatalf("answered an out-of-range limit in %+v", v)
		}
		if w.Soft && !w.Per.Month {
			t.Fatalf("answered a soft window that is not a month in %+v", v)
		}
	}
	if months > 1 {
		t.Fatalf("answered two month windows in %+v", v)
	}
}

// fuzzFirstWindow completes a leniently decoded tier as the API reads it:
// limits if given, with limit and per as its first window, else limit and
// per as the one window.
func fuzzFirstWindow(v TierView, hasLimits, hasLimit, hasPer bool) TierView {
	if !hasLimits {
		v.Limits = []WindowView{{Limit: v.Limit, Per: v.Per}}
		return v
	}
	if len(v.Limits) > 0 {
		if !hasLimit {
			v.Limit = v.Limits[0].Limit
		}
		if !hasPer {
			v.Per = v.Limits[0].Per
		}
	}
	return v
}

// fuzzDecodeApp answers the admin bodies with the handlers' own decoders,
// up to the store, and the API's own error handler: POST /tiers decodes
// and validates a tier as the store would (201 and the tier); PATCH
// /tiers/t applies a merge patch to fuzzPatchBase as the store would (200
// and the tier); PUT /clients/c decodes {"tier":…} (200 and the tier
// named).
func fuzzDecodeApp(bodyLimit int64) *echo.Echo {
	e := echo.New()
	e.HTTPErrorHandler = errorHandler(slog.New(slog.DiscardHandler))
	e.POST("/tiers", func(c echo.Context) error {
		t, _, err := decodeTier(c, bodyLimit, "")
		if err != nil {
			return err
		}
		if err := t.Validate(); err != nil {
			return domainError(err)
		}
		return c.JSON(http.StatusCreated, tierView(t))
	})
	e.PATCH("/tiers/t", func(c echo.Context) error {
		p, err := decodeTierPatch(c, bodyLimit, "t")
		if err != nil {
			return err
		}
		t := p.Apply(fuzzPatchBase)
		if err := t.Validate(); err != nil {
			return domainError(err)
		}
		return c.JSON(http.StatusOK, tierView(t))
	})
	e.PUT("/clients/c", func(c echo.Context) error {
		a, err := decodeAssignment(c, bodyLimit)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"tier": a.Tier, "anchor_day": a.AnchorDay})
	})
	return e
}

// fuzzServe sends one body to app in process and returns the recorder.
func fuzzServe(app *echo.Echo, method, path, contentType string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set(echo.HeaderContentType, contentType)
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, req)
	return rec
}

// fuzzCheckError checks the properties every decoding answer shares: a
// status among ok and the decoding errors (never 5xx), the error envelope
// with the status's code, fields on 422 and only known ones, and 415
// exactly when the content type is not one of accepts (default
// application/json).
func fuzzCheckError(t *testing.T, rec *httptest.ResponseRecorder, ok int, contentType string, fields map[string]bool, accepts ...string) {
	t.Helper()
	switch rec.Code {
	case ok, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
	default:
		t.Fatalf("status %d; body %s", rec.Code, rec.Body)
	}
	if len(accepts) == 0 {
		accepts = []string{echo.MIMEApplicationJSON}
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if isJSON := err == nil && slices.Contains(accepts, mt); isJSON == (rec.Code == http.StatusUnsupportedMediaType) {
		t.Fatalf("content type %q answered %d", contentType, rec.Code)
	}
	if rec.Code == ok {
		return
	}
	var e ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code != codeFor(rec.Code) || e.Error.Message == "" {
		t.Fatalf("%d: body %s is not the envelope with code %q", rec.Code, rec.Body, codeFor(rec.Code))
	}
	if (rec.Code == http.StatusUnprocessableEntity) != (len(e.Error.Fields) > 0) {
		t.Fatalf("%d with fields %v", rec.Code, e.Error.Fields)
	}
	for f := range e.Error.Fields {
		if !fields[f] && !(fields["limits"] && fuzzWindowField.MatchString(f)) {
			t.Fatalf("422 names a field %q the body cannot hold", f)
		}
	}
}

// FuzzDecodeTier feeds random content types and bodies to the tier
// decoding of POST /v1/admin/tiers. Besides fuzzCheckError's properties,
// a 201 must come from a valid JSON object whose values a lenient decoder
// reads the same (no value wraps into range on the way), and a body cap
// can only turn an answer into 413.
//
//	go test -run '^$' -fuzz '^FuzzDecodeTier$' -fuzztime 60s ./api
func FuzzDecodeTier(f *testing.F) {
	for _, s := range []struct{ ct, body string }{
		{"application/json", `{"name":"pro","limit":1000,"per":60,"description":"For teams","price_cents":1999,"currency":"EUR"}`},
		{"application/json; charset=utf-8", `{"name":"a","limit":1,"per":1}`},
		{"application/json", `{"name":"wrap","limit":1,"per":-36028797018963908}`},
		{"application/json", `{"name":"big","limit":1,"per":9223372036854775807}`},
		{"application/json", `{"name":"x","limit":1e400,"per":60}`},
		{"application/json", `{"name":"rich","limit":1,"per":1,"price_cents":1000000000000}`},
		{"application/json", `{"name":"typo","limit":1,"per":1,"price_cents":1000000000001}`},
		{"application/json", `{"name":"x","limit":1,"per":1,"price_cents":9223372036854775808}`},
		{"application/json", `{"name":"x","limit":"10","per":60}`},
		{"application/json", `{"name":"x","limit":10,"per":60,"extra":true}`},
		{"application/json", `{"NAME":"x","Limit":10,"PER":60}`},
		{"application/json", `{"name":"x","limit":10,"per":60}{"name":"y"}`},
		{"application/json", `null`},
		{"application/json", `[]`},
		{"application/json", ``},
		{"text/plain", `{"name":"x","limit":10,"per":60}`},
		{";;;", `{}`},
		{"application/json", "{\"name\":\"x\",\"limit\":1,\"per\":1,\"description\":\"\xff\\u0000\"}"},
		{"application/json", `{"name":"w","limits":[{"limit":20,"per":1},{"limit":6000,"per":3600},{"limit":1000000,"per":"month"}]}`},
		{"application/json", `{"name":"w","limit":20,"per":"month","limits":[{"limit":20,"per":"month"}]}`},
		{"application/json", `{"name":"w","limit":21,"per":1,"limits":[{"limit":20,"per":1}]}`},
		{"application/json", `{"name":"w","limits":[{"limit":1,"per":1},{"limit":1,"per":2},{"limit":1,"per":3},{"limit":1,"per":4},{"limit":1,"per":5}]}`},
		{"application/json", `{"name":"w","limits":[{"limit":1,"per":"month"},{"limit":2,"per":"month"}]}`},
		{"application/json", `{"name":"w","limits":[{"limit":1,"per":"week"},{"limit":0,"per":1.5}]}`},
		{"application/json", `{"name":"w","limits":[{"limit":1,"per":1,"burst":2}]}`},
		{"application/json", `{"name":"w","limits":[{"LIMIT":1,"per":1}]}`},
		{"application/json", `{"name":"w","limits":[[1,1]]}`},
		{"application/json", `{"name":"w","limits":{"limit":1,"per":1}}`},
		{"application/json", `{"name":"w","limits":[]}`},
		{"application/json", `{"name":"w","limits":null,"limit":1,"per":1}`},
		{"application/json", `{"name":"s","limits":[{"limit":20,"per":1},{"limit":1000000,"per":"month","soft":true}],"overage_price_micros":1500}`},
		{"application/json", `{"name":"s","limits":[{"limit":20,"per":1,"soft":true}]}`},
		{"application/json", `{"name":"s","limits":[{"limit":1,"per":"month","soft":"yes"}]}`},
		{"application/json", `{"name":"s","limit":1,"per":1,"overage_price_micros":1000000000001}`},
	} {
		f.Add(s.ct, []byte(s.body))
	}
	app, small := fuzzDecodeApp(DefaultBodyLimit), fuzzDecodeApp(fuzzSmallBodyLimit)
	fields := map[string]bool{"name": true, "limits": true, "limit": true, "per": true, "description": true, "price_cents": true, "currency": true,
		"overage_price_micros": true}

	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		rec := fuzzServe(app, http.MethodPost, "/tiers", contentType, body)
		fuzzCheckError(t, rec, http.StatusCreated, contentType, fields)
		if capped := fuzzServe(small, http.MethodPost, "/tiers", contentType, body); capped.Code != rec.Code && capped.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("with a %d-byte cap: %d, without: %d", fuzzSmallBodyLimit, capped.Code, rec.Code)
		}
		if rec.Code != http.StatusCreated {
			return
		}
		if !json.Valid(body) || bytes.TrimSpace(body)[0] != '{' {
			t.Fatalf("201 for a body that is not one JSON object: %q", body)
		}
		var got TierView
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		// A lenient decoder must read the same values: a 201 never
		// comes from a number that overflowed on the way to a Duration.
		var lenient TierView
		var members map[string]json.RawMessage
		if err := json.Unmarshal(body, &lenient); err != nil || json.Unmarshal(body, &members) != nil {
			t.Fatalf("201, but %q does not decode leniently: %v", body, err)
		}
		given := func(k string) bool { return members[k] != nil && string(members[k]) != "null" }
		lenient = fuzzFirstWindow(lenient, given("limits"), given("limit"), given("per"))
		if lenient.Currency == "" {
			lenient.Currency = got.Currency // defaulted by the store, not here
		}
		if !reflect.DeepEqual(got, lenient) {
			t.Fatalf("body %q decoded as %+v, leniently as %+v", body, got, lenient)
		}
		fuzzCheckWindows(t, got)
		if got.PriceCents < 0 || got.PriceCents > 1_000_000_000_000 || got.OveragePriceMicros < 0 || got.OveragePriceMicros > 1_000_000_000_000 {
			t.Fatalf("201 for an out-of-range tier %+v", got)
		}
	})
}

// FuzzDecodeAssignment feeds random content types and bodies to the
// {"tier":…} decoding of PUT /v1/admin/clients/{id}. Besides
// fuzzCheckError's properties, a 200 must come from a valid JSON object
// naming a tier as a string, read the same by a lenient decoder.
//
//	go test -run '^$' -fuzz '^FuzzDecodeAssignment$' -fuzztime 60s ./api
func FuzzDecodeAssignment(f *testing.F) {
	for _, s := range []struct{ ct, body string }{
		{"application/json", `{"tier":"pro"}`},
		{"application/json", `{"tier":null}`},
		{"application/json", `{"tier":5}`},
		{"application/json", `{"tier":["pro"]}`},
		{"application/json", `{"tier":"pro","admin":true}`},
		{"application/json", `{}`},
		{"application/json", `{"TIER":"pro"}`},
		{"application/json", `{"tier":"a"}{"tier":"b"}`},
		{"application/json", `{"tier":"\u0000\ud800"}`},
		{"application/json", `"pro"`},
		{"application/x-www-form-urlencoded", `tier=pro`},
		{"application/json", `{"tier":"` + string(bytes.Repeat([]byte("x"), 100)) + `"}`},
		{"application/json", `{"tier":"pro","anchor_day":15}`},
		{"application/json", `{"tier":"pro","anchor_day":29}`},
		{"application/json", `{"tier":"pro","anchor_day":"15"}`},
		{"application/json", `{"tier":"pro","anchor_day":1.5}`},
		{"application/json", `{"tier":"pro","anchor_day":null}`},
	} {
		f.Add(s.ct, []byte(s.body))
	}
	app, small := fuzzDecodeApp(DefaultBodyLimit), fuzzDecodeApp(fuzzSmallBodyLimit)
	fields := map[string]bool{"tier": true, "anchor_day": true}

	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		rec := fuzzServe(app, http.MethodPut, "/clients/c", contentType, body)
		fuzzCheckError(t, rec, http.StatusOK, contentType, fields)
		if capped := fuzzServe(small, http.MethodPut, "/clients/c", contentType, body); capped.Code != rec.Code && capped.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("with a %d-byte cap: %d, without: %d", fuzzSmallBodyLimit, capped.Code, rec.Code)
		}
		if rec.Code != http.StatusOK {
			return
		}
		if !json.Valid(body) || bytes.TrimSpace(body)[0] != '{' {
			t.Fatalf("200 for a body that is not one JSON object: %q", body)
		}
		var got, lenient struct {
			Tier      *string `json:"tier"`
			AnchorDay *int    `json:"anchor_day"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Tier == nil || got.AnchorDay == nil {
			t.Fatalf("answer %s: %v", rec.Body, err)
		}
		if err := json.Unmarshal(body, &lenient); err != nil || lenient.Tier == nil || *lenient.Tier != *got.Tier {
			t.Fatalf("body %q decoded as %q, leniently as %v (%v)", body, *got.Tier, lenient.Tier, err)
		}
		// Left out (0) means 1, which the store fills in; else 1-28 as sent.
		if want := lenient.AnchorDay; want == nil && *got.AnchorDay != 0 ||
			want != nil && (*want != *got.AnchorDay || *want < 1 || *want > 28) {
			t.Fatalf("body %q gave anchor day %d, leniently %v", body, *got.AnchorDay, lenient.AnchorDay)
		}
	})
}

// FuzzDecodeTierPatch feeds random content types and bodies to the merge
// patch decoding of PATCH /v1/admin/tiers/{name}. Besides fuzzCheckError's
// properties, a 200 must come from one JSON object, and the tier it
// answers must be what RFC 7396 makes of the base tier as a lenient
// decoder reads the patch: members with a value set their field, null
// resets an optional one to its default, absent fields stay.
//
//	go test -run '^$' -fuzz '^FuzzDecodeTierPatch$' -fuzztime 60s ./api
func FuzzDecodeTierPatch(f *testing.F) {
	for _, s := range []struct{ ct, body string }{
		{"application/merge-patch+json", `{"price_cents":4999}`},
		{"application/merge-patch+json", `{"description":null,"price_cents":null,"currency":null}`},
		{"application/json; charset=utf-8", `{"name":"t","limit":5,"per":1}`},
		{"application/merge-patch+json", `{}`},
		{"application/merge-patch+json", `{"limit":null}`},
		{"application/merge-patch+json", `{"per":null,"name":null}`},
		{"application/merge-patch+json", `{"name":"other"}`},
		{"application/merge-patch+json", `{"per":-36028797018963908}`},
		{"application/merge-patch+json", `{"price_cents":"5"}`},
		{"application/merge-patch+json", `{"currency":""}`},
		{"application/merge-patch+json", `{"burst":5}`},
		{"application/merge-patch+json", `{"limit":1,"limit":null}`},
		{"application/merge-patch+json", `[{"limit":1}]`},
		{"application/merge-patch+json", `null`},
		{"application/merge-patch+json", ` null `},
		{"application/json-patch+json", `[{"op":"replace","path":"/limit","value":1}]`},
		{"text/plain", `{"limit":1}`},
		{"application/merge-patch+json", `{"limits":[{"limit":20,"per":1},{"limit":1000000,"per":"month"}]}`},
		{"application/merge-patch+json", `{"limits":[{"limit":20,"per":1}],"limit":20}`},
		{"application/merge-patch+json", `{"limits":[{"limit":20,"per":1}],"per":2}`},
		{"application/merge-patch+json", `{"limits":null}`},
		{"application/merge-patch+json", `{"limit":7}`},
		{"application/merge-patch+json", `{"per":"month"}`},
		{"application/merge-patch+json", `{"per":"week"}`},
		{"application/merge-patch+json", `{"limits":[{"limit":1,"per":2,"x":3}]}`},
		{"application/merge-patch+json", `{"limits":[]}`},
		{"application/merge-patch+json", `{"limits":[{"limit":5,"per":"month","soft":true}],"overage_price_micros":7}`},
		{"application/merge-patch+json", `{"limits":[{"limit":5,"per":60,"soft":true}]}`},
		{"application/merge-patch+json", `{"overage_price_micros":null}`},
		{"application/merge-patch+json", `{"overage_price_micros":-1}`},
	} {
		f.Add(s.ct, []byte(s.body))
	}
	app, small := fuzzDecodeApp(DefaultBodyLimit), fuzzDecodeApp(fuzzSmallBodyLimit)
	fields := map[string]bool{"name": true, "limits": true, "limit": true, "per": true, "description": true, "price_cents": true, "currency": true,
		"overage_price_micros": true}
	defaults := map[string]json.RawMessage{"description": json.RawMessage(`""`), "price_cents": json.RawMessage(`0`), "currency": json.RawMessage(`"USD"`),
		"overage_price_micros": json.RawMessage(`0`)}

	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		rec := fuzzServe(app, http.MethodPatch, "/tiers/t", contentType, body)
		fuzzCheckError(t, rec, http.StatusOK, contentType, fields, MIMEMergePatch, echo.MIMEApplicationJSON)
		if capped := fuzzServe(small, http.MethodPatch, "/tiers/t", contentType, body); capped.Code != rec.Code && capped.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("with a %d-byte cap: %d, without: %d", fuzzSmallBodyLimit, capped.Code, rec.Code)
		}
		if rec.Code != http.StatusOK {
			return
		}
		var patch map[string]json.RawMessage
		if !json.Valid(body) || bytes.TrimSpace(body)[0] != '{' || json.Unmarshal(body, &patch) != nil {
			t.Fatalf("200 for a body that is not one JSON object: %q", body)
		}
		// RFC 7396 on the base tier, as a map of JSON members.
		merged := map[string]json.RawMessage{}
		base, _ := json.Marshal(tierView(fuzzPatchBase))
		if err := json.Unmarshal(base, &merged); err != nil {
			t.Fatal(err)
		}
		for k, v := range patch {
			if string(v) == "null" {
				if defaults[k] == nil {
					t.Fatalf("200 for null %s, which has no default: %q", k, body)
				}
				v = defaults[k]
			}
			merged[k] = v
		}
		var want, got TierView
		raw, _ := json.Marshal(merged)
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("200, but %q does not merge leniently: %v", body, err)
		}
		if want.Currency == "" {
			want.Currency = tiers.DefaultCurrency // "" means the default, as in a Tier
		}
		// limits replaces the windows, and limit and per follow it; limit
		// or per alone change the first window.
		if patch["limits"] != nil {
			want = fuzzFirstWindow(want, true, patch["limit"] != nil, patch["per"] != nil)
		} else if len(want.Limits) > 0 {
			want.Limits = append([]WindowView{{Limit: want.Limit, Per: want.Per}}, want.Limits[1:]...)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		fuzzCheckWindows(t, got)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("patch %q gave %+v, RFC 7396 gives %+v", body, got, want)
		}
	})
}
