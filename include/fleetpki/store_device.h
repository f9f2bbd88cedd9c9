/*
 * store_device: typed store access of the device protocol (sql/010,
 * sql/011): the device a request names, the counter, the rate limit,
 * bootstrap and heartbeat writes, and the operator's sealing, blocking
 * and unblocking.  Every statement names its tenant.
 */
#ifndef FLEETPKI_STORE_DEVICE_H
#define FLEETPKI_STORE_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleetpki/buf.h"

struct db;

#define DEVICE_ROT_HEX 16
#define DEVICE_SERIAL_MAX 16
#define DEVICE_IMEI_MAX 16
#define DEVICE_FIRMWARE_MAX 64
#define DEVICE_SCL_MAX 64
#define DEVICE_STATE_MAX 16

/*
 * The tenant of the device with ROT 'rot' (16 upper-case hex digits),
 * before any tenant is set: through the owner's fleetpki_device_tenant
 * (sql/010).  -FP_E_NOTFOUND for no such device.
 */
int store_device_tenant(struct db *, const char *rot, int64_t *tenant_id);

/* What a request's authentication needs of its device. */
struct device_auth_rec {
	int64_t id;
	int64_t tenant_id;
	char rot[DEVICE_ROT_HEX + 1];
	struct buf secret_sealed;
	bool blocked;
};
void device_auth_rec_clear(struct device_auth_rec *);
/* -FP_E_NOTFOUND when the tenant has no device 'rot'. */
int store_device_auth(struct db *, int64_t tenant_id, const char *rot,
    struct device_auth_rec *out);

/* The device once its counter was accepted (the row is locked). */
struct device_rec {
	char state[DEVICE_STATE_MAX + 1];
	bool bootstrapped;
	int64_t profile_id; /* 0: none */
	char serial[DEVICE_SERIAL_MAX + 1];
	char imei[DEVICE_IMEI_MAX + 1];
	char reported_serial[DEVICE_SERIAL_MAX + 1];
	char reported_imei[DEVICE_IMEI_MAX + 1];
	char firmware[DEVICE_FIRMWARE_MAX + 1];
	/* heartbeats: 0, or the seconds until the bucket has a token */
	int64_t retry_after;
	/* the interval the current properties ask for (0: none) */
	int64_t interval;
};

/* A request's counter, and for a heartbeat its token bucket. */
struct device_accept {
	int64_t counter;
	const unsigned char *mac; /* 32 bytes */
	int64_t timestamp;
	const char *peer;
	bool heartbeat; /* also take a token, set last_heartbeat */
	long long burst, interval; /* the bucket (device_heartbeat_*) */
};

/*
 * Accept 'a->counter' for device 'id': UPDATE ... SET counter = $n
 * WHERE counter < $n, with the request's MAC, timestamp and peer
 * (sql/011), inside the caller's transaction; for a heartbeat also
 * last_heartbeat and one token of its bucket ('out->retry_after' > 0:
 * there was none; the caller refuses and rolls back).  Fills 'out'.
 * -FP_E_CONFLICT when the counter did not grow: then a
 * device_clone_events row is written (its reason in 'reason',
 * COUNTER_REPLAY or COUNTER_CONFLICT) and '*last_counter' is the counter
 * the device is at.
 */
int store_device_accept(struct db *, int64_t tenant_id, int64_t id,
    const struct device_accept *a, struct device_rec *out, char reason[32],
    int64_t *last_counter);

/* A profile of the tenant, by UID or by id: -FP_E_NOTFOUND. */
struct device_profile_rec {
	int64_t id;
	char uid[65];
	char *bootstrap; /* jsonb as text, or NULL */
};
void device_profile_rec_clear(struct device_profile_rec *);
int store_device_profile_by_uid(struct db *, int64_t tenant_id, const char *uid,
    struct device_profile_rec *out);
int store_device_profile_by_id(struct db *, int64_t tenant_id, int64_t id,
    struct device_profile_rec *out);

/* Whether the ROT, or one of the IMEIs (NULL or "": none), is allowed. */
int store_device_allowed(struct db *, int64_t tenant_id, const char *rot,
    const char *imei1, const char *imei2, bool *allowed);

/*
 * The bootstrap's update of the device (profile_id 0: none), and the
 * interval its current properties ask for ('*interval' 0: none).
 */
int store_device_bootstrap(struct db *, int64_t tenant_id, int64_t id,
    const char *state, int64_t profile_id, const char *serial, const char *imei,
    const char *firmware, long long *interval);

/*
 * Merge 'props' (a JSON object's text) into the device's desired
 * properties with a new command seq (sql/010's device_desired).
 */
int store_device_desired_merge(struct db *, int64_t tenant_id, int64_t id,
    const char *props);

/*
 * The pending SET_PROPERTIES command: its seq and the properties it
 * carries for the device's state (an ALLOCATED device gets only
 * SecurityHeartbeatInSec), as JSON text.  -FP_E_NOTFOUND when none.
 */
struct device_desired_rec {
	int64_t seq;
	char *props;
};
void device_desired_rec_clear(struct device_desired_rec *);
int store_device_desired(struct db *, int64_t tenant_id, int64_t id,
    struct device_desired_rec *out);

/*
 * An acknowledgement of command 'seq': SUCCESS merges 'props' into the
 * current properties and counts the usage events applied as true;
 * either deletes the desired row.  -FP_E_NOTFOUND when 'seq' is no
 * longer the pending one.
 */
int store_device_ack(struct db *, int64_t tenant_id, int64_t id, int64_t seq,
    bool success, const char *props);

/* Append to the history (sql/010): an event, an activity row. */
int store_device_event(struct db *, int64_t tenant_id, int64_t id,
    const char *rot, const char *type, const char *payload);
int store_device_activity(struct db *, int64_t tenant_id, int64_t id,
    const char *command_id, const char *command, const char *status,
    const char *detail);

/*
 * The heartbeat's bookkeeping (last_heartbeat) and the interval the
 * device's current properties ask for ('*interval' 0: none).
 */
int store_device_heartbeat_done(struct db *, int64_t tenant_id, int64_t id,
    long long *interval);

/* ---- the operator's (fleetpki device ...) ------------------------- */

/*
 * One line of a production log, or the one device of `device seal`.
 * 'secret_sealed' empty: the line is recorded in the log only (a bad
 * line).  'profile_id' 0: none.
 */
struct device_seal_row {
	int line;
	const char *rot;
	const char *serial;
	const char *imei; /* NULL: none */
	int64_t profile_id;
	const char *scl; /* NULL: none */
	struct buf secret_sealed;
	bool sealed; /* out: the device was inserted */
};

/*
 * Seal 'n' rows in one statement: every row with a secret whose ROT is
 * not sealed yet becomes a device (the first row of a ROT wins); with a
 * 'batch' name, every row is also recorded in device_prod_log.  Sets
 * each row's 'sealed'.
 */
int store_device_seal(struct db *, int64_t tenant_id, const char *batch,
    struct device_seal_row *rows, size_t n);

/*
 * Set (block) or clear the device's blocked_at and record a
 * DEVICE_STATE_CHANGE event.  -FP_E_NOTFOUND: no such device;
 * -FP_E_CONFLICT: it is already so.
 */
int store_device_block(struct db *, int64_t tenant_id, const char *rot,
    bool block);

#endif
