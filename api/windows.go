package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/quotad/quotad/tiers"
)

// Per is a window length in JSON: a whole number of seconds, or the string
// "month", a calendar month from the client's anchor day.
type Per struct {
	// Seconds is the length in seconds; 0 for a month.
	Seconds int64
	// Month reports a month window.
	Month bool
}

// perOf returns d, a tiers.Window's Per, as a Per.
func perOf(d time.Duration) Per {
	if d == tiers.Month {
		return Per{Month: true}
	}
	return Per{Seconds: int64(d / time.Second)}
}

// MarshalJSON writes seconds as a number and a month as "month".
func (p Per) MarshalJSON() ([]byte, error) {
	if p.Month {
		return []byte(`"month"`), nil
	}
	return strconv.AppendInt(nil, p.Seconds, 10), nil
}

// UnmarshalJSON reads an integer or "month".
func (p *Per) UnmarshalJSON(data []byte) error {
	if bytes.Equal(data, []byte(`"month"`)) {
		*p = Per{Month: true}
		return nil
	}
	var n int64
	if err := json.Unmarshal(data, &n); err != nil {
		return fmt.Errorf("per: want a whole number of seconds or \"month\", got %s", data)
	}
	*p = Per{Seconds: n}
	return nil
}

// WindowView is the JSON form of one window of a tier. Soft is written
// only when true, so a tier without a soft window reads as it did before
// soft windows existed.
type WindowView struct {
	Limit int64 `json:"limit"`
	Per   Per   `json:"per"`
	Soft  bool  `json:"soft,omitempty"`
}

func windowViews(ws []tiers.Window) []WindowView {
	out := make([]WindowView, len(ws))
	for i, w := range ws {
		out[i] = WindowView{Limit: w.Limit, Per: perOf(w.Per), Soft: w.Soft}
	}
	return out
}

// Messages of the window fields' type errors.
const (
	msgLimitType  = "must be an integer in range"
	msgPerType    = `must be a whole number of seconds or "month"`
	msgLimitsType = "must be an array of 1 to 4 windows, each {\"limit\": …, \"per\": …}"
	msgWindowType = `must be an object {"limit": …, "per": …}`
	msgSoftType   = "must be true or false"
)

// absent reports a member left out, or null.
func absent(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// parseLimit reads a window's limit: a JSON integer.
func parseLimit(raw json.RawMessage) (int64, bool) {
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, false
	}
	return n, true
}

// parsePer reads a window's per: a JSON integer of seconds or "month".
// Seconds out of range come back just outside it (see seconds), for
// validation to name.
func parsePer(raw []byte) (time.Duration, bool) {
	if bytes.HasPrefix(raw, []byte(`"`)) {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil || s != "month" {
			return 0, false
		}
		return tiers.Month, true
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, false
	}
	return seconds(n), true
}

// parseWindows reads limits, an array of windows. Type errors are added to
// bad under the window's field name (limits[1].per); a window with a
// member other than limit, per and soft, or one twice, is an error (400).
// soft left out or null is false.
func parseWindows(raw json.RawMessage, bad map[string]string) ([]tiers.Window, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil || elems == nil {
		bad["limits"] = msgLimitsType
		return nil, nil
	}
	ws := make([]tiers.Window, len(elems))
	for i, elem := range elems {
		field := fmt.Sprintf("limits[%d]", i)
		members, isObject, err := windowMembers(elem, field)
		switch {
		case err != nil:
			return nil, err
		case !isObject:
			bad[field] = msgWindowType
			continue
		}
		for _, name := range []string{"limit", "per"} {
			if absent(members[name]) {
				bad[field+"."+name] = "is required"
			}
		}
		if l := members["limit"]; !absent(l) {
			if n, ok := parseLimit(l); ok {
				ws[i].Limit = n
			} else {
				bad[field+".limit"] = msgLimitType
			}
		}
		if p := members["per"]; !absent(p) {
			if d, ok := parsePer(p); ok {
				ws[i].Per = d
			} else {
				bad[field+".per"] = msgPerType
			}
		}
		if s := members["soft"]; !absent(s) {
			if err := json.Unmarshal(s, &ws[i].Soft); err != nil {
				bad[field+".soft"] = msgSoftType
			}
		}
	}
	return ws, nil
}

// windowMembers returns the members of the window object field. It
// reports whether raw is an object at all, and as an error a member other
// than limit, per and soft (names are exact: "LIMIT" is not limit) or one
// given twice, named as in `unknown field "limits[0].burst"`.
func windowMembers(raw json.RawMessage, field string) (map[string]json.RawMessage, bool, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false, nil
	}
	members := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false, nil
		}
		key, _ := tok.(string)
		switch _, seen := members[key]; {
		case seen:
			return nil, true, fmt.Errorf("duplicate field %q", field+"."+key)
		case key != "limit" && key != "per" && key != "soft":
			return nil, true, fmt.Errorf("unknown field %q", field+"."+key)
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, false, nil
		}
		members[key] = value
	}
	return members, true, nil
}

// firstWindowNames renames limits[0].limit and limits[0].per in a
// *tiers.ValidationError to limit and per, for a body that gave the first
// window in the Part 1 form; other errors are returned as they are.
func firstWindowNames(err error) error {
	var ve *tiers.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	renamed := &tiers.ValidationError{Fields: make([]tiers.FieldError, len(ve.Fields))}
	for i, f := range ve.Fields {
		switch f.Field {
		case "limits[0].limit":
			f.Field = "limit"
		case "limits[0].per":
			f.Field = "per"
		}
		renamed.Fields[i] = f
	}
	return renamed
}
