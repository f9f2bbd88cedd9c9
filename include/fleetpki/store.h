/*
 * store: typed access to the registry in PostgreSQL.  The only module
 * that speaks SQL (through the named statements of statements.h).
 *
 * Every tenant-owned lookup takes the tenant id and is scoped by it: a
 * row of another tenant is simply not found (-FP_E_NOTFOUND).  Records
 * returned are copies owned by the caller (free with the matching
 * *_clear function), never pointers into a PGresult.
 *
 * Errors.  Every function returns 0 or a negative code; besides those
 * named at each function, any may return:
 *   -FP_E_UNAVAILABLE  the database cannot be reached (the call did not
 *                      hang: connect_timeout), or a transient conflict
 *                      (serialization failure, deadlock) outlived the
 *                      retries of store_tx;
 *   -FP_E_BADREQ       the database refused a value as malformed (a
 *                      data exception, SQLSTATE class 22: a bad
 *                      timestamp filter, say);
 *   -FP_E_INTERNAL     anything else; logged with the statement's name.
 * "-FP_E_NOTFOUND" below always includes "exists, but in another
 * tenant".  A record a read fills must hold nothing to free: reads
 * may zero it first, also when they then fail.
 */
#ifndef FLEETPKI_STORE_H
#define FLEETPKI_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleetpki/buf.h"
#include "fleetpki/error.h"

struct db;

#define STORE_NAME_MAX 64

/*
 * The process's store: one PostgreSQL connection, opaque to callers.
 * store_open makes no connection yet (a daemon must start while the
 * database is down); store_ready connects if needed and returns 0 or
 * -FP_E_UNAVAILABLE.  Every other function connects on demand too.
 * 'connect_timeout' is in seconds.  store_close accepts NULL.
 */
struct db *store_open(const char *conninfo, int connect_timeout);
int store_ready(struct db *);
void store_close(struct db *);
/*
 * Commits on this store need not wait for the disk (db_async_commit).
 * For a process that writes only bookkeeping whose loss in a database
 * crash means doing the work again: the webhook children, whose lost
 * "delivered" record sends that delivery once more, with the same
 * webhook-id (delivery is at least once anyway).  Never for a process
 * that commits what a client was told is done.
 */
void store_async_commit(struct db *);

/* A round trip to the database: 0 or -FP_E_UNAVAILABLE. */
int store_ping(struct db *);

/*
 * The tenant every following call runs for, until the next call of
 * this (0: none).  Row-level security (sql/005) shows a statement only
 * that tenant's rows, and none without one; every statement is still
 * scoped by its tenant argument, so this is the second wall, not the
 * first.  The front sets it after authentication and clears it after
 * each request; paths that learn their tenant from a public id (OCSP,
 * CRLs, the worker) set it from the store_*_tenant_* lookups below.
 * The database hears of it inside each transaction only (set_config
 * local, in the statement's own round trip; see db.h), never for the
 * session, so it cannot leak into the next request.
 */
void store_set_tenant(struct db *, int64_t tenant_id);
int64_t store_tenant(const struct db *);

/*
 * Run 'fn'(db, 'arg') in one transaction: BEGIN, fn, COMMIT, or
 * ROLLBACK when fn returns non-zero (that code is returned).  A
 * serialization failure or deadlock anywhere in it (SQLSTATE 40001,
 * 40P01, COMMIT included) rolls back and runs the whole of fn again, up
 * to a few times with a short random pause, so fn must be safe to
 * repeat: no effects outside the database, or effects it redoes.
 *
 * Called inside another store_tx (or store_crl_issue), fn simply runs
 * as part of the enclosing transaction: nested work commits or rolls
 * back with the outermost.  A failed statement aborts the whole
 * transaction in PostgreSQL, so fn must pass its error up, not recover
 * from it and carry on; if it does carry on, store_tx reports
 * -FP_E_INTERNAL and commits nothing.
 *
 * Returns 0, fn's error, or -FP_E_UNAVAILABLE (no database, or still
 * conflicting after the last try), -FP_E_INTERNAL (BEGIN/COMMIT
 * failed).
 */
typedef int (*store_tx_fn)(struct db *, void *arg);
int store_tx(struct db *, store_tx_fn fn, void *arg);

struct tenant {
	int64_t id;
	char name[STORE_NAME_MAX + 1];
};

/* -FP_E_NOTFOUND when there is no tenant 'name'. */
int store_tenant_by_name(struct db *, const char *name, struct tenant *);
/* The current tenant's own row (row-level security shows no other). */
int store_tenant_by_id(struct db *, int64_t id, struct tenant *);
/* -FP_E_CONFLICT when the name is taken. */
int store_tenant_create(struct db *, const char *name, struct tenant *);
/* Calls 'fn' for each tenant in name order. */
int store_tenant_each(struct db *, void (*fn)(void *arg, const struct tenant *),
    void *arg);

struct ca_rec {
	int64_t id;
	int64_t tenant_id;
	char name[STORE_NAME_MAX + 1];
	char public_id[33];
	bool is_default;
	char *key_alg;
	struct buf cert_der;
	struct buf key_sealed;
	char *fingerprint;
	char *subject;
	char key_id[41]; /* SKI, upper-case hex */
	int64_t not_before, not_after;
	int64_t crl_number;
};

void ca_rec_clear(struct ca_rec *);
/*
 * Insert; the tenant's first CA becomes its default.  Sets rec->id and
 * rec->is_default.  -FP_E_CONFLICT when the name is taken.
 */
int store_ca_insert(struct db *, struct ca_rec *rec);
/* The single-CA reads: -FP_E_NOTFOUND when no CA matches. */
int store_ca_default(struct db *, int64_t tenant_id, struct ca_rec *);
int store_ca_by_id(struct db *, int64_t tenant_id, int64_t id, struct ca_rec *);
/*
 * The tenant of the CA with the id printed in CRL URLs, or with key
 * identifier 'key_id' (OCSP's issuerKeyHash): the lookups that precede
 * a tenant, through the owner's functions of sql/005.  They answer the
 * tenant only; the caller sets it (store_set_tenant) and then reads the
 * CA with the scoped reads below.  -FP_E_NOTFOUND for no such CA.
 */
int store_ca_tenant_by_public_id(struct db *, const char *public_id,
    int64_t *tenant_id);
int store_ca_tenant_by_key_id(struct db *, const char *key_id,
    int64_t *tenant_id);
/*
 * OCSP's other CertID hashes (sql/009): the tenant and CA whose public
 * key hashes, under 'alg' ("sha256", "sha384", "sha512"), to 'hash'
 * (upper-case hex); -FP_E_NOTFOUND for none.  Before any tenant, through
 * the owner's fleetpki_ca_by_key_hash.  The insert is the CA's creator's
 * (once per CA and hash; again is nothing); the missing ones are the
 * CAs made before sql/009, whose hashes `fleetpki migrate` writes.
 */
int store_ca_by_key_hash(struct db *, const char *alg, const char *hash,
    int64_t *tenant_id, int64_t *ca_id);
int store_ca_key_hash_insert(struct db *, int64_t tenant_id, int64_t ca_id,
    const char *alg, const char *hash);
int store_ca_missing_key_hashes(struct db *, struct ca_rec **out, size_t *n);
/* The tenant's CA by public id, or by key identifier; -FP_E_NOTFOUND. */
int store_ca_by_public_id(struct db *, int64_t tenant_id, const char *public_id,
    struct ca_rec *);
int store_ca_by_key_id(struct db *, int64_t tenant_id, const char *key_id,
    struct ca_rec *);
/*
 * All CAs, or one tenant's when 'tenant_id' > 0; array owned by caller
 * (store_ca_list_free), NULL and 0 on failure.
 */
int store_ca_list(struct db *, int64_t tenant_id, struct ca_rec **out,
    size_t *n);
void store_ca_list_free(struct ca_rec *, size_t n);

struct cert_rec {
	int64_t id;
	int64_t tenant_id;
	int64_t ca_id;
	char serial[41];
	char fingerprint[96];
	char *ca_fingerprint; /* filled by reads */
	char *tenant_name; /* filled by reads */
	char *subject;
	char *pem;
	int64_t not_before, not_after; /* Unix seconds */
	int64_t created_ms, modified_ms;
	bool issued_by_pki;
	bool auto_registered;
	char *belongs_device; /* NULL when none */
	char *belongs_application;
	int64_t revoked_at; /* 0 when not revoked */
	int reason;
	int64_t user_id; /* certificate-maker user, or 0 */
	struct buf key_sealed; /* server-made key, or empty */
};

void cert_rec_clear(struct cert_rec *);
/*
 * Sets rec->id, created_ms and modified_ms.  -FP_E_CONFLICT on a serial
 * or fingerprint collision (the caller signs again with a new serial).
 */
int store_cert_insert(struct db *, struct cert_rec *rec, const char *idem_key,
    const char *idem_hash);

/*
 * Idempotency-Key 'key' of the tenant (with an insert above, 'idem_key'
 * and 'idem_hash', its row commits with the certificate, or neither
 * does; a key in use is -FP_E_CONFLICT like a serial collision).
 * store_idem_get: the hash of the request it was first used with, '*live'
 * when younger than 'ttl' seconds, and its certificate (with its sealed
 * key) into a zeroed 'c'; -FP_E_NOTFOUND for a key never used.
 * store_idem_expire: forget the key if it is older than 'ttl'.
 * store_idem_prune: forget every key older than 'ttl'.
 */
int store_idem_get(struct db *, int64_t tenant_id, const char *key, int64_t ttl,
    char hash[65], bool *live, struct cert_rec *c);
int store_idem_expire(struct db *, int64_t tenant_id, const char *key,
    int64_t ttl);
int store_idem_prune(struct db *, int64_t ttl);
/*
 * A live certificate (not removed through the identity API) into a
 * zeroed '*c'; -FP_E_NOTFOUND otherwise.
 */
int store_cert_get(struct db *, int64_t tenant_id, const char *fingerprint,
    struct cert_rec *);

/* Filters of the identity API's keyVal; NULL members match anything. */
struct cert_filter {
	const char *fingerprint;
	const char *ca_fingerprint;
	const char *pem;
	const char *subject;
	const char *not_before; /* timestamps as ISO 8601 text */
	const char *not_after;
	const char *created_at;
	const char *modified_at;
	const char *issued_by_pki; /* "true" / "false" */
	const char *auto_registered;
	const char *belongs_device;
	const char *belongs_application;
};

/*
 * A page of the tenant's live certificates, oldest first, and the
 * number of all that match.  '*out' is an array of '*n' records
 * (store_cert_array_free).  A malformed timestamp filter is
 * -FP_E_BADREQ.
 */
int store_cert_page(struct db *, int64_t tenant_id, const struct cert_filter *f,
    int64_t offset, int limit, struct cert_rec **out, size_t *n,
    int64_t *total);
void store_cert_array_free(struct cert_rec *, size_t n);

/*
 * Remove a certificate from the identity API and revoke it, in one
 * transaction.  Fills 'rec' (ca_id, serial).  -FP_E_NOTFOUND when the
 * tenant has no such live certificate.
 */
int store_cert_remove(struct db *, int64_t tenant_id, const char *fingerprint,
    int reason, struct cert_rec *rec);

/*
 * Any certificate of the tenant by serial (upper-case hex), removed or
 * not, with its sealed key when the server made it; -FP_E_NOTFOUND.
 */
int store_cert_by_serial(struct db *, int64_t tenant_id, const char *serial,
    struct cert_rec *);

/*
 * Revoke the tenant's certificate 'serial' with 'reason'.  With
 * 'only_user' > 0 only that user's certificate is touched.  Fills
 * 'rec' (id, ca_id, user_id).  -FP_E_NOTFOUND when there is no such
 * certificate (or it is another user's), -FP_E_GONE when it was
 * already revoked.
 */
int store_cert_revoke(struct db *, int64_t tenant_id, const char *serial,
    int reason, int64_t only_user, struct cert_rec *rec);

/* Revocation status of serials issued by a CA (OCSP). */
struct ocsp_status_rec {
	char serial[41];
	int64_t revoked_at; /* 0: issued and not revoked */
	int reason;
};
/*
 * One record per serial of 'serials' that CA 'ca_id' issued (serials it
 * never issued are absent).  '*out' is an array of '*n' (free()).
 * -FP_E_BADREQ when a serial is not upper-case hex.
 */
int store_ocsp_status(struct db *, int64_t ca_id, const char *const *serials,
    size_t nserials, struct ocsp_status_rec **out, size_t *n);

/* ---- certificate-maker users ---- */

struct user_rec {
	int64_t id;
	int64_t tenant_id;
	char tenant[STORE_NAME_MAX + 1];
	char name[STORE_NAME_MAX + 1];
	bool is_admin;
	bool disabled;
};

/* -FP_E_CONFLICT when the tenant has a user of that name. */
int store_user_create(struct db *, int64_t tenant_id, const char *name,
    const char *token_hash, bool is_admin, struct user_rec *);
/* The user whose token hashes to 'token_hash'; -FP_E_NOTFOUND. */
int store_user_by_token(struct db *, const char *token_hash, struct user_rec *);
/*
 * Users named 'name' (in one tenant when 'tenant_id' > 0), by tenant
 * name; '*out' (free()) may be empty: not an error.
 */
int store_user_find(struct db *, const char *name, int64_t tenant_id,
    struct user_rec **out, size_t *n);
/* 0 also when no user has that id (the caller looked it up). */
int store_user_set_disabled(struct db *, int64_t id, bool disabled);
/* Every user (of one tenant when 'tenant_id' > 0). */
int store_user_each(struct db *, int64_t tenant_id,
    void (*fn)(void *arg, const struct user_rec *), void *arg);

/* ---- per-tenant settings ---- */

/* '*value' malloc'd; -FP_E_NOTFOUND when the tenant did not set it. */
int store_setting_get(struct db *, int64_t tenant_id, const char *key,
    char **value);
/* Insert or replace; the core has validated 'key' and 'value'. */
int store_setting_set(struct db *, int64_t tenant_id, const char *key,
    const char *value);
/* Calls 'fn' for each key the tenant set, in key order. */
int store_setting_each(struct db *, int64_t tenant_id,
    void (*fn)(void *arg, const char *key, const char *value), void *arg);

/* ---- challenges ---- */

struct challenge_rec {
	int64_t id;
	int64_t tenant_id;
	int64_t user_id;
	char public_id[33];
	char token[81];
	char kind[8]; /* "simple" or "csr" */
	char *request; /* as received */
	int64_t expires_at;
	bool claimed;
	char serial[41]; /* "" until issued */
};

void challenge_rec_clear(struct challenge_rec *);
/* Sets rec->id.  -FP_E_CONFLICT if 'public_id' is taken. */
int store_challenge_insert(struct db *, struct challenge_rec *rec);
/* -FP_E_NOTFOUND when the tenant has no such challenge. */
int store_challenge_get(struct db *, int64_t tenant_id, const char *public_id,
    struct challenge_rec *);
/* Take the right to issue: 0 once, -FP_E_CONFLICT for everyone after. */
int store_challenge_claim(struct db *, int64_t id);
/* Record the issued serial, or (NULL) release the claim after a failure. */
int store_challenge_finish(struct db *, int64_t id, const char *serial);

struct revoked_rec {
	char serial[41];
	int64_t revoked_at;
	int reason;
	int64_t not_after; /* the certificate's, Unix seconds */
};

struct crl_rec {
	int64_t ca_id;
	int64_t crl_number;
	int64_t this_update, next_update;
	struct buf der;
	int64_t base_number; /* a delta CRL's BaseCRLNumber; -1: complete */
	bool is_base;	     /* a complete CRL that deltas are issued over */
};

void crl_rec_clear(struct crl_rec *);
/*
 * The newest complete CRL of CA 'ca_id' ('delta' false) or its newest
 * delta CRL ('delta' true); -FP_E_NOTFOUND when none was issued yet.
 */
int store_crl_latest(struct db *, int64_t ca_id, bool delta, struct crl_rec *);

/*
 * Issue a CRL atomically: in one transaction, take the next crlNumber
 * of CA 'ca_id' (the row lock orders concurrent issuers), read its
 * revocations, call 'build' to sign the CRL, and store it.  'build'
 * fills crl->der from the revocations and the number it is given.
 * It runs through store_tx: inside an enclosing store_tx it joins that
 * transaction, and on a serialization failure 'build' is called again.
 * -FP_E_NOTFOUND when the tenant has no CA 'ca_id'; build's error as
 * it returned it.
 */
typedef int (*store_crl_builder)(void *arg, int64_t crl_number,
    const struct revoked_rec *rev, size_t nrev, struct crl_rec *crl);
/*
 * 'delta' false: a complete CRL of every revocation, marked a base when
 * the CA's newest base began more than 'base_interval' seconds ago (or
 * it has none).  'delta' true: a delta CRL over the newest base, of the
 * revocations begun since ten minutes before that base did (sql/027),
 * crl->base_number set before 'build' is called; -FP_E_CONFLICT when
 * the CA has no base yet.
 */
int store_crl_issue(struct db *, int64_t tenant_id, int64_t ca_id, bool delta,
    int64_t base_interval, store_crl_builder build, void *arg,
    struct crl_rec *out);

/* What one mass-revocation statement did. */
struct revoke_batch {
	int64_t revoked; /* revoked by this statement */
	int64_t already; /* were revoked before */
	char *
	    missing; /* serials of no certificate of the CA, "A,B" (malloc'd) */
};

/*
 * Revoke the certificates of CA 'ca_id' with the 'n' serials (upper-case
 * hex; at most a few thousand a call: they travel as one array), or
 * issued in [from, to) (Unix seconds), with 'reason', in one statement.
 */
int store_revoke_serials(struct db *, int64_t tenant_id, int64_t ca_id,
    const char *const *serials, size_t n, int reason, struct revoke_batch *out);
int store_revoke_issued_between(struct db *, int64_t tenant_id, int64_t ca_id,
    int64_t from, int64_t to, int reason, struct revoke_batch *out);

/* Delete all but the newest 'keep' CRLs of every CA; '*deleted' says how many. */
int store_crl_prune(struct db *, int keep, int64_t *deleted);

/* A CA named by its tenant and id. */
struct ca_ref {
	int64_t tenant_id;
	int64_t id;
};

/* A delegated OCSP responder of a CA (sql/025). */
struct ocsp_responder_rec {
	int64_t tenant_id;
	int64_t ca_id;
	char serial[41];
	struct buf cert_der;
	struct buf key_sealed;
	int64_t not_before, not_after;
};

void ocsp_responder_rec_clear(struct ocsp_responder_rec *);
int store_ocsp_responder_insert(struct db *, const struct ocsp_responder_rec *);
/*
 * The CA's newest responder in force now; -FP_E_NOTFOUND when it has
 * none (the CA signs its answers itself).  Fills serial, the DER, the
 * sealed key and the validity.
 */
int store_ocsp_responder_current(struct db *, int64_t tenant_id,
    int64_t ca_id, struct ocsp_responder_rec *);
/* Delete the CA's expired responders ('all': every one); how many. */
int store_ocsp_responder_delete(struct db *, int64_t tenant_id, int64_t ca_id,
    bool all, int64_t *deleted);
/*
 * CAs of every tenant whose newest responder has less than half its
 * life left (through the owner's function of sql/025): '*n' (free()).
 */
int store_ocsp_responders_due(struct db *, struct ca_ref **out, size_t *n);

/* A CA that needs a CRL, and which kinds. */
struct crl_due {
	int64_t tenant_id;
	int64_t id;
	bool complete; /* a complete CRL first */
	bool delta;    /* then a delta CRL (always after a complete one) */
};

/*
 * CAs of every tenant that need a CRL (sql/027): a complete CRL when the
 * newest is missing, has nextUpdate before 'before', its base began
 * before 'base_before', or ('on_revoke') it lacks a revocation; a delta
 * when the newest delta is missing, older than the newest complete CRL
 * or base, has nextUpdate before 'delta_before', or lacks a revocation.
 * An array of '*n' (free()), through the owner's function; issue each
 * under its tenant (store_set_tenant).
 */
int store_crl_due(struct db *, int64_t before, int64_t delta_before,
    int64_t base_before, bool on_revoke, struct crl_due **out, size_t *n);

struct jwt_key_rec {
	char kid[65];
	char *public_pem;
	struct buf private_sealed;
	bool active;
};

void jwt_key_rec_clear(struct jwt_key_rec *);
/* -FP_E_NOTFOUND for an unknown 'kid'. */
int store_jwt_key_get(struct db *, const char *kid, struct jwt_key_rec *);
/* The newest active key; -FP_E_NOTFOUND when there is none. */
int store_jwt_key_active(struct db *, struct jwt_key_rec *);
/* -FP_E_CONFLICT when 'kid' exists. */
int store_jwt_key_insert(struct db *, const struct jwt_key_rec *);

struct servercert_rec {
	char *pem;
	int64_t updated_at;
};

void servercert_rec_clear(struct servercert_rec *);
/* -FP_E_NOTFOUND until the slot is set; 'pem' malloc'd. */
int store_servercert_get(struct db *, const char *server, const char *slot,
    struct servercert_rec *);
/* Insert or replace the slot's certificate. */
int store_servercert_set(struct db *, const char *server, const char *slot,
    const char *pem);

/*
 * ---- job queue (job.c, notify.c; sql/004_jobs.sql) ----
 *
 * fleetpki-worker's jobs.  'kinds' below is a list of kind names
 * ([a-z0-9_.], as the jobs table checks) that one runner claims;
 * 'owner' names the claimant ("host:pid:n"), so that only the holder of
 * a claim finishes it (a worker whose lease ran out and was taken over
 * cannot overwrite the new holder's result).
 */
#define STORE_JOB_KIND_MAX 64

struct job_rec {
	int64_t id;
	char kind[STORE_JOB_KIND_MAX + 1];
	char *key; /* '' for a kind's one job */
	int64_t tenant_id; /* 0: the system's own */
	char *args; /* JSON text */
	char state[16]; /* pending|running|done|failed */
	int attempts, max_attempts;
	int64_t run_at; /* Unix seconds; 0 when NULL */
	int64_t lease_until;
	char *locked_by; /* NULL when never claimed */
	char *last_error; /* NULL when none */
	int64_t created_at, updated_at, finished_at;
};

void job_rec_clear(struct job_rec *);
void store_job_list_free(struct job_rec *, size_t n);

/*
 * Queue a job of 'kind' for 'key' ('' for the kind's one job), run in
 * 'delay_s' seconds, 'max_attempts' tries.  Idempotent: when one is
 * already pending or running for (kind, key), '*id' is 0 and nothing
 * changes.  Wakes the workers (NOTIFY, at commit).
 */
int store_job_enqueue(struct db *, const char *kind, const char *key,
    int64_t tenant_id, const char *args, int delay_s, int max_attempts,
    int64_t *id);
/*
 * Queue the next run of a scheduled kind: 'every_s' after its last run
 * finished, or now; a no-op ('*id' 0) while one is queued, so every
 * worker on every host may call it on each pass.
 */
int store_job_schedule(struct db *, const char *kind, int every_s,
    int max_attempts, int64_t *id);
/* Fail for good the jobs whose lease ran out on their last attempt. */
int store_job_reap(struct db *);
/*
 * Claim the next due job of 'kinds' for 'lease_s' seconds: pending and
 * due, or running with its lease run out (its worker died).  Attempts
 * count up at the claim.  -FP_E_NOTFOUND when nothing is due.
 */
int store_job_claim(struct db *, const char *const *kinds, size_t nkinds,
    int lease_s, const char *owner, struct job_rec *);
/* Mark a claimed job done; -FP_E_NOTFOUND when 'owner' lost the lease. */
int store_job_done(struct db *, int64_t id, const char *owner);
/*
 * Record a failed attempt ('error', one line): pending again in
 * 'backoff_s' seconds, or failed for good after the last attempt
 * ('*final' true).  -FP_E_NOTFOUND when 'owner' lost the lease.
 */
int store_job_fail(struct db *, int64_t id, const char *owner,
    const char *error, int backoff_s, bool *final);
/*
 * Milliseconds until a job of 'kinds' is due (0: now), -1 when none is
 * queued.
 */
int store_job_next_due_ms(struct db *, const char *const *kinds, size_t nkinds,
    int64_t *ms);
/* Delete jobs done more than a day ago. */
int store_job_prune(struct db *);
/* The newest 'limit' jobs, newest first; free with store_job_list_free. */
int store_job_list(struct db *, int limit, struct job_rec **out, size_t *n);
/* -FP_E_NOTFOUND for an unknown id. */
int store_job_get(struct db *, int64_t id, struct job_rec *);
/*
 * Operator's retry: a failed job starts over (attempts 0), a pending
 * one runs now.  -FP_E_NOTFOUND when there is no such job or it is done
 * or running; -FP_E_CONFLICT when another job of the same kind and key
 * is queued.
 */
int store_job_retry(struct db *, int64_t id);

/*
 * LISTEN for enqueued jobs and wait up to 'timeout_ms' for one: 1 when
 * a notification came (or the connection was new, so one may have been
 * missed: look again), 0 on timeout or a signal, never an error (no
 * database: it sleeps the timeout, and the next call reconnects and
 * listens again).
 */
int store_job_wait(struct db *, int timeout_ms);
/*
 * Whether a revocation committed (channel fleetpki_revoked, sql/016)
 * since the last call, as the waits (and statements) saw it; clears it.
 * The same LISTEN connection hears both channels.
 */
int store_revoked_heard(void);

/* ---- security-services accounts (account.c, sql/008) ---- */

struct apikey_rec {
	int64_t id;
	int64_t tenant_id;
	char key[37]; /* a UUID, as clients send it */
	char secret_hash[65]; /* HMAC-SHA256 of the secret, hex */
	bool revoked;
	int64_t created_at;
};

/*
 * The tenant of API key 'key': the one lookup before a tenant is known
 * (through the owner's fleetpki_apikey_tenant).  -FP_E_NOTFOUND for a
 * key of no tenant.
 */
int store_apikey_tenant(struct db *, const char *key, int64_t *tenant_id);
/* -FP_E_NOTFOUND when the tenant has no such key (revoked ones count). */
int store_apikey_get(struct db *, int64_t tenant_id, const char *key,
    struct apikey_rec *);
/* Sets rec->id and created_at.  -FP_E_CONFLICT on a key collision. */
int store_apikey_insert(struct db *, struct apikey_rec *rec);
/* Every key of the tenant, oldest first; '*out' is free()d. */
int store_apikey_list(struct db *, int64_t tenant_id, struct apikey_rec **out,
    size_t *n);
/*
 * Revoke the key and every refresh token issued for it, at once.
 * -FP_E_NOTFOUND when the tenant has no such key still active.
 */
int store_apikey_revoke(struct db *, int64_t tenant_id, const char *key);

/* The first token of a new family, good for 'ttl' seconds. */
int store_refresh_insert(struct db *, int64_t tenant_id, int64_t api_key_id,
    const char *family, const char *token_hash, int64_t ttl);
/*
 * Rotate: the live, unused token 'old_hash' of the key is marked used
 * and 'new_hash' joins its family with the family's expiry, in one
 * statement; of concurrent rotations of one token exactly one returns
 * 0, the others -FP_E_NOTFOUND (as for a token that was not live).
 */
int store_refresh_rotate(struct db *, int64_t tenant_id, int64_t api_key_id,
    const char *old_hash, const char *new_hash);

/* Why a token did not rotate. */
struct refresh_state {
	char family[33];
	bool used; /* rotated already */
	bool revoked; /* its family was revoked */
	bool expired;
	int64_t used_ago; /* seconds since it was rotated */
};

/* -FP_E_NOTFOUND for a token the key never had. */
int store_refresh_state(struct db *, int64_t tenant_id, int64_t api_key_id,
    const char *token_hash, struct refresh_state *);
/* Revoke every live token of the family. */
int store_refresh_revoke_family(struct db *, int64_t tenant_id,
    const char *family);

#endif
