/*
 * core/account: the security-services dialect's accounts -- API keys,
 * and the AuthTokens and RefreshTokens traded for them (sql/008).
 *
 * A key and its secret are random (a UUID, 32 characters of ~190 bits);
 * the secret is shown once and kept as its HMAC under the pepper, so a
 * stolen database opens nothing.  RefreshTokens are 32 random bytes,
 * kept the same way, rotated on every use: the answer to
 * /refreshauthtoken carries the next one.  A rotated token presented
 * again means a copy exists: the whole family is revoked, the thief's
 * and the owner's alike, and the owner authenticates again.  Concurrent
 * presentations of one token within a few seconds are a client's race,
 * not a theft: one wins, the others are refused, the family stands.
 *
 * Every failure of /authenticate (unknown key, revoked key, wrong
 * secret) looks the same to the caller, and the secret is compared in
 * constant time after an HMAC either way, so the answer tells nothing
 * about which keys exist.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "fleetpki/auth.h"
#include "fleetpki/b64.h"
#include "fleetpki/config.h"
#include "fleetpki/core.h"
#include "fleetpki/log.h"
#include "fleetpki/pki.h"
#include "fleetpki/store.h"
#include "fleetpki/util.h"

#define UNAUTHORIZED "Not Authorized."

/* HMAC-SHA256 under the pepper, hex: how secrets and tokens are kept. */
static int
keep_hash(struct fp_ctx *ctx, const char *secret, char hash[65])
{
	return pki_hmac_hex(ctx->cfg->pepper, sizeof(ctx->cfg->pepper), secret,
	    strlen(secret), hash);
}

/* A version 4 UUID, lower-case (RFC 9562 5.4). */
static void
uuid4(char out[37])
{
	unsigned char b[16];
	char hex[33];

	pki_random(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	util_hex(b, sizeof(b), hex);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
	    hex + 16, hex + 20);
}

int
core_apikey_create(struct fp_ctx *ctx, const struct tenant *t,
    struct apikey_rec *out, char secret[CORE_APIKEY_SECRET_LEN + 1])
{
	int rc, attempt;

	for (attempt = 0; attempt < 3; attempt++) {
		memset(out, 0, sizeof(*out));
		out->tenant_id = t->id;
		uuid4(out->key);
		auth_random_token(secret, CORE_APIKEY_SECRET_LEN);
		if ((rc = keep_hash(ctx, secret, out->secret_hash)) != 0)
			break;
		/* A colliding UUID is drawn again, never reported. */
		if ((rc = store_apikey_insert(ctx->db, out)) != -FP_E_CONFLICT)
			break;
	}
	if (rc != 0)
		OPENSSL_cleanse(secret, CORE_APIKEY_SECRET_LEN + 1);
	return rc;
}

void
core_session_clear(struct core_session *s)
{
	util_free_secret(s->auth_token);
	OPENSSL_cleanse(s, sizeof(*s));
}

/*
 * The key 'key' of whichever tenant has it, active; the request's
 * tenant is set to that tenant from here on.  Every way of not finding
 * one is the same 401.
 */
static int
active_key(struct fp_ctx *ctx, const char *key, struct tenant *t,
    struct apikey_rec *k, struct fp_status *st)
{
	int64_t tid = 0;
	int rc;

	if ((rc = store_apikey_tenant(ctx->db, key, &tid)) == 0) {
		/* From here on the request is the key's tenant's (RLS). */
		store_set_tenant(ctx->db, tid);
		if ((rc = store_apikey_get(ctx->db, tid, key, k)) == 0)
			rc = store_tenant_by_id(ctx->db, tid, t);
	}
	if (rc == -FP_E_NOTFOUND || (rc == 0 && k->revoked))
		return fp_fail(st, FP_E_UNAUTH, UNAUTHORIZED);
	return rc;
}

/* A fresh RefreshToken: 32 random bytes, base64url; and its hash. */
static int
new_refresh(struct fp_ctx *ctx, struct core_session *out, char hash[65])
{
	unsigned char rnd[32];
	struct buf b = BUF_INIT;
	int rc;

	pki_random(rnd, sizeof(rnd));
	b64url_encode(rnd, sizeof(rnd), &b);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	snprintf(out->refresh_token, sizeof(out->refresh_token), "%s",
	    (const char *)b.data);
	buf_free_secret(&b);
	rc = keep_hash(ctx, out->refresh_token, hash);
	return rc;
}

int
core_authenticate(struct fp_ctx *ctx, const char *key, const char *secret,
    struct core_session *out, struct fp_status *st)
{
	struct apikey_rec k;
	struct tenant t;
	char hash[65], family[33];
	unsigned char rnd[16];
	int rc, ok;

	memset(out, 0, sizeof(*out));
	/* The secret is hashed whatever happens next: no timing tells. */
	if ((rc = keep_hash(ctx, secret, hash)) != 0)
		return rc;
	rc = active_key(ctx, key, &t, &k, st);
	ok = rc == 0 && CRYPTO_memcmp(hash, k.secret_hash, 64) == 0;
	OPENSSL_cleanse(hash, sizeof(hash));
	if (rc != 0)
		return rc;
	if (!ok) {
		log_info("authenticate: wrong secret for API key %s", key);
		return fp_fail(st, FP_E_UNAUTH, UNAUTHORIZED);
	}
	pki_random(rnd, sizeof(rnd));
	util_hex(rnd, sizeof(rnd), family);
	if ((rc = new_refresh(ctx, out, hash)) != 0 ||
	    (rc = store_refresh_insert(ctx->db, t.id, k.id, family, hash,
	         CORE_REFRESH_TTL)) != 0 ||
	    (rc = auth_authtoken_mint(ctx, &t, k.key, CORE_AUTHTOKEN_TTL,
	         &out->auth_token, st)) != 0)
		core_session_clear(out);
	return rc;
}

int
core_refresh(struct fp_ctx *ctx, const char *key, const char *refresh_token,
    struct core_session *out, struct fp_status *st)
{
	struct refresh_state rs;
	struct apikey_rec k;
	struct tenant t;
	char old_hash[65], new_hash[65];
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = active_key(ctx, key, &t, &k, st)) != 0 ||
	    (rc = keep_hash(ctx, refresh_token, old_hash)) != 0 ||
	    (rc = new_refresh(ctx, out, new_hash)) != 0)
		goto out;
	rc = store_refresh_rotate(ctx->db, t.id, k.id, old_hash, new_hash);
	if (rc == 0)
		rc = auth_authtoken_mint(ctx, &t, k.key, CORE_AUTHTOKEN_TTL,
		    &out->auth_token, st);
	else if (rc == -FP_E_NOTFOUND &&
	    store_refresh_state(ctx->db, t.id, k.id, old_hash, &rs) == 0 &&
	    rs.used && !rs.revoked && rs.used_ago > CORE_REFRESH_GRACE) {
		/* A rotated token again: someone holds a copy. */
		log_warn("refresh token of API key %s reused: family revoked",
		    key);
		if (store_refresh_revoke_family(ctx->db, t.id, rs.family) != 0)
			log_err("revoking refresh token family %s failed",
			    rs.family);
		rc = fp_fail(st, FP_E_UNAUTH, UNAUTHORIZED);
	} else if (rc == -FP_E_NOTFOUND) {
		rc = fp_fail(st, FP_E_UNAUTH, UNAUTHORIZED);
	}
out:
	if (rc != 0)
		core_session_clear(out);
	OPENSSL_cleanse(old_hash, sizeof(old_hash));
	OPENSSL_cleanse(new_hash, sizeof(new_hash));
	return rc;
}
