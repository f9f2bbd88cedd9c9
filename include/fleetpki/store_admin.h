/*
 * store_admin: the admin portal's operators and sessions (sql/020), and
 * the ACME figures the portal shows.
 */
#ifndef FLEETPKI_STORE_ADMIN_H
#define FLEETPKI_STORE_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include "fleetpki/store.h"

struct db;

/* What a login needs before its tenant is known (always one row). */
struct admin_login_rec {
	int64_t tenant_id; /* 0: no such tenant and operator */
	char tenant[STORE_NAME_MAX + 1];
	int64_t operator_id;
	char *password_hash; /* NULL when unknown */
	bool disabled;
	bool locked;
};
void admin_login_rec_clear(struct admin_login_rec *);

int store_admin_login_lookup(struct db *, const char *tenant,
    const char *name, struct admin_login_rec *out);
/* A failure of 'login' counted; '*locked' when that locks it now. */
int store_admin_login_failed(struct db *, const char *login, int max,
    int window_s, bool *locked);
int store_admin_login_succeeded(struct db *, const char *login);

/* A live session, by its token's HMAC; -FP_E_NOTFOUND when none. */
struct admin_session_rec {
	int64_t tenant_id;
	char tenant[STORE_NAME_MAX + 1];
	int64_t id;
	int64_t operator_id;
	char name[STORE_NAME_MAX + 1];
	int64_t expires_at; /* Unix seconds */
};
int store_admin_session(struct db *, const char *token_hash,
    struct admin_session_rec *out);
/* Under the tenant: a new session; its id and expiry. */
int store_admin_session_insert(struct db *, int64_t tenant_id,
    int64_t operator_id, const char *token_hash, int ttl_s, int idle_s,
    const char *remote_addr, int64_t *id, int64_t *expires_at);
int store_admin_session_revoke(struct db *, int64_t tenant_id, int64_t id);

/* The CLI's.  -FP_E_CONFLICT: the name is taken in the tenant. */
int store_admin_operator_create(struct db *, int64_t tenant_id,
    const char *name, const char *password_hash, int64_t *id);
/* Both revoke the operator's sessions; -FP_E_NOTFOUND. */
int store_admin_operator_passwd(struct db *, int64_t tenant_id,
    const char *name, const char *password_hash);
int store_admin_operator_set_disabled(struct db *, int64_t tenant_id,
    const char *name, bool disabled);

struct admin_operator_rec {
	int64_t id;
	int64_t tenant_id;
	char tenant[STORE_NAME_MAX + 1];
	char name[STORE_NAME_MAX + 1];
	bool disabled;
	int64_t created_at, last_login; /* Unix seconds; 0: never */
	int64_t sessions; /* live */
};
/* Every operator (tenant_id 0: of every tenant), by tenant and name. */
int store_admin_operator_each(struct db *, int64_t tenant_id,
    void (*fn)(void *, const struct admin_operator_rec *), void *arg);
int store_admin_sessions_prune(struct db *, int older_s, int64_t *n);

/* The tenant's ACME account (newest); -FP_E_NOTFOUND when none. */
struct admin_acme_account_rec {
	char *directory_url;
	char *account_url;
	char status[16];
	char *contact;
	char *last_error;
	int64_t created_at;
};
void admin_acme_account_rec_clear(struct admin_acme_account_rec *);
int store_admin_acme_account(struct db *, int64_t tenant_id,
    struct admin_acme_account_rec *out);

struct admin_acme_orders_rec {
	int64_t finalized_7d; /* what counts against the weekly budget */
	int64_t queued;
	int64_t in_progress;
	int64_t queued_renewals;
};
int store_admin_acme_orders(struct db *, int64_t tenant_id,
    struct admin_acme_orders_rec *out);

#endif
