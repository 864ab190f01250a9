package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestChain: route middleware composed once at mounting runs in Echo's
// order, the first outermost, and each middleware is applied once, not per
// request.
func TestChain(t *testing.T) {
	var order []string
	applied := 0
	mw := func(name string) echo.MiddlewareFunc {
		return func(next echo.HandlerFunc) echo.HandlerFunc {
			applied++
			return func(c echo.Context) error {
				order = append(order, name)
				return next(c)
			}
		}
	}
	h := chain(func(echo.Context) error { order = append(order, "handler"); return nil }, mw("a"), mw("b"))
	e := echo.New()
	for range 3 {
		order = order[:0]
		c := e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
		if err := h(c); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(order, ","); got != "a,b,handler" {
			t.Fatalf("order %s, want a,b,handler", got)
		}
	}
	if applied != 2 {
		t.Fatalf("middleware applied %d times, want 2 (once each)", applied)
	}
}

// TestRoutes_HeadAnswersLikeGet: every GET route answers HEAD with the
// GET's status and headers and no body, and no GET route is mounted
// without its HEAD.
func TestRoutes_HeadAnswersLikeGet(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	admin := token(t, "admin", true)
	mustStatus(t, do(t, http.MethodPut, inst.URL+"/v1/admin/clients/c1", admin, map[string]string{"tier": "free"}), http.StatusOK)
	for _, tc := range []struct {
		path, tok string
		stable    bool // the body is the same on every call, so its length is too
	}{
		{"/rate-limited", "", true},
		{"/v1/quota", token(t, "c1", false), false},
		{"/v1/tiers", "", true},
		{"/v1/admin/tiers", admin, true},
		{"/v1/admin/tiers/free", admin, true},
		{"/v1/admin/tiers/none-such", admin, true},
		{"/v1/admin/clients", admin, true},
		{"/v1/admin/clients/c1", admin, true},
		{"/v1/admin/clients/c1", "", true},
		{"/v1/admin/clients/c1/quota", admin, false},
		{"/healthz", "", true},
		{"/readyz", "", true},
		{"/metrics", "", false},
		{"/openapi.yaml", "", true},
	} {
		get := do(t, http.MethodGet, inst.URL+tc.path, tc.tok, nil)
		head := do(t, http.MethodHead, inst.URL+tc.path, tc.tok, nil)
		where := "HEAD " + tc.path
		if head.StatusCode != get.StatusCode || head.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
			t.Errorf("%s: %d %q, want GET's %d %q", where, head.StatusCode, head.Header.Get("Content-Type"), get.StatusCode, get.Header.Get("Content-Type"))
		}
		if len(head.Body) != 0 {
			t.Errorf("%s: a body of %d bytes", where, len(head.Body))
		}
		if tc.stable && head.ContentLength != int64(len(get.Body)) {
			t.Errorf("%s: Content-Length %d, want GET's %d", where, head.ContentLength, len(get.Body))
		}
	}

	e := inst.srv.Config.Handler.(*echo.Echo)
	head := map[string]bool{}
	for _, r := range e.Routes() {
		if r.Method == http.MethodHead {
			head[r.Path] = true
		}
	}
	for _, r := range e.Routes() {
		if r.Method == http.MethodGet && !head[r.Path] {
			t.Errorf("GET %s has no HEAD", r.Path)
		}
	}
}
