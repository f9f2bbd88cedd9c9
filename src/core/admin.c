/*
 * core/admin: operators' passwords (argon2id), logins with lockout, and
 * sessions (sql/020) for the admin portal (src/api/admin.c) and the CLI.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <argon2.h>
#include <openssl/crypto.h>

#include "fleetpki/auth.h"
#include "fleetpki/config.h"
#include "fleetpki/core.h"
#include "fleetpki/core_admin.h"
#include "fleetpki/log.h"
#include "fleetpki/pki.h"
#include "fleetpki/store.h"
#include "fleetpki/store_admin.h"

/* HMAC domains: the stored session hash and the CSRF token differ. */
#define DOMAIN_SESSION "admin-session:"
#define DOMAIN_CSRF "admin-csrf:"

static const char name_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.@-";

int
admin_name_valid(const char *name)
{
	size_t len;

	if (name == NULL)
		return 0;
	len = strlen(name);
	return len >= 1 && len <= ADMIN_NAME_MAX &&
	    strspn(name, name_chars) == len;
}

int
admin_password_hash(const char *password, char out[ADMIN_ARGON2_ENCODED],
    struct fp_status *st)
{
	unsigned char salt[ADMIN_ARGON2_SALT];
	size_t len = strlen(password);
	int rc;

	if (len < ADMIN_PASSWORD_MIN)
		return fp_fail(st, FP_E_BADREQ,
		    "The password must have at least %d characters.",
		    ADMIN_PASSWORD_MIN);
	if (len > ADMIN_PASSWORD_MAX)
		return fp_fail(st, FP_E_BADREQ,
		    "The password must have at most %d characters.",
		    ADMIN_PASSWORD_MAX);
	pki_random(salt, sizeof(salt));
	rc = argon2id_hash_encoded(ADMIN_ARGON2_T, ADMIN_ARGON2_M,
	    ADMIN_ARGON2_P, password, len, salt, sizeof(salt),
	    ADMIN_ARGON2_HASH, out, ADMIN_ARGON2_ENCODED);
	OPENSSL_cleanse(salt, sizeof(salt));
	if (rc != ARGON2_OK) {
		log_err("argon2id: %s", argon2_error_message(rc));
		return -FP_E_INTERNAL;
	}
	return 0;
}

int
admin_password_verify(const char *encoded, const char *password)
{
	size_t len = strlen(password);

	if (encoded == NULL || strncmp(encoded, "$argon2id$", 10) != 0 ||
	    len > ADMIN_PASSWORD_MAX)
		return 0;
	return argon2id_verify(encoded, password, len) == ARGON2_OK;
}

/*
 * The hash an unknown operator's password is checked against, so that
 * "no such operator" costs what a wrong password does.  Made once per
 * process from a random password nobody knows.
 */
static const char *
dummy_hash(void)
{
	static char hash[ADMIN_ARGON2_ENCODED];
	char pw[33];

	if (*hash == '\0') {
		auth_random_token(pw, sizeof(pw) - 1);
		if (admin_password_hash(pw, hash, NULL) != 0)
			*hash = '\0';
		OPENSSL_cleanse(pw, sizeof(pw));
	}
	return *hash != '\0' ? hash : NULL;
}

int
admin_cookie_value(const char *header, const char *name, char *out,
    size_t outlen)
{
	size_t nlen = strlen(name), vlen;
	const char *p = header, *v, *end;

	if (header == NULL || outlen == 0)
		return -1;
	/* RFC 6265 5.4: "name=value" pairs separated by "; ". */
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) > nlen && strncmp(p, name, nlen) == 0 &&
		    p[nlen] == '=') {
			v = p + nlen + 1;
			vlen = (size_t)(end - v);
			while (vlen > 0 &&
			    (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (vlen == 0 || vlen >= outlen)
				return -1;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return 0;
		}
		p = end;
	}
	return -1;
}

int
admin_origin_ok(const char *origin, const char *host, const char *fetch_site)
{
	if (fetch_site != NULL && strcasecmp(fetch_site, "same-origin") != 0 &&
	    strcasecmp(fetch_site, "none") != 0)
		return 0;
	if (origin == NULL)
		return 1;
	if (host == NULL || *host == '\0' ||
	    strncasecmp(origin, "https://", 8) != 0)
		return 0;
	return strcasecmp(origin + 8, host) == 0;
}

int
admin_csrf_equal(const char *given, const char *want)
{
	size_t len = strlen(want);

	if (given == NULL || strlen(given) != len)
		return 0;
	return CRYPTO_memcmp(given, want, len) == 0;
}

/* HMAC-SHA256 under the pepper of 'domain' then 'token', hex. */
static int
token_mac(struct fp_ctx *ctx, const char *domain, const char *token,
    char out[65])
{
	char msg[64 + ADMIN_TOKEN_LEN + 1];
	int rc, n;

	n = snprintf(msg, sizeof(msg), "%s%s", domain, token);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -FP_E_INTERNAL;
	rc = pki_hmac_hex(ctx->cfg->pepper, sizeof(ctx->cfg->pepper), msg,
	    (size_t)n, out);
	OPENSSL_cleanse(msg, sizeof(msg));
	return rc;
}

/* The CSRF token is derived, not stored: see core_admin.h. */
static int
session_csrf(struct fp_ctx *ctx, const char *token,
    char out[ADMIN_CSRF_LEN + 1])
{
	return token_mac(ctx, DOMAIN_CSRF, token, out);
}

static int
token_well_formed(const char *token)
{
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                            "abcdefghijklmnopqrstuvwxyz0123456789";

	return token != NULL && strlen(token) == ADMIN_TOKEN_LEN &&
	    strspn(token, alnum) == ADMIN_TOKEN_LEN;
}

static int
unauthorized(struct fp_status *st)
{
	return fp_fail(st, FP_E_UNAUTH, "Wrong tenant, name or password.");
}

int
core_admin_login(struct fp_ctx *ctx, const char *tenant, const char *name,
    const char *password, const char *remote_addr,
    char token[ADMIN_TOKEN_LEN + 1], struct admin_session *out,
    struct tenant *t, struct fp_status *st)
{
	struct admin_login_rec rec = { 0 };
	char login[2 * STORE_NAME_MAX + 2], hash[65];
	const char *against;
	bool locked = false;
	int rc, ok;

	memset(out, 0, sizeof(*out));
	memset(t, 0, sizeof(*t));
	if (strlen(tenant) > STORE_NAME_MAX || !admin_name_valid(name))
		return unauthorized(st);
	snprintf(login, sizeof(login), "%s/%s", tenant, name);
	if ((rc = store_admin_login_lookup(ctx->db, tenant, name, &rec)) != 0)
		goto out;
	if (rec.locked) {
		rc = fp_fail(st, FP_E_RATELIMIT,
		    "Too many failed logins: try again later.");
		goto out;
	}
	/* Unknown or disabled: the same work, the same answer. */
	against = rec.password_hash != NULL ? rec.password_hash : dummy_hash();
	ok = admin_password_verify(against, password) &&
	    rec.password_hash != NULL && !rec.disabled && rec.tenant_id > 0;
	if (!ok) {
		if ((rc = store_admin_login_failed(ctx->db, login,
		         ADMIN_LOGIN_MAX, ADMIN_LOGIN_WINDOW, &locked)) != 0)
			goto out;
		if (locked)
			log_warn("admin login %s locked after %d failures",
			    login, ADMIN_LOGIN_MAX);
		rc = unauthorized(st);
		goto out;
	}
	if ((rc = store_admin_login_succeeded(ctx->db, login)) != 0)
		goto out;
	t->id = rec.tenant_id;
	snprintf(t->name, sizeof(t->name), "%s", rec.tenant);
	auth_random_token(token, ADMIN_TOKEN_LEN);
	if ((rc = token_mac(ctx, DOMAIN_SESSION, token, hash)) != 0 ||
	    (rc = session_csrf(ctx, token, out->csrf)) != 0)
		goto out;
	store_set_tenant(ctx->db, t->id);
	if ((rc = store_admin_session_insert(ctx->db, t->id, rec.operator_id,
	         hash, ADMIN_SESSION_TTL, ADMIN_SESSION_IDLE, remote_addr,
	         &out->id, &out->expires_at)) != 0)
		goto out;
	out->operator_id = rec.operator_id;
	snprintf(out->name, sizeof(out->name), "%s", name);
	log_info("admin %s logged in", login);
out:
	if (rc != 0) {
		OPENSSL_cleanse(token, ADMIN_TOKEN_LEN + 1);
		OPENSSL_cleanse(out->csrf, sizeof(out->csrf));
	}
	admin_login_rec_clear(&rec);
	return rc;
}

int
core_admin_session(struct fp_ctx *ctx, const char *token,
    struct admin_session *out, struct tenant *t, struct fp_status *st)
{
	struct admin_session_rec rec;
	char hash[65];
	int rc;

	memset(out, 0, sizeof(*out));
	if (!token_well_formed(token))
		return fp_fail(st, FP_E_UNAUTH, "Not logged in.");
	if ((rc = token_mac(ctx, DOMAIN_SESSION, token, hash)) != 0)
		return rc;
	rc = store_admin_session(ctx->db, hash, &rec);
	if (rc == -FP_E_NOTFOUND)
		return fp_fail(st, FP_E_UNAUTH,
		    "Not logged in, or the session is over.");
	if (rc != 0)
		return rc;
	if ((rc = session_csrf(ctx, token, out->csrf)) != 0)
		return rc;
	t->id = rec.tenant_id;
	snprintf(t->name, sizeof(t->name), "%s", rec.tenant);
	out->id = rec.id;
	out->operator_id = rec.operator_id;
	snprintf(out->name, sizeof(out->name), "%s", rec.name);
	out->expires_at = rec.expires_at;
	return 0;
}

int
core_admin_logout(struct fp_ctx *ctx, int64_t tenant_id, int64_t session_id)
{
	store_set_tenant(ctx->db, tenant_id);
	return store_admin_session_revoke(ctx->db, tenant_id, session_id);
}
