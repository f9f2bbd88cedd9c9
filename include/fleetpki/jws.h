/*
 * jws: ES256 JSON Web Signatures (RFC 7515, RFC 7518 3.4), shared by the
 * JWTs fleetpki mints and verifies (jwt.h) and the ACME client's signed
 * requests, whose protected headers carry nonce, url and kid or jwk.
 *
 * Only ES256: P-256 keys on a named curve, SHA-256, and the signature in
 * the JWS form, raw r || s of 32 bytes each (not DER).
 */
#ifndef FLEETPKI_JWS_H
#define FLEETPKI_JWS_H

#include <stddef.h>

#include <openssl/evp.h>

#define JWS_ES256_SIGLEN 64

/*
 * 1 when 'key' is an EC key on P-256 given as a named curve (explicit
 * curve parameters are refused, CVE-2022-0778), else 0.
 */
int	jws_key_is_p256(EVP_PKEY *key);

/*
 * Sign 'tbs' ('len' bytes) with the P-256 private 'key' into 'sig' (r ||
 * s).  0, or -FP_E_INTERNAL (OpenSSL's errors logged).
 */
int	jws_es256_sign(EVP_PKEY *key, const void *tbs, size_t len,
	    unsigned char sig[JWS_ES256_SIGLEN]);

/*
 * Check 'sig' (r || s) over 'tbs' with the P-256 public 'key': 1 valid,
 * 0 invalid (not logged: signatures come from clients), -1 when OpenSSL
 * failed (logged).
 */
int	jws_es256_verify(EVP_PKEY *key, const unsigned char sig[JWS_ES256_SIGLEN],
	    const void *tbs, size_t len);

/*
 * The compact serialization BASE64URL(protected) "." BASE64URL(payload)
 * "." BASE64URL(signature), signed with 'key' over the first two parts.
 * 'protected_json' is the protected header as JSON text, used as given:
 * the caller writes "alg":"ES256" and whatever else its protocol needs.
 * 'payload' may be empty (ACME's POST-as-GET).  '*out' is malloc'd.
 * 0; -FP_E_INTERNAL when 'key' is no P-256 key or signing failed.
 */
int	jws_sign_compact(EVP_PKEY *key, const char *protected_json,
	    const void *payload, size_t len, char **out);

/*
 * The same signature in the flattened JSON serialization ACME requires
 * (RFC 8555 6.2): {"protected":"...","payload":"...","signature":"..."},
 * malloc'd in '*out'.
 */
int	jws_sign_flattened(EVP_PKEY *key, const char *protected_json,
	    const void *payload, size_t len, char **out);

#endif
