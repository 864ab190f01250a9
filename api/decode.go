package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
)

// decodeJSON reads the request body into dst, a pointer to a struct,
// strictly: JSON content type, size capped, one JSON object whose field
// names are exactly as documented and each at most once, nothing after it.
// Malformed input or another value than an object is 400, a value of the
// wrong type 422 naming the field, a body over the cap 413, another content
// type 415.
func decodeJSON(c echo.Context, limit int64, dst any) error {
	return decodeJSONAs(c, limit, dst, echo.MIMEApplicationJSON)
}

// decodeJSONAs is decodeJSON accepting the media types given, the first
// one named in the 415's message (a merge patch is JSON, labelled
// application/merge-patch+json).
func decodeJSONAs(c echo.Context, limit int64, dst any, mediaTypes ...string) error {
	r := c.Request()
	mt, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if err != nil || !slices.Contains(mediaTypes, mt) {
		return NewError(http.StatusUnsupportedMediaType, CodeUnsupportedType, "the body must be "+strings.Join(mediaTypes, " or "))
	}
	data, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, limit))
	if err != nil {
		return decodeError(err, limit)
	}
	if err := checkFieldNames(data, dst); err != nil {
		return err
	}
	// null decodes into a struct as a no-op, which would read as {}.
	if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("null")) {
		return NewError(http.StatusBadRequest, CodeBadRequest, "the body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
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

// checkFieldNames refuses an object whose keys differ from dst's JSON
// field names only in case, or that names a field twice: encoding/json
// would take "LIMIT" for "limit" and let the last of two "limit"s win, so
// an admin's typo would change a tier silently. Anything else malformed
// is left to the decoder to report.
func checkFieldNames(data []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	names := jsonFieldNames(reflect.TypeOf(dst).Elem())
	seen := make(map[string]bool, len(names))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := tok.(string)
		switch {
		case seen[key]:
			return NewError(http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("duplicate field %q", key))
		case !names[key]:
			return NewError(http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("unknown field %q", key))
		}
		seen[key] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil
		}
	}
	return nil
}

// fieldNames caches jsonFieldNames per struct type.
var fieldNames sync.Map // reflect.Type → map[string]bool

// jsonFieldNames returns the JSON names of struct type t's fields.
func jsonFieldNames(t reflect.Type) map[string]bool {
	if names, ok := fieldNames.Load(t); ok {
		return names.(map[string]bool)
	}
	names := map[string]bool{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case name == "":
			names[f.Name] = true
		default:
			names[name] = true
		}
	}
	fieldNames.Store(t, names)
	return names
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
