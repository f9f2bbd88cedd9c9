/*
 * core_webhook: webhooks of the security-services dialect
 * (/notification/webhook/..., sql/021) and what their deliveries carry
 * (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature).
 *
 * A webhook is a tenant's NotificationURL with the types it follows,
 * the AuthorizationToken sent verbatim as its Authorization header and
 * a signing secret ("whsec_" + base64 of WEBHOOK_SECRET_BYTES random
 * bytes, shown once when the URL is first created).  Both are sealed
 * under the master key with AAD "webhook:<tenant>:<uid>:token" and
 * "webhook:<tenant>:<uid>:secret" (fleetpkid's signer may seal in that
 * domain, never unseal: only fleetpki-worker opens them).
 */
#ifndef FLEETPKI_CORE_WEBHOOK_H
#define FLEETPKI_CORE_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "fleetpki/buf.h"
#include "fleetpki/error.h"

struct fp_ctx;
struct tenant;

#define WEBHOOK_URL_MAX 2048
#define WEBHOOK_TOKEN_MAX 4096
/* Webhooks (URLs) a tenant may have. */
#define WEBHOOK_MAX_PER_TENANT 100
#define WEBHOOK_SECRET_BYTES 24
/* "whsec_" + base64 of the secret + NUL. */
#define WEBHOOK_SECRET_TEXT_MAX 64
#define WEBHOOK_AAD_MAX 128

/* The event types a webhook may follow (the spec's six, and two more). */
extern const char *const core_webhook_types[];
extern const size_t core_webhook_ntypes;

/*
 * Checks of what a client sends, -FP_E_BADREQ with the reason: a type
 * of the list; an https URL (curl's parser: a host, no user or password,
 * no fragment, at most WEBHOOK_URL_MAX printable ASCII characters, an IP
 * literal host not in the denied networks of the configuration); a
 * token of printable ASCII (space and tab allowed, no CR or LF) of at
 * most WEBHOOK_TOKEN_MAX bytes.
 */
int core_webhook_type_check(const char *type, struct fp_status *st);
int core_webhook_url_check(struct fp_ctx *, const char *url,
    struct fp_status *st);
int core_webhook_token_check(const char *token, struct fp_status *st);

/*
 * Create the webhook of 'url' for 'type', or subscribe the existing one
 * to one more type (its token replaced by 'token', and enabled again).
 * A new URL gets its signing secret, written to 'secret' ("" when the
 * URL existed: its secret stays what it was).  -FP_E_BADREQ when the
 * URL follows the type already, or the tenant has
 * WEBHOOK_MAX_PER_TENANT webhooks.
 */
int core_webhook_create(struct fp_ctx *, const struct tenant *,
    const char *url, const char *token, const char *type,
    char secret[WEBHOOK_SECRET_TEXT_MAX], struct fp_status *st);
/* A new token for 'url' (and enabled again); -FP_E_NOTFOUND. */
int core_webhook_update(struct fp_ctx *, const struct tenant *,
    const char *url, const char *token, struct fp_status *st);
/* Delete 'url' with its pending deliveries; -FP_E_NOTFOUND. */
int core_webhook_delete(struct fp_ctx *, const struct tenant *,
    const char *url, struct fp_status *st);

/* The AADs of a webhook's sealed token and secret. */
void core_webhook_aad(char out[WEBHOOK_AAD_MAX], int64_t tenant_id,
    const char *uid, const char *what);

/*
 * The Standard Webhooks signature header value, "v1,<base64 of
 * HMAC-SHA256(key, "<msg_id>.<timestamp>.<body>")>", appended to 'out'.
 */
void core_webhook_signature(const unsigned char *key, size_t keylen,
    const char *msg_id, long long timestamp, const char *body,
    size_t body_len, struct buf *out);

#endif
