/*
 * auth: bearer-token authentication over the jwt module, with the
 * verification keys read from the jwt_keys table and cached briefly.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "fleetpki/auth.h"
#include "fleetpki/config.h"
#include "fleetpki/core.h"
#include "fleetpki/jwt.h"
#include "fleetpki/log.h"
#include "fleetpki/pki.h"
#include "fleetpki/signer.h"
#include "fleetpki/store.h"
#include "fleetpki/util.h"

/* Seconds a looked-up key (or its absence) is trusted. */
#define KEY_TTL 60
#define KEY_CACHE 32

struct key_entry {
	char kid[JWT_KID_MAX + 1];
	EVP_PKEY *key; /* NULL: known not to exist */
	time_t at;
};

static struct key_entry key_cache[KEY_CACHE];
static size_t key_next;

/*
 * Verified tokens: a fleet back end sends the same token with every
 * request, and verifying ES256 costs more than the rest of a typical
 * request.  A token's verdict is kept for TOKEN_TTL (the key cache's
 * lifetime, so a retired key stops working as soon as it would without
 * this cache); exp is still checked on every use.  Keyed by the SHA-256
 * of the whole token: a token that differs in one byte is verified anew.
 */
#define TOKEN_CACHE 64
#define TOKEN_TTL KEY_TTL

struct token_entry {
	unsigned char hash[32];
	const char *aud; /* the audience it was verified for */
	struct jwt_claims claims;
	time_t at;
};

static struct token_entry token_cache[TOKEN_CACHE];

struct lookup_arg {
	struct fp_ctx *ctx;
	int db_error; /* the store failed, not the token */
};

static EVP_PKEY *
pubkey_from_pem(const char *pem)
{
	EVP_PKEY *key = NULL;
	BIO *bio;

	if ((bio = BIO_new_mem_buf(pem, -1)) == NULL)
		return NULL;
	key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (key == NULL)
		log_ossl_errors("jwt key PEM");
	return key;
}

/* jwt_key_lookup: the P-256 key of 'kid', or NULL. */
static EVP_PKEY *
key_lookup(void *varg, const char *kid)
{
	struct lookup_arg *arg = varg;
	struct jwt_key_rec rec = { 0 };
	struct key_entry *e;
	time_t now = util_now();
	size_t i;
	int rc;

	for (i = 0; i < KEY_CACHE; i++) {
		e = &key_cache[i];
		if (e->at != 0 && now - e->at < KEY_TTL &&
		    strcmp(e->kid, kid) == 0)
			return e->key;
	}
	rc = store_jwt_key_get(arg->ctx->db, kid, &rec);
	if (rc != 0 && rc != -FP_E_NOTFOUND) {
		arg->db_error = rc;
		return NULL;
	}
	e = &key_cache[key_next++ % KEY_CACHE];
	EVP_PKEY_free(e->key);
	e->key = NULL;
	snprintf(e->kid, sizeof(e->kid), "%s", kid);
	e->at = now;
	/* A retired key no longer verifies. */
	if (rc == 0 && rec.active)
		e->key = pubkey_from_pem(rec.public_pem);
	jwt_key_rec_clear(&rec);
	return e->key;
}

/*
 * Verify an "Authorization: Bearer <jwt>" value for audience 'aud' into
 * '*claims', through the verified-token cache.  A verdict is kept with
 * its audience: a token good for one dialect is not for another.
 */
static int
bearer(struct fp_ctx *ctx, const char *authz, const char *aud,
    struct jwt_claims *claims, struct fp_status *st)
{
	struct lookup_arg arg = { ctx, 0 };
	struct token_entry *e;
	unsigned char hash[32];
	time_t now = util_now();
	const char *token;
	size_t len;
	int rc;

	if (authz == NULL || *authz == '\0')
		return fp_fail(st, FP_E_UNAUTH, "Missing bearer token.");
	if (strncasecmp(authz, "Bearer ", 7) != 0)
		return fp_fail(st, FP_E_UNAUTH,
		    "Authorization must be a Bearer token.");
	token = authz + 7;
	while (*token == ' ')
		token++;
	len = strlen(token);
	if (len > JWT_MAX_LEN)
		return fp_fail(st, FP_E_UNAUTH, "Token too large.");
	if (EVP_Digest(token, len, hash, NULL, EVP_sha256(), NULL) != 1) {
		log_ossl_errors("EVP_Digest");
		return -FP_E_INTERNAL;
	}
	e = &token_cache[hash[0] % TOKEN_CACHE];
	if (e->at != 0 && now - e->at < TOKEN_TTL && e->aud != NULL &&
	    strcmp(e->aud, aud) == 0 &&
	    CRYPTO_memcmp(e->hash, hash, sizeof(hash)) == 0 &&
	    jwt_exp_ok(e->claims.exp, now, ctx->cfg->jwt_leeway)) {
		*claims = e->claims;
		return 0;
	}
	rc = jwt_verify_aud(token, len, aud, key_lookup, &arg, now,
	    ctx->cfg->jwt_leeway, claims, st);
	if (arg.db_error != 0)
		return arg.db_error;
	if (rc != 0)
		return rc;
	memcpy(e->hash, hash, sizeof(hash));
	e->aud = aud;
	e->claims = *claims;
	e->at = now;
	return 0;
}

int
auth_bearer(struct fp_ctx *ctx, const char *authz, struct tenant *out,
    struct fp_status *st)
{
	struct jwt_claims claims;
	int rc;

	if ((rc = bearer(ctx, authz, JWT_AUDIENCE, &claims, st)) != 0)
		return rc;
	rc = core_tenant(ctx, claims.tenant, out);
	if (rc == -FP_E_NOTFOUND)
		return fp_fail(st, FP_E_UNAUTH, "Unknown tenant.");
	return rc;
}

int
auth_authtoken(struct fp_ctx *ctx, const char *authz, struct tenant *out,
    struct fp_status *st)
{
	struct jwt_claims claims;
	struct apikey_rec k;
	int rc;

	/* The dialect's one answer to any failure that is the caller's. */
	if ((rc = bearer(ctx, authz, JWT_AUDIENCE_SECSVC, &claims, NULL)) ==
	    -FP_E_UNAUTH)
		return fp_fail(st, FP_E_UNAUTH, "Not Authorized.");
	if (rc != 0)
		return rc;
	if ((rc = core_tenant(ctx, claims.tenant, out)) != 0)
		goto out;
	/* A revoked API key's AuthTokens stop at once, not at their exp. */
	store_set_tenant(ctx->db, out->id);
	if ((rc = store_apikey_get(ctx->db, out->id, claims.sub, &k)) == 0 &&
	    k.revoked)
		rc = -FP_E_NOTFOUND;
out:
	if (rc == -FP_E_NOTFOUND)
		return fp_fail(st, FP_E_UNAUTH, "Not Authorized.");
	return rc;
}

/* Make the first signing key: P-256, sealed under the master key. */
static int
key_create(struct fp_ctx *ctx, struct jwt_key_rec *rec)
{
	struct buf der = BUF_INIT;
	unsigned char rnd[12];
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;
	char *aad = NULL, *data;
	long n;
	int rc;

	memset(rec, 0, sizeof(*rec));
	if ((rc = pki_key_generate("ec-p256", &key, NULL)) != 0)
		goto out;
	pki_random(rnd, sizeof(rnd));
	util_hex(rnd, sizeof(rnd), rec->kid);
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PUBKEY(bio, key) != 1) {
		log_ossl_errors("jwt public key");
		rc = -FP_E_INTERNAL;
		goto out;
	}
	n = BIO_get_mem_data(bio, &data);
	rec->public_pem = xstrndup(data, (size_t)n);
	if ((rc = pki_key_to_der(key, &der)) != 0)
		goto out;
	aad = xasprintf("jwt:%s", rec->kid);
	if ((rc = signer_seal(ctx->signer, aad, der.data, der.len,
	         &rec->private_sealed)) != 0)
		goto out;
	rec->active = true;
	rc = store_jwt_key_insert(ctx->db, rec);
	if (rc == 0)
		log_info("created token signing key %s", rec->kid);
out:
	EVP_PKEY_free(key);
	BIO_free(bio);
	free(aad);
	buf_free_secret(&der);
	return rc;
}

/* A JWT for audience 'aud', tenant 't', subject 'sub', valid 'ttl'. */
static int
mint(struct fp_ctx *ctx, const char *aud, const struct tenant *t,
    const char *sub, int64_t ttl, char **token, struct fp_status *st)
{
	struct jwt_key_rec rec = { 0 };
	EVP_PKEY *key = NULL;
	int rc;

	if (ttl < 1 || ttl > ctx->cfg->jwt_max_ttl)
		return fp_fail(st, FP_E_BADREQ,
		    "ttl must be between 1 and %d seconds",
		    ctx->cfg->jwt_max_ttl);
	rc = store_jwt_key_active(ctx->db, &rec);
	if (rc == -FP_E_NOTFOUND)
		rc = key_create(ctx, &rec);
	if (rc != 0)
		goto out;
	/* Local: unsealed here; in fleetpkid, the signer signs with it. */
	if ((rc = signer_token_key(ctx->signer, &rec, &key)) != 0)
		goto out;
	rc = jwt_sign_es256_aud(key, rec.kid, aud, t->name, sub, util_now(),
	    ttl, token);
out:
	EVP_PKEY_free(key);
	jwt_key_rec_clear(&rec);
	return rc;
}

int
auth_token_key_ensure(struct fp_ctx *ctx)
{
	struct jwt_key_rec rec = { 0 };
	int rc;

	/* The first key is made where the master key is: by the CLI. */
	rc = store_jwt_key_active(ctx->db, &rec);
	if (rc == -FP_E_NOTFOUND)
		rc = key_create(ctx, &rec);
	jwt_key_rec_clear(&rec);
	return rc;
}

int
auth_token_mint(struct fp_ctx *ctx, const struct tenant *t, int64_t ttl,
    char **token, struct fp_status *st)
{
	return mint(ctx, JWT_AUDIENCE, t, t->name, ttl, token, st);
}

int
auth_authtoken_mint(struct fp_ctx *ctx, const struct tenant *t,
    const char *api_key, int64_t ttl, char **token, struct fp_status *st)
{
	return mint(ctx, JWT_AUDIENCE_SECSVC, t, api_key, ttl, token, st);
}

/* ---- certificate-maker API tokens -------------------------------- */

static const char token_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

void
auth_random_token(char *out, size_t len)
{
	unsigned char rnd[64];
	size_t i, n = 0;

	/* Rejection sampling: 248 = 4 * 62 keeps every symbol equally likely. */
	while (n < len) {
		pki_random(rnd, sizeof(rnd));
		for (i = 0; i < sizeof(rnd) && n < len; i++)
			if (rnd[i] < 248)
				out[n++] = token_alphabet[rnd[i] % 62];
	}
	out[n] = '\0';
	OPENSSL_cleanse(rnd, sizeof(rnd));
}

void
auth_api_token_new(char token[AUTH_API_TOKEN_LEN + 1])
{
	auth_random_token(token, AUTH_API_TOKEN_LEN);
}

int
auth_api_token_hash(struct fp_ctx *ctx, const char *token, char hash[65])
{
	return pki_hmac_hex(ctx->cfg->pepper, sizeof(ctx->cfg->pepper), token,
	    strlen(token), hash);
}

int
auth_api_token(struct fp_ctx *ctx, const char *header, struct tenant *t,
    struct user_rec *u, struct fp_status *st)
{
	char hash[65];
	int rc;

	if (header == NULL || *header == '\0')
		return fp_fail(st, FP_E_UNAUTH, "Missing X-Auth-Token header.");
	if (strlen(header) != AUTH_API_TOKEN_LEN ||
	    strspn(header, token_alphabet) != AUTH_API_TOKEN_LEN)
		return fp_fail(st, FP_E_UNAUTH, "Malformed X-Auth-Token.");
	/*
	 * The lookup is by HMAC, so the database compares digests and a
	 * timing difference reveals nothing about the token.
	 */
	if ((rc = auth_api_token_hash(ctx, header, hash)) != 0)
		return rc;
	rc = store_user_by_token(ctx->db, hash, u);
	if (rc == -FP_E_NOTFOUND)
		return fp_fail(st, FP_E_NOTFOUND,
		    "No user found for this token.");
	if (rc != 0)
		return rc;
	if (u->disabled)
		return fp_fail(st, FP_E_UNAUTH, "This account is disabled.");
	t->id = u->tenant_id;
	snprintf(t->name, sizeof(t->name), "%s", u->tenant);
	return 0;
}
