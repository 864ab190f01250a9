package api

import (
	"net/http"
	"testing"
)

// TestAdmin_PutTierCreatesOrReplaces: PUT stores the tier the path names
// whether or not it exists (201 with a Location the first time, 200 after),
// so a script that sets up a plan can run again unchanged.
func TestAdmin_PutTierCreatesOrReplaces(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	admin := token(t, "root", true)
	url := inst.URL + "/v1/admin/tiers/tiny"
	steps := []struct {
		body       map[string]any
		wantStatus int
		wantLimit  int64
	}{
		{map[string]any{"limit": 3, "per": 60}, http.StatusCreated, 3},
		{map[string]any{"limit": 3, "per": 60}, http.StatusOK, 3},
		{map[string]any{"name": "tiny", "limit": 10, "per": 60}, http.StatusOK, 10},
	}
	for i, s := range steps {
		r := mustStatus(t, do(t, http.MethodPut, url, admin, s.body), s.wantStatus)
		if loc := r.Header.Get("Location"); (s.wantStatus == http.StatusCreated) != (loc == "/v1/admin/tiers/tiny") {
			t.Errorf("PUT %d (%d): Location %q", i+1, s.wantStatus, loc)
		}
		var got TierView
		r.decode(t, &got)
		if got.Name != "tiny" || got.Limit != s.wantLimit {
			t.Errorf("PUT %d answered %+v, want tiny with limit %d", i+1, got, s.wantLimit)
		}
		mustStatus(t, do(t, http.MethodGet, url, admin, nil), http.StatusOK).decode(t, &got)
		if got.Limit != s.wantLimit || got.Per != secs(60) {
			t.Errorf("after PUT %d the tier reads %+v, want limit %d per 60", i+1, got, s.wantLimit)
		}
	}
}
