package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quotad/quotad/quota"
	"github.com/quotad/quotad/tiers"
)

// TestAdmin_TierSoftMonthAndOveragePrice: a soft month window and an
// overage price are created, read, listed (admin and public), audited,
// replaced and patched through the API; a tier without them reads as it
// did before they existed, but for overage_price_micros 0.
func TestAdmin_TierSoftMonthAndOveragePrice(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	admin := token(t, "root", true)
	url := inst.URL + "/v1/admin/tiers/metered"
	soft := []WindowView{{Limit: 20, Per: secs(1)}, {Limit: 1_000_000, Per: month, Soft: true}}
	want := TierView{Name: "metered", Limit: 20, Per: secs(1), Limits: soft, PriceCents: 4900, Currency: "USD", OveragePriceMicros: 1500}

	var got TierView
	r := mustStatus(t, do(t, http.MethodPost, inst.URL+"/v1/admin/tiers", admin,
		`{"name":"metered","limits":[{"limit":20,"per":1},{"limit":1000000,"per":"month","soft":true}],"price_cents":4900,"overage_price_micros":1500}`),
		http.StatusCreated)
	if r.decode(t, &got); !sameTier(got, want) {
		t.Fatalf("created %+v, want %+v", got, want)
	}
	if body := string(r.Body); !strings.Contains(body, `"limits":[{"limit":20,"per":1},{"limit":1000000,"per":"month","soft":true}]`) ||
		!strings.Contains(body, `"overage_price_micros":1500`) {
		t.Errorf("created body %s, want soft only on the month window and the overage price", body)
	}
	mustStatus(t, do(t, http.MethodGet, url, admin, nil), http.StatusOK).decode(t, &got)
	if !sameTier(got, want) {
		t.Errorf("get %+v, want %+v", got, want)
	}
	for _, path := range []string{"/v1/admin/tiers", "/v1/tiers"} {
		var list struct{ Tiers []TierView }
		mustStatus(t, do(t, http.MethodGet, inst.URL+path, admin, nil), http.StatusOK).decode(t, &list)
		if !containsTier(list.Tiers, want) {
			t.Errorf("%s lists %+v, want %+v among them", path, list.Tiers, want)
		}
	}
	if ct, ok := inst.cache.Tier("metered"); !ok || !sameTier(tierView(ct), want) {
		t.Errorf("the cache holds %+v, want %+v", tierView(ct), want)
	}
	if after := auditLog(t, inst, admin)[0].After; !strings.Contains(string(after), `"soft":true`) ||
		!strings.Contains(string(after), `"overage_price_micros":1500`) {
		t.Errorf("audit after = %s, want the soft window and the overage price", after)
	}

	patch := func(body string) TierView {
		t.Helper()
		var v TierView
		mustStatus(t, do(t, http.MethodPatch, url, admin, body, "Content-Type", MIMEMergePatch), http.StatusOK).decode(t, &v)
		return v
	}
	// A field left out of a patch keeps its value.
	want.Limits = []WindowView{{Limit: 30, Per: secs(1)}, {Limit: 1_000_000, Per: month, Soft: true}}
	want.PriceCents = 5900
	if got := patch(`{"limit":30,"price_cents":5900}`); !sameTier(got, withFirst(want)) {
		t.Errorf("PATCH limit and price gave %+v, want %+v", got, withFirst(want))
	}
	want.OveragePriceMicros = 2500
	if got := patch(`{"overage_price_micros":2500}`); !sameTier(got, withFirst(want)) {
		t.Errorf("PATCH overage price gave %+v, want %+v", got, withFirst(want))
	}
	want.Limits[1].Soft = false
	if got := patch(`{"limits":[{"limit":30,"per":1},{"limit":1000000,"per":"month","soft":false}]}`); !sameTier(got, withFirst(want)) {
		t.Errorf("PATCH hard month gave %+v, want %+v", got, withFirst(want))
	}
	want.Limits, want.OveragePriceMicros = []WindowView{{Limit: 7, Per: month, Soft: true}}, 0
	if got := patch(`{"limits":[{"limit":7,"per":"month","soft":true}],"overage_price_micros":null}`); !sameTier(got, withFirst(want)) {
		t.Errorf("PATCH soft month and null price gave %+v, want %+v", got, withFirst(want))
	}

	// PUT replaces: left out, the window is hard and overage free.
	r = mustStatus(t, do(t, http.MethodPut, url, admin, `{"limits":[{"limit":7,"per":"month"}],"overage_price_micros":9}`), http.StatusOK)
	if r.decode(t, &got); !sameTier(got, TierView{Name: "metered", Limit: 7, Per: month, Currency: "USD", OveragePriceMicros: 9}) {
		t.Errorf("PUT gave %+v, want one hard month window priced 9", got)
	}
	if strings.Contains(string(r.Body), "soft") {
		t.Errorf("a hard window is written with soft: %s", r.Body)
	}
	mustStatus(t, do(t, http.MethodPut, url, admin, `{"limit":7,"per":"month"}`), http.StatusOK).decode(t, &got)
	if got.OveragePriceMicros != 0 {
		t.Errorf("PUT without overage_price_micros gave %+v, want it 0", got)
	}
}

// TestAdmin_TierWithoutSoftReadsAsBefore: a tier created with the Part 1
// body reads exactly as it did before soft windows and overage prices, but
// for overage_price_micros 0.
func TestAdmin_TierWithoutSoftReadsAsBefore(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	admin := token(t, "root", true)
	r := mustStatus(t, do(t, http.MethodPost, inst.URL+"/v1/admin/tiers", admin,
		`{"name":"classic","limit":100,"per":60,"description":"Old","price_cents":999,"currency":"EUR"}`), http.StatusCreated)
	const body = `{"name":"classic","limit":100,"per":60,"limits":[{"limit":100,"per":60}],"description":"Old",` +
		`"price_cents":999,"currency":"EUR","overage_price_micros":0}`
	if got := strings.TrimSpace(string(r.Body)); got != body {
		t.Errorf("created body\n%s\nwant\n%s", got, body)
	}
	if got := strings.TrimSpace(string(mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/tiers/classic", admin, nil), http.StatusOK).Body)); got != body {
		t.Errorf("read body\n%s\nwant\n%s", got, body)
	}
}

// TestAdmin_TierSoftMonthBadInput: each bad soft window or overage price
// is refused naming its field, and changes nothing.
func TestAdmin_TierSoftMonthBadInput(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	admin := token(t, "root", true)
	mustStatus(t, do(t, http.MethodPut, inst.URL+"/v1/admin/tiers/pro", admin,
		`{"limits":[{"limit":1000,"per":"month","soft":true},{"limit":5,"per":1}],"overage_price_micros":100}`), http.StatusCreated)
	snapshot := func() string {
		return string(do(t, http.MethodGet, inst.URL+"/v1/admin/tiers", admin, nil).Body)
	}
	before := snapshot()
	three := `{"limit":1,"per":1},{"limit":2,"per":60},{"limit":3,"per":3600,"soft":true}`
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		field, message           string // field "" for a 400
	}{
		{"soft window of seconds", "POST", "/v1/admin/tiers", `{"name":"x","limits":[` + three + `]}`, 422,
			"limits[2].soft", "only a month window may be soft"},
		{"PUT soft window of seconds", "PUT", "/v1/admin/tiers/pro", `{"limits":[` + three + `]}`, 422,
			"limits[2].soft", "only a month window may be soft"},
		{"PATCH soft window of seconds", "PATCH", "/v1/admin/tiers/pro", `{"limits":[` + three + `]}`, 422,
			"limits[2].soft", "only a month window may be soft"},
		{"soft a string", "POST", "/v1/admin/tiers", `{"name":"x","limits":[{"limit":1,"per":"month","soft":"true"}]}`, 422,
			"limits[0].soft", msgSoftType},
		{"soft a number", "PATCH", "/v1/admin/tiers/pro", `{"limits":[{"limit":1,"per":"month","soft":1}]}`, 422,
			"limits[0].soft", msgSoftType},
		{"PATCH per alone of the soft month", "PATCH", "/v1/admin/tiers/pro", `{"per":3600}`, 422,
			"per", `must stay "month" while the month window is soft; give limits to change both`},
		{"negative overage price", "POST", "/v1/admin/tiers", `{"name":"x","limit":1,"per":1,"overage_price_micros":-1}`, 422,
			"overage_price_micros", "must be between 0 and 1000000000000"},
		{"PUT overage price above the bound", "PUT", "/v1/admin/tiers/pro", `{"limit":1,"per":1,"overage_price_micros":1000000000001}`, 422,
			"overage_price_micros", "must be between 0 and 1000000000000"},
		{"PATCH overage price above the bound", "PATCH", "/v1/admin/tiers/pro", `{"overage_price_micros":1000000000001}`, 422,
			"overage_price_micros", "must be between 0 and 1000000000000"},
		{"overage price a string", "POST", "/v1/admin/tiers", `{"name":"x","limit":1,"per":1,"overage_price_micros":"5"}`, 422,
			"overage_price_micros", "must be an integer in range"},
		{"PATCH overage price fractional", "PATCH", "/v1/admin/tiers/pro", `{"overage_price_micros":1.5}`, 422,
			"overage_price_micros", "must be an integer in range"},
		{"unknown key in a window", "POST", "/v1/admin/tiers", `{"name":"x","limits":[{"limit":1,"per":"month","hard":true}]}`, 400,
			"", `unknown field "limits[0].hard"`},
		{"soft in another case", "PATCH", "/v1/admin/tiers/pro", `{"limits":[{"limit":1,"per":"month","Soft":true}]}`, 400,
			"", `unknown field "limits[0].Soft"`},
		{"soft twice", "POST", "/v1/admin/tiers", `{"name":"x","limits":[{"limit":1,"per":"month","soft":true,"soft":false}]}`, 400,
			"", `duplicate field "limits[0].soft"`},
		{"soft at the top level", "POST", "/v1/admin/tiers", `{"name":"x","limit":1,"per":"month","soft":true}`, 400,
			"", `unknown field "soft"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustStatus(t, do(t, tc.method, inst.URL+tc.path, admin, tc.body, "Content-Type", "application/json"), tc.status)
			var e ErrorBody
			r.decode(t, &e)
			switch {
			case tc.field == "" && (e.Error.Code != CodeBadRequest || e.Error.Message != tc.message):
				t.Errorf("body %s, want 400 %q", r.Body, tc.message)
			case tc.field != "" && (e.Error.Code != CodeInvalid || e.Error.Fields[tc.field] != tc.message):
				t.Errorf("body %s, want 422 naming %s: %q", r.Body, tc.field, tc.message)
			}
		})
	}
	if after := snapshot(); after != before {
		t.Fatalf("bad input changed data:\nbefore %s\nafter  %s", before, after)
	}
}

// LimitOf hands the limiter the soft month, and a tier that did not change
// costs no allocation. Not parallel: AllocsPerRun counts every goroutine.
func TestLimitOf_CopiesSoft(t *testing.T) {
	tier := tiers.Tier{Name: "soft-limitof", Windows: []tiers.Window{{Limit: 20, Per: time.Second}, {Limit: 1000, Per: tiers.Month, Soft: true}}}
	got := LimitOf(tier, 15)
	want := []quota.Window{{Requests: 20, Per: time.Second}, {Requests: 1000, Per: quota.Month, Soft: true}}
	if len(got.Windows) != len(want) || got.Windows[0] != want[0] || got.Windows[1] != want[1] || got.AnchorDay != 15 {
		t.Errorf("LimitOf = %+v, want windows %+v on day 15", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("LimitOf gave an invalid limit: %v", err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = LimitOf(tier, 15) }); n != 0 {
		t.Errorf("LimitOf allocates %v times per call, want 0", n)
	}
	hard := tiers.Tier{Name: "soft-limitof", Windows: []tiers.Window{{Limit: 20, Per: time.Second}, {Limit: 1000, Per: tiers.Month}}}
	if got := LimitOf(hard, 15); got.Windows[1].Soft {
		t.Errorf("LimitOf of the tier made hard = %+v, want the month hard", got.Windows)
	}
}

// containsTier reports whether list holds want.
func containsTier(list []TierView, want TierView) bool {
	for _, v := range list {
		if v.Name == want.Name {
			return sameTier(v, want)
		}
	}
	return false
}
