/*
 * core_admin: the admin portal's operators, passwords and sessions
 * (sql/020).
 *
 * Passwords are hashed with argon2id (libargon2) in its encoded form,
 * parameters included, so they can be raised later without a flag day.
 * A session is a random token in the browser's cookie; the database holds
 * only its HMAC under the pepper.  The CSRF token is another HMAC of the
 * same token under the pepper: the server recomputes it for each request
 * and stores it nowhere.
 */
#ifndef FLEETPKI_CORE_ADMIN_H
#define FLEETPKI_CORE_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "fleetpki/error.h"
#include "fleetpki/store.h"

struct fp_ctx;

#define ADMIN_NAME_MAX 64
#define ADMIN_PASSWORD_MIN 12
#define ADMIN_PASSWORD_MAX 1024
/* The cookie's token: 43 characters of [A-Za-z0-9] (~256 bits). */
#define ADMIN_TOKEN_LEN 43
/* The CSRF token: hex of an HMAC-SHA256. */
#define ADMIN_CSRF_LEN 64
#define ADMIN_COOKIE "fp_admin"

/* Sessions last ADMIN_SESSION_TTL at most, ADMIN_SESSION_IDLE unused. */
#define ADMIN_SESSION_TTL (12 * 3600)
#define ADMIN_SESSION_IDLE (30 * 60)
/* ADMIN_LOGIN_MAX failures within ADMIN_LOGIN_WINDOW s lock that long. */
#define ADMIN_LOGIN_MAX 5
#define ADMIN_LOGIN_WINDOW (15 * 60)

/* argon2id parameters (OWASP's: 19 MiB, 2 passes, 1 lane). */
#define ADMIN_ARGON2_T 2
#define ADMIN_ARGON2_M 19456
#define ADMIN_ARGON2_P 1
#define ADMIN_ARGON2_SALT 16
#define ADMIN_ARGON2_HASH 32
/* Room for the encoded form of the parameters above. */
#define ADMIN_ARGON2_ENCODED 128

/* 1 when 'name' is a valid operator name: 1-64 of A-Za-z0-9_.@- */
int admin_name_valid(const char *name);

/*
 * Hash 'password' into 'out' (NUL-terminated encoded argon2id), or
 * -FP_E_BADREQ (too short or long: reason in 'st') / -FP_E_INTERNAL.
 */
int admin_password_hash(const char *password, char out[ADMIN_ARGON2_ENCODED],
    struct fp_status *st);
/* 1 when 'password' matches 'encoded' (an argon2id hash), else 0. */
int admin_password_verify(const char *encoded, const char *password);

/*
 * The value of cookie 'name' in a Cookie header ("a=1; fp_admin=x"),
 * copied into 'out' when it fits in 'outlen' (NUL included): 0, or -1
 * when absent, empty or too long.  The first one wins.
 */
int admin_cookie_value(const char *header, const char *name, char *out,
    size_t outlen);

/*
 * Whether a state-changing request comes from the portal's own origin:
 * 'origin' (the Origin header, may be NULL) must be https://<host>
 * ('host': the Host header) when sent, 'fetch_site' (Sec-Fetch-Site, may
 * be NULL) same-origin or none when sent.  1: acceptable.
 */
int admin_origin_ok(const char *origin, const char *host,
    const char *fetch_site);
/* 1 when 'given' (may be NULL) is exactly 'want', in constant time. */
int admin_csrf_equal(const char *given, const char *want);

/* A logged-in operator's session. */
struct admin_session {
	int64_t id;
	int64_t operator_id;
	char name[ADMIN_NAME_MAX + 1];
	int64_t expires_at; /* Unix seconds */
	char csrf[ADMIN_CSRF_LEN + 1];
};

/*
 * Log in: 'tenant' and 'name' with 'password'.  -FP_E_UNAUTH (one
 * message for an unknown tenant or operator, a disabled one, a wrong
 * password), -FP_E_RATELIMIT when the login is locked after repeated
 * failures.  On success the new session's cookie token in 'token' and
 * the session (and its tenant) in 'out' and 't'.
 */
int core_admin_login(struct fp_ctx *, const char *tenant, const char *name,
    const char *password, const char *remote_addr,
    char token[ADMIN_TOKEN_LEN + 1], struct admin_session *out,
    struct tenant *t, struct fp_status *st);

/*
 * The session of cookie token 'token': -FP_E_UNAUTH when it is not a
 * live session (malformed, unknown, expired, idle too long, logged out,
 * the operator disabled).  Fills 'out' and its tenant 't'.
 */
int core_admin_session(struct fp_ctx *, const char *token,
    struct admin_session *out, struct tenant *t, struct fp_status *st);
/* Log out: the session is over on every host. */
int core_admin_logout(struct fp_ctx *, int64_t tenant_id, int64_t session_id);

/*
 * The front's AUTH_ADMIN (src/front/admin_auth.c): the session of the
 * request's cookie into req->admin and req->tenant; for POST, PUT and
 * DELETE also the X-CSRF-Token header (-FP_E_FORBIDDEN when missing or
 * wrong) and the Origin and Sec-Fetch-Site headers when sent.
 */
struct http_req;
int http_admin_auth(struct http_req *, struct fp_status *st);
/* Origin and Sec-Fetch-Site alone (the login, which has no session). */
int http_admin_same_origin(struct http_req *, struct fp_status *st);

#endif
