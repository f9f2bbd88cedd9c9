/*
 * store_enroll: typed store access of device enrollment (sql/018,
 * stmt_enroll.h).  Every statement but the pre-tenant lookups names its
 * tenant.
 */
#ifndef FLEETPKI_STORE_ENROLL_H
#define FLEETPKI_STORE_ENROLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleetpki/buf.h"
#include "fleetpki/core_enroll.h"

struct db;

/* What a device's request needs before its tenant is known. */
struct enroll_lookup_rec {
	int64_t tenant_id; /* 0: no such device */
	int64_t id;
	char secret_hash[65];
	bool enabled;
	bool locked;
	int failures;
};
int store_enroll_lookup(struct db *, const char *device_id,
    struct enroll_lookup_rec *out);
/* Count a failure of 'device_id'; '*locked' when it is locked now. */
int store_enroll_failed(struct db *, const char *device_id, int max,
    int window_s, bool *locked);
int store_enroll_succeeded(struct db *, const char *device_id);
int store_enroll_taken(struct db *, const char *device_id, bool *taken);
int store_enroll_failures_prune(struct db *, int older_s, int64_t *pruned);

/* -FP_E_CONFLICT when the id is taken (in any tenant). */
int store_enroll_insert(struct db *, int64_t tenant_id, const char *device_id,
    const char *secret_hash);
/*
 * Insert 'n' devices in one statement; 'added[i]' tells which were (an
 * id taken anywhere, or twice in the list, is not).
 */
int store_enroll_import(struct db *, int64_t tenant_id, const char *const *ids,
    const char *const *hashes, size_t n, bool *added);

int store_enroll_get(struct db *, int64_t tenant_id, const char *device_id,
    struct enroll_device *out);
/* 'limit' + 1 rows at most are read; '*more' when the extra one came. */
int store_enroll_list(struct db *, int64_t tenant_id,
    const struct enroll_query *q,
    void (*fn)(void *, const struct enroll_device *), void *arg, int *more);
int store_enroll_set_enabled(struct db *, int64_t tenant_id,
    const char *device_id, bool enabled);
int store_enroll_rotate(struct db *, int64_t tenant_id, const char *device_id,
    const char *secret_hash);
int store_enroll_certs(struct db *, int64_t tenant_id, const char *device_id,
    int limit, void (*fn)(void *, const struct enroll_cert *), void *arg);
int store_enroll_orders(struct db *, int64_t tenant_id, const char *device_id,
    int limit, void (*fn)(void *, const struct enroll_order *), void *arg);
int store_enroll_expiry_weeks(struct db *, int64_t tenant_id, int64_t *counts,
    int nweeks);
/* 'counts' in the order pending issuing issued renewing failed disabled. */
int store_enroll_state_counts(struct db *, int64_t tenant_id,
    int64_t counts[6]);

/* A device's request: the device, its current certificate, its order. */
struct enroll_state_rec {
	char device_id[ENROLL_ID_MAX + 1];
	int64_t cert_id; /* 0: none */
	int64_t cert_order_id;
	char *chain_pem;
	struct buf key_sealed; /* empty: the device's own key */
	char spki_sha256[65];
	int64_t not_before_us;
	int64_t not_after_us;
	int64_t order_id; /* 0: none open */
	char order_state[16];
	int64_t order_retry_us;
	bool order_has_csr;
	int64_t failed_us; /* the last order failed then (0: it did not) */
	char domain[192]; /* enroll.domain, "" when unset */
	bool has_directory; /* acme.directory_url is set */
};
void enroll_state_rec_clear(struct enroll_state_rec *);
int store_enroll_state(struct db *, int64_t tenant_id, int64_t id,
    struct enroll_state_rec *out);
/* The operator's certificate for a device ('key_sealed' may be empty). */
int store_enroll_cert_import(struct db *, int64_t tenant_id, int64_t id,
    const char *hostname, const char *chain_pem, const struct buf *key_sealed,
    const char *spki_sha256, const char *serial, int64_t not_before,
    int64_t not_after);
/*
 * Open an order for a device and set its state; '*order_id' 0 when one
 * was open already.  In the caller's transaction.
 */
int store_enroll_order_insert(struct db *, int64_t tenant_id, int64_t id,
    const char *kind, const char *hostname, const char *csr_pem,
    int64_t *order_id);

#endif
