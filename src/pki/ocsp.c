/*
 * ocsp: parse OCSP requests and sign OCSP responses (RFC 6960).
 *
 * The core only speaks ASN.1 here: which CA a CertID names, which serial
 * it asks about and what the store says about it are the caller's
 * business.  The responder is on a hot path (benchmarked against
 * `openssl ocsp`), so a response costs one signature and a handful of
 * small allocations: nothing is parsed or encoded twice that need not be.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/log.h"
#include "fleetpki/pki.h"
#include "fleetpki/util.h"

#include "pki_internal.h"

struct pki_ocsp_req {
	OCSP_REQUEST *req;
	/* Borrowed from 'req': looked up once, read by every accessor. */
	OCSP_CERTID *ids[PKI_OCSP_MAX_CERTS];
	size_t n;
	int has_nonce;
};

int
pki_ocsp_req_parse(const unsigned char *der, size_t len,
    struct pki_ocsp_req **out)
{
	struct pki_ocsp_req *rq = NULL;
	const unsigned char *p = der;
	OCSP_REQUEST *req = NULL;
	OCSP_ONEREQ *one;
	int i, n, r = -FP_E_BADREQ;

	*out = NULL;
	/*
	 * d2i stops at the end of the first structure; bytes after it mean
	 * the body is not one OCSPRequest, and a cache keyed on the body
	 * must not see two bodies answered alike.
	 */
	if (der == NULL || len == 0 || len > LONG_MAX ||
	    (req = d2i_OCSP_REQUEST(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		ERR_clear_error();
		goto out;
	}
	/* An empty requestList is valid DER but asks nothing. */
	n = OCSP_request_onereq_count(req);
	if (n < 1 || n > PKI_OCSP_MAX_CERTS)
		goto out;
	rq = xcalloc(1, sizeof(*rq));
	for (i = 0; i < n; i++) {
		if ((one = OCSP_request_onereq_get0(req, i)) == NULL ||
		    (rq->ids[i] = OCSP_onereq_get0_id(one)) == NULL) {
			log_ossl_errors("pki_ocsp_req_parse: CertID");
			r = -FP_E_INTERNAL;
			goto out;
		}
	}
	rq->n = (size_t)n;
	rq->has_nonce =
	    OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1) >= 0;
	rq->req = req;
	req = NULL;
	*out = rq;
	rq = NULL;
	r = 0;
out:
	pki_ocsp_req_free(rq);
	OCSP_REQUEST_free(req);
	return r;
}

void
pki_ocsp_req_free(struct pki_ocsp_req *rq)
{
	if (rq == NULL)
		return;
	OCSP_REQUEST_free(rq->req);
	free(rq);
}

size_t
pki_ocsp_req_count(const struct pki_ocsp_req *rq)
{
	return rq->n;
}

int
pki_ocsp_req_has_nonce(const struct pki_ocsp_req *rq)
{
	return rq->has_nonce;
}

/* The parts of CertID 'i'; -FP_E_NOTFOUND past the end. */
static int
certid_info(const struct pki_ocsp_req *rq, size_t i,
    ASN1_OCTET_STRING **name_hash, ASN1_OBJECT **alg,
    ASN1_OCTET_STRING **key_hash, ASN1_INTEGER **serial)
{
	if (i >= rq->n)
		return -FP_E_NOTFOUND;
	if (!OCSP_id_get0_info(name_hash, alg, key_hash, serial, rq->ids[i])) {
		log_ossl_errors("OCSP_id_get0_info");
		return -FP_E_INTERNAL;
	}
	return 0;
}

/* The hashes a CertID may use, by OID, with the length of each. */
static const struct {
	int nid;
	const char *name; /* as the store keeps it */
	int len;
} certid_algs[] = {
	{ NID_sha1, "sha1", 20 },
	{ NID_sha256, "sha256", 32 },
	{ NID_sha384, "sha384", 48 },
	{ NID_sha512, "sha512", 64 },
};

int
pki_ocsp_req_key_hash(const struct pki_ocsp_req *rq, size_t i, const char **alg,
    char out[129])
{
	ASN1_OCTET_STRING *kh = NULL;
	ASN1_OBJECT *a = NULL;
	size_t k;
	int r, nid;

	if ((r = certid_info(rq, i, NULL, &a, &kh, NULL)) != 0)
		return r;
	/*
	 * A hash of the wrong length for its algorithm is a broken CertID
	 * and names no CA; an algorithm we do not know (MD5) neither.
	 */
	nid = OBJ_obj2nid(a);
	for (k = 0; k < FP_ARRAY_LEN(certid_algs); k++) {
		if (certid_algs[k].nid != nid)
			continue;
		if (ASN1_STRING_length(kh) != certid_algs[k].len)
			return -FP_E_NOTFOUND;
		util_hex_upper(ASN1_STRING_get0_data(kh),
		    (size_t)certid_algs[k].len, '\0', out);
		*alg = certid_algs[k].name;
		return 0;
	}
	return -FP_E_NOTFOUND;
}

int
pki_ocsp_req_key_id(const struct pki_ocsp_req *rq, size_t i, char out[41])
{
	char hex[129];
	const char *alg;
	int r;

	/*
	 * Only a SHA-1 key hash can equal a SHA-1 SKI (RFC 5280 method 1,
	 * what pki_ca_create and `openssl x509` write).
	 */
	if ((r = pki_ocsp_req_key_hash(rq, i, &alg, hex)) != 0)
		return r;
	if (strcmp(alg, "sha1") != 0)
		return -FP_E_NOTFOUND;
	memcpy(out, hex, 41);
	return 0;
}

int
pki_cert_key_hash(X509 *cert, const char *alg, char out[129])
{
	const ASN1_BIT_STRING *key = X509_get0_pubkey_bitstr(cert);
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	const EVP_MD *md;

	/* As the CertID has it: the BIT STRING's value, no tag or length. */
	if (key == NULL || (md = EVP_get_digestbyname(alg)) == NULL ||
	    !EVP_Digest(ASN1_STRING_get0_data(key),
	        (size_t)ASN1_STRING_length(key), d, &dlen, md, NULL)) {
		log_ossl_errors("pki_cert_key_hash");
		return -FP_E_INTERNAL;
	}
	util_hex_upper(d, dlen, '\0', out);
	return 0;
}

/*
 * The digest a CertID names, fetched once per process.  EVP_sha1() and
 * friends would do an implicit provider fetch on every EVP_DigestInit;
 * the responder hashes twice per CertID, so keep explicit fetches.
 * Only the SHA-2 family and SHA-1 (RFC 6960's default, still what every
 * client sends) are honoured: a CertID under MD5 names no CA of ours.
 */
static const EVP_MD *
certid_md(const ASN1_OBJECT *alg)
{
	static const struct {
		int nid;
		const char *name;
	} known[] = {
		{ NID_sha1, "SHA1" },
		{ NID_sha256, "SHA2-256" },
		{ NID_sha384, "SHA2-384" },
		{ NID_sha512, "SHA2-512" },
	};
	static EVP_MD *cache[FP_ARRAY_LEN(known)];
	int nid = OBJ_obj2nid(alg);
	size_t i;

	for (i = 0; i < FP_ARRAY_LEN(known); i++) {
		if (known[i].nid != nid)
			continue;
		if (cache[i] == NULL &&
		    (cache[i] = EVP_MD_fetch(NULL, known[i].name, NULL)) ==
		        NULL)
			log_ossl_errors("certid_md: EVP_MD_fetch");
		return cache[i];
	}
	return NULL;
}

/* 1 when 'h' is the 'md' hash of 'data'. */
static int
hash_equals(const EVP_MD *md, const ASN1_OCTET_STRING *h, const void *data,
    size_t len)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	if (!EVP_Digest(data, len, d, &dlen, md, NULL)) {
		log_ossl_errors("pki_ocsp_req_issued_by: EVP_Digest");
		return 0;
	}
	return ASN1_STRING_length(h) == (int)dlen &&
	    memcmp(ASN1_STRING_get0_data(h), d, dlen) == 0;
}

int
pki_ocsp_req_issued_by(const struct pki_ocsp_req *rq, size_t i, X509 *ca)
{
	ASN1_OCTET_STRING *nh = NULL, *kh = NULL;
	ASN1_OBJECT *alg = NULL;
	const ASN1_BIT_STRING *key;
	const unsigned char *name_der = NULL;
	const EVP_MD *md;
	size_t name_len = 0;

	if (certid_info(rq, i, &nh, &alg, &kh, NULL) != 0 ||
	    (md = certid_md(alg)) == NULL)
		return 0;
	/*
	 * RFC 6960 4.1.1: issuerNameHash over the DER of the issuer's
	 * subject, issuerKeyHash over the subjectPublicKey BIT STRING value
	 * (no tag, length or unused-bits byte).  Both come from encodings
	 * the X509 already caches, so nothing is re-encoded; the key hash
	 * is compared first as the one that tells CAs apart.
	 */
	if ((key = X509_get0_pubkey_bitstr(ca)) == NULL ||
	    !X509_NAME_get0_der(X509_get_subject_name(ca), &name_der,
	        &name_len)) {
		log_ossl_errors("pki_ocsp_req_issued_by");
		return 0;
	}
	return hash_equals(md, kh, ASN1_STRING_get0_data(key),
	           (size_t)ASN1_STRING_length(key)) &&
	    hash_equals(md, nh, name_der, name_len);
}

int
pki_ocsp_req_serial_hex(const struct pki_ocsp_req *rq, size_t i,
    char out[PKI_SERIAL_HEX_LEN])
{
	ASN1_INTEGER *sn = NULL;
	int r;

	if ((r = certid_info(rq, i, NULL, NULL, NULL, &sn)) != 0)
		return r;
	/*
	 * A serial we could not have issued (negative, too long) has no
	 * row: the caller answers "unknown".
	 */
	return pki_serial_to_hex(sn, out);
}

/* DER of 'resp' appended to 'out', encoded straight into its storage. */
static int
response_to_der(OCSP_RESPONSE *resp, struct buf *out)
{
	unsigned char *p;
	int n;

	if ((n = i2d_OCSP_RESPONSE(resp, NULL)) <= 0) {
		log_ossl_errors("i2d_OCSP_RESPONSE");
		return -FP_E_INTERNAL;
	}
	buf_reserve(out, (size_t)n);
	p = out->data + out->len;
	if (i2d_OCSP_RESPONSE(resp, &p) != n) {
		log_ossl_errors("i2d_OCSP_RESPONSE");
		return -FP_E_INTERNAL;
	}
	out->len += (size_t)n;
	out->data[out->len] = '\0';
	return 0;
}

/* One SingleResponse for CertID 'cid' from the store's 'a'. */
static int
add_single(OCSP_BASICRESP *bs, OCSP_CERTID *cid,
    const struct pki_ocsp_answer *a, ASN1_TIME *tu, ASN1_TIME *nu,
    ASN1_GENERALIZEDTIME **rt)
{
	int status, reason = OCSP_REVOKED_STATUS_NOSTATUS;

	switch (a->status) {
	case PKI_OCSP_GOOD:
		status = V_OCSP_CERTSTATUS_GOOD;
		break;
	case PKI_OCSP_UNKNOWN:
		status = V_OCSP_CERTSTATUS_UNKNOWN;
		break;
	case PKI_OCSP_REVOKED:
		status = V_OCSP_CERTSTATUS_REVOKED;
		if (a->reason < -1 ||
		    (a->reason >= 0 && pki_reason_name(a->reason) == NULL)) {
			log_err("pki_ocsp_respond: bad reason %d", a->reason);
			return -FP_E_INTERNAL;
		}
		/*
		 * "unspecified" (0) is left out, as in our CRLs (RFC 5280
		 * 5.3.1, CA/B Forum BRs 7.2.2/7.3): OCSP and the CRL must
		 * tell a relying party the same thing.
		 */
		if (a->reason > 0)
			reason = a->reason;
		if ((*rt = ASN1_GENERALIZEDTIME_set(*rt,
		         (time_t)a->revoked_at)) == NULL) {
			log_ossl_errors("pki_ocsp_respond: revocationTime");
			return -FP_E_INTERNAL;
		}
		break;
	default:
		log_err("pki_ocsp_respond: bad status %d", (int)a->status);
		return -FP_E_INTERNAL;
	}
	/*
	 * add1 copies the CertID as the client sent it (RFC 6960 4.2.1: the
	 * response must name the same CertID, same hash algorithm).
	 */
	if (OCSP_basic_add1_status(bs, cid, status, reason,
	        status == V_OCSP_CERTSTATUS_REVOKED ? *rt : NULL, tu,
	        nu) == NULL) {
		log_ossl_errors("OCSP_basic_add1_status");
		return -FP_E_INTERNAL;
	}
	return 0;
}

int
pki_ocsp_respond(const struct pki_ca *ca, const struct pki_ocsp_req *rq,
    const struct pki_ocsp_answer *answers, int64_t this_update,
    int64_t next_update, struct buf *out)
{
	return pki_ocsp_respond_by(ca, NULL, rq, answers, this_update,
	    next_update, out);
}

int
pki_ocsp_respond_by(const struct pki_ca *ca, const struct pki_ca *responder,
    const struct pki_ocsp_req *rq, const struct pki_ocsp_answer *answers,
    int64_t this_update, int64_t next_update, struct buf *out)
{
	OCSP_BASICRESP *bs = NULL;
	OCSP_RESPONSE *resp = NULL;
	ASN1_GENERALIZEDTIME *tu = NULL, *nu = NULL, *rt = NULL;
	EVP_MD_CTX *mctx = NULL;
	size_t i;
	int r = -FP_E_INTERNAL;

	if (answers == NULL || next_update <= this_update) {
		log_err("pki_ocsp_respond: no answers or bad validity window");
		goto out;
	}
	/* GeneralizedTime is what RFC 6960 encodes: no conversion later. */
	if ((bs = OCSP_BASICRESP_new()) == NULL ||
	    (tu = ASN1_GENERALIZEDTIME_set(NULL, (time_t)this_update)) ==
	        NULL ||
	    (nu = ASN1_GENERALIZEDTIME_set(NULL, (time_t)next_update)) ==
	        NULL) {
		log_ossl_errors("pki_ocsp_respond: new");
		goto out;
	}
	for (i = 0; i < rq->n; i++)
		if ((r = add_single(bs, rq->ids[i], &answers[i], tu, nu,
		         &rt)) != 0)
			goto out;
	r = -FP_E_INTERNAL;
	/* 1: copied, 2: the request had none; 0 is a failure. */
	if (rq->has_nonce && OCSP_copy_nonce(bs, rq->req) != 1) {
		log_ossl_errors("OCSP_copy_nonce");
		goto out;
	}
	/*
	 * The CA signs its own responses (RFC 6960 4.2.2.2, first case), so
	 * clients already hold the certificate: none is included, and the
	 * responderID is the SHA-1 of the CA key (byKey, 22 bytes instead of
	 * the whole subject).  A delegated responder's certificate is
	 * included: it is how the client learns the CA authorized it.
	 * producedAt is set to now by the call.
	 */
	if (responder != NULL
	        ? pki_sign_ctx_new(responder->key, PKI_KIND_OCSP, &mctx) != 0 ||
	            !OCSP_basic_sign_ctx(bs, responder->cert, mctx, NULL,
	                OCSP_RESPID_KEY)
	        : pki_sign_ctx_new(ca->key, PKI_KIND_OCSP, &mctx) != 0 ||
	            !OCSP_basic_sign_ctx(bs, ca->cert, mctx, NULL,
	                OCSP_RESPID_KEY | OCSP_NOCERTS)) {
		log_ossl_errors("OCSP_basic_sign_ctx");
		goto out;
	}
	if ((resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL,
	         bs)) == NULL) {
		log_ossl_errors("OCSP_response_create");
		goto out;
	}
	r = response_to_der(resp, out);
out:
	EVP_MD_CTX_free(mctx);
	ASN1_GENERALIZEDTIME_free(tu);
	ASN1_GENERALIZEDTIME_free(nu);
	ASN1_GENERALIZEDTIME_free(rt);
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	return r;
}

int
pki_ocsp_error(int status, struct buf *out)
{
	OCSP_RESPONSE *resp = NULL;
	int r = -FP_E_INTERNAL;

	/* "successful" needs a body; 4 and 5 are unassigned (RFC 6960 4.2.1). */
	switch (status) {
	case OCSP_RESPONSE_STATUS_MALFORMEDREQUEST:
	case OCSP_RESPONSE_STATUS_INTERNALERROR:
	case OCSP_RESPONSE_STATUS_TRYLATER:
	case OCSP_RESPONSE_STATUS_UNAUTHORIZED:
		break;
	default:
		log_err("pki_ocsp_error: bad status %d", status);
		goto out;
	}
	if ((resp = OCSP_response_create(status, NULL)) == NULL) {
		log_ossl_errors("OCSP_response_create");
		goto out;
	}
	r = response_to_der(resp, out);
out:
	OCSP_RESPONSE_free(resp);
	return r;
}
