package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	root "github.com/quotad/quotad"
	"github.com/quotad/quotad/internal/testenv"
)

// TestDocs_RendersEveryRoute: /docs, in a real browser, shows one
// operation for each operation of the embedded openapi.yaml and no other,
// on a desktop and on a phone viewport, under a CSP that names no other
// host; the page loads nothing from elsewhere and breaks no rule of its
// CSP (the harness checks both).
func TestDocs_RendersEveryRoute(t *testing.T) {
	t.Parallel()
	rs := testenv.StartRedis(t)
	q := startQuotad(t, env(database(t), rs.URL()))
	want := specOperations(t)

	for _, view := range []struct {
		name          string
		width, height int
		screenshot    string
	}{
		{"desktop", 1280, 900, "docs"},
		{"phone", 390, 844, ""},
	} {
		t.Run(view.name, func(t *testing.T) {
			t.Parallel()
			b := newBrowser(t, q, view.width, view.height)
			resp := b.navigate("/docs")
			if resp.Status != 200 {
				t.Fatalf("/docs: status %d", resp.Status)
			}
			checkCSP(t, header(resp.Headers, "Content-Security-Policy"))
			b.waitVisible(`#reference[data-rendered="true"] .opblock`)

			got := evaluate[[]string](b, `Array.from(document.querySelectorAll("#reference .opblock"), (o) => {
				const m = o.querySelector(".opblock-summary-method");
				const p = o.querySelector(".opblock-summary-path");
				return (m ? m.textContent.trim() : "?") + " " + (p ? (p.dataset.path || p.textContent.trim()) : "?");
			})`)
			// An operation under two tags is shown twice; that is no extra.
			slices.Sort(got)
			got = slices.Compact(got)
			if missing, extra := diff(want, got); len(missing)+len(extra) > 0 {
				t.Errorf("/docs shows %d operations, openapi.yaml has %d\nnot shown: %v\nnot in openapi.yaml: %v",
					len(got), len(want), missing, extra)
			}

			// On a phone the page must fit the screen: nothing to scroll
			// sideways for, the first operation in view.
			if overflow := evaluate[int](b, `document.documentElement.scrollWidth - window.innerWidth`); overflow > 0 {
				t.Errorf("/docs is %d px wider than the %d px viewport", overflow, view.width)
			}
			b.waitVisible(".opblock .opblock-summary-method")
			if view.screenshot != "" {
				// The operations, not the long description above them.
				evaluate[bool](b, `document.querySelector("#reference .opblock-tag-section").scrollIntoView(), true`)
				b.screenshot(t, view.screenshot)
			}
		})
	}
}

// specOperations returns "METHOD /path" for every operation of the
// embedded openapi.yaml, sorted.
func specOperations(t *testing.T) []string {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(root.OpenAPI)
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	var ops []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, strings.ToUpper(method)+" "+path)
		}
	}
	if len(ops) == 0 {
		t.Fatal("openapi.yaml has no operations")
	}
	slices.Sort(ops)
	return ops
}

// diff returns what of the sorted want is not in the sorted got, and the
// reverse.
func diff(want, got []string) (missing, extra []string) {
	for _, w := range want {
		if _, found := slices.BinarySearch(got, w); !found {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if _, found := slices.BinarySearch(want, g); !found {
			extra = append(extra, g)
		}
	}
	return missing, extra
}

// header returns the value of a response header as the browser reports
// it, whatever the case of its name.
func header(h map[string]any, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return fmt.Sprint(v)
		}
	}
	return ""
}

// checkCSP fails unless csp starts with default-src 'self' and every
// source it allows is 'self', 'none' or data:, so no host is named.
func checkCSP(t *testing.T, csp string) {
	t.Helper()
	if !strings.HasPrefix(csp, "default-src 'self'") {
		t.Fatalf("Content-Security-Policy %q does not start with default-src 'self'", csp)
	}
	for directive := range strings.SplitSeq(csp, ";") {
		fields := strings.Fields(directive)
		if len(fields) == 0 {
			continue
		}
		for _, source := range fields[1:] {
			switch source {
			case "'self'", "'none'", "data:":
			default:
				t.Errorf("Content-Security-Policy directive %q allows %q", fields[0], source)
			}
		}
	}
}
