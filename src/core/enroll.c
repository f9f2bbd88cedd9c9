/*
 * core/enroll: device enrollment (core_enroll.h, sql/018).
 *
 * A device's request costs two round trips when it holds a certificate:
 * the pre-tenant lookup of its id, then one statement for its device,
 * certificate and open order.  Every way of failing to authenticate
 * (unknown id, wrong secret, disabled device) does the same work — an
 * HMAC, the lookup, a constant-time compare, the failure counted under
 * the id as sent — and gets the same 401, so the answer tells nothing
 * about which ids exist.  Too many failures for one id answer 429 for a
 * while, known id or not.
 *
 * What a request cannot answer at once (no certificate yet, or one due
 * for renewal) it records as an ACME order and a job for fleetpki-worker
 * in one transaction, and answers 202: no FastCGI worker ever waits on
 * the ACME CA.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "fleetpki/auth.h"
#include "fleetpki/core.h"
#include "fleetpki/core_enroll.h"
#include "fleetpki/log.h"
#include "fleetpki/pki.h"
#include "fleetpki/signer.h"
#include "fleetpki/store.h"
#include "fleetpki/store_enroll.h"
#include "fleetpki/util.h"

#define ENROLL_UNAUTHORIZED "Invalid device credentials."
/* Failures of one id within the window lock it for a window. */
#define ENROLL_FAIL_MAX 10
#define ENROLL_FAIL_WINDOW_S 900
/* Devices per import statement. */
#define ENROLL_IMPORT_BATCH 1000
/* A 202's Retry-After while an order runs, and after one failed. */
#define ENROLL_RETRY_S 10
#define ENROLL_FAILED_PAUSE_S 600
#define ENROLL_RETRY_MAX_S 3600
#define ENROLL_JOB_ATTEMPTS 8

int
enroll_id_valid(const char *id)
{
	size_t n = strlen(id), i;

	if (n < ENROLL_ID_MIN || n > ENROLL_ID_MAX || id[0] == '-' ||
	    id[n - 1] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') ||
		        (id[i] >= '0' && id[i] <= '9') || id[i] == '-'))
			return 0;
	return 1;
}

void
enroll_answer_free(struct enroll_answer *a)
{
	free(a->hostname);
	free(a->chain_pem);
	util_free_secret(a->key_pem);
	memset(a, 0, sizeof(*a));
}

/* A fresh secret and its HMAC under the pepper. */
static int
new_secret(struct fp_ctx *ctx, char secret[ENROLL_SECRET_LEN + 1],
    char hash[65])
{
	auth_random_token(secret, ENROLL_SECRET_LEN);
	return auth_api_token_hash(ctx, secret, hash);
}

/* ---- the operator's ---------------------------------------------- */

int
core_enroll_add(struct fp_ctx *ctx, const struct tenant *t,
    const char *device_id, char secret[ENROLL_SECRET_LEN + 1],
    struct fp_status *st)
{
	char hash[65];
	int rc;

	if (!enroll_id_valid(device_id))
		return fp_fail(st, FP_E_BADREQ,
		    "a device id is 5 to 63 lower-case letters, digits and "
		    "dashes, not starting or ending with a dash");
	if ((rc = new_secret(ctx, secret, hash)) != 0)
		goto out;
	rc = store_enroll_insert(ctx->db, t->id, device_id, hash);
	if (rc == -FP_E_CONFLICT)
		rc = fp_fail(st, FP_E_CONFLICT, "device id '%s' is taken",
		    device_id);
out:
	if (rc != 0)
		OPENSSL_cleanse(secret, ENROLL_SECRET_LEN + 1);
	return rc;
}

struct import_tx {
	struct fp_ctx *ctx;
	int64_t tenant_id;
	const char *const *ids;
	size_t n;
	int atomic;
	const struct enroll_import_cb *cb;
	/* per id: its secret (or NULL when refused) and why */
	char (*secrets)[ENROLL_SECRET_LEN + 1];
	const char **why;
	size_t failed;
};

/* One batch [from, to): syntax, then one statement for the good ids. */
static int
import_batch(struct db *db, struct import_tx *x, size_t from, size_t to)
{
	const char **ids = xcalloc(to - from, sizeof(*ids));
	const char **hashes = xcalloc(to - from, sizeof(*hashes));
	char(*hbuf)[65] = xcalloc(to - from, sizeof(*hbuf));
	size_t *pos = xcalloc(to - from, sizeof(*pos));
	bool *added = xcalloc(to - from + 1, sizeof(*added));
	size_t i, n = 0;
	int rc = 0;

	for (i = from; i < to; i++) {
		x->why[i] = NULL;
		if (!enroll_id_valid(x->ids[i])) {
			x->why[i] = "not a valid device id";
			continue;
		}
		if ((rc = new_secret(x->ctx, x->secrets[i], hbuf[n])) != 0)
			goto out;
		ids[n] = x->ids[i];
		hashes[n] = hbuf[n];
		pos[n++] = i;
	}
	if (n > 0 &&
	    (rc = store_enroll_import(db, x->tenant_id, ids, hashes, n,
	         added)) != 0)
		goto out;
	for (i = 0; i < n; i++)
		if (!added[i])
			x->why[pos[i]] = "device id taken (or given twice)";
	for (i = from; i < to; i++)
		if (x->why[i] != NULL) {
			OPENSSL_cleanse(x->secrets[i], sizeof(x->secrets[i]));
			x->failed++;
		}
out:
	OPENSSL_cleanse(hbuf, (to - from) * sizeof(*hbuf));
	free(hbuf);
	free(added);
	free(pos);
	free(hashes);
	free(ids);
	return rc;
}

static int
import_all(struct db *db, void *varg)
{
	struct import_tx *x = varg;
	size_t from;
	int rc;

	x->failed = 0;
	for (from = 0; from < x->n; from += ENROLL_IMPORT_BATCH) {
		size_t to = from + ENROLL_IMPORT_BATCH < x->n
		    ? from + ENROLL_IMPORT_BATCH
		    : x->n;

		if ((rc = import_batch(db, x, from, to)) != 0)
			return rc;
		if (x->cb->progress != NULL)
			x->cb->progress(x->cb->arg, to, x->n);
	}
	/* All or nothing: one refused id rolls the rest back. */
	return x->atomic && x->failed > 0 ? -FP_E_CONFLICT : 0;
}

int
core_enroll_import(struct fp_ctx *ctx, const struct tenant *t,
    const char *const *ids, size_t n, int atomic,
    const struct enroll_import_cb *cb, size_t *failed, struct fp_status *st)
{
	struct import_tx x;
	size_t i;
	int rc;

	memset(&x, 0, sizeof(x));
	x.ctx = ctx;
	x.tenant_id = t->id;
	x.ids = ids;
	x.n = n;
	x.atomic = atomic;
	x.cb = cb;
	x.secrets = xcalloc(n + 1, sizeof(*x.secrets));
	x.why = xcalloc(n + 1, sizeof(*x.why));
	/*
	 * Atomic: one transaction.  Else each batch commits on its own: a
	 * crash half-way keeps what was reported added.
	 */
	rc = atomic ? store_tx(ctx->db, import_all, &x)
	            : import_all(ctx->db, &x);
	if (rc == -FP_E_CONFLICT && atomic) {
		/* Nothing was added: every row says so. */
		for (i = 0; i < n; i++)
			if (cb->row != NULL)
				cb->row(cb->arg, i, NULL,
				    x.why[i] != NULL ? x.why[i]
				                     : "not added (--atomic: "
				                       "another row failed)");
		*failed = n;
		rc = 0;
	} else if (rc == 0) {
		for (i = 0; i < n; i++)
			if (cb->row != NULL)
				cb->row(cb->arg, i,
				    x.why[i] == NULL ? x.secrets[i] : NULL,
				    x.why[i]);
		*failed = x.failed;
	} else
		rc = fp_fail(st,
		    rc == -FP_E_UNAVAILABLE ? FP_E_UNAVAILABLE : FP_E_INTERNAL,
		    "the import failed; nothing was reported added");
	OPENSSL_cleanse(x.secrets, (n + 1) * sizeof(*x.secrets));
	free(x.secrets);
	free(x.why);
	return rc;
}

int
core_enroll_get(struct fp_ctx *ctx, int64_t tenant_id, const char *device_id,
    struct enroll_device *out)
{
	if (!enroll_id_valid(device_id))
		return -FP_E_NOTFOUND;
	return store_enroll_get(ctx->db, tenant_id, device_id, out);
}

int
core_enroll_list(struct fp_ctx *ctx, int64_t tenant_id,
    const struct enroll_query *q,
    void (*fn)(void *, const struct enroll_device *), void *arg, int *more,
    struct fp_status *st)
{
	static const char *const states[] = { "pending", "issuing", "issued",
		"renewing", "failed", "disabled" };
	size_t i;

	if (q->limit < 1 || q->limit > 1000)
		return fp_fail(st, FP_E_BADREQ, "a page has 1 to 1000 devices");
	if (q->state != NULL && q->state[0] != '\0') {
		for (i = 0; i < FP_ARRAY_LEN(states); i++)
			if (strcmp(states[i], q->state) == 0)
				break;
		if (i == FP_ARRAY_LEN(states))
			return fp_fail(st, FP_E_BADREQ,
			    "state is one of pending, issuing, issued, "
			    "renewing, failed, disabled");
	}
	if ((q->after != NULL && strlen(q->after) > ENROLL_ID_MAX) ||
	    (q->prefix != NULL && strlen(q->prefix) > ENROLL_ID_MAX))
		return fp_fail(st, FP_E_BADREQ,
		    "a device id is at most 63 "
		    "characters");
	return store_enroll_list(ctx->db, tenant_id, q, fn, arg, more);
}

int
core_enroll_set_enabled(struct fp_ctx *ctx, int64_t tenant_id,
    const char *device_id, int enabled, struct fp_status *st)
{
	int rc;

	rc = enroll_id_valid(device_id)
	    ? store_enroll_set_enabled(ctx->db, tenant_id, device_id,
	          enabled != 0)
	    : -FP_E_NOTFOUND;
	if (rc == -FP_E_NOTFOUND)
		return fp_fail(st, FP_E_NOTFOUND, "no device '%s'", device_id);
	return rc;
}

int
core_enroll_rotate(struct fp_ctx *ctx, int64_t tenant_id, const char *device_id,
    char secret[ENROLL_SECRET_LEN + 1], struct fp_status *st)
{
	char hash[65];
	int rc = -FP_E_NOTFOUND;

	if (enroll_id_valid(device_id) &&
	    (rc = new_secret(ctx, secret, hash)) == 0)
		rc = store_enroll_rotate(ctx->db, tenant_id, device_id, hash);
	if (rc != 0)
		OPENSSL_cleanse(secret, ENROLL_SECRET_LEN + 1);
	if (rc == -FP_E_NOTFOUND)
		return fp_fail(st, FP_E_NOTFOUND, "no device '%s'", device_id);
	return rc;
}

int
core_enroll_certs(struct fp_ctx *ctx, int64_t tenant_id, const char *device_id,
    int limit, void (*fn)(void *, const struct enroll_cert *), void *arg)
{
	return store_enroll_certs(ctx->db, tenant_id, device_id, limit, fn,
	    arg);
}

int
core_enroll_orders(struct fp_ctx *ctx, int64_t tenant_id, const char *device_id,
    int limit, void (*fn)(void *, const struct enroll_order *), void *arg)
{
	return store_enroll_orders(ctx->db, tenant_id, device_id, limit, fn,
	    arg);
}

int
core_enroll_expiry_weeks(struct fp_ctx *ctx, int64_t tenant_id, int64_t *counts,
    int nweeks)
{
	if (nweeks < 1 || nweeks > 520)
		return -FP_E_BADREQ;
	return store_enroll_expiry_weeks(ctx->db, tenant_id, counts, nweeks);
}

int
core_enroll_state_counts(struct fp_ctx *ctx, int64_t tenant_id,
    int64_t counts[6])
{
	return store_enroll_state_counts(ctx->db, tenant_id, counts);
}

int
core_enroll_import_cert(struct fp_ctx *ctx, const struct tenant *t,
    const char *device_id, const char *chain_pem, const char *key_pem,
    struct fp_status *st)
{
	struct enroll_device d;
	struct pki_leaf_info info;
	struct buf keyder = BUF_INIT, sealed = BUF_INIT, chain = BUF_INIT;
	EVP_PKEY *key = NULL;
	char *domain = NULL, hostname[256], aad[160];
	int rc;

	memset(&info, 0, sizeof(info));
	if ((rc = core_enroll_get(ctx, t->id, device_id, &d)) != 0) {
		if (rc == -FP_E_NOTFOUND)
			rc = fp_fail(st, FP_E_NOTFOUND, "no device '%s'",
			    device_id);
		goto out;
	}
	if ((rc = core_setting_str(ctx, t->id, "enroll.domain", &domain)) != 0)
		goto out;
	if (domain[0] == '\0') {
		rc =
		    fp_fail(st, FP_E_BADREQ, "the tenant has no enroll.domain");
		goto out;
	}
	snprintf(hostname, sizeof(hostname), "%s.%s", d.device_id, domain);
	if (key_pem != NULL &&
	    ((rc = pki_pem_decode(key_pem, strlen(key_pem), "PRIVATE KEY",
	          &keyder, st)) != 0 ||
	        (rc = pki_key_from_der(keyder.data, keyder.len, &key)) != 0)) {
		rc = fp_fail(st, FP_E_BADREQ,
		    "the key is no PKCS#8 PEM private key");
		goto out;
	}
	if ((rc = pki_chain_check(chain_pem, strlen(chain_pem), hostname, key,
	         &chain, &info, st)) != 0)
		goto out;
	if (info.not_after <= (int64_t)time(NULL)) {
		rc = fp_fail(st, FP_E_BADREQ, "the certificate has expired");
		goto out;
	}
	if (key != NULL) {
		/* Order 0: no order made it (core_enroll_request opens it so). */
		snprintf(aad, sizeof(aad), "enroll:%lld:%s:0", (long long)t->id,
		    d.device_id);
		if ((rc = signer_seal(ctx->signer, aad, keyder.data, keyder.len,
		         &sealed)) != 0) {
			rc = fp_fail(st, FP_E_INTERNAL,
			    "sealing the key failed");
			goto out;
		}
	}
	rc = store_enroll_cert_import(ctx->db, t->id, d.id, hostname,
	    (const char *)chain.data, &sealed, info.spki_sha256, info.serial,
	    info.not_before, info.not_after);
out:
	pki_leaf_info_clear(&info);
	EVP_PKEY_free(key);
	buf_free_secret(&keyder);
	buf_free(&sealed);
	buf_free(&chain);
	free(domain);
	return rc;
}

/* ---- the device's requests --------------------------------------- */

/*
 * The device's CSR: well-formed and policed as in the X.509 API
 * (pki_csr_parse_pem), for exactly its hostname (the ACME CA is asked
 * for that name and no other); its key's SPKI hash into 'spki'.
 */
static int
check_csr(const char *pem, const char *hostname, char spki[65],
    struct fp_status *st)
{
	struct pki_csr *req = NULL;
	struct pki_san *sans = NULL;
	size_t nsans = 0;
	char *cn = NULL;
	int rc;

	if ((rc = pki_csr_parse_pem(pem, strlen(pem), &req, st)) != 0)
		return rc;
	if ((rc = pki_csr_sans(req, &sans, &nsans, st)) != 0)
		goto out;
	cn = pki_csr_cn(req);
	if (nsans != 1 || sans[0].type != PKI_SAN_DNS ||
	    strcmp(sans[0].value, hostname) != 0 ||
	    (cn != NULL && strcmp(cn, hostname) != 0)) {
		rc = fp_fail(st, FP_E_BADREQ,
		    "the CSR must name exactly %s (one DNS subjectAltName; a CN, "
		    "if any, the same)",
		    hostname);
		goto out;
	}
	rc = pki_spki_sha256_hex(pki_csr_pubkey(req), spki);
out:
	free(cn);
	pki_sans_free(sans, nsans);
	pki_csr_free(req);
	return rc;
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The 200: the chain, and the server-made key unsealed to PEM. */
static int
answer_cert(struct fp_ctx *ctx, int64_t tenant_id,
    const struct enroll_state_rec *s, struct enroll_answer *a)
{
	struct buf der = BUF_INIT, pem = BUF_INIT;
	char aad[160];
	int rc = 0;

	if (s->key_sealed.len > 0) {
		snprintf(aad, sizeof(aad), "enroll:%lld:%s:%lld",
		    (long long)tenant_id, s->device_id,
		    (long long)s->cert_order_id);
		if ((rc = signer_unseal(ctx->signer, aad, s->key_sealed.data,
		         s->key_sealed.len, &der)) != 0 ||
		    (rc = pki_pem_encode("PRIVATE KEY", der.data, der.len,
		         &pem)) != 0) {
			log_err(
			    "enroll: the key of device %s (order %lld) does "
			    "not open",
			    s->device_id, (long long)s->cert_order_id);
			rc = -FP_E_INTERNAL;
			goto out;
		}
		a->key_pem = xstrdup((const char *)pem.data);
	}
	a->status = 200;
	a->chain_pem = xstrdup(s->chain_pem != NULL ? s->chain_pem : "");
	a->not_after_us = s->not_after_us;
out:
	buf_free_secret(&der);
	buf_free_secret(&pem);
	return rc;
}

struct order_tx {
	int64_t tenant_id;
	int64_t id;
	const char *kind;
	const char *hostname;
	const char *csr_pem;
	int64_t order_id;
};

/* The order and the worker's job, committed together or not at all. */
static int
order_open(struct db *db, void *varg)
{
	struct order_tx *o = varg;
	char key[24];
	int64_t job = 0;
	int rc;

	if ((rc = store_enroll_order_insert(db, o->tenant_id, o->id, o->kind,
	         o->hostname, o->csr_pem, &o->order_id)) != 0 ||
	    o->order_id == 0)
		return rc;
	snprintf(key, sizeof(key), "%lld", (long long)o->order_id);
	return store_job_enqueue(db, "acme.order", key, o->tenant_id, "{}", 0,
	    ENROLL_JOB_ATTEMPTS, &job);
}

static void
answer_wait(struct enroll_answer *a, int64_t until_us, int64_t now,
    const char *message)
{
	int64_t s = until_us > now ? (until_us - now + 999999) / 1000000 : 0;

	a->status = 202;
	a->retry_after_s = s < ENROLL_RETRY_S ? ENROLL_RETRY_S
	    : s > ENROLL_RETRY_MAX_S          ? ENROLL_RETRY_MAX_S
	                                      : (int)s;
	a->message = message;
}

/*
 * The device is authenticated and its tenant set: answer from what is
 * stored, or open an order.
 */
static int
enroll_answer(struct fp_ctx *ctx, const struct enroll_lookup_rec *lk,
    const struct enroll_request *r, struct enroll_answer *a,
    struct fp_status *st)
{
	struct enroll_state_rec s;
	struct order_tx o;
	char hostname[256], spki[65] = "";
	int64_t now = now_us();
	long long pct = 33;
	int rc, have, key_ok;

	if ((rc = store_enroll_state(ctx->db, lk->tenant_id, lk->id, &s)) != 0)
		goto out;
	if (s.domain[0] == '\0' || !s.has_directory) {
		rc = fp_fail(st, FP_E_UNAVAILABLE,
		    "device enrollment is not configured for this device's "
		    "tenant (enroll.domain, acme.directory_url)");
		goto out;
	}
	snprintf(hostname, sizeof(hostname), "%s.%s", s.device_id, s.domain);
	if (r->renew &&
	    (r->hostname == NULL || strcmp(r->hostname, hostname) != 0)) {
		rc = fp_fail(st, FP_E_BADREQ,
		    "hostname is not this device's own");
		goto out;
	}
	if (r->csr_pem != NULL &&
	    (rc = check_csr(r->csr_pem, hostname, spki, st)) != 0)
		goto out;
	a->hostname = xstrdup(hostname);

	have = s.cert_id != 0 && s.not_after_us > now;
	key_ok = r->csr_pem != NULL ? strcmp(spki, s.spki_sha256) == 0
	                            : s.key_sealed.len > 0;
	if (have && key_ok) {
		int64_t life = s.not_after_us - s.not_before_us;

		/*
		 * Register is idempotent: the same certificate while it is
		 * valid.  Renew answers it too unless it is in its renewal
		 * window (the worker renews before devices ask; this is the
		 * device that asked first).
		 */
		if (r->renew &&
		    (rc = core_setting_int(ctx, lk->tenant_id,
		         "enroll.renew_percent", &pct)) != 0)
			goto out;
		if (!r->renew || life <= 0 ||
		    (s.not_after_us - now) * 100 >= life * (int64_t)pct) {
			rc = answer_cert(ctx, lk->tenant_id, &s, a);
			goto out;
		}
	}
	if (s.order_id != 0) {
		answer_wait(a, s.order_retry_us, now,
		    "the certificate is being obtained; call again");
		goto out;
	}
	if (s.failed_us != 0 &&
	    now - s.failed_us < (int64_t)ENROLL_FAILED_PAUSE_S * 1000000) {
		answer_wait(a, s.failed_us + ENROLL_FAILED_PAUSE_S * 1000000LL,
		    now,
		    "obtaining the certificate failed; it will be tried again "
		    "later");
		goto out;
	}
	memset(&o, 0, sizeof(o));
	o.tenant_id = lk->tenant_id;
	o.id = lk->id;
	o.kind = have ? "renew" : "new";
	o.hostname = hostname;
	o.csr_pem = r->csr_pem;
	if ((rc = store_tx(ctx->db, order_open, &o)) != 0)
		goto out;
	answer_wait(a, 0, now, "the certificate is being obtained; call again");
out:
	enroll_state_rec_clear(&s);
	return rc;
}

int
core_enroll_request(struct fp_ctx *ctx, const struct enroll_request *r,
    struct enroll_answer *a, struct fp_status *st)
{
	/* What an unknown id is compared against: no secret hashes to it. */
	static const char nobody[65] = "00000000000000000000000000000000"
	                               "00000000000000000000000000000000";
	struct enroll_lookup_rec lk;
	char hash[65];
	bool locked = false;
	int rc, ok;

	memset(a, 0, sizeof(*a));
	if ((rc = auth_api_token_hash(ctx, r->secret != NULL ? r->secret : "",
	         hash)) != 0)
		return rc;
	if ((rc = store_enroll_lookup(ctx->db, r->device_id, &lk)) != 0)
		goto out;
	if (lk.locked) {
		rc = fp_fail(st, FP_E_RATELIMIT,
		    "too many failed attempts for this device; try again later");
		goto out;
	}
	ok = CRYPTO_memcmp(hash, lk.tenant_id != 0 ? lk.secret_hash : nobody,
	         64) == 0;
	if (!ok || lk.tenant_id == 0 || !lk.enabled || r->secret == NULL) {
		if ((rc = store_enroll_failed(ctx->db, r->device_id,
		         ENROLL_FAIL_MAX, ENROLL_FAIL_WINDOW_S, &locked)) != 0)
			goto out;
		rc = fp_fail(st, locked ? FP_E_RATELIMIT : FP_E_UNAUTH,
		    locked ? "too many failed attempts for this device; try "
		             "again later"
		           : ENROLL_UNAUTHORIZED);
		goto out;
	}
	/* From here on the request is the device's tenant's (RLS). */
	store_set_tenant(ctx->db, lk.tenant_id);
	if (lk.failures > 0 &&
	    (rc = store_enroll_succeeded(ctx->db, r->device_id)) != 0)
		goto out;
	rc = enroll_answer(ctx, &lk, r, a, st);
out:
	OPENSSL_cleanse(hash, sizeof(hash));
	OPENSSL_cleanse(&lk, sizeof(lk));
	if (rc != 0)
		enroll_answer_free(a);
	return rc;
}
