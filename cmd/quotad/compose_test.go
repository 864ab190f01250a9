package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestCompose_RunsTheDemo: the Docker path the README describes works as
// written. docker compose starts quotad with the demo's secret (so tokens
// minted either way are accepted), and the commands the README and the
// compose file give for tokens and the hungry client name binaries the
// image puts on the PATH, without a TTY where output is captured (a TTY
// would end the token with \r).
func TestCompose_RunsTheDemo(t *testing.T) {
	t.Parallel()
	compose := demoRepoFile(t, "docker-compose.yml")
	dockerfile := demoRepoFile(t, "Dockerfile")
	readme := demoRepoFile(t, "README.md")

	m := regexp.MustCompile(`QUOTA_JWT_SECRET: "\$\{QUOTA_JWT_SECRET:-([^}]+)\}"`).FindStringSubmatch(compose)
	if m == nil {
		t.Fatal(`docker-compose.yml no longer sets QUOTA_JWT_SECRET: "${QUOTA_JWT_SECRET:-…}"; update this test`)
	}
	if demo := demoSecret(t, readmeDemoBlock(t)); m[1] != demo {
		t.Errorf("docker compose's default secret %q is not the demo's %q: the demo's tokens would be refused", m[1], demo)
	}
	if !regexp.MustCompile(`(?m)^COPY --from=build /out/quotad /out/hungryclient /usr/local/bin/$`).MatchString(dockerfile) {
		t.Error("the image no longer puts quotad and hungryclient in /usr/local/bin, where docker compose exec finds them")
	}
	for name, text := range map[string]string{"README.md": readme, "docker-compose.yml": compose} {
		for _, want := range []string{
			"docker compose up -d --wait",
			"$(docker compose exec -T quotad quotad token -sub alice)",
			"docker compose exec quotad hungryclient",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("%s does not show %q", name, want)
			}
		}
		if regexp.MustCompile(`\$\(docker compose exec [^-]`).MatchString(text) {
			t.Errorf("%s captures the output of docker compose exec without -T", name)
		}
	}
}
