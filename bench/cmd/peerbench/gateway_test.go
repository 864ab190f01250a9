package main

import (
	"io"
	"strings"
	"testing"
)

// TestNginxConf renders the shipped deploy/nginx.conf both ways: the two
// differ only by the auth_request line, and a file that lost a line the
// bench replaces is an error rather than nginx listening on port 8000.
func TestNginxConf(t *testing.T) {
	t.Parallel()
	shipped, err := readRepoFile(nginxConfFile)
	if err != nil {
		t.Fatal(err)
	}
	with, err := nginxConf(shipped, true, 18001, "127.0.0.1:18002", "127.0.0.1:18003", "/tmp/x")
	if err != nil {
		t.Fatal(err)
	}
	alone, err := nginxConf(shipped, false, 18001, "127.0.0.1:18002", "127.0.0.1:18003", "/tmp/x")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"listen 127.0.0.1:18001;", "server 127.0.0.1:18002;", "server 127.0.0.1:18003;", "proxy_temp_path /tmp/x/temp/proxy;"} {
		if !strings.Contains(with, want) || !strings.Contains(alone, want) {
			t.Errorf("a rendered config lacks %q", want)
		}
	}
	for _, gone := range []string{"listen 8000;", "server 127.0.0.1:8080;", "server 127.0.0.1:3000;"} {
		if strings.Contains(with, gone) || strings.Contains(alone, gone) {
			t.Errorf("a rendered config still has %q", gone)
		}
	}
	if !strings.Contains(with, "auth_request /_quotad/authorize;") {
		t.Error("nginx-quotad's config lacks auth_request")
	}
	if strings.Contains(alone, "auth_request /_quotad/authorize;") {
		t.Error("nginx's config still asks quotad")
	}
	// Only the auth_request line goes: auth_request_set still declares the
	// variables the add_header lines name.
	if got, want := strings.Count(alone, "auth_request_set "), strings.Count(with, "auth_request_set "); got != want || got == 0 {
		t.Errorf("nginx's config has %d auth_request_set lines, nginx-quotad's %d", got, want)
	}
	if _, err := nginxConf(strings.Replace(shipped, "listen 8000;", "listen 9000;", 1), true, 1, "a", "b", "/tmp/x"); err == nil {
		t.Error("nginxConf accepted a file without its listen line")
	}
}

// TestStartGateways_WithoutNginx: a machine without nginx skips the
// gateway servers with a reason, which the report prints, and starts
// nothing. It changes PATH and nginxDirs, so it does not run in parallel.
func TestStartGateways_WithoutNginx(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	saved := nginxDirs
	nginxDirs = []string{t.TempDir()}
	t.Cleanup(func() { nginxDirs = saved })

	g, skip, err := startGateways(t.Context(), nil, "/nonexistent/peerbench", nil, "secret", "127.0.0.1:1", io.Discard)
	if err != nil || g != nil {
		t.Fatalf("startGateways = %v, %v; want nothing started and no error", g, err)
	}
	if !strings.HasPrefix(skip, "nginx not found on PATH or in ") {
		t.Fatalf("skip = %q, want nginx not found", skip)
	}
	var b strings.Builder
	(&report{}).renderGateway(&b, &httpResults{gatewaySkipped: skip})
	if !strings.Contains(b.String(), "## Gateway: nginx + quotad ÷ nginx alone\n\nNot measured: "+skip+".\n") {
		t.Errorf("report section:\n%s", b.String())
	}
}
