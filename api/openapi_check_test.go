package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/quotad/quotad"
)

// openAPISpec is openapi.yaml, loaded, validated and routed.
type openAPISpec struct {
	doc    *openapi3.T
	router routers.Router
}

// loadOpenAPI loads the embedded document once for the whole test binary.
// Its servers entry is "/", so the router matches any host and port, and
// the gorillamux router matches escaped paths ("c%2F4") as Echo does.
var loadOpenAPI = sync.OnceValues(func() (*openAPISpec, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(quotad.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml does not load: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapi.yaml is invalid: %w", err)
	}
	router, err := gorillamux.NewRouter(multiSegment(doc))
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: cannot build a router: %w", err)
	}
	return &openAPISpec{doc: doc, router: router}, nil
})

// multiSegment returns doc for routing, with the path parameter of
// /v1/authorize/{path} spanning segments, as Envoy's whole original path
// does: OpenAPI 3.0 cannot say so, gorilla/mux's {path:.*} can. doc itself
// stays as written.
func multiSegment(doc *openapi3.T) *openapi3.T {
	const from, to = "/v1/authorize/{path}", "/v1/authorize/{path:.*}"
	item := doc.Paths.Value(from)
	if item == nil {
		return doc
	}
	routed := *doc
	routed.Paths = openapi3.NewPaths()
	for p, it := range doc.Paths.Map() {
		if p == from {
			p = to
		}
		routed.Paths.Set(p, it)
	}
	return &routed
}

func openAPISpecFor(tb testing.TB) *openAPISpec {
	tb.Helper()
	spec, err := loadOpenAPI()
	if err != nil {
		tb.Fatal(err)
	}
	return spec
}

// responseOptions check every status, header and body, not requests: the
// request was sent already, and bad requests are tested on purpose.
var responseOptions = &openapi3filter.Options{
	IncludeResponseStatus: true,
	ExcludeRequestBody:    true,
	MultiError:            true,
}

// checkOpenAPI validates a real response against openapi.yaml: its status
// must be documented for the route, its body must match the schema and its
// required headers must be present. Two exchanges the document cannot
// describe are checked by hand instead: a path it does not know must answer
// 404 with the error envelope, and a method a path does not declare must
// answer 405 as documented on the path's other operations (or, for OPTIONS,
// 204 with Allow).
func checkOpenAPI(tb testing.TB, req *http.Request, r response) {
	tb.Helper()
	spec := openAPISpecFor(tb)
	where := fmt.Sprintf("%s %s → %d", req.Method, req.URL.RequestURI(), r.StatusCode)

	route, params, err := spec.router.FindRoute(req)
	switch {
	case errors.Is(err, routers.ErrPathNotFound):
		if r.StatusCode != http.StatusNotFound {
			tb.Fatalf("openapi: %s: route not found in openapi.yaml (the server answered %d, so the path exists)", where, r.StatusCode)
		}
		spec.checkEnvelope(tb, where, r)
		return
	case errors.Is(err, routers.ErrMethodNotAllowed):
		if req.Method == http.MethodOptions && r.StatusCode == http.StatusNoContent && r.Header.Get("Allow") != "" {
			return
		}
		if r.StatusCode != http.StatusMethodNotAllowed {
			tb.Fatalf("openapi: %s: method not declared in openapi.yaml, but the server did not answer 405", where)
		}
		route, params = spec.sibling(tb, where, req)
	case err != nil:
		tb.Fatalf("openapi: %s: %v", where, err)
	}

	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: params,
			Route:      route,
			Options:    responseOptions,
		},
		Status:  r.StatusCode,
		Header:  r.Header,
		Options: responseOptions,
	}
	input.SetBodyBytes(r.Body)
	if err := openapi3filter.ValidateResponse(tb.Context(), input); err != nil {
		tb.Fatalf("openapi: %s does not conform to openapi.yaml: %v\nbody: %s", where, err, excerpt(r.Body))
	}
	// ValidateResponse skips the body when the document declares none, so
	// a 204 that grew a body would pass unnoticed.
	if ref := route.Operation.Responses.Status(r.StatusCode); ref != nil && len(ref.Value.Content) == 0 && len(r.Body) > 0 {
		tb.Fatalf("openapi: %s: openapi.yaml declares no body, the server sent %s", where, excerpt(r.Body))
	}
}

// sibling returns another operation of the path req names, for a request
// whose method the path does not declare; its 405 response applies.
func (s *openAPISpec) sibling(tb testing.TB, where string, req *http.Request) (*routers.Route, map[string]string) {
	tb.Helper()
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		probe := req.Clone(req.Context())
		probe.Method = m
		if route, params, err := s.router.FindRoute(probe); err == nil {
			r := *route
			r.Method = req.Method
			return &r, params
		}
	}
	tb.Fatalf("openapi: %s: no operation of the path is declared", where)
	return nil, nil
}

// checkEnvelope checks that r is the JSON error envelope.
func (s *openAPISpec) checkEnvelope(tb testing.TB, where string, r response) {
	tb.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Fatalf("openapi: %s: Content-Type %q, want the JSON error envelope", where, ct)
	}
	var body any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		tb.Fatalf("openapi: %s: body is not JSON: %v\nbody: %s", where, err, excerpt(r.Body))
	}
	if err := s.doc.Components.Schemas["Error"].Value.VisitJSON(body, openapi3.VisitAsResponse()); err != nil {
		tb.Fatalf("openapi: %s: body is not the error envelope: %v\nbody: %s", where, err, excerpt(r.Body))
	}
}

func excerpt(b []byte) string {
	const n = 500
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

func TestOpenAPI_DocumentValid(t *testing.T) {
	t.Parallel()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(quotad.OpenAPI)
	if err != nil {
		t.Fatalf("openapi.yaml does not load: %v", err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("openapi.yaml is invalid: %v", err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi %q, want 3.0.3 (which kin-openapi validates fully)", doc.OpenAPI)
	}
	if _, err := gorillamux.NewRouter(doc); err != nil {
		t.Fatalf("openapi.yaml: cannot build a router: %v", err)
	}
}

// TestOpenAPI_ErrorEnvelope: every error response of every operation is the
// one envelope (readiness reports its own body on 503 by design, and a
// HEAD answer has no body at all), and the envelope's code enum is exactly
// the Code* constants of errors.go.
func TestOpenAPI_ErrorEnvelope(t *testing.T) {
	t.Parallel()
	doc := openAPISpecFor(t).doc
	const envelope = "#/components/schemas/Error"
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if method == http.MethodHead {
				continue
			}
			for status, ref := range op.Responses.Map() {
				if n, err := strconv.Atoi(status); err != nil || n < 400 || path == "/readyz" && n == http.StatusServiceUnavailable {
					continue
				}
				mt := ref.Value.Content.Get("application/json")
				if len(ref.Value.Content) != 1 || mt == nil || mt.Schema == nil || mt.Schema.Ref != envelope {
					t.Errorf("%s %s %s: the response is not the error envelope %s", method, path, status, envelope)
				}
			}
		}
	}

	var documented []string
	for _, v := range doc.Components.Schemas["ErrorCode"].Value.Enum {
		documented = append(documented, fmt.Sprint(v))
	}
	var defined []string
	for name, value := range stringConsts(t, "errors.go") {
		if strings.HasPrefix(name, "Code") {
			defined = append(defined, value)
		}
	}
	slices.Sort(documented)
	slices.Sort(defined)
	if !slices.Equal(documented, defined) {
		t.Errorf("ErrorCode enum %q, want the Code* constants %q", documented, defined)
	}
}

// stringConsts returns the string constants declared in a file of this
// package.
func stringConsts(tb testing.TB, file string) map[string]string {
	tb.Helper()
	f, err := parser.ParseFile(gotoken.NewFileSet(), file, nil, 0)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]string{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != gotoken.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == gotoken.STRING {
					out[name.Name], _ = strconv.Unquote(lit.Value)
				}
			}
		}
	}
	return out
}

// TestOpenAPI_CoversEveryRoute compares the routes registered in routes.go
// (read from its syntax tree, so no server is needed) with the operations
// of openapi.yaml, both ways.
func TestOpenAPI_CoversEveryRoute(t *testing.T) {
	t.Parallel()
	fset := gotoken.NewFileSet()
	f, err := parser.ParseFile(fset, "routes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	httpMethods := []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE"}
	// Echo methods that register routes in a way this test cannot read.
	opaque := []string{"Any", "Match", "Add", "Group", "Static", "File", "RouteNotFound", "Host"}
	inCode := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if _, ok := sel.X.(*ast.Ident); !ok {
			return true
		}
		method, pos := sel.Sel.Name, fset.Position(call.Pos())
		if slices.Contains(opaque, method) {
			t.Errorf("%s: %s registers routes this test cannot read; use e.GET, e.POST …", pos, method)
			return true
		}
		if !slices.Contains(httpMethods, method) || len(call.Args) == 0 {
			return true
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok || lit.Kind != gotoken.STRING {
			t.Errorf("%s: %s route path is not a string literal", pos, method)
			return true
		}
		path, _ := strconv.Unquote(lit.Value)
		inCode[method+" "+openAPIPath(path)] = true
		return true
	})
	if len(inCode) == 0 {
		t.Fatal("found no route registrations in routes.go")
	}

	inSpec := map[string]bool{}
	for path, item := range openAPISpecFor(t).doc.Paths.Map() {
		for method := range item.Operations() {
			inSpec[strings.ToUpper(method)+" "+path] = true
		}
	}
	for _, r := range sortedKeys(inCode) {
		if !inSpec[r] {
			t.Errorf("%s is served (routes.go) but not described in openapi.yaml", r)
		}
	}
	for _, r := range sortedKeys(inSpec) {
		if !inCode[r] {
			t.Errorf("%s is described in openapi.yaml but not served (routes.go)", r)
		}
	}
}

// openAPIPath turns an Echo route path into an OpenAPI one:
// /v1/admin/tiers/:name → /v1/admin/tiers/{name}, /v1/authorize/* →
// /v1/authorize/{path}.
func openAPIPath(echoPath string) string {
	segs := strings.Split(echoPath, "/")
	for i, s := range segs {
		if name, ok := strings.CutPrefix(s, ":"); ok {
			segs[i] = "{" + name + "}"
		}
		if s == "*" { // the rest of the path, as /v1/authorize/* takes it
			segs[i] = "{path}"
		}
	}
	return strings.Join(segs, "/")
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
