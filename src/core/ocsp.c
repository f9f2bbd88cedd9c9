/*
 * core/ocsp: the OCSP responder (RFC 6960) for every CA of every tenant.
 *
 * Per request: parse, find the issuer by its key hash (SHA-1, the CA's
 * SKI, as RFC 5019 clients send; or SHA-256, SHA-384, SHA-512, as other
 * libraries do, kept beside the CA),
 * read the status of the asked serials (one indexed query), and sign.
 * Signing is the expensive part, so a worker keeps the signed answer to
 * a nonce-less request and serves it again while it is at most half its
 * validity old and the statuses it states are still the statuses read
 * now: a revocation changes the status read, so it is never hidden.
 *
 * A CA with a delegated responder (sql/025) has its answers signed by
 * the responder's key, which the worker process holds (opened through
 * the signer when the issuer is looked up): the CA key then signs
 * rarely, and an answer costs no round trip to the signer.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/ocsp.h>

#include "fleetpki/config.h"
#include "fleetpki/core.h"
#include "fleetpki/log.h"
#include "fleetpki/metrics.h"
#include "fleetpki/pki.h"
#include "fleetpki/signer.h"
#include "fleetpki/store.h"
#include "fleetpki/util.h"

#include "core_internal.h"

#define ISSUER_CACHE 256
#define ISSUER_TTL 30 /* seconds: tenant settings are re-read */
#define ANSWER_CACHE 512

/*
 * How a CertID names its issuer: "<alg>:<issuerKeyHash in hex>", the
 * SHA-1 one being the CA's key identifier.
 */
#define ISSUER_KEY_LEN (7 + 128 + 1)

/*
 * A CA as OCSP sees it: found by key hash, with its validity setting
 * and its delegated responder, if it has one (responder.key NULL: the
 * CA signs).
 */
struct issuer {
	char key[ISSUER_KEY_LEN];
	int64_t tenant_id;
	int64_t ca_id;
	int64_t validity;
	struct pki_ca responder;
	int64_t responder_until;
	time_t at;
};

/* A signed answer, keyed by the request bytes and the statuses. */
struct answer {
	unsigned char req_hash[32];
	char *statuses; /* what the answer says, as text */
	int64_t this_update;
	int64_t next_update;
	struct buf der;
};

static struct issuer issuers[ISSUER_CACHE];

static void
issuer_clear(struct issuer *e)
{
	X509_free(e->responder.cert);
	EVP_PKEY_free(e->responder.key);
	memset(e, 0, sizeof(*e));
}

static char *
responder_aad(int64_t tenant_id, const char *ca_public_id, const char *serial)
{
	return xasprintf("ocsp-responder:%lld:%s:%s", (long long)tenant_id,
	    ca_public_id, serial);
}

/*
 * The CA's current delegated responder into 'e' (none: left empty).
 * Its key is opened here, through the signer, and kept by this process
 * until the entry is looked up again.
 */
static int
responder_load(struct fp_ctx *ctx, const struct ca_rec *ca, struct issuer *e)
{
	struct ocsp_responder_rec r;
	struct buf der = BUF_INIT;
	char *aad = NULL;
	int rc;

	rc = store_ocsp_responder_current(ctx->db, ca->tenant_id, ca->id, &r);
	if (rc == -FP_E_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	aad = responder_aad(ca->tenant_id, ca->public_id, r.serial);
	if ((rc = signer_unseal(ctx->signer, aad, r.key_sealed.data,
	         r.key_sealed.len, &der)) != 0 ||
	    (rc = pki_key_from_der(der.data, der.len, &e->responder.key)) !=
	        0 ||
	    (rc = pki_cert_from_der(r.cert_der.data, r.cert_der.len,
	         &e->responder.cert)) != 0) {
		log_err("CA %lld: its OCSP responder %s cannot be opened; "
		        "the CA signs",
		    (long long)ca->id, r.serial);
		X509_free(e->responder.cert);
		EVP_PKEY_free(e->responder.key);
		e->responder.cert = NULL;
		e->responder.key = NULL;
		rc = rc == -FP_E_UNAVAILABLE ? rc : 0;
	} else
		e->responder_until = r.not_after;
	buf_free_secret(&der);
	free(aad);
	ocsp_responder_rec_clear(&r);
	return rc;
}
static size_t issuer_next;
static struct answer answers[ANSWER_CACHE];

void
core_ocsp_invalidate(struct fp_ctx *ctx)
{
	const char *dir = ctx->cfg->ocsp_cache_dir;
	size_t i;
	int n;

	/* Correctness never depended on it (statuses are re-read); memory. */
	for (i = 0; i < ANSWER_CACHE; i++) {
		free(answers[i].statuses);
		buf_free(&answers[i].der);
		memset(&answers[i], 0, sizeof(answers[i]));
	}
	/*
	 * nginx's copies are not re-read: remove them all (revocations are
	 * rare next to OCSP requests), so the next request reaches us.  An
	 * answer signed just before the revocation may land after this; the
	 * nginx config keeps answers for one second, which bounds that.
	 */
	if (dir[0] == '\0')
		return;
	if ((n = util_empty_dir(dir, 2)) < 0)
		log_err("ocsp_cache_dir %s: %s; nginx may answer from its "
		        "cache for up to a second",
		    dir, strerror(errno));
	else
		log_debug("emptied nginx's OCSP cache (%d answers)", n);
}

void
core_ocsp_result_clear(struct core_ocsp_result *r)
{
	if (r == NULL)
		return;
	buf_free(&r->der);
	memset(r, 0, sizeof(*r));
}

/*
 * The issuer whose key hashes, under 'alg', to 'hash', from the cache
 * or the store.  OCSP has no tenant until here: the issuer's becomes the
 * request's (the store reads the CA, its settings and the statuses under
 * it).  SHA-1 is the CA's key identifier; the SHA-2 hashes are kept
 * beside the CA (sql/009).
 */
static int
issuer_find(struct fp_ctx *ctx, const char *alg, const char *hash,
    const struct issuer **out)
{
	struct ca_rec rec = { 0 };
	struct issuer *e;
	long long validity;
	int64_t tenant_id, ca_id;
	char key[ISSUER_KEY_LEN];
	time_t now = util_now();
	size_t i;
	int rc;

	snprintf(key, sizeof(key), "%s:%s", alg, hash);
	for (i = 0; i < ISSUER_CACHE; i++) {
		if (issuers[i].at != 0 && now - issuers[i].at < ISSUER_TTL &&
		    strcmp(issuers[i].key, key) == 0) {
			*out = &issuers[i];
			store_set_tenant(ctx->db, issuers[i].tenant_id);
			return 0;
		}
	}
	if (strcmp(alg, "sha1") == 0) {
		if ((rc = store_ca_tenant_by_key_id(ctx->db, hash,
		         &tenant_id)) != 0)
			goto out;
		store_set_tenant(ctx->db, tenant_id);
		rc = store_ca_by_key_id(ctx->db, tenant_id, hash, &rec);
	} else {
		if ((rc = store_ca_by_key_hash(ctx->db, alg, hash, &tenant_id,
		         &ca_id)) != 0)
			goto out;
		store_set_tenant(ctx->db, tenant_id);
		rc = store_ca_by_id(ctx->db, tenant_id, ca_id, &rec);
	}
	if (rc != 0)
		goto out;
	if ((rc = core_setting_int(ctx, rec.tenant_id, "ocsp.validity",
	         &validity)) != 0)
		goto out;
	/* A stale entry of this issuer goes; its slot is reused first. */
	for (i = 0; i < ISSUER_CACHE; i++)
		if (issuers[i].at != 0 && strcmp(issuers[i].key, key) == 0)
			break;
	e = i < ISSUER_CACHE ? &issuers[i]
	                     : &issuers[issuer_next++ % ISSUER_CACHE];
	issuer_clear(e);
	if ((rc = responder_load(ctx, &rec, e)) != 0)
		goto out;
	memcpy(e->key, key, sizeof(key));
	e->tenant_id = rec.tenant_id;
	e->ca_id = rec.id;
	e->validity = validity;
	e->at = now;
	*out = e;
out:
	ca_rec_clear(&rec);
	return rc;
}

/* An OCSP-level error response (the HTTP answer is still 200). */
static int
answer_error(int status, struct core_ocsp_result *out)
{
	metrics_ocsp(status == OCSP_RESPONSE_STATUS_MALFORMEDREQUEST
	        ? METRICS_OCSP_MALFORMED
	        : status == OCSP_RESPONSE_STATUS_UNAUTHORIZED
	        ? METRICS_OCSP_UNAUTHORIZED
	        : status == OCSP_RESPONSE_STATUS_TRYLATER
	        ? METRICS_OCSP_TRYLATER
	        : METRICS_OCSP_INTERNAL);
	out->max_age = 0;
	return pki_ocsp_error(status, &out->der);
}

static void
etag_of(const struct buf *der, char etag[36])
{
	char hex[EVP_MAX_MD_SIZE * 2 + 1];

	if (pki_digest_hex("sha256", der->data, der->len, hex) != 0)
		hex[0] = '\0';
	snprintf(etag, 36, "\"%.32s\"", hex);
}

int
core_ocsp_answer(struct fp_ctx *ctx, const unsigned char *der, size_t len,
    struct core_ocsp_result *out)
{
	struct pki_ocsp_answer ans[PKI_OCSP_MAX_CERTS];
	char serials[PKI_OCSP_MAX_CERTS][PKI_SERIAL_HEX_LEN];
	const char *sp[PKI_OCSP_MAX_CERTS];
	char hash[129], first_hash[129];
	const char *alg, *first_alg = NULL;
	struct pki_ocsp_req *req = NULL;
	struct ocsp_status_rec *st = NULL;
	const struct issuer *iss;
	const struct core_ca *ca;
	struct buf statuses = BUF_INIT;
	struct answer *slot = NULL;
	unsigned char req_hash[32];
	int64_t now = util_now(), next;
	size_t n, nq, nst = 0, i, j;
	int rc, nonce;

	memset(out, 0, sizeof(*out));
	if (pki_ocsp_req_parse(der, len, &req) != 0) {
		rc = answer_error(OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, out);
		goto out;
	}
	n = pki_ocsp_req_count(req);
	/* One signature answers one issuer: every CertID must name it. */
	for (i = 0; i < n; i++) {
		if (pki_ocsp_req_key_hash(req, i, &alg, hash) != 0 ||
		    (i > 0 &&
		        (strcmp(alg, first_alg) != 0 ||
		            strcmp(hash, first_hash) != 0))) {
			rc = answer_error(OCSP_RESPONSE_STATUS_UNAUTHORIZED,
			    out);
			goto out;
		}
		if (i == 0) {
			first_alg = alg;
			memcpy(first_hash, hash, sizeof(first_hash));
		}
		/*
		 * A serial we could never have issued (negative, over 20
		 * bytes) is simply unknown; it is not looked up.
		 */
		if (pki_ocsp_req_serial_hex(req, i, serials[i]) != 0)
			serials[i][0] = '\0';
	}
	for (i = 0, nq = 0; i < n; i++)
		if (serials[i][0] != '\0')
			sp[nq++] = serials[i];
	rc = issuer_find(ctx, first_alg, first_hash, &iss);
	if (rc == 0)
		rc = core_ca_get(ctx, iss->tenant_id, iss->ca_id, &ca);
	if (rc == -FP_E_NOTFOUND) {
		rc = answer_error(OCSP_RESPONSE_STATUS_UNAUTHORIZED, out);
		goto out;
	}
	if (rc != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (!pki_ocsp_req_issued_by(req, i, core_ca_pki(ca)->cert)) {
			rc = answer_error(OCSP_RESPONSE_STATUS_UNAUTHORIZED,
			    out);
			goto out;
		}
	}
	if (nq > 0 &&
	    (rc = store_ocsp_status(ctx->db, iss->ca_id, sp, nq, &st, &nst)) !=
	        0)
		goto out;
	/* Never "good" for a serial this CA did not issue. */
	for (i = 0; i < n; i++) {
		ans[i].status = PKI_OCSP_UNKNOWN;
		ans[i].revoked_at = 0;
		ans[i].reason = -1;
		for (j = 0; serials[i][0] != '\0' && j < nst; j++) {
			if (strcmp(st[j].serial, serials[i]) != 0)
				continue;
			ans[i].status = st[j].revoked_at != 0 ? PKI_OCSP_REVOKED
			                                      : PKI_OCSP_GOOD;
			ans[i].revoked_at = st[j].revoked_at;
			ans[i].reason = st[j].reason;
		}
		buf_printf(&statuses, "%d:%lld:%d;", (int)ans[i].status,
		    (long long)ans[i].revoked_at, ans[i].reason);
	}

	nonce = pki_ocsp_req_has_nonce(req);
	if (!nonce) {
		/* The slot this request maps to; a hit if it says the same. */
		if (EVP_Digest(der, len, req_hash, NULL, EVP_sha256(), NULL) !=
		    1) {
			log_ossl_errors("EVP_Digest");
			rc = -FP_E_INTERNAL;
			goto out;
		}
		slot =
		    &answers[(req_hash[0] | req_hash[1] << 8) % ANSWER_CACHE];
		if (slot->statuses != NULL &&
		    memcmp(slot->req_hash, req_hash, 32) == 0 &&
		    strcmp(slot->statuses, (const char *)statuses.data) == 0 &&
		    now < slot->this_update + iss->validity / 2) {
			buf_append(&out->der, slot->der.data, slot->der.len);
			out->max_age = slot->next_update - now;
			goto done;
		}
	}
	/*
	 * Backdate a little for clients whose clocks run slow.  Never valid
	 * past the responder's certificate: clients would refuse it then.
	 */
	next = now + iss->validity;
	if (iss->responder.key != NULL && next > iss->responder_until)
		next = iss->responder_until;
	if ((rc = pki_ocsp_respond_by(core_ca_pki(ca),
	         iss->responder.key != NULL ? &iss->responder : NULL, req, ans,
	         now - 60, next, &out->der)) != 0) {
		rc = signer_why(ctx->signer, rc);
		goto out;
	}
	out->max_age = nonce ? 0 : next - now;
	if (slot != NULL) {
		free(slot->statuses);
		memcpy(slot->req_hash, req_hash, 32);
		slot->statuses = buf_steal(&statuses, NULL);
		slot->this_update = now;
		slot->next_update = next;
		buf_reset(&slot->der);
		buf_append(&slot->der, out->der.data, out->der.len);
	}
done:
	/* What was answered, per certificate (from the cache too). */
	for (i = 0; i < n; i++)
		metrics_ocsp(ans[i].status == PKI_OCSP_GOOD ? METRICS_OCSP_GOOD
		        : ans[i].status == PKI_OCSP_REVOKED
		        ? METRICS_OCSP_REVOKED
		        : METRICS_OCSP_UNKNOWN);
	etag_of(&out->der, out->etag);
	/*
	 * nginx may keep what a revocation can take back from it: only when
	 * this host empties nginx's OCSP cache on revocation (invalidate).
	 */
	out->shared = out->max_age > 0 && ctx->cfg->ocsp_cache_dir[0] != '\0';
	rc = 0;
out:
	if (rc == -FP_E_UNAVAILABLE) {
		buf_reset(&out->der);
		(void)answer_error(OCSP_RESPONSE_STATUS_TRYLATER, out);
	}
	pki_ocsp_req_free(req);
	free(st);
	buf_free(&statuses);
	return rc;
}

/* ---- delegated responders (sql/025) ------------------------------ */

struct responder_tx {
	const struct ocsp_responder_rec *rec;
	int64_t deleted;
};

static int
responder_tx(struct db *db, void *varg)
{
	struct responder_tx *a = varg;
	int rc;

	if ((rc = store_ocsp_responder_insert(db, a->rec)) != 0)
		return rc;
	return store_ocsp_responder_delete(db, a->rec->tenant_id, a->rec->ca_id,
	    false, &a->deleted);
}

int
core_ocsp_responder_issue(struct fp_ctx *ctx, int64_t tenant_id, int64_t ca_id,
    char serial[41], int64_t *not_after, struct fp_status *st)
{
	struct ocsp_responder_rec rec;
	struct responder_tx tx;
	struct buf keyder = BUF_INIT;
	const struct core_ca *ca;
	const char *alg;
	long long days;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char *aad = NULL;
	int rc;

	memset(&rec, 0, sizeof(rec));
	store_set_tenant(ctx->db, tenant_id);
	if ((rc = core_ca_get(ctx, tenant_id, ca_id, &ca)) != 0 ||
	    (rc = core_setting_int(ctx, tenant_id, "ocsp.responder_days",
	         &days)) != 0)
		goto out;
	if ((alg = pki_cert_key_alg(core_ca_pki(ca)->cert)) == NULL) {
		rc = fp_fail(st, FP_E_INTERNAL,
		    "the CA's key is of no type fleetpki makes");
		goto out;
	}
	if ((rc = pki_key_generate(alg, &key, st)) != 0 ||
	    (rc = pki_issue_ocsp_responder(core_ca_pki(ca), key, (int)days,
	         &cert, st)) != 0 ||
	    (rc = pki_cert_to_der(cert, &rec.cert_der)) != 0 ||
	    (rc = pki_cert_serial_hex(cert, rec.serial)) != 0 ||
	    (rc = pki_cert_validity(cert, &rec.not_before, &rec.not_after)) !=
	        0 ||
	    (rc = pki_key_to_der(key, &keyder)) != 0)
		goto out;
	aad = responder_aad(tenant_id, core_ca_public_id(ca), rec.serial);
	if ((rc = signer_seal(ctx->signer, aad, keyder.data, keyder.len,
	         &rec.key_sealed)) != 0)
		goto out;
	rec.tenant_id = tenant_id;
	rec.ca_id = ca_id;
	tx.rec = &rec;
	tx.deleted = 0;
	if ((rc = store_tx(ctx->db, responder_tx, &tx)) != 0)
		goto out;
	snprintf(serial, 41, "%s", rec.serial);
	*not_after = rec.not_after;
	log_info("CA %lld of tenant %lld: OCSP responder %s until %lld "
	         "(%lld expired deleted)",
	    (long long)ca_id, (long long)tenant_id, rec.serial,
	    (long long)rec.not_after, (long long)tx.deleted);
out:
	EVP_PKEY_free(key);
	X509_free(cert);
	buf_free_secret(&keyder);
	free(aad);
	ocsp_responder_rec_clear(&rec);
	return rc;
}

int
core_ocsp_responder_off(struct fp_ctx *ctx, int64_t tenant_id, int64_t ca_id,
    int64_t *deleted)
{
	store_set_tenant(ctx->db, tenant_id);
	return store_ocsp_responder_delete(ctx->db, tenant_id, ca_id, true,
	    deleted);
}

int
core_ocsp_responders_renew(struct fp_ctx *ctx, int *issued)
{
	struct fp_status st = { FP_E_OK, "" };
	struct ca_ref *due = NULL;
	char serial[41];
	int64_t until;
	size_t n = 0, i;
	int rc, first = 0;

	*issued = 0;
	store_set_tenant(ctx->db, 0);
	if ((rc = store_ocsp_responders_due(ctx->db, &due, &n)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		st.code = FP_E_OK;
		st.msg[0] = '\0';
		rc = core_ocsp_responder_issue(ctx, due[i].tenant_id, due[i].id,
		    serial, &until, &st);
		if (rc == 0) {
			(*issued)++;
			continue;
		}
		/* One CA's failure does not hold back the others. */
		log_err("CA %lld of tenant %lld: next OCSP responder: %s",
		    (long long)due[i].id, (long long)due[i].tenant_id,
		    st.msg[0] != '\0' ? st.msg : fp_err_default(rc));
		if (first == 0)
			first = rc;
	}
	store_set_tenant(ctx->db, 0);
	free(due);
	return first;
}
