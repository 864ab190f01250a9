package benchenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
)

// RunFunc is a program's whole life, given its arguments (args[0] is the
// program's name) and where to write; main only calls it, so that tests
// can too.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Main runs run and exits 1 with "name: error" when it fails. Ctrl-C and
// SIGTERM cancel run's context instead of killing the process, so the
// programs' deferred cleanup (dropping the database, stopping their
// children, deleting keys) still runs.
func Main(name string, run RunFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// RerunCommand is the shell command that runs program again with args,
// for the report to say how it was made. Both programs live in
// bench/cmd/<program> and are run from the repository's root, e.g.
//
//	RerunCommand("peerbench", []string{"-out", "../docs/PERFORMANCE.md", "-scenarios", "a b"})
//
// is "cd bench && go run ./cmd/peerbench -out ../docs/PERFORMANCE.md -scenarios 'a b'".
func RerunCommand(program string, args []string) string {
	cmd := "cd bench && go run ./cmd/" + program
	for _, a := range args {
		cmd += " " + shellQuote(a)
	}
	return cmd
}

// shellQuote leaves words of safe characters as they are, so the usual
// flags read naturally, and single-quotes anything else.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// LockedWriter serializes writes from several goroutines, so that progress
// lines from concurrent work (and child processes' stderr) are never
// interleaved mid-line.
type LockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// NewLockedWriter returns a LockedWriter writing to w.
func NewLockedWriter(w io.Writer) *LockedWriter { return &LockedWriter{w: w} }

// Write writes p to the underlying writer, one caller at a time.
func (l *LockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
