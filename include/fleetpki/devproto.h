/*
 * devproto: the device protocol's cryptography, shared by the server
 * (libfleetpki) and the device library (libfleetpki-device).
 *
 * docs/device-protocol.md is the specification; this module is its
 * executable half: HKDF-SHA256 key derivation from a device's root
 * secret, the canonical forms of a request and of an answer, their
 * HMAC-SHA256 MACs, constant-time comparison, and the strict parsers of
 * the header values.  It depends on OpenSSL 3 only (no fleetpki
 * module, no allocation), so both sides compile the same file and
 * cannot drift apart.
 *
 * Every function returns 0 on success and -1 on failure.  A failed
 * OpenSSL call leaves its reasons on the OpenSSL error queue for the
 * caller to drain into its own log.
 */
#ifndef FLEETPKI_DEVPROTO_H
#define FLEETPKI_DEVPROTO_H

#include <stddef.h>
#include <stdint.h>

#define DEVPROTO_ROT_LEN 8 /* ROTPublicUID, raw bytes */
#define DEVPROTO_ROT_HEX_LEN 16 /* ... as hex digits */
#define DEVPROTO_SECRET_LEN 32 /* root secret shared at manufacturing */
#define DEVPROTO_KEY_LEN 32 /* every derived MAC key */
#define DEVPROTO_MAC_LEN 32 /* HMAC-SHA256 */
#define DEVPROTO_MAC_HEX_LEN 64 /* ... as hex digits */
#define DEVPROTO_COUNTER_MAX INT64_MAX /* fits a PostgreSQL bigint */

/* The request headers (docs/device-protocol.md, "Headers"). */
#define DEVPROTO_HDR_ROT "X-Device-ROT"
#define DEVPROTO_HDR_COUNTER "X-Device-Counter"
#define DEVPROTO_HDR_TIMESTAMP "X-Device-Timestamp"
#define DEVPROTO_HDR_MAC "X-Device-MAC"

#define DEVPROTO_PATH_BOOTSTRAP "/device/v1/bootstrap"
#define DEVPROTO_PATH_HEARTBEAT "/device/v1/heartbeat"

/*
 * HKDF labels, one per purpose.  A label never contains a NUL: the info
 * string is label || 0x00 || ROT || context, so no two (label, context)
 * pairs share an info string.
 */
#define DEVPROTO_LABEL_REQUEST_MAC "request-mac"
#define DEVPROTO_LABEL_RESPONSE_MAC "response-mac"
/* Context: SHA-256 of the certificate's DER (issue 11, ZTP). */
#define DEVPROTO_LABEL_ZTP_KEY_WRAP "ztp-key-wrap"
/* Labels beginning "e2e-" are reserved for docs/e2e.md. */
#define DEVPROTO_LABEL_E2E_PREFIX "e2e-"

/*
 * HKDF-SHA256 (RFC 5869): salt "fleetpki-device-v1", IKM the 32-byte
 * 'secret', info 'label' || 0x00 || 'rot' (8 bytes) || 'ctx' ('ctxlen'
 * bytes, may be NULL when 0).  Writes 'outlen' bytes (1..255*32) to
 * 'out'.  The caller wipes 'out' when done.
 */
int devproto_derive(const unsigned char *secret, const unsigned char *rot,
    const char *label, const unsigned char *ctx, size_t ctxlen,
    unsigned char *out, size_t outlen);

/* The two MAC keys of a device.  Wipe with devproto_keys_wipe. */
struct devproto_keys {
	unsigned char request[DEVPROTO_KEY_LEN]; /* device -> server */
	unsigned char response[DEVPROTO_KEY_LEN]; /* server -> device */
};

/* Derive both MAC keys of device 'rot' from its root 'secret'. */
int devproto_derive_keys(const unsigned char *secret, const unsigned char *rot,
    struct devproto_keys *keys);
void devproto_keys_wipe(struct devproto_keys *keys);

/*
 * One request as the MAC sees it.  'path' is the path the request was
 * sent to ("/device/v1/heartbeat"), 'body' its exact bytes.
 */
struct devproto_req {
	const unsigned char *rot; /* 8 bytes */
	uint64_t counter; /* 1..DEVPROTO_COUNTER_MAX */
	int64_t timestamp; /* Unix seconds, >= 0 */
	const char *method; /* "POST" */
	const char *path;
	const unsigned char *body;
	size_t body_len;
};

/*
 * One answer as its MAC sees it: bound to the request it answers by that
 * request's counter and MAC.
 */
struct devproto_resp {
	const unsigned char *rot; /* the request's */
	uint64_t req_counter; /* the request's counter */
	const unsigned char *req_mac; /* the request's MAC, 32 bytes */
	int status; /* HTTP status, 100..599 */
	int64_t timestamp; /* the server's clock, Unix seconds */
	const unsigned char *body;
	size_t body_len;
};

/*
 * The canonical form of 'req' (or 'resp'): its length goes to '*len';
 * the bytes to 'out' when 'out' is not NULL and 'outsz' is at least that
 * long.  Call with 'out' NULL to learn the size.  Fails on a field out of
 * range (counter 0, negative timestamp, a part over 4 GiB).
 */
int devproto_canonical_request(const struct devproto_req *req,
    unsigned char *out, size_t outsz, size_t *len);
int devproto_canonical_response(const struct devproto_resp *resp,
    unsigned char *out, size_t outsz, size_t *len);

/* HMAC-SHA256 under 'key' (32 bytes) of the canonical form, to 'mac'. */
int devproto_request_mac(const unsigned char *key,
    const struct devproto_req *req, unsigned char *mac);
int devproto_response_mac(const unsigned char *key,
    const struct devproto_resp *resp, unsigned char *mac);

/*
 * Recompute the MAC and compare it with 'mac' in constant time: 0 when
 * it matches, -1 when it does not or cannot be computed.
 */
int devproto_request_verify(const unsigned char *key,
    const struct devproto_req *req, const unsigned char *mac);
int devproto_response_verify(const unsigned char *key,
    const struct devproto_resp *resp, const unsigned char *mac);

/*
 * ZTP key wrapping (issue 11): a private key the server made travels as
 * AES-256-GCM under devproto_derive(DEVPROTO_LABEL_ZTP_KEY_WRAP, context
 * 'cert_sha256'), with the AAD "FPDZTP01" || ROT || 'cert_sha256', where
 * 'cert_sha256' is the SHA-256 of the certificate's DER: the envelope
 * opens only on that device and only beside that certificate.  'nonce'
 * is 12 random bytes, 'tag' 16; the ciphertext is as long as the
 * plaintext ('len' bytes, 'in' to 'out').  devproto_ztp_open fails,
 * leaving 'out' wiped, when anything was changed.
 */
#define DEVPROTO_ZTP_NONCE_LEN 12
#define DEVPROTO_ZTP_TAG_LEN 16
int devproto_ztp_seal(const unsigned char *secret, const unsigned char *rot,
    const unsigned char *cert_sha256, const unsigned char *nonce,
    const unsigned char *in, size_t len, unsigned char *out,
    unsigned char *tag);
int devproto_ztp_open(const unsigned char *secret, const unsigned char *rot,
    const unsigned char *cert_sha256, const unsigned char *nonce,
    const unsigned char *in, size_t len, unsigned char *out,
    const unsigned char *tag);

/* Constant-time equality of two MACs: 1 when equal, 0 otherwise. */
int devproto_mac_equal(const unsigned char *a, const unsigned char *b);

/* Lower-case hex of 'len' bytes into 'out' (2*len+1 bytes). */
void devproto_hex_encode(const unsigned char *in, size_t len, char *out);
/*
 * Decode exactly 'outlen' bytes from the NUL-terminated 'hex', which
 * must be exactly 2*'outlen' hex digits (either case).
 */
int devproto_hex_decode(const char *hex, unsigned char *out, size_t outlen);

/* ROTPublicUID: exactly 16 hex digits (either case) <-> 8 bytes. */
int devproto_rot_parse(const char *s, unsigned char *rot);
/* Upper-case, the form the API shows: 'out' holds 17 bytes. */
void devproto_rot_format(const unsigned char *rot, char *out);

/*
 * Header values: decimal digits only, no sign, no leading zero, no
 * space.  A counter is 1..DEVPROTO_COUNTER_MAX, a timestamp
 * 0..INT64_MAX.  So each value has exactly one spelling.
 */
int devproto_parse_counter(const char *s, uint64_t *out);
int devproto_parse_timestamp(const char *s, int64_t *out);
/* The MAC header: exactly 64 hex digits (either case). */
int devproto_parse_mac(const char *s, unsigned char *mac);

#endif /* FLEETPKI_DEVPROTO_H */
