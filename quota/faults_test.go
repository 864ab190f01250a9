package quota

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// faultProxy is a TCP proxy in front of the test Redis that can stop
// answering: in blackhole mode it accepts connections and reads requests but
// never replies, as a SIGSTOPped or overloaded server would.
type faultProxy struct {
	ln        net.Listener
	target    string
	blackhole atomic.Bool

	mu    sync.Mutex
	conns []net.Conn
}

func newFaultProxy(tb testing.TB, target string) *faultProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target}
	go p.serve()
	tb.Cleanup(p.close)
	return p
}

func (p *faultProxy) Addr() string { return p.ln.Addr().String() }

// SetBlackhole switches between swallowing and forwarding. Connections
// opened while swallowing keep swallowing, as a hung server's would.
func (p *faultProxy) SetBlackhole(on bool) { p.blackhole.Store(on) }

func (p *faultProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.track(c)
		if p.blackhole.Load() {
			go func() { _, _ = io.Copy(io.Discard, c) }()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.track(up)
		go func() { _, _ = io.Copy(up, &holdReader{c, p}); up.Close() }()
		go func() { _, _ = io.Copy(c, &holdReader{up, p}); c.Close() }()
	}
}

// holdReader forwards bytes only while the proxy is not blackholing, so a
// connection that was healthy goes silent both ways when the server "hangs"
// (a stopped server executes nothing).
type holdReader struct {
	r io.Reader
	p *faultProxy
}

func (h *holdReader) Read(b []byte) (int, error) {
	n, err := h.r.Read(b)
	if err == nil && h.p.blackhole.Load() {
		return 0, nil // swallow; the client waits for a reply that never comes
	}
	return n, err
}

func (p *faultProxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
}

func (p *faultProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// closedAddr returns a loopback address nothing listens on, so connections
// to it are refused.
func closedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
