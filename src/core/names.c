/*
 * core/names: TLS certificates for DNS names, IP addresses and email
 * addresses (the certificate maker).  The server makes the key pair, or
 * signs the caller's CSR; either way the certificate carries exactly the
 * names asked for and nothing the request could smuggle in.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "fleetpki/config.h"
#include "fleetpki/core.h"
#include "fleetpki/log.h"
#include "fleetpki/net.h"
#include "fleetpki/pki.h"
#include "fleetpki/signer.h"
#include "fleetpki/store.h"
#include "fleetpki/util.h"

#include "core_internal.h"

/* Keys the server will make on request; the first is the default. */
static const char *const server_keys[] = { "ec-p256", "ec-p384", "rsa-2048",
	"rsa-3072", "rsa-4096" };

/* A request made ready to sign: its CSR parsed, its names settled. */
struct prepared {
	struct pki_csr *csr;
	struct pki_san *csr_sans; /* owned when from the CSR */
	size_t ncsr_sans;
	const struct pki_san *sans; /* what goes in the certificate */
	size_t nsans;
	char *csr_cn;
};

static void
prepared_clear(struct prepared *p)
{
	pki_csr_free(p->csr);
	pki_sans_free(p->csr_sans, p->ncsr_sans);
	free(p->csr_cn);
	memset(p, 0, sizeof(*p));
}

static int
cn_is_requested(const struct pki_san *sans, size_t n, const char *cn)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (sans[i].type != PKI_SAN_EMAIL &&
		    strcasecmp(sans[i].value, cn) == 0)
			return 1;
	return 0;
}

static int
prepare(struct fp_ctx *ctx, const struct tenant *t,
    const struct core_names_req *req, struct prepared *p, struct fp_status *st)
{
	long long max_days;
	size_t i;
	int rc;

	memset(p, 0, sizeof(*p));
	if ((rc = core_setting_int(ctx, t->id, "certmaker.max_days",
	         &max_days)) != 0)
		return rc;
	if (req->days < 1 || req->days > max_days)
		return fp_fail(st, FP_E_BADREQ,
		    "days must be between 1 and %lld.", max_days);
	if (req->csr_pem != NULL) {
		if ((rc = pki_csr_parse_pem(req->csr_pem, req->csr_len, &p->csr,
		         st)) != 0)
			return rc;
		if ((rc = pki_csr_sans(p->csr, &p->csr_sans, &p->ncsr_sans,
		         st)) != 0)
			return rc;
		p->sans = p->csr_sans;
		p->nsans = p->ncsr_sans;
		p->csr_cn = pki_csr_cn(p->csr);
	} else {
		for (i = 0; i < FP_ARRAY_LEN(server_keys); i++)
			if (req->key_alg == NULL ||
			    strcmp(req->key_alg, server_keys[i]) == 0)
				break;
		if (i == FP_ARRAY_LEN(server_keys))
			return fp_fail(st, FP_E_BADREQ,
			    "Unknown key type "
			    "'%.32s': use ec-p256, ec-p384, rsa-2048, rsa-3072 "
			    "or rsa-4096.",
			    req->key_alg);
		p->sans = req->sans;
		p->nsans = req->nsans;
	}
	if (p->nsans == 0)
		return fp_fail(st, FP_E_BADREQ,
		    "At least one DNS name, IP address or email address is "
		    "required.");
	if ((rc = pki_san_check(p->sans, p->nsans, st)) != 0)
		return rc;
	/*
	 * A common name is one more name a TLS client may match: it must be
	 * one of the requested DNS names or IP addresses, so that nothing
	 * in the certificate escapes the checks (and the challenge).
	 */
	if (req->csr_pem == NULL && req->subject.cn != NULL &&
	    !cn_is_requested(p->sans, p->nsans, req->subject.cn))
		return fp_fail(st, FP_E_BADREQ,
		    "subject.common_name must be "
		    "one of the requested domains or IP addresses.");
	return 0;
}

int
core_names_check(struct fp_ctx *ctx, const struct tenant *t,
    const struct core_names_req *req, struct pki_san **csr_sans, size_t *ncsr,
    struct fp_status *st)
{
	struct prepared p;
	int rc;

	*csr_sans = NULL;
	*ncsr = 0;
	if ((rc = prepare(ctx, t, req, &p, st)) == 0) {
		/* Hand the CSR's names over, so a challenge can name them. */
		*csr_sans = p.csr_sans;
		*ncsr = p.ncsr_sans;
		p.csr_sans = NULL;
		p.ncsr_sans = 0;
	}
	prepared_clear(&p);
	return rc;
}

int
core_names_issue(struct fp_ctx *ctx, const struct tenant *t, int64_t user_id,
    const struct core_names_req *req, struct core_idem *idem,
    struct cert_rec *out, struct fp_status *st)
{
	const struct core_ca *ca;
	struct pki_profile prof;
	struct prepared p;
	EVP_PKEY *key = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	/* A retry answers what the first try issued, before a key is made. */
	if ((rc = core_idem_replay(ctx, t->id, idem, out, st)) !=
	    -FP_E_NOTFOUND)
		goto out;
	if ((rc = prepare(ctx, t, req, &p, st)) != 0)
		goto out;
	if ((rc = core_ca_signer(ctx, t, &ca)) != 0)
		goto out;
	memset(&prof, 0, sizeof(prof));
	prof.sans = p.sans;
	prof.nsans = p.nsans;
	prof.eku = PKI_EKU_SERVER | PKI_EKU_CLIENT;
	prof.days = req->days;
	prof.crl_url = core_ca_crl_url(ca);
	prof.delta_url = core_ca_delta_url(ca);
	prof.ocsp_url = core_ca_ocsp_url(ca);
	if (p.csr != NULL) {
		/*
		 * Nothing of a CSR's subject is copied but a CN that is one of
		 * its own requested names: anything else would be a claim
		 * the challenge never checked.
		 */
		if (p.csr_cn != NULL &&
		    cn_is_requested(p.sans, p.nsans, p.csr_cn))
			prof.subject.cn = p.csr_cn;
		rc = core_issue_and_store(ctx, ca, t->id, user_id,
		    pki_csr_pubkey(p.csr), NULL, &prof, idem, out, st);
	} else {
		prof.subject = req->subject;
		if ((rc = pki_key_generate(req->key_alg != NULL
		             ? req->key_alg
		             : server_keys[0],
		         &key, st)) != 0)
			goto out;
		rc = core_issue_and_store(ctx, ca, t->id, user_id, key, key,
		    &prof, idem, out, st);
	}
out:
	EVP_PKEY_free(key);
	prepared_clear(&p);
	return rc;
}

int
core_cert_private_key(struct fp_ctx *ctx, const struct cert_rec *rec,
    struct buf *out)
{
	struct buf der = BUF_INIT;
	EVP_PKEY *key = NULL;
	char *aad = NULL;
	int rc;

	if (rec->key_sealed.len == 0)
		return -FP_E_NOTFOUND;
	aad = core_cert_key_aad(rec->tenant_id, rec->ca_id, rec->serial);
	/* A worker asks the signer; the plaintext is wiped below. */
	if ((rc = signer_unseal(ctx->signer, aad, rec->key_sealed.data,
	         rec->key_sealed.len, &der)) != 0) {
		log_err("certificate %s: sealed key does not open",
		    rec->serial);
		goto out;
	}
	if ((rc = pki_key_from_der(der.data, der.len, &key)) != 0)
		goto out;
	rc = pki_key_to_pem(key, out);
out:
	EVP_PKEY_free(key);
	buf_free_secret(&der);
	free(aad);
	return rc;
}

int
core_cert_revoke(struct fp_ctx *ctx, const struct tenant *t, const char *serial,
    int reason, int64_t only_user)
{
	struct cert_rec rec = { 0 };
	int rc;

	if ((rc = store_cert_revoke(ctx->db, t->id, serial, reason, only_user,
	         &rec)) != 0)
		goto out;
	log_info("revoked certificate serial %s (reason %d)", serial, reason);
	core_ocsp_invalidate(ctx);
	/* As core_cert_delete: the revocation stands even if this fails. */
	if (core_crl_soon(ctx) != 0)
		log_err("CRL job after revoking %s not queued; the scheduled "
		        "refresh will issue it",
		    serial);
out:
	cert_rec_clear(&rec);
	return rc;
}

/* Names the certificate maker never challenges (its documented rule). */
static int
never_validated(const struct pki_san *san)
{
	return strcasecmp(san->value, "localhost") == 0 ||
	    strcmp(san->value, "127.0.0.1") == 0 ||
	    strcmp(san->value, "::1") == 0;
}

#define CHALLENGE_PATH "/.well-known/certmaker-challenge/token.txt"
#define CHALLENGE_TIMEOUT_MS 5000
#define CHALLENGE_MAX_BODY 1024
/* Every failed validation, whatever the cause (which goes to the log). */
#define CHALLENGE_FAILED                                                       \
	"Challenge failed: the token was not served at the challenge URL."

int
core_challenge_verify(struct fp_ctx *ctx, const struct pki_san *sans,
    size_t nsans, int port, const char *token, struct fp_status *st)
{
	struct net_denylist *deny = NULL;
	struct fp_status why = { FP_E_OK, "" };
	struct net_fetch f;
	struct buf body = BUF_INIT;
	char *url = NULL, *err = NULL;
	size_t i, len;
	long status;
	int rc = 0;

	if (net_denylist_parse(ctx->cfg->outbound_deny, &deny, &err) != 0) {
		log_err("outbound_deny: %s", err);
		rc = -FP_E_INTERNAL;
		goto out;
	}
	if (net_denylist_allow(deny, ctx->cfg->outbound_allow, &err) != 0) {
		log_err("outbound_allow: %s", err);
		rc = -FP_E_INTERNAL;
		goto out;
	}
	for (i = 0; i < nsans; i++) {
		if (sans[i].type == PKI_SAN_EMAIL || never_validated(&sans[i]))
			continue;
		free(url);
		url = xasprintf(strchr(sans[i].value, ':') != NULL
		        ? "http://[%s]:%d" CHALLENGE_PATH
		        : "http://%s:%d" CHALLENGE_PATH,
		    sans[i].value, port);
		memset(&f, 0, sizeof(f));
		f.url = url;
		f.timeout_ms = CHALLENGE_TIMEOUT_MS;
		f.connect_timeout_ms = CHALLENGE_TIMEOUT_MS;
		f.max_body = CHALLENGE_MAX_BODY;
		f.deny = deny;
		buf_reset(&body);
		if ((rc = net_http_get(&f, &status, &body, &why)) != 0) {
			/*
			 * The reason goes to the log only: told to the
			 * client, "could not connect" vs "timed out" vs
			 * "did not answer 200" maps which ports are open
			 * on any host the fetch reaches.
			 */
			log_info("challenge for '%s' failed: %s", sans[i].value,
			    fp_status_message(&why, rc));
			rc = fp_fail(st, FP_E_EXPECTATION, CHALLENGE_FAILED);
			goto out;
		}
		/* The token exactly, allowing the newline an editor adds. */
		len = body.len;
		while (len > 0 &&
		    (body.data[len - 1] == '\n' || body.data[len - 1] == '\r'))
			len--;
		if (status != 200 || len != strlen(token) ||
		    CRYPTO_memcmp(body.data, token, len) != 0) {
			log_info("challenge for '%s' failed: %s", sans[i].value,
			    status != 200 ? "the token URL did not answer 200"
			                  : "the token does not match");
			rc = fp_fail(st, FP_E_EXPECTATION, CHALLENGE_FAILED);
			goto out;
		}
	}
out:
	net_denylist_free(deny);
	buf_free_secret(&body); /* what was served: the token */
	free(url);
	free(err);
	return rc;
}
