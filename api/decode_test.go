package api

import (
	"errors"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestCheckFieldNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body, message string
	}{
		{`{"name":"x","limit":1,"per":1}`, ""},
		{`{"name":"x","limit":1,"limit":2}`, `duplicate field "limit"`},
		{`{"Name":"x"}`, `unknown field "Name"`},
		{`{"burst":{"a":1,"a":2}}`, `unknown field "burst"`},
		{`{"description":"{\"limit\":1,\"limit\":2}"}`, ""}, // keys inside values are not keys
		{`[1,2]`, ""},    // not an object: the decoder says so
		{`{"name":`, ""}, // malformed: the decoder says so
		{`{"name":"x",}`, ""},
	} {
		err := checkFieldNames([]byte(tc.body), &tierInput{})
		var got string
		var he *echo.HTTPError
		if errors.As(err, &he) {
			got = he.Message.(ErrorBody).Error.Message
		}
		if got != tc.message || (err != nil) != (tc.message != "") {
			t.Errorf("%s: %v, want %q", tc.body, err, tc.message)
		}
	}
}
