package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFormatProgress(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name string
		s    snapshot
		want string
	}{
		{"no header yet", snapshot{remaining: -1}, "1.2s  sent 0  admitted 0  limited 0  errors 0  remaining -"},
		{"running", snapshot{sent: 12, admitted: 10, limited: 1, errors: 1, remaining: 3},
			"1.2s  sent 12  admitted 10  limited 1  errors 1  remaining 3"},
		{"paused", snapshot{sent: 6, admitted: 5, limited: 1, remaining: 0, pausedUntil: now.Add(2 * time.Second)},
			"1.2s  sent 6  admitted 5  limited 1  errors 0  remaining 0  (Retry-After: paused 2s)"},
		{"pause over", snapshot{remaining: 0, pausedUntil: now.Add(-time.Second)},
			"1.2s  sent 0  admitted 0  limited 0  errors 0  remaining 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := formatProgress(tt.s, 1234*time.Millisecond, now); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// signalWriter collects writes and announces each one, so a test can wait
// for the ticker without sleeping.
type signalWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case w.wrote <- struct{}{}:
	default:
	}
	return w.buf.Write(p)
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestProgress(t *testing.T) {
	t.Parallel()
	for _, tty := range []bool{true, false} {
		name := map[bool]string{true: "terminal", false: "log"}[tty]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := &signalWriter{wrote: make(chan struct{}, 1)}
			var c counters
			c.remaining.Store(4)
			c.sent.Store(1)
			p := &progress{w: w, tty: tty, interval: time.Millisecond, start: time.Now(), read: c.snapshot}
			p.begin()
			<-w.wrote
			p.stop()

			out := w.String()
			if !strings.Contains(out, "sent 1") || !strings.Contains(out, "remaining 4") {
				t.Errorf("progress output %q lacks the counters", out)
			}
			if tty != strings.HasPrefix(out, "\r") {
				t.Errorf("tty=%v but output %q", tty, out)
			}
			if !strings.HasSuffix(out, "\n") {
				t.Errorf("output %q does not end its line", out)
			}
		})
	}
}

func TestProgress_StopNil(t *testing.T) {
	t.Parallel()
	var p *progress // -quiet
	p.stop()
}
