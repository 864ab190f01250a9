package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Headers of every delivery.
const (
	// SignatureHeader carries Sign's value: t=<unix>,v1=<hex HMAC-SHA256>.
	SignatureHeader = "Quota-Signature"
	// EventIDHeader carries the event's id, the same as the body's "id", so
	// a receiver can dedupe before parsing.
	EventIDHeader = "Quota-Event-Id"
)

// Errors of Verify (wrapped; test with errors.Is).
var (
	// ErrSignature means the header is malformed or no v1 signature in it
	// matches the body.
	ErrSignature = errors.New("webhooks: bad signature")
	// ErrStale means the header's timestamp is further from now than the
	// tolerance: possibly a replay of an old delivery.
	ErrStale = errors.New("webhooks: signature timestamp outside tolerance")
)

// Sign returns the Quota-Signature value of body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<unix seconds>." + body)>".
// The timestamp is signed with the body so a captured delivery cannot be
// replayed later than the receiver's tolerance.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks that header, a Quota-Signature value, signs body with
// secret at a time within tolerance of now. Any of several v1 entries may
// match, so a sender may sign with an old and a new secret while they are
// rotated. Signatures are compared in constant time.
func Verify(secret []byte, header string, body []byte, tolerance time.Duration, now time.Time) error {
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: %q is not key=value", ErrSignature, part)
		}
		switch k {
		case "t":
			if ts != "" {
				return fmt.Errorf("%w: two timestamps", ErrSignature)
			}
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return fmt.Errorf("%w: v1 is not %d hex bytes", ErrSignature, sha256.Size)
			}
			sigs = append(sigs, sig)
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: no unix timestamp t", ErrSignature)
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: no v1 signature", ErrSignature)
	}
	if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed %v from now", ErrStale, d.Round(time.Second))
	}
	want := mac(secret, ts, body)
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			return nil
		}
	}
	return ErrSignature
}
