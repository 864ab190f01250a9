package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestBrowser_RecordsForeignRequestsAndErrors: the harness sees what its
// cleanup fails tests for (a request to another host, console.error, an
// uncaught exception, a CSP violation), so a page test that passes is not
// passing because the browser went unwatched. The pages are data: URLs,
// which no CSP of quotad's governs; what was recorded is cleared at the
// end so this test's own cleanup passes.
func TestBrowser_RecordsForeignRequestsAndErrors(t *testing.T) {
	t.Parallel()
	b := openBrowser(t, "http://127.0.0.1:1", 800, 600)

	b.navigate("data:text/html," + url.PathEscape(`<img src="http://127.0.0.2:9/elsewhere.png">`+
		`<script>console.error("logged-error");</script><script>throw new Error("thrown-error");</script>`))
	b.navigate("data:text/html," + url.PathEscape(`<meta http-equiv="Content-Security-Policy" content="script-src 'none'">`+
		`<script>document.title = "ran";</script><p id="done">done</p>`))
	b.waitVisible("#done")

	if f := b.foreign(); !slices.Contains(f, "http://127.0.0.2:9/elsewhere.png") {
		t.Errorf("request to another host not flagged; foreign = %v, all = %v", f, b.requestURLs())
	}
	b.mu.Lock()
	problems := strings.Join(b.problems, "\n")
	b.problems, b.requests = nil, nil
	b.mu.Unlock()
	for _, want := range []string{"logged-error", "thrown-error", "violates the following Content Security Policy directive"} {
		if !strings.Contains(problems, want) {
			t.Errorf("problem %q not recorded; recorded:\n%s", want, problems)
		}
	}
}

// TestBrowser_Actions: the helpers page tests drive pages with act on a
// page of the browser's own origin: storage set before load, typing,
// setting a value, a click, reading text, waiting for an element to go.
func TestBrowser_Actions(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `<!doctype html><input id="typed"><input id="set"><button id="go">go</button>
<p id="out"></p><p id="gone">here</p><script>
document.getElementById("go").addEventListener("click", () => {
  document.getElementById("out").textContent = [document.getElementById("typed").value,
    document.getElementById("set").value, sessionStorage.getItem("token")].join("|");
  document.getElementById("gone").remove();
});
</script>`)
	}))
	t.Cleanup(srv.Close)
	b := openBrowser(t, srv.URL, 800, 600)
	b.setSessionStorage(map[string]string{"token": "from-storage"})
	b.navigate("/")
	b.typeInto("#typed", "typed-text")
	b.setValue("#set", "set-value")
	b.click("#go")
	b.waitGone("#gone")
	if got, want := b.text("#out"), "typed-text|set-value|from-storage"; got != want {
		t.Errorf("page saw %q, want %q", got, want)
	}
	if got := evaluate[string](b, `location.pathname`); got != "/" {
		t.Errorf("location.pathname = %q", got)
	}
}
