package operations

import (
	"testing"
)

func TestCost_MostSpecificRuleWins(t *testing.T) {
	t.Parallel()
	rules := []Rule{
		{Name: "search-get", Method: "GET", Path: "/v1/search/*", Cost: 5},
		{Name: "search-any", Method: AnyMethod, Path: "/v1/search/*", Cost: 7},
		{Name: "search-deep", Method: AnyMethod, Path: "/v1/search/deep/*", Cost: 9},
		{Name: "search-exact", Method: AnyMethod, Path: "/v1/search/fast", Cost: 2},
		{Name: "search-root", Method: "POST", Path: "/v1/search", Cost: 3},
		{Name: "v1", Method: AnyMethod, Path: "/v1/*", Cost: 4},
		{Name: "free", Method: "GET", Path: "/v1/health", Cost: 0},
		{Name: "export-post", Method: "POST", Path: "/v1/export/*", Cost: 100},
	}
	tab := newTable(rules)
	for _, tc := range []struct {
		method, path string
		want         int64
	}{
		{"GET", "/v1/search/x", 5},           // a method over *, same pattern
		{"POST", "/v1/search/x", 7},          // no POST rule of it: *
		{"GET", "/v1/search/deep/x", 9},      // longer prefix over a method's shorter
		{"GET", "/v1/search/fast", 2},        // exact path over any prefix
		{"DELETE", "/v1/search/fast", 2},     // a * exact path for a method no rule names
		{"POST", "/v1/search", 3},            // exact, its method
		{"GET", "/v1/search", 4},             // "/v1/search/*" needs the slash
		{"GET", "/v1/search/", 5},            // … and matches it alone
		{"GET", "/v1/health", 0},             // free
		{"HEAD", "/v1/health", 4},            // exact rule of another method: the * prefix
		{"POST", "/v1/export/a", 100},        // a method's prefix
		{"GET", "/v1/export/a", 4},           // not for another method
		{"GET", "/v2/anything", DefaultCost}, // no match
		{"GET", "/v1/search/x?q=1", 5},       // a query string is the caller's to strip …
		{"GET", "/v1/search?q=1", 4},         // … or it is matched as path bytes
		{"get", "/v1/search/x", 7},           // methods are upper case; others are only *
		{"GET", "", DefaultCost},             //
		{"GET", "/V1/search/x", DefaultCost}, // paths are case-sensitive
	} {
		if got := tab.cost(tc.method, tc.path); got != tc.want {
			t.Errorf("cost(%s %s) = %d, want %d", tc.method, tc.path, got, tc.want)
		}
	}
}

func TestCost_CatchAllAndEmpty(t *testing.T) {
	t.Parallel()
	if got := newTable(nil).cost("GET", "/x"); got != DefaultCost {
		t.Errorf("no rules: cost = %d, want %d", got, DefaultCost)
	}
	tab := newTable([]Rule{
		{Name: "all", Method: AnyMethod, Path: "/*", Cost: 3},
		{Name: "gets", Method: "GET", Path: "/*", Cost: 2},
		{Name: "a", Method: AnyMethod, Path: "/a/*", Cost: 8},
	})
	for _, tc := range []struct {
		method, path string
		want         int64
	}{
		{"POST", "/anything", 3},
		{"GET", "/anything", 2},
		{"GET", "/a/b", 8}, // a longer prefix of * beats a method's shorter one
		{"GET", "/", 2},
	} {
		if got := tab.cost(tc.method, tc.path); got != tc.want {
			t.Errorf("cost(%s %s) = %d, want %d", tc.method, tc.path, got, tc.want)
		}
	}
}

func TestCost_DoesNotAllocate(t *testing.T) {
	c := NewCache(nil, nil)
	c.table.Store(newTable(benchRules()))
	allocs := testing.AllocsPerRun(100, func() {
		_ = c.Cost("GET", "/v1/search/items/42")
		_ = c.Cost("PATCH", "/v9/nothing/matches/this")
	})
	if allocs != 0 {
		t.Errorf("Cost allocates %v times per call", allocs)
	}
}

// benchRules are a plausible API's rules: a few dozen, mixed.
func benchRules() []Rule {
	var rs []Rule
	for i, p := range []string{"/v1/search/*", "/v1/items/*", "/v1/export/*", "/v1/users/*", "/v1/orders/*",
		"/v1/search/items/*", "/v1/reports/*", "/v1/admin/*", "/v1/*", "/v2/*"} {
		rs = append(rs, Rule{Name: "p" + string(rune('a'+i)), Method: AnyMethod, Path: p, Cost: int64(i)})
		rs = append(rs, Rule{Name: "g" + string(rune('a'+i)), Method: "GET", Path: p, Cost: int64(i + 10)})
		rs = append(rs, Rule{Name: "e" + string(rune('a'+i)), Method: "POST", Path: p[:len(p)-2], Cost: int64(i + 20)})
	}
	return rs
}

func BenchmarkCache_Cost(b *testing.B) {
	c := NewCache(nil, nil)
	c.table.Store(newTable(benchRules()))
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Cost("GET", "/v1/search/items/42")
	}
}
