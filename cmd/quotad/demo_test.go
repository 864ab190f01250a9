package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quotad/quotad/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// The README's "A 60-second demo" block lies between these markers.
const (
	demoBegin = "<!-- demo:begin -->"
	demoEnd   = "<!-- demo:end -->"
	// demoOutputPrefix starts a line of the output the demo shows.
	demoOutputPrefix = "#   "
)

// TestREADME_Demo runs the README's demo block, as a reader would paste it,
// against a fresh quotad, twice on the same database with the same user
// (a reader may well run it again), and checks that every output line it
// shows appears in each run's output, in order. The block changes only
// where a test must differ from `make run`:
//
//   - localhost:8080 becomes the test server's address, and the hungry
//     client's default URL is pointed there through HUNGRY_URL;
//   - bin/ becomes the directory the binaries were just built into;
//   - alice becomes alice-<random>: the demo's Redis keys live under quotad's
//     fixed "quota:" prefix, where a fixed name would collide with another
//     run of this test (another `go test` on the same Redis, or one less
//     than a window ago). A fresh name needs no deleting of keys that
//     someone else's run may be using; its own keys are removed at the end;
//   - the hungry client's -duration becomes -n 400 -wait=false: only the
//     duration is shortened (about a second instead of 65), the run is
//     otherwise the README's.
//
// quotad gets the README's own development secret, so the export line runs
// unchanged.
func TestREADME_Demo(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "grep"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README demo needs %s on PATH: %v", tool, err)
		}
	}
	block := readmeDemoBlock(t)
	secret := demoSecret(t, block)

	start := time.Now()
	bin := buildCommands(t, "quotad", "hungryclient")
	t.Logf("built quotad and hungryclient in %s", time.Since(start).Round(time.Millisecond))
	vars := baseVars(t)
	vars["QUOTA_JWT_SECRET"] = secret
	base, logs, _, _ := startQuotad(t, vars)
	addr := strings.TrimPrefix(base, "http://")

	subject := testenv.RandomName("alice-")
	rdb := deleteClientKeysAtEnd(t, subject)

	script := rewriteDemo(t, block, []demoRewrite{
		{`localhost:8080`, regexp.QuoteMeta(`localhost:8080`), addr},
		{`bin/`, `(^|[\s(])bin/`, "${1}" + bin + "/"},
		{`alice`, `\balice\b`, subject},
		{`hungryclient … -duration`, `(hungryclient\b.*)-duration\s+\S+`, "${1}-n 400 -wait=false"},
	})
	expected := demoExpected(script)
	if len(expected) < 10 {
		t.Fatalf("the demo shows only %d output lines; the markers or the %q prefix moved?", len(expected), demoOutputPrefix)
	}

	for run := 1; run <= 2; run++ {
		// Steps 2 to 4 count alice's requests in one 60 s window of the
		// tiny plan; start well inside one so the counts shown are the
		// counts seen.
		waitForWindowRoom(t, rdb, time.Minute, 15*time.Second)
		stdout, stderr, err := runDemo(t, script, base)
		report := func() string {
			return fmt.Sprintf("\n--- script ---\n%s\n--- stdout of run %d ---\n%s\n--- stderr ---\n%s\n--- quotad log (tail) ---\n%s",
				script, run, stdout, stderr, demoTail(logs.String(), 4000))
		}
		if err != nil {
			t.Fatalf("run %d of the demo failed: %v%s", run, err, report())
		}
		if i, line := demoMismatch(expected, stdout); i >= 0 {
			t.Fatalf("run %d of the demo: output line %d, %q, does not appear (in order) in the real output%s", run, i+1, line, report())
		}
	}
}

// runDemo runs script with bash in a clean environment whose hungry client
// targets base, and returns what it printed.
func runDemo(tb testing.TB, script, base string) (stdout, stderr string, err error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = tb.TempDir()
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + tb.TempDir(), // no ~/.curlrc
		"HUNGRY_URL=" + base + "/rate-limited",
	}
	cmd.Stdin = nil // /dev/null: nothing may wait for input
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// TestREADME_CommandsExist: every `make X` the README mentions is a target
// of the Makefile, and the two commands it is built around are there.
func TestREADME_CommandsExist(t *testing.T) {
	t.Parallel()
	readme := demoRepoFile(t, "README.md")
	makefile := demoRepoFile(t, "Makefile")

	targets := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([A-Za-z0-9_.\-]+(?:[ \t]+[A-Za-z0-9_.\-]+)*)[ \t]*:([^=]|$)`).FindAllStringSubmatch(makefile, -1) {
		for _, name := range strings.Fields(m[1]) {
			targets[name] = true
		}
	}
	mentioned := map[string]bool{"run": true, "test": true}
	for _, m := range regexp.MustCompile("(?m)(?:^|`)make ([a-z][a-z0-9_-]*)").FindAllStringSubmatch(readme, -1) {
		mentioned[m[1]] = true
	}
	for _, want := range []string{"make run", "make test"} {
		if !strings.Contains(readme, "`"+want+"`") {
			t.Errorf("README does not mention `%s`", want)
		}
	}
	for name := range mentioned {
		if !targets[name] {
			t.Errorf("README mentions `make %s`, but the Makefile has no %q target (targets: %v)", name, name, slices.Sorted(maps.Keys(targets)))
		}
	}
}

// demoRepoFile reads a file at the module root (tests run in cmd/quotad).
func demoRepoFile(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// readmeDemoBlock returns the body of the one ```sh block between the demo
// markers.
func readmeDemoBlock(tb testing.TB) string {
	tb.Helper()
	readme := demoRepoFile(tb, "README.md")
	if strings.Count(readme, demoBegin) != 1 || strings.Count(readme, demoEnd) != 1 {
		tb.Fatalf("README.md must hold exactly one %s and one %s", demoBegin, demoEnd)
	}
	_, rest, _ := strings.Cut(readme, demoBegin)
	between, _, _ := strings.Cut(rest, demoEnd)
	m := regexp.MustCompile("(?s)^\\s*```sh\\n(.*?)```\\s*$").FindStringSubmatch(between)
	if m == nil {
		tb.Fatalf("between the demo markers there must be one ```sh block and nothing else:\n%s", between)
	}
	return m[1]
}

// demoSecret is the value the block exports as QUOTA_JWT_SECRET.
func demoSecret(tb testing.TB, block string) string {
	tb.Helper()
	m := regexp.MustCompile(`(?m)^export QUOTA_JWT_SECRET=(\S+)$`).FindStringSubmatch(block)
	if m == nil {
		tb.Fatal("the demo no longer exports QUOTA_JWT_SECRET=…; update demo_test.go")
	}
	return strings.Trim(m[1], `'"`)
}

// demoRewrite replaces every match of pattern (which must match at least
// once, so the README and this test cannot drift apart silently).
type demoRewrite struct {
	what, pattern, with string
}

func rewriteDemo(tb testing.TB, block string, rewrites []demoRewrite) string {
	tb.Helper()
	for _, r := range rewrites {
		re := regexp.MustCompile("(?m)" + r.pattern)
		if !re.MatchString(block) {
			tb.Fatalf("the demo no longer contains %s; update demo_test.go", r.what)
		}
		block = re.ReplaceAllString(block, r.with)
	}
	return block
}

// demoExpected returns the output lines the block shows, without their
// prefix.
func demoExpected(block string) []string {
	var out []string
	for line := range strings.Lines(block) {
		if rest, ok := strings.CutPrefix(line, demoOutputPrefix); ok {
			out = append(out, strings.TrimRight(rest, "\n"))
		}
	}
	return out
}

// waitForWindowRoom returns once at least room is left of the current
// fixed window of length per, by Redis's clock (the one the limiter uses).
// It waits at most room.
func waitForWindowRoom(tb testing.TB, rdb *redis.Client, per, room time.Duration) {
	tb.Helper()
	t, err := rdb.Time(tb.Context()).Result()
	if err != nil {
		tb.Fatalf("redis TIME: %v", err)
	}
	left := per - time.Duration(t.UnixNano()%int64(per))
	if left < room {
		tb.Logf("waiting %s for the next %s window, so the demo's counts stay in one", left.Round(time.Millisecond), per)
		time.Sleep(left + 100*time.Millisecond)
	}
}

// deleteClientKeysAtEnd removes quotad's Redis keys of client id when the
// test ends, and returns a client of the test Redis. The limiter's keys are
// quota:{u:<id>}:<per>; they expire with their window anyway, this only
// leaves nothing behind at once.
func deleteClientKeysAtEnd(tb testing.TB, id string) *redis.Client {
	tb.Helper()
	rdb, _ := testenv.Redis(tb)
	tb.Cleanup(func() { // runs before testenv's own cleanup closes rdb
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, "quota:{u:"+id+"}*", 100).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return rdb
}

// buildCommands builds the module's cmd/<name> commands, in one go build,
// into a fresh bin directory and returns it.
func buildCommands(tb testing.TB, names ...string) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, "github.com/quotad/quotad/cmd/"+n)
	}
	ctx, cancel := context.WithTimeout(tb.Context(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return dir
}

// demoTail returns the last n bytes of s.
func demoTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
