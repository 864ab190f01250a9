package benchenv

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFormatInt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0"}, {999, "999"}, {1000, "1,000"}, {10000, "10,000"},
		{1_234_567, "1,234,567"}, {-1_234_567, "-1,234,567"}, {-12, "-12"},
	} {
		if got := FormatInt(tc.n); got != tc.want {
			t.Errorf("FormatInt(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestRerunCommand(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "cd bench && go run ./cmd/loadtest"},
		{[]string{"-out", "/tmp/x.md", "-duration", "4s"}, "cd bench && go run ./cmd/loadtest -out /tmp/x.md -duration 4s"},
		{[]string{"-scenarios", "a b"}, "cd bench && go run ./cmd/loadtest -scenarios 'a b'"},
		{[]string{"it's", ""}, `cd bench && go run ./cmd/loadtest 'it'\''s' ''`},
	} {
		if got := RerunCommand("loadtest", tc.args); got != tc.want {
			t.Errorf("RerunCommand(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestMachine_WriteMarkdown(t *testing.T) {
	t.Parallel()
	m := Machine{CPUModel: "Test CPU", NProc: 8, Memory: "31.3 GiB", Kernel: "Linux 6.8.0"}
	var b bytes.Buffer
	m.WriteMarkdown(&b, Row{Name: "Go", Value: "go1.26.0"})
	want := "## Machine\n\n| | |\n|---|---|\n| CPU | Test CPU, 8 logical CPUs (nproc) |\n" +
		"| memory | 31.3 GiB |\n| OS | Linux 6.8.0 |\n| Go | go1.26.0 |\n\n"
	if b.String() != want {
		t.Errorf("WriteMarkdown wrote\n%s\nwant\n%s", b.String(), want)
	}
}

func TestMachine_WriteMarkdownIdleCPU(t *testing.T) {
	t.Parallel()
	m := Machine{CPUModel: "Test CPU", NProc: 2, Memory: "1.0 GiB", Kernel: "Linux 6.18", IdleCPU: "cpuidle driver acpi_idle"}
	var b bytes.Buffer
	m.WriteMarkdown(&b)
	if want := "| OS | Linux 6.18 |\n| idle CPUs | cpuidle driver acpi_idle |\n\n"; !strings.HasSuffix(b.String(), want) {
		t.Errorf("WriteMarkdown wrote\n%s\nwant it to end with\n%s", b.String(), want)
	}
}

func TestReadIdleCPU(t *testing.T) {
	t.Parallel()
	const (
		driver = "sys/devices/system/cpu/cpuidle/current_driver"
		pollNs = "sys/module/haltpoll/parameters/guest_halt_poll_ns"
	)
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no cpuidle", nil, "unknown"},
		{"empty driver", map[string]string{driver: "\n"}, "unknown"},
		{"other driver", map[string]string{driver: "intel_idle\n", pollNs: "200000\n"}, "cpuidle driver intel_idle"},
		{"haltpoll, never polls", map[string]string{driver: "haltpoll\n", pollNs: "0\n"},
			"cpuidle driver haltpoll, polls 0 µs before halting (guest_halt_poll_ns 0)"},
		{"haltpoll, default", map[string]string{driver: "haltpoll\n", pollNs: "200000\n"},
			"cpuidle driver haltpoll, polls 200 µs before halting (guest_halt_poll_ns 200000)"},
		{"haltpoll, fraction of a µs", map[string]string{driver: "haltpoll", pollNs: "1500"},
			"cpuidle driver haltpoll, polls 1.5 µs before halting (guest_halt_poll_ns 1500)"},
		{"haltpoll, no parameter", map[string]string{driver: "haltpoll\n"}, "cpuidle driver haltpoll"},
		{"haltpoll, garbled parameter", map[string]string{driver: "haltpoll\n", pollNs: "lots\n"}, "cpuidle driver haltpoll"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			for path, body := range tc.files {
				full := filepath.Join(root, path)
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := ReadIdleCPU(root); got != tc.want {
				t.Errorf("ReadIdleCPU = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCPUShare(t *testing.T) {
	start := parseCPUTimes("cpu  100 0 50 800 10 0 40 0 7 0\ncpu0 1 2 3\n")
	end := parseCPUTimes("cpu  500 0 150 1000 10 0 140 200 9 0\n")
	// 1000 ticks in all between the two: 200 stolen, 200 idle.
	if got, want := CPUShare(start, end), "steal 20 %, idle 20 %"; got != want {
		t.Errorf("CPUShare = %q, want %q", got, want)
	}
	for _, bad := range []string{"", "intr 1 2 3\n", "cpu 1 2 3\n", "cpu 1 2 x 4 5 6 7 8\n"} {
		if got := CPUShare(parseCPUTimes(bad), end); got != "unknown" {
			t.Errorf("CPUShare from %q = %q, want unknown", bad, got)
		}
	}
	if got := CPUShare(end, start); got != "unknown" {
		t.Errorf("CPUShare backwards = %q, want unknown", got)
	}
	if got, ok := IdleShare(start, end); !ok || got != 0.2 {
		t.Errorf("IdleShare = %v, %v; want 0.2, true", got, ok)
	}
	if _, ok := IdleShare(end, start); ok {
		t.Error("IdleShare backwards is ok")
	}
	if _, ok := IdleShare(parseCPUTimes(""), end); ok {
		t.Error("IdleShare without a start is ok")
	}
	if got := CPUShare(ReadCPUTimes(), ReadCPUTimes()); got == "" {
		t.Error("CPUShare of this machine is empty")
	}
}

func TestReadMachine(t *testing.T) {
	t.Parallel()
	m := ReadMachine()
	if m.NProc < 1 || m.GOMAXPROCS < 1 || !strings.HasPrefix(m.GoVersion, "go") || m.IdleCPU == "" {
		t.Errorf("ReadMachine = %+v", m)
	}
	if la := LoadAverage(); la == "" {
		t.Error("LoadAverage is empty")
	}
}
