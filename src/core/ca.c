/*
 * core/ca: tenants and CAs as a process sees them.  A CA's certificate
 * and key never change once created, so an opened CA is cached for the
 * life of the process; only "which CA is the tenant's default" is
 * re-read after a short time.
 */
#include "config.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "fleetpki/config.h"
#include "fleetpki/core.h"
#include "fleetpki/log.h"
#include "fleetpki/pki.h"
#include "fleetpki/signer.h"
#include "fleetpki/store.h"
#include "fleetpki/util.h"

#include "core_internal.h"

/* Seconds a tenant's default-CA choice is trusted before re-reading. */
#define DEFAULT_TTL 30
/* Bound on cached entries; past it the cache starts over. */
#define CACHE_MAX 4096

struct core_ca {
	int64_t id;
	int64_t tenant_id;
	char public_id[33];
	char fingerprint[PKI_FPR_LEN];
	char *pem;
	char *crl_url;
	char *delta_url;
	char *ocsp_url;
	struct pki_ca pki;
};

struct default_entry {
	int64_t tenant_id;
	int64_t ca_id;
	time_t at;
};

static struct core_ca **cas;
static size_t ncas;
static struct tenant *tenants;
static size_t ntenants;
static struct default_entry *defaults;
static size_t ndefaults;

static void
core_ca_free(struct core_ca *ca)
{
	if (ca == NULL)
		return;
	free(ca->pem);
	free(ca->crl_url);
	free(ca->delta_url);
	free(ca->ocsp_url);
	X509_free(ca->pki.cert);
	EVP_PKEY_free(ca->pki.key);
	free(ca);
}

void
core_cache_flush(void)
{
	size_t i;

	for (i = 0; i < ncas; i++)
		core_ca_free(cas[i]);
	free(cas);
	free(tenants);
	free(defaults);
	cas = NULL;
	tenants = NULL;
	defaults = NULL;
	ncas = ntenants = ndefaults = 0;
}

int
core_tenant(struct fp_ctx *ctx, const char *name, struct tenant *out)
{
	size_t i;
	int rc;

	for (i = 0; i < ntenants; i++) {
		if (strcmp(tenants[i].name, name) == 0) {
			*out = tenants[i];
			return 0;
		}
	}
	if ((rc = store_tenant_by_name(ctx->db, name, out)) != 0)
		return rc;
	if (ntenants >= CACHE_MAX) {
		free(tenants);
		tenants = NULL;
		ntenants = 0;
	}
	tenants = xrealloc(tenants, (ntenants + 1) * sizeof(*tenants));
	tenants[ntenants++] = *out;
	return 0;
}

/*
 * Open a stored CA: parse, and have the signer give its key (unsealed
 * here, or a handle on the signer process's) checked against the cert.
 */
static int
ca_open(struct fp_ctx *ctx, const struct ca_rec *rec, struct core_ca **out)
{
	struct buf pem = BUF_INIT;
	struct core_ca *ca;
	int rc;

	ca = xcalloc(1, sizeof(*ca));
	ca->id = rec->id;
	ca->tenant_id = rec->tenant_id;
	snprintf(ca->public_id, sizeof(ca->public_id), "%s", rec->public_id);
	snprintf(ca->fingerprint, sizeof(ca->fingerprint), "%s",
	    rec->fingerprint);
	if ((rc = pki_cert_from_der(rec->cert_der.data, rec->cert_der.len,
	         &ca->pki.cert)) != 0)
		goto out;
	if ((rc = signer_ca_key(ctx->signer, rec, ca->pki.cert,
	         &ca->pki.key)) != 0)
		goto out;
	if ((rc = pki_cert_to_pem(ca->pki.cert, &pem)) != 0)
		goto out;
	ca->pem = buf_steal(&pem, NULL);
	ca->crl_url =
	    xasprintf("%s/crl/%s.crl", ctx->cfg->http_url, ca->public_id);
	ca->delta_url =
	    xasprintf("%s/crl/%s-delta.crl", ctx->cfg->http_url, ca->public_id);
	ca->ocsp_url = xasprintf("%s/ocsp", ctx->cfg->http_url);
	*out = ca;
	ca = NULL;
out:
	core_ca_free(ca);
	buf_free(&pem);
	return rc;
}

static const struct core_ca *
ca_cached(int64_t tenant_id, int64_t ca_id)
{
	size_t i;

	for (i = 0; i < ncas; i++)
		if (cas[i]->id == ca_id && cas[i]->tenant_id == tenant_id)
			return cas[i];
	return NULL;
}

static void
ca_remember(struct core_ca *ca)
{
	if (ncas >= CACHE_MAX)
		core_cache_flush();
	cas = xrealloc(cas, (ncas + 1) * sizeof(*cas));
	cas[ncas++] = ca;
}

int
core_ca_get(struct fp_ctx *ctx, int64_t tenant_id, int64_t ca_id,
    const struct core_ca **out)
{
	struct ca_rec rec = { 0 };
	struct core_ca *ca = NULL;
	int rc;

	if ((*out = ca_cached(tenant_id, ca_id)) != NULL)
		return 0;
	if ((rc = store_ca_by_id(ctx->db, tenant_id, ca_id, &rec)) != 0)
		goto out;
	if ((rc = ca_open(ctx, &rec, &ca)) != 0)
		goto out;
	ca_remember(ca);
	*out = ca;
out:
	ca_rec_clear(&rec);
	return rc;
}

int
core_ca_default(struct fp_ctx *ctx, int64_t tenant_id,
    const struct core_ca **out, struct fp_status *st)
{
	struct ca_rec rec = { 0 };
	struct core_ca *ca = NULL;
	time_t now = util_now();
	size_t i;
	int rc;

	for (i = 0; i < ndefaults; i++) {
		if (defaults[i].tenant_id == tenant_id &&
		    now - defaults[i].at < DEFAULT_TTL &&
		    (*out = ca_cached(tenant_id, defaults[i].ca_id)) != NULL)
			return 0;
	}
	if ((rc = store_ca_default(ctx->db, tenant_id, &rec)) != 0)
		goto out;
	if ((*out = ca_cached(tenant_id, rec.id)) == NULL) {
		if ((rc = ca_open(ctx, &rec, &ca)) != 0)
			goto out;
		ca_remember(ca);
		*out = ca;
	}
	for (i = 0; i < ndefaults; i++)
		if (defaults[i].tenant_id == tenant_id)
			break;
	if (i == ndefaults) {
		if (ndefaults >= CACHE_MAX)
			ndefaults = i = 0;
		defaults =
		    xrealloc(defaults, (ndefaults + 1) * sizeof(*defaults));
		ndefaults++;
	}
	defaults[i].tenant_id = tenant_id;
	defaults[i].ca_id = rec.id;
	defaults[i].at = now;
out:
	if (rc == -FP_E_NOTFOUND)
		fp_fail(st, FP_E_NOTFOUND, "This tenant has no CA.");
	ca_rec_clear(&rec);
	return rc;
}

int
core_ca_signer(struct fp_ctx *ctx, const struct tenant *t,
    const struct core_ca **out)
{
	int rc;

	/* Setting a tenant up makes its CA: a missing one is the operator's. */
	if ((rc = core_ca_default(ctx, t->id, out, NULL)) == -FP_E_NOTFOUND) {
		log_err("tenant %s has no CA", t->name);
		rc = -FP_E_INTERNAL;
	}
	return rc;
}

const char *
core_ca_pem(const struct core_ca *ca)
{
	return ca->pem;
}

const char *
core_ca_fingerprint(const struct core_ca *ca)
{
	return ca->fingerprint;
}

int64_t
core_ca_id(const struct core_ca *ca)
{
	return ca->id;
}

const char *
core_ca_crl_url(const struct core_ca *ca)
{
	return ca->crl_url;
}

const char *
core_ca_delta_url(const struct core_ca *ca)
{
	return ca->delta_url;
}

const char *
core_ca_ocsp_url(const struct core_ca *ca)
{
	return ca->ocsp_url;
}

const char *
core_ca_public_id(const struct core_ca *ca)
{
	return ca->public_id;
}

const struct pki_ca *
core_ca_pki(const struct core_ca *ca)
{
	return &ca->pki;
}

/* The SHA-2 hashes OCSP CertIDs may name a CA's key by (sql/009). */
static const char *const key_hash_algs[] = { "sha256", "sha384", "sha512" };

struct key_hashes {
	char hex[FP_ARRAY_LEN(key_hash_algs)][129];
};

static int
key_hashes_of(X509 *cert, struct key_hashes *h)
{
	size_t i;
	int rc;

	for (i = 0; i < FP_ARRAY_LEN(key_hash_algs); i++)
		if ((rc = pki_cert_key_hash(cert, key_hash_algs[i],
		         h->hex[i])) != 0)
			return rc;
	return 0;
}

static int
key_hashes_store(struct db *db, int64_t tenant_id, int64_t ca_id,
    const struct key_hashes *h)
{
	size_t i;
	int rc;

	for (i = 0; i < FP_ARRAY_LEN(key_hash_algs); i++)
		if ((rc = store_ca_key_hash_insert(db, tenant_id, ca_id,
		         key_hash_algs[i], h->hex[i])) != 0)
			return rc;
	return 0;
}

int
core_ca_key_hashes_backfill(struct fp_ctx *ctx, int *written)
{
	struct key_hashes h;
	struct ca_rec *old = NULL;
	X509 *cert = NULL;
	size_t n = 0, i;
	int rc;

	*written = 0;
	if ((rc = store_ca_missing_key_hashes(ctx->db, &old, &n)) != 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++) {
		X509_free(cert);
		cert = NULL;
		if ((rc = pki_cert_from_der(old[i].cert_der.data,
		         old[i].cert_der.len, &cert)) == 0 &&
		    (rc = key_hashes_of(cert, &h)) == 0 &&
		    (rc = key_hashes_store(ctx->db, old[i].tenant_id, old[i].id,
		         &h)) == 0)
			(*written)++;
	}
	X509_free(cert);
	store_ca_list_free(old, n);
	return rc;
}

/* core_ca_create's writes, committed together by store_tx. */
struct ca_create_arg {
	struct fp_ctx *ctx;
	struct ca_rec *rec;
	struct crl_rec *crl;
	const struct key_hashes *hashes;
};

static int
ca_create_tx(struct db *db, void *varg)
{
	struct ca_create_arg *a = varg;
	int rc;

	if ((rc = store_ca_insert(db, a->rec)) != 0 ||
	    (rc = key_hashes_store(db, a->rec->tenant_id, a->rec->id,
	         a->hashes)) != 0)
		return rc;
	/*
	 * Relying parties fetch the CRL URL at once: have one ready, in
	 * the same transaction, so no CA is ever visible without its CRL
	 * (a failure here leaves no CA behind to be retried by hand).
	 */
	crl_rec_clear(a->crl);
	return core_crl_issue(a->ctx, a->rec->tenant_id, a->rec->id, false,
	    a->crl);
}

int
core_ca_create(struct fp_ctx *ctx, const struct tenant *t, const char *name,
    const char *alg, int days, int64_t *id, struct fp_status *st)
{
	struct ca_create_arg tx;
	struct key_hashes hashes;
	struct ca_rec rec = { 0 };
	struct buf keyder = BUF_INIT;
	struct crl_rec crl = { 0 };
	unsigned char rnd[16];
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char *cn = NULL, *aad = NULL;
	const ASN1_OCTET_STRING *skid;
	char fpr[PKI_FPR_LEN];
	size_t i;
	int rc;

	cn = xasprintf("fleetpki %s %s CA", t->name, name);
	if ((rc = pki_ca_create(alg, cn, "fleetpki", days, &key, &cert, st)) !=
	    0)
		goto out;
	rec.tenant_id = t->id;
	snprintf(rec.name, sizeof(rec.name), "%s", name);
	pki_random(rnd, sizeof(rnd));
	util_hex(rnd, sizeof(rnd), rec.public_id);
	rec.key_alg = xstrdup(alg);
	if ((rc = pki_cert_to_der(cert, &rec.cert_der)) != 0)
		goto out;
	pki_fingerprint(rec.cert_der.data, rec.cert_der.len, fpr);
	rec.fingerprint = xstrdup(fpr);
	if ((rec.subject = pki_cert_subject(cert)) == NULL) {
		rc = -FP_E_INTERNAL;
		goto out;
	}
	if ((rc = pki_cert_validity(cert, &rec.not_before, &rec.not_after)) !=
	    0)
		goto out;
	if ((skid = X509_get0_subject_key_id(cert)) == NULL ||
	    ASN1_STRING_length(skid) != 20) {
		log_err("new CA certificate has no SHA-1 key identifier");
		rc = -FP_E_INTERNAL;
		goto out;
	}
	util_hex(ASN1_STRING_get0_data(skid), 20, rec.key_id);
	for (i = 0; rec.key_id[i] != '\0'; i++)
		rec.key_id[i] = (char)toupper((unsigned char)rec.key_id[i]);
	if ((rc = key_hashes_of(cert, &hashes)) != 0 ||
	    (rc = pki_key_to_der(key, &keyder)) != 0)
		goto out;
	/* Local signers only: the signer process seals no CA key. */
	aad = signer_ca_aad(t->id, rec.public_id);
	if ((rc = signer_seal(ctx->signer, aad, keyder.data, keyder.len,
	         &rec.key_sealed)) != 0)
		goto out;
	tx.ctx = ctx;
	tx.rec = &rec;
	tx.crl = &crl;
	tx.hashes = &hashes;
	if ((rc = store_tx(ctx->db, ca_create_tx, &tx)) != 0) {
		if (rc == -FP_E_CONFLICT)
			fp_fail(st, FP_E_CONFLICT,
			    "tenant '%s' already has a CA named '%s'", t->name,
			    name);
		goto out;
	}
	*id = rec.id;
out:
	EVP_PKEY_free(key);
	X509_free(cert);
	free(cn);
	free(aad);
	buf_free_secret(&keyder);
	ca_rec_clear(&rec);
	crl_rec_clear(&crl);
	return rc;
}
