/*
 * core/servercert: the platform's server certificates that devices poll.
 *
 * Devices poll often and the answer rarely changes, so each process
 * keeps what it read for a second: an operator's update is seen by every
 * worker within SERVERCERT_TTL, and a poll costs no query.  (nginx keeps
 * each answer for another second in front: nginx/nginx.conf.in.)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleetpki/core.h"
#include "fleetpki/pki.h"
#include "fleetpki/store.h"
#include "fleetpki/util.h"

#define SERVERCERT_TTL 1 /* seconds */
#define SERVERCERT_CACHE 16

struct sc_entry {
	char server[STORE_NAME_MAX + 1];
	char slot[16];
	time_t at;
	struct buf pem;
};

static struct sc_entry sc_cache[SERVERCERT_CACHE];
static size_t sc_next;

static int
slot_valid(const char *slot)
{
	return strcmp(slot, "primary") == 0 || strcmp(slot, "secondary") == 0;
}

static int
server_valid(const char *server)
{
	size_t len = strlen(server);

	return len >= 1 && len <= STORE_NAME_MAX &&
	    strspn(server,
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	        "0123456789_.-") == len;
}

/* The PEM of server/slot, from the cache or the store. */
static int
servercert_pem(struct fp_ctx *ctx, const char *server, const char *slot,
    const struct buf **pem)
{
	struct servercert_rec rec = { 0 };
	struct sc_entry *e;
	time_t now = util_now();
	size_t i;
	int rc;

	for (i = 0; i < SERVERCERT_CACHE; i++) {
		e = &sc_cache[i];
		if (e->at != 0 && now - e->at < SERVERCERT_TTL &&
		    strcmp(e->server, server) == 0 &&
		    strcmp(e->slot, slot) == 0) {
			*pem = &e->pem;
			return 0;
		}
	}
	if ((rc = store_servercert_get(ctx->db, server, slot, &rec)) != 0)
		return rc;
	e = &sc_cache[sc_next++ % SERVERCERT_CACHE];
	snprintf(e->server, sizeof(e->server), "%s", server);
	snprintf(e->slot, sizeof(e->slot), "%s", slot);
	e->at = now;
	buf_reset(&e->pem);
	buf_puts(&e->pem, rec.pem);
	servercert_rec_clear(&rec);
	*pem = &e->pem;
	return 0;
}

int
core_servercert_get(struct fp_ctx *ctx, const char *server, const char *slot,
    enum servercert_encoding enc, struct buf *out)
{
	const struct buf *pem;
	int rc;

	if (!server_valid(server) || !slot_valid(slot))
		return -FP_E_NOTFOUND;
	if ((rc = servercert_pem(ctx, server, slot, &pem)) != 0)
		return rc;
	if (enc == SRVCERT_DER)
		return pki_pem_body_der((const char *)pem->data, pem->len, out);
	buf_append(out, pem->data, pem->len);
	return 0;
}

int
core_servercert_hash(const char *alg, const struct buf *bytes, char *hex,
    size_t hexlen, struct fp_status *st)
{
	char out[EVP_MAX_MD_SIZE * 2 + 1];
	int rc;

	if ((rc = pki_digest_hex(alg, bytes->data, bytes->len, out)) != 0)
		return fp_fail(st, FP_E_BADREQ,
		    "Invalid algorithm: use sha256 or md5.");
	snprintf(hex, hexlen, "%s", out);
	return 0;
}

int
core_servercert_set(struct fp_ctx *ctx, const char *server, const char *slot,
    const char *pem, size_t len, struct fp_status *st)
{
	struct buf canon = BUF_INIT;
	X509 *cert = NULL;
	int rc;

	if (!server_valid(server))
		return fp_fail(st, FP_E_BADREQ, "invalid server name '%s'",
		    server);
	if (!slot_valid(slot))
		return fp_fail(st, FP_E_BADREQ,
		    "slot must be primary or secondary");
	if ((rc = pki_cert_from_pem(pem, len, &cert, st)) != 0)
		goto out;
	/* Store the canonical encoding: what devices hash must be stable. */
	if ((rc = pki_cert_to_pem(cert, &canon)) != 0)
		goto out;
	rc = store_servercert_set(ctx->db, server, slot,
	    (const char *)canon.data);
out:
	X509_free(cert);
	buf_free(&canon);
	return rc;
}
