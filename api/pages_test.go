package api

import (
	"net/http"
	"sync/atomic"
	"testing"
)

// raw sends a request the API's contract does not cover (the pages are
// not in openapi.yaml) and returns its status.
func raw(t *testing.T, method, url string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestPages_MountedOnlyWhenGiven: with Config.Pages, the page paths and
// /ui/ files reach it for GET and HEAD (other methods are 405, as on any
// route), and API routes do not; without it those paths are 404.
func TestPages_MountedOnlyWhenGiven(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	var seen atomic.Int64
	pages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		w.WriteHeader(http.StatusTeapot)
	})
	with := b.start(t, instanceOpts{configure: func(c *Config) { c.Pages = pages }})
	for _, path := range []string{"/console", "/console/", "/portal/", "/docs", "/ui/lib/api.js"} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			if code := raw(t, method, with.URL+path); code != http.StatusTeapot {
				t.Errorf("%s %s: %d, want the pages handler's 418", method, path, code)
			}
		}
	}
	if code := raw(t, http.MethodPost, with.URL+"/console/"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /console/: %d, want 405", code)
	}
	if r := do(t, http.MethodGet, with.URL+"/v1/tiers", "", nil); r.StatusCode != http.StatusOK {
		t.Errorf("GET /v1/tiers with pages mounted: %d", r.StatusCode)
	}
	if n := seen.Load(); n != 10 {
		t.Errorf("the pages handler saw %d requests, want 10", n)
	}

	without := b.start(t, instanceOpts{})
	for _, path := range []string{"/console/", "/docs", "/ui/lib/api.js"} {
		if code := raw(t, http.MethodGet, without.URL+path); code != http.StatusNotFound {
			t.Errorf("GET %s without pages: %d, want 404", path, code)
		}
	}
}
