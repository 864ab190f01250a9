package quota

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestIPExtractor_ClientIP(t *testing.T) {
	t.Parallel()
	trusted := []string{"10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.99"}
	for _, tc := range []struct {
		name    string
		trusted []string
		remote  string
		xff     []string
		want    string
	}{
		{"peer only", nil, "203.0.113.5:1234", nil, "203.0.113.5"},
		{"untrusted peer's XFF ignored", nil, "203.0.113.5:1234", []string{"1.2.3.4"}, "203.0.113.5"},
		{"loopback not trusted by default", nil, "127.0.0.1:1", []string{"1.2.3.4"}, "127.0.0.1"},
		{"trusted peer: right-most untrusted", trusted, "10.1.1.1:1", []string{"6.6.6.6, 1.2.3.4, 10.2.2.2"}, "1.2.3.4"},
		{"several header lines", trusted, "10.1.1.1:1", []string{"6.6.6.6", "1.2.3.4", "10.2.2.2"}, "1.2.3.4"},
		{"single trusted address", trusted, "192.0.2.99:1", []string{"1.2.3.4"}, "1.2.3.4"},
		{"all trusted: left-most", trusted, "10.1.1.1:1", []string{"10.3.3.3, 10.2.2.2"}, "10.3.3.3"},
		{"garbage stops at last good hop", trusted, "10.1.1.1:1", []string{"1.2.3.4, bogus, 10.2.2.2"}, "10.2.2.2"},
		{"garbage right after peer", trusted, "10.1.1.1:1", []string{"1.2.3.4, <script>"}, "10.1.1.1"},
		{"empty XFF", trusted, "10.1.1.1:1", []string{""}, "10.1.1.1"},
		{"XFF with ports", trusted, "10.1.1.1:1", []string{"[2001:db8::1]:443, 10.2.2.2:80"}, "2001:db8::1"},
		{"mapped IPv4 peer", nil, "[::ffff:203.0.113.5]:1", nil, "203.0.113.5"},
		{"IPv6 trusted proxy", trusted, "[2001:db8:ffff::1]:1", []string{"2001:db8:1::5"}, "2001:db8:1::5"},
		{"zone dropped", nil, "[fe80::1%eth0]:1", nil, "fe80::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x, err := NewIPExtractor(tc.trusted)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			r.Header.Set("X-Real-IP", "9.9.9.9")
			r.Header.Set("Forwarded", "for=9.9.9.9")
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got, err := x.ClientIP(r)
			if err != nil || got.String() != tc.want {
				t.Fatalf("ClientIP = %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestIPExtractor_Errors(t *testing.T) {
	t.Parallel()
	if _, err := NewIPExtractor([]string{"10.0.0.0/33"}); err == nil {
		t.Error("bad CIDR accepted")
	}
	if _, err := NewIPExtractor([]string{"example.com"}); err == nil {
		t.Error("host name accepted")
	}
	x, _ := NewIPExtractor(nil)
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "garbage"
	if _, err := x.Key(r); err == nil {
		t.Error("garbage peer address became a key")
	}
	if x.Extract(r) != "" {
		t.Error("Extract of garbage not empty")
	}
}

func TestIPKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"192.0.2.1":            "192.0.2.1",
		"::ffff:192.0.2.1":     "192.0.2.1",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2::":       "2001:db8:1:2::/64",
		"::1":                  "::/64",
	} {
		if got := IPKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("IPKey(%s) = %s, want %s", in, got, want)
		}
	}
}
