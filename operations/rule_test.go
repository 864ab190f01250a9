package operations

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestRule_Validate(t *testing.T) {
	t.Parallel()
	ok := Rule{Name: "search", Method: "GET", Path: "/v1/search/*", Cost: 5}
	for _, tc := range []struct {
		name   string
		edit   func(*Rule)
		fields []string
	}{
		{"valid", func(*Rule) {}, nil},
		{"any method, exact path, free", func(r *Rule) { r.Method, r.Path, r.Cost = "*", "/v1/search", 0 }, nil},
		{"catch-all", func(r *Rule) { r.Path = "/*" }, nil},
		{"root", func(r *Rule) { r.Path = "/" }, nil},
		{"max cost", func(r *Rule) { r.Cost = MaxCost }, nil},
		{"bad name", func(r *Rule) { r.Name = "Search" }, []string{"name"}},
		{"empty name", func(r *Rule) { r.Name = "" }, []string{"name"}},
		{"lower-case method", func(r *Rule) { r.Method = "get" }, []string{"method"}},
		{"empty method", func(r *Rule) { r.Method = "" }, []string{"method"}},
		{"relative path", func(r *Rule) { r.Path = "v1/search" }, []string{"path"}},
		{"query string", func(r *Rule) { r.Path = "/v1/search?q=1" }, []string{"path"}},
		{"fragment", func(r *Rule) { r.Path = "/v1/search#x" }, []string{"path"}},
		{"space", func(r *Rule) { r.Path = "/v1/a b" }, []string{"path"}},
		{"star inside", func(r *Rule) { r.Path = "/v1/*/items" }, []string{"path"}},
		{"star without slash", func(r *Rule) { r.Path = "/v1/search*" }, []string{"path"}},
		{"non-ASCII", func(r *Rule) { r.Path = "/v1/café" }, []string{"path"}},
		{"too long", func(r *Rule) { r.Path = "/" + strings.Repeat("a", MaxPathLen) }, []string{"path"}},
		{"negative cost", func(r *Rule) { r.Cost = -1 }, []string{"cost"}},
		{"huge cost", func(r *Rule) { r.Cost = MaxCost + 1 }, []string{"cost"}},
		{"all wrong", func(r *Rule) { *r = Rule{Cost: -1} }, []string{"cost", "method", "name", "path"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := ok
			tc.edit(&r)
			err := r.Validate()
			if got := fieldsOf(t, err); !slices.Equal(got, tc.fields) {
				t.Errorf("Validate(%+v) fields = %v (%v), want %v", r, got, err, tc.fields)
			}
		})
	}
}

// fieldsOf returns the sorted fields of a *ValidationError, nil for nil.
func fieldsOf(tb testing.TB, err error) []string {
	tb.Helper()
	if err == nil {
		return nil
	}
	var v *ValidationError
	if !errors.As(err, &v) {
		tb.Fatalf("error %v is not a *ValidationError", err)
	}
	return slices.Sorted(maps.Keys(v.Fields))
}
