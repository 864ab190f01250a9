package benchenv

import (
	"os"
)

// DefaultPostgresURL is the -postgres default of both programs: the
// server `make services` starts, reached through its maintenance database,
// since the run's own database does not exist yet.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// TestServers returns the -postgres (and, withRedis, -redis) flags that
// point a smoke test at the servers the project's tests use:
// QUOTA_TEST_DATABASE_URL and QUOTA_TEST_REDIS_URL when set, none
// otherwise, so the programs' loopback defaults apply.
func TestServers(withRedis bool) []string {
	var flags []string
	if u := os.Getenv("QUOTA_TEST_DATABASE_URL"); u != "" {
		flags = append(flags, "-postgres", u)
	}
	if u := os.Getenv("QUOTA_TEST_REDIS_URL"); withRedis && u != "" {
		flags = append(flags, "-redis", u)
	}
	return flags
}
