/*
 * test_signer: the signer's wire format (every malformed, oversize,
 * wrong-version and truncated frame refused, nothing read past what was
 * given), the remote key of pki/remote.c (certificates, CRLs and OCSP
 * responses built by OpenSSL's ordinary calls, signed by a callback that
 * stands in for the signer process, and verified with the CA's public
 * key), and the local signer's sealing.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "fleetpki/buf.h"
#include "fleetpki/config.h"
#include "fleetpki/error.h"
#include "fleetpki/pki.h"
#include "fleetpki/signer.h"
#include "fleetpki/store.h"

/* ---- framing -------------------------------------------------------- */

static void
good_hdr(unsigned char out[SIGNER_HDR_LEN])
{
	struct signer_hdr h = { SIGNER_VERSION, SIGNER_OP_SIGN, 77, 0, 40 };

	signer_hdr_encode(&h, out);
}

static void
test_hdr_roundtrip(void **state)
{
	unsigned char b[SIGNER_HDR_LEN];
	struct signer_hdr h;
	const char *why = NULL;

	(void)state;
	good_hdr(b);
	assert_int_equal(signer_hdr_decode(b, sizeof(b), &h, &why), 0);
	assert_int_equal(h.op, SIGNER_OP_SIGN);
	assert_int_equal(h.id, 77);
	assert_int_equal(h.len, 40);
	assert_int_equal(h.status, 0);
	/* A reply's op keeps its bit. */
	h.op = SIGNER_OP_UNSEAL | SIGNER_OP_REPLY;
	h.status = SIGNER_ST_NOKEY;
	signer_hdr_encode(&h, b);
	assert_int_equal(signer_hdr_decode(b, sizeof(b), &h, &why), 0);
	assert_int_equal(h.op, SIGNER_OP_UNSEAL | SIGNER_OP_REPLY);
	assert_int_equal(h.status, SIGNER_ST_NOKEY);
}

static void
expect_bad_hdr(const unsigned char *b, size_t len, const char *reason)
{
	struct signer_hdr h;
	const char *why = NULL;

	assert_int_equal(signer_hdr_decode(b, len, &h, &why), -FP_E_BADREQ);
	assert_non_null(why);
	assert_string_equal(why, reason);
}

static void
test_hdr_refused(void **state)
{
	unsigned char b[SIGNER_HDR_LEN];
	size_t n;

	(void)state;
	/* Truncated: every length short of a header. */
	good_hdr(b);
	for (n = 0; n < SIGNER_HDR_LEN; n++)
		expect_bad_hdr(b, n, "truncated header");
	good_hdr(b);
	b[0] ^= 0x20;
	expect_bad_hdr(b, sizeof(b), "bad magic");
	good_hdr(b);
	b[5] = 2; /* version 2 */
	expect_bad_hdr(b, sizeof(b), "unsupported version");
	good_hdr(b);
	b[4] = 1; /* version 257 */
	expect_bad_hdr(b, sizeof(b), "unsupported version");
	good_hdr(b);
	b[7] = 9; /* op 9 */
	expect_bad_hdr(b, sizeof(b), "unknown op");
	good_hdr(b);
	b[7] = 0; /* op 0 */
	expect_bad_hdr(b, sizeof(b), "unknown op");
	good_hdr(b);
	b[15] = 1;
	expect_bad_hdr(b, sizeof(b), "reserved bits set");
	/* Oversize: one byte past the limit, and the largest u32. */
	good_hdr(b);
	b[16] = 0;
	b[17] = 0;
	b[18] = (SIGNER_BODY_MAX + 1) >> 8;
	b[19] = (SIGNER_BODY_MAX + 1) & 0xff;
	expect_bad_hdr(b, sizeof(b), "oversize body");
	memset(b + 16, 0xff, 4);
	expect_bad_hdr(b, sizeof(b), "oversize body");
	/* The limit itself is fine. */
	b[16] = 0;
	b[17] = 0;
	b[18] = SIGNER_BODY_MAX >> 8;
	b[19] = SIGNER_BODY_MAX & 0xff;
	{
		struct signer_hdr h;

		assert_int_equal(signer_hdr_decode(b, sizeof(b), &h, NULL), 0);
		assert_int_equal(h.len, SIGNER_BODY_MAX);
	}
}

static void
sign_req(struct signer_sign_req *r, struct buf *out)
{
	memset(r, 0, sizeof(*r));
	r->tenant_id = 3;
	r->ca_id = 0x0102030405060708LL;
	snprintf(r->kind, sizeof(r->kind), "certificate");
	snprintf(r->md, sizeof(r->md), "SHA2-256");
	memset(r->dg, 0xab, 32);
	r->dlen = 32;
	assert_int_equal(signer_sign_req_encode(r, out), 0);
}

static void
test_sign_req(void **state)
{
	struct signer_sign_req r, d;
	struct buf b = BUF_INIT, bad = BUF_INIT;
	const char *why = NULL;
	size_t n;

	(void)state;
	sign_req(&r, &b);
	assert_int_equal(b.len, 20 + 11 + 8 + 32);
	assert_int_equal(signer_sign_req_decode(b.data, b.len, &d, &why), 0);
	assert_int_equal(d.tenant_id, 3);
	assert_int_equal(d.ca_id, 0x0102030405060708LL);
	assert_string_equal(d.kind, "certificate");
	assert_string_equal(d.md, "SHA2-256");
	assert_int_equal(d.dlen, 32);
	assert_memory_equal(d.dg, r.dg, 32);

	/* Truncated at every length, and one byte too many. */
	for (n = 0; n < b.len; n++)
		assert_int_equal(signer_sign_req_decode(b.data, n, &d, &why),
		    -FP_E_BADREQ);
	buf_append(&bad, b.data, b.len);
	buf_append(&bad, "x", 1);
	assert_int_equal(signer_sign_req_decode(bad.data, bad.len, &d, &why),
	    -FP_E_BADREQ);
	assert_string_equal(why, "lengths do not add up");

	/* Each length field out of range. */
	memcpy(bad.data, b.data, b.len);
	bad.data[16] = 0;
	assert_int_equal(signer_sign_req_decode(bad.data, b.len, &d, &why),
	    -FP_E_BADREQ);
	memcpy(bad.data, b.data, b.len);
	bad.data[17] = SIGNER_NAME_MAX + 1;
	assert_int_equal(signer_sign_req_decode(bad.data, b.len, &d, &why),
	    -FP_E_BADREQ);
	memcpy(bad.data, b.data, b.len);
	bad.data[18] = SIGNER_DIGEST_MAX + 1;
	assert_int_equal(signer_sign_req_decode(bad.data, b.len, &d, &why),
	    -FP_E_BADREQ);
	memcpy(bad.data, b.data, b.len);
	bad.data[19] = 1;
	assert_int_equal(signer_sign_req_decode(bad.data, b.len, &d, &why),
	    -FP_E_BADREQ);
	assert_string_equal(why, "reserved bits set");
	/* A NUL or control byte in a name. */
	memcpy(bad.data, b.data, b.len);
	bad.data[22] = '\0';
	assert_int_equal(signer_sign_req_decode(bad.data, b.len, &d, &why),
	    -FP_E_BADREQ);
	assert_string_equal(why, "names must be printable");
	/* Key ids that no row has. */
	memcpy(bad.data, b.data, b.len);
	memset(bad.data, 0xff, 8); /* tenant -1 */
	assert_int_equal(signer_sign_req_decode(bad.data, b.len, &d, &why),
	    -FP_E_BADREQ);
	memcpy(bad.data, b.data, b.len);
	memset(bad.data + 8, 0, 8); /* CA 0 */
	assert_int_equal(signer_sign_req_decode(bad.data, b.len, &d, &why),
	    -FP_E_BADREQ);
	assert_string_equal(why, "key id out of range");

	/* The token signing key: neither id, and a "jwt:" kind only. */
	{
		struct signer_sign_req t = r;

		t.tenant_id = 0;
		t.ca_id = 0;
		snprintf(t.kind, sizeof(t.kind), "jwt:0123abcd");
		buf_reset(&bad);
		assert_int_equal(signer_sign_req_encode(&t, &bad), 0);
		assert_int_equal(signer_sign_req_decode(bad.data, bad.len, &d,
		                     &why),
		    0);
		assert_string_equal(d.kind, "jwt:0123abcd");
		snprintf(t.kind, sizeof(t.kind), "certificate");
		buf_reset(&bad);
		assert_int_equal(signer_sign_req_encode(&t, &bad), 0);
		assert_int_equal(signer_sign_req_decode(bad.data, bad.len, &d,
		                     &why),
		    -FP_E_BADREQ);
		assert_string_equal(why, "key id out of range");
		/* One id without the other is no token key either. */
		snprintf(t.kind, sizeof(t.kind), "jwt:0123abcd");
		t.ca_id = 7;
		buf_reset(&bad);
		assert_int_equal(signer_sign_req_encode(&t, &bad), 0);
		assert_int_equal(signer_sign_req_decode(bad.data, bad.len, &d,
		                     &why),
		    -FP_E_BADREQ);
	}

	/* The encoder refuses what the decoder would. */
	r.dlen = SIGNER_DIGEST_MAX + 1;
	assert_int_not_equal(signer_sign_req_encode(&r, &bad), 0);
	buf_free(&b);
	buf_free(&bad);
}

static void
test_blob_req(void **state)
{
	static const unsigned char key[] = "not really a key";
	struct signer_blob_req r = { "cert:1:2:AB", 11, key, sizeof(key) };
	struct signer_blob_req d;
	struct buf b = BUF_INIT, big = BUF_INIT;
	unsigned char *bad;
	const char *why = NULL;
	size_t n;

	(void)state;
	assert_int_equal(signer_blob_req_encode(&r, &b), 0);
	assert_int_equal(signer_blob_req_decode(b.data, b.len, &d, &why), 0);
	assert_int_equal(d.aadlen, 11);
	assert_memory_equal(d.aad, "cert:1:2:AB", 11);
	assert_int_equal(d.len, sizeof(key));
	assert_memory_equal(d.data, key, sizeof(key));
	for (n = 0; n < b.len; n++)
		assert_int_equal(signer_blob_req_decode(b.data, n, &d, &why),
		    -FP_E_BADREQ);

	bad = malloc(b.len);
	memcpy(bad, b.data, b.len);
	bad[0] = 0;
	bad[1] = 0; /* no AAD */
	assert_int_equal(signer_blob_req_decode(bad, b.len, &d, &why),
	    -FP_E_BADREQ);
	assert_string_equal(why, "AAD length out of range");
	memcpy(bad, b.data, b.len);
	bad[0] = (SIGNER_AAD_MAX + 1) >> 8;
	bad[1] = (SIGNER_AAD_MAX + 1) & 0xff;
	assert_int_equal(signer_blob_req_decode(bad, b.len, &d, &why),
	    -FP_E_BADREQ);
	/* A data length that claims more than is there, or 4 GiB. */
	memcpy(bad, b.data, b.len);
	bad[5]++;
	assert_int_equal(signer_blob_req_decode(bad, b.len, &d, &why),
	    -FP_E_BADREQ);
	assert_string_equal(why, "lengths do not add up");
	memcpy(bad, b.data, b.len);
	memset(bad + 2, 0xff, 4);
	assert_int_equal(signer_blob_req_decode(bad, b.len, &d, &why),
	    -FP_E_BADREQ);
	memcpy(bad, b.data, b.len);
	bad[6 + 4] = '\n';
	assert_int_equal(signer_blob_req_decode(bad, b.len, &d, &why),
	    -FP_E_BADREQ);
	assert_string_equal(why, "AAD must be printable");
	free(bad);

	/* A body over the limit is never encoded. */
	r.len = SIGNER_BODY_MAX;
	assert_int_not_equal(signer_blob_req_encode(&r, &big), 0);
	buf_free(&b);
	buf_free(&big);
}

/* ---- the remote key ------------------------------------------------- */

/* The stand-in signer: a real key, and what it was asked. */
static struct {
	EVP_PKEY *key;
	char kinds[128];
	int64_t tenant_id, ca_id;
	int fail;
	int calls;
} rs;

static int
stand_in_sign(void *arg, const struct pki_remote_ref *ref, const char *kind,
    const char *md, const unsigned char *dg, size_t dlen, unsigned char *sig,
    size_t *siglen)
{
	assert_ptr_equal(arg, &rs);
	rs.calls++;
	rs.tenant_id = ref->tenant_id;
	rs.ca_id = ref->ca_id;
	strncat(rs.kinds, kind, sizeof(rs.kinds) - strlen(rs.kinds) - 2);
	strcat(rs.kinds, ",");
	if (rs.fail)
		return -FP_E_UNAVAILABLE;
	return pki_sign_digest(rs.key, md, dg, dlen, sig, siglen);
}

static void
remote_roundtrip(const char *alg)
{
	struct pki_remote_ref ref = { stand_in_sign, &rs, 5, 9, "" };
	struct fp_status st = { 0 };
	struct pki_profile prof;
	struct pki_ca ca;
	struct pki_revoked rev = { "0A0B0C", 1700000000, 1 };
	EVP_PKEY *remote = NULL, *leafkey = NULL;
	X509 *cacert = NULL, *leaf = NULL;
	X509_CRL *crl = NULL;
	OCSP_REQUEST *oreq = NULL;
	OCSP_RESPONSE *oresp = NULL;
	OCSP_BASICRESP *bs = NULL;
	OCSP_CERTID *id = NULL;
	X509_STORE *store = NULL;
	STACK_OF(X509) *certs = NULL;
	struct pki_ocsp_req *preq = NULL;
	struct pki_ocsp_answer ans = { PKI_OCSP_GOOD, 0, -1 };
	struct buf der = BUF_INIT;
	unsigned char *p = NULL;
	const unsigned char *cp;
	int len;

	memset(&rs, 0, sizeof(rs));
	assert_int_equal(pki_ca_create(alg, "remote test CA", "fleetpki", 30,
	                     &rs.key, &cacert, &st),
	    0);
	assert_int_equal(pki_key_remote(X509_get0_pubkey(cacert), &ref,
	                     &remote),
	    0);
	/* OpenSSL sees the CA's key in it (what OCSP signing checks). */
	assert_int_equal(X509_check_private_key(cacert, remote), 1);
	ca.cert = cacert;
	ca.key = remote;

	memset(&prof, 0, sizeof(prof));
	prof.subject.cn = "leaf";
	prof.eku = PKI_EKU_CLIENT;
	prof.days = 7;
	assert_int_equal(pki_key_generate("ec-p256", &leafkey, &st), 0);
	assert_int_equal(pki_issue(&ca, leafkey, &prof, &leaf, &st), 0);
	assert_int_equal(X509_verify(leaf, X509_get0_pubkey(cacert)), 1);
	assert_int_equal(X509_get_signature_nid(leaf),
	    X509_get_signature_nid(cacert));

	assert_int_equal(pki_crl_build(&ca, &rev, 1, 4, 1700000000, 1700086400, -1, NULL,
	                     &crl),
	    0);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(cacert)), 1);

	/* OCSP: a request for the leaf, answered and verified. */
	assert_non_null(oreq = OCSP_REQUEST_new());
	assert_non_null(id = OCSP_cert_to_id(NULL, leaf, cacert));
	assert_non_null(OCSP_request_add0_id(oreq, id));
	assert_true((len = i2d_OCSP_REQUEST(oreq, &p)) > 0);
	assert_int_equal(pki_ocsp_req_parse(p, (size_t)len, &preq), 0);
	assert_int_equal(pki_ocsp_respond(&ca, preq, &ans, 1700000000,
	                     1700003600, &der),
	    0);
	cp = der.data;
	assert_non_null(oresp = d2i_OCSP_RESPONSE(NULL, &cp, (long)der.len));
	assert_non_null(bs = OCSP_response_get1_basic(oresp));
	assert_non_null(store = X509_STORE_new());
	assert_int_equal(X509_STORE_add_cert(store, cacert), 1);
	assert_non_null(certs = sk_X509_new_null());
	assert_true(sk_X509_push(certs, cacert) > 0);
	assert_int_equal(OCSP_basic_verify(bs, certs, store, 0), 1);

	/* One call per artefact, each named, each with the key's ids. */
	assert_int_equal(rs.calls, 3);
	assert_string_equal(rs.kinds, "certificate,crl,ocsp,");
	assert_int_equal(rs.tenant_id, 5);
	assert_int_equal(rs.ca_id, 9);

	/* A signer that fails: no artefact, no crash. */
	rs.fail = 1;
	X509_free(leaf);
	leaf = NULL;
	assert_int_not_equal(pki_issue(&ca, leafkey, &prof, &leaf, &st), 0);
	assert_null(leaf);

	sk_X509_free(certs);
	X509_STORE_free(store);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(oresp);
	pki_ocsp_req_free(preq);
	OCSP_REQUEST_free(oreq);
	OPENSSL_free(p);
	buf_free(&der);
	X509_CRL_free(crl);
	X509_free(leaf);
	X509_free(cacert);
	EVP_PKEY_free(leafkey);
	EVP_PKEY_free(remote);
	EVP_PKEY_free(rs.key);
}

static void
test_remote_key_ec(void **state)
{
	(void)state;
	remote_roundtrip("ec-p256");
	remote_roundtrip("ec-p384");
}

static void
test_remote_key_rsa(void **state)
{
	(void)state;
	remote_roundtrip("rsa-2048");
}

static void
test_sign_digest_refuses(void **state)
{
	struct fp_status st = { 0 };
	unsigned char dg[64] = { 1 }, sig[512];
	size_t siglen = sizeof(sig);
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;

	(void)state;
	assert_int_equal(pki_ca_create("ec-p256", "d", NULL, 1, &key, &cert,
	                     &st),
	    0);
	/* Another digest than the key's, or another length. */
	assert_int_equal(pki_sign_digest(key, "SHA2-512", dg, 64, sig, &siglen),
	    -FP_E_BADREQ);
	assert_int_equal(pki_sign_digest(key, "SHA2-256", dg, 31, sig, &siglen),
	    -FP_E_BADREQ);
	assert_int_equal(pki_sign_digest(key, "SHA2-256", dg, 32, sig, &siglen),
	    0);
	assert_true(siglen > 0);
	EVP_PKEY_free(key);
	X509_free(cert);
}

/* ---- the local signer ----------------------------------------------- */

static void
test_local_signer(void **state)
{
	unsigned char mk[PKI_SEAL_KEY_LEN];
	struct fp_status st = { 0 };
	struct ca_rec rec = { 0 };
	struct buf sealed = BUF_INIT, opened = BUF_INIT, der = BUF_INIT;
	struct signer *s;
	EVP_PKEY *key = NULL, *got = NULL;
	X509 *cert = NULL;
	char *aad;

	(void)state;
	memset(mk, 7, sizeof(mk));
	s = signer_local_new(mk);
	assert_false(signer_is_remote(s));
	assert_int_equal(signer_seal(s, "cert:1:2:AA",
	                     (const unsigned char *)"secret", 6, &sealed),
	    0);
	assert_int_equal(signer_unseal(s, "cert:1:2:AA", sealed.data,
	                     sealed.len, &opened),
	    0);
	assert_int_equal(opened.len, 6);
	assert_memory_equal(opened.data, "secret", 6);
	buf_free_secret(&opened);
	assert_int_not_equal(signer_unseal(s, "cert:1:2:AB", sealed.data,
	                         sealed.len, &opened),
	    0);

	/* A CA row as the store returns it: the key opens and matches. */
	assert_int_equal(pki_ca_create("ec-p256", "l", NULL, 1, &key, &cert,
	                     &st),
	    0);
	rec.id = 4;
	rec.tenant_id = 2;
	snprintf(rec.public_id, sizeof(rec.public_id), "00ff");
	assert_int_equal(pki_key_to_der(key, &der), 0);
	aad = signer_ca_aad(2, "00ff");
	assert_string_equal(aad, "ca:2:00ff");
	assert_int_equal(signer_seal(s, aad, der.data, der.len,
	                     &rec.key_sealed),
	    0);
	assert_int_equal(signer_ca_key(s, &rec, cert, &got), 0);
	assert_int_equal(EVP_PKEY_eq(got, key), 1);
	EVP_PKEY_free(got);
	/* Sealed for another row: refused. */
	rec.tenant_id = 3;
	assert_int_not_equal(signer_ca_key(s, &rec, cert, &got), 0);
	assert_null(got);
	/* No signer at all: an internal error, not a crash. */
	assert_int_equal(signer_seal(NULL, aad, der.data, der.len, &sealed),
	    -FP_E_INTERNAL);

	free(aad);
	buf_free_secret(&der);
	buf_free(&sealed);
	buf_free(&rec.key_sealed);
	EVP_PKEY_free(key);
	X509_free(cert);
	signer_free(s);
}

/* ---- the server loop ------------------------------------------------ */

/*
 * The client half, run in a child that is the signer's sibling (the
 * signer serves only its parent's children).  Returns the number of the
 * first check that failed, 0 when all held.
 */
static int
cs_connect(const struct signer_addr *a)
{
	struct timeval tv = { 5, 0 };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(fd, (const struct sockaddr *)&a->sun, a->len) != 0)
		return -1;
	return fd;
}

/* 1 when the server closed the connection (EOF), 0 when it answered. */
static int
cs_closed(int fd)
{
	unsigned char b[64];

	return recv(fd, b, sizeof(b), 0) == 0;
}

/* One request; the reply's status, or -1 on a transport failure. */
static int
cs_call(int fd, uint16_t op, const struct buf *body, struct buf *reply)
{
	struct signer_hdr h = { SIGNER_VERSION, op, 42, 0, 0 }, rh;
	unsigned char hdr[SIGNER_HDR_LEN], tmp[SIGNER_BODY_MAX];
	ssize_t n;
	size_t got = 0;

	h.len = (uint32_t)body->len;
	signer_hdr_encode(&h, hdr);
	if (send(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
	    (body->len > 0 &&
	        send(fd, body->data, body->len, 0) != (ssize_t)body->len))
		return -1;
	while (got < SIGNER_HDR_LEN) {
		if ((n = recv(fd, hdr + got, SIGNER_HDR_LEN - got, 0)) <= 0)
			return -1;
		got += (size_t)n;
	}
	if (signer_hdr_decode(hdr, sizeof(hdr), &rh, NULL) != 0 ||
	    rh.op != (op | SIGNER_OP_REPLY) || rh.id != 42)
		return -1;
	for (got = 0; got < rh.len; got += (size_t)n)
		if ((n = recv(fd, tmp + got, rh.len - got, 0)) <= 0)
			return -1;
	buf_reset(reply);
	buf_append(reply, tmp, rh.len);
	return rh.status;
}

static int
server_client(const struct signer_addr *a)
{
	unsigned char hdr[SIGNER_HDR_LEN];
	struct signer_hdr h = { SIGNER_VERSION, SIGNER_OP_SEAL, 1, 0, 0 };
	struct signer_blob_req br = { "cert:1:2:AB", 11,
		(const unsigned char *)"pt", 2 };
	struct signer_sign_req sr;
	struct buf body = BUF_INIT, reply = BUF_INIT, sealed = BUF_INIT;
	int fd, check = 0;

	/* 1-2: a wrong magic, then a good request on a new connection. */
	check++;
	if ((fd = cs_connect(a)) < 0 ||
	    send(fd, "GET / HTTP/1.0\r\n\r\n\0\0\0", 20, 0) != 20 ||
	    !cs_closed(fd))
		return check;
	close(fd);
	check++;
	if ((fd = cs_connect(a)) < 0 ||
	    signer_blob_req_encode(&br, &body) != 0 ||
	    cs_call(fd, SIGNER_OP_SEAL, &body, &sealed) != SIGNER_ST_OK ||
	    sealed.len != 2 + PKI_SEAL_OVERHEAD)
		return check;
	/* 3: the same connection unseals it (and only with its AAD). */
	check++;
	buf_reset(&body);
	br.data = sealed.data;
	br.len = sealed.len;
	if (signer_blob_req_encode(&br, &body) != 0 ||
	    cs_call(fd, SIGNER_OP_UNSEAL, &body, &reply) != SIGNER_ST_OK ||
	    reply.len != 2 || memcmp(reply.data, "pt", 2) != 0)
		return check;
	/* 4: a CA's AAD is refused, and the connection stays usable. */
	check++;
	buf_reset(&body);
	br.aad = "ca:1:00ff";
	br.aadlen = 9;
	if (signer_blob_req_encode(&br, &body) != 0 ||
	    cs_call(fd, SIGNER_OP_UNSEAL, &body, &reply) != SIGNER_ST_REFUSED)
		return check;
	/* 5: a body that does not decode: answered MALFORMED. */
	check++;
	buf_reset(&body);
	buf_append(&body, "\0\0\0\0\0\0", 6);
	if (cs_call(fd, SIGNER_OP_SEAL, &body, &reply) != SIGNER_ST_MALFORMED)
		return check;
	/* 6: a sign request while the store is down: UNAVAILABLE. */
	check++;
	memset(&sr, 0, sizeof(sr));
	sr.tenant_id = 1;
	sr.ca_id = 1;
	snprintf(sr.kind, sizeof(sr.kind), "certificate");
	snprintf(sr.md, sizeof(sr.md), "SHA2-256");
	sr.dlen = 32;
	buf_reset(&body);
	if (signer_sign_req_encode(&sr, &body) != 0 ||
	    cs_call(fd, SIGNER_OP_SIGN, &body, &reply) != SIGNER_ST_UNAVAILABLE)
		return check;
	close(fd);
	/* 7: version 2: the connection is closed. */
	check++;
	h.version = 2;
	signer_hdr_encode(&h, hdr);
	hdr[5] = 2;
	if ((fd = cs_connect(a)) < 0 || send(fd, hdr, sizeof(hdr), 0) != 20 ||
	    !cs_closed(fd))
		return check;
	close(fd);
	/* 8: oversize: closed before any body is read. */
	check++;
	h.version = SIGNER_VERSION;
	h.len = SIGNER_BODY_MAX + 1;
	signer_hdr_encode(&h, hdr);
	if ((fd = cs_connect(a)) < 0 || send(fd, hdr, sizeof(hdr), 0) != 20 ||
	    !cs_closed(fd))
		return check;
	close(fd);
	/* 9: a reply sent as a request: closed. */
	check++;
	h.len = 0;
	h.op = SIGNER_OP_SEAL | SIGNER_OP_REPLY;
	signer_hdr_encode(&h, hdr);
	if ((fd = cs_connect(a)) < 0 || send(fd, hdr, sizeof(hdr), 0) != 20 ||
	    !cs_closed(fd))
		return check;
	close(fd);
	/* 10: truncated: half a header, then the client goes away. */
	check++;
	if ((fd = cs_connect(a)) < 0 || send(fd, hdr, 7, 0) != 7)
		return check;
	close(fd);
	/* 11: after all that, the server still answers. */
	check++;
	buf_reset(&body);
	br.aad = "cert:9:9:CD";
	br.aadlen = 11;
	br.data = (const unsigned char *)"x";
	br.len = 1;
	if ((fd = cs_connect(a)) < 0 ||
	    signer_blob_req_encode(&br, &body) != 0 ||
	    cs_call(fd, SIGNER_OP_SEAL, &body, &reply) != SIGNER_ST_OK)
		return check;
	close(fd);
	buf_free(&body);
	buf_free(&reply);
	buf_free(&sealed);
	return 0;
}

static void
test_server_refuses_bad_frames(void **state)
{
	struct signer_addr addr;
	struct config cfg;
	pid_t server, client;
	int lfd, status;

	(void)state;
	config_defaults(&cfg);
	memset(cfg.master_key, 3, sizeof(cfg.master_key));
	free(cfg.database_url);
	/* Nothing listens there: the store is down. */
	cfg.database_url = strdup("host=127.0.0.1 port=1 connect_timeout=1");
	cfg.db_connect_timeout = 1;
	lfd = signer_listen(&addr);
	if ((server = fork()) == 0)
		signer_serve(&cfg, lfd);
	assert_true(server > 0);
	close(lfd);
	if ((client = fork()) == 0)
		_exit(server_client(&addr));
	assert_true(client > 0);
	assert_int_equal(waitpid(client, &status, 0), client);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0); /* else: the failed check */
	/* It stops on SIGTERM, cleanly: it never crashed on the way. */
	kill(server, SIGTERM);
	assert_int_equal(waitpid(server, &status, 0), server);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	config_free(&cfg);
}

/*
 * What a worker may ask of the signer: certificates' keys both ways,
 * device root secrets unsealed only, never a CA or token key.
 */
static void
test_aad_policy(void **state)
{
	(void)state;
	assert_true(signer_aad_allowed(SIGNER_OP_SEAL, "cert:1:2:AB"));
	assert_true(signer_aad_allowed(SIGNER_OP_UNSEAL, "cert:1:2:AB"));
	assert_true(
	    signer_aad_allowed(SIGNER_OP_UNSEAL, "device:1:0000200456789544"));
	assert_false(
	    signer_aad_allowed(SIGNER_OP_SEAL, "device:1:0000200456789544"));
	assert_false(signer_aad_allowed(SIGNER_OP_UNSEAL, "ca:1:abc"));
	assert_false(signer_aad_allowed(SIGNER_OP_SEAL, "ca:1:abc"));
	assert_false(signer_aad_allowed(SIGNER_OP_UNSEAL, "jwt:kid"));
	assert_false(signer_aad_allowed(SIGNER_OP_UNSEAL, "devic:1:x"));
	assert_false(signer_aad_allowed(SIGNER_OP_UNSEAL, ""));
	assert_false(signer_aad_allowed(SIGNER_OP_SIGN, "cert:1:2:AB"));
	assert_true(signer_aad_allowed(SIGNER_OP_SEAL, "webhook:1:ab:token"));
	assert_false(signer_aad_allowed(SIGNER_OP_UNSEAL, "webhook:1:ab:token"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aad_policy),
		cmocka_unit_test(test_hdr_roundtrip),
		cmocka_unit_test(test_hdr_refused),
		cmocka_unit_test(test_sign_req),
		cmocka_unit_test(test_blob_req),
		cmocka_unit_test(test_remote_key_ec),
		cmocka_unit_test(test_remote_key_rsa),
		cmocka_unit_test(test_sign_digest_refuses),
		cmocka_unit_test(test_local_signer),
		cmocka_unit_test(test_server_refuses_bad_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
