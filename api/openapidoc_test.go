package api

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"testing"

	"github.com/quotad/quotad"
)

// TestOpenAPIDoc_Cacheable: /openapi.yaml carries an ETag and
// Cache-Control, answers a matching If-None-Match with 304 and no body,
// and is gzip-encoded for a client that accepts it.
func TestOpenAPIDoc_Cacheable(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	plain := mustStatus(t, do(t, http.MethodGet, inst.URL+"/openapi.yaml", "", nil, "Accept-Encoding", "identity"), http.StatusOK)
	if !bytes.Equal(plain.Body, quotad.OpenAPI) || plain.ContentLength != int64(len(quotad.OpenAPI)) {
		t.Fatalf("identity: %d bytes, Content-Length %d; want the document, %d bytes", len(plain.Body), plain.ContentLength, len(quotad.OpenAPI))
	}
	etag := plain.Header.Get("ETag")
	if etag == "" || plain.Header.Get("Cache-Control") == "" {
		t.Fatalf("ETag %q, Cache-Control %q: want both", etag, plain.Header.Get("Cache-Control"))
	}
	again := mustStatus(t, do(t, http.MethodGet, inst.URL+"/openapi.yaml", "", nil, "Accept-Encoding", "identity", "If-None-Match", etag), http.StatusNotModified)
	if len(again.Body) != 0 {
		t.Fatalf("304 with a body of %d bytes", len(again.Body))
	}

	// Sent by hand: a client that asks for gzip itself gets it undecoded.
	req, err := http.NewRequest(http.MethodGet, inst.URL+"/openapi.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "br;q=1, gzip;q=0.5")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("ETag") == etag {
		t.Fatalf("gzip: %d, Content-Encoding %q, ETag %q; want 200, gzip, an ETag other than %q",
			resp.StatusCode, resp.Header.Get("Content-Encoding"), resp.Header.Get("ETag"), etag)
	}
	if resp.ContentLength <= 0 || resp.ContentLength >= int64(len(quotad.OpenAPI))/3 {
		t.Errorf("gzip: Content-Length %d for a document of %d bytes", resp.ContentLength, len(quotad.OpenAPI))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(doc, quotad.OpenAPI) {
		t.Fatalf("gzip body does not decode to the document (err %v)", err)
	}
}
