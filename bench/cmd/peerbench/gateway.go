package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/quotad/quotad/internal/loopback"
)

// The gateway servers: nginx running deploy/nginx.conf, once as shipped
// (quotad behind auth_request) and once without its auth_request line, both
// in front of the scenario's echo server. The pair is what an operator adds
// by putting quotad behind nginx.
const (
	serverNginx       = "nginx"        // deploy/nginx.conf without auth_request
	serverNginxQuotad = "nginx-quotad" // deploy/nginx.conf as shipped
)

var gatewayKinds = []string{serverNginx, serverNginxQuotad}

// nginxConfFile is the shipped config, relative to the repository's root.
const nginxConfFile = "deploy/nginx.conf"

// nginxDirs are where packages put nginx when it is not on PATH (Debian:
// /usr/sbin, which not every user's PATH has).
var nginxDirs = []string{"/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin"}

// gateways are the running nginx servers and the quotad the shipped config
// asks.
type gateways struct {
	urls   map[string]string // by kind
	procs  map[string]*nginxProc
	quotad *serverProc
}

// startGateways starts quotad as deploy/nginx.conf requires it, then nginx
// twice in front of upstream (host:port). It returns skip, a one-line
// reason and no error, when this machine cannot run them (no nginx, or one
// without auth_request): the rest of the scenario runs all the same.
func startGateways(ctx context.Context, launcher []string, exe string, quotadArgs []string, secret, upstream string, stderr io.Writer) (g *gateways, skip string, err error) {
	bin, err := findNginx()
	if err != nil {
		return nil, err.Error(), nil
	}
	shipped, err := readRepoFile(nginxConfFile)
	if err != nil {
		return nil, err.Error(), nil
	}
	g = &gateways{urls: map[string]string{}, procs: map[string]*nginxProc{}}
	defer func() {
		if err != nil {
			g.stop()
			g = nil
		}
	}()
	g.quotad, err = startServer(ctx, launcher, exe, "quotad (behind nginx)", append(quotadArgs, "-nginx"), secret, stderr)
	if err != nil {
		return g, "", err
	}
	quotadAddr := strings.TrimPrefix(g.quotad.url, "http://")
	for _, kind := range gatewayKinds {
		p, err := startNginx(ctx, launcher, bin, shipped, kind == serverNginxQuotad, quotadAddr, upstream, stderr)
		if err != nil {
			return g, "", fmt.Errorf("%s: %w", kind, err)
		}
		g.procs[kind] = p
		g.urls[kind] = p.url
	}
	return g, "", nil
}

// stop stops every gateway process that started.
func (g *gateways) stop() {
	for _, p := range g.procs {
		p.stop()
	}
	if g.quotad != nil {
		g.quotad.stop()
	}
}

// workers is the number of worker processes of each nginx, or 0 when the
// kernel does not tell (or the two differ, which the shared config rules
// out).
func (g *gateways) workers() int {
	n := -1
	for _, p := range g.procs {
		w := p.workers()
		if n >= 0 && w != n {
			return 0
		}
		n = w
	}
	return max(n, 0)
}

// findNginx finds an nginx with the auth_request module, or says why not.
func findNginx() (string, error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		for _, d := range nginxDirs {
			if p := filepath.Join(d, "nginx"); isExecutable(p) {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		return "", fmt.Errorf("nginx not found on PATH or in %s (scripts/services.sh installs it)", strings.Join(nginxDirs, ", "))
	}
	out, err := exec.Command(bin, "-V").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s -V: %v", bin, err)
	}
	if !strings.Contains(string(out), "--with-http_auth_request_module") {
		return "", fmt.Errorf("%s lacks the http_auth_request module that %s needs", bin, nginxConfFile)
	}
	return bin, nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// readRepoFile reads name from the repository's root, found by walking up
// from the working directory (bench/ under make bench, the package's
// directory under go test).
func readRepoFile(name string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil {
			return string(b), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%s not found in the working directory or above it", name)
		}
		dir = parent
	}
}

// nginxConf is the shipped config with its three CHANGE lines pointed at
// port, quotadAddr and upstreamAddr, nginx's temp files under dir, and,
// without withQuotad, no auth_request line: the variables quotad's answer
// would fill stay empty, so every other directive still runs. A line the
// file no longer holds is an error, so the file and the bench cannot drift
// apart unnoticed.
func nginxConf(shipped string, withQuotad bool, port int, quotadAddr, upstreamAddr, dir string) (string, error) {
	replace := []string{
		"listen 8000;", "listen 127.0.0.1:" + strconv.Itoa(port) + ";",
		"server 127.0.0.1:8080;", "server " + quotadAddr + ";",
		"server 127.0.0.1:3000;", "server " + upstreamAddr + ";",
		"http {\n", "http {\n" + tempPaths(dir),
	}
	if !withQuotad {
		replace = append(replace, "auth_request /_quotad/authorize;", "")
	}
	text := shipped
	for i := 0; i < len(replace); i += 2 {
		if strings.Count(text, replace[i]) != 1 {
			return "", fmt.Errorf("%s has %d of %q, which the bench replaces once; update them together", nginxConfFile, strings.Count(text, replace[i]), replace[i])
		}
		text = strings.Replace(text, replace[i], replace[i+1], 1)
	}
	return text, nil
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

// nginxProc is a running nginx master (daemon off) in a process group of
// its own, with its workers.
type nginxProc struct {
	cmd  *exec.Cmd
	dir  string
	url  string
	done chan struct{}
}

// startNginx writes the config under a new temp dir (pid, temp files and
// access log go there too; the error log goes to stderr), runs nginx with
// launcher in front, and waits until its port accepts connections.
func startNginx(ctx context.Context, launcher []string, bin, shipped string, withQuotad bool, quotadAddr, upstreamAddr string, stderr io.Writer) (*nginxProc, error) {
	dir, err := os.MkdirTemp("", "peerbench-nginx-")
	if err != nil {
		return nil, err
	}
	// Workers run as another user when nginx starts as root.
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port, err := loopback.FreePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	conf, err := nginxConf(shipped, withQuotad, port, quotadAddr, upstreamAddr, dir)
	if err == nil {
		err = errors.Join(os.Mkdir(filepath.Join(dir, "logs"), 0o755), os.Mkdir(filepath.Join(dir, "temp"), 0o755),
			os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644))
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	argv := append(append([]string{}, launcher...), bin, "-e", "stderr", "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"),
		"-g", "daemon off; pid "+filepath.Join(dir, "nginx.pid")+"; error_log stderr warn;")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	// Its own group, so stop reaches the workers too; and the master is
	// told to stop should peerbench die without stopping it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	p := &nginxProc{cmd: cmd, dir: dir, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			p.url = "http://" + addr
			return p, nil
		}
		select {
		case <-p.done:
			os.RemoveAll(dir)
			return nil, fmt.Errorf("nginx exited before listening on %s (its error log is above)", addr)
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond): // poll: the port opening is the only signal
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("nginx not listening on %s within 15s", addr)
		}
	}
}

// stop asks the group to stop (SIGTERM: nginx's fast shutdown), kills it
// after ten seconds, and removes the temp dir.
func (p *nginxProc) stop() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	os.RemoveAll(p.dir)
}

// workers counts the master's child processes (its workers, once it has
// started them all), or 0 when /proc does not list children.
func (p *nginxProc) workers() int {
	pid := strconv.Itoa(p.cmd.Process.Pid)
	b, err := os.ReadFile(filepath.Join("/proc", pid, "task", pid, "children"))
	if err != nil {
		return 0
	}
	return len(strings.Fields(string(b)))
}
