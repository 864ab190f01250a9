package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// do runs actions with the per-action timeout; what names the step in the
// failure.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(what, err)
	}
}

// fail ends the test for a failed browser step.
func (b *browser) fail(what string, err error) {
	b.tb.Helper()
	if errors.Is(err, context.DeadlineExceeded) {
		b.tb.Fatalf("browser: %s: not done within %v", what, browserTimeout)
	}
	b.tb.Fatalf("browser: %s: %v", what, err)
}

// run runs one action returning a value, with the per-action timeout.
func run[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fail(what, err)
	}
	return v
}

// navigate loads path on quotad and waits for the load event; it returns
// the page's HTTP response as the browser got it.
func (b *browser) navigate(path string) *network.Response {
	b.tb.Helper()
	u := b.base.JoinPath()
	ref, err := url.Parse(path)
	if err != nil {
		b.tb.Fatal(err)
	}
	return run(b, "load "+path, chromedp.NavigateResponse(u.ResolveReference(ref).String()))
}

// onNewDocument runs script in every document before the page's own
// scripts, from the next navigation on.
func (b *browser) onNewDocument(script string) {
	b.tb.Helper()
	b.do("add a script to new documents", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script})
		return err
	}))
}

// setSessionStorage fills quotad's sessionStorage with kv before the next
// page's scripts run, as if an earlier page had stored them.
func (b *browser) setSessionStorage(kv map[string]string) {
	b.tb.Helper()
	var js strings.Builder
	fmt.Fprintf(&js, "if (location.origin === %q) {", b.base.Scheme+"://"+b.base.Host)
	for k, v := range kv {
		fmt.Fprintf(&js, "sessionStorage.setItem(%q, %q);", k, v)
	}
	js.WriteString("}")
	b.onNewDocument(js.String())
}

// waitVisible waits until the first element matching the CSS selector is
// visible.
func (b *browser) waitVisible(sel string) {
	b.tb.Helper()
	b.do(fmt.Sprintf("wait for %q to be visible", sel), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// waitGone waits until no element matches the CSS selector.
func (b *browser) waitGone(sel string) {
	b.tb.Helper()
	b.do(fmt.Sprintf("wait for %q to go away", sel), chromedp.WaitNotPresent(chromedp.CSS(sel)))
}

// click clicks the first element matching the CSS selector once it is
// visible.
func (b *browser) click(sel string) {
	b.tb.Helper()
	b.do(fmt.Sprintf("click %q", sel), chromedp.Click(chromedp.CSS(sel)))
}

// typeInto types text into the field matching the CSS selector, key by
// key, as a user would.
func (b *browser) typeInto(sel, text string) {
	b.tb.Helper()
	b.do(fmt.Sprintf("type into %q", sel), chromedp.SendKeys(chromedp.CSS(sel), text))
}

// setValue replaces the value of the field matching the CSS selector at
// once, without key events.
func (b *browser) setValue(sel, value string) {
	b.tb.Helper()
	b.do(fmt.Sprintf("set the value of %q", sel), chromedp.SetValue(chromedp.CSS(sel), value))
}

// text returns the visible text of the first element matching the CSS
// selector, waiting for it to be visible.
func (b *browser) text(sel string) string {
	b.tb.Helper()
	return run(b, fmt.Sprintf("read the text of %q", sel), chromedp.Text(chromedp.CSS(sel)))
}

// evaluate runs a JavaScript expression in the page and decodes its value
// (awaiting it when it is a promise).
func evaluate[T any](b *browser, js string) T {
	b.tb.Helper()
	return run(b, "evaluate "+js, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// screenshot writes the viewport as docs/img/<name>.png (from the
// repository root) when the tests run with -screenshots.
func (b *browser) screenshot(tb testing.TB, name string) {
	tb.Helper()
	if !*screenshots {
		return
	}
	png := run(b, "take screenshot "+name, chromedp.CaptureScreenshot())
	dir := filepath.Join("..", "..", "docs", "img")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		tb.Fatal(err)
	}
}
