#!/usr/bin/env bash
# `make run`: Postgres and Redis (started or installed if needed), the
# quota database, then quotad on :8080 with a development secret. Prints
# tokens and curl lines to try; Ctrl-C stops quotad cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

export QUOTA_JWT_SECRET=${QUOTA_JWT_SECRET:-quotad-development-secret-not-for-production}
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/quota?sslmode=disable}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export QUOTA_ADDR=${QUOTA_ADDR:-:8080}
export QUOTA_LOG_FORMAT=${QUOTA_LOG_FORMAT:-text}
# Every request gets a line here, to watch the demo; production defaults to errors only.
export QUOTA_ACCESS_LOG=${QUOTA_ACCESS_LOG:-all}

db=$(sed -E 's#^[^/]*//[^/]*/([^?]*).*#\1#' <<<"$DATABASE_URL")
QUOTA_TEST_TOOLS=0 QUOTA_TEST_DATABASE_URL=$DATABASE_URL QUOTA_TEST_REDIS_URL=$REDIS_URL scripts/services.sh createdb "$db"

mkdir -p bin
echo "building bin/quotad and bin/hungryclient (the first build fetches and compiles the dependencies: a minute or two)"
go build -o bin/ ./cmd/quotad ./cmd/hungryclient

port=${QUOTA_ADDR##*:}
base="http://localhost:${port}"
user=$(bin/quotad token -sub alice -ttl 24h)
admin=$(bin/quotad token -sub admin -admin -ttl 24h)
cat <<MSG

quotad is starting on ${base}  (Ctrl-C stops it)

In another terminal:
  export QUOTA_JWT_SECRET='${QUOTA_JWT_SECRET}'
  TOKEN=${user}
  ADMIN=${admin}
  curl -i -H "Authorization: Bearer \$TOKEN" ${base}/rate-limited
  curl -s -H "Authorization: Bearer \$TOKEN" ${base}/v1/quota
  curl -s ${base}/v1/tiers
  bin/hungryclient -token "\$TOKEN" -duration 35s

In a browser: ${base}/console/ (sign in with the ADMIN token above),
${base}/portal/ (with TOKEN) and ${base}/docs (the API reference).

Mint more tokens with: bin/quotad token -sub <id> [-admin] [-ttl 1h]
Then try "A 60-second demo" in README.md: it runs against this quotad.

MSG
exec bin/quotad serve
