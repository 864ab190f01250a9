#!/usr/bin/env bash
# Makes sure the Postgres and Redis that quotad and its tests need answer on
# loopback: uses running servers when they answer, starts installed ones
# otherwise, and installs them with apt-get (Debian/Ubuntu) as a last resort.
# Also makes sure the nginx and caddy binaries the gateway tests run, and the
# Chromium the browser tests drive, exist, installing them the same way;
# those are never started here: each test runs its own processes (the
# gateways with the shipped configs) on ports of its own.
#
#   scripts/services.sh            ensure both are up, and the test tools
#   scripts/services.sh createdb NAME   also create database NAME if missing
#
# QUOTA_TEST_TOOLS=0 leaves nginx, caddy and chromium alone: `make run`
# needs only the two servers.
#
# Addresses come from QUOTA_TEST_DATABASE_URL / QUOTA_TEST_REDIS_URL, else
# DATABASE_URL / REDIS_URL, else the loopback defaults. Servers on other
# hosts are only checked, never started. QUOTA_SKIP_SERVICES=1 skips it all.
set -euo pipefail

PG_URL=${QUOTA_TEST_DATABASE_URL:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}}
REDIS_URL_=${QUOTA_TEST_REDIS_URL:-${REDIS_URL:-redis://127.0.0.1:6379/0}}

say() { printf 'services: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 && SUDO="sudo"
fi
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }

# host_port URL DEFAULT_PORT → "host port" (IPv6 literals without brackets).
host_port() {
	local rest=${1#*://}
	rest=${rest#*@}
	rest=${rest%%/*}
	rest=${rest%%\?*}
	local host port
	if [[ $rest == \[* ]]; then
		host=${rest#[}; host=${host%%]*}
		port=${rest##*]}; port=${port#:}
	elif [[ $rest == *:* ]]; then
		host=${rest%%:*}; port=${rest##*:}
	else
		host=$rest; port=""
	fi
	echo "${host:-127.0.0.1} ${port:-$2}"
}

is_local() { case "$1" in localhost|127.*|::1) return 0 ;; *) return 1 ;; esac; }

tcp_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

redis_up() {
	timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2 && printf 'PING\r\n' >&3 && IFS= read -r line <&3 && [[ \$line == +PONG* ]]" 2>/dev/null
}

apt_install() {
	command -v apt-get >/dev/null 2>&1 || die "cannot install $* without apt-get: install it yourself and start it"
	[ -n "$SUDO" ] || [ "$(id -u)" -eq 0 ] || die "need root or sudo to install $*"
	say "installing $* with apt-get"
	$SUDO apt-get update -qq
	# Packaged services must not be started by the package scripts here:
	# there may be no init system; this script starts them itself.
	$SUDO env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq "$@" >/dev/null
}

wait_for() { # description, command…
	local what=$1; shift
	for _ in $(seq 1 100); do
		"$@" && return 0
		sleep 0.1
	done
	die "$what did not come up within 10 s"
}

ensure_redis() {
	read -r host port < <(host_port "$REDIS_URL_" 6379)
	if redis_up "$host" "$port"; then return 0; fi
	is_local "$host" || die "Redis at $host:$port does not answer (REDIS_URL / QUOTA_TEST_REDIS_URL)"
	command -v redis-server >/dev/null 2>&1 || apt_install redis-server
	say "starting redis-server on 127.0.0.1:$port"
	local dir=${TMPDIR:-/tmp}/quotad-redis
	mkdir -p "$dir"
	redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$port" --save "" --appendonly no \
		--dir "$dir" --logfile "$dir/redis.log" >/dev/null
	wait_for "Redis on port $port" redis_up 127.0.0.1 "$port"
}

# maintenance_url: PG_URL pointed at the always-present postgres database, so
# logins can be checked before the target database exists.
maintenance_url() { sed -E 's#^(postgres(ql)?://[^/]*)(/[^?]*)?#\1/postgres#' <<<"$PG_URL"; }

pg_login() { command -v psql >/dev/null 2>&1 || return 0; psql "$(maintenance_url)" -Atqc 'select 1' >/dev/null 2>&1; }

ensure_postgres() {
	read -r host port < <(host_port "$PG_URL" 5432)
	if tcp_open "$host" "$port" && pg_login; then return 0; fi
	is_local "$host" || die "Postgres at $host:$port does not answer (DATABASE_URL / QUOTA_TEST_DATABASE_URL)"
	if ! tcp_open "$host" "$port"; then
		command -v pg_ctlcluster >/dev/null 2>&1 && [ -n "$(ls /etc/postgresql 2>/dev/null)" ] || apt_install postgresql
		local ver
		ver=$(ls /etc/postgresql | sort -V | tail -n 1)
		[ -n "$ver" ] || { ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1); $SUDO pg_createcluster "$ver" main >/dev/null; }
		say "starting PostgreSQL $ver cluster main"
		$SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start
		wait_for "Postgres on port $port" tcp_open 127.0.0.1 "$port"
	fi
	if ! pg_login; then
		# A fresh Debian cluster asks loopback clients for a password; the
		# development URL has none. Trust the postgres user on loopback only.
		local hba
		hba=$(as_postgres psql -Atqc 'show hba_file' 2>/dev/null) || die "cannot log in to Postgres with $PG_URL, nor as the postgres OS user to fix it"
		say "allowing passwordless loopback logins for user postgres in $hba"
		$SUDO sed -i '1i host all postgres 127.0.0.1/32 trust # quotad development\nhost all postgres ::1/128 trust # quotad development' "$hba"
		as_postgres psql -Atqc 'select pg_reload_conf()' >/dev/null
		wait_for "Postgres login with $PG_URL" pg_login
	fi
}

# ensure_gateways installs nginx and caddy when their binaries are missing.
# Debian puts nginx in /usr/sbin, which is not on every user's PATH.
ensure_gateways() {
	local missing=()
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
	command -v caddy >/dev/null 2>&1 || missing+=(caddy)
	[ ${#missing[@]} -eq 0 ] && return 0
	apt_install "${missing[@]}"
	# A package whose scripts started its service anyway (an init system that
	# ignores RUNLEVEL) would hold port 80 for nothing: stop it.
	local svc
	for svc in "${missing[@]}"; do
		if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
			say "stopping the $svc system service the package started"
			$SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
		fi
	done
}

# ensure_chromium installs Debian's chromium when no browser the browser
# tests look for is installed (QUOTA_CHROMIUM names another).
ensure_chromium() {
	[ -n "${QUOTA_CHROMIUM:-}" ] && [ -x "$QUOTA_CHROMIUM" ] && return 0
	[ -x /usr/bin/chromium ] && return 0
	command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ||
		command -v google-chrome >/dev/null 2>&1 || apt_install chromium
}

createdb() {
	local name=$1 base
	[[ $name =~ ^[a-z_][a-z0-9_]*$ ]] || die "bad database name $name"
	command -v psql >/dev/null 2>&1 || die "psql is needed to create database $name"
	base=$(maintenance_url)
	if [ "$(psql "$base" -Atqc "select 1 from pg_database where datname = '$name'")" != 1 ]; then
		say "creating database $name"
		psql "$base" -qc "create database $name" >/dev/null
	fi
}

[ "${QUOTA_SKIP_SERVICES:-}" = 1 ] && exit 0
ensure_redis
ensure_postgres
if [ "${QUOTA_TEST_TOOLS:-1}" != 0 ]; then
	ensure_gateways
	ensure_chromium
fi
if [ "${1:-}" = createdb ]; then createdb "${2:?database name}"; fi
if [ "${QUOTA_TEST_TOOLS:-1}" != 0 ]; then
	say "Postgres and Redis are up; nginx, caddy and chromium are installed"
else
	say "Postgres and Redis are up"
fi
