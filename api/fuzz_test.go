package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// fuzzSmallBodyLimit is the cap of the second decoding pass of the fuzz
// targets, small enough that random bodies reach 413.
const fuzzSmallBodyLimit = 64

// fuzzDecodeApp answers the two admin bodies with the handlers' own
// decoders, up to the store, and the API's own error handler: POST /tiers
// decodes and validates a tier as the store would (201 and the tier); PUT
// /clients/c decodes {"tier":…} (200 and the tier named).
func fuzzDecodeApp(bodyLimit int64) *echo.Echo {
	e := echo.New()
	e.HTTPErrorHandler = errorHandler(slog.New(slog.DiscardHandler))
	e.POST("/tiers", func(c echo.Context) error {
		t, err := decodeTier(c, bodyLimit, "")
		if err != nil {
			return err
		}
		if err := t.Validate(); err != nil {
			return domainError(err)
		}
		return c.JSON(http.StatusCreated, tierView(t))
	})
	e.PUT("/clients/c", func(c echo.Context) error {
		tier, err := decodeAssignment(c, bodyLimit)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]string{"tier": tier})
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
// exactly when the content type is not application/json.
func fuzzCheckError(t *testing.T, rec *httptest.ResponseRecorder, ok int, contentType string, fields map[string]bool) {
	t.Helper()
	switch rec.Code {
	case ok, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
	default:
		t.Fatalf("status %d; body %s", rec.Code, rec.Body)
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if isJSON := err == nil && mt == echo.MIMEApplicationJSON; isJSON == (rec.Code == http.StatusUnsupportedMediaType) {
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
		if !fields[f] {
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
	} {
		f.Add(s.ct, []byte(s.body))
	}
	app, small := fuzzDecodeApp(DefaultBodyLimit), fuzzDecodeApp(fuzzSmallBodyLimit)
	fields := map[string]bool{"name": true, "limit": true, "per": true, "description": true, "price_cents": true, "currency": true}

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
		if err := json.Unmarshal(body, &lenient); err != nil {
			t.Fatalf("201, but %q does not decode leniently: %v", body, err)
		}
		if lenient.Currency == "" {
			lenient.Currency = got.Currency // defaulted by the store, not here
		}
		if got != lenient {
			t.Fatalf("body %q decoded as %+v, leniently as %+v", body, got, lenient)
		}
		if got.Per < 1 || got.Per > int64(365*24*time.Hour/time.Second) || got.Limit < 1 || got.Limit > 1_000_000_000 ||
			got.PriceCents < 0 || got.PriceCents > 1_000_000_000_000 {
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
	} {
		f.Add(s.ct, []byte(s.body))
	}
	app, small := fuzzDecodeApp(DefaultBodyLimit), fuzzDecodeApp(fuzzSmallBodyLimit)
	fields := map[string]bool{"tier": true}

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
			Tier *string `json:"tier"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Tier == nil {
			t.Fatalf("answer %s: %v", rec.Body, err)
		}
		if err := json.Unmarshal(body, &lenient); err != nil || lenient.Tier == nil || *lenient.Tier != *got.Tier {
			t.Fatalf("body %q decoded as %q, leniently as %v (%v)", body, *got.Tier, lenient.Tier, err)
		}
	})
}
