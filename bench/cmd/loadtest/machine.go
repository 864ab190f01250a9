package main

import "github.com/quotad/quotad/bench/internal/benchenv"

// machine describes where the numbers come from: the hardware, and the
// versions of what loadtest ran against.
type machine struct {
	benchenv.Machine
	redisVersion    string // the private redis-server's
	postgresVersion string
	loadStart       string // benchenv.LoadAverage when the load starts
	loadEnd         string // and when it ends
	cpuShare        string // benchenv.CPUShare over the load
}
