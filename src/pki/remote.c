/*
 * pki/remote: an EVP_PKEY whose private half lives elsewhere.
 *
 * fleetpkid's workers build certificates, CRLs and OCSP responses with
 * the ordinary OpenSSL calls (X509_sign_ctx, X509_CRL_sign_ctx,
 * OCSP_basic_sign_ctx), but they hold no CA key: the key they sign with
 * is one of these.  It is served by a small built-in OpenSSL 3 provider
 * ("fleetpki-remote"), loaded into a library context of its own (with
 * the default provider beside it, for digests) so that no ordinary fetch
 * in the process ever lands on it:
 *
 *   - key management named "EC" and "RSA" (so that OpenSSL treats the
 *     key as the CA's type: X509_check_private_key, which
 *     OCSP_basic_sign_ctx calls, compares it with the certificate by
 *     exporting its public half), holding the CA's public key and a
 *     reference (pki_remote_ref: a callback, its argument, tenant and
 *     CA ids);
 *   - one signature algorithm, "FLEETPKI-REMOTE-SIGN", that no other
 *     provider offers, so that OpenSSL's signature fetch can only find
 *     it in the key's own provider.  It hashes the to-be-signed bytes
 *     itself (the digest comes from the default library context) and
 *     hands the digest to the callback, which returns the signature in
 *     the key type's usual encoding (DER ECDSA-Sig-Value, PKCS#1 v1.5).
 *
 * Only one-shot DigestSign is offered: that is what ASN1_item_sign_ctx,
 * under every artefact we sign, calls.  A "fleetpki-kind" context
 * parameter (set by pki_sign_ctx_new) names what is being signed, for
 * the signer's log.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "fleetpki/log.h"
#include "fleetpki/pki.h"
#include "fleetpki/util.h"

#include "pki_internal.h"

#define REMOTE_PROV "fleetpki-remote"
#define REMOTE_SIG "FLEETPKI-REMOTE-SIGN"
#define REMOTE_REF_PARAM "fleetpki-remote-ref"
#define KIND_PARAM "fleetpki-kind"

/* The key data of the key management: the public key and the ref. */
struct rkey {
	EVP_PKEY *pub;
	struct pki_remote_ref ref;
};

/* One signature operation. */
struct rsig {
	struct rkey *key;
	char md[32];
	char kind[32];
};

static OSSL_LIB_CTX *remote_libctx;

/* ---- key management ------------------------------------------------ */

static void *
rkey_new(void *provctx)
{
	(void)provctx;
	return xcalloc(1, sizeof(struct rkey));
}

static void
rkey_free(void *kd)
{
	struct rkey *k = kd;

	if (k == NULL)
		return;
	EVP_PKEY_free(k->pub);
	free(k);
}

/* Everything a key pair has: the private half is there, elsewhere. */
static int
rkey_has(const void *kd, int selection)
{
	const struct rkey *k = kd;

	(void)selection;
	return k != NULL && k->pub != NULL;
}

/* Only what pki_key_remote passes: the reference, public key included. */
static int
rkey_import(void *kd, int selection, const OSSL_PARAM params[])
{
	struct rkey *k = kd;
	const struct pki_remote_ref *ref;
	const OSSL_PARAM *p;
	EVP_PKEY *pub;

	(void)selection;
	if ((p = OSSL_PARAM_locate_const(params, REMOTE_REF_PARAM)) == NULL ||
	    p->data_type != OSSL_PARAM_OCTET_STRING ||
	    p->data_size != sizeof(ref) + sizeof(pub))
		return 0;
	memcpy(&ref, p->data, sizeof(ref));
	memcpy(&pub, (const unsigned char *)p->data + sizeof(ref), sizeof(pub));
	if (pub == NULL || !EVP_PKEY_up_ref(pub))
		return 0;
	EVP_PKEY_free(k->pub);
	k->pub = pub;
	k->ref = *ref;
	return 1;
}

static const OSSL_PARAM *
rkey_import_types(int selection)
{
	static const OSSL_PARAM types[] = {
		OSSL_PARAM_octet_string(REMOTE_REF_PARAM, NULL, 0),
		OSSL_PARAM_END,
	};

	(void)selection;
	return types;
}

/* The public half, as the default provider describes it. */
static int
rkey_export(void *kd, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
	struct rkey *k = kd;
	OSSL_PARAM *params = NULL;
	int ok;

	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 &&
	    (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) == 0)
		return 0; /* the private half never leaves the signer */
	if (EVP_PKEY_todata(k->pub, EVP_PKEY_PUBLIC_KEY, &params) != 1)
		return 0;
	ok = cb(params, cbarg);
	OSSL_PARAM_free(params);
	return ok;
}

static const OSSL_PARAM *
rkey_export_types(int selection)
{
	static const OSSL_PARAM types[] = {
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
		OSSL_PARAM_END,
	};

	(void)selection;
	return types;
}

/* Size, bits, group: whatever the public key answers. */
static int
rkey_get_params(void *kd, OSSL_PARAM params[])
{
	struct rkey *k = kd;

	return EVP_PKEY_get_params(k->pub, params) == 1;
}

static const OSSL_PARAM *
rkey_gettable_params(void *provctx)
{
	static const OSSL_PARAM types[] = {
		OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
		OSSL_PARAM_END,
	};

	(void)provctx;
	return types;
}

static const char *
rkey_query_operation_name(int operation_id)
{
	return operation_id == OSSL_OP_SIGNATURE ? REMOTE_SIG : NULL;
}

static const OSSL_DISPATCH rkey_functions[] = {
	{ OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))rkey_new },
	{ OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))rkey_free },
	{ OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))rkey_has },
	{ OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))rkey_import },
	{ OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))rkey_import_types },
	{ OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))rkey_export },
	{ OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))rkey_export_types },
	{ OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))rkey_get_params },
	{ OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS,
	    (void (*)(void))rkey_gettable_params },
	{ OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME,
	    (void (*)(void))rkey_query_operation_name },
	{ 0, NULL },
};

/* ---- signature ----------------------------------------------------- */

static void *
rsig_newctx(void *provctx, const char *propq)
{
	(void)provctx;
	(void)propq;
	return xcalloc(1, sizeof(struct rsig));
}

static void
rsig_freectx(void *ctx)
{
	free(ctx);
}

static void *
rsig_dupctx(void *ctx)
{
	struct rsig *c = xmalloc(sizeof(*c));

	*c = *(struct rsig *)ctx;
	return c;
}

static int
rsig_set_ctx_params(void *ctx, const OSSL_PARAM params[])
{
	struct rsig *c = ctx;
	const OSSL_PARAM *p;
	char *kind = c->kind;

	if (params == NULL)
		return 1;
	if ((p = OSSL_PARAM_locate_const(params, KIND_PARAM)) != NULL &&
	    !OSSL_PARAM_get_utf8_string(p, &kind, sizeof(c->kind)))
		return 0;
	return 1;
}

static int
rsig_digest_sign_init(void *ctx, const char *mdname, void *kd,
    const OSSL_PARAM params[])
{
	struct rsig *c = ctx;
	EVP_MD *md;

	c->key = kd;
	if (mdname == NULL || c->key == NULL)
		return 0;
	/* The canonical name ("SHA2-256"), whatever spelling came in. */
	if ((md = EVP_MD_fetch(NULL, mdname, NULL)) == NULL)
		return 0;
	snprintf(c->md, sizeof(c->md), "%s", EVP_MD_get0_name(md));
	EVP_MD_free(md);
	snprintf(c->kind, sizeof(c->kind), "unnamed");
	return rsig_set_ctx_params(ctx, params);
}

static int
rsig_digest_sign(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize,
    const unsigned char *tbs, size_t tbslen)
{
	struct rsig *c = ctx;
	unsigned char dg[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	EVP_MD *md = NULL;
	size_t len;
	int ok = 0;

	if (sig == NULL) { /* a size query */
		*siglen = (size_t)EVP_PKEY_get_size(c->key->pub);
		return 1;
	}
	if ((md = EVP_MD_fetch(NULL, c->md, NULL)) == NULL ||
	    EVP_Digest(tbs, tbslen, dg, &dlen, md, NULL) != 1)
		goto out;
	len = sigsize;
	if (c->key->ref.sign(c->key->ref.arg, &c->key->ref, c->kind, c->md, dg,
	        dlen, sig, &len) != 0)
		goto out;
	*siglen = len;
	ok = 1;
out:
	EVP_MD_free(md);
	return ok;
}

/*
 * RSA: ASN1_item_sign_ctx asks for the padding before it writes the
 * AlgorithmIdentifier; we sign PKCS#1 v1.5 only.  The identifier itself
 * is asked for when OpenSSL knows no ASN.1 method for the key type.
 */
static int
rsig_get_ctx_params(void *ctx, OSSL_PARAM params[])
{
	struct rsig *c = ctx;
	unsigned char *der = NULL;
	X509_ALGOR *alg = NULL;
	OSSL_PARAM *p;
	int nid, len, ok = 0, pkey_nid;
	EVP_MD *md = NULL;

	if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) !=
	    NULL) {
		if (p->data_type == OSSL_PARAM_INTEGER) {
			if (!OSSL_PARAM_set_int(p, 1)) /* RSA_PKCS1_PADDING */
				return 0;
		} else if (!OSSL_PARAM_set_utf8_string(p, "pkcs1")) {
			return 0;
		}
	}
	if ((p = OSSL_PARAM_locate(params,
	         OSSL_SIGNATURE_PARAM_ALGORITHM_ID)) == NULL)
		return 1;
	if (c->key == NULL || (md = EVP_MD_fetch(NULL, c->md, NULL)) == NULL)
		goto out;
	pkey_nid = EVP_PKEY_is_a(c->key->pub, "EC") ? NID_X9_62_id_ecPublicKey
	                                            : NID_rsaEncryption;
	if (!OBJ_find_sigid_by_algs(&nid, EVP_MD_get_type(md), pkey_nid) ||
	    (alg = X509_ALGOR_new()) == NULL ||
	    !X509_ALGOR_set0(alg, OBJ_nid2obj(nid),
	        pkey_nid == NID_rsaEncryption ? V_ASN1_NULL : V_ASN1_UNDEF,
	        NULL) ||
	    (len = i2d_X509_ALGOR(alg, &der)) <= 0 ||
	    !OSSL_PARAM_set_octet_string(p, der, (size_t)len))
		goto out;
	ok = 1;
out:
	EVP_MD_free(md);
	X509_ALGOR_free(alg);
	OPENSSL_free(der);
	return ok;
}

static const OSSL_PARAM *
rsig_gettable_ctx_params(void *ctx, void *provctx)
{
	static const OSSL_PARAM types[] = {
		OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL,
		    0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
		OSSL_PARAM_END,
	};

	(void)ctx;
	(void)provctx;
	return types;
}

static const OSSL_PARAM *
rsig_settable_ctx_params(void *ctx, void *provctx)
{
	static const OSSL_PARAM types[] = {
		OSSL_PARAM_utf8_string(KIND_PARAM, NULL, 0),
		OSSL_PARAM_END,
	};

	(void)ctx;
	(void)provctx;
	return types;
}

static const OSSL_DISPATCH rsig_functions[] = {
	{ OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))rsig_newctx },
	{ OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))rsig_freectx },
	{ OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))rsig_dupctx },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT,
	    (void (*)(void))rsig_digest_sign_init },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))rsig_digest_sign },
	{ OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS,
	    (void (*)(void))rsig_get_ctx_params },
	{ OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS,
	    (void (*)(void))rsig_gettable_ctx_params },
	{ OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS,
	    (void (*)(void))rsig_set_ctx_params },
	{ OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS,
	    (void (*)(void))rsig_settable_ctx_params },
	{ 0, NULL },
};

/* ---- the provider -------------------------------------------------- */

static const OSSL_ALGORITHM remote_keymgmt[] = {
	{ "EC:id-ecPublicKey:1.2.840.10045.2.1", "provider=" REMOTE_PROV,
	    rkey_functions, "fleetpki remote EC key" },
	{ "RSA:rsaEncryption:1.2.840.113549.1.1.1", "provider=" REMOTE_PROV,
	    rkey_functions, "fleetpki remote RSA key" },
	{ NULL, NULL, NULL, NULL },
};

static const OSSL_ALGORITHM remote_signature[] = {
	{ REMOTE_SIG, "provider=" REMOTE_PROV, rsig_functions,
	    "signature by the fleetpki signer" },
	{ NULL, NULL, NULL, NULL },
};

static const OSSL_ALGORITHM *
remote_query(void *provctx, int operation_id, int *no_cache)
{
	(void)provctx;
	*no_cache = 0;
	switch (operation_id) {
	case OSSL_OP_KEYMGMT:
		return remote_keymgmt;
	case OSSL_OP_SIGNATURE:
		return remote_signature;
	default:
		return NULL;
	}
}

static const OSSL_DISPATCH remote_dispatch[] = {
	{ OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))remote_query },
	{ 0, NULL },
};

static int
remote_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
    const OSSL_DISPATCH **out, void **provctx)
{
	(void)handle;
	(void)in;
	*out = remote_dispatch;
	*provctx = NULL;
	return 1;
}

/* The provider's own library context, made once per process. */
static OSSL_LIB_CTX *
remote_ctx(void)
{
	OSSL_LIB_CTX *lc;

	if (remote_libctx != NULL)
		return remote_libctx;
	if ((lc = OSSL_LIB_CTX_new()) == NULL ||
	    !OSSL_PROVIDER_add_builtin(lc, REMOTE_PROV, remote_init) ||
	    OSSL_PROVIDER_load(lc, REMOTE_PROV) == NULL ||
	    OSSL_PROVIDER_load(lc, "default") == NULL) {
		log_ossl_errors("loading the fleetpki-remote provider");
		OSSL_LIB_CTX_free(lc);
		return NULL;
	}
	remote_libctx = lc;
	return lc;
}

int
pki_key_remote(EVP_PKEY *pub, const struct pki_remote_ref *ref, EVP_PKEY **out)
{
	unsigned char blob[sizeof(ref) + sizeof(pub)];
	OSSL_PARAM params[2];
	EVP_PKEY_CTX *pctx = NULL;
	OSSL_LIB_CTX *lc;
	int rc = -FP_E_INTERNAL;

	*out = NULL;
	if ((lc = remote_ctx()) == NULL)
		return rc;
	/* Pointers, copied by the import into the key (pub up-ref'd). */
	memcpy(blob, &ref, sizeof(ref));
	memcpy(blob + sizeof(ref), &pub, sizeof(pub));
	params[0] = OSSL_PARAM_construct_octet_string(REMOTE_REF_PARAM, blob,
	    sizeof(blob));
	params[1] = OSSL_PARAM_construct_end();
	if ((pctx = EVP_PKEY_CTX_new_from_name(lc,
	         EVP_PKEY_is_a(pub, "EC") ? "EC" : "RSA",
	         "provider=" REMOTE_PROV)) == NULL ||
	    EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, out, EVP_PKEY_KEYPAIR, params) != 1) {
		log_ossl_errors("pki_key_remote");
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_CTX_free(pctx);
	return rc;
}

int
pki_sign_ctx_new(EVP_PKEY *key, const char *kind, EVP_MD_CTX **out)
{
	const OSSL_PROVIDER *prov = EVP_PKEY_get0_provider(key);
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	OSSL_LIB_CTX *lc = NULL;
	OSSL_PARAM params[2];

	*out = NULL;
	/*
	 * A remote key signs in its own library context, where the
	 * signature fetch finds its algorithm at once: from the default
	 * context OpenSSL 3.0 would first look there for it in vain, at
	 * every signature (failed fetches are not cached).
	 */
	if (prov != NULL &&
	    strcmp(OSSL_PROVIDER_get0_name(prov), REMOTE_PROV) == 0)
		lc = remote_libctx;
	if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit_ex(mctx, &pctx,
	        EVP_MD_get0_name(pki_sig_md(key)), lc, NULL, key, NULL) != 1) {
		log_ossl_errors("EVP_DigestSignInit_ex");
		EVP_MD_CTX_free(mctx);
		return -FP_E_INTERNAL;
	}
	/*
	 * Not strict: a key of the default provider ignores the name, a
	 * remote one passes it to the signer's log.
	 */
	params[0] =
	    OSSL_PARAM_construct_utf8_string(KIND_PARAM, (char *)kind, 0);
	params[1] = OSSL_PARAM_construct_end();
	(void)EVP_PKEY_CTX_set_params(pctx, params);
	ERR_clear_error();
	*out = mctx;
	return 0;
}

/*
 * The type (NID) of digest 'name', or NID_undef.  By NID: EVP_MD_is_a on
 * the legacy EVP_sha256() knows the provider's name for it ("SHA2-256")
 * only once something fetched a digest.  The names a signer sees are a
 * handful, so the fetches are kept (a fetch per signature was a lock and
 * a lookup in the provider's store every time).
 */
static int
md_type_of(const char *name)
{
	static struct {
		char name[32];
		int type;
	} seen[8];
	static size_t nseen;
	EVP_MD *md;
	size_t i;
	int type;

	for (i = 0; i < nseen; i++)
		if (strcmp(seen[i].name, name) == 0)
			return seen[i].type;
	if ((md = EVP_MD_fetch(NULL, name, NULL)) == NULL) {
		ERR_clear_error();
		return NID_undef;
	}
	type = EVP_MD_get_type(md);
	EVP_MD_free(md);
	if (nseen < FP_ARRAY_LEN(seen) && strlen(name) < sizeof(seen[0].name)) {
		snprintf(seen[nseen].name, sizeof(seen[nseen].name), "%s",
		    name);
		seen[nseen++].type = type;
	}
	return type;
}

int
pki_sign_prepare(EVP_PKEY *key, struct pki_signing *out)
{
	const EVP_MD *want = pki_sig_md(key);

	memset(out, 0, sizeof(*out));
	if ((out->ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) == NULL ||
	    EVP_PKEY_sign_init(out->ctx) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(out->ctx, want) != 1 ||
	    (EVP_PKEY_is_a(key, "RSA") &&
	        EVP_PKEY_CTX_set_rsa_padding(out->ctx, RSA_PKCS1_PADDING) !=
	            1)) {
		log_ossl_errors("pki_sign_prepare");
		EVP_PKEY_CTX_free(out->ctx);
		out->ctx = NULL;
		return -FP_E_INTERNAL;
	}
	out->md_type = EVP_MD_get_type(want);
	out->md_size = (size_t)EVP_MD_get_size(want);
	return 0;
}

void
pki_sign_release(struct pki_signing *sg)
{
	EVP_PKEY_CTX_free(sg->ctx);
	sg->ctx = NULL;
}

int
pki_sign_prepared(struct pki_signing *sg, const char *md,
    const unsigned char *dg, size_t dlen, unsigned char *sig, size_t *siglen)
{
	/* Only the digest this key signs with, of exactly its size. */
	if (sg->ctx == NULL || md_type_of(md) != sg->md_type ||
	    dlen != sg->md_size)
		return -FP_E_BADREQ;
	/* An initialised context signs again and again (apps/speed.c). */
	if (EVP_PKEY_sign(sg->ctx, sig, siglen, dg, dlen) != 1) {
		log_ossl_errors("pki_sign_prepared");
		return -FP_E_INTERNAL;
	}
	return 0;
}

int
pki_sign_digest(EVP_PKEY *key, const char *md, const unsigned char *dg,
    size_t dlen, unsigned char *sig, size_t *siglen)
{
	struct pki_signing sg;
	int rc;

	if ((rc = pki_sign_prepare(key, &sg)) != 0)
		return rc;
	rc = pki_sign_prepared(&sg, md, dg, dlen, sig, siglen);
	pki_sign_release(&sg);
	return rc;
}
