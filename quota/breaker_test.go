package quota

import (
	"testing"
	"time"
)

// TestBreaker_FailuresInARow: only failures in a row count, a success
// clears them; the failure that reaches the threshold opens the breaker for
// a whole cool-off from that failure; then exactly one probe goes through,
// and its success closes the breaker.
func TestBreaker_FailuresInARow(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Unix(1_700_000_000, 0))
	b := newBreaker(3, time.Second, clock.Now)
	fail := func(n int) {
		t.Helper()
		for range n {
			if ok, probe := b.allow(); !ok || probe {
				t.Fatalf("allow() = %v, %v on a closed breaker, want true, false", ok, probe)
			}
			b.failure()
		}
	}
	fail(2)
	b.success()
	if b.failing() {
		t.Fatal("failing after a success")
	}
	fail(2)
	if b.open() || !b.failing() {
		t.Fatalf("2 failures, a success, 2 failures: open %v, failing %v; want closed and failing", b.open(), b.failing())
	}
	clock.Advance(2 * time.Second)
	fail(1) // the third in a row
	if !b.open() {
		t.Fatal("closed after 3 failures in a row")
	}
	clock.Advance(time.Second - time.Nanosecond)
	if ok, _ := b.allow(); ok || !b.open() {
		t.Fatal("let a call through before the cool-off from the third failure ended")
	}
	clock.Advance(time.Nanosecond)
	if b.open() {
		t.Fatal("open still when the cool-off ended")
	}
	if ok, probe := b.allow(); !ok || !probe {
		t.Fatalf("allow() = %v, %v after the cool-off, want the probe", ok, probe)
	}
	if ok, _ := b.allow(); ok {
		t.Fatal("a second call went through while the probe was out")
	}
	b.success()
	if b.open() || b.failing() {
		t.Fatal("the probe's success left the breaker open or failing")
	}
	if ok, probe := b.allow(); !ok || probe {
		t.Fatalf("allow() = %v, %v after recovery, want true, false", ok, probe)
	}
}
