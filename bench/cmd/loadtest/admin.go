package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/quotad/quotad/api"
)

// setUpTiers creates the paid tiers, sets free and anonymous to the run's
// window and assigns the users, all through the admin API of the first
// instance, then waits until every instance reports every identity's tier
// in GET /v1/quota (which consumes no quota). It returns how long the
// changes took to be visible everywhere.
func setUpTiers(ctx context.Context, cfg config, insts []*instance, ids []identity, secret string) (time.Duration, error) {
	admin, err := api.MintToken([]byte(secret), api.TokenClaims{Subject: "loadtest-admin", Admin: true, TTL: cfg.duration + time.Hour})
	if err != nil {
		return 0, err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	base := insts[0].url
	start := time.Now()
	for _, p := range tierPlans() {
		body := map[string]any{
			"limit": p.limit, "per": cfg.window,
			"description": fmt.Sprintf("loadtest: %d per %d s", p.limit, cfg.window),
		}
		if p.paid {
			body["name"] = p.name
			err = call(ctx, client, http.MethodPost, base+"/v1/admin/tiers", admin, body, http.StatusCreated)
		} else {
			err = call(ctx, client, http.MethodPut, base+"/v1/admin/tiers/"+p.name, admin, body, http.StatusOK)
		}
		if err != nil {
			return 0, err
		}
	}
	for _, id := range ids {
		if id.assigned {
			err := call(ctx, client, http.MethodPut, base+"/v1/admin/clients/"+url.PathEscape(id.name), admin,
				map[string]string{"tier": id.tier}, http.StatusOK)
			if err != nil {
				return 0, err
			}
		}
	}

	deadline := time.Now().Add(15 * time.Second)
	for {
		wrong, err := firstMismatch(ctx, client, cfg, insts, ids)
		if err != nil {
			return 0, err
		}
		if wrong == "" {
			return time.Since(start), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("tier changes not visible on every instance after 15s: %s", wrong)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// firstMismatch describes the first identity some instance does not yet
// see on its tier, or returns "".
func firstMismatch(ctx context.Context, client *http.Client, cfg config, insts []*instance, ids []identity) (string, error) {
	seenAnon := false
	for _, in := range insts {
		for _, id := range ids {
			if id.kind == kindAnon {
				if seenAnon {
					continue // one address stands for all: they share a tier
				}
				seenAnon = true
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.url+"/v1/quota", nil)
			if err != nil {
				return "", err
			}
			setIdentity(req, id)
			var q api.QuotaView
			if err := do(client, req, http.StatusOK, &q); err != nil {
				return "", fmt.Errorf("quotad %d: GET /v1/quota as %s: %w", in.n, id.name, err)
			}
			if q.Tier != id.tier || q.Limit != id.limit || q.Per != (api.Per{Seconds: int64(cfg.window)}) {
				return fmt.Sprintf("quotad %d sees %s on %s %d/%ds, want %s %d/%ds",
					in.n, id.name, q.Tier, q.Limit, q.Per.Seconds, id.tier, id.limit, cfg.window), nil
			}
		}
		seenAnon = false
	}
	return "", nil
}

// setIdentity makes req come from id: a bearer token, or an address in
// X-Forwarded-For as a proxy would add it.
func setIdentity(req *http.Request, id identity) {
	if id.token != "" {
		req.Header.Set("Authorization", "Bearer "+id.token)
	}
	if id.xff != "" {
		req.Header.Set("X-Forwarded-For", id.xff)
	}
}

// call sends a JSON body with an admin token and expects status want.
func call(ctx context.Context, client *http.Client, method, u, token string, body any, want int) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	if err := do(client, req, want, nil); err != nil {
		return fmt.Errorf("%s %s: %w", method, req.URL.Path, err)
	}
	return nil
}

// do sends req, checks the status and decodes the JSON answer into out
// (unless nil).
func do(client *http.Client, req *http.Request, want int, out any) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("status %d, want %d: %s", resp.StatusCode, want, bytes.TrimSpace(b))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}
