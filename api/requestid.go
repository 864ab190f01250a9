package api

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"

	"github.com/labstack/echo/v4"
)

// maxRequestIDLen bounds a request id a client may choose.
const maxRequestIDLen = 64

// newRequestID returns 16 random hex digits. Request ids need to be
// unique, not secret: the runtime's generator avoids a syscall per request.
func newRequestID() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

// plainRequestID reports whether a client's X-Request-Id is fit to echo
// and log: 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-' (a UUID, a trace id,
// a gateway's id all fit).
func plainRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := range len(id) {
		switch ch := id[i]; {
		case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9', ch == '.', ch == '_', ch == '-':
		default:
			return false
		}
	}
	return true
}

// requestID gives every request an id, sent back in X-Request-Id and
// written to its log lines: the client's own if it is plain, so a request
// can be followed through a gateway, else a new one. A client id that is
// not plain is replaced, not trimmed: whatever a client sends here ends up
// in every log line of the request.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !plainRequestID(id) {
			id = newRequestID()
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}
