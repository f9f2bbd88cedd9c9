/*
 * test_pki: the PKI core against its contract in pki.h.  Keys and CSRs
 * are made here with OpenSSL (and once with the openssl CLI); issued
 * certificates and CRLs are checked in process and with `openssl verify
 * -x509_strict` / `openssl crl` in a temporary directory.
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

#include <openssl/bn.h>
#include <openssl/core_names.h>
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

#define MSG_RSA_SHORT                                                          \
	"The RSA public key length less than 2048 bits is not supported."
#define MSG_CURVE                                                              \
	"The elliptical curve used in the ECDSA public key algorithm is not "  \
	"supported. (Use the NIST-recommended curves: P-256, P-384 or P-521)"
#define MSG_CN_ATTRS                                                           \
	"Error checking SubjectDN allowed attributes in CSR. Allowed: [CN] "   \
	"Found: "
#define MSG_CN_VALUE                                                           \
	"Error checking SubjectDN 'CN' attribute in CSR. The value does not "  \
	"match the regular expression: /^[0-9A-Za-z ]{1,255}$/. Found: "

/* One CA for the whole group, and a scratch directory. */
static struct {
	char dir[64];
	EVP_PKEY *key;
	X509 *cert;
	struct pki_ca ca;
} fx;

struct ext {
	int nid;
	const char *value;
};

/* ---- helpers ------------------------------------------------------ */

static EVP_PKEY *
genkey_params(const char *type, const OSSL_PARAM *params)
{
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *key = NULL;

	ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_params(ctx, params), 1);
	assert_int_equal(EVP_PKEY_generate(ctx, &key), 1);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

static EVP_PKEY *
genkey_ec(const char *curve, const char *encoding)
{
	OSSL_PARAM p[3];

	p[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_GROUP_NAME, (char *)curve, 0);
	p[1] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_EC_ENCODING, (char *)encoding, 0);
	p[2] = OSSL_PARAM_construct_end();
	return genkey_params("EC", p);
}

static EVP_PKEY *
genkey_rsa(unsigned int bits, unsigned int e)
{
	OSSL_PARAM p[3];

	p[0] = OSSL_PARAM_construct_uint(OSSL_PKEY_PARAM_RSA_BITS, &bits);
	p[1] = OSSL_PARAM_construct_uint(OSSL_PKEY_PARAM_RSA_E, &e);
	p[2] = OSSL_PARAM_construct_end();
	return genkey_params("RSA", p);
}

/* A CSR with optional O, CN and requested extensions, signed with 'md'. */
static X509_REQ *
make_req(EVP_PKEY *key, const EVP_MD *md, const char *o, const char *cn,
    const struct ext *exts, size_t nexts)
{
	STACK_OF(X509_EXTENSION) *sk = NULL;
	X509_EXTENSION *e;
	X509_REQ *req;
	X509_NAME *name;
	X509V3_CTX ctx;
	size_t i;

	req = X509_REQ_new();
	assert_non_null(req);
	name = X509_REQ_get_subject_name(req);
	if (o != NULL)
		assert_true(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
		    (const unsigned char *)o, -1, -1, 0));
	if (cn != NULL)
		/* UTF8String directly: the 64-character ub-common-name
		 * that MBSTRING_UTF8 applies would stop the long-CN cases. */
		assert_true(X509_NAME_add_entry_by_txt(name, "CN",
		    V_ASN1_UTF8STRING, (const unsigned char *)cn, -1, -1, 0));
	assert_true(X509_REQ_set_pubkey(req, key));
	if (nexts > 0) {
		memset(&ctx, 0, sizeof(ctx));
		X509V3_set_ctx(&ctx, NULL, NULL, req, NULL, 0);
		sk = sk_X509_EXTENSION_new_null();
		for (i = 0; i < nexts; i++) {
			e = X509V3_EXT_conf_nid(
			    NULL, &ctx, exts[i].nid, exts[i].value);
			assert_non_null(e);
			sk_X509_EXTENSION_push(sk, e);
		}
		assert_true(X509_REQ_add_extensions(req, sk));
		sk_X509_EXTENSION_pop_free(sk, X509_EXTENSION_free);
	}
	assert_true(X509_REQ_sign(req, key, md) > 0);
	return req;
}

/* PEM text of 'req' in 'out' (NUL-terminated). */
static void
req_pem(X509_REQ *req, struct buf *out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long n;

	assert_true(PEM_write_bio_X509_REQ(bio, req));
	n = BIO_get_mem_data(bio, &p);
	buf_append(out, p, (size_t)n);
	BIO_free(bio);
}

/* Run the full parse on 'req' as PEM; 'msg' is "" on success. */
static int
parse_req(X509_REQ *req, struct fp_status *st)
{
	struct buf pem = BUF_INIT;
	struct pki_csr *out = NULL;
	int r;

	memset(st, 0, sizeof(*st));
	req_pem(req, &pem);
	r = pki_csr_parse_pem((char *)pem.data, pem.len, &out, st);
	assert_true((r == 0) == (out != NULL));
	pki_csr_free(out);
	buf_free(&pem);
	return r;
}

static int
parse_key(EVP_PKEY *key, const EVP_MD *md, struct fp_status *st)
{
	X509_REQ *req = make_req(key, md, NULL, "dev1", NULL, 0);
	int r = parse_req(req, st);

	X509_REQ_free(req);
	return r;
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
read_file(const char *name, struct buf *out)
{
	char *p = path(name), chunk[4096];
	FILE *f = fopen(p, "r");
	size_t n;

	assert_non_null(f);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(out, chunk, n);
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

static void
profile_init(struct pki_profile *prof, const char *cn)
{
	memset(prof, 0, sizeof(*prof));
	prof->subject.o = "fleetpki";
	prof->subject.cn = cn;
	prof->eku = PKI_EKU_CLIENT;
	prof->days = 365;
}

static X509 *
issue(const struct pki_ca *ca, EVP_PKEY *pub, const struct pki_profile *prof)
{
	struct fp_status st = { 0 };
	X509 *x = NULL;

	assert_int_equal(pki_issue(ca, pub, prof, &x, &st), 0);
	assert_non_null(x);
	return x;
}

/*
 * pki_issue() writes the subjectPublicKeyInfo itself: it must be the
 * byte-exact SPKI of 'pub', and decode back to the same key.
 */
static void
spki_matches(X509 *x, EVP_PKEY *pub)
{
	unsigned char *a = NULL, *b = NULL;
	const unsigned char *p;
	X509 *back;
	int la, lb;

	la = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &a);
	lb = i2d_PUBKEY(pub, &b);
	assert_true(la > 0);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, (size_t)la);
	OPENSSL_free(a);
	OPENSSL_free(b);
	a = NULL;
	la = i2d_X509(x, &a);
	p = a;
	back = d2i_X509(NULL, &p, la);
	assert_non_null(back);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(back), pub), 1);
	X509_free(back);
	OPENSSL_free(a);
}

static int64_t
asn1_unix(const ASN1_TIME *t)
{
	struct tm tm;

	assert_true(ASN1_TIME_to_tm(t, &tm));
	return (int64_t)timegm(&tm);
}

/* ---- fixture ------------------------------------------------------ */

static int
group_setup(void **state)
{
	struct fp_status st = { 0 };

	log_init("test_pki", LOG_LVL_ERR);
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/test_pki.XXXXXX");
	if (mkdtemp(fx.dir) == NULL)
		return -1;
	if (pki_ca_create("ec-p256", "Test Root", "fleetpki", 3650, &fx.key,
	        &fx.cert, &st) != 0)
		return -1;
	fx.ca.cert = fx.cert;
	fx.ca.key = fx.key;
	return 0;
}

static int
group_teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", fx.dir);

	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", fx.dir);
	free(cmd);
	X509_free(fx.cert);
	EVP_PKEY_free(fx.key);
	return 0;
}

/* ---- keys --------------------------------------------------------- */

static void
test_key_generate(void **state)
{
	static const char *const algs[] = { "ec-p256", "ec-p384", "ec-p521",
		"rsa-2048" };
	struct fp_status st = { 0 };
	struct buf der = BUF_INIT, pem = BUF_INIT;
	EVP_PKEY *key = NULL, *back = NULL;
	size_t i;

	for (i = 0; i < FP_ARRAY_LEN(algs); i++) {
		assert_int_equal(pki_key_generate(algs[i], &key, &st), 0);
		assert_int_equal(pki_key_check(key, &st), 0);
		assert_int_equal(pki_key_to_der(key, &der), 0);
		assert_int_equal(pki_key_from_der(der.data, der.len, &back), 0);
		assert_int_equal(EVP_PKEY_eq(key, back), 1);
		assert_int_equal(pki_key_to_pem(key, &pem), 0);
		assert_non_null(
		    strstr((char *)pem.data, "-----BEGIN PRIVATE KEY-----\n"));
		/* Trailing bytes after the PKCS#8 structure are refused. */
		buf_append(&der, "", 1);
		EVP_PKEY_free(back);
		back = NULL;
		assert_int_equal(
		    pki_key_from_der(der.data, der.len, &back), -FP_E_BADREQ);
		assert_null(back);
		buf_free_secret(&der);
		buf_free_secret(&pem);
		EVP_PKEY_free(key);
		key = NULL;
	}
	assert_int_equal(pki_key_generate("dsa-2048", &key, &st), -FP_E_BADREQ);
	assert_null(key);
	assert_int_equal(pki_key_generate(NULL, &key, &st), -FP_E_BADREQ);
}

static void
test_key_policy_rsa(void **state)
{
	struct fp_status st;
	EVP_PKEY *k;

	k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	assert_int_equal(parse_key(k, EVP_sha256(), &st), -FP_E_BADREQ);
	assert_string_equal(st.msg, MSG_RSA_SHORT);
	assert_int_equal(pki_key_check(k, NULL), -FP_E_BADREQ);
	EVP_PKEY_free(k);

	k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	assert_int_equal(parse_key(k, EVP_sha256(), &st), 0);
	/* SHA-384 and SHA-512 signatures are fine too. */
	assert_int_equal(parse_key(k, EVP_sha512(), &st), 0);
	/* SHA-1 and MD5 signed CSRs are refused even with a good key. */
	assert_int_equal(parse_key(k, EVP_sha1(), &st), -FP_E_BADREQ);
	assert_non_null(strstr(st.msg, "MD5 or SHA-1"));
	assert_int_equal(parse_key(k, EVP_md5(), &st), -FP_E_BADREQ);
	assert_non_null(strstr(st.msg, "MD5 or SHA-1"));
	EVP_PKEY_free(k);

	k = genkey_rsa(2048, 3);
	assert_int_equal(parse_key(k, EVP_sha256(), &st), -FP_E_BADREQ);
	assert_string_equal(
	    st.msg, "The RSA public exponent is not supported. (Use 65537)");
	EVP_PKEY_free(k);

	k = genkey_rsa(2304, 65537);
	assert_int_equal(parse_key(k, EVP_sha256(), &st), -FP_E_BADREQ);
	assert_non_null(strstr(st.msg, "2304 bits is not supported"));
	EVP_PKEY_free(k);
}

static void
test_key_policy_ec(void **state)
{
	static const char *const good[] = { "P-256", "P-384", "P-521" };
	struct fp_status st;
	struct buf pem = BUF_INIT;
	struct pki_csr *req = NULL;
	EVP_PKEY *k;
	size_t i;

	for (i = 0; i < FP_ARRAY_LEN(good); i++) {
		k = genkey_ec(good[i], "named_curve");
		assert_int_equal(parse_key(k, EVP_sha384(), &st), 0);
		/* ECDSA with SHA-1 is refused like RSA with SHA-1. */
		assert_int_equal(parse_key(k, EVP_sha1(), &st), -FP_E_BADREQ);
		EVP_PKEY_free(k);
	}

	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	assert_int_equal(parse_key(k, EVP_sha256(), &st), -FP_E_BADREQ);
	assert_string_equal(st.msg, MSG_CURVE);
	EVP_PKEY_free(k);

	/* P-256 itself, but encoded with explicit parameters. */
	k = genkey_ec("P-256", "explicit");
	assert_int_equal(parse_key(k, EVP_sha256(), &st), -FP_E_BADREQ);
	assert_non_null(strstr(st.msg, "explicit curve parameters"));
	EVP_PKEY_free(k);

	/* The same made the way an attacker would: the openssl CLI. */
	assert_int_equal(
	    run(NULL,
	        "openssl ecparam -name prime256v1 "
	        "-param_enc explicit -genkey -noout -out explicit.key && "
	        "openssl req -new -key explicit.key -subj /CN=dev1 "
	        "-out explicit.csr"),
	    0);
	read_file("explicit.csr", &pem);
	memset(&st, 0, sizeof(st));
	assert_int_equal(
	    pki_csr_parse_pem((char *)pem.data, pem.len, &req, &st),
	    -FP_E_BADREQ);
	assert_null(req);
	assert_non_null(strstr(st.msg, "explicit curve parameters"));
	buf_free(&pem);

	/* Ed25519 is a fine algorithm, but not one we issue for. */
	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_int_equal(pki_key_check(k, &st), -FP_E_BADREQ);
	EVP_PKEY_free(k);
}

/* ---- CSRs --------------------------------------------------------- */

static void
test_csr_tamper(void **state)
{
	struct fp_status st = { 0 };
	EVP_PKEY *k = genkey_ec("P-256", "named_curve");
	X509_REQ *req = make_req(k, EVP_sha256(), NULL, "dev1", NULL, 0);
	struct pki_csr *out = NULL;
	struct buf back = BUF_INIT;
	unsigned char *der = NULL, *p;
	int len, i;

	len = i2d_X509_REQ(req, &der);
	assert_true(len > 0);
	assert_int_equal(pki_csr_parse_der(der, (size_t)len, &out, &st), 0);
	/* What it gives back is what it was given. */
	assert_int_equal(pki_csr_to_der(out, &back), 0);
	assert_int_equal(back.len, (size_t)len);
	assert_memory_equal(back.data, der, (size_t)len);
	buf_free(&back);
	pki_csr_free(out);

	/* The signed subject changed: "dev1" becomes "dev2". */
	for (p = NULL, i = 0; i + 4 <= len; i++)
		if (memcmp(der + i, "dev1", 4) == 0)
			p = der + i;
	assert_non_null(p);
	p[3] = '2';
	assert_int_equal(
	    pki_csr_parse_der(der, (size_t)len, &out, &st), -FP_E_BADREQ);
	assert_null(out);
	assert_string_equal(st.msg, "The CSR signature does not verify.");
	p[3] = '1';

	/* The signature itself damaged. */
	der[len - 1] ^= 0x01;
	assert_int_equal(
	    pki_csr_parse_der(der, (size_t)len, &out, &st), -FP_E_BADREQ);
	der[len - 1] ^= 0x01;

	/* Truncated and padded DER. */
	assert_int_equal(
	    pki_csr_parse_der(der, (size_t)len - 1, &out, &st), -FP_E_BADREQ);
	der = OPENSSL_realloc(der, (size_t)len + 1);
	der[len] = 0;
	assert_int_equal(
	    pki_csr_parse_der(der, (size_t)len + 1, &out, &st), -FP_E_BADREQ);

	OPENSSL_free(der);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
}

static int
parse_text(const char *text)
{
	struct fp_status st = { 0 };
	struct pki_csr *out = NULL;
	int r;

	r = pki_csr_parse_pem(text, strlen(text), &out, &st);
	pki_csr_free(out);
	return r;
}

static void
test_csr_pem_envelope(void **state)
{
	EVP_PKEY *k = genkey_ec("P-256", "named_curve");
	X509_REQ *req = make_req(k, EVP_sha256(), NULL, "dev1", NULL, 0);
	struct buf pem = BUF_INIT, t = BUF_INIT;
	struct fp_status st = { 0 };
	struct pki_csr *out = NULL;
	char *body;

	req_pem(req, &pem);
	assert_int_equal(parse_text((char *)pem.data), 0);

	buf_printf(&t, " \r\n%s\r\n\t \n", (char *)pem.data);
	assert_int_equal(parse_text((char *)t.data), 0);
	buf_reset(&t);
	buf_printf(&t, "%sgarbage\n", (char *)pem.data);
	assert_int_equal(parse_text((char *)t.data), -FP_E_BADREQ);
	buf_reset(&t);
	buf_printf(&t, "%sx", (char *)pem.data);
	assert_int_equal(parse_text((char *)t.data), -FP_E_BADREQ);
	buf_reset(&t);
	buf_printf(&t, "%s%s", (char *)pem.data, (char *)pem.data);
	assert_int_equal(parse_text((char *)t.data), -FP_E_BADREQ);
	buf_reset(&t);
	buf_printf(&t, "hello\n%s", (char *)pem.data);
	assert_int_equal(parse_text((char *)t.data), -FP_E_BADREQ);

	/* An embedded NUL after the block: the length counts, not strlen. */
	buf_reset(&t);
	buf_append(&t, pem.data, pem.len);
	buf_append(&t, "\0x", 2);
	assert_int_equal(
	    pki_csr_parse_pem((char *)t.data, t.len, &out, &st), -FP_E_BADREQ);
	assert_non_null(strstr(st.msg, "CERTIFICATE REQUEST"));

	/* Wrong labels around the right body. */
	body = strstr((char *)pem.data, "\n") + 1;
	*strstr(body, "-----END") = '\0';
	buf_reset(&t);
	buf_printf(&t,
	    "-----BEGIN CERTIFICATE-----\n%s"
	    "-----END CERTIFICATE-----\n",
	    body);
	assert_int_equal(parse_text((char *)t.data), -FP_E_BADREQ);
	buf_reset(&t);
	buf_printf(&t,
	    "-----BEGIN NEW CERTIFICATE REQUEST-----\n%s"
	    "-----END NEW CERTIFICATE REQUEST-----\n",
	    body);
	assert_int_equal(parse_text((char *)t.data), -FP_E_BADREQ);
	buf_reset(&t);
	buf_printf(&t,
	    "-----BEGIN CERTIFICATE REQUEST-----\n%s"
	    "-----END CERTIFICATE REQUEST-----\n",
	    body);
	assert_int_equal(parse_text((char *)t.data), 0);
	/* A PEM header line (encrypted-PEM style) is not base64. */
	buf_reset(&t);
	buf_printf(&t,
	    "-----BEGIN CERTIFICATE REQUEST-----\nProc-Type: 4,"
	    "ENCRYPTED\n\n%s-----END CERTIFICATE REQUEST-----\n",
	    body);
	assert_int_equal(parse_text((char *)t.data), -FP_E_BADREQ);

	assert_int_equal(parse_text(""), -FP_E_BADREQ);
	assert_int_equal(parse_text("not a csr"), -FP_E_BADREQ);

	buf_free(&t);
	buf_free(&pem);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
}

static void
test_csr_duplicate_ext(void **state)
{
	static const struct ext dup[] = {
		{ NID_subject_alt_name, "DNS:a.example" },
		{ NID_subject_alt_name, "DNS:b.example" },
	};
	static const struct ext one[] = {
		{ NID_subject_alt_name, "DNS:a.example" },
		{ NID_key_usage, "digitalSignature" },
	};
	struct fp_status st;
	EVP_PKEY *k = genkey_ec("P-256", "named_curve");
	X509_REQ *req;

	req = make_req(k, EVP_sha256(), NULL, "dev1", dup, 2);
	assert_int_equal(parse_req(req, &st), -FP_E_BADREQ);
	assert_string_equal(st.msg,
	    "The CSR requests the extension subjectAltName more than once.");
	X509_REQ_free(req);

	req = make_req(k, EVP_sha256(), NULL, "dev1", one, 2);
	assert_int_equal(parse_req(req, &st), 0);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
}

static int
cn_only(EVP_PKEY *k, const char *o, const char *cn, char **out,
    struct fp_status *st)
{
	X509_REQ *req = make_req(k, EVP_sha256(), o, cn, NULL, 0);
	struct pki_csr *csr = NULL;
	unsigned char *der = NULL;
	int len, r;

	memset(st, 0, sizeof(*st));
	*out = NULL;
	len = i2d_X509_REQ(req, &der);
	assert_true(len > 0);
	assert_int_equal(pki_csr_parse_der(der, (size_t)len, &csr, st), 0);
	r = pki_csr_subject_cn_only(csr, out, st);
	pki_csr_free(csr);
	OPENSSL_free(der);
	X509_REQ_free(req);
	return r;
}

static void
test_csr_cn_only(void **state)
{
	EVP_PKEY *k = genkey_ec("P-256", "named_curve");
	struct fp_status st;
	char long_cn[257], *cn, *want;

	assert_int_equal(cn_only(k, NULL, "Device 42", &cn, &st), 0);
	assert_string_equal(cn, "Device 42");
	free(cn);

	assert_int_equal(cn_only(k, "Acme", "dev1", &cn, &st), -FP_E_BADREQ);
	assert_null(cn);
	assert_string_equal(st.msg, MSG_CN_ATTRS "[O, CN]");
	assert_int_equal(cn_only(k, "Acme", NULL, &cn, &st), -FP_E_BADREQ);
	assert_string_equal(st.msg, MSG_CN_ATTRS "[O]");
	assert_int_equal(cn_only(k, NULL, NULL, &cn, &st), -FP_E_BADREQ);
	assert_string_equal(st.msg, MSG_CN_ATTRS "[]");

	assert_int_equal(cn_only(k, NULL, "dev-1", &cn, &st), -FP_E_BADREQ);
	assert_string_equal(st.msg, MSG_CN_VALUE "dev-1");
	assert_int_equal(
	    cn_only(k, NULL, "d\xc3\xa9v", &cn, &st), -FP_E_BADREQ);
	assert_string_equal(st.msg, MSG_CN_VALUE "d\xc3\xa9v");
	assert_int_equal(cn_only(k, NULL, "a\tb", &cn, &st), -FP_E_BADREQ);
	assert_string_equal(st.msg, MSG_CN_VALUE "a?b");

	memset(long_cn, 'a', 255);
	long_cn[255] = '\0';
	assert_int_equal(cn_only(k, NULL, long_cn, &cn, &st), 0);
	assert_int_equal(strlen(cn), 255);
	free(cn);
	long_cn[255] = 'a';
	long_cn[256] = '\0';
	assert_int_equal(cn_only(k, NULL, long_cn, &cn, &st), -FP_E_BADREQ);
	want = xasprintf(MSG_CN_VALUE "%s", long_cn);
	assert_string_equal(st.msg, want);
	free(want);
	EVP_PKEY_free(k);
}

/*
 * A CSR for 'k' whose SubjectPublicKeyInfo is then replaced by the given
 * algorithm and key bits and signed again with 'k': a well-signed request
 * for a key that is not what it should be.  Parsed as DER; the message in
 * 'st'.
 */
static int
parse_spki(EVP_PKEY *k, int algnid, int ptype, void *pval,
    const unsigned char *bits, size_t len, struct fp_status *st)
{
	X509_REQ *req = make_req(k, EVP_sha256(), NULL, "dev1", NULL, 0);
	struct pki_csr *out = NULL;
	unsigned char *enc = OPENSSL_malloc(len + 1), *der = NULL;
	int dlen, r;

	memcpy(enc, bits, len);
	assert_true(X509_PUBKEY_set0_param(X509_REQ_get_X509_PUBKEY(req),
	    OBJ_nid2obj(algnid), ptype, pval, enc, (int)len));
	assert_true(X509_REQ_sign(req, k, EVP_sha256()) > 0);
	dlen = i2d_X509_REQ(req, &der);
	assert_true(dlen > 0);
	memset(st, 0, sizeof(*st));
	r = pki_csr_parse_der(der, (size_t)dlen, &out, st);
	assert_true((r == 0) == (out != NULL));
	pki_csr_free(out);
	OPENSSL_free(der);
	X509_REQ_free(req);
	return r;
}

/* The key bits of 'k' as a CSR would carry them, in 'out' (<= 1024). */
static size_t
key_bits(EVP_PKEY *k, unsigned char *out)
{
	X509_REQ *req = make_req(k, EVP_sha256(), NULL, "dev1", NULL, 0);
	const unsigned char *p;
	int len;

	assert_true(X509_PUBKEY_get0_param(NULL, &p, &len, NULL,
	    X509_REQ_get_X509_PUBKEY(req)));
	assert_true(len > 0 && len <= 1024);
	memcpy(out, p, (size_t)len);
	X509_REQ_free(req);
	return (size_t)len;
}

/*
 * The CSR parser builds the key from the SubjectPublicKeyInfo itself
 * (not through d2i_X509_REQ): each form it takes comes out as the same
 * key, carried into the certificate byte for byte, and each malformed
 * or foreign one is refused with its reason, though well signed.
 */
static void
test_csr_key_forms(void **state)
{
	static const char *const forms[] = { "P-256/uncompressed",
		"P-256/compressed", "P-384/uncompressed", "P-521/compressed",
		"RSA" };
	struct pki_profile prof = { 0 };
	struct fp_status st;
	struct pki_csr *csr;
	EVP_PKEY *k, *ed, *p256;
	X509_REQ *req;
	X509 *x;
	unsigned char *der, *a, *b, bits[1024], neg[1024];
	char curve[16];
	size_t i, n;
	int len, la, lb;

	prof.subject.cn = "dev1";
	prof.eku = PKI_EKU_CLIENT;
	prof.days = 30;
	for (i = 0; i < FP_ARRAY_LEN(forms); i++) {
		if (strcmp(forms[i], "RSA") == 0)
			k = genkey_rsa(2048, 65537);
		else {
			snprintf(curve, sizeof(curve), "%.5s", forms[i]);
			k = genkey_ec(curve, "named_curve");
			assert_true(EVP_PKEY_set_utf8_string_param(k,
			    OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
			    (char *)strchr(forms[i], '/') + 1));
		}
		req = make_req(k, EVP_sha256(), NULL, "dev1", NULL, 0);
		der = NULL;
		len = i2d_X509_REQ(req, &der);
		csr = NULL;
		assert_int_equal(
		    pki_csr_parse_der(der, (size_t)len, &csr, &st), 0);
		assert_int_equal(EVP_PKEY_eq(pki_csr_pubkey(csr), k), 1);
		x = issue(&fx.ca, pki_csr_pubkey(csr), &prof);
		spki_matches(x, pki_csr_pubkey(csr));
		a = b = NULL;
		la = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &a);
		lb = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &b);
		assert_int_equal(la, lb);
		assert_memory_equal(a, b, (size_t)la);
		OPENSSL_free(a);
		OPENSSL_free(b);
		X509_free(x);
		pki_csr_free(csr);
		OPENSSL_free(der);
		X509_REQ_free(req);
		EVP_PKEY_free(k);
	}

	p256 = genkey_ec("P-256", "named_curve");
	n = key_bits(p256, bits);
	assert_int_equal(parse_spki(p256, NID_X9_62_id_ecPublicKey,
	                     V_ASN1_OBJECT, OBJ_nid2obj(NID_X9_62_prime256v1),
	                     bits, n, &st),
	    0);
	/* Off the curve; the hybrid form (RFC 5480 forbids it); no point. */
	bits[n - 1] ^= 0x01;
	assert_int_equal(parse_spki(p256, NID_X9_62_id_ecPublicKey,
	                     V_ASN1_OBJECT, OBJ_nid2obj(NID_X9_62_prime256v1),
	                     bits, n, &st),
	    -FP_E_BADREQ);
	assert_string_equal(st.msg,
	    "The ECDSA public key is not a valid point on its curve.");
	bits[n - 1] ^= 0x01;
	bits[0] = 0x06 | (bits[n - 1] & 1);
	assert_int_equal(parse_spki(p256, NID_X9_62_id_ecPublicKey,
	                     V_ASN1_OBJECT, OBJ_nid2obj(NID_X9_62_prime256v1),
	                     bits, n, &st),
	    -FP_E_BADREQ);
	assert_string_equal(st.msg,
	    "The ECDSA public key is not a valid point on its curve.");
	bits[0] = 0x04;
	assert_int_equal(parse_spki(p256, NID_X9_62_id_ecPublicKey,
	                     V_ASN1_OBJECT, OBJ_nid2obj(NID_X9_62_prime256v1),
	                     bits, 0, &st),
	    -FP_E_BADREQ);
	/* A curve not ours; no curve at all (implicitlyCA). */
	assert_int_equal(parse_spki(p256, NID_X9_62_id_ecPublicKey,
	                     V_ASN1_OBJECT, OBJ_nid2obj(NID_secp256k1), bits,
	                     n, &st),
	    -FP_E_BADREQ);
	assert_string_equal(st.msg, MSG_CURVE);
	assert_int_equal(parse_spki(p256, NID_X9_62_id_ecPublicKey,
	                     V_ASN1_NULL, NULL, bits, n, &st),
	    -FP_E_BADREQ);
	assert_string_equal(st.msg,
	    "The public key algorithm is not supported. (Use RSA or ECDSA)");
	/* The EC point called an RSA key. */
	assert_int_equal(parse_spki(p256, NID_rsaEncryption, V_ASN1_NULL,
	                     NULL, bits, n, &st),
	    -FP_E_BADREQ);
	assert_string_equal(st.msg, "The CSR's RSA public key is malformed.");

	/*
	 * RSA: the real key, then its modulus made negative (its leading
	 * zero octet dropped: 30 82 01 0a 02 82 01 01 00 <n> 02 03 01 00 01),
	 * trailing bytes, and parameters that are not NULL.
	 */
	k = genkey_rsa(2048, 65537);
	n = key_bits(k, bits);
	assert_int_equal(n, 270);
	assert_int_equal(bits[8], 0x00);
	assert_int_equal(parse_spki(k, NID_rsaEncryption, V_ASN1_NULL, NULL,
	                     bits, n, &st),
	    0);
	memcpy(neg, "\x30\x82\x01\x09\x02\x82\x01\x00", 8);
	memcpy(neg + 8, bits + 9, n - 9);
	assert_int_equal(parse_spki(k, NID_rsaEncryption, V_ASN1_NULL, NULL,
	                     neg, n - 1, &st),
	    -FP_E_BADREQ);
	assert_string_equal(st.msg, "The CSR's RSA public key is malformed.");
	bits[n] = 0x00;
	assert_int_equal(parse_spki(k, NID_rsaEncryption, V_ASN1_NULL, NULL,
	                     bits, n + 1, &st),
	    -FP_E_BADREQ);
	assert_string_equal(st.msg, "The CSR's RSA public key is malformed.");
	assert_int_equal(parse_spki(k, NID_rsaEncryption, V_ASN1_OBJECT,
	                     OBJ_nid2obj(NID_sha256), bits, n, &st),
	    -FP_E_BADREQ);
	assert_string_equal(st.msg, "The CSR's RSA public key is malformed.");
	EVP_PKEY_free(k);

	/* Ed25519: a fine algorithm, but not one we issue for. */
	ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	req = make_req(ed, NULL, NULL, "dev1", NULL, 0);
	der = NULL;
	len = i2d_X509_REQ(req, &der);
	csr = NULL;
	assert_int_equal(pki_csr_parse_der(der, (size_t)len, &csr, &st),
	    -FP_E_BADREQ);
	assert_null(csr);
	assert_string_equal(st.msg,
	    "The public key algorithm is not supported. (Use RSA or ECDSA)");
	OPENSSL_free(der);
	X509_REQ_free(req);
	EVP_PKEY_free(ed);

	/*
	 * A key's BIT STRING with unused bits (03 42 01 04 ...): malformed
	 * DER for a key, refused before the signature is looked at.
	 */
	req = make_req(p256, EVP_sha256(), NULL, "dev1", NULL, 0);
	der = NULL;
	len = i2d_X509_REQ(req, &der);
	for (a = NULL, i = 0; i + 4 <= (size_t)len; i++)
		if (memcmp(der + i, "\x03\x42\x00\x04", 4) == 0)
			a = der + i;
	assert_non_null(a);
	a[2] = 0x01;
	assert_int_equal(pki_csr_parse_der(der, (size_t)len, &csr, &st),
	    -FP_E_BADREQ);
	assert_string_equal(st.msg,
	    "The CSR is not a valid PKCS#10 certificate request.");
	OPENSSL_free(der);
	X509_REQ_free(req);
	EVP_PKEY_free(p256);
}

/* ---- issuance ----------------------------------------------------- */

static void
test_issue_profile_only(void **state)
{
	static const struct ext asks[] = {
		{ NID_basic_constraints, "critical,CA:TRUE" },
		{ NID_key_usage, "critical,keyCertSign,cRLSign" },
		{ NID_subject_alt_name, "DNS:evil.example" },
		{ NID_ext_key_usage, "codeSigning" },
	};
	static const int want[] = { NID_basic_constraints, NID_key_usage,
		NID_ext_key_usage, NID_subject_key_identifier,
		NID_authority_key_identifier };
	struct fp_status st;
	struct pki_profile prof;
	EVP_PKEY *k = genkey_ec("P-256", "named_curve");
	X509_REQ *req = make_req(k, EVP_sha256(), NULL, "dev1", asks, 4);
	BASIC_CONSTRAINTS *bc;
	ASN1_OCTET_STRING *ski;
	AUTHORITY_KEYID *aki;
	X509 *x;
	char *subject;
	size_t i;
	int crit;

	assert_int_equal(parse_req(req, &st), 0);
	profile_init(&prof, "tenant:dev1");
	x = issue(&fx.ca, X509_REQ_get0_pubkey(req), &prof);

	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	assert_int_equal(X509_get_ext_count(x), FP_ARRAY_LEN(want));
	for (i = 0; i < FP_ARRAY_LEN(want); i++)
		assert_int_equal(OBJ_obj2nid(X509_EXTENSION_get_object(
		                     X509_get_ext(x, (int)i))),
		    want[i]);
	bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_int_equal(crit, 1);
	assert_int_equal(bc->ca, 0);
	BASIC_CONSTRAINTS_free(bc);
	assert_int_equal(X509_check_ca(x), 0);
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_CLIENT);

	/* AKI keyid is the CA's SKI; SKI is SHA-1 of the key bits. */
	aki = X509_get_ext_d2i(x, NID_authority_key_identifier, NULL, NULL);
	ski = X509_get_ext_d2i(fx.cert, NID_subject_key_identifier, NULL, NULL);
	assert_non_null(aki);
	assert_non_null(ski);
	assert_int_equal(ASN1_OCTET_STRING_cmp(aki->keyid, ski), 0);
	AUTHORITY_KEYID_free(aki);
	ASN1_OCTET_STRING_free(ski);
	assert_int_equal(X509_get0_subject_key_id(x)->length, 20);

	spki_matches(x, X509_REQ_get0_pubkey(req));

	subject = pki_cert_subject(x);
	assert_string_equal(subject, "CN=tenant:dev1,O=fleetpki");
	free(subject);
	assert_int_equal(X509_verify(x, X509_get0_pubkey(fx.cert)), 1);
	assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);

	/* An RSA subject key also gets keyEncipherment. */
	X509_free(x);
	EVP_PKEY_free(k);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	x = issue(&fx.ca, k, &prof);
	assert_int_equal(
	    X509_get_key_usage(x), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
	spki_matches(x, k);

	X509_free(x);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
}

static void
test_issue_serial(void **state)
{
	struct pki_profile prof;
	EVP_PKEY *k = genkey_ec("P-256", "named_curve");
	const ASN1_INTEGER *sn;
	unsigned char *der = NULL;
	char hex1[PKI_SERIAL_HEX_LEN], hex2[PKI_SERIAL_HEX_LEN];
	X509 *x1, *x2;
	size_t i;
	int len;

	profile_init(&prof, "tenant:dev1");
	x1 = issue(&fx.ca, k, &prof);
	x2 = issue(&fx.ca, k, &prof);
	sn = X509_get0_serialNumber(x1);
	assert_int_equal(ASN1_STRING_type(sn), V_ASN1_INTEGER);
	assert_int_equal(ASN1_STRING_length(sn), PKI_SERIAL_BYTES);
	assert_true(ASN1_STRING_get0_data(sn)[0] != 0);
	assert_true(ASN1_STRING_get0_data(sn)[0] < 0x80);
	/* DER: tag, length 20, then 20 content bytes with no 0x00 pad. */
	len = i2d_ASN1_INTEGER(sn, &der);
	assert_int_equal(len, 2 + PKI_SERIAL_BYTES);
	assert_int_equal(der[1], PKI_SERIAL_BYTES);
	OPENSSL_free(der);

	assert_int_equal(pki_cert_serial_hex(x1, hex1), 0);
	assert_int_equal(pki_cert_serial_hex(x2, hex2), 0);
	assert_int_equal(strlen(hex1), 2 * PKI_SERIAL_BYTES);
	for (i = 0; i < strlen(hex1); i++)
		assert_non_null(strchr("0123456789ABCDEF", hex1[i]));
	assert_string_not_equal(hex1, hex2);
	assert_int_not_equal(
	    ASN1_INTEGER_cmp(sn, X509_get0_serialNumber(x2)), 0);
	X509_free(x1);
	X509_free(x2);
	EVP_PKEY_free(k);
}

static void
test_issue_validity(void **state)
{
	struct fp_status st = { 0 };
	struct pki_profile prof;
	struct pki_ca ca;
	EVP_PKEY *k = genkey_ec("P-256", "named_curve"), *cakey = NULL;
	X509 *cacert = NULL, *x;
	int64_t now, nb, na, ca_nb, ca_na;

	profile_init(&prof, "tenant:dev1");

	/* The usual case: five minutes back, 'days' forward. */
	now = (int64_t)time(NULL);
	x = issue(&fx.ca, k, &prof);
	assert_int_equal(pki_cert_validity(x, &nb, &na), 0);
	assert_true(nb >= now - 300 - 2 && nb <= now - 300 + 2);
	assert_true(na >= now + 365 * 86400 - 2 && na <= now + 365 * 86400 + 2);
	X509_free(x);

	/* A CA valid for one day caps a 365-day certificate. */
	assert_int_equal(
	    pki_ca_create("ec-p256", "Short CA", NULL, 1, &cakey, &cacert, &st),
	    0);
	ca.cert = cacert;
	ca.key = cakey;
	x = issue(&ca, k, &prof);
	assert_int_equal(pki_cert_validity(x, &nb, &na), 0);
	assert_int_equal(pki_cert_validity(cacert, &ca_nb, &ca_na), 0);
	assert_true(na == ca_na);
	assert_true(nb >= ca_nb);
	assert_int_equal(asn1_unix(X509_get0_notAfter(x)), ca_na);
	X509_free(x);

	/* A CA that starts now: the backdate stops at its notBefore. */
	now = (int64_t)time(NULL);
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(cacert), now));
	assert_true(X509_sign(cacert, cakey, EVP_sha256()) > 0);
	x = issue(&ca, k, &prof);
	assert_int_equal(pki_cert_validity(x, &nb, &na), 0);
	assert_true(nb == now);
	X509_free(x);

	/* An expired CA issues nothing. */
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(cacert), now - 7200));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(cacert), now - 3600));
	assert_true(X509_sign(cacert, cakey, EVP_sha256()) > 0);
	x = NULL;
	assert_int_equal(pki_issue(&ca, k, &prof, &x, &st), -FP_E_CONFLICT);
	assert_null(x);

	X509_free(cacert);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(k);
}

/* `openssl verify -x509_strict` over CA and leaf, for each CA key type. */
static void
test_issue_openssl_verify(void **state)
{
	static const char *const cas[] = { "ec-p256", "ec-p384", "ec-p521",
		"rsa-2048" };
	static const int signids[] = { NID_ecdsa_with_SHA256,
		NID_ecdsa_with_SHA384, NID_ecdsa_with_SHA512,
		NID_sha256WithRSAEncryption };
	static const struct pki_san sans[] = {
		{ PKI_SAN_DNS, "dev1.example.com" },
		{ PKI_SAN_DNS, "*.dev1.example.com" },
		{ PKI_SAN_IP, "192.0.2.1" },
		{ PKI_SAN_IP, "2001:db8::1" },
		{ PKI_SAN_EMAIL, "ops@example.com" },
	};
	struct fp_status st = { 0 };
	struct pki_profile prof;
	struct pki_ca ca;
	struct buf out = BUF_INIT;
	EVP_PKEY *leafs[4], *cakey;
	X509 *cacert, *x;
	size_t i, j;

	leafs[0] = genkey_ec("P-256", "named_curve");
	leafs[1] = genkey_ec("P-384", "named_curve");
	leafs[2] = genkey_ec("P-521", "named_curve");
	leafs[3] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
	profile_init(&prof, "tenant:dev1");
	prof.subject.c = "DE";
	prof.subject.ou = "devices";
	prof.sans = sans;
	prof.nsans = FP_ARRAY_LEN(sans);
	prof.eku = PKI_EKU_CLIENT | PKI_EKU_SERVER;
	prof.crl_url = "http://pki.example.com/crl/t1.crl";
	prof.ocsp_url = "http://pki.example.com/ocsp";

	for (i = 0; i < FP_ARRAY_LEN(cas); i++) {
		assert_int_equal(pki_ca_create(cas[i], "Verify Root",
		                     "fleetpki", 30, &cakey, &cacert, &st),
		    0);
		ca.cert = cacert;
		ca.key = cakey;
		assert_int_equal(X509_get_signature_nid(cacert), signids[i]);
		write_cert("ca.pem", cacert);
		for (j = 0; j < FP_ARRAY_LEN(leafs); j++) {
			x = issue(&ca, leafs[j], &prof);
			assert_int_equal(X509_get_signature_nid(x), signids[i]);
			assert_int_equal(X509_get_ext_count(x), 8);
			spki_matches(x, leafs[j]);
			write_cert("leaf.pem", x);
			buf_reset(&out);
			if (run(&out,
			        "openssl verify -x509_strict -CAfile "
			        "ca.pem ca.pem leaf.pem") != 0)
				fail_msg("openssl verify (%s CA, leaf %zu): %s",
				    cas[i], j, (char *)out.data);
			X509_free(x);
		}
		X509_free(cacert);
		EVP_PKEY_free(cakey);
	}

	/* No subject at all: SANs only, marked critical, still strict. */
	memset(&prof.subject, 0, sizeof(prof.subject));
	x = issue(&fx.ca, leafs[0], &prof);
	assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(x)), 0);
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x,
	                     X509_get_ext_by_NID(x, NID_subject_alt_name, -1))),
	    1);
	write_cert("ca.pem", fx.cert);
	write_cert("leaf.pem", x);
	buf_reset(&out);
	if (run(&out, "openssl verify -x509_strict -CAfile ca.pem leaf.pem") !=
	    0)
		fail_msg("openssl verify (no subject): %s", (char *)out.data);
	X509_free(x);

	buf_free(&out);
	for (j = 0; j < FP_ARRAY_LEN(leafs); j++)
		EVP_PKEY_free(leafs[j]);
}

static void
test_issue_bad_profile(void **state)
{
	struct fp_status st;
	struct pki_profile prof;
	struct pki_san san;
	EVP_PKEY *k = genkey_ec("P-256", "named_curve"), *bad;
	X509 *x = NULL;
	static const char *const bad_dns[] = { "a,IP:1.2.3.4", "", "-a.com",
		"a..com", "a.com.", "a b.com", "*.*.a.com", "10.0.0.1",
		"2130706434", "a.123", "0x7f.1", "*.10.0.0.1" };
	static const char *const bad_ip[] = { "10.0.0.1junk", "10.0.0",
		"010.0.0.1", "::g", "" };
	size_t i;

	profile_init(&prof, "tenant:dev1");
	prof.sans = &san;
	prof.nsans = 1;
	san.type = PKI_SAN_DNS;
	for (i = 0; i < FP_ARRAY_LEN(bad_dns); i++) {
		san.value = bad_dns[i];
		assert_int_equal(
		    pki_issue(&fx.ca, k, &prof, &x, &st), -FP_E_BADREQ);
		assert_null(x);
	}
	san.type = PKI_SAN_IP;
	for (i = 0; i < FP_ARRAY_LEN(bad_ip); i++) {
		san.value = bad_ip[i];
		assert_int_equal(
		    pki_issue(&fx.ca, k, &prof, &x, &st), -FP_E_BADREQ);
	}
	san.type = PKI_SAN_EMAIL;
	san.value = "no-at-sign";
	assert_int_equal(pki_issue(&fx.ca, k, &prof, &x, &st), -FP_E_BADREQ);

	profile_init(&prof, "tenant:dev1");
	prof.crl_url = "ftp://example.com/x.crl";
	assert_int_equal(pki_issue(&fx.ca, k, &prof, &x, &st), -FP_E_BADREQ);
	prof.crl_url = "http://example.com/a b";
	assert_int_equal(pki_issue(&fx.ca, k, &prof, &x, &st), -FP_E_BADREQ);
	profile_init(&prof, "tenant:dev1");
	prof.eku = 0;
	assert_int_equal(pki_issue(&fx.ca, k, &prof, &x, &st), -FP_E_BADREQ);
	profile_init(&prof, "tenant:dev1");
	prof.days = 0;
	assert_int_equal(pki_issue(&fx.ca, k, &prof, &x, &st), -FP_E_BADREQ);
	profile_init(&prof, "tenant:dev1");
	prof.subject.c = "Germany";
	assert_int_equal(pki_issue(&fx.ca, k, &prof, &x, &st), -FP_E_BADREQ);
	profile_init(&prof, "tenant:\xff");
	assert_int_equal(pki_issue(&fx.ca, k, &prof, &x, &st), -FP_E_BADREQ);
	memset(&prof.subject, 0, sizeof(prof.subject));
	assert_int_equal(pki_issue(&fx.ca, k, &prof, &x, &st), -FP_E_BADREQ);

	/* The key policy holds at issuance too. */
	profile_init(&prof, "tenant:dev1");
	bad = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	assert_int_equal(pki_issue(&fx.ca, bad, &prof, &x, &st), -FP_E_BADREQ);
	assert_string_equal(st.msg, MSG_CURVE);
	assert_null(x);
	EVP_PKEY_free(bad);
	EVP_PKEY_free(k);
}

/* Names that are one name in two spellings are one SAN, asked for twice. */
static void
test_san_duplicates(void **state)
{
	struct fp_status st;
	struct pki_san two[2];
	static const char *const same[][2] = {
		{ "2001:db8::1", "2001:db8:0:0:0:0:0:1" },
		{ "2001:DB8::1", "2001:db8::1" },
		{ "::ffff:192.0.2.1", "192.0.2.1" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < FP_ARRAY_LEN(same); i++) {
		two[0] = (struct pki_san){ PKI_SAN_IP, same[i][0] };
		two[1] = (struct pki_san){ PKI_SAN_IP, same[i][1] };
		assert_int_equal(pki_san_check(two, 2, &st), -FP_E_BADREQ);
	}
	two[0] = (struct pki_san){ PKI_SAN_DNS, "Dev.Example.com" };
	two[1] = (struct pki_san){ PKI_SAN_DNS, "dev.example.COM" };
	assert_int_equal(pki_san_check(two, 2, &st), -FP_E_BADREQ);
	/* Different kinds never collide; neither do different addresses. */
	two[1] = (struct pki_san){ PKI_SAN_EMAIL, "ops@dev.example.com" };
	assert_int_equal(pki_san_check(two, 2, &st), 0);
	two[0] = (struct pki_san){ PKI_SAN_IP, "192.0.2.1" };
	two[1] = (struct pki_san){ PKI_SAN_IP, "192.0.2.2" };
	assert_int_equal(pki_san_check(two, 2, &st), 0);
	two[0] = (struct pki_san){ PKI_SAN_DNS, "a1.example.com" };
	two[1] = (struct pki_san){ PKI_SAN_DNS, "123.example.com" };
	assert_int_equal(pki_san_check(two, 2, &st), 0);
}

static void
test_ca_create(void **state)
{
	struct fp_status st = { 0 };
	BASIC_CONSTRAINTS *bc;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int crit;

	bc = X509_get_ext_d2i(fx.cert, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_true(bc->ca);
	assert_int_equal(crit, 1);
	BASIC_CONSTRAINTS_free(bc);
	assert_int_equal(X509_get_key_usage(fx.cert),
	    KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_DIGITAL_SIGNATURE);
	assert_non_null(X509_get0_subject_key_id(fx.cert));
	assert_non_null(X509_get0_authority_key_id(fx.cert));
	assert_int_equal(X509_check_issued(fx.cert, fx.cert), X509_V_OK);
	assert_int_equal(X509_check_private_key(fx.cert, fx.key), 1);

	assert_int_equal(pki_ca_create("ec-p999", "x", NULL, 1, &key, &x, &st),
	    -FP_E_BADREQ);
	assert_int_equal(
	    pki_ca_create("ec-p256", "", NULL, 1, &key, &x, &st), -FP_E_BADREQ);
	assert_int_equal(pki_ca_create("ec-p256", "x", NULL, 0, &key, &x, &st),
	    -FP_E_BADREQ);
	assert_null(key);
	assert_null(x);
}

/* ---- encodings and fingerprints ----------------------------------- */

static void
test_cert_codec(void **state)
{
	struct fp_status st = { 0 };
	struct buf der = BUF_INIT, pem = BUF_INIT, body = BUF_INIT,
	           t = BUF_INIT;
	X509 *x = NULL;

	assert_int_equal(pki_cert_to_der(fx.cert, &der), 0);
	assert_int_equal(pki_cert_to_pem(fx.cert, &pem), 0);
	assert_int_equal(strlen((char *)pem.data), pem.len);

	assert_int_equal(pki_cert_from_der(der.data, der.len, &x), 0);
	assert_int_equal(X509_cmp(x, fx.cert), 0);
	X509_free(x);
	assert_int_equal(
	    pki_cert_from_der(der.data, der.len - 1, &x), -FP_E_BADREQ);
	assert_null(x);

	assert_int_equal(
	    pki_cert_from_pem((char *)pem.data, pem.len, &x, &st), 0);
	assert_int_equal(X509_cmp(x, fx.cert), 0);
	X509_free(x);
	buf_printf(&t, "%s%s", (char *)pem.data, (char *)pem.data);
	assert_int_equal(
	    pki_cert_from_pem((char *)t.data, t.len, &x, &st), -FP_E_BADREQ);
	assert_null(x);
	buf_reset(&t);
	buf_printf(&t, "%s;", (char *)pem.data);
	assert_int_equal(
	    pki_cert_from_pem((char *)t.data, t.len, &x, &st), -FP_E_BADREQ);

	/* The lenient decoder: first block, any label, text around. */
	buf_reset(&t);
	buf_printf(&t, "subject=...\n%strailer", (char *)pem.data);
	assert_int_equal(pki_pem_body_der((char *)t.data, t.len, &body), 0);
	assert_int_equal(body.len, der.len);
	assert_memory_equal(body.data, der.data, der.len);
	assert_int_equal(pki_pem_body_der("nothing", 7, &body), -FP_E_BADREQ);

	buf_free(&t);
	buf_free(&body);
	buf_free(&der);
	buf_free(&pem);
}

static void
test_fingerprint(void **state)
{
	static const char abc[] =
	    "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:"
	    "22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD";
	char fpr[PKI_FPR_LEN], norm[PKI_FPR_LEN];
	struct buf der = BUF_INIT;

	pki_fingerprint((const unsigned char *)"abc", 3, fpr);
	assert_string_equal(fpr, abc);
	assert_int_equal(strlen(fpr), PKI_FPR_LEN - 1);

	assert_int_equal(
	    pki_fingerprint_normalize("ba7816bf8f01cfea414140de5d"
	                              "ae2223b00361a396177a9cb410ff61f20015ad",
	        norm),
	    0);
	assert_string_equal(norm, abc);
	assert_int_equal(
	    pki_fingerprint_normalize(
	        "ba:78:16:bf:8f:01:cf:ea:41"
	        ":41:40:de:5d:ae:22:23:b0:03:61:a3:96:17:7a:9c:b4:10:ff:61:f2:00:"
	        "15:ad",
	        norm),
	    0);
	assert_string_equal(norm, abc);
	assert_int_equal(
	    pki_fingerprint_normalize("BA7816BF8F01CFEA414140de5d"
	                              "ae2223b00361a396177a9cb410ff61f20015AD",
	        norm),
	    0);
	assert_string_equal(norm, abc);
	assert_int_equal(pki_fingerprint_normalize(abc, norm), 0);
	assert_string_equal(norm, abc);

	/* Wrong length, mixed separators, non-hex, other separators. */
	assert_int_equal(
	    pki_fingerprint_normalize("ba7816bf8f01cfea414140de5d"
	                              "ae2223b00361a396177a9cb410ff61f20015",
	        norm),
	    -FP_E_BADREQ);
	assert_int_equal(
	    pki_fingerprint_normalize("ba7816bf8f01cfea414140de5d"
	                              "ae2223b00361a396177a9cb410ff61f20015ad0",
	        norm),
	    -FP_E_BADREQ);
	assert_int_equal(pki_fingerprint_normalize("", norm), -FP_E_BADREQ);
	assert_int_equal(
	    pki_fingerprint_normalize(
	        "BA:7816:BF:8F:01:CF:EA:41:"
	        "41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:"
	        "15:AD:",
	        norm),
	    -FP_E_BADREQ);
	assert_int_equal(
	    pki_fingerprint_normalize("ga7816bf8f01cfea414140de5d"
	                              "ae2223b00361a396177a9cb410ff61f20015ad",
	        norm),
	    -FP_E_BADREQ);
	assert_int_equal(
	    pki_fingerprint_normalize(
	        "BA-78-16-BF-8F-01-CF-EA-41"
	        "-41-40-DE-5D-AE-22-23-B0-03-61-A3-96-17-7A-9C-B4-10-FF-61-F2-00-"
	        "15-AD",
	        norm),
	    -FP_E_BADREQ);

	/* The certificate fingerprint is SHA-256 over its DER. */
	assert_int_equal(pki_cert_to_der(fx.cert, &der), 0);
	pki_fingerprint(der.data, der.len, fpr);
	{
		unsigned char md[32];
		unsigned int mdlen;
		char hex[65], joined[PKI_FPR_LEN];

		assert_true(X509_digest(fx.cert, EVP_sha256(), md, &mdlen));
		util_hex(md, mdlen, hex);
		assert_int_equal(pki_fingerprint_normalize(hex, joined), 0);
		assert_string_equal(fpr, joined);
	}
	buf_free(&der);
}

static void
test_digest_hmac(void **state)
{
	char out[EVP_MAX_MD_SIZE * 2 + 1], mac[65];

	assert_int_equal(pki_digest_hex("sha256", "abc", 3, out), 0);
	assert_string_equal(out,
	    "ba7816bf8f01cfea414140de5dae2223b00361a3961"
	    "77a9cb410ff61f20015ad");
	assert_int_equal(pki_digest_hex("md5", "abc", 3, out), 0);
	assert_string_equal(out, "900150983cd24fb0d6963f7d28e17f72");
	assert_int_equal(pki_digest_hex("sha256", "", 0, out), 0);
	assert_string_equal(out,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649"
	    "b934ca495991b7852b855");
	assert_int_equal(pki_digest_hex("sha1", "abc", 3, out), -FP_E_BADREQ);
	assert_int_equal(
	    pki_digest_hex("SHA-256", "abc", 3, out), -FP_E_BADREQ);

	/* RFC 4231 test case 2. */
	assert_int_equal(pki_hmac_hex((const unsigned char *)"Jefe", 4,
	                     "what do ya want for nothing?", 28, mac),
	    0);
	assert_string_equal(mac,
	    "5bdcc146bf60754e6a042426089575c75a003f089d2"
	    "739839dec58b964ec3843");
}

static void
test_random(void **state)
{
	unsigned char a[32], b[32];

	pki_random(a, sizeof(a));
	pki_random(b, sizeof(b));
	assert_memory_not_equal(a, b, sizeof(a));
	pki_random(a, 0);
}

/* ---- CRLs --------------------------------------------------------- */

static void
test_crl(void **state)
{
	struct pki_profile prof;
	struct pki_revoked rev[2];
	struct buf der = BUF_INIT, pem = BUF_INIT, out = BUF_INIT;
	EVP_PKEY *k = genkey_ec("P-256", "named_curve");
	X509 *x1, *x2;
	X509_CRL *crl = NULL, *back;
	X509_REVOKED *re = NULL;
	ASN1_INTEGER *num;
	int crit = 0;
	ASN1_ENUMERATED *reason;
	const unsigned char *p;
	char s1[PKI_SERIAL_HEX_LEN], s2[PKI_SERIAL_HEX_LEN];
	int64_t now = (int64_t)time(NULL);

	profile_init(&prof, "tenant:dev1");
	x1 = issue(&fx.ca, k, &prof);
	x2 = issue(&fx.ca, k, &prof);
	assert_int_equal(pki_cert_serial_hex(x1, s1), 0);
	assert_int_equal(pki_cert_serial_hex(x2, s2), 0);
	rev[0] = (struct pki_revoked){ s1, now - 60,
		pki_reason_from_name("keyCompromise") };
	rev[1] = (struct pki_revoked){ s2, now - 30, -1 };

	assert_int_equal(
	    pki_crl_build(&fx.ca, rev, 2, 42, now, now + 86400, -1, NULL, &crl), 0);
	assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(fx.cert)), 1);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 2);
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	assert_non_null(num);
	assert_int_equal(ASN1_INTEGER_get(num), 42);
	ASN1_INTEGER_free(num);
	assert_true(X509_CRL_get_ext_by_NID(
	                crl, NID_authority_key_identifier, -1) >= 0);
	assert_int_equal(asn1_unix(X509_CRL_get0_lastUpdate(crl)), now);
	assert_int_equal(asn1_unix(X509_CRL_get0_nextUpdate(crl)), now + 86400);

	assert_int_equal(X509_CRL_get0_by_cert(crl, &re, x1), 1);
	reason = X509_REVOKED_get_ext_d2i(re, NID_crl_reason, NULL, NULL);
	assert_non_null(reason);
	assert_int_equal(ASN1_ENUMERATED_get(reason), 1);
	ASN1_ENUMERATED_free(reason);
	assert_int_equal(
	    asn1_unix(X509_REVOKED_get0_revocationDate(re)), now - 60);
	assert_int_equal(X509_CRL_get0_by_cert(crl, &re, x2), 1);
	assert_null(X509_REVOKED_get_ext_d2i(re, NID_crl_reason, NULL, NULL));

	/* DER round trip, then the openssl CLI's own check. */
	assert_int_equal(pki_crl_to_der(crl, &der), 0);
	p = der.data;
	back = d2i_X509_CRL(NULL, &p, (long)der.len);
	assert_non_null(back);
	assert_int_equal(X509_CRL_cmp(back, crl), 0);
	X509_CRL_free(back);
	assert_int_equal(pki_crl_to_pem(crl, &pem), 0);
	write_file("crl.pem", pem.data, pem.len);
	write_cert("ca.pem", fx.cert);
	if (run(&out, "openssl crl -in crl.pem -CAfile ca.pem -noout") != 0 ||
	    strstr((char *)out.data, "verify OK") == NULL)
		fail_msg("openssl crl: %s", (char *)out.data);
	buf_reset(&out);
	assert_int_equal(run(&out, "openssl crl -in crl.pem -noout -text"), 0);
	assert_non_null(strstr((char *)out.data, "X509v3 CRL Number"));
	assert_non_null(
	    strstr((char *)out.data, "X509v3 Authority Key Identifier"));
	assert_non_null(strstr((char *)out.data, "Key Compromise"));
	X509_CRL_free(crl);
	crl = NULL;

	/* An empty CRL is valid; bad input is the caller's bug. */
	assert_int_equal(
	    pki_crl_build(&fx.ca, NULL, 0, 43, now, now + 60, -1, NULL, &crl), 0);
	X509_CRL_free(crl);
	crl = NULL;

	/* A delta over CRL 42, and a complete CRL naming its deltas. */
	assert_int_equal(
	    pki_crl_build(&fx.ca, rev, 1, 45, now, now + 60, 42, NULL, &crl), 0);
	num = X509_CRL_get_ext_d2i(crl, NID_delta_crl, &crit, NULL);
	assert_non_null(num);
	assert_int_equal(ASN1_INTEGER_get(num), 42);
	assert_int_equal(crit, 1);
	ASN1_INTEGER_free(num);
	assert_true(X509_CRL_get_ext_by_NID(crl, NID_freshest_crl, -1) < 0);
	X509_CRL_free(crl);
	crl = NULL;
	assert_int_equal(pki_crl_build(&fx.ca, rev, 1, 46, now, now + 60, -1,
	                     "http://localhost/crl/x-delta.crl", &crl),
	    0);
	assert_true(X509_CRL_get_ext_by_NID(crl, NID_freshest_crl, -1) >= 0);
	assert_true(X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) < 0);
	X509_CRL_free(crl);
	crl = NULL;
	/* A delta's base precedes it. */
	assert_int_equal(
	    pki_crl_build(&fx.ca, rev, 1, 46, now, now + 60, 46, NULL, &crl),
	    -FP_E_INTERNAL);
	rev[0].serial_hex = "-1A";
	assert_int_equal(pki_crl_build(&fx.ca, rev, 1, 44, now, now + 60, -1, NULL, &crl),
	    -FP_E_INTERNAL);
	rev[0].serial_hex = "XYZ";
	assert_int_equal(pki_crl_build(&fx.ca, rev, 1, 44, now, now + 60, -1, NULL, &crl),
	    -FP_E_INTERNAL);
	rev[0].serial_hex = s1;
	rev[0].reason = 7;
	assert_int_equal(pki_crl_build(&fx.ca, rev, 1, 44, now, now + 60, -1, NULL, &crl),
	    -FP_E_INTERNAL);
	assert_int_equal(
	    pki_crl_build(&fx.ca, NULL, 0, 44, now, now, -1, NULL, &crl), -FP_E_INTERNAL);
	assert_null(crl);

	buf_free(&out);
	buf_free(&pem);
	buf_free(&der);
	X509_free(x1);
	X509_free(x2);
	EVP_PKEY_free(k);
}

static void
test_reason_names(void **state)
{
	assert_int_equal(pki_reason_from_name("unspecified"), 0);
	assert_int_equal(pki_reason_from_name("keyCompromise"), 1);
	assert_int_equal(pki_reason_from_name("KEYCOMPROMISE"), 1);
	assert_int_equal(pki_reason_from_name("superseded"), 4);
	assert_int_equal(pki_reason_from_name("removeFromCRL"), 8);
	assert_int_equal(pki_reason_from_name("aACompromise"), 10);
	assert_int_equal(pki_reason_from_name("bogus"), -1);
	assert_int_equal(pki_reason_from_name(""), -1);
	assert_string_equal(pki_reason_name(5), "cessationOfOperation");
	assert_null(pki_reason_name(7));
	assert_null(pki_reason_name(11));
	assert_null(pki_reason_name(-1));
}

/* ---- sealing ------------------------------------------------------ */

static void
test_seal(void **state)
{
	unsigned char key[PKI_SEAL_KEY_LEN], other[PKI_SEAL_KEY_LEN];
	static const char secret[] = "-----BEGIN PRIVATE KEY----- not really";
	struct buf sealed = BUF_INIT, opened = BUF_INIT;
	size_t i;

	pki_random(key, sizeof(key));
	pki_random(other, sizeof(other));
	assert_int_equal(
	    pki_seal(key, "t1/ca/7", 7, (const unsigned char *)secret,
	        sizeof(secret), &sealed),
	    0);
	assert_int_equal(sealed.len, sizeof(secret) + PKI_SEAL_OVERHEAD);
	assert_null(memmem(sealed.data, sealed.len, "PRIVATE", 7));

	assert_int_equal(
	    pki_open(key, "t1/ca/7", 7, sealed.data, sealed.len, &opened), 0);
	assert_int_equal(opened.len, sizeof(secret));
	assert_memory_equal(opened.data, secret, sizeof(secret));
	buf_free_secret(&opened);

	/* Another owner, another key, or any flipped bit: nothing opens. */
	assert_int_equal(
	    pki_open(key, "t1/ca/8", 7, sealed.data, sealed.len, &opened),
	    -FP_E_INTERNAL);
	assert_int_equal(
	    pki_open(key, NULL, 0, sealed.data, sealed.len, &opened),
	    -FP_E_INTERNAL);
	assert_int_equal(
	    pki_open(other, "t1/ca/7", 7, sealed.data, sealed.len, &opened),
	    -FP_E_INTERNAL);
	for (i = 0; i < sealed.len; i += 7) {
		sealed.data[i] ^= 0x80;
		assert_int_equal(pki_open(key, "t1/ca/7", 7, sealed.data,
		                     sealed.len, &opened),
		    -FP_E_INTERNAL);
		sealed.data[i] ^= 0x80;
	}
	sealed.data[sealed.len - 1] ^= 1; /* the tag's last byte */
	assert_int_equal(
	    pki_open(key, "t1/ca/7", 7, sealed.data, sealed.len, &opened),
	    -FP_E_INTERNAL);
	sealed.data[sealed.len - 1] ^= 1;
	assert_int_equal(
	    pki_open(key, "t1/ca/7", 7, sealed.data, sealed.len - 1, &opened),
	    -FP_E_INTERNAL);
	assert_int_equal(pki_open(key, "t1/ca/7", 7, sealed.data, 27, &opened),
	    -FP_E_INTERNAL);
	assert_int_equal(opened.len, 0);

	/* Two seals of one plaintext differ (fresh nonce); empty is fine. */
	buf_reset(&opened);
	assert_int_equal(pki_seal(key, "a", 1, (const unsigned char *)secret,
	                     sizeof(secret), &opened),
	    0);
	assert_memory_not_equal(opened.data, sealed.data, sealed.len);
	buf_free(&sealed);
	buf_free(&opened);
	assert_int_equal(pki_seal(key, NULL, 0, NULL, 0, &sealed), 0);
	assert_int_equal(sealed.len, PKI_SEAL_OVERHEAD);
	assert_int_equal(
	    pki_open(key, NULL, 0, sealed.data, sealed.len, &opened), 0);
	assert_int_equal(opened.len, 0);
	buf_free(&sealed);
	buf_free(&opened);
	OPENSSL_cleanse(key, sizeof(key));
}

/*
 * The signer's prepared contexts: only the key's own digest (by any of
 * its names) of exactly its size is signed, and one context signs again
 * and again, each signature valid (ECDSA: each with a fresh nonce).
 */
static void
test_sign_prepared(void **state)
{
	static const char *const algs[] = { "ec-p256", "ec-p384", "rsa-2048" };
	static const char *const mds[] = { "SHA256", "SHA384", "sha256" };
	unsigned char dg[64], sig[2][1024];
	size_t siglen[2], i, n;
	struct fp_status st = { FP_E_OK, "" };
	struct pki_signing sg;
	EVP_PKEY_CTX *vctx;
	EVP_PKEY *key;

	(void)state;
	memset(dg, 0x5a, sizeof(dg));
	for (i = 0; i < FP_ARRAY_LEN(algs); i++) {
		size_t dlen = i == 1 ? 48 : 32;

		assert_int_equal(pki_key_generate(algs[i], &key, &st), 0);
		assert_int_equal(pki_sign_prepare(key, &sg), 0);
		siglen[0] = sizeof(sig[0]);
		assert_int_equal(pki_sign_prepared(&sg, i == 1 ? "SHA256" : "SHA384",
		                     dg, dlen, sig[0], &siglen[0]),
		    -FP_E_BADREQ);
		assert_int_equal(pki_sign_prepared(&sg, mds[i], dg, dlen - 1,
		                     sig[0], &siglen[0]),
		    -FP_E_BADREQ);
		assert_int_equal(pki_sign_prepared(&sg, "no-such-digest", dg,
		                     dlen, sig[0], &siglen[0]),
		    -FP_E_BADREQ);
		for (n = 0; n < 2; n++) {
			siglen[n] = sizeof(sig[n]);
			assert_int_equal(pki_sign_prepared(&sg,
			                     n == 0 && i != 1 ? "SHA2-256" : mds[i],
			                     dg, dlen, sig[n], &siglen[n]),
			    0);
			assert_non_null(
			    vctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL));
			assert_int_equal(EVP_PKEY_verify_init(vctx), 1);
			assert_int_equal(EVP_PKEY_CTX_set_signature_md(vctx,
			                     EVP_get_digestbyname(mds[i])),
			    1);
			assert_int_equal(EVP_PKEY_verify(vctx, sig[n], siglen[n],
			                     dg, dlen),
			    1);
			EVP_PKEY_CTX_free(vctx);
		}
		if (i != 2) /* ECDSA: a fresh nonce each time */
			assert_false(siglen[0] == siglen[1] &&
			    memcmp(sig[0], sig[1], siglen[0]) == 0);
		pki_sign_release(&sg);
		EVP_PKEY_free(key);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_generate),
		cmocka_unit_test(test_key_policy_rsa),
		cmocka_unit_test(test_key_policy_ec),
		cmocka_unit_test(test_csr_tamper),
		cmocka_unit_test(test_csr_pem_envelope),
		cmocka_unit_test(test_csr_duplicate_ext),
		cmocka_unit_test(test_csr_cn_only),
		cmocka_unit_test(test_csr_key_forms),
		cmocka_unit_test(test_ca_create),
		cmocka_unit_test(test_issue_profile_only),
		cmocka_unit_test(test_issue_serial),
		cmocka_unit_test(test_sign_prepared),
		cmocka_unit_test(test_issue_validity),
		cmocka_unit_test(test_issue_openssl_verify),
		cmocka_unit_test(test_issue_bad_profile),
		cmocka_unit_test(test_san_duplicates),
		cmocka_unit_test(test_cert_codec),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_digest_hmac),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_crl),
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_seal),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
