package main

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad flags and environment values fail before any request, as a
// usageError (exit 2) whose message names the culprit.
func TestRun_BadFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown flag", nil, []string{"-nope"}, "-nope"},
		{"not a number", nil, []string{"-rpm", "many"}, "-rpm"},
		{"negative rpm", nil, []string{"-rpm", "-1"}, "-rpm"},
		{"zero concurrency", nil, []string{"-concurrency", "0"}, "-concurrency"},
		{"negative n", nil, []string{"-n", "-3"}, "-n"},
		{"bad duration", nil, []string{"-duration", "soon"}, "-duration"},
		{"negative duration", nil, []string{"-duration", "-1s"}, "-duration"},
		{"zero timeout", nil, []string{"-timeout", "0s"}, "-timeout"},
		{"bad scheme", nil, []string{"-url", "ftp://example.com/x"}, "-url"},
		{"no host", nil, []string{"-url", "http:///x"}, "-url"},
		{"bad bool", nil, []string{"-wait=maybe"}, "-wait"},
		{"missing value", nil, []string{"-url"}, "-url"},
		{"positional argument", nil, []string{"http://localhost"}, "unexpected argument"},
		{"token and file", nil, []string{"-token", "a", "-token-file", "f"}, "-token-file"},
		{"missing token file", nil, []string{"-token-file", filepath.Join(t.TempDir(), "absent")}, "-token-file"},
		{"bad env", map[string]string{"HUNGRY_RPM": "fast"}, nil, "HUNGRY_RPM"},
		{"bad env bool", map[string]string{"HUNGRY_QUIET": "sure"}, nil, "HUNGRY_QUIET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stdout, _, err := runClient(t, testContext(t), tt.env, tt.args...)
			var ue usageError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v; want a usageError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q; want it to name %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %q; want one line", err)
			}
			if stdout != "" {
				t.Errorf("stdout = %q; want nothing", stdout)
			}
		})
	}
}

func TestRun_Help(t *testing.T) {
	t.Parallel()
	stdout, _, err := runClient(t, testContext(t), nil, "-h")
	if err != nil {
		t.Fatalf("-h: %v", err)
	}
	for _, want := range []string{"until Ctrl-C", "HUNGRY_", "-token-file", "-rpm", defaultURL} {
		if !strings.Contains(stdout, want) {
			t.Errorf("usage lacks %q:\n%s", want, stdout)
		}
	}
}

// The token reaches the server as "Authorization: Bearer <t>" from every
// source, and no header is sent without one.
func TestRun_BearerToken(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"flag", nil, []string{"-token", "s3cret"}, "Bearer s3cret"},
		{"file", nil, []string{"-token-file", file}, "Bearer from-file"},
		{"env", map[string]string{"HUNGRY_TOKEN": "env-tok"}, nil, "Bearer env-tok"},
		{"env file", map[string]string{"HUNGRY_TOKEN_FILE": file}, nil, "Bearer from-file"},
		{"flag beats env", map[string]string{"HUNGRY_TOKEN": "env-tok"}, []string{"-token", "flag-tok"}, "Bearer flag-tok"},
		{"none", nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newTestServer(t, serverConfig{})
			runJSON(t, testContext(t), tt.env, append([]string{"-url", srv.url, "-n", "3"}, tt.args...)...)
			hits := srv.record()
			if len(hits) != 3 {
				t.Fatalf("server saw %d requests, want 3", len(hits))
			}
			for i, h := range hits {
				if h.auth != tt.want {
					t.Errorf("request %d: Authorization = %q, want %q", i+1, h.auth, tt.want)
				}
			}
		})
	}
}

// Environment variables are defaults; flags win.
func TestRun_EnvDefaults(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, serverConfig{})
	env := map[string]string{"HUNGRY_URL": srv.url, "HUNGRY_N": "4", "HUNGRY_JSON": "true", "HUNGRY_QUIET": "1"}

	got := runJSON(t, testContext(t), env)
	if got.Sent != 4 {
		t.Errorf("HUNGRY_N=4: sent %d", got.Sent)
	}
	got = runJSON(t, testContext(t), env, "-n", "2")
	if got.Sent != 2 {
		t.Errorf("HUNGRY_N=4 -n 2: sent %d", got.Sent)
	}
}

// The -json summary is exactly the server's account of the run.
func TestRun_JSONMatchesServer(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, serverConfig{limit: 5, script: func(n int) int {
		if n == 7 {
			return http.StatusInternalServerError
		}
		return 0
	}})

	got := runJSON(t, testContext(t), nil, "-url", srv.url, "-n", "15", "-concurrency", "3", "-wait=false")

	want := srv.truth()
	if got.Sent != 15 || got.Admitted != want.admitted || got.Limited != want.limited || got.Errors != want.other {
		t.Errorf("client sent=%d admitted=%d limited=%d errors=%d; server saw 15: admitted=%d limited=%d other=%d",
			got.Sent, got.Admitted, got.Limited, got.Errors, want.admitted, want.limited, want.other)
	}
	if got.ErrorsByKind["HTTP 500"] != 1 || len(got.ErrorsByKind) != 1 {
		t.Errorf("errors_by_kind = %v; want {HTTP 500: 1}", got.ErrorsByKind)
	}
	sum, sumLimited := 0, 0
	for _, w := range got.Windows {
		if w.Admitted != want.perWindow[w.ResetUnix] || w.Limited != want.limitedPerWindow[w.ResetUnix] {
			t.Errorf("window %d: client %d admitted, %d limited; server %d, %d", w.ResetUnix,
				w.Admitted, w.Limited, want.perWindow[w.ResetUnix], want.limitedPerWindow[w.ResetUnix])
		}
		sum += w.Admitted
		sumLimited += w.Limited
	}
	if sum != want.admitted || sumLimited != want.limited {
		t.Errorf("windows %+v; server per window admitted %v, limited %v", got.Windows, want.perWindow, want.limitedPerWindow)
	}
	if got.LatencyMS.Count != 15 || got.Aborted != 0 || got.Unwindowed != 0 {
		t.Errorf("latency count=%d aborted=%d unwindowed=%d; want 15, 0, 0", got.LatencyMS.Count, got.Aborted, got.Unwindowed)
	}
}

// The human summary has every section the spec asks for.
func TestRun_TextSummary(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, serverConfig{limit: 5})
	stdout, stderr, err := runClient(t, testContext(t), nil, "-url", srv.url, "-n", "8", "-wait=false")
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, want := range []string{"sent", "admitted", "limited", "errors", "p50", "p90", "p99", "max", "admitted and limited per window", "of 5 admitted", " limited\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stderr, "\r") {
		t.Errorf("progress to a non-terminal used \\r: %q", stderr)
	}
}
