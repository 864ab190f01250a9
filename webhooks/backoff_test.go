package webhooks

import (
	"testing"
	"time"
)

// TestBackoff_Schedule: the first retry comes within 30 s, each wait is
// longer than the last until the cap, and at the slowest jitter retries
// still span 24 h within a few dozen attempts.
func TestBackoff_Schedule(t *testing.T) {
	t.Parallel()
	for _, j := range []float64{0, 0.5, 0.999999} {
		if d := backoff(1, j); d < 5*time.Second || d > 30*time.Second {
			t.Errorf("first retry after %v at jitter %v; want 5–30 s", d, j)
		}
	}
	// Attempt n+1's shortest wait is at least attempt n's longest, so the
	// schedule grows whatever the jitter, until the cap.
	for n := 1; backoff(n+1, 1) < maxBackoff; n++ {
		if backoff(n+1, 0) < backoff(n, 1) {
			t.Errorf("attempt %d may wait %v, less than attempt %d's %v", n+1, backoff(n+1, 0), n, backoff(n, 1))
		}
	}
	if d := backoff(1000, 0.999999); d > maxBackoff || d < maxBackoff/2 {
		t.Errorf("attempt 1000 waits %v; want the capped 30–60 min", d)
	}
	var total time.Duration
	attempts := 0
	for total < retryFor {
		attempts++
		total += backoff(attempts, 0)
	}
	if attempts > 60 {
		t.Errorf("%d attempts to span %v at the shortest waits; want a few dozen", attempts, retryFor)
	}
}
