package api

import "github.com/labstack/echo/v4"

// mountPages mounts the web pages, when Config.Pages is set: the console,
// the portal and the API reference, and their files under /ui/. They are
// HTML for browsers, which call the API routes with the token pasted in,
// so openapi.yaml, the API's contract, does not list them;
// docs/CONSOLE.md describes them.
func (s *server) mountPages(e *echo.Echo) {
	if s.cfg.Pages == nil {
		return
	}
	pages := echo.WrapHandler(s.cfg.Pages)
	for _, path := range []string{"/console", "/console/", "/portal", "/portal/", "/docs", "/ui/*"} {
		e.GET(path, pages)
		e.HEAD(path, pages)
	}
}
