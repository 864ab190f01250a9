package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestMakefile_HelpListsTargets: `make help` lists every phony target of
// the Makefile with the text of its "## target: …" comment, so a newcomer
// finds them without reading the Makefile.
func TestMakefile_HelpListsTargets(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("this test runs make: %v", err)
	}
	makefile := demoRepoFile(t, "Makefile")
	phony := regexp.MustCompile(`(?m)^\.PHONY:(.*)$`).FindStringSubmatch(makefile)
	if phony == nil {
		t.Fatal("the Makefile has no .PHONY line")
	}
	cmd := exec.CommandContext(t.Context(), "make", "-s", "--no-print-directory", "help")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make help: %v\n%s", err, out)
	}
	for _, target := range strings.Fields(phony[1]) {
		m := regexp.MustCompile(`(?m)^## ` + regexp.QuoteMeta(target) + `: (.*)$`).FindStringSubmatch(makefile)
		if m == nil {
			t.Errorf("target %s has no \"## %s: …\" comment", target, target)
			continue
		}
		if !regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(target) + `\s+` + regexp.QuoteMeta(m[1]) + `$`).Match(out) {
			t.Errorf("make help does not list %s with %q:\n%s", target, m[1], out)
		}
	}
}

// TestRunScript_SaysWhatItDoes: `make run` announces its build (a minute
// or two on a cold cache, which would otherwise pass in silence) and its
// banner points at the README's demo by that section's real title.
func TestRunScript_SaysWhatItDoes(t *testing.T) {
	t.Parallel()
	script := demoRepoFile(t, "scripts/run.sh")
	readme := demoRepoFile(t, "README.md")
	build := strings.Index(script, "\ngo build")
	announce := strings.Index(script, "\necho \"building")
	if build < 0 || announce < 0 || announce > build {
		t.Error("scripts/run.sh does not say it is building before go build")
	}
	m := regexp.MustCompile(`(?m)^## (A [0-9]+-second demo)$`).FindStringSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no \"## A …-second demo\" section")
	}
	if !strings.Contains(script, `"`+m[1]+`" in README.md`) {
		t.Errorf("the banner of scripts/run.sh does not point at %q in README.md", m[1])
	}
}
