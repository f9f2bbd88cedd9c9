/*
 * store_acme: typed store access of the ACME client (sql/018, sql/019):
 * orders and their progress, accounts, the certificate that ends an
 * order, the weekly budget, the renewal scan, the worker's heartbeat and
 * the directory probe.  Every statement names its tenant; the scans
 * across tenants are the owner's functions of sql/019.
 */
#ifndef FLEETPKI_STORE_ACME_H
#define FLEETPKI_STORE_ACME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleetpki/buf.h"

struct db;

struct acme_order_rec {
	int64_t id;
	int64_t tenant_id;
	int64_t device_ref;
	char device_id[64];
	bool device_enabled;
	char kind[8];
	char state[16];
	char *hostname;
	char *csr_pem; /* NULL: the worker makes the key */
	struct buf key_sealed;
	int64_t account_id;
	char *order_url;
	char *finalize_url;
	char *authz_urls; /* space-separated */
	char *challenge_url;
	char *dns_name;
	char *dns_value;
	char *cert_url;
	char *error_type;
	char *error_detail;
	/* not read: set by store_acme_order_save only */
	int retry_s;
};
void acme_order_rec_clear(struct acme_order_rec *);

int store_acme_order_get(struct db *, int64_t tenant_id, int64_t id,
    struct acme_order_rec *);
/*
 * Write the order's state, URLs, error and retry_at (now + retry_s, or
 * NULL) as 'o' holds them.  -FP_E_NOTFOUND when it is final already.
 */
int store_acme_order_save(struct db *, const struct acme_order_rec *o);
/* The sealed server-made key, unless one is stored (-FP_E_NOTFOUND). */
int store_acme_order_set_key(struct db *, int64_t tenant_id, int64_t id,
    const struct buf *sealed);
/* A final failure: order failed, device failed with 'device_error'. */
int store_acme_order_fail(struct db *, int64_t tenant_id, int64_t id,
    const char *type, const char *detail, const char *device_error);

struct acme_cert_in {
	const char *chain_pem;
	const char *spki_sha256;
	const char *serial;
	int64_t not_before;
	int64_t not_after;
	const char *ari_id; /* or NULL */
	int64_t renew_after; /* 0: none */
};
/*
 * In one transaction: the device's current certificate superseded, the
 * new one stored, the order valid, the device issued.  -FP_E_NOTFOUND
 * when the order is final already.
 */
int store_acme_cert_store(struct db *, int64_t tenant_id, int64_t order_id,
    const struct acme_cert_in *);

struct acme_budget_rec {
	int64_t used;
	int64_t in_flight;
	int64_t oldest_age_s;
};
int store_acme_budget(struct db *, int64_t tenant_id, struct acme_budget_rec *);

struct acme_account_rec {
	int64_t id;
	char *account_url;
	struct buf key_sealed;
	char status[16];
};
void acme_account_rec_clear(struct acme_account_rec *);
/* -FP_E_NOTFOUND when the tenant has no account at 'dir'. */
int store_acme_account_get(struct db *, int64_t tenant_id, const char *dir,
    struct acme_account_rec *);
/*
 * A new account row, its key sealed by 'seal'(arg, id, &sealed) once
 * its id is known, in one transaction.  -FP_E_CONFLICT when another
 * worker made it first (read it again).
 */
int store_acme_account_create(struct db *, int64_t tenant_id, const char *dir,
    const char *contact, int (*seal)(void *, int64_t id, struct buf *sealed),
    void *arg, int64_t *id);
int store_acme_account_save(struct db *, int64_t tenant_id, int64_t id,
    const char *account_url, const char *status, const char *error);

struct acme_status_rec {
	char account_url[512];
	char account_status[16];
	int64_t used;
	int64_t in_flight;
	int64_t queued;
	int64_t oldest_queued; /* Unix seconds, 0: none */
};
int store_acme_status(struct db *, int64_t tenant_id, const char *dir,
    struct acme_status_rec *);

struct acme_queued_rec {
	int64_t id;
	char device_id[64];
	char kind[8];
	char state[16];
	char error_type[128];
	int64_t created;
	int64_t retry_at;
};
/* The open orders, oldest first: 'fn' for each. */
int store_acme_queued(struct db *, int64_t tenant_id, int limit,
    void (*fn)(void *, const struct acme_queued_rec *), void *arg);

/* Open orders whose job is gone: failed (sql/019); how many. */
int store_acme_orphans(struct db *, int64_t *failed);
/* The renewal scan (sql/019): how many orders it queued. */
int store_acme_renew_due(struct db *, int limit, int attempts, int64_t *queued);

struct acme_dir_rec {
	char *directory_url;
	char *ca_file;
};
int store_acme_directories(struct db *, struct acme_dir_rec **out, size_t *n);
void store_acme_directories_free(struct acme_dir_rec *, size_t n);
int store_acme_probe_record(struct db *, const char *url, bool ok,
    const char *error);

/* A worker child's pass (worker_heartbeats). */
int store_worker_seen(struct db *, const char *host, const char *class,
    int pid);

struct health_rec {
	int64_t worker_age; /* seconds, -1: never seen */
	int64_t acme_total;
	int64_t acme_ok;
	int64_t acme_age; /* seconds, -1: never probed */
};
int store_health(struct db *, struct health_rec *);

/*
 * Job 'id' held by 'owner' waits 'delay_s' seconds with 'why' recorded,
 * its attempt not counted.  -FP_E_NOTFOUND when the lease was lost.
 */
int store_job_park(struct db *, int64_t id, const char *owner, int delay_s,
    const char *why);
/* Job 'id' held by 'owner' failed for good with 'why' (its order did). */
int store_job_fail_final(struct db *, int64_t id, const char *owner,
    const char *why);

#endif
