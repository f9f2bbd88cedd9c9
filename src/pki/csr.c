/*
 * csr: PKCS#10 parsing and policy.  A CSR proves possession of a key and
 * names what the client would like; the server trusts only the former.
 * Its extensions are checked for well-formedness here and then ignored:
 * pki_issue() builds every certificate from the server's profile.
 */
#include "config.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/log.h"
#include "fleetpki/pki.h"
#include "fleetpki/util.h"

#include "pki_internal.h"

/*
 * PKCS#10 by our own template (RFC 2986 §4).  d2i_X509_REQ() would decode
 * the SubjectPublicKeyInfo through OpenSSL 3.0's provider decoders, which
 * build a decoder context per key: two-thirds of the 190-250 us a CSR
 * took to parse, a third of a worker's CPU per issuance (bench/RESULTS.md
 * (p)).  Here the key stays as received, algorithm and bits, and the few
 * forms we take are built with EVP_PKEY_fromdata() directly.  The info's
 * received encoding is kept (ASN1_SEQUENCE_enc) so that the signature is
 * checked over exactly the bytes that were signed, as X509_REQ_verify does.
 * The shapes are OpenSSL's own X509_REQ_INFO and X509_REQ, attributes
 * optional as there: what parses is what d2i_X509_REQ() took, less keys
 * with unused bits or a hybrid point, which are malformed.
 */
typedef struct {
	X509_ALGOR *alg;
	ASN1_BIT_STRING *key;
} csr_spki;

typedef struct {
	ASN1_ENCODING enc;
	ASN1_INTEGER *version;
	X509_NAME *subject;
	csr_spki *spki;
	STACK_OF(X509_ATTRIBUTE) * attributes;
} csr_info;

typedef struct {
	csr_info *info;
	X509_ALGOR *sig_alg;
	ASN1_BIT_STRING *sig;
} csr_der;

/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } */
typedef struct {
	ASN1_INTEGER *n;
	ASN1_INTEGER *e;
} csr_rsa_key;

ASN1_SEQUENCE(csr_spki) = {
	ASN1_SIMPLE(csr_spki, alg, X509_ALGOR),
	ASN1_SIMPLE(csr_spki, key, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(csr_spki)

ASN1_SEQUENCE_enc(csr_info, enc, NULL) = {
	ASN1_SIMPLE(csr_info, version, ASN1_INTEGER),
	ASN1_SIMPLE(csr_info, subject, X509_NAME),
	ASN1_SIMPLE(csr_info, spki, csr_spki),
	ASN1_IMP_SET_OF_OPT(csr_info, attributes, X509_ATTRIBUTE, 0),
} static_ASN1_SEQUENCE_END_ref(csr_info, csr_info)

ASN1_SEQUENCE(csr_der) = {
	ASN1_SIMPLE(csr_der, info, csr_info),
	ASN1_SIMPLE(csr_der, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(csr_der, sig, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(csr_der)

ASN1_SEQUENCE(csr_rsa_key) = {
	ASN1_SIMPLE(csr_rsa_key, n, ASN1_INTEGER),
	ASN1_SIMPLE(csr_rsa_key, e, ASN1_INTEGER),
} static_ASN1_SEQUENCE_END(csr_rsa_key)

struct pki_csr {
	csr_der *der;
	EVP_PKEY *pub;
};

/* Boulder's list: PKCS#1 v1.5 and ECDSA over SHA-2. */
static const int good_sigalgs[] = {
	NID_sha256WithRSAEncryption,
	NID_sha384WithRSAEncryption,
	NID_sha512WithRSAEncryption,
	NID_ecdsa_with_SHA256,
	NID_ecdsa_with_SHA384,
	NID_ecdsa_with_SHA512,
};

/* The CN policy of the identity API, and how much of a bad value we echo. */
#define CN_MAX 255
#define CN_ECHO_MAX 300

static int
csr_check_sigalg(const X509_ALGOR *alg, struct fp_status *st)
{
	const ASN1_OBJECT *obj;
	int nid, mdnid, pknid;
	size_t i;

	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	nid = OBJ_obj2nid(obj);
	for (i = 0; i < FP_ARRAY_LEN(good_sigalgs); i++)
		if (nid == good_sigalgs[i])
			return 0;
	/* Name the weak digests apart: the client can act on that. */
	if (OBJ_find_sigid_algs(nid, &mdnid, &pknid) &&
	    (mdnid == NID_md5 || mdnid == NID_sha1 || mdnid == NID_md4 ||
	        mdnid == NID_md2 || mdnid == NID_mdc2 || mdnid == NID_md5_sha1))
		return fp_fail(st, FP_E_BADREQ,
		    "CSRs signed with MD5 or SHA-1 are not accepted. (Sign "
		    "with SHA-256 or stronger)");
	return fp_fail(st, FP_E_BADREQ,
	    "The CSR signature algorithm is not supported. (Use RSA PKCS#1 "
	    "v1.5 or ECDSA with SHA-256, SHA-384 or SHA-512)");
}

/* Extension request attributes, in X509_REQ_get_extensions() order. */
static const int req_nids[] = { NID_ext_req, NID_ms_ext_req };

/*
 * The requested extensions, as X509_REQ_get_extensions() finds them: the
 * first value of the first extension request attribute, a SEQUENCE that
 * decodes whole as Extensions.  None requested: an empty stack.  NULL
 * when they do not decode.
 */
static STACK_OF(X509_EXTENSION) * csr_extensions(const struct pki_csr *csr)
{
	const STACK_OF(X509_ATTRIBUTE) *attrs = csr->der->info->attributes;
	STACK_OF(X509_EXTENSION) * exts;
	const ASN1_TYPE *v = NULL;
	const unsigned char *p;
	size_t k;
	int i;

	for (k = 0; k < FP_ARRAY_LEN(req_nids) && v == NULL; k++)
		if ((i = X509at_get_attr_by_NID(attrs, req_nids[k], -1)) >= 0)
			v = X509_ATTRIBUTE_get0_type(X509at_get_attr(attrs, i),
			    0);
	if (v == NULL)
		return sk_X509_EXTENSION_new_null();
	if (v->type != V_ASN1_SEQUENCE)
		return NULL;
	p = v->value.sequence->data;
	exts = (STACK_OF(X509_EXTENSION) *)ASN1_item_d2i(NULL, &p,
	    v->value.sequence->length, ASN1_ITEM_rptr(X509_EXTENSIONS));
	if (exts != NULL &&
	    p != v->value.sequence->data + v->value.sequence->length) {
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
		exts = NULL;
	}
	return exts;
}

/*
 * The extension request: at most one such attribute (either OID), one
 * value, decodable, and no extension twice.  A duplicate is harmless to
 * us, since nothing is copied, but it is the signature of a CSR crafted
 * to make two parsers disagree, and other CAs refuse it too.
 */
static int
csr_check_extensions(const struct pki_csr *csr, struct fp_status *st)
{
	const STACK_OF(X509_ATTRIBUTE) *attrs = csr->der->info->attributes;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	const ASN1_OBJECT *a, *b;
	char name[80];
	size_t k;
	int i, j, n, nattr = 0, malformed = 0, r = -FP_E_BADREQ;

	for (k = 0; k < FP_ARRAY_LEN(req_nids); k++) {
		i = -1;
		while ((i = X509at_get_attr_by_NID(attrs, req_nids[k], i)) >= 0)
			if (nattr++ > 0 ||
			    X509_ATTRIBUTE_count(X509at_get_attr(attrs, i)) !=
			        1)
				malformed = 1;
	}
	if (malformed || (exts = csr_extensions(csr)) == NULL) {
		r = fp_fail(st, FP_E_BADREQ,
		    "The CSR's extension request attribute is malformed.");
		goto out;
	}
	n = sk_X509_EXTENSION_num(exts);
	for (i = 0; i < n; i++) {
		a = X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, i));
		for (j = i + 1; j < n; j++) {
			b = X509_EXTENSION_get_object(
			    sk_X509_EXTENSION_value(exts, j));
			if (OBJ_cmp(a, b) != 0)
				continue;
			/* "subjectAltName", or the dotted OID if unknown. */
			if (OBJ_obj2nid(a) != NID_undef)
				snprintf(name, sizeof(name), "%s",
				    OBJ_nid2sn(OBJ_obj2nid(a)));
			else
				OBJ_obj2txt(name, sizeof(name), a, 1);
			r = fp_fail(st, FP_E_BADREQ,
			    "The CSR requests the extension %s more than once.",
			    name);
			goto out;
		}
	}
	r = 0;
out:
	ERR_clear_error();
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return r;
}

/* A public key from parameters: 'type' "EC" or "RSA". */
static int
key_fromdata(const char *type, OSSL_PARAM *params, EVP_PKEY **out)
{
	EVP_PKEY_CTX *ctx;
	int ok;

	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) == NULL) {
		log_ossl_errors("pki_csr_parse: EVP_PKEY_CTX_new_from_name");
		return -FP_E_INTERNAL;
	}
	ok = EVP_PKEY_fromdata_init(ctx) > 0 &&
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) > 0;
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return ok ? 0 : -FP_E_BADREQ;
}

/*
 * id-ecPublicKey (RFC 5480): a named curve of ours and an uncompressed or
 * compressed point, which EVP_PKEY_fromdata() checks is on the curve.
 * Explicit parameters are refused before any arithmetic on them
 * (CVE-2022-0778 lived there); the hybrid form is forbidden by RFC 5480.
 * The point keeps the form it came in, as d2i would have kept it.
 */
static int
csr_key_ec(int ptype, const void *pval, const ASN1_BIT_STRING *bits,
    EVP_PKEY **out, struct fp_status *st)
{
	OSSL_PARAM params[4];
	const char *form;
	int nid, r;

	if (ptype == V_ASN1_SEQUENCE)
		return fp_fail(st, FP_E_BADREQ, "%s", PKI_MSG_EC_EXPLICIT);
	if (ptype != V_ASN1_OBJECT)
		return fp_fail(st, FP_E_BADREQ, "%s", PKI_MSG_KEY_ALG);
	nid = OBJ_obj2nid(pval);
	if (nid != NID_X9_62_prime256v1 && nid != NID_secp384r1 &&
	    nid != NID_secp521r1)
		return fp_fail(st, FP_E_BADREQ, "%s", PKI_MSG_EC_CURVE);
	if (bits->length < 1)
		form = NULL;
	else if (bits->data[0] == POINT_CONVERSION_UNCOMPRESSED)
		form = OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED;
	else if ((bits->data[0] & ~1) == POINT_CONVERSION_COMPRESSED)
		form = OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_COMPRESSED;
	else
		form = NULL;
	if (form == NULL)
		return fp_fail(st, FP_E_BADREQ, "%s", PKI_MSG_EC_POINT);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
	    (char *)OBJ_nid2sn(nid), 0);
	params[1] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, (char *)form, 0);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
	    bits->data, (size_t)bits->length);
	params[3] = OSSL_PARAM_construct_end();
	if ((r = key_fromdata("EC", params, out)) == -FP_E_BADREQ)
		return fp_fail(st, FP_E_BADREQ, "%s", PKI_MSG_EC_POINT);
	return r;
}

/* rsaEncryption (RFC 3279 §2.3.1): NULL parameters, an RSAPublicKey. */
static int
csr_key_rsa(int ptype, const ASN1_BIT_STRING *bits, EVP_PKEY **out,
    struct fp_status *st)
{
	const unsigned char *p = bits->data;
	csr_rsa_key *rk = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	BIGNUM *n = NULL, *e = NULL;
	int r = -FP_E_BADREQ;

	if (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF)
		goto bad;
	rk = (csr_rsa_key *)ASN1_item_d2i(NULL, &p, bits->length,
	    ASN1_ITEM_rptr(csr_rsa_key));
	if (rk == NULL || p != bits->data + bits->length ||
	    ASN1_STRING_type(rk->n) != V_ASN1_INTEGER ||
	    ASN1_STRING_type(rk->e) != V_ASN1_INTEGER)
		goto bad;
	r = -FP_E_INTERNAL;
	if ((n = ASN1_INTEGER_to_BN(rk->n, NULL)) == NULL ||
	    (e = ASN1_INTEGER_to_BN(rk->e, NULL)) == NULL ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
		log_ossl_errors("pki_csr_parse: RSA parameters");
		goto out;
	}
	if ((r = key_fromdata("RSA", params, out)) == -FP_E_BADREQ)
		goto bad;
	goto out;
bad:
	r = fp_fail(st, FP_E_BADREQ, "The CSR's RSA public key is malformed.");
out:
	ERR_clear_error();
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	ASN1_item_free((ASN1_VALUE *)rk, ASN1_ITEM_rptr(csr_rsa_key));
	return r;
}

/* The SubjectPublicKeyInfo as a key: RSA or EC, nothing else. */
static int
csr_key(const csr_spki *spki, EVP_PKEY **out, struct fp_status *st)
{
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype;

	/* A key is whole octets; the DER of one has no unused bits. */
	if ((spki->key->flags & ASN1_STRING_FLAG_BITS_LEFT) != 0 &&
	    (spki->key->flags & 0x07) != 0)
		return fp_fail(st, FP_E_BADREQ,
		    "The CSR is not a valid PKCS#10 certificate request.");
	X509_ALGOR_get0(&obj, &ptype, &pval, spki->alg);
	switch (OBJ_obj2nid(obj)) {
	case NID_X9_62_id_ecPublicKey:
		return csr_key_ec(ptype, pval, spki->key, out, st);
	case NID_rsaEncryption:
		return csr_key_rsa(ptype, spki->key, out, st);
	default:
		/* RSA-PSS, Ed25519, DSA, ...: fine, but not ours to issue. */
		return fp_fail(st, FP_E_BADREQ, "%s", PKI_MSG_KEY_ALG);
	}
}

void
pki_csr_free(struct pki_csr *csr)
{
	if (csr == NULL)
		return;
	ASN1_item_free((ASN1_VALUE *)csr->der, ASN1_ITEM_rptr(csr_der));
	EVP_PKEY_free(csr->pub);
	free(csr);
}

EVP_PKEY *
pki_csr_pubkey(const struct pki_csr *csr)
{
	return csr->pub;
}

int
pki_csr_to_der(const struct pki_csr *csr, struct buf *out)
{
	unsigned char *der = NULL;
	int len;

	if ((len = ASN1_item_i2d((const ASN1_VALUE *)csr->der, &der,
	         ASN1_ITEM_rptr(csr_der))) <= 0) {
		log_ossl_errors("pki_csr_to_der");
		return -FP_E_INTERNAL;
	}
	buf_append(out, der, (size_t)len);
	OPENSSL_free(der);
	return 0;
}

int
pki_csr_parse_der(const unsigned char *der, size_t len, struct pki_csr **out,
    struct fp_status *st)
{
	const unsigned char *p = der;
	struct pki_csr *csr;
	int r = -FP_E_BADREQ;

	*out = NULL;
	csr = xcalloc(1, sizeof(*csr));
	if (len > LONG_MAX ||
	    (csr->der = (csr_der *)ASN1_item_d2i(NULL, &p, (long)len,
	         ASN1_ITEM_rptr(csr_der))) == NULL ||
	    p != der + len) {
		ERR_clear_error();
		r = fp_fail(st, FP_E_BADREQ,
		    "The CSR is not a valid PKCS#10 certificate request.");
		goto out;
	}
	if (ASN1_INTEGER_get(csr->der->info->version) != X509_REQ_VERSION_1) {
		ERR_clear_error();
		r = fp_fail(st, FP_E_BADREQ,
		    "The CSR version is not supported.");
		goto out;
	}

	/* Key policy before the signature's arithmetic on the key. */
	if ((r = csr_key(csr->der->info->spki, &csr->pub, st)) != 0 ||
	    (r = pki_key_check(csr->pub, st)) != 0 ||
	    (r = csr_check_sigalg(csr->der->sig_alg, st)) != 0)
		goto out;
	if (ASN1_item_verify_ex(ASN1_ITEM_rptr(csr_info), csr->der->sig_alg,
	        csr->der->sig, csr->der->info, NULL, csr->pub, NULL,
	        NULL) != 1) {
		ERR_clear_error();
		r = fp_fail(st, FP_E_BADREQ,
		    "The CSR signature does not verify.");
		goto out;
	}
	if ((r = csr_check_extensions(csr, st)) != 0)
		goto out;
	*out = csr;
	csr = NULL;
	r = 0;
out:
	pki_csr_free(csr);
	return r;
}

int
pki_csr_parse_pem(const char *pem, size_t len, struct pki_csr **out,
    struct fp_status *st)
{
	struct buf der = BUF_INIT;
	int r;

	*out = NULL;
	r = pki_pem_decode(pem, len, "CERTIFICATE REQUEST", &der, st);
	if (r == 0)
		r = pki_csr_parse_der(der.data, der.len, out, st);
	buf_free(&der);
	return r;
}

/* The character class of /^[0-9A-Za-z ]{1,255}$/, in ASCII. */
static int
cn_char_ok(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z') || c == ' ';
}

/*
 * A CN value fit to quote back in a message: control characters become
 * '?', and an overlong value is cut on a UTF-8 boundary, so the status
 * text stays one line of valid UTF-8 within its 512 bytes.
 */
static void
cn_echo(const unsigned char *s, size_t len, char *out, size_t outsz)
{
	size_t i, n;

	n = len < outsz - 1 ? len : outsz - 1;
	if (n < len)
		while (n > 0 && (s[n] & 0xc0) == 0x80)
			n--;
	for (i = 0; i < n; i++)
		out[i] = (s[i] < 0x20 || s[i] == 0x7f) ? '?' : (char)s[i];
	out[n] = '\0';
}

int
pki_csr_subject_cn_only(const struct pki_csr *csr, char **cn,
    struct fp_status *st)
{
	const X509_NAME *name;
	const X509_NAME_ENTRY *ne;
	const ASN1_OBJECT *obj;
	struct buf found = BUF_INIT;
	unsigned char *utf8 = NULL;
	char oid[80], echo[CN_ECHO_MAX + 1];
	int i, n, nid, ulen = -1, r = -FP_E_BADREQ;

	*cn = NULL;
	name = csr->der->info->subject;
	n = X509_NAME_entry_count(name);

	/*
	 * Exactly one attribute and it is the CN; otherwise list what was
	 * there by short name, in subject order: "Found: [O, CN]".
	 */
	ne = n == 1 ? X509_NAME_get_entry(name, 0) : NULL;
	if (ne == NULL ||
	    OBJ_obj2nid(X509_NAME_ENTRY_get_object(ne)) != NID_commonName) {
		buf_puts(&found, "");
		for (i = 0; i < n; i++) {
			obj = X509_NAME_ENTRY_get_object(
			    X509_NAME_get_entry(name, i));
			if ((nid = OBJ_obj2nid(obj)) != NID_undef)
				snprintf(oid, sizeof(oid), "%s",
				    OBJ_nid2sn(nid));
			else
				OBJ_obj2txt(oid, sizeof(oid), obj, 1);
			buf_printf(&found, "%s%s", i > 0 ? ", " : "", oid);
		}
		r = fp_fail(st, FP_E_BADREQ,
		    "Error checking SubjectDN allowed attributes in CSR. "
		    "Allowed: [CN] Found: [%s]",
		    (char *)found.data);
		goto out;
	}

	/*
	 * Whatever string type the client chose (Printable, UTF8, BMP...),
	 * judge the characters it decodes to.  A value that does not decode
	 * cannot match the expression either.
	 */
	ulen = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(ne));
	if (ulen < 0) {
		ERR_clear_error();
		r = fp_fail(st, FP_E_BADREQ,
		    "Error checking SubjectDN 'CN' attribute in CSR. The value "
		    "does not match the regular expression: "
		    "/^[0-9A-Za-z ]{1,255}$/. Found: (undecodable)");
		goto out;
	}
	for (i = 0; i < ulen && cn_char_ok(utf8[i]); i++)
		;
	if (ulen < 1 || ulen > CN_MAX || i < ulen) {
		cn_echo(utf8, (size_t)ulen, echo, sizeof(echo));
		r = fp_fail(st, FP_E_BADREQ,
		    "Error checking SubjectDN 'CN' attribute in CSR. The value "
		    "does not match the regular expression: "
		    "/^[0-9A-Za-z ]{1,255}$/. Found: %s",
		    echo);
		goto out;
	}
	*cn = xstrndup((const char *)utf8, (size_t)ulen);
	r = 0;
out:
	OPENSSL_free(utf8);
	buf_free(&found);
	return r;
}

void
pki_sans_free(struct pki_san *sans, size_t n)
{
	size_t i;

	for (i = 0; sans != NULL && i < n; i++)
		free((char *)sans[i].value);
	free(sans);
}

/* One GENERAL_NAME as a profile SAN, or -FP_E_BADREQ for other kinds. */
static int
san_from_gn(const GENERAL_NAME *gn, struct pki_san *out, struct fp_status *st)
{
	const ASN1_STRING *s;
	char text[INET6_ADDRSTRLEN];
	int type;

	s = GENERAL_NAME_get0_value(gn, &type);
	switch (type) {
	case GEN_DNS:
	case GEN_EMAIL:
		/* IA5 text with no NUL: a NUL would truncate the name. */
		if (ASN1_STRING_length(s) <= 0 ||
		    memchr(ASN1_STRING_get0_data(s), 0,
		        (size_t)ASN1_STRING_length(s)) != NULL)
			return fp_fail(st, FP_E_BADREQ,
			    "The CSR requests an empty or malformed name.");
		out->type = type == GEN_DNS ? PKI_SAN_DNS : PKI_SAN_EMAIL;
		out->value = xstrndup((const char *)ASN1_STRING_get0_data(s),
		    (size_t)ASN1_STRING_length(s));
		return 0;
	case GEN_IPADD:
		if (ASN1_STRING_length(s) == 4)
			inet_ntop(AF_INET, ASN1_STRING_get0_data(s), text,
			    sizeof(text));
		else if (ASN1_STRING_length(s) == 16)
			inet_ntop(AF_INET6, ASN1_STRING_get0_data(s), text,
			    sizeof(text));
		else
			return fp_fail(st, FP_E_BADREQ,
			    "The CSR requests a malformed IP address.");
		out->type = PKI_SAN_IP;
		out->value = xstrdup(text);
		return 0;
	default:
		return fp_fail(st, FP_E_BADREQ,
		    "The CSR requests a name that "
		    "is not a DNS name, IP address or email address.");
	}
}

int
pki_csr_sans(const struct pki_csr *csr, struct pki_san **sans, size_t *n,
    struct fp_status *st)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	GENERAL_NAMES *gens = NULL;
	struct pki_san *out = NULL;
	size_t count = 0;
	int i, idx, rc = 0;

	*sans = NULL;
	*n = 0;
	if ((exts = csr_extensions(csr)) == NULL) {
		rc = fp_fail(st, FP_E_BADREQ,
		    "The CSR's extension request attribute is malformed.");
		goto out;
	}
	idx = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1);
	if (idx < 0)
		goto out;
	gens = X509V3_EXT_d2i(X509v3_get_ext(exts, idx));
	if (gens == NULL) {
		rc = fp_fail(st, FP_E_BADREQ,
		    "The CSR's subjectAltName cannot be decoded.");
		goto out;
	}
	out = xcalloc((size_t)sk_GENERAL_NAME_num(gens) + 1, sizeof(*out));
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		if ((rc = san_from_gn(sk_GENERAL_NAME_value(gens, i),
		         &out[count], st)) != 0)
			goto out;
		count++;
	}
	*sans = out;
	*n = count;
	out = NULL;
out:
	pki_sans_free(out, count);
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}

char *
pki_csr_cn(const struct pki_csr *csr)
{
	const X509_NAME *name = csr->der->info->subject;
	const ASN1_STRING *s;
	unsigned char *utf8 = NULL;
	char *cn = NULL;
	int idx, len;

	if ((idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1)) < 0)
		return NULL;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
	if ((len = ASN1_STRING_to_UTF8(&utf8, s)) < 0)
		return NULL;
	if (memchr(utf8, 0, (size_t)len) == NULL)
		cn = xstrndup((const char *)utf8, (size_t)len);
	OPENSSL_free(utf8);
	return cn;
}
