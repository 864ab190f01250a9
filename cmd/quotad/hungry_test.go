package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/quotad/quotad/api"
	"github.com/quotad/quotad/internal/testenv"
)

// hungrySummary is the part of `hungryclient -json` this test reads.
type hungrySummary struct {
	Sent         int            `json:"sent"`
	Admitted     int            `json:"admitted"`
	Limited      int            `json:"limited"`
	Errors       int            `json:"errors"`
	ErrorsByKind map[string]int `json:"errors_by_kind"`
	Aborted      int            `json:"aborted"`
	Unwindowed   int            `json:"admitted_without_window"`
	Windows      []struct {
		Reset     string `json:"reset"`
		ResetUnix int64  `json:"reset_unix"`
		Limit     int64  `json:"limit"`
		Admitted  int    `json:"admitted"`
		Limited   int    `json:"limited"`
	} `json:"windows"`
}

// TestHungryClient_ExactPerWindow: the built hungry client, racing 8
// workers through 1000 requests against a real quotad (free: 300 per 30 s),
// reports exactly the limit per window. Windows are the server's own (the
// client groups responses by X-RateLimit-Reset), so a run that straddles a
// window boundary still has an exact expectation: each window admits
// min(requests in it, 300) — 1000 requests in one window admit 300 and
// refuse 700; split 600/400 across two, they admit 300 + 300.
func TestHungryClient_ExactPerWindow(t *testing.T) {
	t.Parallel()
	const (
		requests = 1000
		limit    = 300 // the seed's free tier: 300 per 30 s
	)
	bin := buildCommands(t, "hungryclient")
	vars := baseVars(t)
	// This test is about counting, not about the fail-open trade-off (the
	// quota package tests that): a generous deadline keeps a loaded machine
	// from turning slow Redis replies into degraded admissions.
	vars["QUOTA_REDIS_TIMEOUT"] = "2s"
	base, logs, _, _ := startQuotad(t, vars)

	// A client ID of its own: quotad's Redis keys (quota:{u:<id>}:30) are
	// shared by every run against this Redis.
	subject := testenv.RandomName("hungry-")
	deleteClientKeysAtEnd(t, subject)
	token, err := api.MintToken([]byte(vars["QUOTA_JWT_SECRET"]), api.TokenClaims{Subject: subject, TTL: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "hungryclient"),
		"-url", base+"/rate-limited", "-token", token,
		"-n", "1000", "-concurrency", "8", "-wait=false", "-json", "-quiet")
	cmd.Env = []string{} // no HUNGRY_* from the caller's environment
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("hungryclient: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	var s hungrySummary
	dec := json.NewDecoder(&stdout)
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("summary is not JSON: %v\n%s", err, stdout.String())
	}
	report := func() string {
		b, _ := json.MarshalIndent(s, "", "  ")
		return "\nsummary:\n" + string(b) + "\nquotad log (tail):\n" + demoTail(logs.String(), 2000)
	}

	if s.Sent != requests || s.Aborted != 0 {
		t.Fatalf("sent %d (aborted %d), want %d%s", s.Sent, s.Aborted, requests, report())
	}
	if s.Errors != 0 || s.Admitted+s.Limited != requests {
		t.Fatalf("admitted %d + limited %d != %d, errors %d %v%s", s.Admitted, s.Limited, requests, s.Errors, s.ErrorsByKind, report())
	}
	if s.Unwindowed != 0 {
		t.Fatalf("%d admissions carried no X-RateLimit-Reset (degraded, fail-open): exactness cannot be checked%s", s.Unwindowed, report())
	}
	windowed, wantAdmitted := 0, 0
	for _, w := range s.Windows {
		seen := w.Admitted + w.Limited
		windowed += seen
		wantAdmitted += min(seen, limit)
		if w.Limit != limit {
			t.Errorf("window %s: X-RateLimit-Limit %d, want %d", w.Reset, w.Limit, limit)
		}
		switch {
		case w.Admitted > limit:
			t.Errorf("window %s admitted %d of %d requests: above the limit of %d", w.Reset, w.Admitted, seen, limit)
		case seen > limit && w.Admitted != limit:
			t.Errorf("window %s saw %d requests but admitted %d, not exactly %d", w.Reset, seen, w.Admitted, limit)
		case seen <= limit && w.Limited != 0:
			t.Errorf("window %s saw %d requests, at most its limit of %d, yet refused %d", w.Reset, seen, limit, w.Limited)
		}
	}
	if windowed != requests {
		t.Errorf("the windows hold %d responses, want all %d", windowed, requests)
	}
	if s.Admitted != wantAdmitted {
		t.Errorf("admitted %d in all, want Σ min(requests in window, %d) = %d", s.Admitted, limit, wantAdmitted)
	}
	if t.Failed() {
		t.Log(report())
	}
}
