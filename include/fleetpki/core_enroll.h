/*
 * core_enroll: device enrollment (spec/device-enrollment.txt, sql/018).
 *
 * Operators pre-provision devices by id; each gets a secret, shown once
 * and kept as its HMAC under the pepper.  A device registers with id and
 * secret and is given <id>.<enroll.domain>, a certificate from the
 * tenant's ACME CA and (unless it sent a CSR) the key the worker made.
 * The certificate is obtained by fleetpki-worker (the acme.order job);
 * a request only records what is wanted and answers 202 until it is
 * there.
 *
 * Used by the operator CLI (fleetpki device ...), the admin portal's API
 * and the enrollment dialect (src/api/enroll.c).
 */
#ifndef FLEETPKI_CORE_ENROLL_H
#define FLEETPKI_CORE_ENROLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleetpki/error.h"

struct fp_ctx;
struct tenant;

/* A device id: a DNS label of 5 to 63 [a-z0-9-], no dash at either end. */
#define ENROLL_ID_MIN 5
#define ENROLL_ID_MAX 63
/* The secret: 32 random characters of 62 (about 190 bits). */
#define ENROLL_SECRET_LEN 32

/* 1 when 'id' is a valid device id, else 0. */
int	enroll_id_valid(const char *id);

/* What a device is, as listed and shown. */
struct enroll_device {
	int64_t	id;			/* the row */
	char	device_id[ENROLL_ID_MAX + 1];
	/* pending issuing issued renewing failed disabled */
	char	state[16];
	bool	enabled;
	int64_t	created_us;		/* Unix microseconds; 0: never */
	int64_t	registered_us;
	int64_t	last_seen_us;
	int64_t	not_after_us;		/* current certificate's */
	char	last_error[512];
};

/* A page of devices, in device_id order, by keyset. */
struct enroll_query {
	const char *after;		/* the last device_id of the previous page */
	const char *prefix;		/* ids starting with this, or NULL */
	const char *state;		/* one of the states above, or NULL */
	int64_t	expires_before_us;	/* 0, or current notAfter before this */
	int	limit;			/* 1..1000 */
};

/*
 * Pre-provision 'device_id' in tenant 't': its secret into 'secret'
 * (NUL-terminated).  -FP_E_BADREQ for an invalid id, -FP_E_CONFLICT
 * when the id is taken (in any tenant: the message does not say whose).
 */
int	core_enroll_add(struct fp_ctx *, const struct tenant *t,
	    const char *device_id, char secret[ENROLL_SECRET_LEN + 1],
	    struct fp_status *st);

/*
 * Bulk pre-provisioning: 'n' ids, each given a secret.  'atomic': all or
 * nothing (one failure adds none); else every good id is added and each
 * bad one reported.  For each id 'row' is called with its index, its
 * secret (NULL when it failed) and why it failed (NULL when added);
 * 'progress' (may be NULL) after each batch with how many are done.
 * Returns 0 when the import ran (even with failed rows; '*failed'
 * counts them), or a negative code when it could not.
 */
struct enroll_import_cb {
	void	(*row)(void *, size_t i, const char *secret, const char *why);
	void	(*progress)(void *, size_t done, size_t total);
	void	*arg;
};
int	core_enroll_import(struct fp_ctx *, const struct tenant *t,
	    const char *const *ids, size_t n, int atomic,
	    const struct enroll_import_cb *cb, size_t *failed,
	    struct fp_status *st);

/* One device; -FP_E_NOTFOUND when the tenant has no such device. */
int	core_enroll_get(struct fp_ctx *, int64_t tenant_id,
	    const char *device_id, struct enroll_device *out);

/*
 * A page of devices: 'fn' per device in order.  '*more' is set when a
 * further page exists (its 'after' is the last device_id given).
 */
int	core_enroll_list(struct fp_ctx *, int64_t tenant_id,
	    const struct enroll_query *q,
	    void (*fn)(void *, const struct enroll_device *), void *arg,
	    int *more, struct fp_status *st);

/* Disable (0) or enable (1) a device.  -FP_E_NOTFOUND. */
int	core_enroll_set_enabled(struct fp_ctx *, int64_t tenant_id,
	    const char *device_id, int enabled, struct fp_status *st);

/* A new secret for a device (the old one stops working at once). */
int	core_enroll_rotate(struct fp_ctx *, int64_t tenant_id,
	    const char *device_id, char secret[ENROLL_SECRET_LEN + 1],
	    struct fp_status *st);

/* A device's certificates, newest first (at most 'limit'). */
struct enroll_cert {
	int64_t	id;
	char	hostname[256];
	char	serial[80];
	int64_t	not_before_us;
	int64_t	not_after_us;
	int64_t	created_us;
	bool	current;
	bool	server_key;		/* the key was made by fleetpki */
};
int	core_enroll_certs(struct fp_ctx *, int64_t tenant_id,
	    const char *device_id, int limit,
	    void (*fn)(void *, const struct enroll_cert *), void *arg);

/* A device's ACME orders, newest first: its job history with errors. */
struct enroll_order {
	int64_t	id;
	char	kind[8];		/* new, renew */
	char	state[16];
	char	error_type[128];
	char	error_detail[512];
	int64_t	created_us;
	int64_t	updated_us;
	int64_t	finished_us;
	int64_t	retry_us;
};
int	core_enroll_orders(struct fp_ctx *, int64_t tenant_id,
	    const char *device_id, int limit,
	    void (*fn)(void *, const struct enroll_order *), void *arg);

/*
 * Current certificates expiring in each of the next 'nweeks' weeks from
 * now (week 0: the next seven days) into 'counts'.
 */
int	core_enroll_expiry_weeks(struct fp_ctx *, int64_t tenant_id,
	    int64_t *counts, int nweeks);

/* Devices per state (the six above) for the tenant, in that order. */
int	core_enroll_state_counts(struct fp_ctx *, int64_t tenant_id,
	    int64_t counts[6]);

/*
 * A certificate obtained elsewhere (a fleet moving from another
 * provisioning server) becomes the device's current one: 'chain_pem' leaf
 * first, for <device_id>.<enroll.domain>; 'key_pem' (PKCS#8 PEM, or
 * NULL when the device keeps its own key) must match it and is stored
 * sealed.  -FP_E_NOTFOUND, -FP_E_BADREQ saying what does not fit.
 */
int	core_enroll_import_cert(struct fp_ctx *, const struct tenant *t,
	    const char *device_id, const char *chain_pem, const char *key_pem,
	    struct fp_status *st);

/* ---- the device's requests (src/api/enroll.c) --------------------- */

struct enroll_request {
	const char *device_id;
	const char *secret;		/* X-Device-Secret */
	const char *hostname;		/* renew: must be the device's own */
	const char *csr_pem;		/* or NULL: a server-made key */
	int	renew;
};

/*
 * The answer: 'status' 200 with the certificate (and the key unless the
 * device sent a CSR), or 202 with 'retry_after_s' while the worker is
 * obtaining it.  Strings are malloc'd; enroll_answer_free wipes the key.
 */
struct enroll_answer {
	int	status;
	int	retry_after_s;
	char	*hostname;
	char	*chain_pem;
	char	*key_pem;
	int64_t	not_after_us;
	const char *message;		/* 202: what is happening */
};
void	enroll_answer_free(struct enroll_answer *);

/*
 * Register or renew.  -FP_E_UNAUTH for a wrong secret, an unknown or a
 * disabled device (one message for all three), -FP_E_RATELIMIT when the
 * id has failed too often lately, -FP_E_BADREQ for a hostname not the
 * device's own or a CSR refused (st says why), -FP_E_UNAVAILABLE when
 * the tenant has no enroll.domain or ACME CA configured.
 */
int	core_enroll_request(struct fp_ctx *, const struct enroll_request *,
	    struct enroll_answer *, struct fp_status *st);

#endif
