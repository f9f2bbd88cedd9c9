/*
 * secsvc_e2e: end-to-end data protection routes of the
 * security-services dialect ("Service APIs" of security-services.txt;
 * the formats are docs/e2e.md).  Every route is a POST with a JSON body
 * and an AuthToken; errors are {"message": ...}.
 *
 *   POST /e2e/key/rotate  {ROTPublicUIDs | TagNames, Type, Days}
 *                                             -> {Message, Devices}
 *   POST /e2e/uplink/symmetrickey/get         {KeyID, KeyLength}
 *                                             -> {Key, ROTPublicUID}
 *   POST /e2e/uplink/protectionparameters/get {EncryptedHeader}
 *   POST /e2e/uplink/integrityparameters/get  {EncryptedHeader}
 *   POST /e2e/downlink/protectionparameters/get {ROTPublicUID}
 *   POST /e2e/downlink/integrityparameters/get  {ROTPublicUID}
 *
 * Keys, KIVs, nonces and IVs are base64 as in the spec's samples;
 * KeyID and EncryptedHeader are hex; ROTPublicUID is 16 upper-case hex
 * digits as on every other route of the dialect.  KeyEpoch is
 * fleetpki's: which epoch the keys are of.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "fleetpki/api.h"
#include "fleetpki/b64.h"
#include "fleetpki/buf.h"
#include "fleetpki/core.h"
#include "fleetpki/core_e2e.h"
#include "fleetpki/core_registry.h"
#include "fleetpki/devproto.h"
#include "fleetpki/http.h"
#include "fleetpki/json.h"

#define BODY_SMALL (16 * 1024)
#define BODY_LIST (4 * 1024 * 1024)
#define ROTS_MAX 1000
#define TAGS_MAX 100
#define TAG_LEN 255

static const char *const json_types[] = { "application/json", NULL };

/* ---- /e2e/key/rotate ------------------------------------------------ */

struct rotate_in {
	struct json_strs rots;
	struct json_strs tags;
	const char *type;
	struct json_int days;
};

static const struct json_field rotate_fields[] = {
	{ "ROTPublicUIDs", JF_STRINGS, 0, 0, ROTS_MAX, 64,
	    offsetof(struct rotate_in, rots), NULL },
	{ "TagNames", JF_STRINGS, 0, 1, TAGS_MAX, TAG_LEN,
	    offsetof(struct rotate_in, tags), NULL },
	{ "Type", JF_STRING, 1, 1, 16, 0, offsetof(struct rotate_in, type),
	    NULL },
	{ "Days", JF_INT, 0, E2E_DAYS_MIN, E2E_DAYS_MAX, 0,
	    offsetof(struct rotate_in, days), NULL },
};
static const struct json_schema rotate_schema =
    JSON_SCHEMA(struct rotate_in, rotate_fields);
static const struct route_body rotate_body = { BODY_LIST, json_types, 1,
	&rotate_schema, 0 };

static int
e2e_rotate(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct rotate_in *in = req->in;
	struct reg_names given = { in->rots.v, in->rots.n }, rots;
	struct reg_names tags = { in->tags.v, in->tags.n };
	int64_t devices = 0, adjusted = 0;
	json_object *obj;
	char msg[256];
	int days, rc;

	if (in->rots.n == 0 && in->tags.n == 0)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. ROTPublicUIDs or TagNames is required.");
	if (strcmp(in->type, "AUTOMATIC") == 0)
		days = in->days.set ? (int)in->days.v : E2E_DAYS_DEFAULT;
	else if (strcmp(in->type, "CONTINUOUS") == 0 && !in->days.set)
		days = 0;
	else if (strcmp(in->type, "CONTINUOUS") == 0)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. Days is only for Type AUTOMATIC.");
	else
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. Type must be CONTINUOUS or AUTOMATIC.");
	if ((rc = core_rots_check(req->arena, &given, &rots, st)) != 0 ||
	    (rc = core_e2e_rotate(req->ctx, req->tenant.id, &rots, &tags, days,
	         &devices, &adjusted, st)) != 0)
		return rc;
	if (devices == 0)
		return fp_fail(st, FP_E_NOTFOUND,
		    "Not Found. No activated device matches.");
	if (days == 0)
		snprintf(msg, sizeof(msg),
		    "The continuous rotation has been set. The key will be "
		    "rotated on every call.");
	else if (adjusted == 0)
		snprintf(msg, sizeof(msg),
		    "The automatic rotation has been set. The key will be "
		    "rotated every %d %s.",
		    days, days == 1 ? "day" : "days");
	else
		snprintf(msg, sizeof(msg),
		    "The automatic rotation has been set. The key will be "
		    "rotated every %d %s. The Security heartbeat has been "
		    "adjusted to %d %s.",
		    days, days == 1 ? "day" : "days", days,
		    days == 1 ? "day" : "days");
	obj = json_object_new_object();
	json_object_object_add(obj, "Message", json_object_new_string(msg));
	json_object_object_add(obj, "Devices", json_object_new_int64(devices));
	resp_json(resp, 200, obj);
	return 0;
}

/* ---- answers -------------------------------------------------------- */

static void
add_b64(json_object *obj, const char *name, const unsigned char *p, size_t n)
{
	struct buf b = BUF_INIT;

	b64_encode(p, n, &b);
	json_object_object_add(obj, name,
	    json_object_new_string_len((const char *)b.data, (int)b.len));
	buf_free_secret(&b);
}

static const char *
suite_name(int suite)
{
	return suite == E2E_SUITE_AES128_CCM ? "AES_128_CCM"
	    : suite == E2E_SUITE_AES256_CCM  ? "AES_256_CCM"
	                                     : "AES_128_CS1_HMAC_SHA256";
}

static void
add_common(json_object *obj, const struct e2e_params *p)
{
	add_b64(obj, "KIV", p->kiv_bytes, p->kiv_len);
	json_object_object_add(obj, "ROTPublicUID",
	    json_object_new_string(p->rot));
	json_object_object_add(obj, "KeyEpoch",
	    json_object_new_int64((int64_t)p->epoch));
}

/* ---- uplink --------------------------------------------------------- */

struct keyid_in {
	const char *keyid;
	struct json_int length;
};

static const struct json_field keyid_fields[] = {
	{ "KeyID", JF_STRING, 1, 1, 2 * E2E_KEYID_LEN, 0,
	    offsetof(struct keyid_in, keyid), NULL },
	{ "KeyLength", JF_INT, 0, 128, 256, 0,
	    offsetof(struct keyid_in, length), NULL },
};
static const struct json_schema keyid_schema =
    JSON_SCHEMA(struct keyid_in, keyid_fields);
static const struct route_body keyid_body = { BODY_SMALL, json_types, 1,
	&keyid_schema, 0 };

static int
e2e_symmetrickey(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct keyid_in *in = req->in;
	unsigned char kiv[E2E_KIV_V1_LEN];
	struct e2e_params p;
	json_object *obj;
	int64_t bits = in->length.set ? in->length.v : 256;
	int rc;

	if (bits != 128 && bits != 256)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. KeyLength must be 128 or 256.");
	kiv[0] = E2E_V1;
	kiv[1] = bits == 128 ? E2E_SUITE_AES128_CCM : E2E_SUITE_AES256_CCM;
	if (devproto_hex_decode(in->keyid, kiv + 2, E2E_KEYID_LEN) != 0)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. KeyID must be 28 hex digits (14 bytes).");
	if (kiv[14] != 0 || kiv[15] != 0)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. KeyID's last two bytes are reserved (zero).");
	if ((rc = core_e2e_uplink(req->ctx, req->tenant.id, kiv, sizeof(kiv),
	         E2E_USE_UPLINK_KEY, &p, st)) != 0)
		return rc;
	obj = json_object_new_object();
	add_b64(obj, "Key", p.key, p.key_len);
	json_object_object_add(obj, "ROTPublicUID",
	    json_object_new_string(p.rot));
	json_object_object_add(obj, "KeyEpoch",
	    json_object_new_int64((int64_t)p.epoch));
	core_e2e_params_wipe(&p);
	resp->secret = 1; /* keys: the tree and the body wiped once sent */
	resp_json(resp, 200, obj);
	return 0;
}

struct header_in {
	const char *header;
};

static const struct json_field header_fields[] = {
	{ "EncryptedHeader", JF_STRING, 1, 2 * E2E_KIV_V2_LEN,
	    2 * E2E_HDR_V1_LEN, 0, offsetof(struct header_in, header), NULL },
};
static const struct json_schema header_schema =
    JSON_SCHEMA(struct header_in, header_fields);
static const struct route_body header_body = { BODY_SMALL, json_types, 1,
	&header_schema, 0 };

static int
uplink_params(struct http_req *req, enum e2e_use use, struct e2e_params *p,
    struct fp_status *st)
{
	const struct header_in *in = req->in;
	unsigned char hdr[E2E_HDR_V1_LEN];
	size_t hexlen = strlen(in->header);

	if (hexlen % 2 != 0 ||
	    devproto_hex_decode(in->header, hdr, hexlen / 2) != 0)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. EncryptedHeader must be hex digits.");
	return core_e2e_uplink(req->ctx, req->tenant.id, hdr, hexlen / 2, use,
	    p, st);
}

static int
e2e_uplink_protection(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	struct e2e_params p;
	json_object *obj;
	int rc;

	if ((rc = uplink_params(req, E2E_USE_UPLINK_PROTECTION, &p, st)) != 0)
		return rc;
	obj = json_object_new_object();
	if (p.have_nonce)
		add_b64(obj, "Nonce", p.nonce, sizeof(p.nonce));
	json_object_object_add(obj, "MACLength",
	    json_object_new_int(E2E_TAG_LEN * 8));
	json_object_object_add(obj, "CipherSuite",
	    json_object_new_string(suite_name(p.kiv.suite)));
	add_b64(obj, "Key", p.key, p.key_len);
	add_common(obj, &p);
	core_e2e_params_wipe(&p);
	resp->secret = 1; /* keys: the tree and the body wiped once sent */
	resp_json(resp, 200, obj);
	return 0;
}

static int
e2e_uplink_integrity(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	struct e2e_params p;
	json_object *obj;
	int rc;

	if ((rc = uplink_params(req, E2E_USE_UPLINK_INTEGRITY, &p, st)) != 0)
		return rc;
	obj = json_object_new_object();
	json_object_object_add(obj, "MACLength",
	    json_object_new_int(E2E_TAG_LEN * 8));
	json_object_object_add(obj, "CipherSuite",
	    json_object_new_string(suite_name(p.kiv.suite)));
	/* CCM authenticates with its one key (CBC-MAC) */
	add_b64(obj, "AuthenticationKey", p.key, p.key_len);
	json_object_object_add(obj, "AuthKeyLength",
	    json_object_new_int((int)p.key_len * 8));
	add_common(obj, &p);
	core_e2e_params_wipe(&p);
	resp->secret = 1; /* keys: the tree and the body wiped once sent */
	resp_json(resp, 200, obj);
	return 0;
}

/* ---- downlink ------------------------------------------------------- */

struct rot_in {
	const char *rot;
};

static const struct json_field rot_fields[] = {
	{ "ROTPublicUID", JF_STRING, 1, 1, 64, 0, offsetof(struct rot_in, rot),
	    NULL },
};
static const struct json_schema rot_schema =
    JSON_SCHEMA(struct rot_in, rot_fields);
static const struct route_body rot_body = { BODY_SMALL, json_types, 1,
	&rot_schema, 0 };

static int
e2e_downlink(struct http_req *req, struct http_resp *resp, struct fp_status *st,
    enum e2e_use use)
{
	const struct rot_in *in = req->in;
	struct e2e_params p;
	json_object *obj;
	int rc;

	if ((rc = core_e2e_downlink(req->ctx, req->tenant.id, in->rot, use, &p,
	         st)) != 0)
		return rc;
	obj = json_object_new_object();
	json_object_object_add(obj, "MACLength",
	    json_object_new_int(E2E_TAG_LEN * 8));
	if (use == E2E_USE_DOWNLINK_PROTECTION)
		json_object_object_add(obj, "KeyLength",
		    json_object_new_int(E2E_DL_KEY_LEN * 8));
	json_object_object_add(obj, "CipherSuite",
	    json_object_new_string(suite_name(E2E_SUITE_CS1)));
	add_b64(obj, "AuthenticationKey", p.mac_key, sizeof(p.mac_key));
	json_object_object_add(obj, "AuthKeyLength",
	    json_object_new_int(E2E_DL_KEY_LEN * 8));
	if (use == E2E_USE_DOWNLINK_PROTECTION) {
		add_b64(obj, "EncryptionKey", p.enc_key, sizeof(p.enc_key));
		add_b64(obj, "AESIV", p.iv, sizeof(p.iv));
	}
	add_common(obj, &p);
	core_e2e_params_wipe(&p);
	resp->secret = 1; /* keys: the tree and the body wiped once sent */
	resp_json(resp, 200, obj);
	return 0;
}

static int
e2e_downlink_protection(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	return e2e_downlink(req, resp, st, E2E_USE_DOWNLINK_PROTECTION);
}

static int
e2e_downlink_integrity(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	return e2e_downlink(req, resp, st, E2E_USE_DOWNLINK_INTEGRITY);
}

static const struct route routes[] = {
	{ "POST", "/e2e/key/rotate", e2e_rotate, AUTH_AUTHTOKEN, &rotate_body,
	    NULL, sizeof(struct rotate_in) },
	{ "POST", "/e2e/uplink/symmetrickey/get", e2e_symmetrickey,
	    AUTH_AUTHTOKEN, &keyid_body, NULL, sizeof(struct keyid_in) },
	{ "POST", "/e2e/uplink/protectionparameters/get", e2e_uplink_protection,
	    AUTH_AUTHTOKEN, &header_body, NULL, sizeof(struct header_in) },
	{ "POST", "/e2e/uplink/integrityparameters/get", e2e_uplink_integrity,
	    AUTH_AUTHTOKEN, &header_body, NULL, sizeof(struct header_in) },
	{ "POST", "/e2e/downlink/protectionparameters/get",
	    e2e_downlink_protection, AUTH_AUTHTOKEN, &rot_body, NULL,
	    sizeof(struct rot_in) },
	{ "POST", "/e2e/downlink/integrityparameters/get",
	    e2e_downlink_integrity, AUTH_AUTHTOKEN, &rot_body, NULL,
	    sizeof(struct rot_in) },
};

const struct route_group secsvc_e2e_routes =
    ROUTE_GROUP("secsvc-e2e", routes, NULL);
