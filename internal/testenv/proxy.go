package testenv

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ProxyMode is how a Proxy treats traffic.
type ProxyMode int32

// Proxy modes.
const (
	// Forward passes bytes both ways.
	Forward ProxyMode = iota
	// Blackhole accepts connections and swallows bytes both ways, as a
	// SIGSTOPped or wedged server would: nothing executes, nothing answers.
	Blackhole
	// Refuse drops every connection and closes new ones at once, as a
	// stopped server's host would.
	Refuse
)

// Proxy is a TCP proxy on loopback in front of a real server, for tests
// that need that server to fail and come back without touching the real
// process other tests share.
type Proxy struct {
	ln     net.Listener
	target string
	mode   atomic.Int32
	delay  atomic.Int64 // nanoseconds each forwarded chunk is held

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// NewProxy starts a Proxy to target (host:port), closed when the test ends.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	tb.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetMode switches the mode; Refuse also drops every open connection.
func (p *Proxy) SetMode(m ProxyMode) {
	p.mode.Store(int32(m))
	if m == Refuse {
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	}
}

// SetDelay holds every chunk forwarded from now on, either way, for d
// before passing it on: a server slowed by load, still answering everything
// in order. Chunks are held concurrently, so a pipelining client still
// gets many replies per delay, as from a busy server.
func (p *Proxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		switch ProxyMode(p.mode.Load()) {
		case Refuse:
			c.Close()
			continue
		case Blackhole:
			p.track(c)
			go func() { _, _ = io.Copy(io.Discard, c); p.untrack(c) }()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.track(c)
		p.track(up)
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// pipe copies src to dst while the mode allows, each chunk after the
// delay, then closes both.
func (p *Proxy) pipe(dst, src net.Conn) {
	type chunk struct {
		b   []byte
		due time.Time
	}
	held := make(chan chunk, 1024)
	go func() {
		for c := range held {
			time.Sleep(time.Until(c.due))
			if _, err := dst.Write(c.b); err != nil {
				src.Close() // stops the reader too
				for range held {
				}
				break
			}
		}
		dst.Close()
		p.untrack(dst)
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && ProxyMode(p.mode.Load()) == Forward {
			due := time.Now().Add(time.Duration(p.delay.Load()))
			held <- chunk{b: append([]byte(nil), buf[:n]...), due: due}
		}
		if err != nil {
			break
		}
	}
	close(held)
	src.Close()
	p.untrack(src)
}

func (p *Proxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns[c] = struct{}{}
	p.mu.Unlock()
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) close() {
	p.ln.Close()
	p.SetMode(Refuse)
}

// ClosedAddr returns a loopback host:port nothing listens on, so
// connections to it are refused.
func ClosedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
