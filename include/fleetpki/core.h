/*
 * core: the domain services every dialect shares.  A dialect module
 * hands the core strings and numbers (a CSR's PEM, a fingerprint, a
 * reason) and gets records back; the core combines the PKI layer
 * (OpenSSL) with the store (PostgreSQL) so dialects touch neither.
 *
 * CAs are cached per process once their sealed key is opened: a CA's
 * certificate and key never change after creation.
 */
#ifndef FLEETPKI_CORE_H
#define FLEETPKI_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/json.h"
#include "fleetpki/pki.h"
#include "fleetpki/store.h"

struct arena;
struct config;
struct db;

/* What a process hands to every core call. */
struct fp_ctx {
	const struct config *cfg;
	struct db *db;
	/*
	 * The keys: every CA signature and every seal/unseal goes through
	 * it (signer.h); remote in fleetpkid's workers, local elsewhere.
	 */
	struct signer *signer;
};

/* A tenant's CA, ready to sign; owned by the process cache. */
struct core_ca;

/* ---- tenants ----------------------------------------------------- */

/* Tenant by name, cached for the life of the process (never renamed). */
int core_tenant(struct fp_ctx *, const char *name, struct tenant *out);

/* ---- CAs --------------------------------------------------------- */

/*
 * The tenant's default CA.  -FP_E_NOTFOUND ("This tenant has no CA." in
 * 'st', which may be NULL) when it has none, -FP_E_UNAVAILABLE when the
 * store is down.
 */
int core_ca_default(struct fp_ctx *, int64_t tenant_id,
    const struct core_ca **out, struct fp_status *st);
/* Any CA of the tenant by id. */
int core_ca_get(struct fp_ctx *, int64_t tenant_id, int64_t ca_id,
    const struct core_ca **out);
/* Its certificate as PEM and its fingerprint ("AA:BB:..."): borrowed. */
const char *core_ca_pem(const struct core_ca *);
const char *core_ca_fingerprint(const struct core_ca *);
int64_t core_ca_id(const struct core_ca *);
/* The URL of its DER CRL on the plain-HTTP listener; borrowed. */
const char *core_ca_crl_url(const struct core_ca *);
/* The URL of its delta CRL (Freshest CRL), beside it; borrowed. */
const char *core_ca_delta_url(const struct core_ca *);
/* Its OCSP responder URL (AIA), on the plain-HTTP listener; borrowed. */
const char *core_ca_ocsp_url(const struct core_ca *);
/* The tenant's CA named 'name': '*id', or -FP_E_NOTFOUND (with 'st'). */
int core_ca_by_name(struct fp_ctx *, const struct tenant *t, const char *name,
    int64_t *id, struct fp_status *st);
/* The random id naming it in public URLs (and in its seals' AAD). */
const char *core_ca_public_id(const struct core_ca *);

/*
 * Create a CA for tenant 'tenant_id' (key 'alg' as pki_key_generate,
 * 'days' validity), seal its key and store it; the tenant's first CA is
 * its default.  Issues its first (empty) CRL.  Sets '*id'.
 */
int core_ca_create(struct fp_ctx *, const struct tenant *t, const char *name,
    const char *alg, int days, int64_t *id, struct fp_status *st);

/*
 * Write the SHA-2 key hashes (OCSP CertIDs, sql/009) of every CA made
 * before they were kept; `fleetpki migrate` does.  '*written': CAs done.
 */
int core_ca_key_hashes_backfill(struct fp_ctx *, int *written);

/* Drop every cached CA and tenant (after SIGHUP). */
void core_cache_flush(void);

/* ---- certificates ------------------------------------------------ */

/*
 * An issuing request's Idempotency-Key: 'key' as the client sent it
 * (NULL: none) and 'hash', the SHA-256 (hex) of everything the request
 * asked (the front's http_idem).  A retry with the same key and hash
 * within CORE_IDEM_TTL answers the certificate the first try issued
 * (the core sets 'replayed'); the same key with another hash is
 * -FP_E_UNPROCESSABLE (422).  The key's row commits with the
 * certificate, so an answer lost after the commit is found again.
 */
struct core_idem {
	const char *key;
	char hash[65];
	int replayed;
};
#define CORE_IDEM_TTL 86400

/* Forget Idempotency-Keys older than CORE_IDEM_TTL (the worker's job). */
int core_idem_prune(struct fp_ctx *);

/*
 * The identity API's issuance: parse and police the CSR (signature,
 * key, CN-only subject), issue under the tenant's default CA with
 * subject CN=<tenant>:<CN>, O=fleetpki, clientAuth, the configured
 * validity and the CA's CRL URL; store it and fill 'out' (fingerprint,
 * pem, ...) only after the commit.  'idem' may be NULL (see above).
 */
int core_issue_device_csr(struct fp_ctx *, const struct tenant *t,
    const char *csr_pem, size_t len, struct core_idem *idem,
    struct cert_rec *out, struct fp_status *st);

/*
 * Remove a certificate from the identity API and revoke it (reason
 * superseded, as the original server did), then issue a fresh CRL for its CA so the revocation shows at
 * once.  -FP_E_NOTFOUND when the tenant has no such certificate.
 */
int core_cert_delete(struct fp_ctx *, const struct tenant *t,
    const char *fingerprint);

/*
 * Mass revocation (`fleetpki revoke`), set-based: the certificates of
 * the tenant's CA named 'ca_name' with the given serials (any case,
 * colons allowed), or issued in [from, to), with 'reason'.  Serials go
 * in statements of CORE_REVOKE_CHUNK; 'progress' (may be NULL) is told
 * how many were done after each.  'rep' counts what happened and lists
 * the serials that matched no certificate of the CA, or were not serials
 * ("SERIAL\n" lines; free with core_revoke_report_clear).  The worker
 * issues the CRL (core_crl_soon).
 */
#define CORE_REVOKE_CHUNK 5000
struct core_revoke_report {
	int64_t revoked;
	int64_t already;
	int64_t missing;
	struct buf missing_list;
};
typedef void (*core_progress_fn)(void *arg, size_t done, size_t total);
int core_revoke_serials(struct fp_ctx *, const struct tenant *t,
    const char *ca_name, const char *const *serials, size_t n, int reason,
    core_progress_fn progress, void *arg, struct core_revoke_report *rep,
    struct fp_status *st);
int core_revoke_issued_between(struct fp_ctx *, const struct tenant *t,
    const char *ca_name, int64_t from, int64_t to, int reason,
    struct core_revoke_report *rep, struct fp_status *st);
void core_revoke_report_clear(struct core_revoke_report *);

/* ---- CRLs -------------------------------------------------------- */

/*
 * Sign and store the next CRL of a CA: a complete one ('delta' false;
 * a base when the last base is crl_base_interval old) or a delta CRL
 * over its newest base (-FP_E_CONFLICT when it has none yet).
 */
int core_crl_issue(struct fp_ctx *, int64_t tenant_id, int64_t ca_id,
    bool delta, struct crl_rec *out);
/*
 * The newest complete ('delta' false) or delta CRL of a CA, issuing one
 * first when there is none or the newest has passed its nextUpdate.
 */
int core_crl_current(struct fp_ctx *, int64_t tenant_id, int64_t ca_id,
    bool delta, struct crl_rec *out);
/* Same, by the CA's public id (the CRL URL); not tenant-scoped. */
int core_crl_by_public_id(struct fp_ctx *, const char *public_id, bool delta,
    struct crl_rec *out);
/* PEM text of a DER CRL, into 'out'. */
int core_crl_pem(const struct crl_rec *crl, struct buf *out);

/*
 * The worker's job: issue a new complete CRL for every CA whose newest
 * is missing, expires within the refresh margin, has no base within
 * crl_base_interval, or lacks a revocation (crl_complete_on_revoke),
 * and a delta CRL after it, or alone when only the delta is stale or
 * lacks a revocation (sql/027).  Sets '*issued' (CRLs of both kinds).
 */
int core_crl_refresh_due(struct fp_ctx *, int *issued);

/*
 * After a revocation has committed: have the worker issue the CRL
 * (queue a "crl.revoked" job; one queued job carries every revocation
 * made meanwhile).  No request builds or signs a CRL.
 */
/*
 * A revocation was committed (by this host, or by another: the worker
 * hears it, sql/016): drop cached OCSP answers, this process's and those
 * of this host's nginx (config ocsp_cache_dir).
 */
void core_ocsp_invalidate(struct fp_ctx *);

/* The worker's hourly job: keep the newest crl_history CRLs per CA. */
int core_crl_prune(struct fp_ctx *, int64_t *deleted);

#define CORE_CRL_REVOKED_JOB "crl.revoked"
/* How long revocations gather before a CRL is signed for them. */
#define CORE_CRL_GATHER_MS 1000
int core_crl_soon(struct fp_ctx *);

/* ---- server certificates ----------------------------------------- */

enum servercert_encoding { SRVCERT_PEM, SRVCERT_DER };

/*
 * The registered certificate of 'server'/'slot' in 'enc' into 'out'.
 * -FP_E_NOTFOUND for an unknown server or slot.
 */
int core_servercert_get(struct fp_ctx *, const char *server, const char *slot,
    enum servercert_encoding enc, struct buf *out);
/* Hex digest ("sha256" or "md5") of the same bytes into 'hex'. */
int core_servercert_hash(const char *alg, const struct buf *bytes, char *hex,
    size_t hexlen, struct fp_status *st);
/* Register a certificate (exactly one PEM certificate) for a slot. */
int core_servercert_set(struct fp_ctx *, const char *server, const char *slot,
    const char *pem, size_t len, struct fp_status *st);

/* ---- OCSP ------------------------------------------------------- */

struct core_ocsp_result {
	struct buf der; /* the OCSPResponse, always set */
	int64_t max_age; /* seconds a cache may keep it; 0 = none */
	char etag[36]; /* quoted, from the response bytes */
	int shared; /* this host's nginx may keep it too */
};

/*
 * Answer a DER OCSP request for any CA of any tenant: good, revoked (time
 * and reason) or unknown for serials the CA never issued; unauthorized
 * for an issuer we do not have (or CertIDs of several issuers, which no
 * one signature can answer); malformedRequest for what does not parse.
 * Status is read from the store on every call, so a revocation shows at
 * once; only the signature is reused, for nonce-less requests whose
 * answer has not changed.  -FP_E_UNAVAILABLE when the store is down (the
 * caller answers tryLater).
 */
int core_ocsp_answer(struct fp_ctx *, const unsigned char *der, size_t len,
    struct core_ocsp_result *out);
void core_ocsp_result_clear(struct core_ocsp_result *);

/*
 * Delegated OCSP responders (sql/025).  core_ocsp_responder_issue gives
 * CA 'ca_id' of 'tenant_id' its next responder: a key of the CA's type,
 * a certificate from pki_issue_ocsp_responder for the tenant's
 * ocsp.responder_days, the key sealed (AAD "ocsp-responder:<tenant>:<CA
 * public id>:<serial>"), stored with the CA's expired ones deleted, in
 * one transaction.  From then on fleetpkid signs the CA's answers with
 * it (within ISSUER_TTL seconds).  Needs the CA key: the CLI and the
 * worker (local signers).  '*serial' and '*not_after' say what was made.
 */
int core_ocsp_responder_issue(struct fp_ctx *, int64_t tenant_id,
    int64_t ca_id, char serial[41], int64_t *not_after, struct fp_status *);
/* Back to the CA signing its answers itself: every responder deleted. */
int core_ocsp_responder_off(struct fp_ctx *, int64_t tenant_id, int64_t ca_id,
    int64_t *deleted);
/* The worker's pass: the next responder of every CA that is due. */
int core_ocsp_responders_renew(struct fp_ctx *, int *issued);

/* ---- per-tenant settings ----------------------------------------- */

/*
 * The settings operators may set per tenant, each with its default and
 * its rule (see settings.c's table).  Getters return the default when
 * the tenant has not set the key; an unknown key is a programming error.
 */
int core_setting_int(struct fp_ctx *, int64_t tenant_id, const char *key,
    long long *out);
int core_setting_bool(struct fp_ctx *, int64_t tenant_id, const char *key,
    int *out);
/* Validate and store; -FP_E_BADREQ with a reason for a bad key/value. */
/*
 * Whether 'value' is one 'key' takes (its type, range and check): 0, or
 * -FP_E_BADREQ saying why.  Pure: no database.
 */
int core_setting_check(const char *key, const char *value,
    struct fp_status *st);
/*
 * A string setting ('*out' malloc'd; its default, often "", when unset).
 * Secret settings come back unsealed: wipe them after use.
 */
int core_setting_str(struct fp_ctx *, int64_t tenant_id, const char *key,
    char **out);
int core_setting_set(struct fp_ctx *, int64_t tenant_id, const char *key,
    const char *value, struct fp_status *st);
/* Every known key with its effective value and whether it is default. */
int core_setting_each(struct fp_ctx *, int64_t tenant_id,
    void (*fn)(void *arg, const char *key, const char *value, int is_default),
    void *arg);

/* ---- TLS certificates for names (certificate maker) --------------- */

/* What a caller asks for; the SAN values are borrowed. */
struct core_names_req {
	const struct pki_san *sans; /* exactly the names wanted */
	size_t nsans;
	struct pki_name subject; /* CN, O, C, ... (may be empty) */
	int days;
	const char *key_alg; /* server-made key: ec-p256, ... */
	const char *csr_pem; /* or the caller's CSR */
	size_t csr_len;
};

/*
 * Check a request completely without issuing: names, days against the
 * tenant's certmaker.max_days, the key choice, or the CSR (signature,
 * key policy; its names are taken as the SANs when 'sans' is empty and
 * returned through '*csr_sans' (free with pki_sans_free) so challenges
 * can be set for them).
 */
int core_names_check(struct fp_ctx *, const struct tenant *t,
    const struct core_names_req *req, struct pki_san **csr_sans, size_t *ncsr,
    struct fp_status *st);

/*
 * Issue: a certificate with exactly the requested SANs, serverAuth and
 * clientAuth, the CA's CRL and OCSP URLs, under the tenant's default CA.
 * A server-made key is sealed and stored with it.  'out' after commit.
 */
int core_names_issue(struct fp_ctx *, const struct tenant *t, int64_t user_id,
    const struct core_names_req *req, struct core_idem *idem,
    struct cert_rec *out, struct fp_status *st);

/*
 * The private key the server made for a certificate, PEM, into 'out'
 * (secret: the caller frees it with buf_free_secret).  -FP_E_NOTFOUND
 * when the server holds none for it, -FP_E_INTERNAL when the sealed key
 * does not open (logged).
 */
int core_cert_private_key(struct fp_ctx *, const struct cert_rec *rec,
    struct buf *out);

/*
 * Revoke the tenant's certificate 'serial' (only 'only_user''s when > 0)
 * with RFC 5280 'reason', issue a fresh CRL and let OCSP see it at once.
 * -FP_E_NOTFOUND / -FP_E_GONE (already revoked).
 */
int core_cert_revoke(struct fp_ctx *, const struct tenant *t,
    const char *serial, int reason, int64_t only_user);

/*
 * The names request as JSON carries it: the certificate maker's request
 * body, and what a challenge keeps.  'core_names_schema' decodes it
 * ({"domains", "ips", "email_addresses", "subject": {"organization",
 * "country", "province", "locality", "street_address", "postal_code",
 * "common_name"}, "days", "key"}, all optional, nothing else).
 */
struct core_names_json {
	struct json_strs domains, ips, emails;
	const struct pki_name *subject; /* NULL when absent */
	struct json_int days;
	const char *key;
};
extern const struct json_schema core_names_schema;

/*
 * The core request for 'in': its SANs copied into 'a', days defaulting
 * to the tenant's certmaker.default_days.
 */
int core_names_from_json(struct fp_ctx *, const struct tenant *t,
    struct arena *a, const struct core_names_json *in,
    struct core_names_req *out);

/* ---- challenges (proof of control before issuance) ---------------- */

/* Whether tenant 't' asks for proof first (certmaker.require_challenge). */
int core_challenge_required(struct fp_ctx *, const struct tenant *t, int *on);

/* An open challenge: what the caller is told.  Wipe 'token' after use. */
struct core_challenge {
	char public_id[33];
	char token[81];
	int64_t expires_at;
};

/* Wipe the token. */
void core_challenge_clear(struct core_challenge *);

/*
 * Check 'req' completely (as core_names_check: what would be refused
 * after the proof is refused now), keep it, and open a challenge for
 * user 'user_id' with a fresh token valid certmaker.challenge_ttl.
 */
int core_challenge_open(struct fp_ctx *, const struct tenant *t,
    int64_t user_id, const struct core_names_req *req,
    struct core_challenge *out, struct fp_status *st);

/*
 * Solve user 'user_id''s challenge 'public_id': fetch the token from
 * every name on 'port' (core_challenge_verify), then issue the kept
 * request exactly once and fill 'out'.  A challenge solved before
 * answers with its certificate again.  -FP_E_NOTFOUND (no such challenge
 * of this user), -FP_E_GONE (expired), -FP_E_EXPECTATION (not proven),
 * -FP_E_CONFLICT (another solver is issuing), or the issuance's errors;
 * reasons in 'st'.  'a' holds the decoded request while it runs.
 */
int core_challenge_solve(struct fp_ctx *, const struct tenant *t,
    int64_t user_id, const char *public_id, int port, struct arena *a,
    struct cert_rec *out, struct fp_status *st);

/*
 * Prove control of every name of 'sans' by fetching
 * http://<name>:<port>/.well-known/certmaker-challenge/token.txt and
 * comparing with 'token'; localhost, 127.0.0.1 and ::1 are never
 * fetched.  -FP_E_EXPECTATION with a reason at the first failure.
 */
int core_challenge_verify(struct fp_ctx *, const struct pki_san *sans,
    size_t nsans, int port, const char *token, struct fp_status *st);

/* ---- security-services accounts (account.c) ---------------------- */

#define CORE_APIKEY_SECRET_LEN 32
#define CORE_AUTHTOKEN_TTL 3600 /* an hour, as the spec's samples */
#define CORE_REFRESH_TTL (3 * 86400) /* "can be used for 3 days" */
/* A rotated RefreshToken presented again within this is a race, not theft. */
#define CORE_REFRESH_GRACE 10

/*
 * A new API key for tenant 't' into 'out' (its UUID), and its secret
 * (CORE_APIKEY_SECRET_LEN characters and a NUL) into 'secret', which the
 * caller shows once and wipes: only its HMAC is kept.
 */
int core_apikey_create(struct fp_ctx *, const struct tenant *t,
    struct apikey_rec *out, char secret[CORE_APIKEY_SECRET_LEN + 1]);

/* What /authenticate and /refreshauthtoken answer.  Secret: clear it. */
struct core_session {
	char *auth_token; /* an ES256 JWT, malloc'd */
	char refresh_token[44]; /* base64url of 32 random bytes */
};
void core_session_clear(struct core_session *);

/*
 * POST /authenticate: API key 'key' with its 'secret' -> a session; the
 * request's tenant becomes the key's.  Every failure that is the
 * caller's (no such key, a revoked one, a wrong secret) is the same
 * -FP_E_UNAUTH "Not Authorized.".
 */
int core_authenticate(struct fp_ctx *, const char *key, const char *secret,
    struct core_session *out, struct fp_status *st);

/*
 * POST /refreshauthtoken: rotate 'refresh_token' of 'key' into a new
 * session.  A token not live (unknown, expired, revoked, rotated) is
 * -FP_E_UNAUTH; one rotated more than CORE_REFRESH_GRACE ago revokes its
 * whole family first.  Of concurrent refreshes of one token exactly one
 * succeeds.
 */
int core_refresh(struct fp_ctx *, const char *key, const char *refresh_token,
    struct core_session *out, struct fp_status *st);

#endif
