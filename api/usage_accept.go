package api

import (
	"strconv"
	"strings"
)

// exportAsCSV negotiates the usage export's format from the request's
// Accept header values (RFC 9110 §12.5.1): csv is true when text/csv gets
// a greater quality than application/json, and ok is false when neither
// is acceptable (a 406). No header means JSON; so do equal qualities
// ("*/*", or both listed without q).
func exportAsCSV(accept []string) (csv, ok bool) {
	header := strings.Join(accept, ",")
	if strings.TrimSpace(header) == "" {
		return false, true
	}
	qJSON, qCSV := acceptQuality(header, "application", "json"), acceptQuality(header, "text", "csv")
	switch {
	case qCSV > qJSON:
		return true, true
	case qJSON > 0:
		return false, true
	}
	return false, false
}

// acceptQuality is the quality an Accept header gives typ/sub: that of the
// most specific media range matching it (typ/sub over typ/* over */*), the
// greatest if several are as specific, or 0 if none matches. A range with
// a malformed q is ignored. "text/csv;q=0, */*" gives text/csv 0.
func acceptQuality(header, typ, sub string) float64 {
	quality, specificity := 0.0, -1
	for _, r := range strings.Split(header, ",") {
		mediaRange, params, _ := strings.Cut(r, ";")
		t, s, ok := strings.Cut(strings.ToLower(strings.TrimSpace(mediaRange)), "/")
		if !ok {
			continue
		}
		var spec int
		switch {
		case t == typ && s == sub:
			spec = 2
		case t == typ && s == "*":
			spec = 1
		case t == "*" && s == "*":
			spec = 0
		default:
			continue
		}
		q, ok := qValue(params)
		if !ok || spec < specificity {
			continue
		}
		if spec > specificity {
			quality, specificity = q, spec
		} else {
			quality = max(quality, q)
		}
	}
	return quality
}

// qValue returns the q parameter among a media range's parameters
// ("charset=utf-8;q=0.5"), 1 when there is none, and false when it is not
// a number from 0 to 1.
func qValue(params string) (float64, bool) {
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || !(q >= 0 && q <= 1) { // NaN too
			return 0, false
		}
		return q, true
	}
	return 1, true
}
