package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quotad/quotad/api"
	"github.com/quotad/quotad/quota"
)

// The flood runs after the main load, with Redis up: -flood-clients
// identities no instance has seen, most never assigned (free) and
// -flood-assigned of them on the paid tiers, sent by -flood-conns
// requests in flight at once: a stampede of callers no instance has
// answered yet, with Redis as busy as the machine can make it, when a
// tier lookup that waited on Postgres would give up and answer free, and a
// decision that waited on Redis would fail open.

// floodPhase sets up the flood's clients and runs it.
func floodPhase(ctx context.Context, cfg config, insts []*instance, secret string, progress io.Writer) (*floodResult, error) {
	clients, err := makeFloodClients(cfg, secret)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := assignFlood(ctx, insts, clients, secret); err != nil {
		return nil, fmt.Errorf("assigning the flood's clients: %w", err)
	}
	fmt.Fprintf(progress, "flood: %d clients, %d assigned (in %v); flooding for %v with %d in flight\n",
		cfg.floodClients, cfg.floodAssign, time.Since(start).Round(time.Millisecond), cfg.flood, cfg.floodConns)
	return runFlood(ctx, cfg, insts, clients, progress)
}

// floodClient is one identity of the flood.
type floodClient struct {
	name  string
	tier  string // assigned tier, or free
	token string
}

// makeFloodClients mints the flood's tokens. Assigned clients are spread
// evenly through the list (every clients/assigned-th), round-robin over
// the paid tiers, so they are interleaved with the rest of the traffic.
func makeFloodClients(cfg config, secret string) ([]floodClient, error) {
	var paid []string
	for _, p := range tierPlans() {
		if p.paid {
			paid = append(paid, p.name)
		}
	}
	out := make([]floodClient, cfg.floodClients)
	ttl := cfg.duration + cfg.flood + time.Hour
	assigned := 0
	for i := range out {
		c := floodClient{name: fmt.Sprintf("flood-%06d", i+1), tier: "free"}
		// The i-th client is assigned when i·assigned/clients steps up.
		if cfg.floodAssign > 0 && (i+1)*cfg.floodAssign/cfg.floodClients > assigned {
			c.tier = paid[assigned%len(paid)]
			assigned++
		}
		tok, err := api.MintToken([]byte(secret), api.TokenClaims{Subject: c.name, TTL: ttl})
		if err != nil {
			return nil, err
		}
		c.token = tok
		out[i] = c
	}
	return out, nil
}

// assignFlood assigns the flood's paid clients through the admin API, the
// instances in turn, a few at a time. Each write has committed when it is
// answered, so a lookup made afterwards finds it.
func assignFlood(ctx context.Context, insts []*instance, clients []floodClient, secret string) error {
	admin, err := api.MintToken([]byte(secret), api.TokenClaims{Subject: "loadtest-admin", Admin: true, TTL: time.Hour})
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	work := make(chan int)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range work {
				c := clients[i]
				u := insts[i%len(insts)].url + "/v1/admin/clients/" + url.PathEscape(c.name)
				if err := call(ctx, client, http.MethodPut, u, admin, map[string]string{"tier": c.tier}, http.StatusOK); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i, c := range clients {
		if c.tier == "free" {
			continue
		}
		select {
		case work <- i:
		case err := <-errs:
			close(work)
			wg.Wait()
			return err
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// floodCounts are what the flood's answers said.
type floodCounts struct {
	sent, admitted, limited, degraded, status5xx, other, errors atomic.Int64
	// Requests of assigned clients, and those among them answered under
	// another tier's policy: the fallbacks the goal allows none of.
	assignedSent, fallbacks atomic.Int64
	// Unassigned clients answered under a tier other than free.
	wrongFree atomic.Int64
	// Decided answers (not degraded) without a RateLimit-Policy.
	noPolicy atomic.Int64
}

// floodResult is everything the flood recorded.
type floodResult struct {
	clients, assigned, conns int
	elapsed                  time.Duration
	counts                   *floodCounts
	lat                      latency
	firstErr                 string
}

// runFlood sends -flood-conns requests at a time, each for the next client
// in a shuffled order (wrapping around) to the next instance, for -flood.
func runFlood(ctx context.Context, cfg config, insts []*instance, clients []floodClient, progress io.Writer) (*floodResult, error) {
	tr := &http.Transport{
		MaxIdleConns: cfg.floodConns + 16, MaxIdleConnsPerHost: cfg.floodConns + 16,
		IdleConnTimeout: 90 * time.Second, DisableCompression: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	order := rand.New(rand.NewPCG(cfg.seed, 0xf100d)).Perm(len(clients))

	res := &floodResult{clients: len(clients), conns: cfg.floodConns, counts: &floodCounts{}}
	for _, c := range clients {
		if c.tier != "free" {
			res.assigned++
		}
	}
	var (
		next     atomic.Int64
		mu       sync.Mutex
		lats     []time.Duration
		firstErr sync.Once
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range cfg.floodConns {
		wg.Go(func() {
			var mine []time.Duration
			for time.Since(start) < cfg.flood && ctx.Err() == nil {
				n := next.Add(1) - 1
				c := clients[order[n%int64(len(clients))]]
				took, err := floodSend(ctx, client, insts[n%int64(len(insts))].url, c, res.counts)
				if err != nil {
					firstErr.Do(func() { res.firstErr = err.Error() })
					continue
				}
				mine = append(mine, took)
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-tick.C:
			k := res.counts
			fmt.Fprintf(progress, "flood %4.1fs  sent %d  admitted %d  limited %d  degraded %d  fallbacks %d  errors %d\n",
				time.Since(start).Seconds(), k.sent.Load(), k.admitted.Load(), k.limited.Load(),
				k.degraded.Load(), k.fallbacks.Load(), k.errors.Load())
		}
	}
	res.elapsed = time.Since(start)
	res.lat = latencyOf(lats)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return res, nil
}

// floodSend makes one GET /rate-limited as c and counts the answer.
func floodSend(ctx context.Context, client *http.Client, base string, c floodClient, k *floodCounts) (time.Duration, error) {
	k.sent.Add(1)
	assigned := c.tier != "free"
	if assigned {
		k.assignedSent.Add(1)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/rate-limited", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	start := time.Now()
	resp, err := client.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	took := time.Since(start)
	if err != nil {
		k.errors.Add(1)
		return took, err
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		k.admitted.Add(1)
	case resp.StatusCode == http.StatusTooManyRequests:
		k.limited.Add(1)
	case resp.StatusCode >= 500:
		k.status5xx.Add(1)
		return took, nil
	default:
		k.other.Add(1)
		return took, nil
	}
	if resp.Header.Get(quota.HeaderDegraded) != "" {
		// Admitted without a decision: nothing says which tier applied.
		k.degraded.Add(1)
		return took, nil
	}
	got := policyTier(resp.Header.Get(quota.HeaderPolicy))
	switch {
	case got == "":
		k.noPolicy.Add(1)
	case got != c.tier && assigned:
		k.fallbacks.Add(1)
	case got != c.tier:
		k.wrongFree.Add(1)
	}
	return took, nil
}

// policyTier returns the tier a RateLimit-Policy names: `"gold";q=200;w=10`
// is gold, and so is each item of a tier with several windows,
// `"gold:1";q=20;w=1, "gold:3600";…`. It returns "" for anything else.
func policyTier(v string) string {
	rest, ok := strings.CutPrefix(v, `"`)
	if !ok {
		return ""
	}
	name, _, ok := strings.Cut(rest, `"`)
	if !ok {
		return ""
	}
	name, _, _ = strings.Cut(name, ":")
	return name
}
