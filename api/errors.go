package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/quotad/quotad/quota"
	"github.com/quotad/quotad/tiers"
	"github.com/quotad/quotad/usage"
)

// Error codes of the JSON error envelope; stable, machine-readable.
const (
	CodeBadRequest       = "bad_request"            // 400: malformed JSON, unknown fields, trailing data
	CodeUnauthorized     = "unauthorized"           // 401: missing, invalid or expired token where one is needed
	CodeForbidden        = "forbidden"              // 403: token lacks the quota:admin scope
	CodeNotFound         = "not_found"              // 404
	CodeMethodNotAllowed = "method_not_allowed"     // 405
	CodeNotAcceptable    = "not_acceptable"         // 406: no representation the Accept header allows
	CodeConflict         = "conflict"               // 409: duplicate, in use, protected tier
	CodeTooLarge         = "payload_too_large"      // 413
	CodeUnsupportedType  = "unsupported_media_type" // 415
	CodeInvalid          = "invalid"                // 422: well-formed but invalid values; see fields
	CodeRateLimited      = "rate_limited"           // 429
	CodeInternal         = "internal"               // 500
	CodeUnavailable      = "unavailable"            // 503: Postgres or Redis cannot answer
)

// ErrorBody is the one JSON error envelope of the API:
// {"error":{"code":"invalid","message":"…","fields":{"limit":"…"}}}.
type ErrorBody struct {
	// Error is the error itself.
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	// Code is one of the Code* constants.
	Code string `json:"code"`
	// Message is for humans; it may change between versions.
	Message string `json:"message"`
	// Fields names each offending input field with what is wrong with it.
	Fields map[string]string `json:"fields,omitempty"`
	// ViolatedPolicies names, on a 429, the windows that refused the
	// request, as the RateLimit headers name them ("pro:month").
	ViolatedPolicies []string `json:"violated_policies,omitempty"`
}

// NewError returns an *echo.HTTPError carrying the envelope.
func NewError(status int, code, message string) *echo.HTTPError {
	return &echo.HTTPError{Code: status, Message: ErrorBody{Error: ErrorDetail{Code: code, Message: message}}}
}

// rateLimited returns a 429 naming the windows of d that refused.
func rateLimited(d quota.Decision, message string) *echo.HTTPError {
	var violated []string
	for i := range d.Limit.Windows {
		if d.Window(i).Refused {
			violated = append(violated, d.Limit.Policy(i))
		}
	}
	return &echo.HTTPError{Code: http.StatusTooManyRequests,
		Message: ErrorBody{Error: ErrorDetail{Code: CodeRateLimited, Message: message, ViolatedPolicies: violated}}}
}

// invalid returns a 422 naming the offending fields.
func invalid(message string, fields map[string]string) *echo.HTTPError {
	return &echo.HTTPError{Code: http.StatusUnprocessableEntity,
		Message: ErrorBody{Error: ErrorDetail{Code: CodeInvalid, Message: message, Fields: fields}}}
}

// domainError maps errors of the tiers and quota packages to HTTP. It is
// the only place where that mapping lives.
func domainError(err error) *echo.HTTPError {
	var ve *tiers.ValidationError
	switch {
	case errors.As(err, &ve):
		fields := make(map[string]string, len(ve.Fields))
		for _, f := range ve.Fields {
			fields[f.Field] = f.Message
		}
		return invalid("invalid input", fields)
	case errors.Is(err, tiers.ErrNotFound):
		return NewError(http.StatusNotFound, CodeNotFound, "not found")
	case errors.Is(err, tiers.ErrConflict):
		return NewError(http.StatusConflict, CodeConflict, "a tier with that name already exists")
	case errors.Is(err, tiers.ErrInUse):
		return NewError(http.StatusConflict, CodeConflict, "the tier is assigned to clients; move them first")
	case errors.Is(err, tiers.ErrProtected):
		return NewError(http.StatusConflict, CodeConflict, "the anonymous and free tiers cannot be deleted")
	case errors.Is(err, tiers.ErrUnknownTier):
		return invalid("unknown tier", map[string]string{"tier": "no such tier"})
	case errors.Is(err, tiers.ErrUnavailable), errors.Is(err, quota.ErrUnavailable), errors.Is(err, usage.ErrUnavailable):
		he := NewError(http.StatusServiceUnavailable, CodeUnavailable, "a backing service is unavailable; try again shortly")
		he.Internal = err
		return he
	}
	he := NewError(http.StatusInternalServerError, CodeInternal, "internal error")
	he.Internal = err
	return he
}

// errorHandler renders every error as the envelope: ours, the quota
// middleware's, and Echo's own (404, 405, 413 …), whose plain messages are
// given a code by status. Internal causes are logged, never sent. A 503 is
// an unavailable dependency, which can last and hit every request: those
// lines are throttled to one per few seconds, with a count of the rest.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	var unavailable throttle
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		var he *echo.HTTPError
		if !errors.As(err, &he) {
			he = domainError(err)
		}
		var body ErrorBody
		switch m := he.Message.(type) {
		case ErrorBody:
			body = m
		default:
			body = ErrorBody{Error: ErrorDetail{Code: codeFor(he.Code), Message: http.StatusText(he.Code)}}
		}
		if he.Code >= 500 {
			cause := he.Internal
			if cause == nil {
				cause = err
			}
			attrs := []any{"status", he.Code, "code", body.Error.Code, "err", cause,
				"request_id", c.Response().Header().Get(echo.HeaderXRequestID)}
			if he.Code != http.StatusServiceUnavailable {
				log.ErrorContext(c.Request().Context(), "request failed", attrs...)
			} else if ok, held := unavailable.allow(); ok {
				log.WarnContext(c.Request().Context(), "request failed: dependency unavailable", append(attrs, "suppressed_since_last", held)...)
			}
		}
		// A HEAD gets the GET's headers too; net/http drops the body.
		_ = c.JSON(he.Code, body)
	}
}

// codeFor names the envelope code of a bare HTTP status.
func codeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return CodeBadRequest
	case http.StatusUnauthorized:
		return CodeUnauthorized
	case http.StatusForbidden:
		return CodeForbidden
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusMethodNotAllowed:
		return CodeMethodNotAllowed
	case http.StatusNotAcceptable:
		return CodeNotAcceptable
	case http.StatusConflict:
		return CodeConflict
	case http.StatusRequestEntityTooLarge:
		return CodeTooLarge
	case http.StatusUnsupportedMediaType:
		return CodeUnsupportedType
	case http.StatusUnprocessableEntity:
		return CodeInvalid
	case http.StatusTooManyRequests:
		return CodeRateLimited
	case http.StatusServiceUnavailable:
		return CodeUnavailable
	}
	if status >= 500 {
		return CodeInternal
	}
	return CodeBadRequest
}
