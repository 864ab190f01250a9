package quota

import "time"

// Decision is the outcome of one request against a Limit.
//
// With a Limit of 10 per minute and 6 requests already admitted in the
// window that ends at 12:01:00, an Allow at 12:00:45 returns Allowed true,
// Remaining 3, Reset 12:01:00, ResetAfter 15s and RetryAfter 0. The eleventh
// request of that window returns Allowed false, Remaining 0 and a RetryAfter
// equal to ResetAfter.
//
// Remaining, Reset and ResetAfter describe the binding window: on a
// refusal, the refusing window that resets last; otherwise the window with
// the fewest requests remaining (of those, the one that resets first).
// Window gives every window's state.
type Decision struct {
	// Allowed reports whether the request was admitted (for Peek: whether
	// one more request would be).
	Allowed bool
	// Limit is the quota the decision was made against.
	Limit Limit
	// Remaining is how many more requests the binding window admits;
	// never negative.
	Remaining int64
	// Reset is when the binding window ends, on the store's clock.
	Reset time.Time
	// ResetAfter is the time left until Reset.
	ResetAfter time.Duration
	// RetryAfter is how long a refused caller should wait until every
	// refusing window has room; 0 when Allowed.
	RetryAfter time.Duration
	// Binding is the index in Limit.Windows of the binding window.
	Binding int
	// Overage is how far the Limit's soft month window is past its
	// Requests, this request included; 0 while it is within them.
	Overage int64

	// windows holds every window's state when the Limit has several; nil
	// for one window, whose state is the fields above, so that the
	// Decision of a one-window Limit stays small to copy and to box.
	windows *[MaxWindows]WindowState
}

// WindowState is one window's part of a Decision.
type WindowState struct {
	// Remaining is how many more requests the window admits.
	Remaining int64
	// Reset is when the window ends, on the store's clock.
	Reset time.Time
	// ResetAfter is the time left until Reset.
	ResetAfter time.Duration
	// Refused reports whether this window had too little room left for
	// the request.
	Refused bool
}

// Window returns the state of window i of d.Limit.Windows. The binding
// window's is the Decision's own fields, so a Decision built by hand for a
// one-window Limit describes its window too.
func (d Decision) Window(i int) WindowState {
	if i == d.Binding || d.windows == nil {
		return WindowState{Remaining: d.Remaining, Reset: d.Reset, ResetAfter: d.ResetAfter, Refused: !d.Allowed}
	}
	return d.windows[i]
}

// newDecision builds the Decision of a one-window Limit from its count.
// resetAfter is taken from the store's clock, so callers never compare
// clocks of two machines.
func newDecision(l Limit, allowed bool, count int64, reset time.Time, resetAfter time.Duration) Decision {
	resetAfter = max(resetAfter, 0)
	d := Decision{
		Allowed:    allowed,
		Limit:      l,
		Remaining:  max(l.Windows[0].Requests-count, 0),
		Reset:      reset,
		ResetAfter: resetAfter,
	}
	if !allowed {
		d.RetryAfter = resetAfter
	}
	return d
}

// decide decides a request of cost n under l, whose windows hold counts at
// the store's time sec.usec (Unix seconds and microseconds): it is
// admitted only if every window has n left, and then counts gains n in
// every window. Both stores decide with it, and the Redis store replays
// with it what its script decided, call by call.
func decide(l Limit, counts *[MaxWindows]int64, n, sec, usec int64) Decision {
	return judge(l, counts, n, true, sec, usec)
}

// peekDecision is the Decision of Peek: whether one more request would be
// admitted, with counts left as they are.
func peekDecision(l Limit, counts *[MaxWindows]int64, sec, usec int64) Decision {
	return judge(l, counts, 1, false, sec, usec)
}

// judge is decide, consuming only if consume is set.
func judge(l Limit, counts *[MaxWindows]int64, n int64, consume bool, sec, usec int64) Decision {
	d := Decision{Limit: l, Allowed: true}
	var ws [MaxWindows]WindowState
	for i, w := range l.Windows {
		if counts[i]+n > w.Requests && !w.Soft {
			d.Allowed = false
			ws[i].Refused = true
		}
	}
	anchor := l.anchor()
	for i, w := range l.Windows {
		if d.Allowed && consume {
			counts[i] += n
		}
		_, end := w.bounds(sec, anchor)
		st := &ws[i]
		st.Remaining = max(w.Requests-counts[i], 0)
		if w.Soft {
			d.Overage = max(counts[i]-w.Requests, 0)
		}
		st.Reset = time.Unix(end, 0)
		st.ResetAfter = max(time.Duration(end-sec)*time.Second-time.Duration(usec)*time.Microsecond, 0)
		if i > 0 && binds(d.Allowed, st, &ws[d.Binding]) {
			d.Binding = i
		}
	}
	if len(l.Windows) > 1 {
		all := ws
		d.windows = &all
	}
	b := ws[d.Binding]
	d.Remaining, d.Reset, d.ResetAfter = b.Remaining, b.Reset, b.ResetAfter
	if !d.Allowed {
		d.RetryAfter = b.ResetAfter
	}
	return d
}

// binds reports whether window st binds rather than cur, the binding one
// among the windows before it: on a refusal the refusing window that resets
// last, else the one with the fewest remaining, resetting first on a tie.
func binds(allowed bool, st, cur *WindowState) bool {
	if !allowed {
		return st.Refused && (!cur.Refused || st.Reset.After(cur.Reset))
	}
	return st.Remaining < cur.Remaining || st.Remaining == cur.Remaining && st.Reset.Before(cur.Reset)
}
