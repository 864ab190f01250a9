package api

import (
	"net/http"
	"reflect"
	"slices"
	"strings"
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
			ids, next := clientPage(t, inst, admin, tt.query)
			if !reflect.DeepEqual(ids, tt.wantIDs) || !reflect.DeepEqual(next, tt.wantNext) {
				t.Errorf("?%s: clients %q, next %v; want %q, next %v", tt.query, ids, deref(next), tt.wantIDs, deref(tt.wantNext))
			}
		})
	}
}

// TestAdmin_ListClientsSearch: ?q= keeps the clients whose ID contains it,
// ignoring case, "%" and "_" matching only themselves; it combines with
// tier, after and limit; a bad q is a 422 naming q.
func TestAdmin_ListClientsSearch(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	admin := token(t, "root", true)
	setTier(t, inst, "pro", 10, 60)
	for id, tier := range map[string]string{"ACME-1": "pro", "acme-2": "free", "xacmex": "pro", "50%off": "free", "5000off": "free", "a_b": "free", "axb": "free"} {
		mustStatus(t, do(t, http.MethodPut, inst.URL+"/v1/admin/clients/"+escapePath(id), admin, map[string]string{"tier": tier}), http.StatusOK)
	}
	tests := []struct {
		query    string
		wantIDs  []string
		wantNext *string
	}{
		{"q=aCmE", []string{"ACME-1", "acme-2", "xacmex"}, nil},
		{"q=acme&tier=pro", []string{"ACME-1", "xacmex"}, nil},
		{"q=acme&limit=1", []string{"ACME-1"}, ptr("ACME-1")},
		{"q=acme&limit=1&after=ACME-1", []string{"acme-2"}, ptr("acme-2")},
		{"q=" + escapeQuery("0%"), []string{"50%off"}, nil},
		{"q=_", []string{"a_b"}, nil},
		{"q=", []string{"50%off", "5000off", "ACME-1", "a_b", "acme-2", "axb", "xacmex"}, nil},
		{"q=nobody", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			ids, next := clientPage(t, inst, admin, tt.query)
			if !slices.Equal(ids, tt.wantIDs) || !reflect.DeepEqual(next, tt.wantNext) {
				t.Errorf("?%s: clients %q, next %v; want %q, next %v", tt.query, ids, deref(next), tt.wantIDs, deref(tt.wantNext))
			}
		})
	}
	for name, q := range map[string]string{
		"too long":          strings.Repeat("a", 257),
		"not UTF-8":         "%FF",
		"control character": "a%0Ab",
	} {
		t.Run("bad q "+name, func(t *testing.T) {
			t.Parallel()
			r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/clients?q="+q, admin, nil), http.StatusUnprocessableEntity)
			var e ErrorBody
			r.decode(t, &e)
			if e.Error.Code != CodeInvalid || len(e.Error.Fields) != 1 || e.Error.Fields["q"] == "" {
				t.Errorf("q %s: body %s, want a 422 naming q alone", name, r.Body)
			}
		})
	}
}

// clientPage reads GET /v1/admin/clients?query as admin: the page's ids
// in order (nil for none) and its next cursor.
func clientPage(t *testing.T, inst *instance, admin, query string) ([]string, *string) {
	t.Helper()
	var page struct {
		Clients []ClientView
		Next    *string
	}
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/clients?"+query, admin, nil), http.StatusOK).decode(t, &page)
	var ids []string
	for _, c := range page.Clients {
		ids = append(ids, c.ID)
	}
	return ids, page.Next
}

func ptr(s string) *string { return &s }

func deref(p *string) any {
	if p == nil {
		return "(none)"
	}
	return *p
}
