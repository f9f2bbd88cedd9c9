/*
 * auth: who is calling.  The front calls it from the route table's auth
 * column, never from inside a handler.
 *
 * Bearer tokens are ES256 JWTs signed by the server's own keys (table
 * jwt_keys); the 'kid' is looked up there, verified keys are cached per
 * process for a minute so a deactivated key stops working soon after.
 */
#ifndef FLEETPKI_AUTH_H
#define FLEETPKI_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "fleetpki/error.h"
#include "fleetpki/store.h"

struct fp_ctx;

/*
 * Authenticate an "Authorization: Bearer <jwt>" header value (may be
 * NULL) and resolve the token's tenant.  -FP_E_UNAUTH for anything
 * wrong with the header or token, or an unknown tenant;
 * -FP_E_UNAVAILABLE when the database is down.
 */
int	auth_bearer(struct fp_ctx *, const char *authorization,
	    struct tenant *out, struct fp_status *st);

/*
 * Mint a token for tenant 't' valid 'ttl' seconds with the newest active
 * signing key, creating the first key when there is none.
 */
int	auth_token_mint(struct fp_ctx *, const struct tenant *t, int64_t ttl,
	    char **token, struct fp_status *st);
/*
 * Make the first token signing key when there is none: `fleetpki
 * migrate` does, so that fleetpkid (whose workers cannot seal one, see
 * signer.h) always finds an active key.
 */
int	auth_token_key_ensure(struct fp_ctx *);

/*
 * The security-services dialect's AuthTokens: ES256 JWTs of audience
 * JWT_AUDIENCE_SECSVC, subject the API key they were issued for.  An
 * X.509-API token is no AuthToken, nor the other way round.
 * auth_authtoken: any failure that is the caller's (no token, a bad one,
 * another audience, an unknown tenant, a revoked API key) is
 * -FP_E_UNAUTH "Not Authorized."; -FP_E_UNAVAILABLE when the database is
 * down.  auth_authtoken_mint: for API key 'api_key' of tenant 't'.
 */
int	auth_authtoken(struct fp_ctx *, const char *authorization,
	    struct tenant *out, struct fp_status *st);
int	auth_authtoken_mint(struct fp_ctx *, const struct tenant *t,
	    const char *api_key, int64_t ttl, char **token,
	    struct fp_status *st);

/* Certificate-maker API tokens: 40 characters of [A-Za-z0-9]. */
#define AUTH_API_TOKEN_LEN 40

/*
 * Authenticate an X-Auth-Token header value (may be NULL).  No header or
 * a malformed one: -FP_E_UNAUTH; a well-formed token of no user:
 * -FP_E_NOTFOUND (the dialect's documented answer); a disabled user:
 * -FP_E_UNAUTH.  Tokens are compared as HMAC-SHA256 under the pepper.
 */
int	auth_api_token(struct fp_ctx *, const char *header, struct tenant *t,
	    struct user_rec *u, struct fp_status *st);

/*
 * A new API token (AUTH_API_TOKEN_LEN characters, ~238 bits, NUL
 * terminated) and the hash to store for it.
 */
void	auth_api_token_new(char token[AUTH_API_TOKEN_LEN + 1]);
/* 'len' uniformly random characters of [A-Za-z0-9] and a NUL. */
void	auth_random_token(char *out, size_t len);
int	auth_api_token_hash(struct fp_ctx *, const char *token, char hash[65]);

#endif
