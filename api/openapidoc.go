package api

import (
	"compress/gzip"

	"github.com/quotad/quotad/internal/staticfile"
)

// openAPIMaxAge is how long clients and proxies may reuse the document
// without asking again; it changes only with a new release.
const openAPIMaxAge = "public, max-age=3600"

// newOpenAPIDoc prepares GET /openapi.yaml once: the document and its gzip
// encoding, each with its ETag. A client that asks again with
// If-None-Match gets a 304 and no body, and one that accepts gzip gets a
// fraction of the bytes, so fetching the document repeatedly costs little
// and fills little of any buffer.
func newOpenAPIDoc(doc []byte) (*staticfile.File, error) {
	return staticfile.New(doc, "application/yaml", openAPIMaxAge, gzip.BestCompression)
}
