package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quotad/quotad/internal/testenv"
)

// requestLines returns the request log lines in logs, decoded.
func requestLines(tb testing.TB, logs *testenv.Buffer) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if line == "" {
			continue
		}
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			tb.Fatalf("log line %q: %v", line, err)
		}
		if l["msg"] == "request" {
			out = append(out, l)
		}
	}
	return out
}

// TestRequestID_ClientsOwnOnlyIfPlain: a client's X-Request-Id is echoed
// and logged when it is 1-64 of [A-Za-z0-9._-]; anything else is replaced
// by a generated id, in the response and in the log alike.
func TestRequestID_ClientsOwnOnlyIfPlain(t *testing.T) {
	t.Parallel()
	logs := &testenv.Buffer{}
	inst := newBackend(t).start(t, instanceOpts{accessLog: AccessLogAll, logger: slog.New(slog.NewJSONHandler(logs, nil))})
	generated := regexp.MustCompile(`^[0-9a-f]{16}$`)
	for name, tc := range map[string]struct {
		id   string
		kept bool
	}{
		"uuid":         {"0b6f3c1e-5d0a-4f7e-9a51-2c8d7e4b1f90", true},
		"plain":        {"gw.edge_7-A", true},
		"64 bytes":     {strings.Repeat("a", 64), true},
		"65 bytes":     {strings.Repeat("a", 65), false},
		"32 KB":        {strings.Repeat("x", 32<<10-100), false},
		"space":        {"a b", false},
		"quote":        {`a"b`, false},
		"json-ish":     {`{"level":"ERROR"}`, false},
		"non-ascii":    {"idé", false},
		"equals, semi": {"a=b;c", false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/healthz", "", nil, "X-Request-Id", tc.id), http.StatusOK)
			got := r.Header.Get("X-Request-Id")
			if tc.kept && got != tc.id {
				t.Fatalf("X-Request-Id %q, want the client's %q", got, tc.id)
			}
			if !tc.kept && !generated.MatchString(got) {
				t.Fatalf("X-Request-Id %.80q, want a generated id instead of the client's", got)
			}
			for _, l := range requestLines(t, logs) {
				if l["request_id"] == got {
					return
				}
			}
			t.Fatalf("no request log line with request_id %q", got)
		})
	}
	if strings.Contains(logs.String(), strings.Repeat("x", 1000)) {
		t.Error("the 32 KB client id reached the log")
	}
}

// TestAccessLog_Modes: "all" logs every request, "errors" (the default)
// only 4xx and 5xx other than 429, "none" nothing.
func TestAccessLog_Modes(t *testing.T) {
	t.Parallel()
	for _, mode := range []AccessLog{AccessLogAll, AccessLogErrors, AccessLogNone} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			logs := &testenv.Buffer{}
			inst := newBackend(t).start(t, instanceOpts{accessLog: mode, logger: slog.New(slog.NewJSONHandler(logs, nil))})
			setTier(t, inst, "anonymous", 1, 3600)
			mustStatus(t, do(t, http.MethodGet, inst.URL+"/rate-limited", "", nil), http.StatusOK)
			mustStatus(t, do(t, http.MethodGet, inst.URL+"/rate-limited", "", nil), http.StatusTooManyRequests)
			mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/tiers", "", nil), http.StatusUnauthorized)
			mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/admin/tiers/none-such", token(t, "admin", true), nil), http.StatusNotFound)

			got := map[float64]int{}
			for _, l := range requestLines(t, logs) {
				got[l["status"].(float64)]++
			}
			var want map[float64]int
			switch mode {
			case AccessLogAll: // the admin PUT of setTier too
				want = map[float64]int{200: 2, 429: 1, 401: 1, 404: 1}
			case AccessLogErrors:
				want = map[float64]int{401: 1, 404: 1}
			case AccessLogNone:
				want = map[float64]int{}
			}
			if len(got) != len(want) {
				t.Fatalf("request lines by status %v, want %v", got, want)
			}
			for status, n := range want {
				if got[status] != n {
					t.Fatalf("request lines by status %v, want %v", got, want)
				}
			}
		})
	}
}

// TestAccessLog_ErrorsSampled: under "errors", a flood of client errors
// gets at most the burst of lines at one instant, then lines at the
// sampling rate; the next line let through counts the ones held back.
func TestAccessLog_ErrorsSampled(t *testing.T) {
	t.Parallel()
	a := newAccessLogger(AccessLogErrors)
	now := time.Unix(1_700_000_000, 0)
	allowed := 0
	for range 1000 {
		if ok, _ := a.allow(http.StatusUnauthorized, now); ok {
			allowed++
		}
	}
	if allowed != accessLogBurst {
		t.Fatalf("%d of 1000 lines at one instant logged, want the burst %d", allowed, accessLogBurst)
	}
	ok, held := a.allow(http.StatusUnauthorized, now.Add(time.Second/accessLogRate))
	if !ok || held != 1000-accessLogBurst {
		t.Fatalf("one sampling interval later: logged %v, held back %d; want true, %d", ok, held, 1000-accessLogBurst)
	}
	if ok, _ := a.allow(http.StatusOK, now.Add(time.Second)); ok {
		t.Fatal("a 200 logged under errors")
	}
	if ok, _ := a.allow(http.StatusTooManyRequests, now.Add(time.Second)); ok {
		t.Fatal("a 429 logged under errors")
	}
}

func TestParseAccessLog(t *testing.T) {
	t.Parallel()
	for _, a := range []AccessLog{AccessLogAll, AccessLogErrors, AccessLogNone} {
		if got, err := ParseAccessLog(a.String()); err != nil || got != a {
			t.Errorf("ParseAccessLog(%q) = %v, %v; want %v", a.String(), got, err, a)
		}
	}
	for _, bad := range []string{"", "ALL", "error", "some"} {
		if _, err := ParseAccessLog(bad); err == nil {
			t.Errorf("ParseAccessLog(%q) accepted", bad)
		}
	}
}
