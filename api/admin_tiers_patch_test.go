package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestAdmin_PatchTier: PATCH merges the body into the stored tier (RFC
// 7396): members set replace fields, null resets optional ones, absent
// ones are kept; bad patches are refused with the status the contract
// gives and leave the tier as it was. Each case patches its own tier.
func TestAdmin_PatchTier(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	admin := token(t, "root", true)
	stored := map[string]any{"limit": 1000, "per": 60, "description": "For teams", "price_cents": 1999, "currency": "EUR"}
	unchanged := TierView{Limit: 1000, Per: secs(60), Description: "For teams", PriceCents: 1999, Currency: "EUR"}
	for i, tc := range []struct {
		name        string
		body        string
		contentType string   // default application/merge-patch+json
		status      int      // the PATCH's
		want        TierView // the tier afterwards, Name aside
		fields      []string // named by a 422
		missing     bool     // the tier does not exist
	}{
		{"price only keeps the rest", `{"price_cents":4999}`, "", 200,
			TierView{Limit: 1000, Per: secs(60), Description: "For teams", PriceCents: 4999, Currency: "EUR"}, nil, false},
		{"limit and per", `{"limit":5,"per":1}`, "", 200,
			TierView{Limit: 5, Per: secs(1), Description: "For teams", PriceCents: 1999, Currency: "EUR"}, nil, false},
		{"null resets optional fields", `{"description":null,"price_cents":null,"currency":null}`, "", 200,
			TierView{Limit: 1000, Per: secs(60), Currency: "USD"}, nil, false},
		{"values and nulls together", `{"description":"Cheaper","price_cents":null}`, "", 200,
			TierView{Limit: 1000, Per: secs(60), Description: "Cheaper", Currency: "EUR"}, nil, false},
		{"empty object is a no-op", `{}`, "", 200, unchanged, nil, false},
		{"name equal to the path", `{"name":"%s","per":30}`, "", 200,
			TierView{Limit: 1000, Per: secs(30), Description: "For teams", PriceCents: 1999, Currency: "EUR"}, nil, false},
		{"application/json accepted", `{"currency":"GBP"}`, "application/json; charset=utf-8", 200,
			TierView{Limit: 1000, Per: secs(60), Description: "For teams", PriceCents: 1999, Currency: "GBP"}, nil, false},
		{"null limit", `{"limit":null}`, "", 422, unchanged, []string{"limit"}, false},
		{"null per and a price", `{"per":null,"price_cents":1}`, "", 422, unchanged, []string{"per"}, false},
		{"name mismatch", `{"name":"other","price_cents":1}`, "", 422, unchanged, []string{"name"}, false},
		{"null name", `{"name":null}`, "", 422, unchanged, []string{"name"}, false},
		{"invalid values named", `{"limit":0,"currency":"euro","description":"fine"}`, "", 422, unchanged, []string{"limit", "currency"}, false},
		{"price not an integer", `{"price_cents":"5"}`, "", 422, unchanged, []string{"price_cents"}, false},
		{"unknown field", `{"burst":5}`, "", 400, unchanged, nil, false},
		{"field named twice", `{"price_cents":1,"price_cents":2}`, "", 400, unchanged, nil, false},
		{"array body", `[{"price_cents":1}]`, "", 400, unchanged, nil, false},
		{"null body", `null`, "", 400, unchanged, nil, false},
		{"string body", `"cheap"`, "", 400, unchanged, nil, false},
		{"malformed JSON", `{"price_cents":`, "", 400, unchanged, nil, false},
		{"wrong content type", `{"price_cents":1}`, "text/plain", 415, unchanged, nil, false},
		{"JSON Patch is not a merge patch", `{"price_cents":1}`, "application/json-patch+json", 415, unchanged, nil, false},
		{"missing tier", `{"price_cents":1}`, "", 404, TierView{}, nil, true},
		{"missing tier, empty patch", `{}`, "", 404, TierView{}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			name := fmt.Sprintf("patch-%d", i)
			url := inst.URL + "/v1/admin/tiers/" + name
			if !tc.missing {
				mustStatus(t, do(t, http.MethodPut, url, admin, stored), http.StatusCreated)
			}
			ct := tc.contentType
			if ct == "" {
				ct = MIMEMergePatch
			}
			body := strings.ReplaceAll(tc.body, "%s", name)
			r := mustStatus(t, do(t, http.MethodPatch, url, admin, body, "Content-Type", ct), tc.status)
			if tc.status != http.StatusOK {
				var e ErrorBody
				r.decode(t, &e)
				if e.Error.Code != codeFor(tc.status) || len(e.Error.Fields) != len(tc.fields) {
					t.Errorf("error %+v, want code %q naming %v", e.Error, codeFor(tc.status), tc.fields)
				}
				for _, f := range tc.fields {
					if _, ok := e.Error.Fields[f]; !ok {
						t.Errorf("fields %v do not name %q", e.Error.Fields, f)
					}
				}
			}
			if tc.missing {
				mustStatus(t, do(t, http.MethodGet, url, admin, nil), http.StatusNotFound)
				return
			}
			want := tc.want
			want.Name = name
			var got TierView
			if tc.status == http.StatusOK {
				if r.decode(t, &got); !sameTier(got, want) {
					t.Errorf("PATCH answered %+v, want %+v", got, want)
				}
				// The instance applied its own write at once (TierSaved).
				if ct, ok := inst.cache.Tier(name); !ok || !sameTier(tierView(ct), want) {
					t.Errorf("the cache holds %+v, want %+v", tierView(ct), want)
				}
			}
			mustStatus(t, do(t, http.MethodGet, url, admin, nil), http.StatusOK).decode(t, &got)
			if !sameTier(got, want) {
				t.Errorf("the tier reads %+v, want %+v", got, want)
			}
		})
	}
}

// TestAdmin_PatchTierConcurrent: two PATCHes of different fields of one
// tier, sent at once, both take effect, round after round; an API that
// read the tier and wrote it back whole would lose one whenever both read
// before either wrote.
func TestAdmin_PatchTierConcurrent(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	admin := token(t, "root", true)
	url := inst.URL + "/v1/admin/tiers/race"
	for i := range 50 {
		setTier(t, inst, "race", 1, 1)
		limit, price := 100+i, 200+i
		bodies := []string{fmt.Sprintf(`{"limit":%d}`, limit), fmt.Sprintf(`{"price_cents":%d}`, price)}
		errs := make([]error, len(bodies))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for j, body := range bodies {
			wg.Go(func() {
				<-start
				errs[j] = sendPatch(url, admin, body)
			})
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		var got TierView
		mustStatus(t, do(t, http.MethodGet, url, admin, nil), http.StatusOK).decode(t, &got)
		if got.Limit != int64(limit) || got.PriceCents != int64(price) {
			t.Fatalf("round %d: %+v, want limit %d and price_cents %d", i, got, limit, price)
		}
	}
}

// sendPatch sends a merge patch and wants 200; unlike do, it may run off
// the test's goroutine, so it returns what went wrong instead of failing.
func sendPatch(url, tok, body string) error {
	req, err := http.NewRequest(http.MethodPatch, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", MIMEMergePatch)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PATCH %s: %d %s", body, resp.StatusCode, b)
	}
	return nil
}
