package console

import (
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

func serve(t *testing.T, method, target string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	h, err := Handler()
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestHandler_PagesCarryTheStrictCSP: every page and file is served with
// the policy that keeps the browser on quotad's own origin.
func TestHandler_PagesCarryTheStrictCSP(t *testing.T) {
	if !strings.HasPrefix(csp, "default-src 'self';") || strings.Contains(csp, "http") || strings.Contains(csp, "unsafe") {
		t.Fatalf("csp %q: want default-src 'self', no other host, nothing unsafe", csp)
	}
	for _, target := range []string{"/console/", "/portal/", "/docs", "/ui/lib/style.css", "/ui/console/app.js", "/ui/vendor/uplot/uPlot.iife.min.js"} {
		rec := serve(t, http.MethodGet, target, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", target, rec.Code)
		}
		if got := rec.Header().Get("Content-Security-Policy"); got != csp {
			t.Errorf("GET %s: csp %q", target, got)
		}
		if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q", target, got)
		}
	}
	if ct := serve(t, http.MethodGet, "/console/", nil).Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("/console/ Content-Type %q", ct)
	}
	if ct := serve(t, http.MethodGet, "/ui/console/app.js", nil).Header().Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Errorf("app.js Content-Type %q: module scripts need a JavaScript type", ct)
	}
}

// TestHandler_Paths: the bare page paths redirect to their slash form,
// pages are not reachable under /ui/, unknown files are 404, and only GET
// and HEAD are answered.
func TestHandler_Paths(t *testing.T) {
	for _, tc := range []struct {
		method, target string
		status         int
		location       string
	}{
		{http.MethodGet, "/console", http.StatusMovedPermanently, "/console/"},
		{http.MethodGet, "/portal", http.StatusMovedPermanently, "/portal/"},
		{http.MethodGet, "/ui/console/index.html", http.StatusNotFound, ""},
		{http.MethodGet, "/ui/nothing.js", http.StatusNotFound, ""},
		{http.MethodGet, "/ui/", http.StatusNotFound, ""},
		{http.MethodGet, "/ui/../console.go", http.StatusNotFound, ""},
		{http.MethodPost, "/console/", http.StatusMethodNotAllowed, ""},
	} {
		rec := serve(t, tc.method, tc.target, nil)
		if rec.Code != tc.status || rec.Header().Get("Location") != tc.location {
			t.Errorf("%s %s: %d Location %q, want %d %q", tc.method, tc.target, rec.Code, rec.Header().Get("Location"), tc.status, tc.location)
		}
	}
}

// TestHandler_GzipAndRevalidation: a client that accepts gzip gets the
// smaller body, which decodes to the file; an ETag it already has gets a
// 304 with no body; HEAD has GET's headers.
func TestHandler_GzipAndRevalidation(t *testing.T) {
	const target = "/ui/vendor/swagger-ui-dist/swagger-ui-bundle.js"
	plain := serve(t, http.MethodGet, target, nil)
	zipped := serve(t, http.MethodGet, target, map[string]string{"Accept-Encoding": "br, gzip"})
	if zipped.Header().Get("Content-Encoding") != "gzip" || zipped.Body.Len() >= plain.Body.Len() {
		t.Fatalf("gzip: encoding %q, %d bytes against %d plain", zipped.Header().Get("Content-Encoding"), zipped.Body.Len(), plain.Body.Len())
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil || string(body) != plain.Body.String() {
		t.Fatalf("gzip body does not decode to the file (err %v)", err)
	}
	if serve(t, http.MethodGet, target, map[string]string{"Accept-Encoding": "gzip;q=0"}).Header().Get("Content-Encoding") != "" {
		t.Error("gzip;q=0 was given gzip")
	}
	etag := plain.Header().Get("ETag")
	again := serve(t, http.MethodGet, target, map[string]string{"If-None-Match": etag})
	if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
		t.Errorf("If-None-Match %s: %d with %d bytes, want 304 and none", etag, again.Code, again.Body.Len())
	}
	head := serve(t, http.MethodHead, target, nil)
	if head.Code != http.StatusOK || head.Header().Get("Content-Length") != plain.Header().Get("Content-Length") || head.Body.Len() != 0 {
		t.Errorf("HEAD: %d, Content-Length %q (GET %q), %d body bytes", head.Code, head.Header().Get("Content-Length"), plain.Header().Get("Content-Length"), head.Body.Len())
	}
}

// refs finds what our pages load: src and href in HTML, module imports in JS.
var refs = regexp.MustCompile(`(?:src|href)="([^"#]+)"|(?:import[^"]*from\s*|import\s*)"([^"]+)"`)

// TestWeb_EveryReferenceIsEmbedded: each script, stylesheet and module an
// own page or script names is a file the handler serves, and none names
// another host, so a broken or external reference fails here before any
// browser runs.
func TestWeb_EveryReferenceIsEmbedded(t *testing.T) {
	files, err := load()
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = fs.WalkDir(web, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(p, "web/vendor/") {
			return err
		}
		if ext := path.Ext(p); ext != ".html" && ext != ".js" && ext != ".css" {
			return nil
		}
		body, _ := web.ReadFile(p)
		if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`).Find(body); m != nil {
			t.Errorf("%s names another host: %s", p, m)
		}
		if strings.Contains(string(body), " style=") || strings.Contains(string(body), "<style") {
			t.Errorf("%s has inline style, which the csp refuses", p)
		}
		if path.Ext(p) == ".html" && regexp.MustCompile(`<script>|<script [^>]*>[^<]`).Match(body) {
			t.Errorf("%s has an inline script, which the csp refuses", p)
		}
		for _, m := range refs.FindAllSubmatch(body, -1) {
			ref := string(m[1]) + string(m[2])
			var name string
			switch {
			case strings.HasPrefix(ref, "/ui/"):
				name = strings.TrimPrefix(ref, "/ui/")
			case strings.HasPrefix(ref, "./"), strings.HasPrefix(ref, "../"):
				name = path.Join(path.Dir(strings.TrimPrefix(p, "web/")), ref)
			default:
				continue // a page or API path, not a file
			}
			checked++
			if _, ok := files[name]; !ok {
				t.Errorf("%s refers to %s, which is not embedded", p, ref)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("only %d references checked: the pattern no longer finds them", checked)
	}
}
