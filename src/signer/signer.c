/*
 * signer/signer: the signing interface, local and remote (signer.h).
 *
 * The remote side keeps one connection to the signer process, opened at
 * first use, and sends one request at a time: a worker serves one HTTP
 * request at a time, so nothing is gained by pipelining, and a strict
 * request/reply pairing (the reply must carry the request's op and id)
 * is easy to check.  Every send and receive is bounded by
 * SIGNER_TIMEOUT_MS (SO_SNDTIMEO/SO_RCVTIMEO on the socket), so a
 * stopped or dead signer costs a request that long at most and answers
 * 503 — never a hang.  A connection that fails before any byte of the
 * reply arrived, after having worked before, is tried once more on a
 * fresh one: that is the signer having been restarted since.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "fleetpki/config.h"
#include "fleetpki/log.h"
#include "fleetpki/pki.h"
#include "fleetpki/signer.h"
#include "fleetpki/store.h"
#include "fleetpki/util.h"

struct signer {
	int remote;
	/* local */
	unsigned char master_key[PKI_SEAL_KEY_LEN];
	/* remote */
	struct signer_addr addr;
	int fd;
	int used; /* the connection has carried a reply */
	uint32_t next_id;
	int last_err; /* of the last failed remote signature, for signer_why */
};

struct signer *
signer_local_new(const unsigned char *master_key)
{
	struct signer *s = xcalloc(1, sizeof(*s));

	memcpy(s->master_key, master_key, PKI_SEAL_KEY_LEN);
	s->fd = -1;
	return s;
}

struct signer *
signer_remote_new(const struct signer_addr *addr)
{
	struct signer *s = xcalloc(1, sizeof(*s));

	s->remote = 1;
	s->addr = *addr;
	s->fd = -1;
	return s;
}

void
signer_free(struct signer *s)
{
	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

int
signer_is_remote(const struct signer *s)
{
	return s->remote;
}

char *
signer_ca_aad(int64_t tenant_id, const char *public_id)
{
	return xasprintf("ca:%" PRId64 ":%s", tenant_id, public_id);
}

int
signer_why(struct signer *s, int rc)
{
	if (s != NULL && s->last_err != 0) {
		rc = s->last_err;
		s->last_err = 0;
	}
	return rc;
}

/* ---- remote: one request, one reply ---------------------------------- */

static void
conn_close(struct signer *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->used = 0;
}

static int
conn_open(struct signer *s)
{
	struct timeval tv = { SIGNER_TIMEOUT_MS / 1000,
		(SIGNER_TIMEOUT_MS % 1000) * 1000 };
	int fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		log_err("signer socket: %s", strerror(errno));
		return -FP_E_UNAVAILABLE;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(fd, (const struct sockaddr *)&s->addr.sun, s->addr.len) !=
	        0) {
		log_err("signer connect: %s", strerror(errno));
		close(fd);
		return -FP_E_UNAVAILABLE;
	}
	s->fd = fd;
	s->used = 0;
	return 0;
}

static int
write_all(int fd, const unsigned char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Into 'p' (room for 'cap'), which holds '*got' bytes, until it holds
 * 'min' at least: a whole reply usually comes in one recv.
 */
static int
read_min(int fd, unsigned char *p, size_t min, size_t cap, size_t *got)
{
	ssize_t n;

	while (*got < min) {
		if ((n = recv(fd, p + *got, cap - *got, 0)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		*got += (size_t)n;
	}
	return 0;
}

/* Map a reply status to our error codes. */
static int
status_rc(uint16_t st)
{
	switch (st) {
	case SIGNER_ST_OK:
		return 0;
	case SIGNER_ST_NOKEY:
		return -FP_E_NOTFOUND;
	case SIGNER_ST_UNAVAILABLE:
		return -FP_E_UNAVAILABLE;
	default:
		return -FP_E_INTERNAL;
	}
}

/*
 * One try: 1 when it failed in a way a fresh connection may fix (a
 * reused connection that broke before any reply byte), else 0 or a
 * negative fp_err.
 */
static int
call_once(struct signer *s, const struct signer_hdr *req,
    const struct buf *body, struct buf *reply)
{
	unsigned char in[SIGNER_HDR_LEN + SIGNER_BODY_MAX];
	unsigned char hdr[SIGNER_HDR_LEN];
	struct buf frame = BUF_INIT;
	struct signer_hdr rh;
	const char *why = NULL;
	size_t got = 0, total;
	int reused, rc;

	if (s->fd < 0 && (rc = conn_open(s)) != 0)
		return rc;
	reused = s->used;
	/* One write for the frame, one read for the reply, as a rule. */
	signer_hdr_encode(req, hdr);
	buf_append(&frame, hdr, sizeof(hdr));
	buf_append(&frame, body->data, body->len);
	rc = write_all(s->fd, frame.data, frame.len);
	buf_free_secret(&frame); /* may carry a plaintext key */
	if (rc != 0 ||
	    read_min(s->fd, in, SIGNER_HDR_LEN, sizeof(in), &got) != 0) {
		int e = errno;

		conn_close(s);
		if (reused && got == 0 && e != EAGAIN && e != EWOULDBLOCK)
			return 1;
		log_err("signer: %s",
		    e == EAGAIN || e == EWOULDBLOCK ? "no answer in time"
		                                    : strerror(e));
		return -FP_E_UNAVAILABLE;
	}
	if (signer_hdr_decode(in, got, &rh, &why) != 0 ||
	    rh.op != (req->op | SIGNER_OP_REPLY) || rh.id != req->id ||
	    got > (total = SIGNER_HDR_LEN + rh.len)) {
		log_err("signer: bad reply (%s)",
		    why != NULL ? why : "op, id or length");
		rc = -FP_E_UNAVAILABLE;
		goto fail;
	}
	if (read_min(s->fd, in, total, total, &got) != 0) {
		log_err("signer: reply cut short: %s", strerror(errno));
		rc = -FP_E_UNAVAILABLE;
		goto fail;
	}
	buf_reset(reply);
	buf_append(reply, in + SIGNER_HDR_LEN, rh.len);
	OPENSSL_cleanse(in, got); /* may be a plaintext key */
	s->used = 1;
	if ((rc = status_rc(rh.status)) != 0)
		log_warn("signer refused op %u: status %u", req->op, rh.status);
	return rc;
fail:
	OPENSSL_cleanse(in, got);
	conn_close(s);
	return rc;
}

static int
remote_call(struct signer *s, enum signer_op op, const struct buf *body,
    struct buf *reply)
{
	struct signer_hdr h = { SIGNER_VERSION, (uint16_t)op, 0, 0, 0 };
	int rc;

	h.id = ++s->next_id;
	h.len = (uint32_t)body->len;
	if ((rc = call_once(s, &h, body, reply)) == 1)
		rc = call_once(s, &h, body, reply);
	return rc == 1 ? -FP_E_UNAVAILABLE : rc;
}

/* pki_remote_sign_fn: a remote CA key's signature. */
static int
remote_sign(void *arg, const struct pki_remote_ref *ref, const char *kind,
    const char *md, const unsigned char *dg, size_t dlen, unsigned char *sig,
    size_t *siglen)
{
	struct signer *s = arg;
	struct signer_sign_req r;
	struct buf body = BUF_INIT, reply = BUF_INIT;
	int rc;

	s->last_err = 0; /* only this signature's error counts */
	memset(&r, 0, sizeof(r));
	r.tenant_id = ref->tenant_id;
	r.ca_id = ref->ca_id;
	snprintf(r.kind, sizeof(r.kind), "%s",
	    ref->label[0] != '\0' ? ref->label : kind);
	snprintf(r.md, sizeof(r.md), "%s", md);
	if (dlen > sizeof(r.dg))
		return -FP_E_INTERNAL;
	memcpy(r.dg, dg, dlen);
	r.dlen = dlen;
	if ((rc = signer_sign_req_encode(&r, &body)) != 0 ||
	    (rc = remote_call(s, SIGNER_OP_SIGN, &body, &reply)) != 0)
		goto out;
	if (reply.len == 0 || reply.len > *siglen) {
		log_err("signer: signature of %zu bytes, room for %zu",
		    reply.len, *siglen);
		rc = -FP_E_INTERNAL;
		goto out;
	}
	memcpy(sig, reply.data, reply.len);
	*siglen = reply.len;
out:
	if (rc != 0)
		s->last_err = rc;
	buf_free(&body);
	buf_free(&reply);
	return rc;
}

static int
remote_blob(struct signer *s, enum signer_op op, const char *aad,
    const unsigned char *data, size_t len, struct buf *out)
{
	struct signer_blob_req r = { aad, strlen(aad), data, len };
	struct buf body = BUF_INIT, reply = BUF_INIT;
	int rc;

	if ((rc = signer_blob_req_encode(&r, &body)) != 0) {
		log_err("signer: %zu bytes do not fit one request", len);
		goto out;
	}
	if ((rc = remote_call(s, op, &body, &reply)) != 0)
		goto out;
	buf_append(out, reply.data, reply.len);
out:
	/* A plaintext key went one way or the other. */
	buf_free_secret(&body);
	buf_free_secret(&reply);
	return rc;
}

/* ---- the interface ----------------------------------------------------- */

/* A program that set up no signer: a bug, never the caller's. */
static int
no_signer(void)
{
	log_err("no signer in this process");
	return -FP_E_INTERNAL;
}

int
signer_token_key(struct signer *s, const struct jwt_key_rec *rec,
    EVP_PKEY **out)
{
	struct pki_remote_ref ref;
	struct buf keyder = BUF_INIT;
	EVP_PKEY *key = NULL, *pub = NULL;
	BIO *bio = NULL;
	char *aad = NULL;
	int rc = -FP_E_INTERNAL;

	*out = NULL;
	if (s == NULL)
		return no_signer();
	if (strlen(rec->kid) >
	    sizeof(ref.label) - 1 - strlen(SIGNER_TOKEN_PREFIX)) {
		log_err("token key %s: kid too long for the signer", rec->kid);
		return -FP_E_INTERNAL;
	}
	if (s->remote) {
		/* The public half is public: the private one stays there. */
		if ((bio = BIO_new_mem_buf(rec->public_pem, -1)) == NULL ||
		    (pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) ==
		        NULL) {
			log_ossl_errors("token key: public key");
			goto out;
		}
		memset(&ref, 0, sizeof(ref));
		ref.sign = remote_sign;
		ref.arg = s;
		snprintf(ref.label, sizeof(ref.label), SIGNER_TOKEN_PREFIX "%s",
		    rec->kid);
		rc = pki_key_remote(pub, &ref, &key);
	} else {
		aad = xasprintf(SIGNER_TOKEN_PREFIX "%s", rec->kid);
		if ((rc = pki_open(s->master_key, aad, strlen(aad),
		         rec->private_sealed.data, rec->private_sealed.len,
		         &keyder)) != 0) {
			log_err("token key %s: sealed key does not open "
			        "(wrong master_key?)",
			    rec->kid);
			goto out;
		}
		rc = pki_key_from_der(keyder.data, keyder.len, &key);
	}
	if (rc == 0) {
		*out = key;
		key = NULL;
	}
out:
	EVP_PKEY_free(key);
	EVP_PKEY_free(pub);
	BIO_free(bio);
	buf_free_secret(&keyder);
	free(aad);
	return rc;
}

int
signer_ca_key(struct signer *s, const struct ca_rec *rec, X509 *cert,
    EVP_PKEY **out)
{
	struct pki_remote_ref ref;
	struct buf keyder = BUF_INIT;
	EVP_PKEY *key = NULL, *pub;
	char *aad = NULL;
	int rc;

	*out = NULL;
	if (s == NULL)
		return no_signer();
	if (s->remote) {
		if ((pub = X509_get0_pubkey(cert)) == NULL) {
			log_ossl_errors("CA certificate key");
			return -FP_E_INTERNAL;
		}
		memset(&ref, 0, sizeof(ref));
		ref.sign = remote_sign;
		ref.arg = s;
		ref.tenant_id = rec->tenant_id;
		ref.ca_id = rec->id;
		if ((rc = pki_key_remote(pub, &ref, &key)) != 0)
			goto out;
	} else {
		aad = signer_ca_aad(rec->tenant_id, rec->public_id);
		if ((rc = pki_open(s->master_key, aad, strlen(aad),
		         rec->key_sealed.data, rec->key_sealed.len, &keyder)) !=
		    0) {
			log_err("CA %" PRId64 ": sealed key does not open "
			        "(wrong master_key?)",
			    rec->id);
			goto out;
		}
		if ((rc = pki_key_from_der(keyder.data, keyder.len, &key)) != 0)
			goto out;
	}
	/* Remote: the public half is compared, through the provider. */
	if (X509_check_private_key(cert, key) != 1) {
		log_ossl_errors("CA key does not match its certificate");
		rc = -FP_E_INTERNAL;
		goto out;
	}
	*out = key;
	key = NULL;
out:
	EVP_PKEY_free(key);
	buf_free_secret(&keyder);
	free(aad);
	return rc;
}

int
signer_seal(struct signer *s, const char *aad, const unsigned char *pt,
    size_t len, struct buf *out)
{
	if (s == NULL)
		return no_signer();
	if (s->remote)
		return remote_blob(s, SIGNER_OP_SEAL, aad, pt, len, out);
	return pki_seal(s->master_key, aad, strlen(aad), pt, len, out);
}

int
signer_unseal(struct signer *s, const char *aad, const unsigned char *ct,
    size_t len, struct buf *out)
{
	if (s == NULL)
		return no_signer();
	if (s->remote)
		return remote_blob(s, SIGNER_OP_UNSEAL, aad, ct, len, out);
	return pki_open(s->master_key, aad, strlen(aad), ct, len, out);
}

/* ---- new roots (SIGNER_OP_CA_CREATE) ----------------------------------- */

/* The local half: make, sign and seal; the key never leaves. */
static int
local_ca_create(struct signer *s, int64_t tenant_id, const char *public_id,
    const char *alg, const char *cn, int days, struct buf *cert_der,
    struct buf *key_sealed)
{
	struct buf keyder = BUF_INIT;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char *aad = NULL;
	int rc;

	if (days < 1 || days > 7300 || strlen(cn) == 0 ||
	    strlen(cn) > SIGNER_CA_CN_MAX)
		return -FP_E_BADREQ;
	aad = signer_ca_aad(tenant_id, public_id);
	if ((rc = pki_ca_create(alg, cn, "fleetpki", days, &key, &cert,
	         NULL)) != 0 ||
	    (rc = pki_key_to_der(key, &keyder)) != 0 ||
	    (rc = pki_cert_to_der(cert, cert_der)) != 0 ||
	    (rc = pki_seal(s->master_key, aad, strlen(aad), keyder.data,
	         keyder.len, key_sealed)) != 0)
		goto out;
out:
	buf_free_secret(&keyder);
	EVP_PKEY_free(key);
	X509_free(cert);
	free(aad);
	return rc;
}

static int
remote_ca_create(struct signer *s, int64_t tenant_id, const char *public_id,
    const char *alg, const char *cn, int days, struct buf *cert_der,
    struct buf *key_sealed)
{
	struct buf body = BUF_INIT, reply = BUF_INIT;
	struct signer_blob_req r;
	char *aad, *data;
	uint32_t dlen;
	int rc;

	aad = signer_ca_aad(tenant_id, public_id);
	data = xasprintf("%s\n%d\n%s", alg, days, cn);
	r.aad = aad;
	r.aadlen = strlen(aad);
	r.data = (const unsigned char *)data;
	r.len = strlen(data);
	if ((rc = signer_blob_req_encode(&r, &body)) != 0 ||
	    (rc = remote_call(s, SIGNER_OP_CA_CREATE, &body, &reply)) != 0)
		goto out;
	rc = -FP_E_INTERNAL;
	if (reply.len < 4)
		goto out;
	dlen = (uint32_t)reply.data[0] << 24 | (uint32_t)reply.data[1] << 16 |
	    (uint32_t)reply.data[2] << 8 | reply.data[3];
	if (dlen == 0 || dlen >= reply.len - 4)
		goto out;
	buf_append(cert_der, reply.data + 4, dlen);
	buf_append(key_sealed, reply.data + 4 + dlen, reply.len - 4 - dlen);
	rc = 0;
out:
	if (rc != 0)
		log_err("signer: no new root: the signer's answer is malformed "
		        "or it refused");
	buf_free(&body);
	buf_free(&reply);
	free(aad);
	free(data);
	return rc;
}

int
signer_ca_create(struct signer *s, int64_t tenant_id, const char *public_id,
    const char *alg, const char *cn, int days, struct buf *cert_der,
    struct buf *key_sealed)
{
	if (s == NULL)
		return no_signer();
	if (s->remote)
		return remote_ca_create(s, tenant_id, public_id, alg, cn, days,
		    cert_der, key_sealed);
	return local_ca_create(s, tenant_id, public_id, alg, cn, days, cert_der,
	    key_sealed);
}
