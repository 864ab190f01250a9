// Package loopback finds ports for, and pings, the servers that tests and
// the load test start on 127.0.0.1. It needs no testing.TB, so programs
// (bench/cmd/loadtest) use it as well as test helpers (internal/testenv).
package loopback

import (
	"bufio"
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FreePort returns a loopback TCP port nothing listens on, chosen below the
// kernel's ephemeral range (32768 and up on Linux) so that outgoing
// connections, which take their local ports from that range, cannot grab it
// between now and a server binding it, or while a server is stopped and
// about to be restarted on it.
func FreePort() (int, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 100 {
		port := 20000 + rand.IntN(12000) // [20000, 32000)
		if handedOut.ports[port] {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		ln.Close()
		handedOut.ports[port] = true
		return port, nil
	}
	return 0, errors.New("no free loopback port in [20000, 32000) after 100 tries")
}

// handedOut holds every port FreePort has returned in this process, so that
// two callers asking at once never get the same one. (Another process may
// still take a port; servers that fail to bind at first start are retried
// on a new one.)
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// PingRedis reports whether a Redis at addr answers PING with PONG.
func PingRedis(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.TrimSpace(line) == "+PONG"
}
