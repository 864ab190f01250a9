package api

import (
	"net/http"
	"reflect"
	"testing"
)

// TestAdmin_ListClientsNext: a page names a next cursor only if more
// clients follow it; a page that holds exactly limit clients and ends the
// list has none, so a caller never asks for an empty page.
func TestAdmin_ListClientsNext(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	admin := token(t, "root", true)
	for _, id := range []string{"a", "b", "c"} {
		mustStatus(t, do(t, http.MethodPut, inst.URL+"/v1/admin/clients/"+id, admin, map[string]string{"tier": "free"}), http.StatusOK)
	}
	tests := []struct {
		query    string
		wantIDs  []string
		wantNext *string
	}{
		{"limit=2", []string{"a", "b"}, ptr("b")},
		{"limit=2&after=b", []string{"c"}, nil},
		{"limit=2&after=a", []string{"b", "c"}, nil},
		{"limit=3", []string{"a", "b", "c"}, nil},
		{"limit=4", []string{"a", "b", "c"}, nil},
		{"limit=1&after=a", []string{"b"}, ptr("b")},
		{"", []string{"a", "b", "c"}, nil},
		{"tier=free&limit=3", []string{"a", "b", "c"}, nil},
		{"tier=free&limit=2", []string{"a", "b"}, ptr("b")},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			var page struct {
				Clients []ClientView
				Next    *string
			}
			mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/clients?"+tt.query, admin, nil), http.StatusOK).decode(t, &page)
			var ids []string
			for _, c := range page.Clients {
				ids = append(ids, c.ID)
			}
			if !reflect.DeepEqual(ids, tt.wantIDs) || !reflect.DeepEqual(page.Next, tt.wantNext) {
				t.Errorf("?%s: clients %q, next %v; want %q, next %v", tt.query, ids, deref(page.Next), tt.wantIDs, deref(tt.wantNext))
			}
		})
	}
}

func ptr(s string) *string { return &s }

func deref(p *string) any {
	if p == nil {
		return "(none)"
	}
	return *p
}
