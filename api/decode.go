package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// decodeJSON reads the request body into dst strictly: JSON content type,
// size capped, no unknown fields, nothing after the value. Malformed input
// is 400, a value of the wrong type 422 naming the field, a body over the
// cap 413, another content type 415.
func decodeJSON(c echo.Context, limit int64, dst any) error {
	r := c.Request()
	mt, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if err != nil || mt != echo.MIMEApplicationJSON {
		return NewError(http.StatusUnsupportedMediaType, CodeUnsupportedType, "the body must be application/json")
	}
	body := http.MaxBytesReader(c.Response(), r.Body, limit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err, limit)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return decodeError(err, limit)
		}
		return NewError(http.StatusBadRequest, CodeBadRequest, "the body must hold exactly one JSON value")
	}
	return nil
}

func decodeError(err error, limit int64) error {
	var (
		syntax   *json.SyntaxError
		typeErr  *json.UnmarshalTypeError
		tooBig   *http.MaxBytesError
		msg      = "malformed JSON"
		unknown  = "json: unknown field "
		typeName = map[string]string{"int64": "an integer", "int": "an integer", "string": "a string"}
	)
	switch {
	case errors.As(err, &tooBig):
		return NewError(http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("the body exceeds %d bytes", limit))
	case errors.Is(err, io.EOF):
		msg = "the body is empty"
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		msg = "malformed JSON"
	case strings.HasPrefix(err.Error(), unknown):
		msg = "unknown field " + strings.TrimPrefix(err.Error(), unknown)
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return NewError(http.StatusBadRequest, CodeBadRequest, "the body must be a JSON object")
		}
		want := typeName[typeErr.Type.String()]
		if want == "" {
			want = "a " + typeErr.Type.String()
		}
		return invalid("invalid input", map[string]string{field: "must be " + want + " in range"})
	}
	return NewError(http.StatusBadRequest, CodeBadRequest, msg)
}
