/*
 * core/device: the device protocol's server side
 * (docs/device-protocol.md §6, §7, §10) and the operator's sealing.
 *
 * A request is authenticated before anything about the device is
 * told: its ROT names a tenant (fleetpki_device_tenant), the tenant is
 * set, the sealed root secret is opened under the master key (AAD
 * "device:<tenant>:<ROT>"), the request MAC key derived and the MAC
 * checked.  An unknown ROT, a wrong MAC and a blocked device give the
 * same 401 after the same MAC work (a dummy key for an unknown ROT).
 * Then, in one transaction (store_tx): the counter (accepted only by
 * UPDATE ... WHERE counter < $n; a regression writes a
 * device_clone_events row and commits it), the clock, bootstrapped, the
 * rate limit, the body, and the work with its events.  A refusal after
 * the counter rolls the transaction back, so it does not advance the
 * counter (§6).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "fleetpki/buf.h"
#include "fleetpki/core_device.h"
#include "fleetpki/core_ztp.h"
#include "fleetpki/json.h"
#include "fleetpki/log.h"
#include "fleetpki/signer.h"
#include "fleetpki/store.h"
#include "fleetpki/util.h"

#define UNAUTH_MESSAGE "The device could not be authenticated."
#define ID_CHARS                                                               \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"

/* ---- answers ------------------------------------------------------- */

static void
answer_error(struct device_answer *out, int status, const char *code,
    const char *msg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "Error", json_object_new_string(code));
	json_object_object_add(o, "Message", json_object_new_string(msg));
	json_object_put(out->body);
	out->body = o;
	out->status = status;
}

/* The 401 of §6: the same for every reason, never MAC'd. */
static void
answer_unauth(struct device_answer *out)
{
	out->maced = false;
	answer_error(out, 401, "UNAUTHORIZED", UNAUTH_MESSAGE);
}

void
core_device_answer_clear(struct device_answer *a)
{
	if (a == NULL)
		return;
	json_object_put(a->body);
	a->body = NULL;
	devproto_keys_wipe(&a->keys);
	OPENSSL_cleanse(a->req_mac, sizeof(a->req_mac));
}

int
core_device_answer_mac(const struct device_answer *a, const unsigned char *body,
    size_t len, int64_t now, char hex[DEVPROTO_MAC_HEX_LEN + 1])
{
	struct devproto_resp r = { a->rot, a->counter, a->req_mac, a->status,
		now, body, len };
	unsigned char mac[DEVPROTO_MAC_LEN];

	if (devproto_response_mac(a->keys.response, &r, mac) != 0)
		return -FP_E_INTERNAL;
	devproto_hex_encode(mac, sizeof(mac), hex);
	return 0;
}

void
core_device_aad(int64_t tenant_id, const char *rot, char *out, size_t outlen)
{
	snprintf(out, outlen, "device:%lld:%s", (long long)tenant_id, rot);
}

/* ---- bodies (§7) --------------------------------------------------- */

static int
printable(const char *s, size_t min, size_t max)
{
	size_t i, len = strlen(s);

	if (len < min || len > max)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

static int
of_chars(const char *s, const char *chars, size_t min, size_t max)
{
	size_t len = strlen(s);

	return len >= min && len <= max && strspn(s, chars) == len;
}

static const struct json_field bootstrap_fields[] = {
	{ "DeviceSerialNumber", JF_STRING, 1, 1, 16, 0, 0, NULL },
	{ "DeviceProfileUID", JF_STRING, 0, 1, 64, 0, 0, NULL },
	{ "IMEI", JF_STRING, 0, 1, 16, 0, 0, NULL },
	{ "FirmwareVersion", JF_STRING, 0, 1, 64, 0, 0, NULL },
};

int
device_bootstrap_parse(json_object *obj, struct device_bootstrap_body *out,
    struct fp_status *st)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (!json_object_is_type(obj, json_type_object))
		return fp_fail(st, FP_E_BADREQ,
		    "The body must be a JSON object.");
	if ((rc = json_validate(obj, bootstrap_fields,
	         FP_ARRAY_LEN(bootstrap_fields), st)) != 0)
		return -FP_E_BADREQ;
	out->serial = json_get_str(obj, "DeviceSerialNumber", NULL);
	out->profile_uid = json_get_str(obj, "DeviceProfileUID", NULL);
	out->imei = json_get_str(obj, "IMEI", NULL);
	out->firmware = json_get_str(obj, "FirmwareVersion", NULL);
	if (!printable(out->serial, 1, 16))
		return fp_fail(st, FP_E_BADREQ,
		    "DeviceSerialNumber has 1 to 16 printable ASCII "
		    "characters.");
	if (out->profile_uid != NULL &&
	    !of_chars(out->profile_uid, ID_CHARS, 1, 64))
		return fp_fail(st, FP_E_BADREQ,
		    "DeviceProfileUID has 1 to 64 of A-Z a-z 0-9 . _ : -.");
	if (out->imei != NULL && !of_chars(out->imei, "0123456789", 1, 16))
		return fp_fail(st, FP_E_BADREQ, "IMEI has 1 to 16 digits.");
	if (out->firmware != NULL && !printable(out->firmware, 1, 64))
		return fp_fail(st, FP_E_BADREQ,
		    "FirmwareVersion has 1 to 64 printable ASCII characters.");
	return 0;
}

static const struct json_field ack_fields[] = {
	{ "Id", JF_STRING, 1, 1, 64, 0, 0, NULL },
	{ "Status", JF_STRING, 1, 1, 16, 0, 0, NULL },
	{ "Error", JF_STRING, 0, 1, 256, 0, 0, NULL },
	{ "Csr", JF_STRING, 0, 1, 16 * 1024, 0, 0, NULL },
};

int
device_heartbeat_parse(json_object *obj, struct device_heartbeat_body *out,
    struct fp_status *st)
{
	json_object *acks;
	size_t i, j, n;

	memset(out, 0, sizeof(*out));
	if (!json_object_is_type(obj, json_type_object))
		return fp_fail(st, FP_E_BADREQ,
		    "The body must be a JSON object.");
	json_object_object_foreach(obj, key, val)
	{
		(void)val;
		if (strcmp(key, "Acks") != 0)
			return fp_fail(st, FP_E_BADREQ,
			    "Unknown member '%.64s'.", key);
	}
	if (!json_object_object_get_ex(obj, "Acks", &acks))
		return fp_fail(st, FP_E_BADREQ, "Acks is required.");
	if (!json_object_is_type(acks, json_type_array))
		return fp_fail(st, FP_E_BADREQ, "Acks must be an array.");
	if ((n = json_object_array_length(acks)) > DEVICE_ACKS_MAX)
		return fp_fail(st, FP_E_BADREQ,
		    "Acks has at most %d acknowledgements.", DEVICE_ACKS_MAX);
	for (i = 0; i < n; i++) {
		json_object *a = json_object_array_get_idx(acks, i);
		const char *id, *status, *error, *csr;

		if (!json_object_is_type(a, json_type_object))
			return fp_fail(st, FP_E_BADREQ,
			    "Acks[%zu] must be an object.", i);
		if (json_validate(a, ack_fields, FP_ARRAY_LEN(ack_fields),
		        st) != 0)
			return -FP_E_BADREQ;
		id = json_get_str(a, "Id", NULL);
		status = json_get_str(a, "Status", NULL);
		error = json_get_str(a, "Error", NULL);
		csr = json_get_str(a, "Csr", NULL);
		if (!of_chars(id, ID_CHARS, 1, 64))
			return fp_fail(st, FP_E_BADREQ,
			    "Acks[%zu].Id has 1 to 64 of A-Z a-z 0-9 . _ : -.",
			    i);
		if (strcmp(status, "SUCCESS") != 0 &&
		    strcmp(status, "FAILURE") != 0)
			return fp_fail(st, FP_E_BADREQ,
			    "Acks[%zu].Status is SUCCESS or FAILURE.", i);
		if (error != NULL &&
		    (strcmp(status, "FAILURE") != 0 ||
		        !printable(error, 1, 256)))
			return fp_fail(st, FP_E_BADREQ,
			    "Acks[%zu].Error goes with FAILURE only: 1 to 256 "
			    "printable characters.",
			    i);
		if (csr != NULL && strcmp(status, "SUCCESS") != 0)
			return fp_fail(st, FP_E_BADREQ,
			    "Acks[%zu].Csr goes with SUCCESS only.", i);
		/* An Id acknowledged twice keeps its first acknowledgement. */
		for (j = 0; j < out->nacks; j++)
			if (strcmp(out->acks[j].id, id) == 0)
				break;
		if (j < out->nacks)
			continue;
		out->acks[out->nacks].id = id;
		out->acks[out->nacks].success = strcmp(status, "SUCCESS") == 0;
		out->acks[out->nacks].error = error;
		out->acks[out->nacks].csr = csr;
		out->nacks++;
	}
	return 0;
}

/* ---- settings ------------------------------------------------------ */

struct dev_settings {
	long long skew, burst, interval, hb_default;
};

static void
collect_setting(void *varg, const char *key, const char *value, int dflt)
{
	struct dev_settings *s = varg;
	long long v;

	(void)dflt;
	if (util_parse_int(value, 0, 366LL * 86400, &v) != 0)
		return;
	if (strcmp(key, "device_clock_skew") == 0)
		s->skew = v;
	else if (strcmp(key, "device_heartbeat_burst") == 0 && v >= 1)
		s->burst = v;
	else if (strcmp(key, "device_heartbeat_interval") == 0 && v >= 1)
		s->interval = v;
	else if (strcmp(key, "device_heartbeat_default") == 0 && v >= 1)
		s->hb_default = v;
}

/* ---- the work of one request -------------------------------------- */

enum outcome {
	OUT_OK,
	OUT_REPLAY,
	OUT_SKEW,
	OUT_NOT_BOOTSTRAPPED,
	OUT_RATE,
	OUT_BODY,
};

struct work {
	struct fp_ctx *ctx;
	const struct device_req *req;
	int64_t tenant_id, device_id;
	const char *rot;
	uint64_t counter;
	int64_t timestamp, now;
	const unsigned char *mac;
	struct dev_settings set;
	/* the body, parsed before the transaction */
	int body_rc;
	struct fp_status body_st;
	struct device_bootstrap_body boot;
	struct device_heartbeat_body hb;
	json_object *parsed; /* what the body's strings point into */
	/* out */
	enum outcome outcome;
	char reason[32];
	int64_t last_counter;
	long long retry_after;
	json_object *answer;
};

/*
 * The answer's Commands: the pending SET_PROPERTIES (ZTP appends here),
 * from 'known' when the caller read the pending row already (seq 0:
 * there is none), else read here.
 */
static int
commands(struct db *db, struct work *w, const struct device_desired_rec *known,
    json_object **out)
{
	struct device_desired_rec d;
	const struct device_desired_rec *p = known;
	json_object *arr = json_object_new_array(), *props = NULL, *cmd;
	char id[32];
	int rc;

	*out = arr;
	memset(&d, 0, sizeof(d));
	if (p == NULL) {
		rc = store_device_desired(db, w->tenant_id, w->device_id, &d);
		if (rc == -FP_E_NOTFOUND)
			return 0;
		if (rc != 0)
			return rc;
		p = &d;
	}
	if (p->seq > 0 && p->props != NULL &&
	    json_parse_strict(p->props, strlen(p->props), &props, NULL) == 0 &&
	    json_object_is_type(props, json_type_object) &&
	    json_object_object_length(props) > 0) {
		snprintf(id, sizeof(id), "p-%lld", (long long)p->seq);
		cmd = json_object_new_object();
		json_object_object_add(cmd, "Id", json_object_new_string(id));
		json_object_object_add(cmd, "Type",
		    json_object_new_string("SET_PROPERTIES"));
		json_object_object_add(cmd, "Properties", props);
		json_object_array_add(arr, cmd);
	} else
		json_object_put(props);
	device_desired_rec_clear(&d);
	return 0;
}

/* Add 'key' to 'changes' as {From, To} when the value changed. */
static void
change(json_object *changes, const char *key, const char *from, const char *to)
{
	json_object *c;

	if (to == NULL || (from != NULL && strcmp(from, to) == 0))
		return;
	c = json_object_new_object();
	json_object_object_add(c, "From",
	    from != NULL && *from != '\0' ? json_object_new_string(from)
	                                  : NULL);
	json_object_object_add(c, "To", json_object_new_string(to));
	json_object_object_add(changes, key, c);
}

static int
event(struct db *db, struct work *w, const char *type, json_object *payload)
{
	char *text = json_dump(payload);
	int rc;

	rc = store_device_event(db, w->tenant_id, w->device_id, w->rot, type,
	    text);
	free(text);
	json_object_put(payload);
	return rc;
}

/* The bootstrap provisioning a device gets in 'state', as JSON text. */
static char *
bootstrap_props(const char *bootstrap, const char *state)
{
	json_object *o = NULL, *f, *v;
	char *text = NULL;

	if (bootstrap == NULL ||
	    json_parse_strict(bootstrap, strlen(bootstrap), &o, NULL) != 0)
		return NULL;
	if (strcmp(state, "ACTIVATED") != 0) {
		/* ALLOCATED: no feature authorizations (§7.1). */
		f = json_object_new_object();
		if (json_object_object_get_ex(o, "SecurityHeartbeatInSec", &v))
			json_object_object_add(f, "SecurityHeartbeatInSec",
			    json_object_get(v));
		json_object_put(o);
		o = f;
	}
	if (json_object_is_type(o, json_type_object) &&
	    json_object_object_length(o) > 0)
		text = json_dump(o);
	json_object_put(o);
	return text;
}

static int
do_bootstrap(struct db *db, struct work *w, const struct device_rec *dev)
{
	const struct device_bootstrap_body *b = &w->boot;
	struct device_profile_rec prof;
	json_object *changes, *info, *ans, *cmds = NULL;
	const char *state;
	char *props = NULL;
	long long interval = 0;
	bool allowed = false, have_prof = false;
	int rc;

	memset(&prof, 0, sizeof(prof));
	if (b->profile_uid != NULL) {
		rc = store_device_profile_by_uid(db, w->tenant_id,
		    b->profile_uid, &prof);
		if (rc == -FP_E_NOTFOUND) {
			w->outcome = OUT_BODY;
			fp_fail(&w->body_st, FP_E_BADREQ,
			    "DeviceProfileUID is not a profile of this "
			    "device's tenant.");
			return -FP_E_BADREQ;
		}
		if (rc != 0)
			return rc;
		if (dev->profile_id != 0 && dev->profile_id != prof.id) {
			device_profile_rec_clear(&prof);
			w->outcome = OUT_BODY;
			fp_fail(&w->body_st, FP_E_BADREQ,
			    "The device is sealed with another "
			    "DeviceProfileUID.");
			return -FP_E_BADREQ;
		}
		have_prof = true;
	} else if (dev->profile_id != 0) {
		if ((rc = store_device_profile_by_id(db, w->tenant_id,
		         dev->profile_id, &prof)) != 0)
			return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
		have_prof = true;
	}
	if ((rc = store_device_allowed(db, w->tenant_id, w->rot, dev->imei,
	         b->imei, &allowed)) != 0)
		goto out;
	state = allowed ? "ACTIVATED" : "ALLOCATED";
	if ((rc = store_device_bootstrap(db, w->tenant_id, w->device_id, state,
	         have_prof ? prof.id : 0, b->serial, b->imei, b->firmware,
	         &interval)) != 0 ||
	    (rc = core_ztp_bootstrap(db, w->tenant_id, w->device_id)) != 0)
		goto out;
	if (strcmp(dev->state, state) != 0) {
		json_object *p = json_object_new_object();

		json_object_object_add(p, "From",
		    json_object_new_string(dev->state));
		json_object_object_add(p, "To", json_object_new_string(state));
		if ((rc = event(db, w, "DEVICE_STATE_CHANGE", p)) != 0)
			goto out;
	}
	changes = json_object_new_object();
	change(changes, "DeviceSerialNumber",
	    dev->bootstrapped ? dev->reported_serial : NULL, b->serial);
	change(changes, "IMEI", dev->bootstrapped ? dev->reported_imei : NULL,
	    b->imei);
	change(changes, "FirmwareVersion",
	    dev->bootstrapped ? dev->firmware : NULL, b->firmware);
	if (have_prof && dev->profile_id == 0)
		change(changes, "DeviceProfileUID", NULL, prof.uid);
	info = json_object_new_object();
	if (strcmp(dev->serial, b->serial) != 0) {
		/* Not what was sealed: also the suspicious report's. */
		json_object_object_add(info, "SerialMismatch",
		    json_object_new_boolean(1));
		json_object_object_add(info, "SealedSerial",
		    json_object_new_string(dev->serial));
	}
	if (json_object_object_length(changes) > 0 ||
	    json_object_object_length(info) > 0) {
		json_object_object_add(info, "Changes", changes);
		if ((rc = event(db, w, "DEVICE_INFO_CHANGE", info)) != 0)
			goto out;
	} else {
		json_object_put(changes);
		json_object_put(info);
	}
	if (have_prof &&
	    (props = bootstrap_props(prof.bootstrap, state)) != NULL &&
	    (rc = store_device_desired_merge(db, w->tenant_id, w->device_id,
	         props)) != 0)
		goto out;
	if ((rc = commands(db, w, NULL, &cmds)) != 0)
		goto out;
	ans = json_object_new_object();
	json_object_object_add(ans, "State", json_object_new_string(state));
	if (have_prof)
		json_object_object_add(ans, "DeviceProfileUID",
		    json_object_new_string(prof.uid));
	json_object_object_add(ans, "HeartbeatInSec",
	    json_object_new_int64(interval > 0 ? interval : w->set.hb_default));
	json_object_object_add(ans, "Commands", cmds);
	cmds = NULL;
	w->answer = ans;
out:
	json_object_put(cmds);
	free(props);
	device_profile_rec_clear(&prof);
	return rc;
}

static int
do_heartbeat(struct db *db, struct work *w, const struct device_rec *dev)
{
	struct device_desired_rec d;
	json_object *ans, *cmds = NULL, *p, *detail;
	char id[32], *text;
	long long interval = 0;
	bool acked = false;
	size_t i;
	int rc;

	rc = store_device_desired(db, w->tenant_id, w->device_id, &d);
	if (rc == -FP_E_NOTFOUND) {
		rc = 0;
		d.seq = 0;
	} else if (rc != 0)
		return rc;
	snprintf(id, sizeof(id), "p-%lld", (long long)d.seq);
	for (i = 0; d.seq > 0 && i < w->hb.nacks && !acked; i++) {
		const struct device_ack *a = &w->hb.acks[i];
		json_object *props = NULL;

		if (strcmp(a->id, id) != 0)
			continue; /* unknown, or superseded: ignored */
		rc = store_device_ack(db, w->tenant_id, w->device_id, d.seq,
		    a->success, d.props);
		if (rc != 0)
			break;
		if (json_parse_strict(d.props, strlen(d.props), &props, NULL) !=
		    0)
			props = json_object_new_object();
		p = json_object_new_object();
		detail = json_object_new_object();
		json_object_object_add(p, "CommandId",
		    json_object_new_string(a->id));
		if (a->success) {
			json_object_object_add(p, "Properties",
			    json_object_get(props));
			json_object_object_add(detail, "Properties", props);
		} else {
			json_object_put(props);
			json_object_object_add(p, "Error",
			    json_object_new_string(a->error != NULL
			            ? a->error
			            : "command failed"));
			json_object_object_add(detail, "Error",
			    json_object_new_string(a->error != NULL
			            ? a->error
			            : "command failed"));
		}
		rc = event(db, w,
		    a->success ? "DEVICE_PROPERTIES_CHANGE" : "DEVICE_ERROR",
		    p);
		text = json_dump(detail);
		json_object_put(detail);
		if (rc == 0)
			rc = store_device_activity(db, w->tenant_id,
			    w->device_id, a->id, "SET_PROPERTIES",
			    a->success ? "SUCCESS" : "FAILURE", text);
		free(text);
		acked = true;
	}
	/*
	 * The interval the current properties ask for: as accepted, unless
	 * an acknowledgement just changed them.
	 */
	interval = dev->interval;
	if (rc == 0 && acked)
		rc = store_device_heartbeat_done(db, w->tenant_id, w->device_id,
		    &interval);
	/* Nothing acknowledged: the pending command is the one just read. */
	if (rc == 0)
		rc = commands(db, w, acked ? NULL : &d, &cmds);
	device_desired_rec_clear(&d);
	/* ZTP's step, after the properties (ZTPV1 may just have applied). */
	if (rc == 0) {
		struct ztp_ack za[DEVICE_ACKS_MAX];

		for (i = 0; i < w->hb.nacks; i++) {
			za[i].id = w->hb.acks[i].id;
			za[i].success = w->hb.acks[i].success;
			za[i].error = w->hb.acks[i].error;
			za[i].csr = w->hb.acks[i].csr;
		}
		rc = core_ztp_step(w->ctx, db, w->tenant_id, w->device_id,
		    w->rot, za, w->hb.nacks, cmds);
	}
	if (rc != 0) {
		json_object_put(cmds);
		return rc;
	}
	ans = json_object_new_object();
	json_object_object_add(ans, "HeartbeatInSec",
	    json_object_new_int64(interval > 0 ? interval : w->set.hb_default));
	json_object_object_add(ans, "Commands", cmds);
	w->answer = ans;
	return 0;
}

/*
 * The transaction of one authenticated request, in §6's order.  A
 * refusal returns non-zero (rollback) with its outcome set, except the
 * counter's, whose evidence must commit.
 */
static int
request_tx(struct db *db, void *varg)
{
	struct work *w = varg;
	struct device_accept acc;
	struct device_rec dev;
	long long skew;
	int rc;

	json_object_put(w->answer); /* store_tx may run this again */
	w->answer = NULL;
	w->outcome = OUT_OK;
	memset(&acc, 0, sizeof(acc));
	acc.counter = (int64_t)w->counter;
	acc.mac = w->mac;
	acc.timestamp = w->timestamp;
	acc.peer = w->req->peer;
	acc.heartbeat = w->req->op == DEVICE_OP_HEARTBEAT;
	acc.burst = w->set.burst;
	acc.interval = w->set.interval;
	rc = store_device_accept(db, w->tenant_id, w->device_id, &acc, &dev,
	    w->reason, &w->last_counter);
	if (rc == -FP_E_CONFLICT) {
		w->outcome = OUT_REPLAY;
		return 0;
	}
	if (rc != 0)
		return rc;
	skew = w->timestamp > w->now ? w->timestamp - w->now
	                             : w->now - w->timestamp;
	if (skew > w->set.skew) {
		w->outcome = OUT_SKEW;
		return -FP_E_FORBIDDEN;
	}
	if (w->req->op == DEVICE_OP_HEARTBEAT) {
		if (!dev.bootstrapped) {
			w->outcome = OUT_NOT_BOOTSTRAPPED;
			return -FP_E_CONFLICT;
		}
		/* The token was taken with the counter (rolled back here). */
		if ((w->retry_after = dev.retry_after) > 0) {
			w->outcome = OUT_RATE;
			return -FP_E_RATELIMIT;
		}
	}
	if (w->body_rc != 0) {
		w->outcome = OUT_BODY;
		return -FP_E_BADREQ;
	}
	return w->req->op == DEVICE_OP_BOOTSTRAP ? do_bootstrap(db, w, &dev)
	                                         : do_heartbeat(db, w, &dev);
}

static int
blocked_tx(struct db *db, void *varg)
{
	struct work *w = varg;
	json_object *p = json_object_new_object();

	json_object_object_add(p, "Request",
	    json_object_new_string(
	        w->req->op == DEVICE_OP_BOOTSTRAP ? "bootstrap" : "heartbeat"));
	json_object_object_add(p, "Counter",
	    json_object_new_int64((int64_t)w->counter));
	if (w->req->peer != NULL)
		json_object_object_add(p, "Peer",
		    json_object_new_string(w->req->peer));
	return event(db, w, "DEVICE_BLOCKED_ATTEMPT", p);
}

static void
parse_body(struct work *w)
{
	json_object *obj = NULL;

	w->body_rc = json_parse_strict((const char *)w->req->body,
	    w->req->body_len, &obj, &w->body_st);
	if (w->body_rc != 0) {
		w->body_rc = -FP_E_BADREQ;
		return;
	}
	w->body_rc = w->req->op == DEVICE_OP_BOOTSTRAP
	    ? device_bootstrap_parse(obj, &w->boot, &w->body_st)
	    : device_heartbeat_parse(obj, &w->hb, &w->body_st);
	/* The decoded strings point into 'obj': kept for the request. */
	w->parsed = obj;
}

/* A MAC'd refusal. */
static void
answer_outcome(struct device_answer *out, const struct work *w)
{
	char msg[160];

	switch (w->outcome) {
	case OUT_REPLAY:
		snprintf(msg, sizeof(msg),
		    "The counter must be greater than %lld.",
		    (long long)w->last_counter);
		answer_error(out, 409, "COUNTER_REPLAY", msg);
		json_object_object_add(out->body, "LastCounter",
		    json_object_new_int64(w->last_counter));
		break;
	case OUT_SKEW:
		snprintf(msg, sizeof(msg),
		    "The timestamp is more than %lld seconds from the "
		    "server's clock.",
		    w->set.skew);
		answer_error(out, 403, "CLOCK_SKEW", msg);
		break;
	case OUT_NOT_BOOTSTRAPPED:
		answer_error(out, 409, "BOOTSTRAP_REQUIRED",
		    "The device must bootstrap first.");
		break;
	case OUT_RATE:
		snprintf(msg, sizeof(msg),
		    "Too many heartbeats: retry in %lld seconds.",
		    w->retry_after);
		answer_error(out, 429, "RATE_LIMITED", msg);
		json_object_object_add(out->body, "RetryAfter",
		    json_object_new_int64(w->retry_after));
		out->retry_after = w->retry_after;
		break;
	case OUT_BODY:
		answer_error(out, 400, "BAD_REQUEST",
		    fp_status_message(&w->body_st, FP_E_BADREQ));
		break;
	case OUT_OK:
		break;
	}
}

/* The header checks of §3: 0, or the unMAC'd 400 answered. */
static int
parse_headers(const struct device_req *req, struct device_answer *out,
    unsigned char *rot, uint64_t *counter, int64_t *ts, unsigned char *mac)
{
	const char *bad = NULL;

	if (req->query != NULL && *req->query != '\0') {
		answer_error(out, 400, "BAD_REQUEST",
		    "A device request has no query string.");
		return -1;
	}
	if (req->rot == NULL || devproto_rot_parse(req->rot, rot) != 0)
		bad = DEVPROTO_HDR_ROT;
	else if (req->counter == NULL ||
	    devproto_parse_counter(req->counter, counter) != 0)
		bad = DEVPROTO_HDR_COUNTER;
	else if (req->timestamp == NULL ||
	    devproto_parse_timestamp(req->timestamp, ts) != 0)
		bad = DEVPROTO_HDR_TIMESTAMP;
	else if (req->mac == NULL || devproto_parse_mac(req->mac, mac) != 0)
		bad = DEVPROTO_HDR_MAC;
	if (bad != NULL) {
		char msg[96];

		snprintf(msg, sizeof(msg), "%s is missing or malformed.", bad);
		answer_error(out, 400, "BAD_REQUEST", msg);
		return -1;
	}
	return 0;
}

/* An all-zero root secret: the MAC work of a device that does not exist. */
static const unsigned char dummy_secret[DEVPROTO_SECRET_LEN];

static int
verify(const unsigned char *secret, const unsigned char *rot,
    const struct devproto_req *dr, const unsigned char *mac,
    struct devproto_keys *keys)
{
	if (devproto_derive_keys(secret, rot, keys) != 0)
		return -1;
	return devproto_request_verify(keys->request, dr, mac);
}

int
core_device_request(struct fp_ctx *ctx, const struct device_req *req,
    struct device_answer *out)
{
	struct device_auth_rec dev;
	struct work w;
	struct buf secret = BUF_INIT;
	struct devproto_req dr;
	char rot_hex[DEVPROTO_ROT_HEX_LEN + 1], aad[96];
	int64_t tenant_id = 0;
	int rc, ok;

	memset(out, 0, sizeof(*out));
	memset(&w, 0, sizeof(w));
	memset(&dev, 0, sizeof(dev));
	if (parse_headers(req, out, out->rot, &out->counter, &w.timestamp,
	        out->req_mac) != 0)
		return 0;
	devproto_rot_format(out->rot, rot_hex);
	dr.rot = out->rot;
	dr.counter = out->counter;
	dr.timestamp = w.timestamp;
	dr.method = "POST";
	dr.path = req->path;
	dr.body = req->body;
	dr.body_len = req->body_len;

	rc = store_device_tenant(ctx->db, rot_hex, &tenant_id);
	if (rc == 0) {
		store_set_tenant(ctx->db, tenant_id);
		rc = store_device_auth(ctx->db, tenant_id, rot_hex, &dev);
	}
	if (rc == -FP_E_NOTFOUND) {
		/* The same work as a wrong MAC, and the same answer. */
		(void)verify(dummy_secret, out->rot, &dr, out->req_mac,
		    &out->keys);
		devproto_keys_wipe(&out->keys);
		answer_unauth(out);
		return 0;
	}
	if (rc != 0)
		goto done;
	core_device_aad(tenant_id, rot_hex, aad, sizeof(aad));
	rc = signer_unseal(ctx->signer, aad, dev.secret_sealed.data,
	    dev.secret_sealed.len, &secret);
	if (rc == -FP_E_UNAVAILABLE)
		goto done;
	if (rc != 0 || secret.len != DEVPROTO_SECRET_LEN) {
		/* A secret that does not open: nobody can speak for it. */
		log_warn("device %s: the root secret does not open", rot_hex);
		(void)verify(dummy_secret, out->rot, &dr, out->req_mac,
		    &out->keys);
		answer_unauth(out);
		rc = 0;
		goto done;
	}
	ok = verify(secret.data, out->rot, &dr, out->req_mac, &out->keys) == 0;
	buf_free_secret(&secret);
	w.ctx = ctx;
	w.req = req;
	w.tenant_id = tenant_id;
	w.device_id = dev.id;
	w.rot = rot_hex;
	w.counter = out->counter;
	w.mac = out->req_mac;
	w.now = (int64_t)time(NULL);
	if (!ok) {
		answer_unauth(out);
		rc = 0;
		goto done;
	}
	if (dev.blocked) {
		/* Told to the operator (the deny list's evidence), not to it. */
		log_info("device %s of tenant %lld: %s refused, the device is "
		         "blocked",
		    rot_hex, (long long)tenant_id,
		    req->op == DEVICE_OP_BOOTSTRAP ? "bootstrap" : "heartbeat");
		if ((rc = store_tx(ctx->db, blocked_tx, &w)) != 0)
			log_warn("device %s: recording a blocked attempt "
			         "failed",
			    rot_hex);
		answer_unauth(out);
		rc = 0;
		goto done;
	}
	out->maced = true;
	/* Every device_* setting: the tenant's, else the table's default. */
	if ((rc = core_setting_each(ctx, tenant_id, collect_setting, &w.set)) !=
	    0)
		goto done;
	parse_body(&w);
	rc = store_tx(ctx->db, request_tx, &w);
	if (rc == 0 && w.outcome == OUT_OK && w.answer != NULL) {
		out->status = 200;
		out->body = w.answer;
		w.answer = NULL;
	} else if (w.outcome != OUT_OK &&
	    (rc == 0 || rc == -FP_E_FORBIDDEN || rc == -FP_E_CONFLICT ||
	        rc == -FP_E_RATELIMIT || rc == -FP_E_BADREQ)) {
		answer_outcome(out, &w);
		rc = 0;
	} else if (rc == 0)
		rc = -FP_E_INTERNAL;
done:
	if (rc != 0)
		out->maced = false;
	json_object_put(w.answer);
	json_object_put(w.parsed);
	buf_free_secret(&secret);
	device_auth_rec_clear(&dev);
	return rc;
}

/* ---- the operator's ------------------------------------------------ */

/* Profile UIDs already looked up in one call (few per batch). */
#define PROFILE_CACHE 32
struct profile_cache {
	char uid[PROFILE_CACHE][65];
	int64_t id[PROFILE_CACHE]; /* 0: not a profile of the tenant */
	size_t n;
};

static int
profile_lookup(struct fp_ctx *ctx, int64_t tenant_id, struct profile_cache *c,
    const char *uid, int64_t *id)
{
	struct device_profile_rec p;
	size_t i;
	int rc;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->uid[i], uid) == 0) {
			*id = c->id[i];
			return 0;
		}
	rc = store_device_profile_by_uid(ctx->db, tenant_id, uid, &p);
	if (rc != 0 && rc != -FP_E_NOTFOUND)
		return rc;
	*id = rc == 0 ? p.id : 0;
	device_profile_rec_clear(&p);
	if (c->n < PROFILE_CACHE) {
		snprintf(c->uid[c->n], sizeof(c->uid[0]), "%s", uid);
		c->id[c->n++] = *id;
	}
	return 0;
}

static int
seal_check(struct fp_ctx *ctx, int64_t tenant_id, struct profile_cache *pc,
    struct core_seal_item *it, int64_t *profile_id)
{
	unsigned char rot[DEVPROTO_ROT_LEN];
	int rc;

	*profile_id = 0;
	if (it->rot == NULL || devproto_rot_parse(it->rot, rot) != 0) {
		snprintf(it->err, sizeof(it->err),
		    "ROTPublicUID must be 16 hex digits");
		return 0;
	}
	devproto_rot_format(rot, it->rot_norm);
	if (it->serial == NULL || !printable(it->serial, 1, 16)) {
		snprintf(it->err, sizeof(it->err),
		    "DeviceSerialNumber must have 1 to 16 printable "
		    "characters");
		return 0;
	}
	if (it->imei != NULL && !of_chars(it->imei, "0123456789", 1, 16)) {
		snprintf(it->err, sizeof(it->err),
		    "IMEI must have 1 to 16 digits");
		return 0;
	}
	if (it->scl != NULL && !printable(it->scl, 1, 64)) {
		snprintf(it->err, sizeof(it->err),
		    "SCLSerialNumber must have 1 to 64 printable characters");
		return 0;
	}
	if (it->secret_hex != NULL &&
	    (strlen(it->secret_hex) != 2 * DEVPROTO_SECRET_LEN ||
	        strspn(it->secret_hex, "0123456789abcdefABCDEF") !=
	            2 * DEVPROTO_SECRET_LEN)) {
		snprintf(it->err, sizeof(it->err),
		    "RootSecret must be 64 hex digits");
		return 0;
	}
	if (it->profile_uid != NULL) {
		if ((rc = profile_lookup(ctx, tenant_id, pc, it->profile_uid,
		         profile_id)) != 0)
			return rc;
		if (*profile_id == 0)
			snprintf(it->err, sizeof(it->err),
			    "no profile '%.64s' in this tenant",
			    it->profile_uid);
	}
	return 0;
}

int
core_device_seal(struct fp_ctx *ctx, const struct tenant *t, const char *batch,
    struct core_seal_item *items, size_t n, struct fp_status *st)
{
	struct device_seal_row *rows;
	struct profile_cache *pc;
	unsigned char secret[DEVPROTO_SECRET_LEN];
	char aad[96];
	size_t i;
	int rc = 0;

	rows = xcalloc(n > 0 ? n : 1, sizeof(*rows));
	pc = xcalloc(1, sizeof(*pc));
	store_set_tenant(ctx->db, t->id);
	for (i = 0; i < n && rc == 0; i++) {
		struct core_seal_item *it = &items[i];
		struct device_seal_row *r = &rows[i];

		it->err[0] = '\0';
		it->secret_out[0] = '\0';
		it->sealed = false;
		r->line = it->line;
		r->rot = it->rot;
		r->serial = it->serial;
		r->imei = it->imei;
		r->scl = it->scl;
		if ((rc = seal_check(ctx, t->id, pc, it, &r->profile_id)) != 0)
			break;
		if (it->err[0] != '\0')
			continue;
		r->rot = it->rot_norm;
		if (it->secret_hex != NULL)
			rc = devproto_hex_decode(it->secret_hex, secret,
			         sizeof(secret)) == 0
			    ? 0
			    : -FP_E_INTERNAL;
		else
			rc = RAND_bytes(secret, sizeof(secret)) == 1
			    ? 0
			    : -FP_E_INTERNAL;
		if (rc != 0)
			break;
		core_device_aad(t->id, it->rot_norm, aad, sizeof(aad));
		rc = signer_seal(ctx->signer, aad, secret, sizeof(secret),
		    &r->secret_sealed);
		if (rc == 0 && it->secret_hex == NULL)
			devproto_hex_encode(secret, sizeof(secret),
			    it->secret_out);
		OPENSSL_cleanse(secret, sizeof(secret));
	}
	if (rc == 0)
		rc = store_device_seal(ctx->db, t->id, batch, rows, n);
	for (i = 0; i < n; i++) {
		items[i].sealed = rc == 0 && rows[i].sealed;
		if (rc == 0 && !items[i].sealed && items[i].err[0] == '\0')
			snprintf(items[i].err, sizeof(items[i].err),
			    "ROTPublicUID %s is sealed already",
			    items[i].rot_norm);
		if (!items[i].sealed)
			OPENSSL_cleanse(items[i].secret_out,
			    sizeof(items[i].secret_out));
		buf_free(&rows[i].secret_sealed);
	}
	free(rows);
	free(pc);
	if (rc != 0)
		return fp_fail(st,
		    rc == -FP_E_UNAVAILABLE ? FP_E_UNAVAILABLE : FP_E_INTERNAL,
		    "sealing failed");
	return 0;
}

int
core_device_block(struct fp_ctx *ctx, const struct tenant *t, const char *rot,
    bool block, struct fp_status *st)
{
	unsigned char raw[DEVPROTO_ROT_LEN];
	char hex[DEVPROTO_ROT_HEX_LEN + 1];
	int rc;

	if (devproto_rot_parse(rot, raw) != 0)
		return fp_fail(st, FP_E_BADREQ,
		    "a ROTPublicUID is 16 hex digits");
	devproto_rot_format(raw, hex);
	store_set_tenant(ctx->db, t->id);
	rc = store_device_block(ctx->db, t->id, hex, block);
	if (rc == -FP_E_NOTFOUND)
		return fp_fail(st, FP_E_NOTFOUND,
		    "tenant '%s' has no device %s", t->name, hex);
	if (rc == -FP_E_CONFLICT)
		return fp_fail(st, FP_E_CONFLICT, "device %s is %s already",
		    hex, block ? "blocked" : "not blocked");
	return rc;
}
