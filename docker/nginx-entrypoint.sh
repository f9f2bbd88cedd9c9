#!/bin/sh
# The nginx container's entrypoint: render nginx/nginx.conf.in (the same
# template scripts/up uses, mounted at /fleetpki/nginx) for the container,
# wait for the TLS certificate the app container makes on first start, and
# run nginx in the foreground.
#
# Environment: FLEETPKI_RATE_LIMIT (on|off, default on),
# FLEETPKI_FASTCGI (default app:9000).
set -eu
src=/fleetpki/nginx
out=/etc/nginx/fleetpki
prefix=/var/cache/nginx/fleetpki
tls=/etc/fleetpki/tls

mkdir -p "$out" "$prefix/tmp" "$prefix/cache"
cp "$src/fastcgi.conf" "$src/errors.conf" "$src/ratelimit.conf" \
	"$src/ocsp.conf" "$src/crl.conf" "$out/"
if [ "${FLEETPKI_RATE_LIMIT:-on}" = off ]; then
	rl="# rate limit off (FLEETPKI_RATE_LIMIT=off)"
else
	rl="include ratelimit.conf;"
fi
sh "$src/render" "$src/nginx.conf.in" \
	"USER=user nginx;" "PREFIX=$prefix" "ERROR_LOG=/dev/stderr" \
	"ACCESS_LOG=/dev/stdout" "LISTEN_ADDR=0.0.0.0" \
	"HTTPS_PORT=8443" "HTTP_PORT=8080" \
	"TLS_CERT=$tls/server.pem" "TLS_KEY=$tls/server.key" \
	"FASTCGI=${FLEETPKI_FASTCGI:-app:9000}" "RATELIMIT=$rl" \
	"WWW=/fleetpki/www" >"$out/nginx.conf"

i=0
until [ -s "$tls/server.pem" ] && [ -s "$tls/server.key" ]; do
	i=$((i + 1))
	if [ $i -gt 120 ]; then
		echo "nginx-entrypoint: no TLS certificate in $tls after 120 s" >&2
		exit 1
	fi
	sleep 1
done
exec nginx -c "$out/nginx.conf" -g "daemon off;"
