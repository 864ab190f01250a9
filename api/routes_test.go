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
