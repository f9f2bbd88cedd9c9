/*
 * core/certs: issuing and removing device certificates.
 *
 * Order (SECURITY.md): police the request, sign, store, and answer only
 * after the commit.  The serial is drawn fresh for every attempt, and
 * the store's unique (ca_id, serial) index is what guarantees
 * uniqueness: on the astronomically rare collision we sign again.
 */
#include "config.h"

#include <ctype.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleetpki/config.h"
#include "fleetpki/core.h"
#include "fleetpki/log.h"
#include "fleetpki/metrics.h"
#include "fleetpki/pki.h"
#include "fleetpki/signer.h"
#include "fleetpki/store.h"
#include "fleetpki/util.h"

#include "core_internal.h"

#define ISSUE_ATTEMPTS 4
/* RFC 5280 CRLReason superseded: what the identity API's DELETE means. */
#define REASON_SUPERSEDED 4

/* The associated data a certificate's server-made key is sealed with. */
char *
core_cert_key_aad(int64_t tenant_id, int64_t ca_id, const char *serial)
{
	return xasprintf("cert:%lld:%lld:%s", (long long)tenant_id,
	    (long long)ca_id, serial);
}

int
core_idem_replay(struct fp_ctx *ctx, int64_t tenant_id, struct core_idem *idem,
    struct cert_rec *out, struct fp_status *st)
{
	char hash[65];
	bool live;
	int rc;

	if (idem == NULL || idem->key == NULL)
		return -FP_E_NOTFOUND;
	rc = store_idem_get(ctx->db, tenant_id, idem->key, CORE_IDEM_TTL, hash,
	    &live, out);
	if (rc != 0)
		return rc;
	if (!live) {
		/* A day old: the key is the client's to use afresh. */
		cert_rec_clear(out);
		rc = store_idem_expire(ctx->db, tenant_id, idem->key,
		    CORE_IDEM_TTL);
		return rc != 0 ? rc : -FP_E_NOTFOUND;
	}
	if (strcmp(hash, idem->hash) != 0) {
		cert_rec_clear(out);
		return fp_fail(st, FP_E_UNPROCESSABLE,
		    "This Idempotency-Key was used with a different request.");
	}
	idem->replayed = 1;
	log_info("replayed certificate %s for an Idempotency-Key",
	    out->fingerprint);
	return 0;
}

int
core_issue_and_store(struct fp_ctx *ctx, const struct core_ca *ca,
    int64_t tenant_id, int64_t user_id, EVP_PKEY *pub, EVP_PKEY *priv,
    const struct pki_profile *prof, struct core_idem *idem,
    struct cert_rec *out, struct fp_status *st)
{
	struct buf der = BUF_INIT, pem = BUF_INIT, keyder = BUF_INIT;
	X509 *cert = NULL;
	char *aad = NULL;
	int rc = -FP_E_INTERNAL, attempt;

	if (priv != NULL && (rc = pki_key_to_der(priv, &keyder)) != 0)
		goto out;
	for (attempt = 0; attempt < ISSUE_ATTEMPTS; attempt++) {
		X509_free(cert);
		cert = NULL;
		cert_rec_clear(out);
		buf_reset(&der);
		buf_reset(&pem);
		if ((rc = pki_issue(core_ca_pki(ca), pub, prof, &cert, st)) !=
		    0) {
			rc = signer_why(ctx->signer, rc); /* 503: no signer */
			goto out;
		}
		if ((rc = pki_cert_to_der(cert, &der)) != 0 ||
		    (rc = pki_cert_to_pem(cert, &pem)) != 0 ||
		    (rc = pki_cert_serial_hex(cert, out->serial)) != 0 ||
		    (rc = pki_cert_validity(cert, &out->not_before,
		         &out->not_after)) != 0)
			goto out;
		pki_fingerprint(der.data, der.len, out->fingerprint);
		if ((out->subject = pki_cert_subject(cert)) == NULL) {
			rc = -FP_E_INTERNAL;
			goto out;
		}
		out->pem = buf_steal(&pem, NULL);
		out->tenant_id = tenant_id;
		out->ca_id = core_ca_id(ca);
		out->user_id = user_id;
		out->issued_by_pki = true;
		/* The key is bound to the row it belongs to, serial included. */
		if (priv != NULL) {
			free(aad);
			aad = core_cert_key_aad(tenant_id, out->ca_id,
			    out->serial);
			if ((rc = signer_seal(ctx->signer, aad, keyder.data,
			         keyder.len, &out->key_sealed)) != 0)
				goto out;
		}
		rc = store_cert_insert(ctx->db, out,
		    idem != NULL ? idem->key : NULL,
		    idem != NULL ? idem->hash : NULL);
		if (rc != -FP_E_CONFLICT)
			break;
		/*
		 * Either the serial collided or a twin request under the same
		 * Idempotency-Key committed first: then its answer is ours.
		 */
		cert_rec_clear(out);
		if ((rc = core_idem_replay(ctx, tenant_id, idem, out, st)) !=
		    -FP_E_NOTFOUND)
			goto out;
		rc = -FP_E_CONFLICT;
		log_warn("serial collided; signing again");
	}
	if (rc == 0) {
		out->ca_fingerprint = xstrdup(core_ca_fingerprint(ca));
		metrics_issued();
		log_info("issued certificate %s serial %s", out->fingerprint,
		    out->serial);
	}
out:
	if (rc != 0)
		cert_rec_clear(out);
	X509_free(cert);
	free(aad);
	buf_free(&der);
	buf_free(&pem);
	buf_free_secret(&keyder);
	return rc;
}

int
core_idem_prune(struct fp_ctx *ctx)
{
	return store_idem_prune(ctx->db, CORE_IDEM_TTL);
}

int
core_issue_device_csr(struct fp_ctx *ctx, const struct tenant *t,
    const char *csr_pem, size_t len, struct core_idem *idem,
    struct cert_rec *out, struct fp_status *st)
{
	const struct core_ca *ca;
	struct pki_profile prof;
	struct pki_csr *req = NULL;
	char *cn = NULL, *subject_cn = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	/* A retry answers what the first try issued, before any work. */
	if ((rc = core_idem_replay(ctx, t->id, idem, out, st)) !=
	    -FP_E_NOTFOUND)
		goto out;
	if ((rc = pki_csr_parse_pem(csr_pem, len, &req, st)) != 0)
		goto out;
	if ((rc = pki_csr_subject_cn_only(req, &cn, st)) != 0)
		goto out;
	if ((rc = core_ca_signer(ctx, t, &ca)) != 0)
		goto out;
	/* The subject is rebuilt, never copied: CN=<tenant>:<CN>. */
	subject_cn = xasprintf("%s:%s", t->name, cn);
	memset(&prof, 0, sizeof(prof));
	prof.subject.o = "fleetpki";
	prof.subject.cn = subject_cn;
	prof.eku = PKI_EKU_CLIENT;
	prof.days = ctx->cfg->cert_days;
	prof.crl_url = core_ca_crl_url(ca);
	prof.delta_url = core_ca_delta_url(ca);
	prof.ocsp_url = core_ca_ocsp_url(ca);
	rc = core_issue_and_store(ctx, ca, t->id, 0, pki_csr_pubkey(req), NULL,
	    &prof, idem, out, st);
out:
	pki_csr_free(req);
	free(cn);
	free(subject_cn);
	return rc;
}

int
core_cert_delete(struct fp_ctx *ctx, const struct tenant *t,
    const char *fingerprint)
{
	struct cert_rec rec = { 0 };
	int rc;

	if ((rc = store_cert_remove(ctx->db, t->id, fingerprint,
	         REASON_SUPERSEDED, &rec)) != 0)
		goto out;
	log_info("revoked certificate %s serial %s", fingerprint, rec.serial);
	core_ocsp_invalidate(ctx);
	/*
	 * The revocation is committed and OCSP shows it from now on; the
	 * worker issues the CRL within seconds.  Should queueing fail, the
	 * revocation still stands and the worker's scheduled pass finds the
	 * CA due (sql/014), so the caller still succeeds.
	 */
	if (core_crl_soon(ctx) != 0)
		log_err("CRL job after revoking %s not queued; the scheduled "
		        "refresh will issue it",
		    rec.serial);
out:
	cert_rec_clear(&rec);
	return rc;
}

/* The tenant's CA named 'name'. */
int
core_ca_by_name(struct fp_ctx *ctx, const struct tenant *t, const char *name,
    int64_t *id, struct fp_status *st)
{
	struct ca_rec *cas = NULL;
	size_t n = 0, i;
	int rc;

	if ((rc = store_ca_list(ctx->db, t->id, &cas, &n)) != 0)
		return rc;
	for (i = 0; i < n; i++)
		if (strcmp(cas[i].name, name) == 0)
			break;
	if (i < n)
		*id = cas[i].id;
	store_ca_list_free(cas, n);
	if (i == n)
		return fp_fail(st, FP_E_NOTFOUND, "tenant '%s' has no CA '%s'",
		    t->name, name);
	return 0;
}

/*
 * A serial as the store keeps it (pki_serial_to_hex: the integer's
 * bytes without leading zero bytes, upper-case hex) into 'out' (41
 * bytes), from any case, colons or none, leading zeros or none; or -1.
 */
static int
serial_canon(const char *in, char out[41])
{
	char digits[41];
	size_t n = 0, skip = 0;

	for (; *in != '\0'; in++) {
		if (*in == ':')
			continue;
		if (!isxdigit((unsigned char)*in))
			return -1;
		if (n == 0 && *in == '0') {
			skip++;
			continue;
		}
		if (n == 40)
			return -1;
		digits[n++] = (char)toupper((unsigned char)*in);
	}
	if (n == 0 && skip == 0)
		return -1;
	if (n % 2 == 1 || n == 0) {
		if (n == 40)
			return -1;
		out[0] = '0';
		memcpy(out + 1, digits, n);
		n++;
		if (n == 1)
			out[n++] = '0';
	} else {
		memcpy(out, digits, n);
	}
	out[n] = '\0';
	return 0;
}

static void
report_add(struct core_revoke_report *rep, const struct revoke_batch *b)
{
	const char *p = b->missing, *e;

	rep->revoked += b->revoked;
	rep->already += b->already;
	while (p != NULL && *p != '\0') {
		e = strchr(p, ',');
		buf_append(&rep->missing_list, p,
		    e != NULL ? (size_t)(e - p) : strlen(p));
		buf_append(&rep->missing_list, "\n", 1);
		rep->missing++;
		p = e != NULL ? e + 1 : NULL;
	}
}

int
core_revoke_serials(struct fp_ctx *ctx, const struct tenant *t,
    const char *ca_name, const char *const *serials, size_t n, int reason,
    core_progress_fn progress, void *arg, struct core_revoke_report *rep,
    struct fp_status *st)
{
	char(*canon)[41] = NULL;
	const char **chunk = NULL;
	struct revoke_batch b;
	int64_t ca_id = 0;
	size_t i, k;
	int rc;

	memset(rep, 0, sizeof(*rep));
	if ((rc = core_ca_by_name(ctx, t, ca_name, &ca_id, st)) != 0)
		return rc;
	canon = xcalloc(CORE_REVOKE_CHUNK, sizeof(*canon));
	chunk = xcalloc(CORE_REVOKE_CHUNK, sizeof(*chunk));
	for (i = 0; i < n;) {
		for (k = 0; i < n && k < CORE_REVOKE_CHUNK; i++) {
			if (serial_canon(serials[i], canon[k]) != 0) {
				/* Not a serial: reported, never sent. */
				buf_printf(&rep->missing_list, "%s\n",
				    serials[i]);
				rep->missing++;
				continue;
			}
			chunk[k] = canon[k];
			k++;
		}
		if (k > 0) {
			if ((rc = store_revoke_serials(ctx->db, t->id, ca_id,
			         chunk, k, reason, &b)) != 0)
				break;
			report_add(rep, &b);
			free(b.missing);
		}
		if (progress != NULL)
			progress(arg, i, n);
	}
	free(canon);
	free(chunk);
	if (rep->revoked > 0) {
		core_ocsp_invalidate(ctx);
		if (core_crl_soon(ctx) != 0)
			log_err("CRL job after a mass revocation not queued; "
			        "the scheduled refresh will issue it");
	}
	return rc;
}

int
core_revoke_issued_between(struct fp_ctx *ctx, const struct tenant *t,
    const char *ca_name, int64_t from, int64_t to, int reason,
    struct core_revoke_report *rep, struct fp_status *st)
{
	struct revoke_batch b;
	int64_t ca_id = 0;
	int rc;

	memset(rep, 0, sizeof(*rep));
	if (from >= to)
		return fp_fail(st, FP_E_BADREQ,
		    "the end of the interval must be after its start");
	if ((rc = core_ca_by_name(ctx, t, ca_name, &ca_id, st)) != 0 ||
	    (rc = store_revoke_issued_between(ctx->db, t->id, ca_id, from, to,
	         reason, &b)) != 0)
		return rc;
	report_add(rep, &b);
	free(b.missing);
	if (rep->revoked > 0) {
		core_ocsp_invalidate(ctx);
		if (core_crl_soon(ctx) != 0)
			log_err("CRL job after a mass revocation not queued; "
			        "the scheduled refresh will issue it");
	}
	return 0;
}

void
core_revoke_report_clear(struct core_revoke_report *rep)
{
	buf_free(&rep->missing_list);
	memset(rep, 0, sizeof(*rep));
}
