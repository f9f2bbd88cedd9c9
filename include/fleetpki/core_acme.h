/*
 * core_acme: the ACME client of device enrollment, as fleetpki-worker
 * runs it (spec/device-enrollment.txt; sql/018, sql/019).
 *
 * fleetpkid's request path inserts an acme_orders row and enqueues a job
 * CORE_ACME_ORDER_JOB with key = the order id; the worker's job carries
 * the order through account, new order, DNS-01, finalize and download,
 * storing its state and the CA's URLs after each step so that any
 * worker resumes it.  CORE_ACME_RENEW_JOB (every tick) queues renewals
 * set-based and probes the configured directories for GET /api/health.
 */
#ifndef FLEETPKI_CORE_ACME_H
#define FLEETPKI_CORE_ACME_H

#include <stddef.h>
#include <stdint.h>

#include "fleetpki/error.h"

struct fp_ctx;

#define CORE_ACME_ORDER_JOB "acme.order"
#define CORE_ACME_RENEW_JOB "acme.renew"
/* Attempts of an order job (each transient failure backs off). */
#define CORE_ACME_ORDER_ATTEMPTS 12

/* How a run of an order ended. */
struct acme_run {
	/* > 0: park the job this many seconds (Retry-After, polling, budget) */
	int park_s;
	/* 1: the order failed for good (recorded on it and its device) */
	int failed;
	char why[700];
};

/*
 * One run of order 'order_id' of tenant 'tenant_id': as far as it goes.
 * 'last_attempt': a transient failure now is final (the order fails).
 * 0 when the order is final (valid, or failed with its error recorded)
 * or 'run->park_s' is set; a negative code (st: the CA's problem type and
 * detail) for a failure worth trying again, recorded on the order.
 */
int core_acme_order_run(struct fp_ctx *, int64_t tenant_id, int64_t order_id,
    int last_attempt, struct acme_run *run, struct fp_status *st);

/* The renewal scan across tenants: how many orders it queued. */
int core_acme_renew_due(struct fp_ctx *, int64_t *queued, struct fp_status *st);

/* Probe every tenant's directory and record it (GET /api/health). */
int core_acme_probe(struct fp_ctx *);

/* A tenant's ACME account and weekly budget, for operators. */
struct acme_status {
	char directory_url[513];
	char account_url[512]; /* "" until the account exists */
	char account_status[16]; /* new valid deactivated revoked, "" */
	long long budget; /* acme.weekly_budget */
	long long used; /* finalized in the last 7 days */
	long long left; /* budget - used, not below 0 */
	long long in_flight; /* orders past the queue */
	long long queued; /* orders waiting */
	int64_t oldest_queued; /* Unix seconds, 0: none */
};
int core_acme_status(struct fp_ctx *, int64_t tenant_id,
    struct acme_status *out);

/* The open orders, oldest first (`fleetpki acme status`). */
struct acme_queued {
	int64_t id;
	const char *device_id;
	const char *kind;
	const char *state;
	const char *error_type;
	int64_t created;
	int64_t retry_at;
};
int core_acme_queued(struct fp_ctx *, int64_t tenant_id, int limit,
    void (*fn)(void *, const struct acme_queued *), void *arg);

/* ---- DNS-01 (core/acme_dns.c) -------------------------------------- */

/* A tenant's DNS provider, from its settings. */
struct acme_dns {
	char *provider; /* exec, rfc2136 */
	char *hook;
	char *resolvers;
	char *rfc2136_server;
	char *rfc2136_key_file;
};
void acme_dns_free(struct acme_dns *);
/* Set (present 1) or remove (present 0) TXT 'value' at 'fqdn'. */
int acme_dns_set(const struct acme_dns *, int present, const char *fqdn,
    const char *value, struct fp_status *st);
/*
 * 1 when every resolver of 'resolvers' (host:port, comma or space
 * separated) answers TXT 'value' at 'fqdn', 0 when one does not (yet),
 * negative when the list does not parse.
 */
int acme_dns_visible(const char *resolvers, const char *fqdn, const char *value,
    struct fp_status *st);

/*
 * The DNS message of a TXT query for 'name' with 'id' into 'out'
 * (at most 'cap' bytes): its length, or -1.  And whether 'msg' (an
 * answer to query 'id') holds a TXT record 'value' for 'name': 1, 0, or
 * -1 when it is malformed.  Exposed for the unit tests.
 */
int acme_dns_query(const char *name, unsigned id, unsigned char *out,
    size_t cap);
int acme_dns_answer_has(const unsigned char *msg, size_t len, unsigned id,
    const char *value);

#endif
