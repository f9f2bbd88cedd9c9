/*
 * signer/proto: the signer's wire format (see signer.h), pure code.
 *
 * Both ends decode with these functions, so a reply is checked as
 * strictly as a request.  Every length is checked against what is left
 * before anything is read, and nothing is trusted to be NUL-terminated.
 */
#include "config.h"

#include <string.h>

#include "fleetpki/error.h"
#include "fleetpki/signer.h"

static void
put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void
put32(unsigned char *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void
put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t
get32(const unsigned char *p)
{
	return ((uint32_t)get16(p) << 16) | get16(p + 2);
}

static uint64_t
get64(const unsigned char *p)
{
	return ((uint64_t)get32(p) << 32) | get32(p + 4);
}

static int
refuse(const char **why, const char *what)
{
	if (why != NULL)
		*why = what;
	return -FP_E_BADREQ;
}

void
signer_hdr_encode(const struct signer_hdr *h, unsigned char out[SIGNER_HDR_LEN])
{
	put32(out, SIGNER_MAGIC);
	put16(out + 4, SIGNER_VERSION);
	put16(out + 6, h->op);
	put32(out + 8, h->id);
	put16(out + 12, h->status);
	put16(out + 14, 0);
	put32(out + 16, h->len);
}

int
signer_hdr_decode(const unsigned char *in, size_t len, struct signer_hdr *h,
    const char **why)
{
	uint16_t op;

	if (len < SIGNER_HDR_LEN)
		return refuse(why, "truncated header");
	if (get32(in) != SIGNER_MAGIC)
		return refuse(why, "bad magic");
	if ((h->version = get16(in + 4)) != SIGNER_VERSION)
		return refuse(why, "unsupported version");
	h->op = get16(in + 6);
	op = h->op & (uint16_t)~SIGNER_OP_REPLY;
	if (op != SIGNER_OP_SIGN && op != SIGNER_OP_SEAL &&
	    op != SIGNER_OP_UNSEAL && op != SIGNER_OP_CA_CREATE)
		return refuse(why, "unknown op");
	h->id = get32(in + 8);
	h->status = get16(in + 12);
	if (get16(in + 14) != 0)
		return refuse(why, "reserved bits set");
	if ((h->len = get32(in + 16)) > SIGNER_BODY_MAX)
		return refuse(why, "oversize body");
	return 0;
}

int
signer_sign_req_encode(const struct signer_sign_req *r, struct buf *out)
{
	size_t klen = strlen(r->kind), mlen = strlen(r->md);
	unsigned char fixed[20];

	if (klen > SIGNER_NAME_MAX || mlen > SIGNER_NAME_MAX || r->dlen == 0 ||
	    r->dlen > SIGNER_DIGEST_MAX)
		return -FP_E_INTERNAL;
	put64(fixed, (uint64_t)r->tenant_id);
	put64(fixed + 8, (uint64_t)r->ca_id);
	fixed[16] = (unsigned char)klen;
	fixed[17] = (unsigned char)mlen;
	fixed[18] = (unsigned char)r->dlen;
	fixed[19] = 0;
	buf_append(out, fixed, sizeof(fixed));
	buf_append(out, r->kind, klen);
	buf_append(out, r->md, mlen);
	buf_append(out, r->dg, r->dlen);
	return 0;
}

/* A name of 'n' bytes at 'p': printable, no NUL, copied terminated. */
static int
get_name(const unsigned char *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int
signer_sign_req_decode(const unsigned char *body, size_t len,
    struct signer_sign_req *r, const char **why)
{
	size_t klen, mlen, dlen;

	memset(r, 0, sizeof(*r));
	if (len < 20)
		return refuse(why, "truncated sign request");
	r->tenant_id = (int64_t)get64(body);
	r->ca_id = (int64_t)get64(body + 8);
	klen = body[16];
	mlen = body[17];
	dlen = body[18];
	if (body[19] != 0)
		return refuse(why, "reserved bits set");
	if (klen == 0 || klen > SIGNER_NAME_MAX || mlen == 0 ||
	    mlen > SIGNER_NAME_MAX || dlen == 0 || dlen > SIGNER_DIGEST_MAX)
		return refuse(why, "field length out of range");
	if (len != 20 + klen + mlen + dlen)
		return refuse(why, "lengths do not add up");
	if (get_name(body + 20, klen, r->kind) != 0 ||
	    get_name(body + 20 + klen, mlen, r->md) != 0)
		return refuse(why, "names must be printable");
	/* A CA's key (both ids), or the token key (neither, kind "jwt:"). */
	if ((r->tenant_id <= 0 || r->ca_id <= 0) &&
	    (r->tenant_id != 0 || r->ca_id != 0 ||
	        strncmp(r->kind, SIGNER_TOKEN_PREFIX,
	            strlen(SIGNER_TOKEN_PREFIX)) != 0))
		return refuse(why, "key id out of range");
	memcpy(r->dg, body + 20 + klen + mlen, dlen);
	r->dlen = dlen;
	return 0;
}

int
signer_blob_req_encode(const struct signer_blob_req *r, struct buf *out)
{
	unsigned char fixed[6];

	if (r->aadlen == 0 || r->aadlen > SIGNER_AAD_MAX ||
	    6 + r->aadlen + r->len > SIGNER_BODY_MAX)
		return -FP_E_INTERNAL;
	put16(fixed, (uint16_t)r->aadlen);
	put32(fixed + 2, (uint32_t)r->len);
	buf_append(out, fixed, sizeof(fixed));
	buf_append(out, r->aad, r->aadlen);
	if (r->len > 0)
		buf_append(out, r->data, r->len);
	return 0;
}

int
signer_blob_req_decode(const unsigned char *body, size_t len,
    struct signer_blob_req *r, const char **why)
{
	size_t i;

	memset(r, 0, sizeof(*r));
	if (len < 6)
		return refuse(why, "truncated blob request");
	r->aadlen = get16(body);
	r->len = get32(body + 2);
	if (r->aadlen == 0 || r->aadlen > SIGNER_AAD_MAX)
		return refuse(why, "AAD length out of range");
	if (r->len > SIGNER_BODY_MAX || len != 6 + r->aadlen + r->len)
		return refuse(why, "lengths do not add up");
	for (i = 0; i < r->aadlen; i++)
		if (body[6 + i] < 0x21 || body[6 + i] > 0x7e)
			return refuse(why, "AAD must be printable");
	r->aad = (const char *)body + 6;
	r->data = body + 6 + r->aadlen;
	return 0;
}
