package webhooks

import (
	"math/rand/v2"
	"time"
)

// The retry schedule. A failed attempt n (1 for the first) is retried after
// firstRetry·2^(n-1), at most maxBackoff, scaled by a random factor in
// [0.5, 1) so receivers that were down are not hit by every instance's
// backlog at the same instant: 5–10 s, 10–20 s, 20–40 s, … up to 30–60 min.
// An event is given up (failed) after an attempt that fails retryFor or more
// after its creation: about 30 attempts.
const (
	firstRetry = 10 * time.Second
	maxBackoff = time.Hour
	retryFor   = 24 * time.Hour
)

// backoff returns the wait after failed attempt n (n ≥ 1), jitter in [0, 1)
// choosing where in the attempt's range it falls.
func backoff(n int, jitter float64) time.Duration {
	d := firstRetry
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	return time.Duration(float64(d) * (0.5 + jitter/2))
}

// randomJitter is backoff's jitter in production.
func randomJitter() float64 { return rand.Float64() }
