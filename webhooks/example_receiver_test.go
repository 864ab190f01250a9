package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// thresholdEvent is the part of an event the receiver example reads.
type thresholdEvent struct {
	ID        string `json:"id"`
	Client    string `json:"client"`
	Policy    string `json:"policy"`
	Threshold int    `json:"threshold"`
}

// verifySignature is the signature check of the receiver example, which
// docs/WEBHOOKS.md must quote exactly
// (TestReceiverExample_MatchesTheDoc).
func verifySignature(secret []byte, header string, body []byte) bool {
	var ts, sig string // header: t=<unix>,v1=<hex HMAC-SHA256 of t + "." + body>
	for _, part := range strings.Split(header, ",") {
		switch k, v, _ := strings.Cut(part, "="); k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(unix, 0)).Abs() > 5*time.Minute {
		return false // a replay of a captured request, or no timestamp
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	got, err := hex.DecodeString(sig)
	return err == nil && hmac.Equal(got, mac.Sum(nil))
}

// receiverHandler is the receiver example of docs/WEBHOOKS.md, which must
// quote it exactly (TestReceiverExample_MatchesTheDoc).
func receiverHandler(secret []byte, handle func(thresholdEvent) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "cannot read the body", http.StatusBadRequest)
			return
		}
		if !verifySignature(secret, r.Header.Get("Quota-Signature"), body) {
			http.Error(w, "bad or stale signature", http.StatusUnauthorized)
			return
		}
		var ev thresholdEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		// Deliveries are at least once: handle must ignore an id it has seen.
		if err := handle(ev); err != nil {
			http.Error(w, "try again later", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// TestReceiverExample_VerifiesRealDeliveries: the example accepts what a
// Dispatcher sends and refuses a tampered copy.
func TestReceiverExample_VerifiesRealDeliveries(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	got := make(chan thresholdEvent, 1)
	srv := httptest.NewServer(receiverHandler(testSecret, func(ev thresholdEvent) error {
		got <- ev
		return nil
	}))
	t.Cleanup(srv.Close)
	ev := testEvent("alice", 100, time.Now())
	enqueue(t, pool, ev)
	_, attempts := startDispatcher(t, pool, Config{URL: srv.URL, Secret: testSecret}, nil)
	next(t, attempts)
	if r := readRow(t, pool, ev.ID()); r.deliveredAt == nil || deref(r.lastStatus) != http.StatusNoContent {
		t.Fatalf("event: %v; want delivered with 204", r)
	}
	if e := <-got; e.ID != ev.ID() || e.Client != "alice" || e.Policy != "pro:month" || e.Threshold != 100 {
		t.Errorf("receiver handled %+v", e)
	}

	body, _ := ev.body()
	for name, tc := range map[string]struct {
		sig  string
		body []byte
	}{
		"tampered body": {Sign(testSecret, time.Now(), body), bytes.Replace(body, []byte(`"threshold":100`), []byte(`"threshold":80`), 1)},
		"wrong secret":  {Sign([]byte("not-the-secret"), time.Now(), body), body},
		"replayed":      {Sign(testSecret, time.Now().Add(-time.Hour), body), body},
		"unsigned":      {"", body},
	} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, bytes.NewReader(tc.body))
		req.Header.Set(SignatureHeader, tc.sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d; want 401", name, resp.StatusCode)
		}
	}
}

// TestReceiverExample_MatchesTheDoc: docs/WEBHOOKS.md quotes receiverHandler,
// verifySignature and thresholdEvent as they are here, so the tested code
// is the documented.
func TestReceiverExample_MatchesTheDoc(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/WEBHOOKS.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_receiver_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "example_receiver_test.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, decl := range f.Decls {
		var node ast.Node
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if d.Name.Name == "receiverHandler" || d.Name.Name == "verifySignature" {
				node = d
			}
		case *ast.GenDecl:
			if len(d.Specs) == 1 {
				if ts, ok := d.Specs[0].(*ast.TypeSpec); ok && ts.Name.Name == "thresholdEvent" {
					node = d
				}
			}
		}
		if node == nil {
			continue
		}
		found++
		code := string(src[fset.Position(node.Pos()).Offset:fset.Position(node.End()).Offset])
		if !bytes.Contains(doc, []byte(code)) {
			t.Errorf("docs/WEBHOOKS.md does not quote this code as it is:\n%s", code)
		}
	}
	if found != 3 {
		t.Fatalf("found %d of receiverHandler, verifySignature and thresholdEvent", found)
	}
}
