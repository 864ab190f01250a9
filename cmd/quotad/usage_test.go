package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/quotad/quotad/internal/testenv"
)

// TestRun_CommandLine: every subcommand rejects unknown flags and stray
// arguments with its usage on stderr and exit status 2, -h prints the usage
// on stdout and exits 0 without doing anything else, and the usage points
// at the environment variables the command reads. The environment is empty
// unless a case says otherwise, so a command that ran instead of parsing
// its command line would fail with exit status 1 (no QUOTA_JWT_SECRET).
func TestRun_CommandLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		// out must appear on stdout for status 0 and on stderr otherwise;
		// the other stream stays empty except for a status-1 error.
		out []string
	}{
		{"top-level -h", []string{"-h"}, nil, 0, []string{"usage: quotad [serve", "QUOTA_JWT_SECRET", "README.md"}},
		{"top-level --help", []string{"--help"}, nil, 0, []string{"usage: quotad [serve"}},
		{"help", []string{"help"}, nil, 0, []string{"usage: quotad [serve"}},
		{"unknown command", []string{"frobnicate"}, nil, 2, []string{`unknown command "frobnicate"`, "usage: quotad [serve"}},
		{"unknown top-level flag", []string{"--bogus"}, nil, 2, []string{`unknown command "--bogus"`}},

		{"serve --help does not serve", []string{"serve", "--help"}, nil, 0, []string{"usage: quotad serve", "QUOTA_ADDR", "DATABASE_URL"}},
		{"serve -h", []string{"serve", "-h"}, nil, 0, []string{"usage: quotad serve"}},
		{"serve unknown flag", []string{"serve", "-port", "80"}, nil, 2, []string{"-port", "usage: quotad serve"}},
		{"serve stray argument", []string{"serve", "now"}, nil, 2, []string{`unexpected argument "now"`, "usage: quotad serve"}},

		{"migrate --bogus does not migrate", []string{"migrate", "--bogus"}, nil, 2, []string{"-bogus", "usage: quotad migrate"}},
		{"migrate -h", []string{"migrate", "-h"}, nil, 0, []string{"usage: quotad migrate", "DATABASE_URL"}},
		{"migrate stray argument", []string{"migrate", "up"}, nil, 2, []string{`unexpected argument "up"`}},
		{"migrate bad DATABASE_URL", []string{"migrate"}, map[string]string{"DATABASE_URL": "mysql://x"}, 1, []string{"DATABASE_URL"}},

		{"token -h", []string{"token", "-h"}, nil, 0, []string{"usage: quotad token -sub ID", "QUOTA_JWT_SECRET", "-ttl"}},
		{"token stray argument", []string{"token", "-sub", "alice", "extra"}, map[string]string{"QUOTA_JWT_SECRET": testSecret}, 2, []string{`unexpected argument "extra"`}},
		{"token unknown flag", []string{"token", "-sub", "alice", "-scope", "x"}, map[string]string{"QUOTA_JWT_SECRET": testSecret}, 2, []string{"-scope", "usage: quotad token"}},
		{"token bad ttl", []string{"token", "-sub", "alice", "-ttl", "soon"}, map[string]string{"QUOTA_JWT_SECRET": testSecret}, 2, []string{"-ttl", "usage: quotad token"}},
		{"token without -sub", []string{"token"}, map[string]string{"QUOTA_JWT_SECRET": testSecret}, 2, []string{"-sub is required", "usage: quotad token"}},
		{"token without secret", []string{"token", "-sub", "alice"}, nil, 1, []string{"QUOTA_JWT_SECRET"}},

		{"healthcheck -h", []string{"healthcheck", "-h"}, nil, 0, []string{"usage: quotad healthcheck", "QUOTA_ADDR"}},
		{"healthcheck stray argument", []string{"healthcheck", "localhost"}, nil, 2, []string{`unexpected argument "localhost"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"quotad"}, tt.args...), env(tt.env), &stdout, &stderr)
			code := exitCode(err, &stderr)
			if code != tt.code {
				t.Fatalf("quotad %s: exit status %d (err %v), want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(tt.args, " "), code, err, tt.code, &stdout, &stderr)
			}
			shown, silent := stderr.String(), stdout.String()
			if code == 0 {
				shown, silent = silent, shown
			}
			for _, want := range tt.out {
				if !strings.Contains(shown, want) {
					t.Errorf("quotad %s: output lacks %q:\n%s", strings.Join(tt.args, " "), want, shown)
				}
			}
			if silent != "" {
				t.Errorf("quotad %s: exit %d, yet the other stream holds:\n%s", strings.Join(tt.args, " "), code, silent)
			}
		})
	}
}

// TestRun_MigrateNeedsOnlyDatabaseURL: migrate reads no secret, Redis URL
// or other setting, so it runs with DATABASE_URL alone.
func TestRun_MigrateNeedsOnlyDatabaseURL(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"DATABASE_URL": testenv.Database(t)}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"quotad", "migrate"}, env(vars), &stdout, &stderr); err != nil {
		t.Fatalf("migrate with only DATABASE_URL: %v\n%s", err, &stderr)
	}
	if !strings.Contains(stdout.String(), "up to date") {
		t.Errorf("migrate printed %q", &stdout)
	}
}
