/*
 * jwt: ES256 JSON Web Tokens (RFC 7515/7519, RFC 8725 practices).
 *
 * Verification pins ES256 (alg "none", HS*, RS* and everything else are
 * refused before any key is used), looks the 'kid' up through a caller
 * function (a table in the store), ignores jku/x5u/jwk/x5c, requires
 * exp, checks exp/nbf/iat with leeway, iss and aud exactly, and caps
 * the token size.  ES256 signatures are raw r||s, 64 bytes.
 */
#ifndef FLEETPKI_JWT_H
#define FLEETPKI_JWT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "fleetpki/error.h"

#define JWT_MAX_LEN	4096
#define JWT_ISSUER	"fleetpki"
#define JWT_AUDIENCE	"fleetpki"
/* The security-services dialect's AuthTokens: never good elsewhere. */
#define JWT_AUDIENCE_SECSVC "fleetpki-security-services"
#define JWT_KID_MAX	64
#define JWT_TENANT_MAX	64

struct jwt_claims {
	char	tenant[JWT_TENANT_MAX + 1];	/* "tenant" claim */
	char	sub[128];			/* "sub", may be empty */
	char	jti[64];
	int64_t	iat, nbf, exp;
};

/*
 * Returns the P-256 public key for 'kid' (borrowed; it must stay valid
 * until jwt_verify returns), or NULL when no such key is known.
 */
typedef EVP_PKEY *(*jwt_key_lookup)(void *arg, const char *kid);

/*
 * Sign claims {iss, aud, sub, tenant, iat, nbf = iat, exp = iat + ttl,
 * jti (random)} with the P-256 private 'key' under 'kid'.  '*out' is a
 * malloc'd compact JWS.
 */
int	jwt_sign_es256(EVP_PKEY *key, const char *kid, const char *tenant,
	    const char *sub, int64_t iat, int64_t ttl, char **out);

/*
 * 1 while claims expiring at 'exp' are still good at 'now': now < exp +
 * leeway (RFC 7519 4.1.4; a negative leeway counts as none).  jwt_verify
 * and every cache of verified claims decide by this one rule.
 */
int	jwt_exp_ok(int64_t exp, time_t now, int leeway);

/* jwt_sign_es256 for audience 'aud' (JWT_AUDIENCE_SECSVC, ...). */
int	jwt_sign_es256_aud(EVP_PKEY *key, const char *kid, const char *aud,
	    const char *tenant, const char *sub, int64_t iat, int64_t ttl,
	    char **out);
/* jwt_verify requiring audience 'aud' instead of JWT_AUDIENCE. */
int	jwt_verify_aud(const char *token, size_t len, const char *aud,
	    jwt_key_lookup lookup, void *arg, time_t now, int leeway,
	    struct jwt_claims *out, struct fp_status *st);

/*
 * Verify 'token' ('len' bytes, no NUL inside) at time 'now'; fill '*out'.
 * Any failure is -FP_E_UNAUTH with a short reason in 'st' (never the
 * token itself).  'tenant' must be 1..JWT_TENANT_MAX of [A-Za-z0-9_-].
 */
int	jwt_verify(const char *token, size_t len, jwt_key_lookup lookup,
	    void *arg, time_t now, int leeway, struct jwt_claims *out,
	    struct fp_status *st);

#endif
