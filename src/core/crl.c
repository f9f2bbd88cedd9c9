/*
 * core/crl: CRLs are issued on revocation and by the worker before they
 * go stale, never per request: a request serves the newest stored one
 * and only issues when none is valid (a fresh install, a stopped worker).
 *
 * Two kinds share one crlNumber sequence per CA (sql/027): complete
 * CRLs, of which one a crl_base_interval is a base, and delta CRLs
 * (RFC 5280 5.2.4) over the newest base.  After revocations the worker
 * issues a complete CRL (unless crl_complete_on_revoke is off) and then
 * a delta, so the delta's number is above every complete CRL a relying
 * party can hold with it.  Complete CRLs and certificates name the
 * delta's URL in their Freshest CRL extension.
 */
#include "config.h"

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

struct crl_build_arg {
	struct fp_ctx *ctx;
	const struct core_ca *ca;
};

/* store_crl_builder: sign the CRL inside the store's transaction. */
static int
crl_build(void *varg, int64_t number, const struct revoked_rec *rev,
    size_t nrev, struct crl_rec *crl)
{
	struct crl_build_arg *arg = varg;
	struct pki_revoked *list = NULL;
	X509_CRL *x = NULL;
	int64_t cutoff;
	size_t i, n = 0;
	int rc;

	crl->this_update = util_now();
	crl->next_update = crl->this_update +
	    (crl->base_number >= 0 ? arg->ctx->cfg->crl_delta_validity
	                           : arg->ctx->cfg->crl_validity);
	/*
	 * RFC 5280 3.3 lets a CRL drop a certificate once it has expired;
	 * kept crl_expired_keep longer, for relying parties whose clocks
	 * lag.  (The due test still counts every row: sql/014.)
	 */
	cutoff = crl->this_update - arg->ctx->cfg->crl_expired_keep;
	list = xcalloc(nrev > 0 ? nrev : 1, sizeof(*list));
	for (i = 0; i < nrev; i++) {
		if (rev[i].not_after < cutoff)
			continue;
		list[n].serial_hex = rev[i].serial;
		list[n].revoked_at = rev[i].revoked_at;
		list[n].reason = rev[i].reason;
		n++;
	}
	if ((rc = pki_crl_build(core_ca_pki(arg->ca), list, n, number,
	         crl->this_update, crl->next_update, crl->base_number,
	         crl->base_number >= 0 ? NULL : core_ca_delta_url(arg->ca),
	         &x)) != 0) {
		rc = signer_why(arg->ctx->signer, rc);
		goto out;
	}
	buf_reset(&crl->der);
	rc = pki_crl_to_der(x, &crl->der);
out:
	X509_CRL_free(x);
	free(list);
	return rc;
}

int
core_crl_issue(struct fp_ctx *ctx, int64_t tenant_id, int64_t ca_id, bool delta,
    struct crl_rec *out)
{
	struct crl_build_arg arg = { ctx, NULL };
	int rc;

	if ((rc = core_ca_get(ctx, tenant_id, ca_id, &arg.ca)) != 0)
		return rc;
	crl_rec_clear(out);
	if ((rc = store_crl_issue(ctx->db, tenant_id, ca_id, delta,
	         ctx->cfg->crl_base_interval, crl_build, &arg, out)) != 0) {
		crl_rec_clear(out);
		return rc;
	}
	if (delta)
		log_info("issued delta CRL %lld over base %lld for CA %lld",
		    (long long)out->crl_number, (long long)out->base_number,
		    (long long)ca_id);
	else
		log_info("issued CRL %lld%s for CA %lld",
		    (long long)out->crl_number, out->is_base ? " (base)" : "",
		    (long long)ca_id);
	return 0;
}

int
core_crl_current(struct fp_ctx *ctx, int64_t tenant_id, int64_t ca_id,
    bool delta, struct crl_rec *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = store_crl_latest(ctx->db, ca_id, delta, out);
	if (rc == 0 && out->next_update > util_now())
		return 0;
	if (rc != 0 && rc != -FP_E_NOTFOUND)
		return rc;
	crl_rec_clear(out);
	rc = core_crl_issue(ctx, tenant_id, ca_id, delta, out);
	/* A delta needs a base: a CA that never had a CRL gets one first. */
	if (rc == -FP_E_CONFLICT && delta &&
	    (rc = core_crl_issue(ctx, tenant_id, ca_id, false, out)) == 0)
		rc = core_crl_issue(ctx, tenant_id, ca_id, true, out);
	return rc;
}

int
core_crl_by_public_id(struct fp_ctx *ctx, const char *public_id, bool delta,
    struct crl_rec *out)
{
	struct ca_rec ca = { 0 };
	int64_t tenant_id;
	int rc;

	/* Only well-formed ids reach the database. */
	if (strlen(public_id) != 32 ||
	    strspn(public_id, "0123456789abcdef") != 32)
		return -FP_E_NOTFOUND;
	/* The public URL carries no tenant: the CA's becomes the request's. */
	if ((rc = store_ca_tenant_by_public_id(ctx->db, public_id,
	         &tenant_id)) != 0)
		goto out;
	store_set_tenant(ctx->db, tenant_id);
	if ((rc = store_ca_by_public_id(ctx->db, tenant_id, public_id, &ca)) !=
	    0)
		goto out;
	rc = core_crl_current(ctx, ca.tenant_id, ca.id, delta, out);
out:
	ca_rec_clear(&ca);
	return rc;
}

int
core_crl_pem(const struct crl_rec *crl, struct buf *out)
{
	return pki_pem_encode(PKI_PEM_CRL, crl->der.data, crl->der.len, out);
}

int
core_crl_refresh_due(struct fp_ctx *ctx, int *issued)
{
	const struct config *cfg = ctx->cfg;
	struct crl_due *due = NULL;
	struct crl_rec crl = { 0 };
	int64_t was = store_tenant(ctx->db), now = util_now();
	size_t n = 0, i;
	int rc, failed = 0;

	*issued = 0;
	/* A delta is renewed at half its life, a complete CRL by the margin. */
	if ((rc = store_crl_due(ctx->db, now + cfg->crl_refresh_margin,
	         now + cfg->crl_delta_validity / 2,
	         now - cfg->crl_base_interval, cfg->crl_complete_on_revoke != 0,
	         &due, &n)) != 0)
		return rc;
	/*
	 * Each CA's CRLs are issued under its own tenant, one CA after
	 * another: the complete one first, so the delta after it numbers
	 * above it (RFC 5280 5.2.4's condition for using the two together).
	 */
	for (i = 0; i < n; i++) {
		store_set_tenant(ctx->db, due[i].tenant_id);
		if (due[i].complete) {
			if (core_crl_issue(ctx, due[i].tenant_id, due[i].id,
			        false, &crl) != 0) {
				failed++;
				continue;
			}
			(*issued)++;
			crl_rec_clear(&crl);
		}
		if (due[i].delta) {
			if (core_crl_issue(ctx, due[i].tenant_id, due[i].id,
			        true, &crl) != 0)
				failed++;
			else
				(*issued)++;
			crl_rec_clear(&crl);
		}
	}
	store_set_tenant(ctx->db, was);
	free(due);
	return failed > 0 ? -FP_E_INTERNAL : 0;
}

int
core_crl_soon(struct fp_ctx *ctx)
{
	int64_t id = 0;

	/*
	 * Already queued (pending, or running since before this commit):
	 * nothing to add.  A running job re-checks until nothing is due, so
	 * it sees this revocation unless it committed in the instant
	 * between that job's last check and its end; then the scheduled
	 * crl.refresh (every worker_interval) issues it.
	 */
	return store_job_enqueue(ctx->db, CORE_CRL_REVOKED_JOB, "", 0, NULL,
	    CORE_CRL_GATHER_MS / 1000, 5, &id);
}

int
core_crl_prune(struct fp_ctx *ctx, int64_t *deleted)
{
	*deleted = 0;
	return store_crl_prune(ctx->db, ctx->cfg->crl_history, deleted);
}
