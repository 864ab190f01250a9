package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/quotad/quotad/tiers"
)

// Headers of Idempotency-Key handling.
const (
	HeaderIdempotencyKey      = "Idempotency-Key"
	HeaderIdempotentReplayed  = "Idempotent-Replayed"
	maxIdempotencyKeyLen      = 255
	defaultIdempotencyKeepFor = 24 * time.Hour
)

// idempotent makes an admin POST or PUT that carries an Idempotency-Key
// take effect once: the first non-5xx response to an actor's key is kept
// for 24 hours and replayed, with Idempotent-Replayed: true, to a request
// with the same key, method, path and body; another request with the key
// gets a 422. Concurrent requests with one key wait for the first, on any
// instance (an advisory lock in Postgres held while the first runs), so
// they also see one effect.
//
// If the handler succeeds but the response cannot be kept, the client
// still gets it, and the failure is logged: the effect has happened and a
// 5xx would claim otherwise. A retry then runs again.
func (s *server) idempotent(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		values := req.Header.Values(HeaderIdempotencyKey)
		if len(values) == 0 {
			return next(c)
		}
		if len(values) > 1 || !validIdempotencyKey(values[0]) {
			return &echo.HTTPError{Code: http.StatusBadRequest, Message: ErrorBody{Error: ErrorDetail{
				Code: CodeBadRequest, Message: "invalid " + HeaderIdempotencyKey + " header",
				Fields: map[string]string{HeaderIdempotencyKey: "must be one value of 1 to 255 printable ASCII characters"}}}}
		}
		key := values[0]
		p, ok := principalFrom(c)
		if !ok {
			return next(c)
		}

		// One byte over the limit tells a body the handler will refuse
		// (413) from one it reads; the first is passed on unkept.
		body, err := io.ReadAll(io.LimitReader(req.Body, s.cfg.BodyLimit+1))
		if err != nil {
			return NewError(http.StatusBadRequest, CodeBadRequest, "could not read the body")
		}
		if int64(len(body)) > s.cfg.BodyLimit {
			req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), req.Body))
			return next(c)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.Sum256(body)
		path := req.URL.EscapedPath()

		ctx := req.Context()
		lock, err := s.store.LockIdempotencyKey(ctx, p.ClientID, key)
		if err != nil {
			return err
		}
		defer lock.Release()
		now := s.now()
		rec, found, err := lock.Get(ctx, now.Add(-s.idemKeepFor))
		if err != nil {
			return err
		}
		if found {
			if rec.Method != req.Method || rec.Path != path || rec.BodySHA256 != sum {
				return invalid("the "+HeaderIdempotencyKey+" was used for another request",
					map[string]string{HeaderIdempotencyKey: "already used with another method, path or body"})
			}
			h := c.Response().Header()
			if rec.ContentType != "" {
				h.Set(echo.HeaderContentType, rec.ContentType)
			}
			if rec.Location != "" {
				h.Set(echo.HeaderLocation, rec.Location)
			}
			h.Set(HeaderIdempotentReplayed, "true")
			c.Response().WriteHeader(rec.Status)
			_, err := c.Response().Write(rec.Body)
			return err
		}

		w := &recorder{ResponseWriter: c.Response().Writer}
		c.Response().Writer = w
		err = next(c)
		if err != nil {
			// Rendered here rather than by Echo after we return, so the
			// recorder sees the error response too.
			c.Error(err)
		}
		c.Response().Writer = w.ResponseWriter
		status := c.Response().Status
		if !c.Response().Committed || status >= 500 {
			return nil
		}
		h := c.Response().Header()
		rec = tiers.IdempotencyRecord{Method: req.Method, Path: path, BodySHA256: sum, Status: status,
			ContentType: h.Get(echo.HeaderContentType), Location: h.Get(echo.HeaderLocation),
			Body: w.body.Bytes(), CreatedAt: now}
		// The effect has happened whether or not the client is still
		// there, and its retry should find the record.
		saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := lock.Save(saveCtx, rec, now.Add(-s.idemKeepFor)); err != nil {
			s.log.ErrorContext(ctx, "idempotency key not kept", "err", err,
				"request_id", h.Get(echo.HeaderXRequestID))
		}
		return nil
	}
}

// validIdempotencyKey reports whether k is 1 to 255 printable ASCII
// characters (space to tilde).
func validIdempotencyKey(k string) bool {
	if len(k) == 0 || len(k) > maxIdempotencyKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// recorder writes a response through and keeps a copy of its body.
type recorder struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
