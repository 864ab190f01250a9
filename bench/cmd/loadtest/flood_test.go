package main

import (
	"strings"
	"testing"
	"time"
)

func TestPolicyTier(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]string{
		`"gold";q=200;w=10`:                          "gold",
		`"free";q=300;w=30`:                          "free",
		`"pro:1";q=20;w=1, "pro:3600";q=6000;w=3600`: "pro",
		``:         "",
		`gold;q=1`: "",
		`"unended`: "",
	} {
		if got := policyTier(v); got != want {
			t.Errorf("policyTier(%q) = %q, want %q", v, got, want)
		}
	}
}

func TestMakeFloodClients_SpreadsTheAssigned(t *testing.T) {
	t.Parallel()
	cfg := config{floodClients: 1000, floodAssign: 30, duration: time.Second, flood: time.Second}
	clients, err := makeFloodClients(cfg, strings.Repeat("s", 32))
	if err != nil {
		t.Fatal(err)
	}
	byTier := map[string]int{}
	names := map[string]bool{}
	lastAssigned, maxGap := -1, 0
	for i, c := range clients {
		byTier[c.tier]++
		names[c.name] = true
		if c.token == "" {
			t.Fatalf("%s has no token", c.name)
		}
		if c.tier != "free" {
			maxGap, lastAssigned = max(maxGap, i-lastAssigned), i
		}
	}
	if len(names) != 1000 || byTier["free"] != 970 || byTier["bronze"] != 10 || byTier["silver"] != 10 || byTier["gold"] != 10 {
		t.Errorf("%d distinct names, by tier %v; want 1000 names, 970 free and 10 on each paid tier", len(names), byTier)
	}
	if maxGap > 1000/30+1 {
		t.Errorf("assigned clients up to %d apart; want them spread every ~33", maxGap)
	}
}

func TestFloodResult_Failures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		set  func(k *floodCounts)
		want string // a failure containing it; "" for none
	}{
		{"goals met", func(k *floodCounts) { k.degraded.Store(9) }, ""},
		{"one fallback", func(k *floodCounts) { k.fallbacks.Store(1) }, "answered under another tier"},
		{"degraded at 0.1 %", func(k *floodCounts) { k.degraded.Store(10) }, "degraded"},
		{"an unassigned client off free", func(k *floodCounts) { k.wrongFree.Store(1) }, "other than free"},
		{"a 5xx", func(k *floodCounts) { k.status5xx.Store(1) }, "neither 200 nor 429"},
		{"a transport error", func(k *floodCounts) { k.errors.Store(1) }, "transport errors"},
		{"nothing sent", func(k *floodCounts) { k.sent.Store(0) }, "no request"},
	} {
		f := &floodResult{counts: &floodCounts{}}
		f.counts.sent.Store(10_000)
		f.counts.assignedSent.Store(1_000)
		tc.set(f.counts)
		got := strings.Join(f.failures(), "; ")
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%s: failures %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := (*floodResult)(nil).failures(); got != nil {
		t.Errorf("no flood: failures %q, want none", got)
	}
}
