/*
 * core/certs: issuing and removing device certificates.
 *
 * Order (SECURITY.md): police the request, sign, store, and answer only
 * after the commit.  The serial is drawn fresh for every attempt, and
 * the store's unique (ca_id, serial) index is what guarantees
 * uniqueness: on the astronomically rare collision we sign again.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleetpki/config.h"
#include "fleetpki/core.h"
#include "fleetpki/log.h"
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
	X509_REQ *req = NULL;
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
	prof.ocsp_url = core_ca_ocsp_url(ca);
	rc = core_issue_and_store(ctx, ca, t->id, 0, X509_REQ_get0_pubkey(req),
	    NULL, &prof, idem, out, st);
out:
	X509_REQ_free(req);
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
