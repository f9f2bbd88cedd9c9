/*
 * acme: the protocol side of fleetpki's ACME client (RFC 8555): the JWK
 * and its thumbprint (RFC 7638), key authorizations, the signed
 * requests with their nonces, problem documents, Retry-After, external
 * account binding (7.3.4).  Over net_http_request (net.h), so the SSRF
 * guard, the size caps and the timeouts hold for the CA too.
 *
 * The order's life (accounts, orders, DNS-01, the store) is the core's
 * (core_acme.h); this file knows nothing of tenants.
 */
#ifndef FLEETPKI_ACME_H
#define FLEETPKI_ACME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/net.h"

/* base64url of a SHA-256: 43 characters. */
#define ACME_THUMB_LEN 43
/* The problem types fleetpki acts on. */
#define ACME_ERR_PREFIX "urn:ietf:params:acme:error:"
#define ACME_ERR_BADNONCE ACME_ERR_PREFIX "badNonce"
#define ACME_ERR_RATELIMITED ACME_ERR_PREFIX "rateLimited"
#define ACME_ERR_NOACCOUNT ACME_ERR_PREFIX "accountDoesNotExist"
/* How often one request is sent again with a fresh nonce. */
#define ACME_NONCE_RETRIES 10

/*
 * The public JWK of the P-256 'key' in RFC 7638's canonical form (the
 * required members in lexical order, no white space):
 * {"crv":"P-256","kty":"EC","x":"...","y":"..."}.  0 or -FP_E_INTERNAL.
 */
int acme_jwk(EVP_PKEY *key, struct buf *out);
/* The RFC 7638 thumbprint of a canonical JWK (as acme_jwk writes it). */
void acme_jwk_thumbprint(const char *jwk, char out[ACME_THUMB_LEN + 1]);
/*
 * The key authorization "token.thumbprint" (8.1), malloc'd; and the
 * DNS-01 TXT value, base64url(SHA-256(key authorization)) (8.4).
 */
char *acme_key_authz(const char *token, const char *thumbprint);
void acme_dns01_value(const char *key_authz, char out[ACME_THUMB_LEN + 1]);

/* A problem document (RFC 7807, 8555 6.7), or what stood for one. */
struct acme_problem {
	char type[128];
	char detail[512];
	int status;
};
/*
 * Parse 'body' as a problem document into 'p': 0 when it is one (type
 * present), -1 else ('p' then says "HTTP <status>" and a prefix of the
 * body, for the record).
 */
int acme_problem_parse(const char *body, size_t len, long http_status,
    struct acme_problem *p);

/*
 * Seconds a Retry-After header value asks to wait, from 'now': delta
 * seconds, or an HTTP-date (IMF-fixdate, RFC 9110 5.6.7).  -1 when the
 * value is neither; 0 for a date in the past.  Capped at a day.
 */
int acme_retry_after(const char *value, time_t now);

/*
 * The external account binding of newAccount (RFC 8555 7.3.4): a JWS,
 * flattened, HS256 with the MAC key 'hmac_key' (base64url, as CAs give
 * it) over the account's JWK 'jwk', protected header {alg, kid, url}.
 * -FP_E_BADREQ when the key is not base64url.
 */
int acme_eab(const char *kid, const char *hmac_key, const char *jwk,
    const char *url, struct buf *out);

/* ---- a session with one CA ------------------------------------------ */

struct acme_dir {
	char *new_nonce;
	char *new_account;
	char *new_order;
	char *renewal_info; /* RFC 9773, or NULL */
	int eab_required;
};

struct acme_session {
	struct net_fetch f; /* url is set per request */
	const char *directory_url;
	struct acme_dir dir;
	EVP_PKEY *key; /* account key (borrowed) */
	char *jwk; /* its JWK */
	char *kid; /* account URL once known */
	char *nonce;
	int nonce_retries; /* badNonce retried, total */
};

/* What came back. */
struct acme_resp {
	long status;
	struct buf body;
	char *location;
	char *retry_after; /* the header's value, or NULL */
	char *link_up; /* Link rel="up", or NULL */
	char *content_type;
};
void acme_resp_clear(struct acme_resp *);

/*
 * Set up a session on 'directory_url' trusting 'ca_file' (NULL or "":
 * the system store), with the deny list 'deny'; 'key' is the account
 * key.  No request yet.
 */
void acme_session_init(struct acme_session *, const char *directory_url,
    const char *ca_file, const struct net_denylist *deny, EVP_PKEY *key);
void acme_session_free(struct acme_session *);

/*
 * GET the directory.  0; -FP_E_EXPECTATION (st: why) when the CA did
 * not answer or answered no directory.
 */
int acme_directory(struct acme_session *, struct fp_status *st);

/*
 * A signed POST of 'payload' (JSON text; NULL: POST-as-GET, the empty
 * payload) to 'url': with "kid" once s->kid is set, else "jwk".  A
 * badNonce answer is retried with the fresh nonce it carries.  0 with
 * any HTTP answer in 'r' (the caller judges the status); 'accept' NULL
 * or an Accept header value.  Transport failures: -FP_E_EXPECTATION.
 */
int acme_post(struct acme_session *, const char *url, const char *payload,
    const char *accept, struct acme_resp *r, struct fp_status *st);

/*
 * The RFC 9773 certificate identifier of 'cert_der':
 * base64url(AKI keyIdentifier) "." base64url(serial DER content), in
 * 'out' (malloc'd); NULL when the certificate has no AKI.
 */
char *acme_ari_id(const unsigned char *cert_der, size_t len);

/* ---- arithmetic the order job relies on (unit-tested) --------------- */

/*
 * The weekly budget: 'budget' certificates per 7 days, 'used' finalized
 * in the last 7 days, 'in_flight' orders past the queue, the oldest of
 * the window finalized 'oldest_age_s' ago.  0 when a new order may start
 * now, else seconds to wait (until the oldest leaves the window; 60
 * when only orders in flight fill it).  A renewal never waits.
 */
int acme_budget_wait_s(long long budget, long long used, long long in_flight,
    long long oldest_age_s, int renewal);

#endif
