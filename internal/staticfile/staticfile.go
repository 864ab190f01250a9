// Package staticfile serves files held in memory, each with its gzip
// encoding and ETags prepared once, so serving one again costs a lookup
// and a copy: quotad's /openapi.yaml and its web pages.
package staticfile

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// File is one file ready to serve.
type File struct {
	plain, gzipped      []byte // gzipped is nil when it would not be smaller
	plainETag, gzipETag string
	contentType         string
	cacheControl        string
}

// New prepares body to be served with contentType and cacheControl,
// gzipped at level (compress/gzip's levels) for clients that accept it.
func New(body []byte, contentType, cacheControl string, level int) (*File, error) {
	sum := sha256.Sum256(body)
	tag := hex.EncodeToString(sum[:12])
	f := &File{plain: body, plainETag: `"` + tag + `"`, contentType: contentType, cacheControl: cacheControl}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, level)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if buf.Len() < len(body) {
		f.gzipped, f.gzipETag = buf.Bytes(), `"`+tag+`-gzip"`
	}
	return f, nil
}

// ServeHTTP answers GET and HEAD with the file, gzipped when the client
// accepts it, and 304 for a matching If-None-Match. It serves whole files
// only: a Range is ignored. Each encoding has its own ETag, so a cache
// never answers one client with the other's bytes.
func (f *File) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	body, etag := f.plain, f.plainETag
	if f.gzipped != nil {
		h.Set("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, etag = f.gzipped, f.gzipETag
			h.Set("Content-Encoding", "gzip")
			// ServeContent leaves the length of an encoded body unset.
			h.Set("Content-Length", strconv.Itoa(len(body)))
		}
	}
	h.Set("Cache-Control", f.cacheControl)
	h.Set("ETag", etag)
	h.Set("Content-Type", f.contentType)
	r.Header.Del("Range")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether an Accept-Encoding value admits gzip: named
// (or "*") without q=0.
func acceptsGzip(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "*" {
			continue
		}
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "q="); ok {
				q, _ = strconv.ParseFloat(v, 64) // unreadable: 0, not accepted
			}
		}
		return q > 0
	}
	return false
}
