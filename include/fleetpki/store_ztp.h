/*
 * store_ztp: zero-touch provisioning's rows (sql/026): roots, their
 * profile links, the devices' ZTP state, the worker's passes.  Every
 * call names its tenant except the worker's, which go through
 * sql/026's SECURITY DEFINER functions.
 */
#ifndef FLEETPKI_STORE_ZTP_H
#define FLEETPKI_STORE_ZTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleetpki/buf.h"

struct db;

#define ZTP_NAME_MAX 45

struct ztp_root_rec {
	int64_t ca_id;
	char name[ZTP_NAME_MAX + 1];
	char ca_name[65]; /* the cas row's own name, "ztp-<public id>" */
	int ca_days, device_days;
	int renew_before; /* 0: not set */
	char key_type[16];
	int64_t created_at, not_after;
	struct buf cert_der;
	int64_t devices; /* provisioned with a certificate of it */
};
void ztp_root_rec_clear(struct ztp_root_rec *);

/* What the signer made, and the settings: one new root. */
struct ztp_root_new {
	const char *public_id, *key_alg, *fingerprint, *subject, *key_id;
	const struct buf *cert_der, *key_sealed;
	int64_t not_before, not_after;
	const char *hashes; /* "sha256,sha384,sha512" hex, comma-separated */
	const char *name, *key_type;
	int ca_days, device_days, renew_before; /* renew_before 0: none */
};

/* -FP_E_CONFLICT: the name is taken (by any tenant). */
int store_ztp_root_insert(struct db *, int64_t tenant_id,
    const struct ztp_root_new *r, int64_t *ca_id);
/* -FP_E_NOTFOUND when the tenant has no live root 'name'. */
int store_ztp_root_by_name(struct db *, int64_t tenant_id, const char *name,
    struct ztp_root_rec *out);
int store_ztp_root_page(struct db *, int64_t tenant_id, int64_t offset,
    int64_t limit, struct ztp_root_rec **out, size_t *n, int64_t *total);
int store_ztp_root_set_renew(struct db *, int64_t tenant_id, int64_t ca_id,
    int renew_before);
int store_ztp_root_in_use(struct db *, int64_t tenant_id, int64_t ca_id,
    bool *in_use);
int store_ztp_root_delete(struct db *, int64_t tenant_id, int64_t ca_id);
/* ROTs of the devices with a certificate of root 'ca_id' (a page). */
int store_ztp_root_devices(struct db *, int64_t tenant_id, int64_t ca_id,
    int64_t offset, int64_t limit, char (**rots)[17], size_t *n);
/* The revoked serials of root 'ca_id', "A\nB\n" into 'out'. */
int store_ztp_root_revoked(struct db *, int64_t tenant_id, int64_t ca_id,
    char ***serials, size_t *n);
void store_ztp_strs_free(char **v, size_t n);

int store_ztp_profile_set(struct db *, int64_t tenant_id, int64_t profile_id,
    int64_t ca_id, bool server_key, const char *key_type);
int store_ztp_profile_delete(struct db *, int64_t tenant_id,
    int64_t profile_id);

/* One device's ZTP state (sql/026, ztp_devices). */
struct ztp_dev_rec {
	int64_t device_id;
	char rot[17];
	int64_t ca_id;
	char root_name[ZTP_NAME_MAX + 1];
	char state[8], op[10];
	int64_t seq;
	char key_type[16];
	bool server_key;
	struct buf pubkey;
	int64_t cert_id, pending_cert_id;
	char *wrapped;
	int days;
	char *pending_pem;
	char *cert_serial; /* installed certificate, or NULL */
	int64_t cert_not_after;
	char *cert_root; /* its root's name (differs during a transfer) */
	bool cert_revoked;
};
void ztp_dev_rec_clear(struct ztp_dev_rec *);

/* Enter ZTP if the device qualifies (nothing when not, or already in). */
int store_ztp_dev_start(struct db *, int64_t tenant_id, int64_t device_id,
    bool *started);
/* The device's row, locked for the transaction; -FP_E_NOTFOUND: none. */
int store_ztp_dev_get(struct db *, int64_t tenant_id, int64_t device_id,
    struct ztp_dev_rec *out);
/*
 * Write back state, op, pubkey (empty: unchanged), cert_id,
 * pending_cert_id and wrapped of 'r'; 'new_seq' takes a new command Id.
 */
int store_ztp_dev_put(struct db *, int64_t tenant_id,
    const struct ztp_dev_rec *r, bool new_seq);
/* The devices named by ROT or by certificate serial (text[] literals). */
int store_ztp_dev_named(struct db *, int64_t tenant_id, const char *rots,
    const char *serials, struct ztp_dev_rec **out, size_t *n);
/*
 * Move the named devices to 'state'/'op' with a new command Id, 'days'
 * (0: none) and root 'new_ca' (0: unchanged), in one statement.
 */
int store_ztp_dev_mark(struct db *, int64_t tenant_id, const char *rots,
    const char *serials, const char *state, const char *op, int days,
    int64_t new_ca, int64_t *marked);
/* Back to KEY (a new key) unless the device has no certificate. */
int store_ztp_dev_reset(struct db *, int64_t tenant_id, int64_t device_id);
int store_ztp_usage_add(struct db *, int64_t tenant_id, int64_t device_id,
    const char *event);

/* The worker's passes (sql/026): how many rows each touched. */
int store_ztp_auto_renew(struct db *, int64_t *marked);
int store_ztp_notices(struct db *, int64_t *written);

#endif
