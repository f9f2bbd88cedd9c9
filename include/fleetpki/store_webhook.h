/*
 * store_webhook: typed store access to webhooks and their deliveries
 * (sql/021).  The API's and the CLI's functions name their tenant (the
 * walls of sql/005 hold behind them); the worker's (claim, next,
 * result, release) cross tenants through sql/021's functions and only
 * touch a webhook whose lease the caller holds.
 */
#ifndef FLEETPKI_STORE_WEBHOOK_H
#define FLEETPKI_STORE_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleetpki/buf.h"

struct db;

#define WEBHOOK_UID_LEN 32
#define WEBHOOK_TYPE_MAX 64

struct webhook_rec {
	int64_t id;
	char uid[WEBHOOK_UID_LEN + 1];
	char *url;
	char *types; /* comma-separated */
	bool enabled;
	char *disabled_reason; /* NULL when enabled */
	int64_t created_at; /* Unix seconds */
	int64_t pending;
	int64_t dead;
};
void webhook_rec_clear(struct webhook_rec *);

/* The webhook of 'url'; -FP_E_NOTFOUND. */
int store_webhook_by_url(struct db *, int64_t tenant_id, const char *url,
    struct webhook_rec *out);
int store_webhook_count(struct db *, int64_t tenant_id, int64_t *n);
/* A new webhook for one type; -FP_E_CONFLICT when the URL has one. */
int store_webhook_insert(struct db *, int64_t tenant_id, const char *uid,
    const char *url, const char *type, const struct buf *token_sealed,
    const struct buf *secret_sealed, int64_t *id);
/*
 * Subscribe webhook 'id' to one more type, with a new token (and
 * enable it); -FP_E_NOTFOUND when it has the type already.
 */
int store_webhook_add_type(struct db *, int64_t tenant_id, int64_t id,
    const char *type, const struct buf *token_sealed);
/* A new token, and enabled again (a 410 disabled it); -FP_E_NOTFOUND. */
int store_webhook_set_token(struct db *, int64_t tenant_id, int64_t id,
    const struct buf *token_sealed);
/* Delete the webhook of 'url' and its deliveries; -FP_E_NOTFOUND. */
int store_webhook_delete(struct db *, int64_t tenant_id, const char *url);
/* Every webhook of the tenant, by URL (a tenant has at most a few). */
int store_webhook_list(struct db *, int64_t tenant_id,
    struct webhook_rec **out, size_t *n);
/* Wake the workers (at commit): a webhook became deliverable again. */
int store_webhook_wake(struct db *);

struct webhook_delivery_rec {
	int64_t id;
	int64_t event_id;
	char type[WEBHOOK_TYPE_MAX + 1];
	char *url;
	char state[16];
	int attempts;
	int last_status;
	char *last_error;
	int64_t created_at;
	int64_t last_attempt_at; /* 0: never tried */
};
void webhook_delivery_rec_clear(struct webhook_delivery_rec *);

/*
 * Up to 'limit' deliveries of the tenant after id 'after', in id order,
 * in 'state' (NULL: any).
 */
int store_webhook_deliveries(struct db *, int64_t tenant_id,
    const char *state, int64_t after, int limit,
    struct webhook_delivery_rec **out, size_t *n);
/*
 * Make the dead deliveries among 'ids' pending again, from their first
 * attempt; '*replayed' how many were dead.
 */
int store_webhook_replay(struct db *, int64_t tenant_id, const int64_t *ids,
    size_t n, int64_t *replayed);

/* ---- the worker's side ------------------------------------------- */

struct webhook_claim {
	int64_t id;
	int64_t tenant_id;
	char uid[WEBHOOK_UID_LEN + 1];
	char *url;
	struct buf token_sealed;
	struct buf secret_sealed;
};
void webhook_claim_clear(struct webhook_claim *);

/* Lease one webhook with deliveries due; -FP_E_NOTFOUND when none is. */
int store_webhook_claim(struct db *, const char *owner, int lease_s,
    struct webhook_claim *out);

struct webhook_send {
	int64_t id;
	int64_t event_id;
	char *body;
	int attempts;
	int64_t created_ms; /* when its event was recorded (sql/028) */
};
void webhook_send_clear(struct webhook_send *);

/* The next 'limit' pending deliveries of a webhook we hold, in order. */
int store_webhook_next(struct db *, int64_t webhook_id, const char *owner,
    int limit, struct webhook_send **out, size_t *n);

enum webhook_outcome {
	WEBHOOK_OK,
	WEBHOOK_RETRY,
	WEBHOOK_GONE,
};

/*
 * Record an attempt of delivery 'id' (and renew the lease).  '*state'
 * becomes its state ("delivered", "pending", "dead"), or "" when the
 * lease was lost (nothing recorded).
 */
int store_webhook_result(struct db *, int64_t id, const char *owner,
    int lease_s, enum webhook_outcome outcome, int status, const char *error,
    int retry_s, int max_attempts, char *state, size_t statelen);
int store_webhook_release(struct db *, int64_t webhook_id, const char *owner);
/* Milliseconds until a waiting webhook's back-off ends; -1: none waits. */
int store_webhook_next_due_ms(struct db *, int64_t *ms);
/*
 * Wait up to 'timeout_ms' for a NOTIFY on fleetpki_webhooks (a delivery
 * was written, or replayed); 1 when one came.
 */
int store_webhook_wait(struct db *, int timeout_ms);

#endif
