// Package console serves quotad's web pages: the admin console at
// /console/, the consumer portal at /portal/ and the API reference at
// /docs, with the scripts, styles and vendored libraries they load under
// /ui/. Every file is embedded in the binary, so the pages load nothing
// from any other host, and every response carries a Content-Security-Policy
// that says so to the browser.
//
// The pages are plain HTML and JavaScript modules (web/): no build step,
// so `go build` needs no npm. The vendored parts (uPlot for charts,
// Swagger UI for /docs) are written by vendor.sh at pinned versions.
package console

import (
	"compress/gzip"
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/quotad/quotad/internal/staticfile"
)

//go:embed web
var web embed.FS

// csp is the Content-Security-Policy of every page and file: everything
// from quotad's own origin only; no inline script or style, no plugins,
// no framing, forms posting nowhere else. Images may be data: URLs, which
// Swagger UI uses for its icons.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// pages maps each page's path to its HTML file in web/.
var pages = map[string]string{
	"/console/": "console/index.html",
	"/portal/":  "portal/index.html",
	"/docs":     "docs/index.html",
}

// load prepares every embedded file once per process. Pages and files
// are revalidated on every load (no-cache): a new release's files are
// used at once, and an unchanged file costs a 304.
var load = sync.OnceValues(func() (map[string]*staticfile.File, error) {
	files := map[string]*staticfile.File{}
	err := fs.WalkDir(web, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := web.ReadFile(p)
		if err != nil {
			return err
		}
		contentType := mime.TypeByExtension(path.Ext(p))
		if contentType == "" {
			contentType = "application/octet-stream"
		}
		f, err := staticfile.New(body, contentType, "no-cache", gzip.BestSpeed)
		if err != nil {
			return err
		}
		files[strings.TrimPrefix(p, "web/")] = f
		return nil
	})
	return files, err
})

// Handler answers GET and HEAD for the pages and their files, and 404 for
// any other path under /ui/; /console and /portal redirect to the same
// path with a slash. Mount it on /console, /console/, /portal, /portal/,
// /docs and /ui/*.
func Handler() (http.Handler, error) {
	files, err := load()
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := r.URL.Path
		if p == "/console" || p == "/portal" {
			http.Redirect(w, r, p+"/", http.StatusMovedPermanently)
			return
		}
		name, ok := pages[p]
		if !ok {
			rest, under := strings.CutPrefix(p, "/ui/")
			if !under || strings.HasSuffix(rest, ".html") {
				http.NotFound(w, r)
				return
			}
			name = rest
		}
		f, ok := files[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		f.ServeHTTP(w, r)
	}), nil
}
