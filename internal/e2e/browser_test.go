package e2e

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/quotad/quotad/internal/testenv"
)

// screenshots makes browser.screenshot write docs/img/<name>.png; `make
// screenshots` sets it. Without it screenshots are skipped, so ordinary
// runs leave the working tree alone.
var screenshots = flag.Bool("screenshots", false, "write docs/img/<name>.png from the browser tests")

// browserTimeout bounds each browser action: a page served by a -race
// quotad on a loaded two-CPU machine, rendered by a software-drawing
// Chromium, can take many seconds, and a real hang still ends the test.
const browserTimeout = 30 * time.Second

// browser is one headless Chromium showing pages of one quotad. It records
// every request its pages make and every CSP violation or script error;
// when the test ends it fails the test for a request to another host or
// for any such problem.
type browser struct {
	tb   testing.TB
	base *url.URL // quotad's http://127.0.0.1:port
	ctx  context.Context
	out  *testenv.Buffer // Chromium's own output, shown when the test fails

	mu       sync.Mutex
	requests []string // URLs in the order the pages asked for them
	problems []string // CSP violations, uncaught exceptions, console errors
}

// newBrowser starts a Chromium with a width×height viewport for q.
func newBrowser(tb testing.TB, q *quotad, width, height int) *browser {
	tb.Helper()
	return openBrowser(tb, q.URL, width, height)
}

// openBrowser starts a Chromium with a width×height viewport whose pages
// may load from baseURL only. Each test gets a process of its own with a
// fresh profile: tests run in parallel and share nothing.
func openBrowser(tb testing.TB, baseURL string, width, height int) *browser {
	tb.Helper()
	base, err := url.Parse(baseURL)
	if err != nil {
		tb.Fatal(err)
	}
	b := &browser{tb: tb, base: base, out: &testenv.Buffer{}}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath(tb)),
		chromedp.Headless,
		chromedp.NoSandbox, // Chromium refuses to run as root with its sandbox
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true), // containers have a small /dev/shm
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(width, height),
		chromedp.CombinedOutput(b.out),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	b.ctx = ctx
	tb.Cleanup(func() {
		cancel()
		cancelAlloc()
		b.check()
	})
	// The first action starts the browser and ties its life to the context
	// it runs under, so it runs under ctx itself; the timer stands in for
	// the per-action timeout.
	stop := time.AfterFunc(browserTimeout, cancel)
	err = chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height)))
	if !stop.Stop() {
		err = fmt.Errorf("not started within %v", browserTimeout)
	}
	if err != nil {
		tb.Fatalf("browser: start %s: %v\n%s", chromiumPath(tb), err, chromiumLog(b.out.String()))
	}
	if err := chromedp.Listen(ctx, b.record); err != nil {
		tb.Fatalf("browser: listen: %v", err)
	}
	// The browser's own report of a violation goes to the log only in some
	// versions; the page's securitypolicyviolation event fires in all.
	b.onNewDocument(`document.addEventListener("securitypolicyviolation", (e) =>
		console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline") +
			" at " + e.sourceFile + ":" + e.lineNumber));`)
	return b
}

// chromiumPath finds the browser: QUOTA_CHROMIUM, Debian's /usr/bin/chromium,
// then the usual names on PATH.
func chromiumPath(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("QUOTA_CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	tb.Fatal("Chromium not found: run scripts/services.sh (it installs Debian's chromium)")
	return ""
}

// record runs on chromedp's reading goroutine for every event of the tab:
// it only appends, under the lock.
func (b *browser) record(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, ev.Request.URL)
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		b.problems = append(b.problems, fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			b.problems = append(b.problems, "console."+string(ev.Type)+": "+consoleArgs(ev.Args))
		}
	case *log.EventEntryAdded:
		e := ev.Entry
		if e.Source == log.EntrySourceSecurity || e.Source == log.EntrySourceJavascript {
			b.problems = append(b.problems, fmt.Sprintf("%s %s log: %s (%s:%d)", e.Source, e.Level, e.Text, e.URL, e.LineNumber))
		}
	}
}

// consoleArgs renders a console call's arguments as the console shows them.
func consoleArgs(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		switch {
		case a.Description != "":
			parts = append(parts, a.Description)
		case len(a.Value) > 0:
			parts = append(parts, strings.Trim(string(a.Value), `"`))
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

// foreign returns the recorded requests that went to a host other than
// quotad's; data: and blob: URLs stay in the page.
func (b *browser) foreign() []string {
	var out []string
	for _, raw := range b.requestURLs() {
		u, err := url.Parse(raw)
		if err != nil {
			out = append(out, raw)
			continue
		}
		switch u.Scheme {
		case "data", "blob", "about":
		case "http", "https", "ws", "wss":
			if u.Host != b.base.Host {
				out = append(out, raw)
			}
		default:
			out = append(out, raw)
		}
	}
	return out
}

// check fails the test for requests to other hosts and for recorded
// problems; the browser is closed by then, so the lists are final.
func (b *browser) check() {
	if f := b.foreign(); len(f) > 0 {
		b.tb.Errorf("browser: the pages loaded from a host other than %s:\n  %s", b.base.Host, strings.Join(f, "\n  "))
	}
	b.mu.Lock()
	problems := append([]string(nil), b.problems...)
	b.mu.Unlock()
	if len(problems) > 0 {
		b.tb.Errorf("browser: %d CSP violation(s) or script error(s):\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	if b.tb.Failed() {
		b.tb.Logf("Chromium output:\n%s", chromiumLog(b.out.String()))
	}
}

// chromiumLog returns the tail of Chromium's output without its complaints
// about the D-Bus that containers lack.
func chromiumLog(out string) string {
	var keep []string
	for line := range strings.Lines(out) {
		if !strings.Contains(line, "dbus") {
			keep = append(keep, line)
		}
	}
	return tail(strings.Join(keep, ""), 20)
}

// requestURLs returns every URL the pages have requested so far.
func (b *browser) requestURLs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.requests...)
}
