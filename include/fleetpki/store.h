/*
 * store: typed access to the registry in PostgreSQL.  The only module
 * that speaks SQL (through the named statements of statements.h).
 *
 * Every tenant-owned lookup takes the tenant id and is scoped by it: a
 * row of another tenant is simply not found (-FP_E_NOTFOUND).  Records
 * returned are copies owned by the caller (free with the matching
 * *_clear function), never pointers into a PGresult.
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

/* A round trip to the database: 0 or -FP_E_UNAVAILABLE. */
int	store_ping(struct db *);

struct tenant {
	int64_t	id;
	char	name[STORE_NAME_MAX + 1];
};

int	store_tenant_by_name(struct db *, const char *name, struct tenant *);
/* -FP_E_CONFLICT when the name is taken. */
int	store_tenant_create(struct db *, const char *name, struct tenant *);
/* Calls 'fn' for each tenant in name order. */
int	store_tenant_each(struct db *,
	    void (*fn)(void *arg, const struct tenant *), void *arg);

struct ca_rec {
	int64_t		 id;
	int64_t		 tenant_id;
	char		 name[STORE_NAME_MAX + 1];
	char		 public_id[33];
	bool		 is_default;
	char		*key_alg;
	struct buf	 cert_der;
	struct buf	 key_sealed;
	char		*fingerprint;
	char		*subject;
	char		 key_id[41];	/* SKI, upper-case hex */
	int64_t		 not_before, not_after;
	int64_t		 crl_number;
};

void	ca_rec_clear(struct ca_rec *);
/*
 * Insert; the tenant's first CA becomes its default.  Sets rec->id and
 * rec->is_default.  -FP_E_CONFLICT when the name is taken.
 */
int	store_ca_insert(struct db *, struct ca_rec *rec);
int	store_ca_default(struct db *, int64_t tenant_id, struct ca_rec *);
int	store_ca_by_id(struct db *, int64_t tenant_id, int64_t id,
	    struct ca_rec *);
/* Public lookup by the id printed in CRL/OCSP URLs (not tenant-scoped). */
int	store_ca_by_public_id(struct db *, const char *public_id,
	    struct ca_rec *);
/* Public lookup by the CA's key identifier (OCSP's issuerKeyHash). */
int	store_ca_by_key_id(struct db *, const char *key_id, struct ca_rec *);
/* All CAs, or one tenant's when 'tenant_id' > 0; array owned by caller. */
int	store_ca_list(struct db *, int64_t tenant_id, struct ca_rec **out,
	    size_t *n);
void	store_ca_list_free(struct ca_rec *, size_t n);

struct cert_rec {
	int64_t	 id;
	int64_t	 tenant_id;
	int64_t	 ca_id;
	char	 serial[41];
	char	 fingerprint[96];
	char	*ca_fingerprint;	/* filled by reads */
	char	*tenant_name;		/* filled by reads */
	char	*subject;
	char	*pem;
	int64_t	 not_before, not_after;	/* Unix seconds */
	int64_t	 created_ms, modified_ms;
	bool	 issued_by_pki;
	bool	 auto_registered;
	char	*belongs_device;	/* NULL when none */
	char	*belongs_application;
	int64_t	 revoked_at;		/* 0 when not revoked */
	int	 reason;
	int64_t	 user_id;		/* certificate-maker user, or 0 */
	struct buf key_sealed;		/* server-made key, or empty */
};

void	cert_rec_clear(struct cert_rec *);
/* -FP_E_CONFLICT on a serial or fingerprint collision. */
int	store_cert_insert(struct db *, struct cert_rec *rec);
/* Not removed through the identity API. */
int	store_cert_get(struct db *, int64_t tenant_id, const char *fingerprint,
	    struct cert_rec *);

/* Filters of the identity API's keyVal; NULL members match anything. */
struct cert_filter {
	const char	*fingerprint;
	const char	*ca_fingerprint;
	const char	*pem;
	const char	*subject;
	const char	*not_before;	/* timestamps as ISO 8601 text */
	const char	*not_after;
	const char	*created_at;
	const char	*modified_at;
	const char	*issued_by_pki;	/* "true" / "false" */
	const char	*auto_registered;
	const char	*belongs_device;
	const char	*belongs_application;
};

/*
 * A page of the tenant's live certificates, oldest first, and the
 * number of all that match.  '*out' is an array of '*n' records.
 */
int	store_cert_page(struct db *, int64_t tenant_id,
	    const struct cert_filter *f, int64_t offset, int limit,
	    struct cert_rec **out, size_t *n, int64_t *total);
void	store_cert_array_free(struct cert_rec *, size_t n);

/*
 * Remove a certificate from the identity API and revoke it, in one
 * transaction.  Fills 'rec' (ca_id, serial).  -FP_E_NOTFOUND when the
 * tenant has no such live certificate.
 */
int	store_cert_remove(struct db *, int64_t tenant_id,
	    const char *fingerprint, int reason, struct cert_rec *rec);

/* Any certificate of the tenant by serial (upper-case hex), with key. */
int	store_cert_by_serial(struct db *, int64_t tenant_id, const char *serial,
	    struct cert_rec *);

/*
 * Revoke the tenant's certificate 'serial' with 'reason'.  With
 * 'only_user' > 0 only that user's certificate is touched.  Fills
 * 'rec' (id, ca_id, user_id).  -FP_E_NOTFOUND when there is no such
 * certificate (or it is another user's), -FP_E_GONE when it was
 * already revoked.
 */
int	store_cert_revoke(struct db *, int64_t tenant_id, const char *serial,
	    int reason, int64_t only_user, struct cert_rec *rec);

/* Revocation status of serials issued by a CA (OCSP). */
struct ocsp_status_rec {
	char	serial[41];
	int64_t	revoked_at;	/* 0: issued and not revoked */
	int	reason;
};
/*
 * One record per serial of 'serials' that CA 'ca_id' issued (serials it
 * never issued are absent).  '*out' is an array of '*n'.
 */
int	store_ocsp_status(struct db *, int64_t ca_id,
	    const char *const *serials, size_t nserials,
	    struct ocsp_status_rec **out, size_t *n);

/* ---- certificate-maker users ---- */

struct user_rec {
	int64_t	id;
	int64_t	tenant_id;
	char	tenant[STORE_NAME_MAX + 1];
	char	name[STORE_NAME_MAX + 1];
	bool	is_admin;
	bool	disabled;
};

/* -FP_E_CONFLICT when the tenant has a user of that name. */
int	store_user_create(struct db *, int64_t tenant_id, const char *name,
	    const char *token_hash, bool is_admin, struct user_rec *);
int	store_user_by_token(struct db *, const char *token_hash,
	    struct user_rec *);
/* Users named 'name' (in one tenant when 'tenant_id' > 0). */
int	store_user_find(struct db *, const char *name, int64_t tenant_id,
	    struct user_rec **out, size_t *n);
int	store_user_set_disabled(struct db *, int64_t id, bool disabled);
/* Every user (of one tenant when 'tenant_id' > 0). */
int	store_user_each(struct db *, int64_t tenant_id,
	    void (*fn)(void *arg, const struct user_rec *), void *arg);

/* ---- per-tenant settings ---- */

/* '*value' malloc'd; -FP_E_NOTFOUND when the tenant did not set it. */
int	store_setting_get(struct db *, int64_t tenant_id, const char *key,
	    char **value);
int	store_setting_set(struct db *, int64_t tenant_id, const char *key,
	    const char *value);
int	store_setting_each(struct db *, int64_t tenant_id,
	    void (*fn)(void *arg, const char *key, const char *value),
	    void *arg);

/* ---- challenges ---- */

struct challenge_rec {
	int64_t	 id;
	int64_t	 tenant_id;
	int64_t	 user_id;
	char	 public_id[33];
	char	 token[81];
	char	 kind[8];		/* "simple" or "csr" */
	char	*request;		/* as received */
	int64_t	 expires_at;
	bool	 claimed;
	char	 serial[41];		/* "" until issued */
};

void	challenge_rec_clear(struct challenge_rec *);
/* Sets rec->id. */
int	store_challenge_insert(struct db *, struct challenge_rec *rec);
int	store_challenge_get(struct db *, int64_t tenant_id,
	    const char *public_id, struct challenge_rec *);
/* Take the right to issue: 0 once, -FP_E_CONFLICT for everyone after. */
int	store_challenge_claim(struct db *, int64_t id);
/* Record the issued serial, or (NULL) release the claim after a failure. */
int	store_challenge_finish(struct db *, int64_t id, const char *serial);

struct revoked_rec {
	char	serial[41];
	int64_t	revoked_at;
	int	reason;
};

struct crl_rec {
	int64_t		ca_id;
	int64_t		crl_number;
	int64_t		this_update, next_update;
	struct buf	der;
};

void	crl_rec_clear(struct crl_rec *);
/* -FP_E_NOTFOUND when none was issued yet. */
int	store_crl_latest(struct db *, int64_t ca_id, struct crl_rec *);

/*
 * Issue a CRL atomically: in one transaction, take the next crlNumber
 * of CA 'ca_id' (the row lock orders concurrent issuers), read its
 * revocations, call 'build' to sign the CRL, and store it.  'build'
 * fills crl->der from the revocations and the number it is given.
 */
typedef int (*store_crl_builder)(void *arg, int64_t crl_number,
    const struct revoked_rec *rev, size_t nrev, struct crl_rec *crl);
int	store_crl_issue(struct db *, int64_t tenant_id, int64_t ca_id,
	    store_crl_builder build, void *arg, struct crl_rec *out);

/*
 * CAs whose newest CRL is missing, has nextUpdate before 'before', or
 * predates a revocation (its CRL after a revocation was not issued).
 */
int	store_crl_due(struct db *, int64_t before, struct ca_rec **out,
	    size_t *n);

struct jwt_key_rec {
	char		 kid[65];
	char		*public_pem;
	struct buf	 private_sealed;
	bool		 active;
};

void	jwt_key_rec_clear(struct jwt_key_rec *);
int	store_jwt_key_get(struct db *, const char *kid, struct jwt_key_rec *);
/* The newest active key; -FP_E_NOTFOUND when there is none. */
int	store_jwt_key_active(struct db *, struct jwt_key_rec *);
int	store_jwt_key_insert(struct db *, const struct jwt_key_rec *);

struct servercert_rec {
	char	*pem;
	int64_t	 updated_at;
};

void	servercert_rec_clear(struct servercert_rec *);
int	store_servercert_get(struct db *, const char *server, const char *slot,
	    struct servercert_rec *);
int	store_servercert_set(struct db *, const char *server, const char *slot,
	    const char *pem);

#endif
