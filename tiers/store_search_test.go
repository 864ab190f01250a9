package tiers

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestStore_ListClientsSearch: Search keeps the clients whose ID contains
// it, ignoring case, with every character literal, and combines with Tier,
// After and Limit.
func TestStore_ListClientsSearch(t *testing.T) {
	t.Parallel()
	store, _ := newTestStore(t)
	ctx := context.Background()
	mustCreateTier(t, store, Tier{Name: "pro", Windows: one(100, time.Minute)})
	tierOf := map[string]string{
		"ACME-1": "pro", "acme-2": Free, "xacmex": "pro", "beta": "pro",
		"50%off": "pro", "5000off": "pro", "a_b": Free, "axb": Free,
		"back\\slash": Free, "backslash": Free, strings.Repeat("q", MaxClientIDLen): Free,
	}
	for id, tier := range tierOf {
		if _, err := store.AssignClient(ctx, id, tier, 0); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name   string
		params ListClientsParams
		want   []string
	}{
		{"any case", ListClientsParams{Search: "aCmE"}, []string{"ACME-1", "acme-2", "xacmex"}},
		{"with a tier", ListClientsParams{Search: "acme", Tier: "pro"}, []string{"ACME-1", "xacmex"}},
		{"after", ListClientsParams{Search: "acme", After: "ACME-1"}, []string{"acme-2", "xacmex"}},
		{"percent is literal", ListClientsParams{Search: "0%"}, []string{"50%off"}},
		{"underscore is literal", ListClientsParams{Search: "_"}, []string{"a_b"}},
		{"backslash is literal", ListClientsParams{Search: "\\s"}, []string{"back\\slash"}},
		{"whole id", ListClientsParams{Search: "beta"}, []string{"beta"}},
		{"longest id", ListClientsParams{Search: strings.Repeat("Q", MaxClientIDLen)}, []string{strings.Repeat("q", MaxClientIDLen)}},
		{"longest search", ListClientsParams{Search: strings.Repeat("Q", MaxSearchLen)}, nil},
		{"no match", ListClientsParams{Search: "zzz"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			page, err := store.ListClients(ctx, tt.params)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range page.Clients {
				if c.Tier != tierOf[c.ID] || !c.Assigned {
					t.Errorf("listed %+v, want tier %q, assigned", c, tierOf[c.ID])
				}
				got = append(got, c.ID)
			}
			if !slices.Equal(got, tt.want) || page.Next != "" {
				t.Errorf("got %q next %q, want %q and no next", got, page.Next, tt.want)
			}
		})
	}

	t.Run("pages", func(t *testing.T) {
		t.Parallel()
		p := ListClientsParams{Search: "ACME", Limit: 2}
		first, err := store.ListClients(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(first.Clients) != 2 || first.Next != "acme-2" {
			t.Fatalf("first page %+v, want ACME-1, acme-2 and next acme-2", first)
		}
		p.After = first.Next
		second, err := store.ListClients(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(second.Clients) != 1 || second.Clients[0].ID != "xacmex" || second.Next != "" {
			t.Fatalf("second page %+v, want xacmex alone", second)
		}
	})
}
