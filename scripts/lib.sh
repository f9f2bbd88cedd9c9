# scripts/lib.sh: shell functions shared by scripts/up, scripts/down,
# scripts/check and the Docker entrypoint.  Sourced (bash), never run.
#
# Nothing here starts anything by itself; the scripts call these in order.
# Every process a script starts runs in its own session (setsid) with its
# output in DIR/log, and is found again later by its pid file only.

FLEETPKI_TOP=${FLEETPKI_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
FLEETPKI_PROG=${FLEETPKI_PROG:-$(basename "$0")}

# Debian packages: to build, to run the stack, and for the test suite.
FLEETPKI_PKGS_BUILD=(build-essential autoconf automake libtool autoconf-archive
	pkg-config libfcgi-dev libssl-dev libpq-dev libjson-c-dev
	libcurl4-openssl-dev libcmocka-dev
	libargon2-dev)
FLEETPKI_PKGS_RUN=(postgresql nginx openssl curl python3 iproute2 procps)
FLEETPKI_PKGS_TEST=(python3-pytest wrk docker-compose clang-format
	nodejs chromium)
# The ACME client: nsupdate (acme.dns_provider rfc2136) at run time; Pebble,
# its challtestsrv and knotd (an RFC 2136 server) for its tests.
FLEETPKI_PKGS_RUN+=(bind9-dnsutils)
FLEETPKI_PKGS_TEST+=(pebble knot)
# E2E (docs/e2e.md): the back end's side of the tests and the test vectors
# (AES-CCM, AES-CBC) in tests/blackbox/test_e2e.py and scripts/e2e_vectors.py.
FLEETPKI_PKGS_TEST+=(python3-cryptography)
# ZTP (issue 11): the device certificate used with a real MQTT broker.
FLEETPKI_PKGS_TEST+=(mosquitto mosquitto-clients)
# promtool (GET /metrics' output is checked with it)
FLEETPKI_PKGS_TEST+=(prometheus)
# clang with libFuzzer: scripts/check builds tests/fuzz's harnesses and
# gives each a short fixed-seed run, so that they keep building.
FLEETPKI_PKGS_TEST+=(clang libclang-rt-14-dev)

# Configure flags of the default build: the one scripts/check tests, and the
# one scripts/up runs unless told --release.
FLEETPKI_DEV_FLAGS="--enable-sanitizers --enable-werror"

# Sanitizer settings for the servers and the CLI (not for the unit tests,
# which keep leak detection): a pre-forked worker that exits leaves its
# per-process caches behind, which LeakSanitizer would report at each exit.
FLEETPKI_ASAN_OPTIONS=${FLEETPKI_ASAN_OPTIONS:-detect_leaks=0}
FLEETPKI_UBSAN_OPTIONS=${FLEETPKI_UBSAN_OPTIONS:-print_stacktrace=1}

log() { printf '%s: %s\n' "$FLEETPKI_PROG" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$FLEETPKI_PROG" "$*" >&2
	exit 1
}

# Print the last lines of each file named, for a failure report.
show_tail() {
	local f
	for f in "$@"; do
		[ -s "$f" ] || continue
		printf -- '----- last lines of %s -----\n' "$f" >&2
		tail -n 30 "$f" >&2
	done
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# ensure_packages PKG...: install the Debian packages that are missing
# (apt-get update once, only when something is missing).
ensure_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	is_root || die "missing Debian packages (run as root to install them): ${missing[*]}"
	log "installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q </dev/null >&2 || die "apt-get update failed"
	apt-get install -y -q "${missing[@]}" </dev/null >&2 ||
		die "apt-get install ${missing[*]} failed"
}

# fleetpki_build BUILD_DIR FLAGS: generate the build system if needed,
# configure out of tree (again when FLAGS differ from the last configure,
# kept in BUILD_DIR/.fleetpki-configure-flags) and make.
fleetpki_build() {
	local bdir=$1 flags=$2 stamp
	stamp="$bdir/.fleetpki-configure-flags"
	[ -f "$FLEETPKI_TOP/config.status" ] &&
		die "$FLEETPKI_TOP is configured in-tree; run 'make distclean' there first (builds are out of tree)"
	if [ ! -x "$FLEETPKI_TOP/configure" ]; then
		log "generating the build system (autogen.sh)"
		(cd "$FLEETPKI_TOP" && ./autogen.sh) >&2 || die "autogen.sh failed"
	fi
	mkdir -p "$bdir" || die "cannot create $bdir"
	if [ ! -f "$bdir/Makefile" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$flags" ]; then
		log "configuring $bdir: ${flags:-(default flags)}"
		rm -f "$stamp"
		# shellcheck disable=SC2086 # FLAGS is a word list by design
		if ! (cd "$bdir" && "$FLEETPKI_TOP/configure" $flags) >"$bdir/configure.out" 2>&1; then
			show_tail "$bdir/configure.out"
			die "configure failed (full output: $bdir/configure.out, $bdir/config.log)"
		fi
		printf '%s\n' "$flags" >"$stamp"
	fi
	log "building in $bdir"
	make -C "$bdir" -j"$(nproc)" >&2 || die "build failed in $bdir"
	local b
	for b in fleetpkid fleetpki fleetpki-worker; do
		[ -x "$bdir/$b" ] || die "build did not produce $bdir/$b"
	done
}

# free_port: a TCP port on 127.0.0.1 nobody listens on right now.
free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# port_busy PORT: something listens on TCP PORT.
port_busy() { [ -n "$(ss -Hltn "( sport = :$1 )" 2>/dev/null)" ]; }

# pid_alive PID: the process exists and is not a zombie (services end up
# children of PID 1, which in a container may never reap them).
pid_alive() {
	local st
	[ -n "$1" ] || return 1
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st:0:1}" != Z ]
}

# pid_is PID WORD: PID's command line contains WORD (guards against a pid
# file left behind whose number now belongs to someone else).
pid_is() {
	[ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q -- "$2"
}

# read_pid FILE: the first number in FILE, or nothing.
read_pid() {
	[ -f "$1" ] && head -n 1 "$1" | tr -dc '0-9'
	return 0
}

# start_service DIR NAME CMD...: run CMD in its own session, stdin from
# /dev/null, output appended to DIR/log/NAME.log; its pid goes to
# DIR/run/NAME.spawn (the program may write its own pid file too).
start_service() {
	local dir=$1 name=$2 logf
	shift 2
	logf="$dir/log/$name.log"
	printf '===== %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >>"$logf"
	setsid "$@" </dev/null >>"$logf" 2>&1 &
	echo $! >"$dir/run/$name.spawn"
}

# stop_service WORD SIGNAL TIMEOUT PIDFILE...: signal every live process
# named in the pid files whose command line contains WORD, plus their
# children (pre-forked workers), wait up to TIMEOUT seconds for all of
# them to exit, then SIGKILL what is left.  Removes the pid files.
stop_service() {
	local word=$1 sig=$2 timeout=$3 f pid c
	shift 3
	local -a pids=() all=()
	for f in "$@"; do
		pid=$(read_pid "$f")
		[ -n "$pid" ] && pid_alive "$pid" && pid_is "$pid" "$word" || continue
		case " ${pids[*]} " in *" $pid "*) continue ;; esac
		pids+=("$pid")
	done
	if [ ${#pids[@]} -gt 0 ]; then
		all=("${pids[@]}")
		for pid in "${pids[@]}"; do
			for c in $(pgrep -P "$pid" 2>/dev/null); do all+=("$c"); done
		done
		log "stopping $word (pid ${pids[*]})"
		kill -"$sig" "${pids[@]}" 2>/dev/null
		local i=0 left
		while :; do
			left=()
			for pid in "${all[@]}"; do pid_alive "$pid" && left+=("$pid"); done
			[ ${#left[@]} -eq 0 ] && break
			if [ $i -ge $((timeout * 10)) ]; then
				log "$word did not exit within ${timeout}s: SIGKILL ${left[*]}"
				kill -KILL "${left[@]}" 2>/dev/null
				sleep 0.2
				break
			fi
			sleep 0.1
			i=$((i + 1))
		done
	fi
	rm -f "$@"
}

# ---------------------------------------------------------------------------
# PostgreSQL: a private cluster owned by the 'postgres' OS user when run as
# root (PostgreSQL refuses to run as root), by the caller otherwise.

pg_bindir() {
	local d
	for d in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
		[ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
	done
	die "PostgreSQL server binaries not found under /usr/lib/postgresql"
}

pg_user() { if is_root; then echo postgres; else id -un; fi; }

# as_pg CMD...: run CMD as the cluster's owner.
as_pg() {
	if is_root; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# pg_datadir DIR: where DIR's cluster lives.  Normally DIR/pg; when the
# postgres user cannot reach DIR (a parent such as /root is mode 0700),
# under /var/lib/fleetpki instead, recorded in DIR/pg.location.
pg_datadir() {
	local dir=$1 alt
	if [ -f "$dir/pg.location" ]; then
		cat "$dir/pg.location"
		return 0
	fi
	if [ -d "$dir/pg" ] || ! is_root; then
		echo "$dir/pg"
		return 0
	fi
	if runuser -u postgres -- test -x "$dir" 2>/dev/null; then
		echo "$dir/pg"
		return 0
	fi
	alt="/var/lib/fleetpki/clusters/$(printf '%s' "$dir" | sha256sum | cut -c1-16)/pg"
	mkdir -p "$(dirname "$alt")" && chmod 0755 /var/lib/fleetpki /var/lib/fleetpki/clusters &&
		chown postgres: "$(dirname "$alt")" || die "cannot create $(dirname "$alt")"
	echo "$alt" >"$dir/pg.location"
	log "the postgres user cannot reach $dir; the cluster lives in $alt (see $dir/pg.location)"
	echo "$alt"
}

# pg_init DATADIR: create the cluster unless it exists.
pg_init() {
	local pgdata=$1 bin
	bin=$(pg_bindir)
	[ -f "$pgdata/PG_VERSION" ] && return 0
	log "creating a PostgreSQL cluster in $pgdata"
	mkdir -p "$pgdata" || die "cannot create $pgdata"
	is_root && chown "$(pg_user):" "$pgdata"
	chmod 0700 "$pgdata"
	# Trust on loopback: a private development cluster that listens on
	# 127.0.0.1 only (README: use a password or peer auth elsewhere).
	as_pg "$bin/initdb" -D "$pgdata" -U postgres -A trust -E UTF8 \
		--locale=C.UTF-8 >"$pgdata.initdb.log" 2>&1 || {
		show_tail "$pgdata.initdb.log"
		die "initdb failed"
	}
	as_pg sh -c "echo \"include_if_exists = 'fleetpki.conf'\" >>'$pgdata/postgresql.conf'"
}

# pg_start DATADIR PORT LOGFILE: write the settings scripts/up owns into
# DATADIR/fleetpki.conf and start the cluster (waits until it accepts).
pg_start() {
	local pgdata=$1 port=$2 logf=$3 bin sockdir
	bin=$(pg_bindir)
	# The socket lives in the data directory unless its path is too long
	# for sun_path; TCP on 127.0.0.1 is what fleetpki uses either way.
	sockdir=$pgdata
	[ $((${#pgdata} + 16)) -lt 100 ] || sockdir=
	as_pg sh -c "cat >'$pgdata/fleetpki.conf'" <<EOF
# Written by scripts/up on every start: the private cluster's address.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sockdir'
EOF
	touch "$logf"
	is_root && chown "$(pg_user):" "$logf"
	as_pg "$bin/pg_ctl" -D "$pgdata" -l "$logf" -w -t 60 start </dev/null >/dev/null 2>&1 || {
		show_tail "$logf"
		die "PostgreSQL did not start (log: $logf)"
	}
}

# pg_app_role URL [PASSWORD]: make sure the role fleetpki_app exists and
# may log in (with PASSWORD when given), connected as URL, a role that may
# create roles.  fleetpkid and fleetpki-worker connect as it: it owns
# nothing and bypasses no row-level security (sql/005 refuses a role that
# does, and grants it its privileges).
pg_app_role() {
	local url=$1 pw=${2:-}
	psql -X -q -v ON_ERROR_STOP=1 -v pw="$pw" "$url" >/dev/null <<'SQL' ||
SELECT 'CREATE ROLE fleetpki_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fleetpki_app') \gexec
ALTER ROLE fleetpki_app LOGIN NOSUPERUSER NOBYPASSRLS;
SELECT CASE WHEN :'pw' = '' THEN 'ALTER ROLE fleetpki_app PASSWORD NULL'
       ELSE format('ALTER ROLE fleetpki_app PASSWORD %L', :'pw') END \gexec
SQL
		die "cannot create the database role fleetpki_app"
}

# pg_report_role URL: make sure the group role fleetpki_report exists
# (NOLOGIN), connected as URL, a role that may create roles.  sql/022
# grants it SELECT on the views of the schema report, nothing else;
# logins for it: CREATE ROLE alice LOGIN PASSWORD '...' IN ROLE
# fleetpki_report (README, "Reports").
pg_report_role() {
	local url=$1
	psql -X -q -v ON_ERROR_STOP=1 "$url" >/dev/null <<'SQL' ||
SELECT 'CREATE ROLE fleetpki_report NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fleetpki_report') \gexec
SQL
		die "cannot create the database role fleetpki_report"
}

# pg_stop DATADIR: stop the cluster if it runs (fast shutdown, waits).
pg_stop() {
	local pgdata=$1 bin
	[ -f "$pgdata/postmaster.pid" ] || return 0
	bin=$(pg_bindir)
	if as_pg "$bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
		log "stopping PostgreSQL ($pgdata)"
		as_pg "$bin/pg_ctl" -D "$pgdata" -m fast -w -t 60 stop </dev/null >/dev/null 2>&1 ||
			log "pg_ctl stop failed for $pgdata"
	fi
}

# ---------------------------------------------------------------------------
# TLS for nginx: a local CA (kept) and a server certificate it issues.

# tls_ensure TLSDIR SAN: TLSDIR/ca.pem + ca.key (made once) and
# TLSDIR/server.pem + server.key for SAN (e.g. "DNS:localhost,IP:127.0.0.1"),
# re-issued when missing, expiring within 30 days, or for another SAN.
tls_ensure() {
	local tls=$1 san=$2 tmp
	mkdir -p "$tls" && chmod 0755 "$tls"
	if [ ! -s "$tls/ca.pem" ] || [ ! -s "$tls/ca.key" ]; then
		log "creating the local TLS CA in $tls"
		rm -f "$tls/server.pem"
		(umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
			-out "$tls/ca.key") 2>/dev/null || die "openssl genpkey (CA) failed"
		openssl req -new -x509 -key "$tls/ca.key" -sha256 -days 3650 \
			-subj "/O=fleetpki/CN=fleetpki local TLS CA $(hostname -s 2>/dev/null)" \
			-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" \
			-out "$tls/ca.pem" 2>/dev/null || die "openssl req (CA) failed"
	fi
	if [ -s "$tls/server.pem" ] && [ -s "$tls/server.key" ] &&
		[ "$(cat "$tls/server.san" 2>/dev/null)" = "$san" ] &&
		openssl x509 -in "$tls/server.pem" -noout -checkend 2592000 >/dev/null 2>&1 &&
		openssl verify -CAfile "$tls/ca.pem" "$tls/server.pem" >/dev/null 2>&1; then
		return 0
	fi
	log "issuing the nginx server certificate ($san)"
	tmp=$(mktemp -d) || die "mktemp failed"
	(umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$tls/server.key") 2>/dev/null || die "openssl genpkey (server) failed"
	openssl req -new -key "$tls/server.key" -subj "/O=fleetpki/CN=localhost" \
		-out "$tmp/server.csr" 2>/dev/null || die "openssl req (server) failed"
	cat >"$tmp/ext.cnf" <<EOF
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
	openssl x509 -req -in "$tmp/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
		-set_serial "0x$(openssl rand -hex 16)" -days 397 -sha256 \
		-extfile "$tmp/ext.cnf" -out "$tls/server.pem" 2>/dev/null ||
		die "openssl x509 (server) failed"
	printf '%s\n' "$san" >"$tls/server.san"
	rm -rf "$tmp"
}

# conf_get FILE KEY: the value of 'KEY = value' in a fleetpki config file.
conf_get() {
	[ -f "$1" ] || return 0
	sed -n "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*\\(.*[^[:space:]]\\)[[:space:]]*\$/\\1/p" "$1" | tail -n 1
}

# hex_secret FILE KEY [GIVEN]: GIVEN if set (64 hex digits, else fatal),
# else the 64-hex-digit secret KEY from FILE if it has a valid one, else a
# new one (32 bytes from the CSPRNG).
hex_secret() {
	local v
	if [ -n "${3:-}" ]; then
		[[ "$3" =~ ^[0-9a-fA-F]{64}$ ]] || die "$2 must be 64 hex digits"
		echo "$3"
		return 0
	fi
	v=$(conf_get "$1" "$2")
	if [[ "$v" =~ ^[0-9a-fA-F]{64}$ ]]; then
		echo "$v"
	else
		openssl rand -hex 32
	fi
}
