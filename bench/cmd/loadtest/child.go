package main

import (
	"os"
	"os/exec"
	"time"
)

// startLogged starts cmd with its stdout and stderr going to logf, tied to
// loadtest's life by dieWithParent, and returns a channel closed once the
// process has exited and been waited for: the waiting goroutine is the
// only one that may call Wait, so everyone else learns of the exit here.
// logf is closed either way, since the child has its own copy.
func startLogged(cmd *exec.Cmd, logf *os.File) (exited chan struct{}, err error) {
	cmd.Stdout, cmd.Stderr = logf, logf
	dieWithParent(cmd)
	err = cmd.Start()
	logf.Close()
	if err != nil {
		return nil, err
	}
	exited = make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	return exited, nil
}

// stopLogged sends sig to a process startLogged started and waits for it
// to exit, killing it after grace, so that a hung child cannot hang
// loadtest's cleanup. killed reports that it had to.
func stopLogged(cmd *exec.Cmd, exited <-chan struct{}, sig os.Signal, grace time.Duration) (killed bool) {
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
		return false
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-exited
		return true
	}
}
