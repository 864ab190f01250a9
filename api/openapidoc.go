package api

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// openAPIMaxAge is how long clients and proxies may reuse the document
// without asking again; it changes only with a new release.
const openAPIMaxAge = "public, max-age=3600"

// openAPIDoc is GET /openapi.yaml, prepared once: the document and its gzip
// encoding, each with its ETag. A client that asks again with
// If-None-Match gets a 304 and no body, and one that accepts gzip gets a
// fraction of the bytes, so fetching the document repeatedly costs little
// and fills little of any buffer.
type openAPIDoc struct {
	plain, gzipped      []byte
	plainETag, gzipETag string
}

func newOpenAPIDoc(doc []byte) (*openAPIDoc, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(doc); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(doc)
	tag := hex.EncodeToString(sum[:12])
	return &openAPIDoc{plain: doc, gzipped: buf.Bytes(), plainETag: `"` + tag + `"`, gzipETag: `"` + tag + `-gzip"`}, nil
}

// serve answers GET and HEAD, with 304 for a matching If-None-Match. It
// serves whole documents only: a Range is ignored.
func (d *openAPIDoc) serve(c echo.Context) error {
	req := c.Request()
	h := c.Response().Header()
	body, etag := d.plain, d.plainETag
	if acceptsGzip(req.Header.Get("Accept-Encoding")) {
		body, etag = d.gzipped, d.gzipETag
		h.Set("Content-Encoding", "gzip")
		// ServeContent leaves the length of an encoded body unset.
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	h.Set("Vary", "Accept-Encoding")
	h.Set("Cache-Control", openAPIMaxAge)
	h.Set("ETag", etag)
	h.Set("Content-Type", "application/yaml")
	req.Header.Del("Range")
	http.ServeContent(c.Response(), req, "", time.Time{}, bytes.NewReader(body))
	return nil
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
