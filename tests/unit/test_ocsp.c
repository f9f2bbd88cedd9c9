/*
 * test_ocsp: the OCSP part of the PKI core against its contract in
 * pki.h.  Requests are built with OpenSSL's client API, responses are
 * checked with OCSP_basic_verify() in process and with `openssl ocsp`
 * (the client fleetpki's users run) in a temporary directory.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/log.h"
#include "fleetpki/pki.h"
#include "fleetpki/util.h"

/* A P-256 CA with two leaves, a second CA, and a scratch directory. */
static struct {
	char dir[64];
	EVP_PKEY *key, *other_key;
	X509 *cert, *other, *leaf1, *leaf2;
	struct pki_ca ca;
} fx;

/* ---- helpers ------------------------------------------------------ */

static X509 *
issue_leaf(const struct pki_ca *ca, const char *cn)
{
	struct fp_status st = { 0 };
	struct pki_profile prof;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;

	memset(&prof, 0, sizeof(prof));
	prof.subject.cn = cn;
	prof.eku = PKI_EKU_SERVER;
	prof.days = 30;
	assert_int_equal(pki_key_generate("ec-p256", &key, &st), 0);
	assert_int_equal(pki_issue(ca, key, &prof, &x, &st), 0);
	EVP_PKEY_free(key);
	return x;
}

/* A CertID under 'ca' for an arbitrary serial (negative allowed). */
static OCSP_CERTID *
id_for_serial(const EVP_MD *md, X509 *ca, const char *hex, int negative)
{
	ASN1_INTEGER *ai;
	OCSP_CERTID *id;
	BIGNUM *bn = NULL;

	assert_true(BN_hex2bn(&bn, hex) > 0);
	BN_set_negative(bn, negative);
	ai = BN_to_ASN1_INTEGER(bn, NULL);
	assert_non_null(ai);
	/* Unlike OCSP_cert_to_id(), no SHA-1 default here. */
	id = OCSP_cert_id_new(md != NULL ? md : EVP_sha1(),
	    X509_get_subject_name(ca), X509_get0_pubkey_bitstr(ca), ai);
	assert_non_null(id);
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return id;
}

static OCSP_CERTID *
id_for_cert(const EVP_MD *md, X509 *leaf, X509 *ca)
{
	OCSP_CERTID *id = OCSP_cert_to_id(md, leaf, ca);

	assert_non_null(id);
	return id;
}

static void
req_add(OCSP_REQUEST *req, OCSP_CERTID *id)
{
	assert_non_null(OCSP_request_add0_id(req, id));
}

static void
req_to_der(OCSP_REQUEST *req, struct buf *out)
{
	unsigned char *der = NULL;
	int n = i2d_OCSP_REQUEST(req, &der);

	assert_true(n > 0);
	buf_append(out, der, (size_t)n);
	OPENSSL_free(der);
}

/* Parse 'req' through the core; the request must be accepted. */
static struct pki_ocsp_req *
parse_ok(OCSP_REQUEST *req)
{
	struct pki_ocsp_req *rq = NULL;
	struct buf der = BUF_INIT;

	req_to_der(req, &der);
	assert_int_equal(pki_ocsp_req_parse(der.data, der.len, &rq), 0);
	assert_non_null(rq);
	buf_free(&der);
	return rq;
}

static int
parse_rc(const unsigned char *der, size_t len)
{
	struct pki_ocsp_req *rq = (struct pki_ocsp_req *)&fx; /* poisoned */
	int r = pki_ocsp_req_parse(der, len, &rq);

	if (r != 0)
		assert_null(rq);
	pki_ocsp_req_free(rq);
	return r;
}

static void
hex_of(const ASN1_STRING *s, char *out)
{
	static const char hexup[] = "0123456789ABCDEF";
	const unsigned char *p = ASN1_STRING_get0_data(s);
	int i, len = ASN1_STRING_length(s);

	for (i = 0; i < len; i++) {
		out[2 * i] = hexup[p[i] >> 4];
		out[2 * i + 1] = hexup[p[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static int64_t
asn1_unix(const ASN1_TIME *t)
{
	struct tm tm;

	assert_non_null(t);
	assert_true(ASN1_TIME_to_tm(t, &tm));
	return (int64_t)timegm(&tm);
}

/* Decode a successful response and verify it against 'ca' alone. */
static OCSP_BASICRESP *
basic_verified(const struct buf *der, X509 *ca)
{
	const unsigned char *p = der->data;
	STACK_OF(X509) *certs = sk_X509_new_null();
	X509_STORE *store = X509_STORE_new();
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;

	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)der->len);
	assert_non_null(resp);
	assert_ptr_equal(p, der->data + der->len);
	assert_int_equal(
	    OCSP_response_status(resp), OCSP_RESPONSE_STATUS_SUCCESSFUL);
	bs = OCSP_response_get1_basic(resp);
	assert_non_null(bs);
	/*
	 * No certificate travels in the response, so the verifier is told
	 * the signer (the CA) and trusts it: what a client holding its CA
	 * does.
	 */
	assert_true(sk_X509_num(OCSP_resp_get0_certs(bs)) <= 0); /* NULL: -1 */
	assert_true(sk_X509_push(certs, ca));
	assert_true(X509_STORE_add_cert(store, ca));
	if (OCSP_basic_verify(bs, certs, store, 0) != 1) {
		ERR_print_errors_fp(stderr);
		fail_msg("OCSP_basic_verify failed");
	}
	sk_X509_free(certs);
	X509_STORE_free(store);
	OCSP_RESPONSE_free(resp);
	return bs;
}

/*
 * A delegated responder (RFC 6960 4.2.2.2): its certificate from
 * pki_issue_ocsp_responder has the profile clients check (EKU
 * OCSPSigning, nocheck, CA:FALSE, signed by the CA, days not years),
 * the answer carries it, names its key, and verifies against the CA
 * alone with no certificate given to the verifier.
 */
static void
test_respond_by_delegated_responder(void **state)
{
	struct fp_status st = { 0 };
	const struct pki_ocsp_answer good = { PKI_OCSP_GOOD, 0, -1 };
	const ASN1_OCTET_STRING *rid = NULL;
	const X509_NAME *rname = NULL;
	struct pki_ca rsp = { NULL, NULL };
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	STACK_OF(X509) *none = sk_X509_new_null();
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *vctx = X509_STORE_CTX_new();
	struct pki_ocsp_req *rq;
	struct buf der = BUF_INIT;
	const unsigned char *p;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	char ski[41], rid_hex[41], cn[256];
	int64_t nb, na, now = (int64_t)time(NULL);

	(void)state;
	assert_int_equal(pki_key_generate("ec-p256", &rsp.key, &st), 0);
	assert_int_equal(pki_issue_ocsp_responder(&fx.ca, rsp.key, 0,
	                     &rsp.cert, &st),
	    -FP_E_BADREQ);
	assert_int_equal(pki_issue_ocsp_responder(&fx.ca, rsp.key, 4,
	                     &rsp.cert, &st),
	    0);
	/* As the store gives it back (an issued X509 has no decoded key). */
	assert_int_equal(pki_cert_to_der(rsp.cert, &der), 0);
	X509_free(rsp.cert);
	rsp.cert = NULL;
	assert_int_equal(pki_cert_from_der(der.data, der.len, &rsp.cert), 0);
	buf_reset(&der);
	/* The profile. */
	assert_true(X509_get_extension_flags(rsp.cert) & EXFLAG_XKUSAGE);
	assert_true(X509_get_extended_key_usage(rsp.cert) & XKU_OCSP_SIGN);
	assert_false(X509_check_ca(rsp.cert));
	assert_true(X509_get_ext_by_NID(rsp.cert, NID_id_pkix_OCSP_noCheck,
	                -1) >= 0);
	assert_true(X509_get_key_usage(rsp.cert) & KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_check_issued(fx.cert, rsp.cert), X509_V_OK);
	assert_int_equal(pki_cert_validity(rsp.cert, &nb, &na), 0);
	assert_true(na - now <= 4 * 86400 + 5 && na - now >= 4 * 86400 - 5);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(rsp.cert),
	                NID_commonName, cn, sizeof(cn)) > 0);
	assert_non_null(strstr(cn, "OCSP responder"));
	assert_string_equal(pki_cert_key_alg(rsp.cert), "ec-p256");
	assert_string_equal(pki_cert_key_alg(fx.cert), "ec-p256");
	/* It chains to the CA, for the OCSP signing purpose. */
	assert_true(X509_STORE_add_cert(store, fx.cert));
	assert_true(X509_STORE_CTX_init(vctx, store, rsp.cert, NULL));
	assert_true(X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_OCSP_HELPER));
	assert_int_equal(X509_verify_cert(vctx), 1);

	/* The answer: signed by it, carrying it, verified by the CA alone. */
	req_add(req, id_for_cert(NULL, fx.leaf1, fx.cert));
	rq = parse_ok(req);
	assert_int_equal(pki_ocsp_respond_by(&fx.ca, &rsp, rq, &good, now - 60,
	                     now + 3600, &der),
	    0);
	p = der.data;
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)der.len);
	assert_non_null(resp);
	bs = OCSP_response_get1_basic(resp);
	assert_non_null(bs);
	assert_int_equal(sk_X509_num(OCSP_resp_get0_certs(bs)), 1);
	assert_int_equal(
	    X509_cmp(sk_X509_value(OCSP_resp_get0_certs(bs), 0), rsp.cert), 0);
	assert_int_equal(OCSP_resp_get0_id(bs, &rid, &rname), 1);
	assert_non_null(rid);
	hex_of(X509_get0_subject_key_id(rsp.cert), ski);
	hex_of(rid, rid_hex);
	assert_string_equal(rid_hex, ski);
	assert_int_equal(OCSP_basic_verify(bs, none, store, 0), 1);
	/* The CA's own key did not sign it: verifying as the CA fails. */
	assert_int_equal(OCSP_basic_verify(bs, none, store, OCSP_NOCHAIN |
	                     OCSP_TRUSTOTHER | OCSP_NOINTERN),
	    0);
	ERR_clear_error();

	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	pki_ocsp_req_free(rq);
	OCSP_REQUEST_free(req);
	buf_free(&der);
	sk_X509_free(none);
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	X509_free(rsp.cert);
	EVP_PKEY_free(rsp.key);
}

static char *
path(const char *name)
{
	return xasprintf("%s/%s", fx.dir, name);
}

static void
write_file(const char *name, const void *data, size_t len)
{
	char *p = path(name);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	free(p);
}

static void
write_cert(const char *name, X509 *x)
{
	struct buf pem = BUF_INIT;

	assert_int_equal(pki_cert_to_pem(x, &pem), 0);
	write_file(name, pem.data, pem.len);
	buf_free(&pem);
}

/* Run a shell command in the scratch directory; its output in 'out'. */
static int
run(struct buf *out, const char *fmt, ...)
{
	char line[512], *cmd, *full;
	va_list ap;
	FILE *p;
	int rc;

	va_start(ap, fmt);
	assert_true(vasprintf(&cmd, fmt, ap) >= 0);
	va_end(ap);
	full = xasprintf("cd '%s' && %s 2>&1", fx.dir, cmd);
	p = popen(full, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p) != NULL)
		if (out != NULL)
			buf_puts(out, line);
	rc = pclose(p);
	free(cmd);
	free(full);
	return rc;
}

/* ---- fixture ------------------------------------------------------ */

static int
group_setup(void **state)
{
	struct fp_status st = { 0 };

	log_init("test_ocsp", LOG_LVL_ERR);
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/test_ocsp.XXXXXX");
	if (mkdtemp(fx.dir) == NULL)
		return -1;
	if (pki_ca_create("ec-p256", "OCSP Test Root", "fleetpki", 3650,
	        &fx.key, &fx.cert, &st) != 0 ||
	    pki_ca_create("ec-p256", "Other Root", "fleetpki", 3650,
	        &fx.other_key, &fx.other, &st) != 0)
		return -1;
	fx.ca.cert = fx.cert;
	fx.ca.key = fx.key;
	fx.leaf1 = issue_leaf(&fx.ca, "leaf1");
	fx.leaf2 = issue_leaf(&fx.ca, "leaf2");
	return 0;
}

static int
group_teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", fx.dir);

	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", fx.dir);
	free(cmd);
	X509_free(fx.leaf1);
	X509_free(fx.leaf2);
	X509_free(fx.cert);
	X509_free(fx.other);
	EVP_PKEY_free(fx.key);
	EVP_PKEY_free(fx.other_key);
	return 0;
}

/* ---- parsing ------------------------------------------------------ */

static void
test_parse_sha1(void **state)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	struct pki_ocsp_req *rq;
	char hex[PKI_SERIAL_HEX_LEN], want[PKI_SERIAL_HEX_LEN], kid[41],
	    ski[41];
	const ASN1_OCTET_STRING *skid;

	req_add(req, id_for_cert(NULL, fx.leaf1, fx.cert)); /* NULL: SHA-1 */
	rq = parse_ok(req);
	assert_int_equal(pki_ocsp_req_count(rq), 1);
	assert_int_equal(pki_ocsp_req_has_nonce(rq), 0);

	assert_int_equal(pki_ocsp_req_serial_hex(rq, 0, hex), 0);
	assert_int_equal(pki_cert_serial_hex(fx.leaf1, want), 0);
	assert_string_equal(hex, want);
	assert_int_equal(strlen(hex), 2 * PKI_SERIAL_BYTES);

	/* The key hash is the CA's SKI: how the store finds the CA. */
	skid = X509_get0_subject_key_id(fx.cert);
	assert_non_null(skid);
	assert_int_equal(ASN1_STRING_length(skid), 20);
	hex_of(skid, ski);
	assert_int_equal(pki_ocsp_req_key_id(rq, 0, kid), 0);
	assert_string_equal(kid, ski);

	assert_int_equal(pki_ocsp_req_issued_by(rq, 0, fx.cert), 1);
	assert_int_equal(pki_ocsp_req_issued_by(rq, 0, fx.other), 0);
	/* A leaf is no issuer of its own CertID. */
	assert_int_equal(pki_ocsp_req_issued_by(rq, 0, fx.leaf1), 0);

	/* Past the end. */
	assert_int_equal(pki_ocsp_req_key_id(rq, 1, kid), -FP_E_NOTFOUND);
	assert_int_equal(pki_ocsp_req_serial_hex(rq, 1, hex), -FP_E_NOTFOUND);
	assert_int_equal(pki_ocsp_req_issued_by(rq, 1, fx.cert), 0);

	pki_ocsp_req_free(rq);
	pki_ocsp_req_free(NULL);
	OCSP_REQUEST_free(req);
}

static void
test_parse_sha2(void **state)
{
	const EVP_MD *mds[] = { EVP_sha256(), EVP_sha384(), EVP_sha512() };
	char hex[PKI_SERIAL_HEX_LEN], want[PKI_SERIAL_HEX_LEN], kid[41];
	struct pki_ocsp_req *rq;
	OCSP_REQUEST *req;
	size_t i;

	assert_int_equal(pki_cert_serial_hex(fx.leaf2, want), 0);
	for (i = 0; i < FP_ARRAY_LEN(mds); i++) {
		req = OCSP_REQUEST_new();
		req_add(req, id_for_cert(mds[i], fx.leaf2, fx.cert));
		rq = parse_ok(req);
		/* Only a SHA-1 key hash can index the store. */
		assert_int_equal(
		    pki_ocsp_req_key_id(rq, 0, kid), -FP_E_NOTFOUND);
		assert_int_equal(pki_ocsp_req_issued_by(rq, 0, fx.cert), 1);
		assert_int_equal(pki_ocsp_req_issued_by(rq, 0, fx.other), 0);
		assert_int_equal(pki_ocsp_req_serial_hex(rq, 0, hex), 0);
		assert_string_equal(hex, want);
		pki_ocsp_req_free(rq);
		OCSP_REQUEST_free(req);
	}

	/* MD5 CertIDs name no CA of ours, even with the right hashes. */
	req = OCSP_REQUEST_new();
	req_add(req, id_for_cert(EVP_md5(), fx.leaf2, fx.cert));
	rq = parse_ok(req);
	assert_int_equal(pki_ocsp_req_issued_by(rq, 0, fx.cert), 0);
	assert_int_equal(pki_ocsp_req_key_id(rq, 0, kid), -FP_E_NOTFOUND);
	pki_ocsp_req_free(rq);
	OCSP_REQUEST_free(req);
}

/*
 * A CertID that names the CA's key but another subject (or the other
 * way round) is not the CA's: both hashes must match.
 */
static void
test_parse_half_match(void **state)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	struct pki_ocsp_req *rq;
	ASN1_INTEGER *sn = ASN1_INTEGER_new();

	assert_true(ASN1_INTEGER_set(sn, 1));
	req_add(req,
	    OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(fx.other),
	        X509_get0_pubkey_bitstr(fx.cert), sn));
	req_add(req,
	    OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(fx.cert),
	        X509_get0_pubkey_bitstr(fx.other), sn));
	rq = parse_ok(req);
	assert_int_equal(pki_ocsp_req_count(rq), 2);
	assert_int_equal(pki_ocsp_req_issued_by(rq, 0, fx.cert), 0);
	assert_int_equal(pki_ocsp_req_issued_by(rq, 0, fx.other), 0);
	assert_int_equal(pki_ocsp_req_issued_by(rq, 1, fx.cert), 0);
	assert_int_equal(pki_ocsp_req_issued_by(rq, 1, fx.other), 0);
	pki_ocsp_req_free(rq);
	OCSP_REQUEST_free(req);
	ASN1_INTEGER_free(sn);
}

static void
test_parse_nonce_and_signed(void **state)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	struct pki_ocsp_req *rq;

	req_add(req, id_for_cert(NULL, fx.leaf1, fx.cert));
	assert_true(OCSP_request_add1_nonce(req, NULL, 16));
	rq = parse_ok(req);
	assert_int_equal(pki_ocsp_req_has_nonce(rq), 1);
	pki_ocsp_req_free(rq);

	/* A signed request is accepted; its signature is not our concern. */
	assert_true(OCSP_request_sign(
	    req, fx.other, fx.other_key, EVP_sha256(), NULL, 0));
	rq = parse_ok(req);
	assert_int_equal(pki_ocsp_req_count(rq), 1);
	assert_int_equal(pki_ocsp_req_has_nonce(rq), 1);
	pki_ocsp_req_free(rq);
	OCSP_REQUEST_free(req);
}

static void
test_parse_malformed(void **state)
{
	static const unsigned char junk[] = "GET / HTTP/1.1\r\n\r\n";
	struct buf der = BUF_INIT;
	OCSP_REQUEST *req;
	int i;

	assert_int_equal(parse_rc(junk, sizeof(junk) - 1), -FP_E_BADREQ);
	assert_int_equal(parse_rc(junk, 0), -FP_E_BADREQ);
	assert_int_equal(parse_rc(NULL, 0), -FP_E_BADREQ);

	req = OCSP_REQUEST_new();
	req_add(req, id_for_cert(NULL, fx.leaf1, fx.cert));
	req_to_der(req, &der);
	assert_int_equal(parse_rc(der.data, der.len), 0);
	/* Truncated anywhere, or followed by anything: refused. */
	for (i = 1; i < (int)der.len; i += 7)
		assert_int_equal(parse_rc(der.data, (size_t)i), -FP_E_BADREQ);
	buf_append(&der, "\0", 1);
	assert_int_equal(parse_rc(der.data, der.len), -FP_E_BADREQ);
	der.data[der.len - 1] = 0x30;
	assert_int_equal(parse_rc(der.data, der.len), -FP_E_BADREQ);
	/* A flipped tag byte is not an OCSPRequest. */
	der.data[0] = 0x31;
	assert_int_equal(parse_rc(der.data, der.len - 1), -FP_E_BADREQ);
	OCSP_REQUEST_free(req);
	buf_free(&der);

	/* Zero CertIDs: valid DER, nothing asked. */
	req = OCSP_REQUEST_new();
	req_to_der(req, &der);
	assert_int_equal(parse_rc(der.data, der.len), -FP_E_BADREQ);
	buf_reset(&der);

	/* PKI_OCSP_MAX_CERTS is the limit, inclusive. */
	for (i = 0; i < PKI_OCSP_MAX_CERTS; i++)
		req_add(req, id_for_cert(NULL, fx.leaf1, fx.cert));
	req_to_der(req, &der);
	assert_int_equal(parse_rc(der.data, der.len), 0);
	buf_reset(&der);
	req_add(req, id_for_cert(NULL, fx.leaf1, fx.cert));
	req_to_der(req, &der);
	assert_int_equal(parse_rc(der.data, der.len), -FP_E_BADREQ);
	OCSP_REQUEST_free(req);
	buf_free(&der);
}

/* Serials we never issue: negative, longer than ours; short ones. */
static void
test_parse_serials(void **state)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	struct pki_ocsp_req *rq;
	char hex[PKI_SERIAL_HEX_LEN];

	req_add(req, id_for_serial(NULL, fx.cert, "01", 0));
	req_add(req, id_for_serial(NULL, fx.cert, "0", 0));
	req_add(req, id_for_serial(NULL, fx.cert, "1234", 1));
	/* 21 bytes. */
	req_add(req,
	    id_for_serial(NULL, fx.cert,
	        "0102030405060708090A0B0C0D0E0F101112131415", 0));
	/* 20 bytes with the top bit set: DER adds a 0x00, still ours. */
	req_add(req,
	    id_for_serial(
	        NULL, fx.cert, "FF02030405060708090A0B0C0D0E0F1011121314", 0));
	rq = parse_ok(req);
	assert_int_equal(pki_ocsp_req_count(rq), 5);
	assert_int_equal(pki_ocsp_req_serial_hex(rq, 0, hex), 0);
	assert_string_equal(hex, "01");
	assert_int_equal(pki_ocsp_req_serial_hex(rq, 1, hex), 0);
	assert_string_equal(hex, "00");
	assert_int_equal(pki_ocsp_req_serial_hex(rq, 2, hex), -FP_E_BADREQ);
	assert_int_equal(pki_ocsp_req_serial_hex(rq, 3, hex), -FP_E_BADREQ);
	assert_int_equal(pki_ocsp_req_serial_hex(rq, 4, hex), 0);
	assert_string_equal(hex, "FF02030405060708090A0B0C0D0E0F1011121314");
	/* The issuer part is still readable for all of them. */
	assert_int_equal(pki_ocsp_req_issued_by(rq, 2, fx.cert), 1);
	pki_ocsp_req_free(rq);
	OCSP_REQUEST_free(req);
}

/* ---- responses ---------------------------------------------------- */

/*
 * good / revoked (keyCompromise) / unknown in one request with a nonce,
 * checked in process and by `openssl ocsp`.
 */
static void
test_respond(void **state)
{
	const int64_t tu = (int64_t)time(NULL) - 60, nu = tu + 3600;
	const int64_t revoked_at = tu - 86400;
	const struct pki_ocsp_answer answers[] = {
		{ PKI_OCSP_GOOD, 0, -1 },
		{ PKI_OCSP_REVOKED, revoked_at, 1 }, /* keyCompromise */
		{ PKI_OCSP_UNKNOWN, 0, -1 },
	};
	static const char unknown_hex[] =
	    "7E0102030405060708090A0B0C0D0E0F10111213";
	const int want[] = { V_OCSP_CERTSTATUS_GOOD, V_OCSP_CERTSTATUS_REVOKED,
		V_OCSP_CERTSTATUS_UNKNOWN };
	OCSP_CERTID *ids[3];
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_BASICRESP *bs;
	ASN1_GENERALIZEDTIME *rev, *thisupd, *nextupd;
	const ASN1_OCTET_STRING *rid = NULL;
	const X509_NAME *rname = NULL;
	struct pki_ocsp_req *rq;
	struct buf der = BUF_INIT, reqder = BUF_INIT, out = BUF_INIT;
	char ski[41], rid_hex[41];
	time_t before = time(NULL);
	int i, status, reason;

	ids[0] = id_for_cert(NULL, fx.leaf1, fx.cert);
	ids[1] = id_for_cert(NULL, fx.leaf2, fx.cert);
	ids[2] = id_for_serial(NULL, fx.cert, unknown_hex, 0);
	for (i = 0; i < 3; i++)
		req_add(req, OCSP_CERTID_dup(ids[i]));
	assert_true(OCSP_request_add1_nonce(req, NULL, 32));
	rq = parse_ok(req);
	assert_int_equal(pki_ocsp_req_count(rq), 3);
	assert_int_equal(
	    pki_ocsp_respond(&fx.ca, rq, answers, tu, nu, &der), 0);

	bs = basic_verified(&der, fx.cert);
	assert_int_equal(OCSP_resp_count(bs), 3);
	assert_int_equal(OCSP_check_nonce(req, bs), 1);
	assert_int_equal(OBJ_obj2nid(OCSP_resp_get0_tbs_sigalg(bs)->algorithm),
	    NID_ecdsa_with_SHA256);
	/* responderID byKey: the SHA-1 key hash, here the CA's SKI. */
	assert_int_equal(OCSP_resp_get0_id(bs, &rid, &rname), 1);
	assert_non_null(rid);
	assert_null(rname);
	hex_of(X509_get0_subject_key_id(fx.cert), ski);
	hex_of(rid, rid_hex);
	assert_string_equal(rid_hex, ski);
	/* producedAt is now. */
	assert_true(asn1_unix(OCSP_resp_get0_produced_at(bs)) >= before - 1);
	assert_true(
	    asn1_unix(OCSP_resp_get0_produced_at(bs)) <= time(NULL) + 1);

	for (i = 0; i < 3; i++) {
		rev = thisupd = nextupd = NULL;
		assert_int_equal(OCSP_resp_find_status(bs, ids[i], &status,
		                     &reason, &rev, &thisupd, &nextupd),
		    1);
		/* Answers come back in the order asked. */
		assert_int_equal(OCSP_resp_find(bs, ids[i], -1), i);
		assert_int_equal(status, want[i]);
		assert_int_equal(asn1_unix(thisupd), tu);
		assert_int_equal(asn1_unix(nextupd), nu);
		/* RFC 6960 4.2.2.1: GeneralizedTime. */
		assert_int_equal(
		    ASN1_STRING_type(thisupd), V_ASN1_GENERALIZEDTIME);
		if (want[i] == V_OCSP_CERTSTATUS_REVOKED) {
			assert_int_equal(asn1_unix(rev), revoked_at);
			assert_int_equal(
			    reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
		} else {
			assert_null(rev);
		}
		assert_int_equal(
		    OCSP_check_validity(thisupd, nextupd, 300, -1), 1);
	}
	OCSP_BASICRESP_free(bs);

	/* `openssl ocsp` as a relying party: signature, nonce, statuses. */
	req_to_der(req, &reqder);
	write_file("req.der", reqder.data, reqder.len);
	write_file("resp.der", der.data, der.len);
	write_cert("ca.pem", fx.cert);
	write_cert("leaf1.pem", fx.leaf1);
	write_cert("leaf2.pem", fx.leaf2);
	assert_int_equal(run(&out,
	                     "openssl ocsp -reqin req.der -respin "
	                     "resp.der -issuer ca.pem -CAfile ca.pem"),
	    0);
	assert_non_null(strstr((char *)out.data, "Response verify OK"));
	assert_null(strstr((char *)out.data, "WARNING"));
	buf_reset(&out);
	/* -no_nonce: this request of openssl's own is not the one answered. */
	assert_int_equal(
	    run(&out,
	        "openssl ocsp -respin resp.der -issuer ca.pem -CAfile ca.pem "
	        "-no_nonce -cert leaf1.pem -cert leaf2.pem -serial 0x%s",
	        unknown_hex),
	    0);
	assert_non_null(strstr((char *)out.data, "Response verify OK"));
	assert_non_null(strstr((char *)out.data, "leaf1.pem: good"));
	assert_non_null(strstr((char *)out.data, "leaf2.pem: revoked"));
	assert_non_null(strstr((char *)out.data, "Reason: keyCompromise"));
	assert_non_null(strstr((char *)out.data, ": unknown"));
	buf_reset(&out);
	/* Against another CA the signature does not verify. */
	write_cert("other.pem", fx.other);
	assert_int_not_equal(run(&out,
	                         "openssl ocsp -reqin req.der -respin "
	                         "resp.der -issuer other.pem "
	                         "-CAfile other.pem"),
	    0);
	assert_null(strstr((char *)out.data, "Response verify OK"));

	for (i = 0; i < 3; i++)
		OCSP_CERTID_free(ids[i]);
	pki_ocsp_req_free(rq);
	OCSP_REQUEST_free(req);
	buf_free(&der);
	buf_free(&reqder);
	buf_free(&out);
}

/* The digest follows the CA key, as for certificates. */
static void
test_respond_key_types(void **state)
{
	static const struct {
		const char *alg;
		int sig_nid;
	} cases[] = {
		{ "ec-p384", NID_ecdsa_with_SHA384 },
		{ "ec-p521", NID_ecdsa_with_SHA512 },
		{ "rsa-2048", NID_sha256WithRSAEncryption },
	};
	const struct pki_ocsp_answer good = { PKI_OCSP_GOOD, 0, -1 };
	const int64_t tu = (int64_t)time(NULL), nu = tu + 600;
	struct fp_status st = { 0 };
	struct pki_ocsp_req *rq;
	struct pki_ca ca;
	struct buf der = BUF_INIT;
	OCSP_REQUEST *req;
	OCSP_BASICRESP *bs;
	X509 *leaf;
	size_t i;

	for (i = 0; i < FP_ARRAY_LEN(cases); i++) {
		assert_int_equal(pki_ca_create(cases[i].alg, "Key Type Root",
		                     NULL, 30, &ca.key, &ca.cert, &st),
		    0);
		leaf = issue_leaf(&ca, "leaf");
		req = OCSP_REQUEST_new();
		req_add(req, id_for_cert(EVP_sha256(), leaf, ca.cert));
		rq = parse_ok(req);
		assert_int_equal(pki_ocsp_req_issued_by(rq, 0, ca.cert), 1);
		assert_int_equal(
		    pki_ocsp_respond(&ca, rq, &good, tu, nu, &der), 0);
		bs = basic_verified(&der, ca.cert);
		assert_int_equal(
		    OBJ_obj2nid(OCSP_resp_get0_tbs_sigalg(bs)->algorithm),
		    cases[i].sig_nid);
		/* No nonce asked, none given. */
		assert_int_equal(OCSP_check_nonce(req, bs), 2);
		OCSP_BASICRESP_free(bs);
		pki_ocsp_req_free(rq);
		OCSP_REQUEST_free(req);
		X509_free(leaf);
		X509_free(ca.cert);
		EVP_PKEY_free(ca.key);
		buf_free(&der);
	}
}

/* Reasons: none and "unspecified" are both left out, as in the CRL. */
static void
test_respond_reasons(void **state)
{
	const int64_t tu = (int64_t)time(NULL), nu = tu + 600;
	static const struct {
		int in, out;
	} cases[] = {
		{ -1, OCSP_REVOKED_STATUS_NOSTATUS },
		{ 0, OCSP_REVOKED_STATUS_NOSTATUS },
		{ 4, OCSP_REVOKED_STATUS_SUPERSEDED },
		{ 6, OCSP_REVOKED_STATUS_CERTIFICATEHOLD },
		{ 10, 10 }, /* aACompromise */
	};
	struct pki_ocsp_answer a = { PKI_OCSP_REVOKED, 0, -1 };
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id = id_for_cert(NULL, fx.leaf1, fx.cert);
	struct pki_ocsp_req *rq;
	struct buf der = BUF_INIT;
	OCSP_BASICRESP *bs;
	int status, reason;
	size_t i;

	req_add(req, OCSP_CERTID_dup(id));
	rq = parse_ok(req);
	for (i = 0; i < FP_ARRAY_LEN(cases); i++) {
		a.reason = cases[i].in;
		a.revoked_at = tu - 10;
		assert_int_equal(
		    pki_ocsp_respond(&fx.ca, rq, &a, tu, nu, &der), 0);
		bs = basic_verified(&der, fx.cert);
		assert_int_equal(OCSP_resp_find_status(bs, id, &status, &reason,
		                     NULL, NULL, NULL),
		    1);
		assert_int_equal(status, V_OCSP_CERTSTATUS_REVOKED);
		assert_int_equal(reason, cases[i].out);
		OCSP_BASICRESP_free(bs);
		buf_free(&der);
	}

	/* Caller bugs: unassigned reason 7, bad status, empty window. */
	a.reason = 7;
	assert_int_equal(
	    pki_ocsp_respond(&fx.ca, rq, &a, tu, nu, &der), -FP_E_INTERNAL);
	a.reason = 11;
	assert_int_equal(
	    pki_ocsp_respond(&fx.ca, rq, &a, tu, nu, &der), -FP_E_INTERNAL);
	a.reason = -1;
	a.status = (enum pki_ocsp_cert_status)42;
	assert_int_equal(
	    pki_ocsp_respond(&fx.ca, rq, &a, tu, nu, &der), -FP_E_INTERNAL);
	a.status = PKI_OCSP_GOOD;
	assert_int_equal(
	    pki_ocsp_respond(&fx.ca, rq, &a, tu, tu, &der), -FP_E_INTERNAL);
	assert_int_equal(
	    pki_ocsp_respond(&fx.ca, rq, NULL, tu, nu, &der), -FP_E_INTERNAL);
	assert_int_equal(der.len, 0);

	/* Appends: what was in the buffer stays. */
	buf_puts(&der, "xy");
	assert_int_equal(pki_ocsp_respond(&fx.ca, rq, &a, tu, nu, &der), 0);
	assert_memory_equal(der.data, "xy", 2);
	assert_int_equal(der.data[2], 0x30);

	OCSP_CERTID_free(id);
	pki_ocsp_req_free(rq);
	OCSP_REQUEST_free(req);
	buf_free(&der);
}

static void
test_error(void **state)
{
	static const int ok[] = { OCSP_RESPONSE_STATUS_MALFORMEDREQUEST,
		OCSP_RESPONSE_STATUS_INTERNALERROR,
		OCSP_RESPONSE_STATUS_TRYLATER,
		OCSP_RESPONSE_STATUS_UNAUTHORIZED };
	static const int bad[] = { OCSP_RESPONSE_STATUS_SUCCESSFUL, 4, 5, 7,
		-1 };
	struct buf der = BUF_INIT;
	const unsigned char *p;
	OCSP_RESPONSE *resp;
	size_t i;

	for (i = 0; i < FP_ARRAY_LEN(ok); i++) {
		assert_int_equal(pki_ocsp_error(ok[i], &der), 0);
		/* SEQUENCE { ENUMERATED status }, no responseBytes. */
		assert_int_equal(der.len, 5);
		p = der.data;
		resp = d2i_OCSP_RESPONSE(NULL, &p, (long)der.len);
		assert_non_null(resp);
		assert_int_equal(OCSP_response_status(resp), ok[i]);
		assert_null(OCSP_response_get1_basic(resp));
		ERR_clear_error();
		OCSP_RESPONSE_free(resp);
		buf_free(&der);
	}
	for (i = 0; i < FP_ARRAY_LEN(bad); i++) {
		assert_int_equal(pki_ocsp_error(bad[i], &der), -FP_E_INTERNAL);
		assert_int_equal(der.len, 0);
	}

	/* `openssl ocsp` reads it as the status it is. */
	assert_int_equal(
	    pki_ocsp_error(OCSP_RESPONSE_STATUS_UNAUTHORIZED, &der), 0);
	write_file("unauth.der", der.data, der.len);
	buf_reset(&der);
	run(&der, "openssl ocsp -respin unauth.der -resp_text -noverify");
	assert_non_null(strstr((char *)der.data, "unauthorized (6)"));
	buf_free(&der);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_sha1),
		cmocka_unit_test(test_parse_sha2),
		cmocka_unit_test(test_parse_half_match),
		cmocka_unit_test(test_parse_nonce_and_signed),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_serials),
		cmocka_unit_test(test_respond),
		cmocka_unit_test(test_respond_key_types),
		cmocka_unit_test(test_respond_reasons),
		cmocka_unit_test(test_respond_by_delegated_responder),
		cmocka_unit_test(test_error),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
