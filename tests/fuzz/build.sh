#!/bin/sh
# Build the libFuzzer harnesses with clang (libFuzzer + ASan + UBSan),
# straight from the sources: no configure run needed.  Not run in CI.
#
#   tests/fuzz/build.sh [outdir]            (default: build/fuzz)
#
# Then run one, e.g. for ten minutes on 4 cores, keeping what it finds:
#
#   cd build/fuzz
#   ./fuzz_json -max_len=65536 -timeout=10 -max_total_time=600 -jobs=4 \
#       corpus_json seeds_json
#   ./fuzz_jwt  -max_len=8192  -timeout=10 -max_total_time=600 corpus_jwt seeds_jwt
#   ./fuzz_csr  -max_len=16384 -timeout=10 -max_total_time=600 corpus_csr seeds_csr
#   ./fuzz_device -max_len=65536 -timeout=10 -max_total_time=600 corpus_device seeds_device
#   ./fuzz_e2e  -max_len=4096  -timeout=10 -max_total_time=600 corpus_e2e seeds_e2e
#
# The first directory collects the growing corpus; seeds_* are small
# hand-made starting points written by this script.  A crash leaves
# crash-<sha1> behind: reproduce with ./fuzz_x crash-<sha1>.
#
# Needs: clang (Debian's clang package ships libFuzzer), and the
# libssl-dev and libjson-c-dev headers.  fuzz_csr also needs src/pki.
set -eu

cd "$(dirname "$0")/../.."
OUT=${1:-build/fuzz}
CC=${CC:-clang}
mkdir -p "$OUT"

# The sources include the autoconf config.h; all they need from it is
# the GNU extensions AC_USE_SYSTEM_EXTENSIONS turns on (vasprintf).
printf '#define _GNU_SOURCE 1\n' >"$OUT/config.h"

CFLAGS="-g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I$OUT -Iinclude $(pkg-config --cflags libcrypto json-c)"
LIBS="$(pkg-config --libs libcrypto json-c)"
COMMON="src/common/util.c src/common/log.c src/common/buf.c \
	src/common/error.c src/common/json.c src/common/b64.c \
	src/common/arena.c"

# Seeds.  JSON: a request-shaped body and the edge cases it must handle.
mkdir -p "$OUT/seeds_json" "$OUT/seeds_jwt" "$OUT/seeds_csr"
printf '{"csr":"-----BEGIN CERTIFICATE REQUEST-----\\n","ttl":3600,"renew":true,"sans":["a.example","b.example"],"meta":{"k":[1,2.5,null]}}' \
	>"$OUT/seeds_json/body"
printf '{"a":1,"\\u0061":2}' >"$OUT/seeds_json/dupkey"
printf '["\\ud83d\\ude00","\\u00e9",-0,1e-5,9223372036854775807]' \
	>"$OUT/seeds_json/values"
printf 'Zm9vYmFy' >"$OUT/seeds_json/b64"
# JWT: header NUL claims (the harness signs it) and a plain token.
printf '{"alg":"ES256","typ":"JWT","kid":"k1"}\0{"iss":"fleetpki","aud":"fleetpki","sub":"dev","tenant":"acme","iat":1700000000,"nbf":1700000000,"exp":1700000300,"jti":"00ff"}' \
	>"$OUT/seeds_jwt/signed"
printf 'eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJ0ZW5hbnQiOiJhY21lIn0.AAAA' \
	>"$OUT/seeds_jwt/token"
# CSR: made fresh, never committed.
if command -v openssl >/dev/null 2>&1; then
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout /dev/null -subj "/CN=device 1" \
		-out "$OUT/seeds_csr/p256.pem" 2>/dev/null || true
	openssl req -in "$OUT/seeds_csr/p256.pem" -outform DER \
		-out "$OUT/seeds_csr/p256.der" 2>/dev/null || true
	# The other key forms the parser builds itself: RSA, and a P-384
	# point in compressed form; and a request for names.
	openssl req -new -newkey rsa:2048 -nodes -keyout /dev/null \
		-subj /CN=dev2 -addext subjectAltName=DNS:a.example,IP:192.0.2.1 \
		-outform DER -out "$OUT/seeds_csr/rsa-sans.der" 2>/dev/null || true
	openssl ecparam -name secp384r1 -genkey -noout \
		-out "$OUT/seeds_csr/p384.key" 2>/dev/null &&
		openssl ec -in "$OUT/seeds_csr/p384.key" -conv_form compressed \
			-out "$OUT/seeds_csr/p384c.key" 2>/dev/null &&
		openssl req -new -key "$OUT/seeds_csr/p384c.key" -subj /CN=dev3 \
			-outform DER -out "$OUT/seeds_csr/p384c.der" 2>/dev/null || true
	rm -f "$OUT/seeds_csr/p384.key" "$OUT/seeds_csr/p384c.key"
fi
# shellcheck disable=SC2086 # word splitting of the flag lists is wanted
$CC $CFLAGS -o "$OUT/fuzz_json" tests/fuzz/fuzz_json.c $COMMON $LIBS
# shellcheck disable=SC2086
$CC $CFLAGS -o "$OUT/fuzz_jwt" tests/fuzz/fuzz_jwt.c $COMMON src/auth/jwt.c src/auth/jws.c \
	$LIBS
# The device library's answer reader (libfleetpki-device, no libfleetpki).
mkdir -p "$OUT/seeds_device"
printf '{"HeartbeatInSec":3600,"Commands":[{"Id":"c1","Type":"SET_PROPERTIES","Properties":{"LocalDPR":true,"SecurityHeartbeatInSec":60}},{"Id":"z1","Type":"GENERATE_KEY","Slot":"ztp"},{"Id":"z2","Type":"INSTALL_KEY_AND_CERTIFICATE","Slot":"ztp","Certificate":"-----BEGIN CERTIFICATE-----\\n","WrappedKey":{"Alg":"A256GCM","Nonce":"AAAAAAAAAAAAAAAA","Ciphertext":"AAAA","Tag":"AAAAAAAAAAAAAAAAAAAAAA=="}}],"State":"ACTIVATED"}' \
	>"$OUT/seeds_device/answer"
printf '{"Error":"COUNTER_REPLAY","Message":"m","LastCounter":41,"RetryAfter":5}' \
	>"$OUT/seeds_device/error"
# shellcheck disable=SC2086
$CC $CFLAGS $(pkg-config --cflags libcurl) -o "$OUT/fuzz_device" \
	tests/fuzz/fuzz_device.c src/device/proto.c src/device/client.c \
	src/device/answer.c src/device/ztp.c $LIBS $(pkg-config --libs libcurl)
# E2E (docs/e2e.md): KIVs, downlink messages as the device library opens
# them, uplink messages as a back end does.  The same harness runs in
# `make check` (tests/unit/test_e2e_fuzz.c); the seeds are docs/e2e.md's
# vectors behind the harness's target byte (0 KIV, 1 downlink, 2 uplink),
# and open under its device state (the vectors' secret, ROT and epoch).
hexseed() {	# hexseed FILE HEX: the bytes of HEX into FILE (POSIX printf)
	h=$2 o=
	while [ -n "$h" ]; do
		o="$o\\$(printf %o "0x${h%"${h#??}"}")"
		h=${h#??}
	done
	printf "$o" >"$1"
}
mkdir -p "$OUT/seeds_e2e"
hexseed "$OUT/seeds_e2e/kiv" 0001010000200456789544000000070000
hexseed "$OUT/seeds_e2e/downlink" 0101100000200456789544000000070000c0c1c2c3c4c5c6c7c8c9cacbcccdcecf7233c6e5b985372f8af885b9841fddc9e098fb9b06f078360e86f2bef06a8acee705f19272ff9c53b6a274daa28d7e0e
hexseed "$OUT/seeds_e2e/uplink-v1" 0201010000200456789544000000070000a0a1a2a3a4a5a6a7a8a9aaab0000001804212254a51cdc0831cf5944eebd036e626f51b591beafd6d230573b2627613a1bc5d25a0c9e4f70
hexseed "$OUT/seeds_e2e/uplink-v2" 02020100002004567895440007a0a1a2a3a4a5a6a7a8a9aaab0000001804212254a51cdc0831cf5944eebd036e626f51b591beafd6a69e3d801bd779d914974bd0811bf6ba
# shellcheck disable=SC2086
$CC $CFLAGS -DFUZZ_LIBFUZZER $(pkg-config --cflags libcurl) -Itests/fuzz \
	-o "$OUT/fuzz_e2e" tests/fuzz/fuzz_e2e.c src/device/proto.c \
	src/device/client.c src/device/answer.c src/device/ztp.c \
	src/device/e2e_proto.c src/device/e2e.c $LIBS $(pkg-config --libs libcurl)
# Last: it needs the PKI core.
# shellcheck disable=SC2086
$CC $CFLAGS -o "$OUT/fuzz_csr" tests/fuzz/fuzz_csr.c $COMMON src/pki/*.c \
	$LIBS

echo "fuzzers in $OUT"
