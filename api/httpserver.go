package api

import (
	"context"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// Defaults of HTTPConfig's zero values.
const (
	// DefaultWriteTimeout bounds the time from reading a request's headers
	// to handing the last byte of its response to the kernel. quotad's
	// responses are small and its handlers take milliseconds, so only a
	// client that stopped reading while its kernel buffers filled reaches
	// it; its connection is then closed, and the buffers freed.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultMaxConns bounds the connections one process holds open.
	DefaultMaxConns = 4096
)

// sendBuffer is the kernel send buffer of each accepted connection, in
// bytes. Left alone, the kernel grows a connection's buffer up to
// net.ipv4.tcp_wmem's maximum (4 MiB by default) while a client does not
// read; fixed, what MaxConns clients that never read can pin is bounded:
// 4096 connections × 128 KiB (the kernel doubles the value for its
// bookkeeping) = 512 MiB at most. quotad's responses are small: even the
// OpenAPI document fits.
const sendBuffer = 64 << 10

// HTTPConfig holds the connection limits of NewHTTPServerWithConfig and
// LimitListener.
type HTTPConfig struct {
	// WriteTimeout closes a connection whose response is not written
	// within it of the request's headers being read.
	// Optional. Default value DefaultWriteTimeout.
	WriteTimeout time.Duration
	// MaxConns bounds the connections open at once; LimitListener applies
	// it. Optional. Default value DefaultMaxConns.
	MaxConns int
}

// NewHTTPServer returns NewHTTPServerWithConfig with the default HTTPConfig.
func NewHTTPServer(handler http.Handler, base context.Context) *http.Server {
	return NewHTTPServerWithConfig(handler, base, HTTPConfig{})
}

// NewHTTPServerWithConfig returns the http.Server quotad serves handler
// with: a slow client cannot hold a connection open by trickling headers or
// a body, nor by not reading its responses (WriteTimeout), and a header
// block over 32 KiB is refused with 431. Requests' contexts derive from
// base without its cancellation, so a shutdown drains them instead of
// cancelling them.
func NewHTTPServerWithConfig(handler http.Handler, base context.Context, cfg HTTPConfig) *http.Server {
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10, // beyond it: 431
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(base) },
	}
}

// LimitListener returns ln accepting at most cfg.MaxConns connections at
// once, each with a fixed kernel send buffer (see sendBuffer): past
// MaxConns, new connections wait in the kernel's accept queue until one
// closes. With WriteTimeout, it bounds what clients that never read can
// hold: MaxConns connections and their send buffers, each for at most
// WriteTimeout after its buffer fills.
func LimitListener(ln net.Listener, cfg HTTPConfig) net.Listener {
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	return netutil.LimitListener(sendBufferListener{ln}, cfg.MaxConns)
}

// sendBufferListener fixes the send buffer of the TCP connections it
// accepts.
type sendBufferListener struct{ net.Listener }

// Accept returns the next connection, its send buffer set. A connection
// whose buffer cannot be set is served anyway: the buffer bounds memory,
// it is not needed to serve.
func (l sendBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(sendBuffer)
	}
	return c, err
}
