package quota

import (
	"sync/atomic"
	"time"
)

// clockCheckEvery is how long a measurement of Redis's clock is trusted
// before a decision asks Redis for its time again.
const clockCheckEvery = time.Second

// redisClock estimates Redis's clock from this process's, so that a lone
// decision can name its window's hash field: the script then checks the
// name against Redis TIME instead of working one out and formatting it,
// and replies the bare count instead of the count and the time
// (allowScript). A wrong guess costs nothing but that saving: the script
// counts in the window TIME says and replies the time, which corrects the
// estimate. Windows stay on Redis's clock whatever this one says.
//
// The offset is measured from replies that carry Redis TIME, against the
// midpoint of the round trip; it is trusted for clockCheckEvery, after
// which the next decision names the epoch's first window, which is never
// Redis's, and so measures again.
type redisClock struct {
	offset  atomic.Int64 // Redis's Unix µs minus this process's, as last measured
	checked atomic.Int64 // local Unix ns of the last measurement; 0: never
}

// estimate returns Redis's time in Unix µs as of local, and false when
// there is no measurement recent enough to name a window with.
func (c *redisClock) estimate(local time.Time) (int64, bool) {
	checked := c.checked.Load()
	ns := local.UnixNano()
	if checked == 0 || ns-checked >= int64(clockCheckEvery) || ns < checked {
		return 0, false
	}
	return ns/1e3 + c.offset.Load(), true
}

// learn records Redis's time sec.usec, read by a call sent at local time
// sent and answered at received.
func (c *redisClock) learn(sent, received time.Time, sec, usec int64) {
	mid := sent.UnixMicro() + received.Sub(sent).Microseconds()/2
	c.offset.Store(sec*1e6 + usec - mid)
	c.checked.Store(received.UnixNano())
}
