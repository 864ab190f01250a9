# quotad — see README.md. `make test` is the one test command (CI runs it).
GO ?= go
GOTESTFLAGS ?= -race -shuffle=on -count=1 -timeout 12m
# An execution count, not a duration: Go 1.26's fuzzer can fail a target
# with "context deadline exceeded" when a duration runs out while a worker
# is mid-call (golang/go#75804, fixed in Go 1.27); a count has no deadline.
FUZZTIME ?= 20000x

.PHONY: test lint fuzz services run bench bench-go loadtest script-cost help mutation screenshots

## test: start Postgres and Redis if needed, lint, run every test with -race
## (the bench module's too), then a short fuzz run
test: services lint
	$(GO) test $(GOTESTFLAGS) ./...
	cd bench && $(GO) test $(GOTESTFLAGS) ./...
	@$(MAKE) --no-print-directory fuzz

## fuzz: run each fuzz target for FUZZTIME executions (seed corpora live in testdata/fuzz)
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzIPExtractor_ClientIP$$' -fuzztime $(FUZZTIME) ./quota
	$(GO) test -run '^$$' -fuzz '^FuzzSetHeaders$$' -fuzztime $(FUZZTIME) ./quota
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeTier$$' -fuzztime $(FUZZTIME) ./api
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeTierPatch$$' -fuzztime $(FUZZTIME) ./api
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeAssignment$$' -fuzztime $(FUZZTIME) ./api

## lint: gofmt, go vet, staticcheck (the bench module too), and vacuum on
## openapi.yaml (tools/vacuum.yaml: any result down to "info" fails)
lint:
	@unformatted=$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	cd bench && $(GO) vet ./... && $(GO) tool staticcheck ./...
	cd tools && $(GO) tool vacuum lint --no-style --no-banner --details --fail-severity info \
		--ruleset vacuum.yaml ../openapi.yaml

## run: start Postgres, Redis and quotad on :8080 (development secret)
run:
	@scripts/run.sh

## services: make sure Postgres and Redis answer on loopback
services:
	@scripts/services.sh

## bench: quota against bare INCR, redis_rate, ulule/limiter and the seed; HTTP
## against bare Echo and Echo's limiter, nginx + quotad against nginx; writes docs/PERFORMANCE.md (~18 min)
bench: services
	cd bench && $(GO) run ./cmd/peerbench -out ../docs/PERFORMANCE.md

## loadtest: 3 quotad processes, users across tiers, anonymous traffic and a hog
## for 30 s; the metering leader SIGKILLed and restarted at 7.5 s, Redis restarted
## midway (LOADTEST_FLAGS=-fault none or -kill=false); checks every window, and that
## usage in Postgres equals what clients saw admitted per client and day, short only
## of what the Redis restart lost (bounded, reported); then 10 s of 20,000 new
## clients (2,000 on paid tiers): no tier fallback, < 0.1 % degraded
loadtest: services
	cd bench && $(GO) run ./cmd/loadtest $(LOADTEST_FLAGS)

## bench-go: the go test benchmarks of quota and api (compare with benchstat)
bench-go: services
	$(GO) test -run '^$$' -bench . -count 6 ./quota ./api

## script-cost: instructions redis-server runs per call of quota's Lua scripts
## (valgrind --tool=callgrind, on a private redis-server; about two minutes)
script-cost:
	scripts/script-cost.sh

# -count=1: gremlins times the coverage run to set each mutant's timeout,
# and a cached test result would make that time a second.
## mutation: mutation-test quota/ and api's auth*.go with gremlins, two workers,
## each mutant against its package's tests (quota/ alone: about half an hour
## on two CPUs); see docs/TESTING.md
mutation: services
	GOFLAGS="$$GOFLAGS -count=1" $(GO) run github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0 unleash \
		--workers 2 --timeout-coefficient 6 ./quota
	GOFLAGS="$$GOFLAGS -count=1" $(GO) run github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0 unleash \
		--workers 2 --timeout-coefficient 6 \
		--exclude-files '(^|/)([^a/]|a[^u]|au[^t]|aut[^h])[^/]*\.go$$' ./api

## screenshots: rewrite docs/img/*.png from the browser tests of the console,
## the portal and /docs (headless Chromium; see docs/TESTING.md)
screenshots: services
	$(GO) test -count=1 -run 'Test(Console|Portal|Docs)' ./internal/e2e -args -screenshots

## help: list these targets and what they do
help:
	@awk '/^## [A-Za-z0-9_.-]+:/ { i = index($$0, ":"); printf "  %-12s %s\n", substr($$0, 4, i - 4), substr($$0, i + 2); next } \
	     /^## / { printf "  %-12s %s\n", "", substr($$0, 4) }' $(firstword $(MAKEFILE_LIST))
