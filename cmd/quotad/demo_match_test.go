package main

import (
	"regexp"
	"strings"
	"testing"
)

// The matcher the demo test relies on: in order, whole lines, … and blank
// runs as documented.
func TestREADME_DemoOutputMatching(t *testing.T) {
	t.Parallel()
	out := "HTTP/1.1 200 OK\r\nRatelimit: \"free\";r=299;t=11\r\n\nsent      400  in 35ms\nerrors      0\n"
	tests := []struct {
		name     string
		expected []string
		want     int
	}{
		{"all, in order", []string{"HTTP/1.1 200 OK", `Ratelimit: "free";r=299;t=…`, "sent …  in …", "errors 0"}, -1},
		{"blank runs compare equal", []string{"sent 400 in 35ms", "errors\t\t0"}, -1},
		{"a skipped line is fine", []string{"HTTP/1.1 200 OK", "errors 0"}, -1},
		{"a wrong value", []string{`Ratelimit: "free";r=298;t=…`}, 0},
		{"out of order", []string{"errors 0", "HTTP/1.1 200 OK"}, 1},
		{"a line matches whole", []string{"HTTP/1.1 200"}, 0},
		{"each output line once", []string{"errors 0", "errors 0"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, line := demoMismatch(tt.expected, out); got != tt.want {
				t.Errorf("demoMismatch = %d (%q), want %d", got, line, tt.want)
			}
		})
	}
}

// demoMismatch checks that each expected line matches a whole line of out,
// each one after the line the previous one matched. "…" matches any run of
// characters, and runs of blanks compare equal whatever their length (so a
// column the README shows aligned may be wider or narrower in a real run);
// line ends (curl's \r\n) and surrounding blanks are ignored. It returns
// the index and text of the first expected line not found, or -1.
func demoMismatch(expected []string, out string) (int, string) {
	var lines []string
	for l := range strings.Lines(out) {
		lines = append(lines, demoSqueeze(l))
	}
	at := 0
	for i, want := range expected {
		parts := strings.Split(demoSqueeze(want), "…")
		for j, p := range parts {
			parts[j] = regexp.QuoteMeta(p)
		}
		re := regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
		found := false
		for at < len(lines) {
			at++
			if re.MatchString(lines[at-1]) {
				found = true
				break
			}
		}
		if !found {
			return i, want
		}
	}
	return -1, ""
}

var demoBlanks = regexp.MustCompile(`[ \t\r]+`)

func demoSqueeze(s string) string {
	return strings.TrimSpace(demoBlanks.ReplaceAllString(s, " "))
}
