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
csr_check_sigalg(const X509_REQ *req, struct fp_status *st)
{
	const X509_ALGOR *alg;
	const ASN1_OBJECT *obj;
	int nid, mdnid, pknid;
	size_t i;

	X509_REQ_get0_signature(req, NULL, &alg);
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

/*
 * The extension request: at most one such attribute (either OID), one
 * value, decodable, and no extension twice.  A duplicate is harmless to
 * us, since nothing is copied, but it is the signature of a CSR crafted
 * to make two parsers disagree, and other CAs refuse it too.
 */
static int
csr_check_extensions(X509_REQ *req, struct fp_status *st)
{
	static const int req_nids[] = { NID_ext_req, NID_ms_ext_req };
	STACK_OF(X509_EXTENSION) *exts = NULL;
	const X509_ATTRIBUTE *attr;
	const ASN1_OBJECT *a, *b;
	char name[80];
	size_t k;
	int i, j, n, nattr = 0, malformed = 0, r = -FP_E_BADREQ;

	for (k = 0; k < FP_ARRAY_LEN(req_nids); k++) {
		i = -1;
		while (
		    (i = X509_REQ_get_attr_by_NID(req, req_nids[k], i)) >= 0) {
			attr = X509_REQ_get_attr(req, i);
			if (nattr++ > 0 || X509_ATTRIBUTE_count(attr) != 1)
				malformed = 1;
		}
	}
	/* NULL is a decoding error: with no request we get an empty stack. */
	if (malformed || (exts = X509_REQ_get_extensions(req)) == NULL) {
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

int
pki_csr_parse_der(const unsigned char *der, size_t len, X509_REQ **out,
    struct fp_status *st)
{
	const unsigned char *p = der;
	X509_REQ *req = NULL;
	EVP_PKEY *pub;
	int r = -FP_E_BADREQ;

	*out = NULL;
	if (len > LONG_MAX ||
	    (req = d2i_X509_REQ(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		ERR_clear_error();
		r = fp_fail(st, FP_E_BADREQ,
		    "The CSR is not a valid PKCS#10 certificate request.");
		goto out;
	}
	if (X509_REQ_get_version(req) != X509_REQ_VERSION_1) {
		r = fp_fail(st, FP_E_BADREQ,
		    "The CSR version is not supported.");
		goto out;
	}

	/*
	 * Key policy before any arithmetic: an explicit-parameters curve is
	 * rejected before we compute on it (CVE-2022-0778 lived there).
	 */
	if ((pub = X509_REQ_get0_pubkey(req)) == NULL) {
		ERR_clear_error();
		r = fp_fail(st, FP_E_BADREQ,
		    "The public key algorithm is not supported. (Use RSA or "
		    "ECDSA)");
		goto out;
	}
	if ((r = pki_key_check(pub, st)) != 0)
		goto out;
	if ((r = csr_check_sigalg(req, st)) != 0)
		goto out;
	if (X509_REQ_verify_ex(req, pub, NULL, NULL) != 1) {
		ERR_clear_error();
		r = fp_fail(st, FP_E_BADREQ,
		    "The CSR signature does not verify.");
		goto out;
	}
	if ((r = csr_check_extensions(req, st)) != 0)
		goto out;
	*out = req;
	req = NULL;
	r = 0;
out:
	X509_REQ_free(req);
	return r;
}

int
pki_csr_parse_pem(const char *pem, size_t len, X509_REQ **out,
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
pki_csr_subject_cn_only(X509_REQ *req, char **cn, struct fp_status *st)
{
	const X509_NAME *name;
	const X509_NAME_ENTRY *ne;
	const ASN1_OBJECT *obj;
	struct buf found = BUF_INIT;
	unsigned char *utf8 = NULL;
	char oid[80], echo[CN_ECHO_MAX + 1];
	int i, n, nid, ulen = -1, r = -FP_E_BADREQ;

	*cn = NULL;
	name = X509_REQ_get_subject_name(req);
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
pki_csr_sans(X509_REQ *req, struct pki_san **sans, size_t *n,
    struct fp_status *st)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	GENERAL_NAMES *gens = NULL;
	struct pki_san *out = NULL;
	size_t count = 0;
	int i, idx, rc = 0;

	*sans = NULL;
	*n = 0;
	exts = X509_REQ_get_extensions(req);
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
pki_csr_cn(X509_REQ *req)
{
	const X509_NAME *name = X509_REQ_get_subject_name(req);
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
