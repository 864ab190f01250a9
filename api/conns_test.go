package api

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// pipelineUnread writes pipelined requests for /openapi.yaml to c until a
// write fails, never reading a response: the slow reader the write
// deadline is for. It returns the error that ended it.
func pipelineUnread(c net.Conn) error {
	reqs := bytes.Repeat([]byte("GET /openapi.yaml HTTP/1.1\r\nHost: quotad\r\n\r\n"), 64)
	for {
		if _, err := c.Write(reqs); err != nil {
			return err
		}
	}
}

// TestHTTPServer_ClosesConnectionsThatStopReading: 100 clients pipeline
// requests for the largest response and never read; once their buffers
// fill, the write deadline closes every connection, which each client sees
// as a failed write.
func TestHTTPServer_ClosesConnectionsThatStopReading(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{http: &HTTPConfig{WriteTimeout: 200 * time.Millisecond}})
	const n = 100
	closed := make(chan error, n)
	for range n {
		c, err := net.Dial("tcp", strings.TrimPrefix(inst.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		// A small receive buffer fills after a few responses, and keeps
		// what 100 clients pin in the kernel small.
		if err := c.(*net.TCPConn).SetReadBuffer(4 << 10); err != nil {
			t.Fatal(err)
		}
		go func() { closed <- pipelineUnread(c) }()
	}
	deadline := time.After(20 * time.Second)
	for i := range n {
		select {
		case err := <-closed:
			if errors.Is(err, net.ErrClosed) {
				t.Fatalf("connection %d: closed by the test, not the server: %v", i, err)
			}
		case <-deadline:
			t.Fatalf("%d of %d connections that stopped reading were closed by the server", i, n)
		}
	}
}

// TestLimitListener_BoundsOpenConnections: with MaxConns 2 and two
// connections open, a third is not served until one of the two closes.
func TestLimitListener_BoundsOpenConnections(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{http: &HTTPConfig{MaxConns: 2}})
	addr := strings.TrimPrefix(inst.URL, "http://")
	open := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: quotad\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		return c, bufio.NewReader(c)
	}
	answered := func(c net.Conn, r *bufio.Reader, within time.Duration) error {
		if err := c.SetReadDeadline(time.Now().Add(within)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want 200", resp.StatusCode)
		}
		return nil
	}
	first, r1 := open()
	if err := answered(first, r1, 10*time.Second); err != nil {
		t.Fatalf("first connection: %v", err)
	}
	second, r2 := open()
	if err := answered(second, r2, 10*time.Second); err != nil {
		t.Fatalf("second connection: %v", err)
	}
	third, r3 := open()
	// The bound is an absence of an answer, so this one wait is a
	// timeout; an answer within it means the bound did not hold.
	if err := answered(third, r3, 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("third connection answered while two were open (err %v); want it to wait", err)
	}
	_ = first.Close()
	if err := answered(third, r3, 10*time.Second); err != nil {
		t.Fatalf("third connection after the first closed: %v", err)
	}
}
