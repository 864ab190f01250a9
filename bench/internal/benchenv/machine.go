package benchenv

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// Machine describes where the numbers come from: the same hardware and
// software facts head both reports, so that two runs can be compared
// knowing whether they ran on comparable machines. A figure that cannot be
// read (outside Linux, say) is "unknown" rather than an error: a report
// without it is still worth having.
type Machine struct {
	CPUModel   string // /proc/cpuinfo's first "model name"
	NProc      int    // logical CPUs this process may use, as nproc counts them
	Memory     string // MemTotal, e.g. "15.6 GiB"
	Kernel     string // e.g. "Linux 6.8.0-45-generic"
	GoVersion  string // the toolchain the program was built with, e.g. "go1.26.0"
	GOMAXPROCS int    // Go's parallelism at the time of reading
	IdleCPU    string // how an idle CPU waits for work; see ReadIdleCPU
}

// ReadMachine reads the Machine this process runs on.
func ReadMachine() Machine {
	m := Machine{
		CPUModel:   "unknown",
		NProc:      runtime.NumCPU(),
		Memory:     "unknown",
		Kernel:     "unknown",
		GoVersion:  runtime.Version(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64); err == nil {
					m.Memory = fmt.Sprintf("%.1f GiB", kb/(1<<20))
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	m.IdleCPU = ReadIdleCPU("/")
	return m
}

// ReadIdleCPU says how an idle CPU of the machine whose root file system is
// at root waits for work: the cpuidle driver and, under the haltpoll driver
// of a KVM guest, how long it polls before it halts, e.g. "cpuidle driver
// haltpoll, polls 0 µs before halting (guest_halt_poll_ns 0)".
//
// On a VM this can decide a benchmark. A halted virtual CPU takes tens of
// microseconds to wake (an interrupt through the hypervisor), one that
// polls almost nothing; the kernel's haltpoll default is 200 µs, and some
// hosts set 0. Work that leaves a CPU idle between round trips, as a
// batcher does at moderate load, then pays that wake-up on its critical
// path, while many independent round trips keep both CPUs busy: on an
// Intel Xeon VM with 0, quota's batched decisions at 16 callers ran at
// 0.80× bare INCR in one peerbench run, and at 1.10× in the next with
// 200 µs.
func ReadIdleCPU(root string) string {
	read := func(path string) (string, bool) {
		b, err := os.ReadFile(filepath.Join(root, path))
		return strings.TrimSpace(string(b)), err == nil
	}
	driver, ok := read("sys/devices/system/cpu/cpuidle/current_driver")
	if !ok || driver == "" {
		return "unknown"
	}
	s := "cpuidle driver " + driver
	if driver != "haltpoll" {
		return s
	}
	ns, ok := read("sys/module/haltpoll/parameters/guest_halt_poll_ns")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || n < 0 {
		return s
	}
	return fmt.Sprintf("%s, polls %s µs before halting (guest_halt_poll_ns %d)", s, strconv.FormatFloat(float64(n)/1000, 'f', -1, 64), n)
}

// LoadAverage is /proc/loadavg's 1, 5 and 15 minute figures, e.g.
// "0.52 0.61 0.70", or "unknown". Other work on the machine shows here, so
// the reports give it at the start and at the end of the load.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// CPUTimes is a snapshot of the whole machine's CPU time (the "cpu" line
// of /proc/stat, in clock ticks), taken before and after a load to tell
// how much of it the hypervisor gave to other guests.
type CPUTimes struct {
	total, idle, steal uint64
	ok                 bool
}

// ReadCPUTimes reads /proc/stat; outside Linux the snapshot is empty and
// CPUShare says "unknown".
func ReadCPUTimes() CPUTimes {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return CPUTimes{}
	}
	return parseCPUTimes(string(b))
}

// parseCPUTimes reads the first line of /proc/stat: "cpu" and the user,
// nice, system, idle, iowait, irq, softirq, steal, guest and guest_nice
// ticks of all CPUs together.
func parseCPUTimes(stat string) CPUTimes {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return CPUTimes{}
	}
	var t CPUTimes
	for i, s := range f[1:] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return CPUTimes{}
		}
		if i >= 8 { // guest and guest_nice are counted in user already
			break
		}
		t.total += n
		switch i {
		case 3, 4: // idle, iowait
			t.idle += n
		case 7:
			t.steal = n
		}
	}
	t.ok = true
	return t
}

// CPUShare says what share of the CPU time between start and end was
// stolen (run by the hypervisor for someone else) and idle, e.g. "steal 2
// %, idle 11 %". On a shared VM a high steal slows every contender, and
// unevenly from round to round, so the reports print it beside the load
// average.
func CPUShare(start, end CPUTimes) string {
	idle, ok := IdleShare(start, end)
	if !ok {
		return "unknown"
	}
	steal := float64(end.steal-start.steal) / float64(end.total-start.total)
	return fmt.Sprintf("steal %.0f %%, idle %.0f %%", 100*steal, 100*idle)
}

// IdleShare is the share (0 to 1) of all CPUs' time between start and end
// that was idle; ok is false when it cannot be told. A load that leaves
// CPUs idle is bound by latency (round trips, wake-ups), not by CPU.
func IdleShare(start, end CPUTimes) (share float64, ok bool) {
	if !start.ok || !end.ok || end.total <= start.total {
		return 0, false
	}
	return float64(end.idle-start.idle) / float64(end.total-start.total), true
}

// Row is one line of the machine table: | Name | Value |.
type Row struct {
	Name  string
	Value string
}

// WriteMarkdown writes the report's "## Machine" section: a two-column
// table with the CPU, memory, OS and (when IdleCPU is set) idle CPUs rows,
// then rows (each program has its own Go, Redis, Postgres and load average
// rows, since what it runs on differs), then a blank line. For example
//
//	| CPU | AMD EPYC 7B13, 8 logical CPUs (nproc) |
//	| memory | 31.3 GiB |
//	| OS | Linux 6.8.0-45-generic |
//	| idle CPUs | cpuidle driver haltpoll, polls 200 µs before halting (guest_halt_poll_ns 200000) |
func (m Machine) WriteMarkdown(w io.Writer, rows ...Row) {
	fmt.Fprintln(w, "## Machine")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| | |")
	fmt.Fprintln(w, "|---|---|")
	fmt.Fprintf(w, "| CPU | %s, %d logical CPUs (nproc) |\n", m.CPUModel, m.NProc)
	fmt.Fprintf(w, "| memory | %s |\n", m.Memory)
	fmt.Fprintf(w, "| OS | %s |\n", m.Kernel)
	if m.IdleCPU != "" {
		fmt.Fprintf(w, "| idle CPUs | %s |\n", m.IdleCPU)
	}
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s |\n", r.Name, r.Value)
	}
	fmt.Fprintln(w)
}
