package operations

import (
	"cmp"
	"slices"
	"strings"
)

// table answers Cost for one set of rules. It is built once per change and
// never modified, so lookups read it without locks, and a lookup only
// indexes maps and compares strings: it allocates nothing.
type table struct {
	// byMethod holds the rules of each method named by some rule, merged
	// with the AnyMethod rules; anyMethod holds those alone, for every
	// other method.
	byMethod  map[string]*matcher
	anyMethod matcher
}

// matcher is the rules that apply to one method.
type matcher struct {
	exact map[string]int64 // path → cost
	// prefixes are sorted longest first; of one prefix only the rule of
	// the more specific method is kept.
	prefixes []prefixRule
}

type prefixRule struct {
	prefix string // the pattern without its "*": "/v1/search/"
	cost   int64
}

// newTable indexes rules.
func newTable(rules []Rule) *table {
	t := &table{byMethod: map[string]*matcher{}}
	var anyRules []Rule
	named := map[string][]Rule{}
	for _, r := range rules {
		if r.Method == AnyMethod {
			anyRules = append(anyRules, r)
		} else {
			named[r.Method] = append(named[r.Method], r)
		}
	}
	t.anyMethod = newMatcher(nil, anyRules)
	for m, rs := range named {
		mt := newMatcher(rs, anyRules)
		t.byMethod[m] = &mt
	}
	return t
}

// newMatcher indexes a method's own rules over the AnyMethod ones: where
// both have a pattern, the method's wins.
func newMatcher(own, anyRules []Rule) matcher {
	m := matcher{exact: map[string]int64{}}
	seen := map[string]bool{}
	for _, r := range slices.Concat(own, anyRules) {
		if seen[r.Path] {
			continue // the method's own rule came first
		}
		seen[r.Path] = true
		if p, ok := strings.CutSuffix(r.Path, "*"); ok {
			m.prefixes = append(m.prefixes, prefixRule{prefix: p, cost: r.Cost})
		} else {
			m.exact[r.Path] = r.Cost
		}
	}
	slices.SortStableFunc(m.prefixes, func(a, b prefixRule) int {
		return cmp.Compare(len(b.prefix), len(a.prefix))
	})
	return m
}

// cost returns what a request costs under t (see Cache.Cost).
func (t *table) cost(method, path string) int64 {
	m := &t.anyMethod
	if mm, ok := t.byMethod[method]; ok {
		m = mm
	}
	if c, ok := m.exact[path]; ok {
		return c
	}
	for _, p := range m.prefixes {
		if strings.HasPrefix(path, p.prefix) {
			return p.cost
		}
	}
	return DefaultCost
}
