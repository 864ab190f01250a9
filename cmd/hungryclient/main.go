// Command hungryclient hammers a rate-limited endpoint and reports what the
// limiter did: how many requests were admitted and refused, how many were
// admitted and refused in each fixed window (so an off-by-one limiter shows
// at a glance), and the latency the limiter adds.
//
// It is the seed's load script done right: it paces globally across workers,
// honours Retry-After on a 429 (pausing every worker, since the quota belongs
// to the client, not to a worker), and Ctrl-C ends a run early but still
// prints the summary.
//
//	hungryclient -n 40 -concurrency 8
//	hungryclient -rpm 600 -duration 2m -token-file ./token
//	HUNGRY_URL=http://quota:8080/rate-limited hungryclient -duration 30s -json
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const defaultURL = "http://localhost:8080/rate-limited"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default handling so a second
	// Ctrl-C kills a run that is slow to wind down.
	go func() { <-ctx.Done(); stop() }()
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "hungryclient:", err)
	var ue usageError
	if errors.As(err, &ue) {
		os.Exit(2)
	}
	os.Exit(1)
}

// run is the whole program; main only supplies the process's context,
// arguments, environment and streams so tests can call run directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, help, err := parseConfig(args, getenv)
	if err != nil {
		return err
	}
	if help != "" {
		_, err := io.WriteString(stdout, help)
		return err
	}
	if cfg.n == 0 && cfg.duration == 0 && !cfg.quiet {
		fmt.Fprintln(stderr, "hungryclient: no -n or -duration: running until Ctrl-C")
	}

	l := newLoader(cfg, time.Now)
	start := time.Now()
	var prog *progress
	if !cfg.quiet {
		prog = startProgress(stderr, isTerminal(stderr), start, l.live.snapshot)
	}
	results, elapsed := l.run(ctx, start)
	prog.stop()

	s := Summarize(results, elapsed)
	if cfg.json {
		err = writeJSON(stdout, s)
	} else {
		err = writeText(stdout, s)
	}
	if err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	// A run in which nothing answered is almost always a wrong -url or a
	// server that is down; say so through the exit code, not just the table.
	if s.Sent > 0 && s.Sent == s.Errors+s.Aborted && s.Errors > 0 {
		return fmt.Errorf("no responses: all %d requests failed (first: %s)", s.Errors, s.ErrorExample)
	}
	return nil
}

// config is the validated command line.
type config struct {
	url         string
	rpm         int
	concurrency int
	token       string
	duration    time.Duration
	n           int
	timeout     time.Duration
	wait        bool
	quiet       bool
	json        bool
}

// usageError marks a bad flag or environment variable, which main turns
// into exit status 2 as the flag package's own convention does.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() + " (see -h)" }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

const usageHead = `Usage: %s [flags]

Sends GET requests to a rate-limited endpoint and reports what the limiter did:
sent, admitted (2xx), limited (429), errors, admitted and limited per window
(grouped by X-RateLimit-Reset) and latency percentiles.

The run ends after -n requests or after -duration, whichever comes first. With
neither set it runs until Ctrl-C. Ctrl-C (or SIGTERM) ends any run early and
still prints the summary.

Every flag can also be set through an environment variable HUNGRY_<NAME>
(upper case, '-' becomes '_': HUNGRY_RPM=120, HUNGRY_TOKEN_FILE=./token);
a flag on the command line wins over the environment.

Flags:
`

// parseConfig reads flags over environment defaults and validates them. On
// -h it returns the usage text instead of a config.
func parseConfig(args []string, getenv func(string) string) (cfg config, help string, err error) {
	name := "hungryclient"
	if len(args) > 0 {
		name = filepath.Base(args[0])
		args = args[1:]
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// Errors come back as one line through main; the flag package would
	// otherwise also dump the whole usage on every typo.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}

	var tokenFile string
	fs.StringVar(&cfg.url, "url", defaultURL, "target `URL` (http or https)")
	fs.IntVar(&cfg.rpm, "rpm", 0, "requests per minute across all workers; 0 sends as fast as possible")
	fs.IntVar(&cfg.concurrency, "concurrency", 1, "number of concurrent workers (-rpm paces them together)")
	fs.StringVar(&cfg.token, "token", "", "bearer `token` sent as Authorization: Bearer <token> (visible in ps; prefer -token-file)")
	fs.StringVar(&tokenFile, "token-file", "", "read the bearer token from `file` (surrounding whitespace ignored)")
	fs.DurationVar(&cfg.duration, "duration", 0, "stop sending after this long, e.g. 30s or 2m; 0 means no time limit")
	fs.IntVar(&cfg.n, "n", 0, "stop after this many requests; 0 means no count limit")
	fs.DurationVar(&cfg.timeout, "timeout", 5*time.Second, "timeout for each request")
	fs.BoolVar(&cfg.wait, "wait", true, "on a 429, pause all workers for Retry-After (capped by what is left of -duration)")
	fs.BoolVar(&cfg.quiet, "quiet", false, "no progress line on stderr")
	fs.BoolVar(&cfg.json, "json", false, "print the summary as JSON")

	// Environment first, so the command line overrides it.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		key := envName(f.Name)
		v := getenv(key)
		if v == "" || envErr != nil {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			envErr = usagef("invalid %s (for -%s): %v", key, f.Name, err)
		}
	})
	if envErr != nil {
		return config{}, "", envErr
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			var b strings.Builder
			fmt.Fprintf(&b, usageHead, name)
			fs.SetOutput(&b)
			fs.PrintDefaults()
			return config{}, b.String(), nil
		}
		return config{}, "", usageError{err}
	}
	if fs.NArg() > 0 {
		return config{}, "", usagef("unexpected argument %q: all options are flags", fs.Arg(0))
	}
	if err := cfg.validate(); err != nil {
		return config{}, "", err
	}
	if tokenFile != "" {
		if cfg.token != "" {
			return config{}, "", usagef("-token and -token-file are mutually exclusive")
		}
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return config{}, "", usagef("-token-file: %v", err)
		}
		cfg.token = strings.TrimSpace(string(b))
		if cfg.token == "" {
			return config{}, "", usagef("-token-file: %s is empty", tokenFile)
		}
	}
	return cfg, "", nil
}

// envName maps a flag name to its environment variable: token-file →
// HUNGRY_TOKEN_FILE.
func envName(flagName string) string {
	return "HUNGRY_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (c config) validate() error {
	u, err := url.Parse(c.url)
	switch {
	case err != nil:
		return usagef("-url: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return usagef("-url %q: scheme must be http or https", c.url)
	case u.Host == "":
		return usagef("-url %q: no host", c.url)
	case c.rpm < 0:
		return usagef("-rpm must be 0 or more, got %d", c.rpm)
	case c.concurrency < 1:
		return usagef("-concurrency must be at least 1, got %d", c.concurrency)
	case c.duration < 0:
		return usagef("-duration must not be negative, got %s", c.duration)
	case c.n < 0:
		return usagef("-n must be 0 or more, got %d", c.n)
	case c.timeout <= 0:
		return usagef("-timeout must be positive, got %s", c.timeout)
	}
	return nil
}
