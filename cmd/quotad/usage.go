package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// errUsage is returned for a command line quotad cannot make sense of. The
// problem and the usage are printed before it is returned, so main only
// exits 2, as flag-based commands do.
var errUsage = errors.New("usage error")

// usageText is what "quotad -h" prints. The settings are environment
// variables, not flags, so the usage says where to find them.
const usageText = `usage: quotad [serve | migrate | token -sub ID [-admin] [-ttl 1h] | healthcheck]

  serve        serve the API (the default); applies pending migrations first
  migrate      apply pending database migrations and exit
  token        mint a development token signed with QUOTA_JWT_SECRET
  healthcheck  exit 0 if the quotad at QUOTA_ADDR answers /healthz

Settings are environment variables, not flags: QUOTA_ADDR, DATABASE_URL,
REDIS_URL, QUOTA_JWT_SECRET and the others listed in README.md
("Configuration"). "quotad COMMAND -h" tells what a command reads.
`

// command describes one subcommand for its usage message.
type command struct {
	name  string
	args  string // after the name, e.g. "-sub ID [-admin] [-ttl 1h]"
	about string // what it does and the environment variables it reads
}

var (
	serveCommand = command{"serve", "", `Serves the API on QUOTA_ADDR until SIGINT or SIGTERM, after applying
pending migrations. Reads every setting of README.md ("Configuration"):
QUOTA_ADDR, DATABASE_URL, REDIS_URL, QUOTA_JWT_SECRET, …`}
	migrateCommand = command{"migrate", "", `Applies pending migrations to the database at DATABASE_URL (the only
setting it reads) and exits.`}
	tokenCommand = command{"token", "-sub ID [-admin] [-ttl 1h]", `Prints a development HS256 token signed with QUOTA_JWT_SECRET (with
QUOTA_JWT_ISSUER and QUOTA_JWT_AUDIENCE as iss and aud when set).`}
	healthcheckCommand = command{"healthcheck", "", `Exits 0 if the quotad listening on QUOTA_ADDR answers GET /healthz with
200, for container health checks in images without curl.`}
)

// parseFlags parses a subcommand's arguments, which are flags only. On -h
// it prints the usage to stdout and returns flag.ErrHelp; on an unknown
// flag, a bad value or a stray argument it prints the problem and the
// usage to stderr and returns errUsage.
func parseFlags(cmd command, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.SetOutput(stderr) // where flag reports a bad flag
	fs.Usage = func() {} // printed below, to the stream that fits
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(cmd, fs, stdout)
		return flag.ErrHelp
	case err != nil:
		printUsage(cmd, fs, stderr)
		return errUsage
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "unexpected argument %q\n", fs.Arg(0))
		printUsage(cmd, fs, stderr)
		return errUsage
	}
	return nil
}

// usageProblem prints a problem with the command line and the usage to
// stderr, and returns errUsage.
func usageProblem(cmd command, fs *flag.FlagSet, stderr io.Writer, problem string) error {
	fmt.Fprintln(stderr, problem)
	printUsage(cmd, fs, stderr)
	return errUsage
}

func printUsage(cmd command, fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintln(w, strings.TrimSpace("usage: quotad "+cmd.name+" "+cmd.args))
	fmt.Fprintf(w, "\n%s\n", cmd.about)
	var flags strings.Builder
	fs.SetOutput(&flags)
	fs.PrintDefaults()
	if flags.Len() > 0 {
		fmt.Fprintf(w, "\n%s", flags.String())
	}
}

// exitCode is the process's exit status for run's error: 0 for success
// and for -h, 2 for a command line quotad cannot make sense of (already
// explained), 1 for anything else, which it prints to stderr.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintln(stderr, "quotad:", err)
	return 1
}
