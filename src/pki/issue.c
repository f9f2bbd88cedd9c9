/*
 * issue: certificates from the server's profile, and self-signed roots.
 *
 * Nothing here reads a CSR: the caller hands over a checked public key
 * and a profile it has filled from what the client is allowed.  Values a
 * client can influence (SANs, URLs, subject text) are put into ASN.1
 * objects directly, never into X509V3_EXT_conf strings, whose commas
 * and "IP:" prefixes would let a value add names of its own.
 */
#include "config.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/log.h"
#include "fleetpki/pki.h"
#include "fleetpki/util.h"

#include "pki_internal.h"

/* Clock skew allowance for relying parties whose clocks run late. */
#define BACKDATE_SECS 300
/* Bytes of one subject attribute value; generous, see name_add(). */
#define NAME_VALUE_MAX 1024
#define URL_MAX 2048

/* extendedKeyUsage by PKI_EKU_* bits (1 client, 2 server, 3 both). */
static const char *const eku_names[] = {
	NULL,
	"clientAuth",
	"serverAuth",
	"serverAuth,clientAuth",
};

/* The digest a CA key signs with: the hash sized to the curve. */
const EVP_MD *
pki_sig_md(EVP_PKEY *key)
{
	char group[64];

	if (EVP_PKEY_is_a(key, "EC") &&
	    EVP_PKEY_get_group_name(key, group, sizeof(group), NULL)) {
		switch (OBJ_sn2nid(group)) {
		case NID_secp384r1:
			return EVP_sha384();
		case NID_secp521r1:
			return EVP_sha512();
		default:
			break;
		}
	}
	return EVP_sha256();
}

/*
 * 20 random bytes with the top bit clear (a positive INTEGER that needs
 * no 0x00 pad) and a non-zero first byte (so DER keeps all 20 bytes).
 * Redrawing rather than forcing bits keeps the value uniform over the
 * allowed set: about 159 bits of entropy.
 */
static int
set_random_serial(X509 *x)
{
	unsigned char b[PKI_SERIAL_BYTES];

	do {
		pki_random(b, sizeof(b));
		b[0] &= 0x7f;
	} while (b[0] == 0);
	if (!ASN1_STRING_set(X509_get_serialNumber(x), b, sizeof(b))) {
		log_ossl_errors("set_random_serial");
		return -FP_E_INTERNAL;
	}
	return 0;
}

/*
 * One subject attribute.  The ub-* upper bounds of RFC 5280 (64 for CN)
 * are not applied: the identity API's CN policy allows 255 characters
 * before the "tenant:" prefix, and no verifier we target enforces them.
 * Values are UTF8String after a UTF-8 validity check; the country is a
 * two-letter PrintableString as RFC 5280 requires.
 */
static int
name_add(X509_NAME *name, int nid, const char *value, struct fp_status *st)
{
	size_t len = strlen(value);
	int type = V_ASN1_UTF8STRING;

	if (nid == NID_countryName) {
		if (len != 2 || value[0] < 'A' || value[0] > 'Z' ||
		    value[1] < 'A' || value[1] > 'Z')
			return fp_fail(st, FP_E_BADREQ,
			    "The subject country must be a two-letter code.");
		type = V_ASN1_PRINTABLESTRING;
	} else if (len == 0 || len > NAME_VALUE_MAX ||
	    ASN1_mbstring_ncopy(NULL, (const unsigned char *)value, (int)len,
	        MBSTRING_UTF8, B_ASN1_UTF8STRING, 1, 0) < 0) {
		ERR_clear_error();
		return fp_fail(st, FP_E_BADREQ,
		    "The subject %s must be UTF-8 text of 1 to %d bytes.",
		    OBJ_nid2sn(nid), NAME_VALUE_MAX);
	}
	if (!X509_NAME_add_entry_by_NID(name, nid, type,
	        (const unsigned char *)value, (int)len, -1, 0)) {
		log_ossl_errors("name_add");
		return -FP_E_INTERNAL;
	}
	return 0;
}

static int
subject_build(const struct pki_name *pn, X509_NAME **out, struct fp_status *st)
{
	const struct {
		int nid;
		const char *value;
	} attrs[] = {
		{ NID_countryName, pn->c },
		{ NID_stateOrProvinceName, pn->st },
		{ NID_localityName, pn->l },
		{ NID_streetAddress, pn->street },
		{ NID_postalCode, pn->postal },
		{ NID_organizationName, pn->o },
		{ NID_organizationalUnitName, pn->ou },
		{ NID_commonName, pn->cn },
	};
	X509_NAME *name = NULL;
	size_t i;
	int r = -FP_E_INTERNAL;

	if ((name = X509_NAME_new()) == NULL) {
		log_ossl_errors("X509_NAME_new");
		goto out;
	}
	for (i = 0; i < FP_ARRAY_LEN(attrs); i++)
		if (attrs[i].value != NULL &&
		    (r = name_add(name, attrs[i].nid, attrs[i].value, st)) != 0)
			goto out;
	*out = name;
	name = NULL;
	r = 0;
out:
	X509_NAME_free(name);
	return r;
}

static int
is_ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-';
}

/*
 * A host name of LDH labels, optionally under one leading "*." label.
 * The last label must not be all digits (RFC 1123 2.1, RFC 3696 2): that
 * keeps addresses in any notation ("10.0.0.1", "2130706434", "0x7f.1")
 * out of DNS names, where a resolver would turn them into IP addresses.
 */
static int
dns_valid(const char *s)
{
	size_t len, i, lab = 0;
	int digits = 1;

	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	if ((len = strlen(s)) == 0 || len > 253)
		return 0;
	for (i = 0; i <= len; i++) {
		if (s[i] == '.' || s[i] == '\0') {
			if (lab == 0 || lab > 63 || s[i - 1] == '-')
				return 0;
			lab = 0;
			if (s[i] == '.')
				digits = 1;
		} else if (!is_ldh(s[i]) || (s[i] == '-' && lab == 0)) {
			return 0;
		} else {
			if (s[i] < '0' || s[i] > '9')
				digits = 0;
			lab++;
		}
	}
	return !digits;
}

/* Printable ASCII without spaces: what an IA5String SAN may carry. */
static int
ia5_token(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || i >= max)
			return 0;
	return i > 0;
}

static int
email_valid(const char *s)
{
	const char *at = strchr(s, '@');

	return ia5_token(s, 320) && at != NULL && at != s &&
	    strchr(at + 1, '@') == NULL && dns_valid(at + 1);
}

/*
 * Parses an IP address into its 16-byte IPv6 form (IPv4 as ::ffff:a.b.c.d)
 * so that two notations of one address compare equal.
 */
static int
ip_parse(const char *s, unsigned char out[16])
{
	unsigned char v4[4];

	if (inet_pton(AF_INET, s, v4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, v4, 4);
		return 1;
	}
	return inet_pton(AF_INET6, s, out) == 1;
}

static int
ip_valid(const char *s)
{
	unsigned char addr[16];

	return ip_parse(s, addr);
}

static int
san_same(const struct pki_san *a, const struct pki_san *b)
{
	unsigned char x[16], y[16];

	if (a->type != b->type)
		return 0;
	if (a->type == PKI_SAN_IP)
		return ip_parse(a->value, x) && ip_parse(b->value, y) &&
		    memcmp(x, y, sizeof(x)) == 0;
	/* DNS names and email domains compare case-insensitively (RFC 4343). */
	return strcasecmp(a->value, b->value) == 0;
}

int
pki_san_check(const struct pki_san *sans, size_t n, struct fp_status *st)
{
	static const char *const kind[] = { "DNS name", "IP address",
		"email address" };
	size_t i, j;
	int ok;

	for (i = 0; i < n; i++) {
		switch (sans[i].type) {
		case PKI_SAN_DNS:
			ok = dns_valid(sans[i].value);
			break;
		case PKI_SAN_IP:
			ok = ip_valid(sans[i].value);
			break;
		case PKI_SAN_EMAIL:
			ok = email_valid(sans[i].value);
			break;
		default:
			return fp_fail(st, FP_E_BADREQ, "Unknown SAN type.");
		}
		if (!ok)
			return fp_fail(st, FP_E_BADREQ,
			    "'%.100s' is not a valid %s.", sans[i].value,
			    kind[sans[i].type]);
		for (j = 0; j < i; j++)
			if (san_same(&sans[j], &sans[i]))
				return fp_fail(st, FP_E_BADREQ,
				    "'%.100s' is requested twice.",
				    sans[i].value);
	}
	return 0;
}

static int
url_valid(const char *s)
{
	return ia5_token(s, URL_MAX) &&
	    (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0);
}

/* A GENERAL_NAME holding an IA5String (DNS, email, URI). */
static GENERAL_NAME *
gn_ia5(int type, const char *value)
{
	GENERAL_NAME *gn = NULL;
	ASN1_IA5STRING *s = NULL;

	if ((gn = GENERAL_NAME_new()) == NULL ||
	    (s = ASN1_IA5STRING_new()) == NULL ||
	    !ASN1_STRING_set(s, value, -1)) {
		log_ossl_errors("gn_ia5");
		GENERAL_NAME_free(gn);
		ASN1_IA5STRING_free(s);
		return NULL;
	}
	GENERAL_NAME_set0_value(gn, type, s);
	return gn;
}

/*
 * An IP SAN from text.  inet_pton() rather than a2i_IPADDRESS(): the
 * latter reads IPv4 with sscanf and so accepts "10.0.0.1junk".
 */
static GENERAL_NAME *
gn_ip(const char *value)
{
	unsigned char addr[16];
	GENERAL_NAME *gn = NULL;
	ASN1_OCTET_STRING *s = NULL;
	int len;

	if (inet_pton(AF_INET, value, addr) == 1)
		len = 4;
	else if (inet_pton(AF_INET6, value, addr) == 1)
		len = 16;
	else
		return NULL;
	if ((gn = GENERAL_NAME_new()) == NULL ||
	    (s = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(s, addr, len)) {
		log_ossl_errors("gn_ip");
		GENERAL_NAME_free(gn);
		ASN1_OCTET_STRING_free(s);
		return NULL;
	}
	GENERAL_NAME_set0_value(gn, GEN_IPADD, s);
	return gn;
}

/*
 * subjectAltName from the profile; critical when the subject is empty
 * (RFC 5280 4.2.1.6, and -x509_strict checks it).
 */
static int
add_sans(X509 *x, const struct pki_profile *prof, int critical,
    struct fp_status *st)
{
	GENERAL_NAMES *gens = NULL;
	GENERAL_NAME *gn = NULL;
	const struct pki_san *san;
	size_t i;
	int r = -FP_E_INTERNAL;

	if ((gens = GENERAL_NAMES_new()) == NULL) {
		log_ossl_errors("GENERAL_NAMES_new");
		goto out;
	}
	for (i = 0; i < prof->nsans; i++) {
		san = &prof->sans[i];
		switch (san->type) {
		case PKI_SAN_DNS:
			if (!dns_valid(san->value)) {
				r = fp_fail(st, FP_E_BADREQ,
				    "The SAN '%.100s' is not a valid DNS name.",
				    san->value);
				goto out;
			}
			gn = gn_ia5(GEN_DNS, san->value);
			break;
		case PKI_SAN_EMAIL:
			if (!email_valid(san->value)) {
				r = fp_fail(st, FP_E_BADREQ,
				    "The SAN '%.100s' is not a valid email address.",
				    san->value);
				goto out;
			}
			gn = gn_ia5(GEN_EMAIL, san->value);
			break;
		case PKI_SAN_IP:
			if ((gn = gn_ip(san->value)) == NULL) {
				r = fp_fail(st, FP_E_BADREQ,
				    "The SAN '%.100s' is not a valid IP address.",
				    san->value);
				goto out;
			}
			break;
		default:
			r = fp_fail(st, FP_E_BADREQ, "Unknown SAN type.");
			goto out;
		}
		if (gn == NULL)
			goto out;
		if (!sk_GENERAL_NAME_push(gens, gn)) {
			log_ossl_errors("sk_GENERAL_NAME_push");
			GENERAL_NAME_free(gn);
			goto out;
		}
	}
	if (!X509_add1_ext_i2d(x, NID_subject_alt_name, gens, critical,
	        X509V3_ADD_DEFAULT)) {
		log_ossl_errors("X509_add1_ext_i2d subjectAltName");
		goto out;
	}
	r = 0;
out:
	GENERAL_NAMES_free(gens);
	return r;
}

/* cRLDistributionPoints with one fullName URI. */
CRL_DIST_POINTS *
pki_dist_points(const char *url)
{
	CRL_DIST_POINTS *dps = NULL;
	DIST_POINT *dp = NULL;
	GENERAL_NAME *gn = NULL;

	if ((dps = CRL_DIST_POINTS_new()) == NULL ||
	    (dp = DIST_POINT_new()) == NULL ||
	    (dp->distpoint = DIST_POINT_NAME_new()) == NULL ||
	    (dp->distpoint->name.fullname = GENERAL_NAMES_new()) == NULL ||
	    (gn = gn_ia5(GEN_URI, url)) == NULL)
		goto fail;
	dp->distpoint->type = 0; /* fullName */
	if (!sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn))
		goto fail;
	gn = NULL;
	if (!sk_DIST_POINT_push(dps, dp))
		goto fail;
	return dps;
fail:
	log_ossl_errors("pki_dist_points");
	GENERAL_NAME_free(gn);
	DIST_POINT_free(dp);
	CRL_DIST_POINTS_free(dps);
	return NULL;
}

/*
 * crlDistributionPoints ('nid' NID_crl_distribution_points) or Freshest
 * CRL (NID_freshest_crl, RFC 5280 4.2.1.15) with one fullName URI.
 */
static int
add_crldp(X509 *x, int nid, const char *url, struct fp_status *st)
{
	CRL_DIST_POINTS *dps;
	int r = 0;

	if (!url_valid(url))
		return fp_fail(st, FP_E_BADREQ,
		    "The CRL URL is not a valid http(s) URL.");
	if ((dps = pki_dist_points(url)) == NULL)
		return -FP_E_INTERNAL;
	if (!X509_add1_ext_i2d(x, nid, dps, 0, X509V3_ADD_DEFAULT)) {
		log_ossl_errors("X509_add1_ext_i2d CRL distribution points");
		r = -FP_E_INTERNAL;
	}
	CRL_DIST_POINTS_free(dps);
	return r;
}

/* authorityInfoAccess with one OCSP responder URI. */
static int
add_aia_ocsp(X509 *x, const char *url, struct fp_status *st)
{
	AUTHORITY_INFO_ACCESS *aia = NULL;
	ACCESS_DESCRIPTION *ad = NULL;
	GENERAL_NAME *gn = NULL;
	int r = -FP_E_INTERNAL;

	if (!url_valid(url))
		return fp_fail(st, FP_E_BADREQ,
		    "The OCSP URL is not a valid http(s) URL.");
	if ((aia = AUTHORITY_INFO_ACCESS_new()) == NULL ||
	    (ad = ACCESS_DESCRIPTION_new()) == NULL ||
	    (gn = gn_ia5(GEN_URI, url)) == NULL) {
		log_ossl_errors("add_aia_ocsp");
		goto out;
	}
	/* _new() filled both fields with placeholders; replace them. */
	ASN1_OBJECT_free(ad->method);
	ad->method = OBJ_nid2obj(NID_ad_OCSP);
	GENERAL_NAME_free(ad->location);
	ad->location = gn;
	gn = NULL;
	if (!sk_ACCESS_DESCRIPTION_push(aia, ad)) {
		log_ossl_errors("add_aia_ocsp: push");
		goto out;
	}
	ad = NULL;
	if (!X509_add1_ext_i2d(x, NID_info_access, aia, 0,
	        X509V3_ADD_DEFAULT)) {
		log_ossl_errors("X509_add1_ext_i2d authorityInfoAccess");
		goto out;
	}
	r = 0;
out:
	GENERAL_NAME_free(gn);
	ACCESS_DESCRIPTION_free(ad);
	AUTHORITY_INFO_ACCESS_free(aia);
	return r;
}

/* An extension from one of our fixed configuration strings. */
struct conf_ext {
	int nid;
	const char *value;
};

/*
 * The conf parser is the simplest way to get SKI and AKI computed
 * exactly as `openssl x509` does.  Only our own constant strings go
 * through it; order matters, SKI before AKI for a self-signed root.
 */
static int
add_conf_exts(X509 *x, X509V3_CTX *ctx, const struct conf_ext *exts, size_t n)
{
	X509_EXTENSION *ext;
	size_t i;
	int ok;

	for (i = 0; i < n; i++) {
		if ((ext = X509V3_EXT_conf_nid(NULL, ctx, exts[i].nid,
		         exts[i].value)) == NULL) {
			log_ossl_errors(OBJ_nid2sn(exts[i].nid));
			return -FP_E_INTERNAL;
		}
		ok = X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
		if (!ok) {
			log_ossl_errors("X509_add_ext");
			return -FP_E_INTERNAL;
		}
	}
	return 0;
}

/*
 * subjectPublicKeyInfo from the key's parameters.  X509_set_pubkey()
 * would do the same through OpenSSL 3.0's provider encoder and then
 * decode the result back, two generic lookups costing ~180 us of the
 * ~440 us an issuance takes; the fields are simple enough to set
 * directly.  The key has passed pki_key_check(): RSA, or EC on a named
 * curve.  Consequence: the returned X509 holds no decoded key, so
 * X509_get0_pubkey() on it gives NULL (its DER is complete and exact).
 */
static int
set_spki(X509 *x, EVP_PKEY *pub)
{
	X509_PUBKEY *xpk = X509_get_X509_PUBKEY(x);
	ASN1_INTEGER *n_ai = NULL, *e_ai = NULL;
	BIGNUM *n = NULL, *e = NULL;
	unsigned char *enc = NULL, *p;
	char group[64];
	size_t len = 0;
	int nlen, elen, total, curve, r = -FP_E_INTERNAL;

	if (EVP_PKEY_is_a(pub, "EC")) {
		if (!EVP_PKEY_get_group_name(pub, group, sizeof(group), NULL) ||
		    (curve = OBJ_sn2nid(group)) == NID_undef ||
		    !EVP_PKEY_get_octet_string_param(pub,
		        OSSL_PKEY_PARAM_PUB_KEY, NULL, 0, &len) ||
		    len == 0 || len > INT_MAX)
			goto ossl;
		enc = OPENSSL_malloc(len);
		if (enc == NULL ||
		    !EVP_PKEY_get_octet_string_param(pub,
		        OSSL_PKEY_PARAM_PUB_KEY, enc, len, &len) ||
		    !X509_PUBKEY_set0_param(xpk,
		        OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
		        OBJ_nid2obj(curve), enc, (int)len))
			goto ossl;
		enc = NULL; /* owned by 'xpk' now */
		r = 0;
		goto out;
	}

	/* RSA: the key is RSAPublicKey ::= SEQUENCE { n INTEGER, e INTEGER } */
	if (!EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_N, &n) ||
	    !EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_E, &e) ||
	    (n_ai = BN_to_ASN1_INTEGER(n, NULL)) == NULL ||
	    (e_ai = BN_to_ASN1_INTEGER(e, NULL)) == NULL ||
	    (nlen = i2d_ASN1_INTEGER(n_ai, NULL)) <= 0 ||
	    (elen = i2d_ASN1_INTEGER(e_ai, NULL)) <= 0 ||
	    (total = ASN1_object_size(1, nlen + elen, V_ASN1_SEQUENCE)) <= 0 ||
	    (enc = OPENSSL_malloc((size_t)total)) == NULL)
		goto ossl;
	p = enc;
	ASN1_put_object(&p, 1, nlen + elen, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	i2d_ASN1_INTEGER(n_ai, &p);
	i2d_ASN1_INTEGER(e_ai, &p);
	if (!X509_PUBKEY_set0_param(xpk, OBJ_nid2obj(NID_rsaEncryption),
	        V_ASN1_NULL, NULL, enc, total))
		goto ossl;
	enc = NULL;
	r = 0;
	goto out;
ossl:
	log_ossl_errors("set_spki");
out:
	OPENSSL_free(enc);
	ASN1_INTEGER_free(n_ai);
	ASN1_INTEGER_free(e_ai);
	BN_free(n);
	BN_free(e);
	return r;
}

/* The fixed part of every issued certificate's profile. */
static int
add_leaf_exts(X509 *x, X509 *issuer, EVP_PKEY *pub, unsigned eku)
{
	/* keyEncipherment only where the key can do it: RSA, not ECDSA. */
	const char *ku = EVP_PKEY_is_a(pub, "RSA")
	    ? "critical,digitalSignature,keyEncipherment"
	    : "critical,digitalSignature";
	const struct conf_ext exts[] = {
		{ NID_basic_constraints, "critical,CA:FALSE" },
		{ NID_key_usage, ku },
		{ NID_ext_key_usage, eku_names[eku] },
		{ NID_subject_key_identifier, "hash" },
		{ NID_authority_key_identifier, "keyid:always" },
	};
	X509V3_CTX ctx;

	memset(&ctx, 0, sizeof(ctx));
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	return add_conf_exts(x, &ctx, exts, FP_ARRAY_LEN(exts));
}

static int
set_time(ASN1_TIME *field, int64_t t)
{
	/* UTCTime through 2049, GeneralizedTime after: RFC 5280 4.1.2.5. */
	if (ASN1_TIME_set(field, (time_t)t) == NULL) {
		log_ossl_errors("ASN1_TIME_set");
		return -FP_E_INTERNAL;
	}
	return 0;
}

/* Sign 'x' with the CA's key ('who' names the caller in the log). */
static int
cert_sign(X509 *x, const struct pki_ca *ca, const char *who)
{
	EVP_MD_CTX *mctx = NULL;
	int r;

	if ((r = pki_sign_ctx_new(ca->key, PKI_KIND_CERT, &mctx)) != 0)
		return r;
	if (X509_sign_ctx(x, mctx) <= 0) {
		log_ossl_errors(who);
		r = -FP_E_INTERNAL;
	}
	EVP_MD_CTX_free(mctx);
	return r;
}

int
pki_issue(const struct pki_ca *ca, EVP_PKEY *pub,
    const struct pki_profile *prof, X509 **out, struct fp_status *st)
{
	const struct pki_name *pn = &prof->subject;
	X509_NAME *subject = NULL;
	X509 *x = NULL;
	int64_t now, nb, na, ca_nb, ca_na;
	int empty, r;

	*out = NULL;
	if (prof->eku == 0 ||
	    (prof->eku & ~(PKI_EKU_CLIENT | PKI_EKU_SERVER))) {
		r = fp_fail(st, FP_E_BADREQ,
		    "The profile must name clientAuth and/or serverAuth.");
		goto out;
	}
	if (prof->days < 1) {
		r = fp_fail(st, FP_E_BADREQ,
		    "The validity must be at least one day.");
		goto out;
	}
	empty = pn->c == NULL && pn->st == NULL && pn->l == NULL &&
	    pn->street == NULL && pn->postal == NULL && pn->o == NULL &&
	    pn->ou == NULL && pn->cn == NULL;
	if (empty && prof->nsans == 0) {
		r = fp_fail(st, FP_E_BADREQ,
		    "The certificate needs a subject or a SAN.");
		goto out;
	}
	/*
	 * The caller has checked the key (pki_csr_parse_*), but this is the
	 * one place every certificate passes: check again, it is cheap.
	 */
	if ((r = pki_key_check(pub, st)) != 0)
		goto out;

	/*
	 * Validity: five minutes back for clock skew, but never outside
	 * the issuer's own window, which relying parties would reject.
	 */
	if ((r = pki_cert_validity(ca->cert, &ca_nb, &ca_na)) != 0)
		goto out;
	now = (int64_t)time(NULL);
	nb = now - BACKDATE_SECS;
	na = now + (int64_t)prof->days * 86400;
	if (nb < ca_nb)
		nb = ca_nb;
	if (na > ca_na)
		na = ca_na;
	if (now >= ca_na || na <= nb) {
		r = fp_fail(st, FP_E_CONFLICT, "The issuing CA has expired.");
		goto out;
	}

	if ((r = subject_build(pn, &subject, st)) != 0)
		goto out;
	r = -FP_E_INTERNAL;
	if ((x = X509_new()) == NULL || !X509_set_version(x, X509_VERSION_3) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) ||
	    !X509_set_subject_name(x, subject)) {
		log_ossl_errors("pki_issue: X509 fields");
		goto out;
	}
	if ((r = set_spki(x, pub)) != 0 || (r = set_random_serial(x)) != 0 ||
	    (r = set_time(X509_getm_notBefore(x), nb)) != 0 ||
	    (r = set_time(X509_getm_notAfter(x), na)) != 0)
		goto out;

	if ((r = add_leaf_exts(x, ca->cert, pub, prof->eku)) != 0)
		goto out;
	if (prof->nsans > 0 && (r = add_sans(x, prof, empty, st)) != 0)
		goto out;
	if (prof->crl_url != NULL &&
	    (r = add_crldp(x, NID_crl_distribution_points, prof->crl_url,
	         st)) != 0)
		goto out;
	if (prof->delta_url != NULL &&
	    (r = add_crldp(x, NID_freshest_crl, prof->delta_url, st)) != 0)
		goto out;
	if (prof->ocsp_url != NULL &&
	    (r = add_aia_ocsp(x, prof->ocsp_url, st)) != 0)
		goto out;

	if ((r = cert_sign(x, ca, "pki_issue")) != 0)
		goto out;
	*out = x;
	x = NULL;
out:
	X509_free(x);
	X509_NAME_free(subject);
	return r;
}

int
pki_issue_ocsp_responder(const struct pki_ca *ca, EVP_PKEY *pub, int days,
    X509 **out, struct fp_status *st)
{
	static const struct conf_ext exts[] = {
		{ NID_basic_constraints, "critical,CA:FALSE" },
		{ NID_key_usage, "critical,digitalSignature" },
		{ NID_ext_key_usage, "OCSPSigning" },
		{ NID_id_pkix_OCSP_noCheck, "ignored" },
		{ NID_subject_key_identifier, "hash" },
		{ NID_authority_key_identifier, "keyid:always" },
	};
	X509_NAME *subject = NULL;
	X509V3_CTX vctx;
	X509 *x = NULL;
	char cn[256];
	int64_t now, nb, na, ca_nb, ca_na;
	int len, r;

	*out = NULL;
	if (days < 1)
		return fp_fail(st, FP_E_BADREQ,
		    "The validity must be at least one day.");
	if ((r = pki_key_check(pub, st)) != 0)
		return r;
	if ((r = pki_cert_validity(ca->cert, &ca_nb, &ca_na)) != 0)
		return r;
	now = (int64_t)time(NULL);
	nb = now - BACKDATE_SECS;
	na = now + (int64_t)days * 86400;
	if (nb < ca_nb)
		nb = ca_nb;
	if (na > ca_na)
		na = ca_na;
	if (now >= ca_na || na <= nb)
		return fp_fail(st, FP_E_CONFLICT,
		    "The issuing CA has expired.");
	len = X509_NAME_get_text_by_NID(X509_get_subject_name(ca->cert),
	    NID_commonName, cn, sizeof(cn) - 20);
	if (len <= 0)
		snprintf(cn, sizeof(cn), "fleetpki");
	snprintf(cn + strlen(cn), sizeof(cn) - strlen(cn), " OCSP responder");
	r = -FP_E_INTERNAL;
	if ((subject = X509_NAME_new()) == NULL ||
	    !X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
	        (const unsigned char *)cn, -1, -1, 0) ||
	    (x = X509_new()) == NULL || !X509_set_version(x, X509_VERSION_3) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) ||
	    !X509_set_subject_name(x, subject)) {
		log_ossl_errors("pki_issue_ocsp_responder: X509 fields");
		goto out;
	}
	if ((r = set_spki(x, pub)) != 0 || (r = set_random_serial(x)) != 0 ||
	    (r = set_time(X509_getm_notBefore(x), nb)) != 0 ||
	    (r = set_time(X509_getm_notAfter(x), na)) != 0)
		goto out;
	memset(&vctx, 0, sizeof(vctx));
	X509V3_set_ctx(&vctx, ca->cert, x, NULL, NULL, 0);
	if ((r = add_conf_exts(x, &vctx, exts, FP_ARRAY_LEN(exts))) != 0 ||
	    (r = cert_sign(x, ca, "pki_issue_ocsp_responder")) != 0)
		goto out;
	*out = x;
	x = NULL;
out:
	X509_free(x);
	X509_NAME_free(subject);
	return r;
}

int
pki_ca_create(const char *alg, const char *cn, const char *org, int days,
    EVP_PKEY **key, X509 **cert, struct fp_status *st)
{
	static const struct conf_ext ca_exts[] = {
		{ NID_basic_constraints, "critical,CA:TRUE" },
		{ NID_key_usage,
		    "critical,keyCertSign,cRLSign,digitalSignature" },
		{ NID_subject_key_identifier, "hash" },
		{ NID_authority_key_identifier, "keyid:always" },
	};
	struct pki_name pn = { 0 };
	X509_NAME *subject = NULL;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	X509V3_CTX ctx;
	int64_t now;
	int r;

	*key = NULL;
	*cert = NULL;
	if (cn == NULL || *cn == '\0') {
		r = fp_fail(st, FP_E_BADREQ, "The CA needs a common name.");
		goto out;
	}
	if (days < 1) {
		r = fp_fail(st, FP_E_BADREQ,
		    "The validity must be at least one day.");
		goto out;
	}
	pn.o = org;
	pn.cn = cn;
	if ((r = subject_build(&pn, &subject, st)) != 0 ||
	    (r = pki_key_generate(alg, &k, st)) != 0)
		goto out;

	r = -FP_E_INTERNAL;
	if ((x = X509_new()) == NULL || !X509_set_version(x, X509_VERSION_3) ||
	    !X509_set_issuer_name(x, subject) ||
	    !X509_set_subject_name(x, subject) || !X509_set_pubkey(x, k)) {
		log_ossl_errors("pki_ca_create: X509 fields");
		goto out;
	}
	/* Backdated like its certificates, so the first ones keep theirs. */
	now = (int64_t)time(NULL);
	if ((r = set_random_serial(x)) != 0 ||
	    (r = set_time(X509_getm_notBefore(x), now - BACKDATE_SECS)) != 0 ||
	    (r = set_time(X509_getm_notAfter(x),
	         now + (int64_t)days * 86400)) != 0)
		goto out;

	/*
	 * Self-signed: the certificate is its own issuer, so the SKI must be
	 * in place before AKI copies it.
	 */
	memset(&ctx, 0, sizeof(ctx));
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((r = add_conf_exts(x, &ctx, ca_exts, FP_ARRAY_LEN(ca_exts))) != 0)
		goto out;
	if (X509_sign(x, k, pki_sig_md(k)) <= 0) {
		log_ossl_errors("pki_ca_create: X509_sign");
		r = -FP_E_INTERNAL;
		goto out;
	}
	*key = k;
	*cert = x;
	k = NULL;
	x = NULL;
	r = 0;
out:
	X509_free(x);
	EVP_PKEY_free(k);
	X509_NAME_free(subject);
	return r;
}

int
pki_serial_to_hex(const ASN1_INTEGER *sn, char *out)
{
	const unsigned char *p = ASN1_STRING_get0_data(sn);
	int len = ASN1_STRING_length(sn);

	while (len > 1 && p[0] == 0) {
		p++;
		len--;
	}
	if (ASN1_STRING_type(sn) != V_ASN1_INTEGER || len < 1 ||
	    len > PKI_SERIAL_BYTES)
		return -FP_E_BADREQ;
	util_hex_upper(p, (size_t)len, '\0', out);
	return 0;
}

int
pki_cert_serial_hex(X509 *cert, char out[PKI_SERIAL_HEX_LEN])
{
	return pki_serial_to_hex(X509_get0_serialNumber(cert), out);
}

char *
pki_cert_subject(X509 *cert)
{
	BIO *bio = NULL;
	char *p, *s = NULL;
	long n;

	/* RFC 2253 but UTF-8 kept as is, not escaped as \C3\A9. */
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0,
	        XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0 ||
	    (n = BIO_get_mem_data(bio, &p)) < 0) {
		log_ossl_errors("pki_cert_subject");
		goto out;
	}
	s = xstrndup(n > 0 ? p : "", (size_t)n);
out:
	BIO_free(bio);
	return s;
}

static int
asn1_time_unix(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm)) {
		log_ossl_errors("ASN1_TIME_to_tm");
		return -FP_E_INTERNAL;
	}
	*out = (int64_t)timegm(&tm);
	return 0;
}

int
pki_cert_validity(X509 *cert, int64_t *not_before, int64_t *not_after)
{
	int r;

	if ((r = asn1_time_unix(X509_get0_notBefore(cert), not_before)) != 0)
		return r;
	return asn1_time_unix(X509_get0_notAfter(cert), not_after);
}
