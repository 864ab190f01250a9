package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quotad/quotad/quota"
)

// sample is one request as the load generator saw it. Times are offsets
// from the start of the load on the monotonic clock.
type sample struct {
	start, end time.Duration
	reset      int64 // X-RateLimit-Reset (Unix seconds, the window's end); 0 when absent
	id         int32 // index into the identities
	inst       int16 // index into the instances
	status     int16 // HTTP status; 0 for a transport error
	degraded   bool  // X-RateLimit-Degraded: admitted without a decision
}

// faultTimes are the moments of the Redis restart, as offsets from the
// start of the load; all zero without a fault.
type faultTimes struct {
	stop    time.Duration // SIGTERM sent
	down    time.Duration // the process has exited
	restart time.Duration // a new process launched on the same port
	up      time.Duration // it answers PING (with an empty dataset)
}

// loadResult is everything the load recorded.
type loadResult struct {
	started  time.Time     // wall clock of offset 0 (windows are wall-clock aligned)
	elapsed  time.Duration // until the last request in flight at -duration had its answer
	samples  []sample
	firstErr string // the first transport error, for the report
	fault    *faultTimes
	kill     *killTimes // nil unless -kill
}

// wall converts an offset to wall-clock time.
func (r *loadResult) wall(d time.Duration) time.Time { return r.started.Add(d) }

// counters are the live totals behind the progress line.
type counters struct {
	sent, admitted, limited, degraded, other, errors atomic.Int64
}

// runLoad runs every identity's goroutines against the instances
// round-robin for -duration, the SIGKILL of an instance at a quarter and
// the Redis fault at the midpoint. Requests in flight at the end are
// waited for (each is bounded by a 10 s client timeout), so every request
// sent is recorded.
func runLoad(ctx context.Context, cfg config, env instanceEnv, insts []*instance, ids []identity, rs *redisServer, progress io.Writer) (*loadResult, error) {
	conns := 0
	for _, id := range ids {
		conns += id.conns
	}
	tr := &http.Transport{
		MaxIdleConns: conns + 16, MaxIdleConnsPerHost: conns + 16,
		IdleConnTimeout: 90 * time.Second, DisableCompression: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	// Start on a window boundary (windows are aligned to the Unix epoch), so
	// every run has the same windows: -duration/-window full ones, and the
	// fault at the same point of one of them.
	perNanos := int64(cfg.windowDur())
	wait := time.Duration(perNanos - time.Now().UnixNano()%perNanos)
	fmt.Fprintf(progress, "waiting %v for the next window boundary\n", wait.Round(time.Millisecond))
	t := time.NewTimer(wait)
	select {
	case <-ctx.Done():
		t.Stop()
		return nil, ctx.Err()
	case <-t.C:
	}
	res := &loadResult{started: time.Now()}
	clock := func() time.Duration { return time.Since(res.started) }
	var live counters
	var firstErr sync.Once
	perWorker := make([][]sample, 0, conns)
	var mu sync.Mutex // guards perWorker
	var wg sync.WaitGroup
	worker := 0
	for idx, id := range ids {
		for range id.conns {
			rng := rand.New(rand.NewPCG(cfg.seed, uint64(worker)))
			firstInst := worker % len(insts)
			worker++
			wg.Go(func() {
				w := loadWorker{
					cfg: cfg, client: client, insts: insts, id: id, idx: int32(idx), rng: rng,
					clock: clock, live: &live, nextInst: firstInst,
				}
				s, errText := w.run(ctx)
				if errText != "" {
					firstErr.Do(func() { res.firstErr = errText })
				}
				mu.Lock()
				perWorker = append(perWorker, s)
				mu.Unlock()
			})
		}
	}

	var faultErr, killErr error
	var faultWG sync.WaitGroup
	if cfg.fault == faultRedisRestart {
		res.fault = &faultTimes{}
		faultWG.Go(func() { faultErr = restartRedis(ctx, cfg, rs, res.fault, clock, progress) })
	}
	if cfg.kill {
		res.kill = &killTimes{}
		faultWG.Go(func() { killErr = killInstance(ctx, cfg, env, insts, res.kill, clock, progress) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last int64
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-tick.C:
			sent := live.sent.Load()
			fmt.Fprintf(progress, "%5.1fs  %6d req/s  admitted %d  limited %d  degraded %d  other %d  errors %d\n",
				clock().Seconds(), sent-last, live.admitted.Load(), live.limited.Load(),
				live.degraded.Load(), live.other.Load(), live.errors.Load())
			last = sent
		}
	}
	res.elapsed = clock()
	faultWG.Wait()
	for _, s := range perWorker {
		res.samples = append(res.samples, s...)
	}
	if err := errors.Join(faultErr, killErr); err != nil {
		return nil, err
	}
	return res, ctx.Err()
}

// loadWorker is one goroutine of one identity: one request at a time.
type loadWorker struct {
	cfg      config
	client   *http.Client
	insts    []*instance
	id       identity
	idx      int32
	rng      *rand.Rand
	clock    func() time.Duration
	live     *counters
	nextInst int
}

// run sends until -duration is over, paced at the identity's rate with
// every gap jittered by ±50 % (the hog: flat out). A worker that falls
// behind does not burst to catch up. It returns its samples and its first
// transport error.
func (w *loadWorker) run(ctx context.Context) ([]sample, string) {
	var out []sample
	var firstErr string
	paced := w.id.perSec > 0
	var interval, next time.Duration
	if paced {
		interval = time.Duration(float64(time.Second) / w.id.perSec)
		next = time.Duration(w.rng.Float64() * float64(interval)) // a random phase
	}
	for {
		if paced {
			if wait := next - w.clock(); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return out, firstErr
				case <-t.C:
				}
			}
		}
		if w.clock() >= w.cfg.duration || ctx.Err() != nil {
			return out, firstErr
		}
		s, err := w.send(ctx)
		out = append(out, s)
		if err != nil && firstErr == "" {
			firstErr = err.Error()
		}
		if paced {
			next += time.Duration(float64(interval) * (0.5 + w.rng.Float64()))
			if now := w.clock(); now-next > interval {
				next = now
			}
		}
	}
}

// send makes one GET /rate-limited to the next instance that is not
// down and records it.
func (w *loadWorker) send(ctx context.Context) (sample, error) {
	inst := w.nextInst % len(w.insts)
	w.nextInst++
	for tries := 1; w.insts[inst].down.Load() && tries < len(w.insts); tries++ {
		inst = w.nextInst % len(w.insts)
		w.nextInst++
	}
	s := sample{id: w.idx, inst: int16(inst)}
	w.live.sent.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.insts[inst].url+"/rate-limited", nil)
	if err != nil {
		return s, err
	}
	setIdentity(req, w.id)
	s.start = w.clock()
	resp, err := w.client.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	s.end = w.clock()
	if err != nil {
		w.live.errors.Add(1)
		return s, err
	}
	s.status = int16(resp.StatusCode)
	s.degraded = resp.Header.Get(quota.HeaderDegraded) != ""
	if v := resp.Header.Get(quota.HeaderReset); v != "" {
		s.reset, _ = strconv.ParseInt(v, 10, 64)
	}
	switch {
	case s.status == http.StatusOK:
		w.live.admitted.Add(1)
		if s.degraded {
			w.live.degraded.Add(1)
		}
	case s.status == http.StatusTooManyRequests:
		w.live.limited.Add(1)
	default:
		w.live.other.Add(1)
	}
	return s, nil
}

// restartRedis stops Redis at the midpoint of the load, keeps it down for
// -downtime, and starts it again, empty, on the same port.
func restartRedis(ctx context.Context, cfg config, rs *redisServer, f *faultTimes, clock func() time.Duration, progress io.Writer) error {
	t := time.NewTimer(cfg.duration/2 - clock())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil
	case <-t.C:
	}
	f.stop = clock()
	if err := rs.stop(); err != nil {
		return err
	}
	f.down = clock()
	fmt.Fprintf(progress, "%5.1fs  FAULT: redis-server stopped (SIGTERM), exited after %v\n",
		f.stop.Seconds(), (f.down - f.stop).Round(time.Millisecond))
	t.Reset(f.stop + cfg.downtime - clock())
	select {
	case <-ctx.Done():
		return nil
	case <-t.C:
	}
	f.restart = clock()
	if err := rs.start(ctx); err != nil {
		return fmt.Errorf("restarting redis: %w", err)
	}
	f.up = clock()
	fmt.Fprintf(progress, "%5.1fs  FAULT: redis-server started again on %s, empty; answering PING after %v\n",
		f.restart.Seconds(), rs.addr(), (f.up - f.restart).Round(time.Millisecond))
	return nil
}
