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

#endif
