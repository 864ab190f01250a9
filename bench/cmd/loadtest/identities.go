package main

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/quotad/quotad/api"
)

// tierPlan is one tier the load test sets up; every tier's window is
// -window seconds.
type tierPlan struct {
	name  string
	limit int64
	paid  bool // created by loadtest; free and anonymous exist already
}

// The load test's tiers. Users are assigned round-robin to the first four
// (free by leaving them unassigned); anonymous addresses get anonymous.
func tierPlans() []tierPlan {
	return []tierPlan{
		{name: "bronze", limit: 20, paid: true},
		{name: "silver", limit: 60, paid: true},
		{name: "gold", limit: 200, paid: true},
		{name: "free", limit: 30},
		{name: "anonymous", limit: 10},
	}
}

// Pacing: each identity but the hog aims at factor × limit requests per
// window, factor drawn from [minOversubscribe, maxOversubscribe), with
// every gap jittered by ±50 %, so most windows are over-subscribed and
// the limit is reached at a different moment in each.
const (
	minOversubscribe = 2.0
	maxOversubscribe = 3.0
	// hogConns is how many requests the hog keeps in flight, flat out.
	hogConns = 4
)

type identityKind int

const (
	kindUser identityKind = iota
	kindAnon
	kindHog
)

func (k identityKind) String() string {
	return [...]string{"user", "anonymous", "hog"}[k]
}

// identity is one client of the load: a user with a token, an anonymous
// address, or the hog.
type identity struct {
	name     string // "user-07", "10.77.0.3", "hog"
	kind     identityKind
	tier     string
	limit    int64
	assigned bool    // has a client assignment (else a user reads as free)
	token    string  // users and the hog
	xff      string  // anonymous: the address a proxy would put in X-Forwarded-For
	perSec   float64 // target request rate; 0 is flat out
	conns    int     // requests in flight at once
}

// makeIdentities builds the users (round-robin over bronze, silver, gold
// and unassigned free), the anonymous addresses and the hog (bronze, flat
// out), with tokens that outlive the run.
func makeIdentities(cfg config, secret string) ([]identity, error) {
	plans := tierPlans()
	limitOf := map[string]int64{}
	for _, p := range plans {
		limitOf[p.name] = p.limit
	}
	rng := rand.New(rand.NewPCG(cfg.seed, 0x10ad7e57))
	pace := func(limit int64) float64 {
		factor := minOversubscribe + rng.Float64()*(maxOversubscribe-minOversubscribe)
		return factor * float64(limit) / float64(cfg.window)
	}
	ttl := cfg.duration + time.Hour
	var ids []identity
	rotation := []string{"bronze", "silver", "gold", "free"}
	for i := range cfg.users {
		tier := rotation[i%len(rotation)]
		id := identity{
			name: fmt.Sprintf("user-%02d", i+1), kind: kindUser, tier: tier, limit: limitOf[tier],
			assigned: tier != "free", conns: 1,
		}
		id.perSec = pace(id.limit)
		ids = append(ids, id)
	}
	for i := range cfg.anon {
		id := identity{
			name: fmt.Sprintf("10.77.%d.%d", i/250, i%250+1), kind: kindAnon, tier: "anonymous",
			limit: limitOf["anonymous"], conns: 1,
		}
		id.xff, id.perSec = id.name, pace(id.limit)
		ids = append(ids, id)
	}
	ids = append(ids, identity{
		name: "hog", kind: kindHog, tier: "bronze", limit: limitOf["bronze"], assigned: true, conns: hogConns,
	})
	for i := range ids {
		if ids[i].kind == kindAnon {
			continue
		}
		tok, err := api.MintToken([]byte(secret), api.TokenClaims{Subject: ids[i].name, TTL: ttl})
		if err != nil {
			return nil, err
		}
		ids[i].token = tok
	}
	return ids, nil
}

func countAssigned(ids []identity) int {
	n := 0
	for _, id := range ids {
		if id.assigned {
			n++
		}
	}
	return n
}
