package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/quotad/quotad/internal/testenv"
)

// quotadBin is the quotad binary TestMain builds.
var quotadBin string

// The private Postgres cluster the tests that never stop Postgres share,
// each in a database of its own; started on first use.
var (
	sharedPGOnce sync.Once
	sharedPG     *testenv.PGServer
	sharedPGErr  error
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "quotad-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	quotadBin = filepath.Join(dir, "quotad")
	args := []string{"build", "-o", quotadBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	// go test puts its own go first on PATH.
	build := exec.Command("go", append(args, "github.com/quotad/quotad/cmd/quotad")...)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/quotad: %v\n%s", err, out)
		return 1
	}
	code := m.Run()
	if sharedPG != nil {
		if err := sharedPG.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: shared postgres:", err)
		}
	}
	return code
}

// database returns a new empty database on the shared private cluster,
// dropped when the test ends.
func database(tb testing.TB) string {
	tb.Helper()
	sharedPGOnce.Do(func() { sharedPG, sharedPGErr = testenv.NewPostgres() })
	if sharedPGErr != nil {
		tb.Fatal(sharedPGErr)
	}
	return sharedPG.Database(tb)
}
