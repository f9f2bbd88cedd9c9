/*
 * codec: certificate DER/PEM encodings, strict PEM envelopes, and SHA-256
 * fingerprints in the "AA:BB:..." form the API shows.
 */
#include "config.h"

#include <limits.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/log.h"
#include "fleetpki/pki.h"
#include "fleetpki/util.h"

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The DER of any ASN.1 object (certificate, CRL), appended to 'out'. */
static int
der_encode(const void *obj, const ASN1_ITEM *it, struct buf *out,
    const char *what)
{
	unsigned char *der = NULL;
	int n;

	if ((n = ASN1_item_i2d((const ASN1_VALUE *)obj, &der, it)) <= 0) {
		log_ossl_errors(what);
		return -FP_E_INTERNAL;
	}
	buf_append(out, der, (size_t)n);
	OPENSSL_free(der);
	return 0;
}

int
pki_pem_encode(const char *label, const unsigned char *der, size_t len,
    struct buf *out)
{
	BIO *bio = NULL;
	char *p;
	long n;
	int r = -FP_E_INTERNAL;

	/* PEM_write_bio is what PEM_write_bio_X509 and its kin end in. */
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio(bio, label, "", der, (long)len) <= 0 ||
	    (n = BIO_get_mem_data(bio, &p)) <= 0) {
		log_ossl_errors("pki_pem_encode");
		goto out;
	}
	buf_append(out, p, (size_t)n);
	r = 0;
out:
	BIO_free(bio);
	return r;
}

/* DER first, then armour: one path for every PEM object we write. */
static int
pem_encode(const void *obj, const ASN1_ITEM *it, const char *label,
    struct buf *out, const char *what)
{
	struct buf der = BUF_INIT;
	int rc;

	if ((rc = der_encode(obj, it, &der, what)) == 0)
		rc = pki_pem_encode(label, der.data, der.len, out);
	buf_free(&der);
	return rc;
}

int
pki_cert_to_der(X509 *cert, struct buf *out)
{
	return der_encode(cert, ASN1_ITEM_rptr(X509), out, "pki_cert_to_der");
}

int
pki_cert_to_pem(X509 *cert, struct buf *out)
{
	return pem_encode(cert, ASN1_ITEM_rptr(X509), PEM_STRING_X509, out,
	    "pki_cert_to_pem");
}

int
pki_crl_to_der(X509_CRL *crl, struct buf *out)
{
	return der_encode(crl, ASN1_ITEM_rptr(X509_CRL), out, "pki_crl_to_der");
}

int
pki_crl_to_pem(X509_CRL *crl, struct buf *out)
{
	return pem_encode(crl, ASN1_ITEM_rptr(X509_CRL), PEM_STRING_X509_CRL,
	    out, "pki_crl_to_pem");
}

int
pki_cert_from_der(const unsigned char *der, size_t len, X509 **out)
{
	const unsigned char *p = der;
	X509 *x = NULL;

	/* Trailing bytes after the certificate mean it is not one. */
	*out = NULL;
	if (len > LONG_MAX || (x = d2i_X509(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		ERR_clear_error();
		X509_free(x);
		return -FP_E_BADREQ;
	}
	*out = x;
	return 0;
}

int
pki_pem_decode(const char *pem, size_t len, const char *label, struct buf *out,
    struct fp_status *st)
{
	static const char begin[] = "-----BEGIN ";
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	BIO *bio = NULL;
	size_t off, used;
	long dlen = 0;
	int r = -FP_E_BADREQ;

	/*
	 * PEM_read_bio_ex() skips any text before a BEGIN line and stops
	 * after the END line, so what it tolerates on either side is ours
	 * to refuse: leading text, a second block, trailing garbage.  A NUL
	 * would let C-string consumers see a different document.
	 */
	if (len > INT_MAX || memchr(pem, '\0', len) != NULL)
		goto out;
	for (off = 0; off < len && is_space(pem[off]); off++)
		;
	if (len - off < sizeof(begin) - 1 ||
	    memcmp(pem + off, begin, sizeof(begin) - 1) != 0)
		goto out;
	if ((bio = BIO_new_mem_buf(pem + off, (int)(len - off))) == NULL) {
		log_ossl_errors("pki_pem_decode: BIO_new_mem_buf");
		r = -FP_E_INTERNAL;
		goto out;
	}
	/* ONLY_B64: a header line is not base64 and fails the decode. */
	if (!PEM_read_bio_ex(bio, &name, &header, &data, &dlen,
	        PEM_FLAG_ONLY_B64)) {
		ERR_clear_error();
		goto out;
	}
	/* Encrypted-PEM headers (Proc-Type, DEK-Info) have no place here. */
	if (strcmp(name, label) != 0 || header[0] != '\0' || dlen <= 0)
		goto out;
	/* A read-only memory BIO reports what is left unread. */
	used = (len - off) - (size_t)BIO_pending(bio);
	for (off += used; off < len; off++)
		if (!is_space(pem[off]))
			goto out;
	buf_append(out, data, (size_t)dlen);
	r = 0;
out:
	if (r == -FP_E_BADREQ)
		fp_fail(st, FP_E_BADREQ,
		    "Expected exactly one PEM \"%s\" block and nothing else.",
		    label);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(bio);
	return r;
}

int
pki_cert_from_pem(const char *pem, size_t len, X509 **out, struct fp_status *st)
{
	struct buf der = BUF_INIT;
	int r;

	*out = NULL;
	if ((r = pki_pem_decode(pem, len, "CERTIFICATE", &der, st)) != 0)
		goto out;
	if ((r = pki_cert_from_der(der.data, der.len, out)) != 0)
		r = fp_fail(st, FP_E_BADREQ,
		    "The PEM block does not hold a valid X.509 certificate.");
out:
	buf_free(&der);
	return r;
}

int
pki_pem_body_der(const char *pem, size_t len, struct buf *out)
{
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	BIO *bio = NULL;
	long dlen = 0;
	int r = -FP_E_BADREQ;

	if (len > INT_MAX)
		goto out;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		log_ossl_errors("pki_pem_body_der: BIO_new_mem_buf");
		r = -FP_E_INTERNAL;
		goto out;
	}
	if (!PEM_read_bio_ex(bio, &name, &header, &data, &dlen,
	        PEM_FLAG_EAY_COMPATIBLE)) {
		ERR_clear_error();
		goto out;
	}
	buf_append(out, data, (size_t)dlen);
	r = 0;
out:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(bio);
	return r;
}

void
pki_fingerprint(const unsigned char *der, size_t len, char out[PKI_FPR_LEN])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	/* SHA-256 fails only when memory runs out: fatal, like xmalloc. */
	if (!EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != sizeof(md)) {
		log_ossl_errors("pki_fingerprint");
		fatal("SHA-256 failed");
	}
	util_hex_upper(md, sizeof(md), ':', out);
}

int
pki_fingerprint_normalize(const char *in, char out[PKI_FPR_LEN])
{
	unsigned char md[32];
	size_t len, i, step;
	int hi, lo;

	/* 64 digits, or 32 pairs with a colon between each: nothing mixed. */
	len = strlen(in);
	if (len == 64)
		step = 2;
	else if (len == PKI_FPR_LEN - 1)
		step = 3;
	else
		return -FP_E_BADREQ;
	for (i = 0; i < sizeof(md); i++) {
		hi = util_hexval(in[i * step]);
		lo = util_hexval(in[i * step + 1]);
		if (hi < 0 || lo < 0)
			return -FP_E_BADREQ;
		if (step == 3 && i < 31 && in[i * step + 2] != ':')
			return -FP_E_BADREQ;
		md[i] = (unsigned char)(hi << 4 | lo);
	}
	util_hex_upper(md, sizeof(md), ':', out);
	return 0;
}

/* Certificates after the leaf a chain may carry (roots, cross-signs). */
#define PKI_CHAIN_MAX 8

int
pki_chain_check(const char *pem, size_t len, const char *host, EVP_PKEY *key,
    struct buf *clean, struct pki_leaf_info *info, struct fp_status *st)
{
	BIO *bio = NULL;
	X509 *leaf = NULL, *c;
	EVP_PKEY *got;
	unsigned char *der = NULL;
	int n = 0, dlen, rc = -FP_E_BADREQ;

	memset(info, 0, sizeof(*info));
	buf_reset(clean);
	if (len > INT_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    (leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
		fp_fail(st, FP_E_BADREQ, "no PEM certificate chain");
		goto out;
	}
	if (X509_check_host(leaf, host, strlen(host), 0, NULL) != 1) {
		fp_fail(st, FP_E_BADREQ, "the certificate is not for %s", host);
		goto out;
	}
	got = X509_get0_pubkey(leaf);
	if (key != NULL && (got == NULL || EVP_PKEY_eq(got, key) != 1)) {
		fp_fail(st, FP_E_BADREQ, "the certificate is not for the key");
		goto out;
	}
	if (got == NULL || pki_spki_sha256_hex(got, info->spki_sha256) != 0 ||
	    pki_cert_serial_hex(leaf, info->serial) != 0 ||
	    pki_cert_validity(leaf, &info->not_before, &info->not_after) != 0 ||
	    (dlen = i2d_X509(leaf, &der)) <= 0) {
		fp_fail(st, FP_E_BADREQ, "the certificate does not parse");
		goto out;
	}
	buf_append(&info->der, der, (size_t)dlen);
	/* The certificates alone, re-encoded: nothing put between them. */
	if (pki_cert_to_pem(leaf, clean) != 0)
		goto fail;
	while ((c = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (n++ < PKI_CHAIN_MAX && pki_cert_to_pem(c, clean) != 0) {
			X509_free(c);
			goto fail;
		}
		X509_free(c);
	}
	buf_append(clean, "", 1);
	clean->len--;
	rc = 0;
	goto out;
fail:
	rc = fp_fail(st, FP_E_INTERNAL, "encoding the chain failed");
out:
	ERR_clear_error(); /* the end of the chain reads as an error */
	OPENSSL_free(der);
	X509_free(leaf);
	BIO_free(bio);
	return rc;
}

void
pki_leaf_info_clear(struct pki_leaf_info *info)
{
	buf_free(&info->der);
}
