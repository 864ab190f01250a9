package main

import (
	"context"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// killTimes are the moments of the SIGKILL of one instance, as offsets
// from the start of the load.
type killTimes struct {
	inst    int  // index into the instances
	leader  bool // it held the metering lock when killed
	kill    time.Duration
	down    time.Duration // the process has exited
	restart time.Duration // started again on the same address
	up      time.Duration // it answers /healthz again
}

// killInstance SIGKILLs one instance at a quarter of the load, the
// metering leader if it can tell which one leads, keeps it down for
// -downtime and starts it again on the same address. The load generator
// sends to the other instances while it is down, so only the requests in
// flight to it at the kill are lost.
func killInstance(ctx context.Context, cfg config, env instanceEnv, insts []*instance, k *killTimes,
	clock func() time.Duration, progress io.Writer) error {
	t := time.NewTimer(cfg.duration/4 - clock())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil
	case <-t.C:
	}
	k.inst = len(insts) - 1
	if i, ok := meteringLeader(ctx, env.databaseURL, insts); ok {
		k.inst, k.leader = i, true
	}
	in := insts[k.inst]
	in.down.Store(true)
	k.kill = clock()
	if err := in.kill(); err != nil {
		return err
	}
	k.down = clock()
	role := "not the metering leader"
	if k.leader {
		role = "the metering leader"
	}
	fmt.Fprintf(progress, "%5.1fs  FAULT: quotad %d (%s) SIGKILLed\n", k.kill.Seconds(), in.n, role)
	t.Reset(k.kill + cfg.downtime - clock())
	select {
	case <-ctx.Done():
		return nil
	case <-t.C:
	}
	k.restart = clock()
	if err := in.start(ctx, env); err != nil {
		return fmt.Errorf("restarting quotad %d: %w", in.n, err)
	}
	k.up = clock()
	in.down.Store(false)
	fmt.Fprintf(progress, "%5.1fs  FAULT: quotad %d started again on %s, answering /healthz after %v\n",
		k.restart.Seconds(), in.n, in.addr, (k.up - k.restart).Round(time.Millisecond))
	return nil
}

// kill sends SIGKILL and waits for the process to be gone.
func (in *instance) kill() error {
	in.mu.Lock()
	cmd, exited := in.cmd, in.exited
	in.cmd = nil
	in.mu.Unlock()
	if cmd == nil {
		return fmt.Errorf("quotad %d: kill while stopped", in.n)
	}
	stopLogged(cmd, exited, syscall.SIGKILL, 10*time.Second)
	return nil
}

// pid is the instance's process id, 0 while it is stopped.
func (in *instance) pid() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd == nil {
		return 0
	}
	return in.cmd.Process.Pid
}

// meteringLockKey is metering's advisory lock key ("quotad:metering" as 8
// bytes) split as pg_locks shows a bigint key: classid holds the high 32
// bits, objid the low 32.
const (
	meteringLockHigh = 0x71756f74
	meteringLockLow  = 0x61643a6d
)

// sqlLeaderPort is the client port of the session holding the metering
// lock in this database.
const sqlLeaderPort = `
SELECT a.client_port
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.classid = $1 AND l.objid = $2
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`

// meteringLeader returns the index of the instance holding the metering
// lock: Postgres names the lock holder's client port, and the instance
// owning a socket on that port is the leader. ok is false when no one
// leads at this moment or the owner cannot be found.
func meteringLeader(ctx context.Context, databaseURL string, insts []*instance) (int, bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return 0, false
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var port int
	if err := conn.QueryRow(ctx, sqlLeaderPort, meteringLockHigh, meteringLockLow).Scan(&port); err != nil {
		return 0, false
	}
	pids := make([]int, len(insts))
	for i, in := range insts {
		pids[i] = in.pid()
	}
	return processWithPort(pids, port)
}
