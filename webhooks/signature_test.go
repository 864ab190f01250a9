package webhooks

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestSign_VerifyRoundTripAndTampering: a signature verifies with its
// secret and body within the tolerance, and any change is refused.
func TestSign_VerifyRoundTripAndTampering(t *testing.T) {
	t.Parallel()
	at := time.Unix(1_900_000_000, 0)
	body := []byte(`{"id":"evt_1","threshold":80}`)
	sig := Sign(testSecret, at, body)
	if !strings.HasPrefix(sig, "t=1900000000,v1=") || len(sig) != len("t=1900000000,v1=")+64 {
		t.Fatalf("Sign = %q; want t=1900000000,v1=<64 hex digits>", sig)
	}
	if err := Verify(testSecret, sig, body, 5*time.Minute, at.Add(4*time.Minute)); err != nil {
		t.Fatalf("Verify of a good signature: %v", err)
	}
	otherSig := Sign([]byte("another-secret-also-32-bytes-long!"), at, body)
	_, v1, _ := strings.Cut(sig, ",")
	for _, tc := range []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"body changed", testSecret, sig, []byte(`{"id":"evt_1","threshold":100}`), at, ErrSignature},
		{"other secret", []byte("x"), sig, body, at, ErrSignature},
		{"signed by another secret", testSecret, otherSig, body, at, ErrSignature},
		{"timestamp changed", testSecret, "t=1900000001," + v1, body, at, ErrSignature},
		{"no timestamp", testSecret, v1, body, at, ErrSignature},
		{"no signature", testSecret, "t=1900000000", body, at, ErrSignature},
		{"signature not hex", testSecret, "t=1900000000,v1=zz", body, at, ErrSignature},
		{"signature truncated", testSecret, sig[:len(sig)-2], body, at, ErrSignature},
		{"garbage", testSecret, "nonsense", body, at, ErrSignature},
		{"empty", testSecret, "", body, at, ErrSignature},
		{"too old", testSecret, sig, body, at.Add(6 * time.Minute), ErrStale},
		{"from the future", testSecret, sig, body, at.Add(-6 * time.Minute), ErrStale},
	} {
		if err := Verify(tc.secret, tc.header, tc.body, 5*time.Minute, tc.now); !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify = %v; want %v", tc.name, err, tc.want)
		}
	}
	// During a secret rotation a sender may list a signature per secret.
	rotating := otherSig + "," + v1
	if err := Verify(testSecret, rotating, body, time.Minute, at); err != nil {
		t.Errorf("Verify with one of two v1 matching: %v", err)
	}
}
