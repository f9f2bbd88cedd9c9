/*
 * revinfo: revocation information for relying parties, public and
 * served over plain HTTP too (RFC 5280 4.2.1.13: a CRL distribution
 * point must not depend on TLS that itself needs revocation checking).
 *
 * GET /crl/{public_id}.crl: the CA's current CRL, DER, cacheable until
 * shortly before its nextUpdate.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fleetpki/api.h"
#include "fleetpki/arena.h"
#include "fleetpki/core.h"
#include "fleetpki/http.h"
#include "fleetpki/util.h"

/* Never let a cache hold a CRL longer than this, whatever nextUpdate. */
#define CRL_MAX_AGE	300

int
revinfo_crl_der(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	struct crl_rec crl = { 0 };
	const char *name = req->params[0];
	size_t len = strlen(name);
	char *id, etag[48];
	int64_t age;
	int rc;

	if (len < 5 || strcmp(name + len - 4, ".crl") != 0)
		return fp_fail(st, FP_E_NOTFOUND, "No such CRL.");
	id = arena_strndup(req->arena, name, len - 4);
	if ((rc = core_crl_by_public_id(req->ctx, id, &crl)) != 0) {
		if (rc == -FP_E_NOTFOUND)
			fp_fail(st, FP_E_NOTFOUND, "No such CRL.");
		goto out;
	}
	snprintf(etag, sizeof(etag), "\"crl-%" PRId64 "\"", crl.crl_number);
	resp_header(resp, "ETag", "%s", etag);
	age = crl.next_update - util_now();
	age = age > CRL_MAX_AGE ? CRL_MAX_AGE : age < 0 ? 0 : age;
	resp_header(resp, "Cache-Control", "public, max-age=%" PRId64, age);
	if (http_etag_match(req, etag)) {
		resp_empty(resp, 304);
		goto out;
	}
	resp_bytes(resp, 200, "application/pkix-crl", crl.der.data,
	    crl.der.len);
out:
	crl_rec_clear(&crl);
	return rc;
}
