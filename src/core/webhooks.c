/*
 * core/webhooks: the webhooks of a tenant (core_webhook.h).  What a
 * client sends is checked here; the rows are sql/021's, written through
 * store_webhook.h in one transaction per call.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fleetpki/b64.h"
#include "fleetpki/config.h"
#include "fleetpki/core.h"
#include "fleetpki/core_webhook.h"
#include "fleetpki/net.h"
#include "fleetpki/pki.h"
#include "fleetpki/signer.h"
#include "fleetpki/store.h"
#include "fleetpki/store_webhook.h"
#include "fleetpki/util.h"

const char *const core_webhook_types[] = {
	"DEVICE_BOOTSTRAP_EVENT",
	"DEVICE_PROPERTIES_CHANGE_EVENT",
	"DEVICE_ERRORS_EVENT",
	"DEVICE_CERTIFICATE_RENEWAL_EVENT",
	"DEVICE_CERTIFICATE_EXPIRATION_EVENT",
	"ROOTCA_EXPIRATION_EVENT",
	"CERTIFICATE_ISSUED",
	"CERTIFICATE_REVOKED",
};
const size_t core_webhook_ntypes = FP_ARRAY_LEN(core_webhook_types);

int
core_webhook_type_check(const char *type, struct fp_status *st)
{
	size_t i;

	for (i = 0; i < core_webhook_ntypes; i++)
		if (strcmp(type, core_webhook_types[i]) == 0)
			return 0;
	return fp_fail(st, FP_E_BADREQ,
	    "Bad Request. Invalid NotificationType.");
}

/* Is the IP literal 'host' (brackets stripped by curl) denied? */
static int
literal_denied(struct fp_ctx *ctx, const char *host)
{
	struct sockaddr_storage ss;
	struct net_denylist *dl = NULL;
	char *err = NULL, lit[256];
	size_t len = strlen(host);
	int denied;

	if (len >= sizeof(lit))
		return 0;
	/* curl keeps the brackets of an IPv6 host. */
	if (len > 2 && host[0] == '[' && host[len - 1] == ']') {
		memcpy(lit, host + 1, len - 2);
		lit[len - 2] = '\0';
	} else
		snprintf(lit, sizeof(lit), "%s", host);
	if (net_parse_ip(lit, &ss) != 0)
		return 0; /* a name: the worker checks what it resolves to */
	if (net_denylist_parse(ctx->cfg->outbound_deny, &dl, &err) != 0 ||
	    net_denylist_allow(dl, ctx->cfg->outbound_allow, &err) != 0) {
		/* A configuration error: deny, as the worker will. */
		free(err);
		net_denylist_free(dl);
		return 1;
	}
	denied = net_addr_denied(dl, (const struct sockaddr *)&ss);
	net_denylist_free(dl);
	return denied;
}

int
core_webhook_url_check(struct fp_ctx *ctx, const char *url,
    struct fp_status *st)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL,
	     *frag = NULL;
	const char *s;
	int rc = 0;

	if (strlen(url) > WEBHOOK_URL_MAX)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. NotificationURL is too long.");
	for (s = url; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return fp_fail(st, FP_E_BADREQ,
			    "Bad Request. NotificationURL must be a fully "
			    "qualified https URL.");
	if (strncmp(url, "https://", 8) != 0)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. Only https NotificationURLs are accepted.");
	if ((u = curl_url()) == NULL)
		fatal("curl_url: out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    strcmp(scheme, "https") != 0 ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    host[0] == '\0') {
		rc = fp_fail(st, FP_E_BADREQ,
		    "Bad Request. NotificationURL must be a fully qualified "
		    "https URL.");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK) {
		rc = fp_fail(st, FP_E_BADREQ,
		    "Bad Request. NotificationURL must not carry credentials "
		    "(use AuthorizationToken).");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK) {
		rc = fp_fail(st, FP_E_BADREQ,
		    "Bad Request. NotificationURL must not have a fragment.");
		goto out;
	}
	if (literal_denied(ctx, host))
		rc = fp_fail(st, FP_E_BADREQ,
		    "Bad Request. NotificationURL names an address "
		    "notifications may not be sent to.");
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(pass);
	curl_free(frag);
	curl_url_cleanup(u);
	return rc;
}

int
core_webhook_token_check(const char *token, struct fp_status *st)
{
	const char *s;

	if (token[0] == '\0' || strlen(token) > WEBHOOK_TOKEN_MAX)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. AuthorizationToken must be 1 to %d "
		    "characters.",
		    WEBHOOK_TOKEN_MAX);
	for (s = token; *s != '\0'; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') ||
		    (unsigned char)*s >= 0x7f)
			return fp_fail(st, FP_E_BADREQ,
			    "Bad Request. AuthorizationToken must be printable "
			    "ASCII.");
	return 0;
}

void
core_webhook_aad(char out[WEBHOOK_AAD_MAX], int64_t tenant_id, const char *uid,
    const char *what)
{
	snprintf(out, WEBHOOK_AAD_MAX, "webhook:%lld:%s:%s",
	    (long long)tenant_id, uid, what);
}

void
core_webhook_signature(const unsigned char *key, size_t keylen,
    const char *msg_id, long long timestamp, const char *body, size_t body_len,
    struct buf *out)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	struct buf msg = { 0 };

	buf_printf(&msg, "%s.%lld.", msg_id, timestamp);
	buf_append(&msg, body, body_len);
	if (HMAC(EVP_sha256(), key, (int)keylen, msg.data, msg.len, mac,
	        &maclen) == NULL)
		fatal("HMAC-SHA256 failed");
	buf_puts(out, "v1,");
	b64_encode(mac, maclen, out);
	buf_free(&msg);
	OPENSSL_cleanse(mac, sizeof(mac));
}

static int
seal(struct fp_ctx *ctx, int64_t tenant_id, const char *uid, const char *what,
    const void *pt, size_t len, struct buf *out)
{
	char aad[WEBHOOK_AAD_MAX];

	core_webhook_aad(aad, tenant_id, uid, what);
	buf_reset(out);
	return signer_seal(ctx->signer, aad, pt, len, out);
}

struct create_arg {
	struct fp_ctx *ctx;
	int64_t tenant_id;
	const char *url, *token, *type;
	char *secret;
	struct fp_status *st;
};

static int
create_tx(struct db *db, void *varg)
{
	struct create_arg *a = varg;
	struct webhook_rec w;
	struct buf tok = { 0 }, sec = { 0 }, text = { 0 };
	unsigned char raw[WEBHOOK_SECRET_BYTES], rnd[WEBHOOK_UID_LEN / 2];
	char uid[WEBHOOK_UID_LEN + 1];
	int64_t n = 0, id = 0;
	int rc;

	a->secret[0] = '\0';
	rc = store_webhook_by_url(db, a->tenant_id, a->url, &w);
	if (rc == 0) {
		if ((rc = seal(a->ctx, a->tenant_id, w.uid, "token", a->token,
		         strlen(a->token), &tok)) == 0)
			rc = store_webhook_add_type(db, a->tenant_id, w.id,
			    a->type, &tok);
		if (rc == -FP_E_NOTFOUND)
			rc = fp_fail(a->st, FP_E_BADREQ,
			    "Bad Request. A notification hook for this "
			    "NotificationURL and NotificationType already "
			    "exists.");
		else if (rc == 0)
			rc = store_webhook_wake(db);
		webhook_rec_clear(&w);
		buf_free(&tok);
		return rc;
	}
	if (rc != -FP_E_NOTFOUND)
		return rc;
	if ((rc = store_webhook_count(db, a->tenant_id, &n)) != 0)
		return rc;
	if (n >= WEBHOOK_MAX_PER_TENANT)
		return fp_fail(a->st, FP_E_BADREQ,
		    "Bad Request. A tenant may have at most %d notification "
		    "URLs.",
		    WEBHOOK_MAX_PER_TENANT);
	pki_random(rnd, sizeof(rnd));
	util_hex(rnd, sizeof(rnd), uid);
	uid[WEBHOOK_UID_LEN] = '\0';
	pki_random(raw, sizeof(raw));
	if ((rc = seal(a->ctx, a->tenant_id, uid, "token", a->token,
	         strlen(a->token), &tok)) == 0 &&
	    (rc = seal(a->ctx, a->tenant_id, uid, "secret", raw, sizeof(raw),
	         &sec)) == 0)
		rc = store_webhook_insert(db, a->tenant_id, uid, a->url,
		    a->type, &tok, &sec, &id);
	if (rc == 0) {
		buf_puts(&text, "whsec_");
		b64_encode(raw, sizeof(raw), &text);
		snprintf(a->secret, WEBHOOK_SECRET_TEXT_MAX, "%.*s",
		    (int)text.len, (const char *)text.data);
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	buf_free_secret(&text);
	buf_free(&tok);
	buf_free(&sec);
	return rc;
}

int
core_webhook_create(struct fp_ctx *ctx, const struct tenant *t, const char *url,
    const char *token, const char *type, char secret[WEBHOOK_SECRET_TEXT_MAX],
    struct fp_status *st)
{
	struct create_arg a = { ctx, t->id, url, token, type, secret, st };
	int rc;

	secret[0] = '\0';
	if ((rc = core_webhook_url_check(ctx, url, st)) != 0 ||
	    (rc = core_webhook_token_check(token, st)) != 0 ||
	    (rc = core_webhook_type_check(type, st)) != 0)
		return rc;
	rc = store_tx(ctx->db, create_tx, &a);
	if (rc != 0)
		OPENSSL_cleanse(secret, WEBHOOK_SECRET_TEXT_MAX);
	/* Two creates of one new URL at once: the loser says so. */
	if (rc == -FP_E_CONFLICT)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. The notification hook was created "
		    "concurrently; try again.");
	return rc;
}

struct update_arg {
	struct fp_ctx *ctx;
	int64_t tenant_id;
	const char *url, *token;
};

static int
update_tx(struct db *db, void *varg)
{
	struct update_arg *a = varg;
	struct webhook_rec w;
	struct buf tok = { 0 };
	int rc;

	if ((rc = store_webhook_by_url(db, a->tenant_id, a->url, &w)) != 0)
		return rc;
	if ((rc = seal(a->ctx, a->tenant_id, w.uid, "token", a->token,
	         strlen(a->token), &tok)) == 0 &&
	    (rc = store_webhook_set_token(db, a->tenant_id, w.id, &tok)) == 0)
		rc = store_webhook_wake(db);
	webhook_rec_clear(&w);
	buf_free(&tok);
	return rc;
}

int
core_webhook_update(struct fp_ctx *ctx, const struct tenant *t, const char *url,
    const char *token, struct fp_status *st)
{
	struct update_arg a = { ctx, t->id, url, token };
	int rc;

	if ((rc = core_webhook_token_check(token, st)) != 0)
		return rc;
	rc = store_tx(ctx->db, update_tx, &a);
	if (rc == -FP_E_NOTFOUND)
		return fp_fail(st, FP_E_NOTFOUND,
		    "No notification hook with this NotificationURL.");
	return rc;
}

int
core_webhook_delete(struct fp_ctx *ctx, const struct tenant *t, const char *url,
    struct fp_status *st)
{
	int rc;

	rc = store_webhook_delete(ctx->db, t->id, url);
	if (rc == -FP_E_NOTFOUND)
		return fp_fail(st, FP_E_NOTFOUND,
		    "No notification hook with this NotificationURL.");
	return rc;
}
