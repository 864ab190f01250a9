package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// claimNames are the claims quotad decodes (jwt.RegisteredClaims and
// scope). encoding/json matches an object's names to them ignoring case
// under Unicode simple folding, so "SUB", "Sub" and "ſub" (long s) would
// all be read as sub.
var claimNames = [...]string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope"}

// checkTokenJSON refuses a signed token whose header or claims
// encoding/json would read differently from what the signer wrote, or
// from what another JWT library would read:
//
//   - a string, name or value, at any depth, that is not valid UTF-8 or
//     holds a lone UTF-16 surrogate escape ("a\ud800b"): encoding/json
//     turns each into U+FFFD, so subs "a\ud800b" and "a\udfffb" would
//     share the counter of "a\uFFFDb";
//   - an object, at any depth, naming a member twice, after unescaping
//     ("sub" and "s\u0075b" are one name): encoding/json lets the last
//     win, other parsers refuse or take the first (RFC 7519 §4 allows
//     refusing or the last), so two readers of one token could see two
//     clients or two scopes;
//   - a top-level claim whose name differs from one quotad reads only in
//     case ("Sub", "ſcope"), which encoding/json would take for it;
//   - a crit header (RFC 7515 §4.1.11): quotad implements no JWS
//     extension, so every crit list names one it does not understand,
//     and an empty or malformed list is invalid anyway.
//
// It runs on a token whose signature has verified and before the token is
// cached: a cached token skips it, and no unsigned input reaches it.
func checkTokenJSON(raw string) error {
	header, rest, _ := strings.Cut(raw, ".")
	payload, _, _ := strings.Cut(rest, ".")
	if err := checkSegment(header, "header", checkHeaderName); err != nil {
		return err
	}
	return checkSegment(payload, "claims", checkClaimName)
}

// checkHeaderName refuses the crit header parameter.
func checkHeaderName(name string) error {
	if name == "crit" {
		return errors.New("the crit header names extensions quotad does not understand")
	}
	return nil
}

// checkClaimName refuses a claim name that encoding/json would match to a
// claim quotad reads although it is not spelled exactly so.
func checkClaimName(name string) error {
	for _, c := range claimNames {
		if name != c && strings.EqualFold(name, c) {
			return fmt.Errorf("claim %q would be read as %q", name, c)
		}
	}
	return nil
}

// checkSegment decodes one base64url segment (as the parser did, strictly,
// without padding) and checks its JSON, calling top for each name of the
// top-level object.
func checkSegment(seg, what string, top func(string) error) error {
	data, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !utf8.Valid(data) {
		return fmt.Errorf("%s: not valid UTF-8", what)
	}
	if hasLoneSurrogate(data) {
		return fmt.Errorf("%s: a lone UTF-16 surrogate escape", what)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers are skipped, not parsed
	if err := checkValue(dec, top); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// checkValue reads one JSON value from dec and refuses an object that
// names a member twice, at any depth; top, when not nil, also sees each
// name of the value if it is an object. Names are compared as decoded,
// which is faithful here: checkSegment has refused every input that
// decoding would alter.
func checkValue(dec *json.Decoder, top func(string) error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('['):
		for dec.More() {
			if err := checkValue(dec, nil); err != nil {
				return err
			}
		}
	case json.Delim('{'):
		var seen map[string]struct{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			name, _ := tok.(string)
			if _, dup := seen[name]; dup {
				return fmt.Errorf("%q is named twice", name)
			}
			if seen == nil {
				seen = make(map[string]struct{}, 8)
			}
			seen[name] = struct{}{}
			if top != nil {
				if err := top(name); err != nil {
					return err
				}
			}
			if err := checkValue(dec, nil); err != nil {
				return err
			}
		}
	default:
		return nil // a scalar
	}
	_, err = dec.Token() // the closing ] or }
	return err
}

// hasLoneSurrogate reports a \u escape of a UTF-16 surrogate that is not
// half of a pair: a high one (\uD800–\uDBFF) not followed at once by an
// escaped low one (\uDC00–\uDFFF), or a low one on its own. In valid JSON
// a backslash occurs only inside strings, so scanning the raw bytes is
// enough, as long as each escape is skipped whole ("\\u" is a backslash
// and a u).
func hasLoneSurrogate(data []byte) bool {
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		i++ // the escaped byte
		if i >= len(data) || data[i] != 'u' {
			continue
		}
		r, ok := hex4(data[i+1:])
		if !ok {
			continue // malformed: the decoder refuses it
		}
		i += 4
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		case r >= 0xD800 && r <= 0xDBFF:
			next := data[i+1:]
			if len(next) < 6 || next[0] != '\\' || next[1] != 'u' {
				return true
			}
			if lo, ok := hex4(next[2:]); !ok || lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 6
		}
	}
	return false
}

// hex4 parses the four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
