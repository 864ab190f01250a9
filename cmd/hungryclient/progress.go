package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// Redraw rates: on a terminal the line is rewritten in place, so it can be
// lively; in a log file every redraw is a new line, so it must be sparse.
const (
	ttyInterval = 200 * time.Millisecond
	logInterval = 5 * time.Second
)

// counters are the live totals the progress line shows while workers run;
// atomics so a worker never waits on the printer.
type counters struct {
	sent, admitted, limited, errors atomic.Int64
	remaining                       atomic.Int64 // last X-RateLimit-Remaining seen; -1 before any
	pausedUntil                     atomic.Int64 // UnixNano of the current Retry-After pause; 0 none
}

// snapshot is one consistent-enough reading of counters for display.
type snapshot struct {
	sent, admitted, limited, errors int64
	remaining                       int64
	pausedUntil                     time.Time
}

func (c *counters) snapshot() snapshot {
	s := snapshot{
		sent:      c.sent.Load(),
		admitted:  c.admitted.Load(),
		limited:   c.limited.Load(),
		errors:    c.errors.Load(),
		remaining: c.remaining.Load(),
	}
	if ns := c.pausedUntil.Load(); ns != 0 {
		s.pausedUntil = time.Unix(0, ns)
	}
	return s
}

// formatProgress renders one progress line, e.g.
// "12.3s  sent 120  admitted 100  limited 20  errors 0  remaining 3".
func formatProgress(s snapshot, elapsed time.Duration, now time.Time) string {
	remaining := "-"
	if s.remaining >= 0 {
		remaining = fmt.Sprint(s.remaining)
	}
	line := fmt.Sprintf("%s  sent %d  admitted %d  limited %d  errors %d  remaining %s",
		elapsed.Truncate(100*time.Millisecond), s.sent, s.admitted, s.limited, s.errors, remaining)
	if wait := s.pausedUntil.Sub(now); !s.pausedUntil.IsZero() && wait > 0 {
		// Round up: "paused 0s" while still paused would read as a hang.
		wait = (wait + 100*time.Millisecond - 1).Truncate(100 * time.Millisecond)
		line += fmt.Sprintf("  (Retry-After: paused %s)", wait)
	}
	return line
}

// isTerminal reports whether w is a character device, the cue that `\r`
// redraws will be seen as one changing line rather than piling up in a file.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress redraws the live line until stopped.
type progress struct {
	w        io.Writer
	tty      bool
	interval time.Duration
	start    time.Time
	read     func() snapshot

	width int // length of the last line drawn, to blank out leftovers
	quit  chan struct{}
	done  chan struct{}
}

// startProgress draws to w every ttyInterval when tty is true (redrawing in
// place) and every logInterval otherwise (one plain line each).
func startProgress(w io.Writer, tty bool, start time.Time, read func() snapshot) *progress {
	p := &progress{w: w, tty: tty, interval: logInterval, start: start, read: read}
	if tty {
		p.interval = ttyInterval
	}
	p.begin()
	return p
}

func (p *progress) begin() {
	p.quit, p.done = make(chan struct{}), make(chan struct{})
	go p.loop()
}

func (p *progress) loop() {
	defer close(p.done)
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
			p.draw()
		}
	}
}

func (p *progress) draw() {
	now := time.Now()
	line := formatProgress(p.read(), now.Sub(p.start), now)
	if !p.tty {
		fmt.Fprintln(p.w, line)
		return
	}
	pad := max(p.width-len(line), 0)
	p.width = len(line)
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
}

// stop ends the redraws. On a terminal it draws the final state and ends
// the line, so the summary that follows starts on a clean line; in a log
// the summary itself is the final word. A nil progress (-quiet) is a no-op.
func (p *progress) stop() {
	if p == nil {
		return
	}
	close(p.quit)
	<-p.done
	if p.tty {
		p.draw()
		fmt.Fprintln(p.w)
	}
}
