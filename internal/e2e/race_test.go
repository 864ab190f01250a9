//go:build race

package e2e

// raceEnabled builds quotad with the race detector when the tests run with
// it, so races in the service under real load fail the run (a raced
// process exits with status 66).
const raceEnabled = true
