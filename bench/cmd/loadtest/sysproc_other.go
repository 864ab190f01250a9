//go:build !linux

package main

import "os/exec"

// dieWithParent is Linux-only (Pdeathsig); elsewhere children are stopped
// by loadtest's own cleanup alone.
func dieWithParent(*exec.Cmd) {}
