/*
 * core_device: the device protocol's server side (docs/device-protocol.md)
 * — authentication of a request, its counter, clock and rate limit,
 * bootstrap and heartbeat — and the operator's sealing, blocking and
 * unblocking of devices (fleetpki device ...).
 */
#ifndef FLEETPKI_CORE_DEVICE_H
#define FLEETPKI_CORE_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "fleetpki/core.h"
#include "fleetpki/devproto.h"
#include "fleetpki/store_device.h"

enum device_op { DEVICE_OP_BOOTSTRAP, DEVICE_OP_HEARTBEAT };

/* One device request as the front received it (headers NULL: absent). */
struct device_req {
	enum device_op op;
	const char *path;
	const char *query; /* "" or NULL: none */
	const char *rot;
	const char *counter;
	const char *timestamp;
	const char *mac;
	const unsigned char *body;
	size_t body_len;
	const char *peer;
};

/*
 * The answer: a status and a JSON body (owned), MAC'd or not (§5, §6).
 * When 'maced', the keys and the request's counter and MAC are kept for
 * core_device_answer_mac.
 */
struct device_answer {
	int status;
	json_object *body;
	bool maced;
	long long retry_after; /* > 0: also a Retry-After header */
	unsigned char rot[DEVPROTO_ROT_LEN];
	uint64_t counter;
	unsigned char req_mac[DEVPROTO_MAC_LEN];
	struct devproto_keys keys;
};

/*
 * Run request 'req' to its answer: every refusal of §6 is an answer
 * too (0).  A negative fp_err only when the server failed
 * (-FP_E_INTERNAL) or the database is down (-FP_E_UNAVAILABLE).
 * Clear 'out' with core_device_answer_clear.
 */
int core_device_request(struct fp_ctx *, const struct device_req *req,
    struct device_answer *out);

/*
 * The X-Device-MAC of a MAC'd answer whose body bytes are 'body', sent
 * with status 'out->status' at server time 'now': 64 hex digits to 'hex'.
 */
int core_device_answer_mac(const struct device_answer *out,
    const unsigned char *body, size_t len, int64_t now,
    char hex[DEVPROTO_MAC_HEX_LEN + 1]);
void core_device_answer_clear(struct device_answer *);

/*
 * "device:<tenant id>:<ROT>": the AAD a device's root secret is sealed
 * with (sql/010), into 'out'.
 */
void core_device_aad(int64_t tenant_id, const char *rot, char *out,
    size_t outlen);

/*
 * One device to seal (the CLI's --rot/--serial or a production-log
 * line).  'secret_hex' NULL: a fresh secret is made, and returned in
 * 'secret_out'.  After core_device_seal: 'err' says why the line was
 * refused ("" when it was not), 'sealed' whether it became a device.
 */
struct core_seal_item {
	int line;
	const char *rot;
	const char *serial;
	const char *imei;
	const char *profile_uid;
	const char *scl;
	const char *secret_hex;
	char rot_norm[DEVPROTO_ROT_HEX_LEN + 1];
	char secret_out[2 * DEVPROTO_SECRET_LEN + 1];
	char err[128];
	bool sealed;
};

/*
 * Seal 'n' items of tenant 't' in one statement (set-based): each valid
 * one whose ROT is sealed nowhere yet becomes a device, its secret
 * sealed under the master key; with 'batch' (a production log's name)
 * every item is recorded in device_prod_log, refused ones too.  A
 * refused or already-sealed item is not an error of the call.
 */
int core_device_seal(struct fp_ctx *, const struct tenant *t, const char *batch,
    struct core_seal_item *items, size_t n, struct fp_status *st);

/*
 * Block (the deny list) or unblock the tenant's device 'rot', with a
 * DEVICE_STATE_CHANGE event.  -FP_E_NOTFOUND, -FP_E_CONFLICT (already
 * so), -FP_E_BADREQ (not a ROT), reasons in 'st'.
 */
int core_device_block(struct fp_ctx *, const struct tenant *t, const char *rot,
    bool block, struct fp_status *st);

/* ---- pure parts (unit-tested) -------------------------------------- */

/*
 * Check a parsed bootstrap or heartbeat body against §7's rules: 0, or
 * -FP_E_BADREQ with the reason in 'st'.
 */
struct device_bootstrap_body {
	const char *serial;
	const char *profile_uid; /* NULL: absent */
	const char *imei;
	const char *firmware;
};
int device_bootstrap_parse(json_object *obj, struct device_bootstrap_body *out,
    struct fp_status *st);

#define DEVICE_ACKS_MAX 64
struct device_ack {
	const char *id;
	bool success;
	const char *error; /* FAILURE: why */
	const char *csr; /* GENERATE_KEY's SUCCESS: the device's CSR (ZTP) */
};
struct device_heartbeat_body {
	struct device_ack acks[DEVICE_ACKS_MAX];
	size_t nacks; /* duplicates of an Id removed: the first is kept */
};
int device_heartbeat_parse(json_object *obj, struct device_heartbeat_body *out,
    struct fp_status *st);

#endif
