package staticfile

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestAcceptsGzip(t *testing.T) {
	t.Parallel()
	for accept, want := range map[string]bool{
		"":                   false,
		"identity":           false,
		"gzip":               true,
		"GZIP":               true,
		"deflate, gzip":      true,
		"gzip;q=0":           false,
		"gzip; q=0.000":      false,
		"gzip;q=0.1":         true,
		"*":                  true,
		"br;q=1, gzip;q=0.5": true,
		"gzip;q=nonsense":    false,
	} {
		if got := acceptsGzip(accept); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", accept, got, want)
		}
	}
}

// TestFile_Serve: the plain and gzip encodings, each with its ETag and
// length, a 304 for a known ETag, HEAD without a body, and no gzip for a
// body it would not shrink.
func TestFile_Serve(t *testing.T) {
	t.Parallel()
	body := bytes.Repeat([]byte("quota "), 1000)
	f, err := New(body, "text/plain", "no-cache", gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	get := func(method string, header ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/f", nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, req)
		return rec
	}
	plain := get(http.MethodGet)
	if !bytes.Equal(plain.Body.Bytes(), body) || plain.Header().Get("Content-Type") != "text/plain" ||
		plain.Header().Get("Cache-Control") != "no-cache" || plain.Header().Get("Vary") != "Accept-Encoding" {
		t.Fatalf("plain: %d bytes, headers %v", plain.Body.Len(), plain.Header())
	}
	zipped := get(http.MethodGet, "Accept-Encoding", "gzip", "Range", "bytes=0-1")
	if zipped.Code != http.StatusOK || zipped.Header().Get("Content-Encoding") != "gzip" ||
		zipped.Header().Get("ETag") == plain.Header().Get("ETag") || zipped.Header().Get("Content-Length") == "" {
		t.Fatalf("gzip: %d, headers %v", zipped.Code, zipped.Header())
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(zr); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("gzip body does not decode to the file (err %v)", err)
	}
	if again := get(http.MethodGet, "If-None-Match", plain.Header().Get("ETag")); again.Code != http.StatusNotModified || again.Body.Len() != 0 {
		t.Errorf("If-None-Match: %d with %d bytes", again.Code, again.Body.Len())
	}
	if head := get(http.MethodHead); head.Code != http.StatusOK || head.Body.Len() != 0 {
		t.Errorf("HEAD: %d with %d bytes", head.Code, head.Body.Len())
	}

	tiny, err := New([]byte("x"), "text/plain", "no-cache", gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/f", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	tiny.ServeHTTP(rec, req)
	if rec.Header().Get("Content-Encoding") != "" || rec.Body.String() != "x" || rec.Header().Get("Vary") != "" {
		t.Errorf("a file gzip would not shrink: encoding %q, body %q, Vary %q", rec.Header().Get("Content-Encoding"), rec.Body, rec.Header().Get("Vary"))
	}
}
