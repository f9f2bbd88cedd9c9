/*
 * metrics_auth: the route table's AUTH_METRICS.  GET /metrics tells how
 * busy the service is and where it fails, which is for operators: a
 * peer on loopback (nginx's REMOTE_ADDR: the client nginx saw) may read
 * it, any other only with "Authorization: Bearer <metrics_token>" when
 * fleetpki.conf sets one.
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "fleetpki/config.h"
#include "fleetpki/core.h"
#include "fleetpki/http.h"
#include "fleetpki/router.h"

/* 127.0.0.0/8, ::1, and 127/8 as an IPv4-mapped IPv6 address. */
static int
loopback(const char *addr)
{
	if (addr == NULL)
		return 0;
	if (strncmp(addr, "::ffff:", 7) == 0)
		addr += 7;
	return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0;
}

/*
 * Compared as SHA-256 digests with CRYPTO_memcmp: constant time, and
 * the lengths are not leaked either.
 */
static int
token_ok(const char *want, const char *auth)
{
	unsigned char a[32], b[32];
	int ok;

	if (want == NULL || want[0] == '\0' || auth == NULL ||
	    strncmp(auth, "Bearer ", 7) != 0)
		return 0;
	auth += 7;
	if (EVP_Digest(want, strlen(want), a, NULL, EVP_sha256(), NULL) != 1 ||
	    EVP_Digest(auth, strlen(auth), b, NULL, EVP_sha256(), NULL) != 1)
		return 0;
	ok = CRYPTO_memcmp(a, b, sizeof(a)) == 0;
	OPENSSL_cleanse(a, sizeof(a));
	return ok;
}

int
http_metrics_auth(struct http_req *req, struct fp_status *st)
{
	if (loopback(req->remote_addr) ||
	    token_ok(req->ctx->cfg->metrics_token,
	        http_header(req, "Authorization")))
		return 0;
	return fp_fail(st, FP_E_FORBIDDEN,
	    "Metrics are served to loopback clients or with the metrics "
	    "token.");
}
