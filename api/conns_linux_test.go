package api

import (
	"net"
	"syscall"
	"testing"
)

// TestLimitListener_FixesSendBuffer: the connections LimitListener accepts
// (through sendBufferListener) have their send buffer fixed at sendBuffer
// (Linux reports twice the value set, its bookkeeping included) instead
// of the kernel's, which grows while a client does not read.
func TestLimitListener_FixesSendBuffer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	inner := sendBufferListener{ln}
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := inner.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got int
	var serr error
	if err := raw.Control(func(fd uintptr) {
		got, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF)
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	if got != 2*sendBuffer {
		t.Fatalf("SO_SNDBUF %d, want %d", got, 2*sendBuffer)
	}
}
