#!/usr/bin/env bash
# The app container's entrypoint: write the configuration from the
# environment, migrate (waiting for PostgreSQL), bootstrap tenant 'default'
# and nginx's TLS certificate on first start, then run fleetpkid and
# fleetpki-worker and stop both when either exits.
#
#   fleetpki-entrypoint [all]        fleetpkid + fleetpki-worker (default)
#   fleetpki-entrypoint fleetpkid    only the server
#   fleetpki-entrypoint worker       only the worker
#   fleetpki-entrypoint fleetpki ... the CLI, with the container's config
#
# Environment (docker-compose.yml sets these):
#   FLEETPKI_DATABASE_URL   libpq URI of the database (required): the app
#                           role fleetpkid and fleetpki-worker connect as
#   FLEETPKI_OWNER_DATABASE_URL
#                           the schema owner's (migrations, the CLI); it
#                           must be able to create roles.  Empty: one role
#   FLEETPKI_APP_PASSWORD   password the entrypoint gives fleetpki_app
#                           (created if missing), with the owner's URL
#   FLEETPKI_PUBLIC_URL     https base URL clients use (https://localhost:8443)
#   FLEETPKI_HTTP_URL       plain base URL for CRLs (http://localhost:8080)
#   FLEETPKI_WORKERS        pre-forked FastCGI workers (4)
#   FLEETPKI_LISTEN         FastCGI address (0.0.0.0:9000)
#   FLEETPKI_LOG_LEVEL      error|warn|info|debug (info)
#   FLEETPKI_MASTER_KEY, FLEETPKI_PEPPER
#                           64 hex digits each; made once and kept in
#                           /var/lib/fleetpki/secrets when not given
#   FLEETPKI_BOOTSTRAP_TENANT  tenant created with a CA on first start
#                           ('default'; empty: none)
#   FLEETPKI_TLS_SAN        SAN of the TLS certificate made for nginx when
#                           /etc/fleetpki/tls holds none (DNS:localhost,IP:127.0.0.1)
set -euo pipefail
FLEETPKI_PROG=fleetpki-entrypoint
. /usr/share/fleetpki/lib.sh

state=/var/lib/fleetpki
tls=/etc/fleetpki/tls
conf=$state/fleetpki.conf
secrets=$state/secrets

: "${FLEETPKI_DATABASE_URL:?set FLEETPKI_DATABASE_URL}"

write_config() {
	umask 077
	[ -f "$secrets" ] || {
		echo "master_key = ${FLEETPKI_MASTER_KEY:-$(openssl rand -hex 32)}"
		echo "pepper = ${FLEETPKI_PEPPER:-$(openssl rand -hex 32)}"
	} >"$secrets"
	cat >"$conf" <<EOF
# Written by the container's entrypoint at each start.
database_url = $FLEETPKI_DATABASE_URL
owner_database_url = ${FLEETPKI_OWNER_DATABASE_URL:-$FLEETPKI_DATABASE_URL}
listen = ${FLEETPKI_LISTEN:-0.0.0.0:9000}
workers = ${FLEETPKI_WORKERS:-4}
public_url = ${FLEETPKI_PUBLIC_URL:-https://localhost:8443}
http_url = ${FLEETPKI_HTTP_URL:-http://localhost:8080}
sql_dir = /usr/share/fleetpki/sql
log_level = ${FLEETPKI_LOG_LEVEL:-info}
master_key = ${FLEETPKI_MASTER_KEY:-$(conf_get "$secrets" master_key)}
pepper = ${FLEETPKI_PEPPER:-$(conf_get "$secrets" pepper)}
EOF
}

cli() { fleetpki --config "$conf" "$@"; }

bootstrap() {
	local i=0 t=${FLEETPKI_BOOTSTRAP_TENANT-default}
	# PostgreSQL may still be starting; migrate is safe to repeat and to
	# run from several containers at once.
	until { [ -z "${FLEETPKI_OWNER_DATABASE_URL:-}" ] ||
		(pg_app_role "$FLEETPKI_OWNER_DATABASE_URL" "${FLEETPKI_APP_PASSWORD:-}"); } &&
		cli migrate; do
		i=$((i + 1))
		[ $i -lt 60 ] || die "cannot migrate the database"
		sleep 2
	done
	if [ -n "$t" ]; then
		cli tenant show "$t" >/dev/null 2>&1 || cli tenant create "$t"
		grep -qx default <<<"$(cli ca list --tenant "$t")" ||
			cli ca create --tenant "$t" --name default --key ec-p256
	fi
	if [ ! -s "$tls/server.pem" ]; then
		# nginx's master (root, in its own container) reads the key.
		tls_ensure "$tls" "${FLEETPKI_TLS_SAN:-DNS:localhost,IP:127.0.0.1}"
	fi
	cli servercert set --server api --slot primary --cert "$tls/server.pem"
}

write_config
export FLEETPKI_CONFIG=$conf

case ${1:-all} in
fleetpki)
	shift
	exec fleetpki --config "$conf" "$@"
	;;
fleetpkid)
	bootstrap
	exec fleetpkid --config "$conf"
	;;
worker)
	bootstrap
	exec fleetpki-worker --config "$conf"
	;;
all)
	bootstrap
	fleetpkid --config "$conf" &
	server=$!
	fleetpki-worker --config "$conf" &
	worker=$!
	trap 'kill -TERM $server $worker 2>/dev/null' TERM INT
	# Either one ending ends the container (and Docker restarts it).
	wait -n $server $worker || true
	kill -TERM $server $worker 2>/dev/null || true
	wait
	;;
*)
	die "unknown command: $1 (all, fleetpkid, worker or fleetpki ...)"
	;;
esac
