package e2e

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quotad/quotad/internal/testenv"
)

// gateway is an nginx or Caddy process in front of an upstream, running
// the config deploy/ ships.
type gateway struct {
	Name string
	URL  string // http://127.0.0.1:port
}

// upstream is the API behind a gateway: it counts the requests that reach
// it, by the X-Quota-Client the gateway set.
type upstream struct {
	srv *httptest.Server
	mu  sync.Mutex
	by  map[string]int
}

// startUpstream starts an upstream that answers 200 "ok" to everything.
func startUpstream(tb testing.TB) *upstream {
	tb.Helper()
	u := &upstream{by: map[string]int{}}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.by[r.Header.Get("X-Quota-Client")]++
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	}))
	tb.Cleanup(u.srv.Close)
	return u
}

// Addr is the upstream's host:port.
func (u *upstream) Addr() string { return u.srv.Listener.Addr().String() }

// count returns how many requests reached the upstream for client ("" for
// requests without X-Quota-Client).
func (u *upstream) count(client string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.by[client]
}

// total returns how many requests reached the upstream.
func (u *upstream) total() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, c := range u.by {
		n += c
	}
	return n
}

// repoFile reads a file of the repository, relative to its root.
func repoFile(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// render returns the shipped config text with each placeholder replaced;
// a placeholder the file no longer holds fails the test, so the file and
// the test cannot drift apart unnoticed.
func render(tb testing.TB, name, text string, replace ...string) string {
	tb.Helper()
	for i := 0; i < len(replace); i += 2 {
		if !strings.Contains(text, replace[i]) {
			tb.Fatalf("%s no longer contains %q, which the gateway tests replace; update them together", name, replace[i])
		}
		text = strings.ReplaceAll(text, replace[i], replace[i+1])
	}
	return text
}

// binary finds a gateway's executable on PATH or in dirs, or fails with
// the way to install it.
func binary(tb testing.TB, name string, dirs ...string) string {
	tb.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range dirs {
		if p := filepath.Join(d, name); isExecutable(p) {
			return p
		}
	}
	tb.Fatalf("%s not found on PATH or in %v: run scripts/services.sh (make services), or apt-get install %s", name, dirs, name)
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// startNginx runs deploy/nginx.conf in front of up, asking quotadAddr.
// nginx keeps everything it writes under a temp dir: its pid, temp files
// and access log; its error log goes to stderr.
func startNginx(tb testing.TB, quotadAddr, upstreamAddr string) gateway {
	tb.Helper()
	bin := binary(tb, "nginx", "/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin")
	dir := gatewayDir(tb)
	port := testenv.FreePort(tb)
	conf := render(tb, "deploy/nginx.conf", repoFile(tb, "deploy/nginx.conf"),
		"listen 8000;", "listen 127.0.0.1:"+strconv.Itoa(port)+";",
		"server 127.0.0.1:8080;", "server "+quotadAddr+";",
		"server 127.0.0.1:3000;", "server "+upstreamAddr+";",
		"http {\n", "http {\n"+tempPaths(dir),
	)
	file := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	for _, sub := range []string{"logs", "temp"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "-e", "stderr", "-p", dir+"/", "-c", file,
		"-g", "daemon off; pid "+filepath.Join(dir, "nginx.pid")+"; error_log stderr warn;")
	return runGateway(tb, "nginx", cmd, port)
}

// tempPaths points nginx's temp directories, compiled into the package
// as system paths, into dir.
func tempPaths(dir string) string {
	var b strings.Builder
	for _, kind := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		b.WriteString("    " + kind + "_temp_path " + filepath.Join(dir, "temp", kind) + ";\n")
	}
	return b.String()
}

// startCaddy runs deploy/Caddyfile in front of up, asking quotadAddr,
// with its admin API off and its state under a temp dir.
func startCaddy(tb testing.TB, quotadAddr, upstreamAddr string) gateway {
	tb.Helper()
	bin := binary(tb, "caddy", "/usr/bin", "/usr/local/bin")
	dir := gatewayDir(tb)
	port := testenv.FreePort(tb)
	conf := render(tb, "deploy/Caddyfile", repoFile(tb, "deploy/Caddyfile"),
		"admin localhost:2019", "admin off",
		"http://:8000 {", "http://127.0.0.1:"+strconv.Itoa(port)+" {\n\tbind 127.0.0.1",
		"forward_auth 127.0.0.1:8080 {", "forward_auth "+quotadAddr+" {",
		"reverse_proxy 127.0.0.1:3000 {", "reverse_proxy "+upstreamAddr+" {",
	)
	file := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", file, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir)
	return runGateway(tb, "caddy", cmd, port)
}

// gatewayDir is a temp dir workers running as another user can enter.
func gatewayDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// runGateway starts cmd in a process group of its own, waits until port
// accepts connections, and stops the group when the test ends.
func runGateway(tb testing.TB, name string, cmd *exec.Cmd, port int) gateway {
	tb.Helper()
	out := &testenv.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	tb.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if tb.Failed() {
			tb.Logf("%s output (tail):\n%s", name, tail(out.String(), 40))
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return gateway{Name: name, URL: "http://" + addr}
		}
		select {
		case <-exited:
			tb.Fatalf("%s exited before listening on %s:\n%s", name, addr, tail(out.String(), 40))
		case <-time.After(20 * time.Millisecond): // poll: the port opening is the only signal
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s not listening on %s within 15s:\n%s", name, addr, tail(out.String(), 40))
		}
	}
}

// from returns an HTTP client whose connections come from ip, a loopback
// address other than the gateway's, so quotad can tell callers apart.
func from(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 64}}
}
