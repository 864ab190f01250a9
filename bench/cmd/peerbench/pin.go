package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Pinning the HTTP scenario's processes to CPUs with taskset: servers on
// CPU 0, the load on CPU 1.

// pinOK reports whether processes can be pinned to CPUs 0 and 1.
func pinOK(cfg config) bool {
	if !cfg.pin {
		return false
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return false
	}
	cpus, err := allowedCPUs()
	return err == nil && strings.Contains(","+expandCPUList(cpus)+",", ",0,") && strings.Contains(","+expandCPUList(cpus)+",", ",1,")
}

// pinSelf moves every thread of this process to cpus and returns a
// function that puts them back where they were allowed before.
func pinSelf(cpus string) (restore func(), err error) {
	before, err := allowedCPUs()
	if err != nil {
		return nil, err
	}
	pid := strconv.Itoa(os.Getpid())
	if out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, pid).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("taskset: %v: %s", err, out)
	}
	return func() { _ = exec.Command("taskset", "-a", "-p", "-c", before, pid).Run() }, nil
}

// allowedCPUs reads this process's Cpus_allowed_list ("0-1").
func allowedCPUs() (string, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", errors.New("no Cpus_allowed_list in /proc/self/status")
}

// expandCPUList turns "0-2,5" into "0,1,2,5".
func expandCPUList(list string) string {
	var out []string
	for part := range strings.SplitSeq(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			out = append(out, lo)
			continue
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil {
			continue
		}
		for i := a; i <= b; i++ {
			out = append(out, strconv.Itoa(i))
		}
	}
	return strings.Join(out, ",")
}
