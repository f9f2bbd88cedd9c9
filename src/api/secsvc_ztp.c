/*
 * secsvc_ztp: the zero-touch provisioning routes of the
 * security-services dialect ("Zero Touch Provisioning APIs" of
 * security-services.txt).  Every route is a POST with a JSON body and
 * an AuthToken; errors are {"message": ...}.
 *
 *   /ztp/rootca/create   {CAName, CACertificateValidity,
 *       DeviceCertificateValidity[, RenewBeforeExpiration][, KeyType]}
 *       -> the root (below)
 *   /ztp/rootca/update   {CAName, RenewBeforeExpiration} -> {message}
 *   /ztp/rootca/get      {[PageNumber][, CAName]}
 *       -> {TotalRecords, PageNumber, PageSize, CAs: [root, ...]}
 *   /ztp/rootca/crl/get  {CANames} -> {CRLs: [{CAName, CRL,
 *       RevokedSerialNumbers}, ...]}
 *   /ztp/rootca/device/get {CAName[, PageNumber]}
 *       -> {TotalRecords, PageNumber, PageSize, Devices: [{ROTPublicUID}]}
 *   /ztp/rootca/popcertificate/generate {CAName, RegistrationCode}
 *       -> {CAName, PoPCertificate}
 *   /ztp/rootca/delete   {CAName} -> {message}
 *   /ztp/devicecertificate/renew {CAName, DeviceCertificateValidity,
 *       ROTPublicUIDs | SerialNumbers} -> {message}
 *   /ztp/devicecertificate/update {CAName, ROTPublicUIDs | SerialNumbers}
 *   /ztp/devicecertificate/delete {ROTPublicUIDs}
 *   /ztp/devicecertificate/revoke {CAName, ROTPublicUID | SerialNumber}
 *   /ztp/devicecertificate/rootca/transfer {FromCA, ToCA, ROTPublicUIDs}
 *
 * fleetpki's extensions (the spec links roots to profiles but names no
 * route for it): KeyType of a root (EC-P256 default, EC-P384,
 * RSA-2048), and
 *   /ztp/rootca/profile/set {CAName, DeviceProfileUID[,
 *       ServerGeneratedKey][, KeyType]} -> {message}
 *   /ztp/rootca/profile/delete {DeviceProfileUID} -> {message}
 *
 * A root: {CAName, CACertificateValidity, DeviceCertificateValidity,
 * RenewBeforeExpiration (when set), KeyType, Certificate (PEM),
 * CreatedDate, ExpirationDate, ProvisionedDevicesCount}.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fleetpki/api.h"
#include "fleetpki/buf.h"
#include "fleetpki/core.h"
#include "fleetpki/core_tags.h"
#include "fleetpki/core_ztp.h"
#include "fleetpki/http.h"
#include "fleetpki/json.h"
#include "fleetpki/pki.h"
#include "fleetpki/store_tags.h"

#define BODY_SMALL (16 * 1024)
#define BODY_LIST (256 * 1024)

static const char *const json_types[] = { "application/json", NULL };

struct ztp_in {
	const char *name, *to, *key_type, *code, *profile, *rot, *serial;
	struct json_int ca_days, device_days, renew, page;
	struct json_bool server_key;
	struct json_strs names, rots, serials;
};

#define F_STR(n, req, max, f)                                                  \
	{                                                                      \
		(n), JF_STRING, (req), 0, (max), 0,                            \
		    offsetof(struct ztp_in, f), NULL                           \
	}
#define F_INT(n, req, lo, hi, f)                                               \
	{                                                                      \
		(n), JF_INT, (req), (lo), (hi), 0, offsetof(struct ztp_in, f), \
		    NULL                                                       \
	}
#define F_STRS(n, req, f)                                                      \
	{                                                                      \
		(n), JF_STRINGS, (req), 0, ZTP_DEVICES_MAX, 64,                \
		    offsetof(struct ztp_in, f), NULL                           \
	}
#define F_NAME(req) F_STR("CAName", (req), 64, name)
#define F_PAGE F_INT("PageNumber", 0, 1, 1000000, page)
#define F_ROTS(req) F_STRS("ROTPublicUIDs", (req), rots)
#define F_SERIALS F_STRS("SerialNumbers", 0, serials)

#define BODY(fields, max, empty_ok)                                            \
	static const struct json_schema fields##_schema =                      \
	    JSON_SCHEMA(struct ztp_in, fields);                                \
	static const struct route_body fields##_body = { (max), json_types, 1, \
		&fields##_schema, (empty_ok) }

static const struct json_field create_f[] = {
	F_NAME(1),
	F_INT("CACertificateValidity", 1, ZTP_CA_DAYS_MIN, ZTP_CA_DAYS_MAX,
	    ca_days),
	F_INT("DeviceCertificateValidity", 1, ZTP_DEVICE_DAYS_MIN,
	    ZTP_DEVICE_DAYS_MAX, device_days),
	F_INT("RenewBeforeExpiration", 0, ZTP_RENEW_MIN, ZTP_RENEW_MAX, renew),
	F_STR("KeyType", 0, 16, key_type),
};
BODY(create_f, BODY_SMALL, 0);
static const struct json_field update_f[] = {
	F_NAME(1),
	F_INT("RenewBeforeExpiration", 1, ZTP_RENEW_MIN, ZTP_RENEW_MAX, renew),
};
BODY(update_f, BODY_SMALL, 0);
static const struct json_field get_f[] = { F_PAGE, F_NAME(0) };
BODY(get_f, BODY_SMALL, 1);
static const struct json_field crl_f[] = {
	{ "CANames", JF_STRINGS, 1, 0, ZTP_PAGE_SIZE, 64,
	    offsetof(struct ztp_in, names), NULL },
};
BODY(crl_f, BODY_SMALL, 0);
static const struct json_field devget_f[] = { F_PAGE, F_NAME(1) };
BODY(devget_f, BODY_SMALL, 0);
static const struct json_field pop_f[] = {
	F_NAME(1),
	F_STR("RegistrationCode", 1, ZTP_CODE_MAX, code),
};
BODY(pop_f, BODY_SMALL, 0);
static const struct json_field name_f[] = { F_NAME(1) };
BODY(name_f, BODY_SMALL, 0);
static const struct json_field link_f[] = {
	F_NAME(1),
	F_STR("DeviceProfileUID", 1, 64, profile),
	{ "ServerGeneratedKey", JF_BOOL, 0, 0, 0, 0,
	    offsetof(struct ztp_in, server_key), NULL },
	F_STR("KeyType", 0, 16, key_type),
};
BODY(link_f, BODY_SMALL, 0);
static const struct json_field unlink_f[] = {
	F_STR("DeviceProfileUID", 1, 64, profile),
};
BODY(unlink_f, BODY_SMALL, 0);
static const struct json_field renew_f[] = {
	F_NAME(1),
	F_INT("DeviceCertificateValidity", 1, ZTP_DEVICE_DAYS_MIN,
	    ZTP_DEVICE_DAYS_MAX, device_days),
	F_ROTS(0),
	F_SERIALS,
};
BODY(renew_f, BODY_LIST, 0);
static const struct json_field upd_f[] = { F_NAME(1), F_ROTS(0), F_SERIALS };
BODY(upd_f, BODY_LIST, 0);
static const struct json_field del_f[] = { F_ROTS(1) };
BODY(del_f, BODY_LIST, 0);
static const struct json_field revoke_f[] = {
	F_NAME(1),
	F_STR("ROTPublicUID", 0, 64, rot),
	F_STR("SerialNumber", 0, 64, serial),
};
BODY(revoke_f, BODY_SMALL, 0);
static const struct json_field transfer_f[] = {
	F_STR("FromCA", 1, 64, name),
	F_STR("ToCA", 1, 64, to),
	F_ROTS(1),
};
BODY(transfer_f, BODY_LIST, 0);

static void
answer_message(struct http_resp *resp, const char *msg)
{
	json_object *obj = json_object_new_object();

	json_object_object_add(obj, "message", json_object_new_string(msg));
	resp_json(resp, 200, obj);
}

static json_object *
root_json(const struct ztp_root_rec *r)
{
	json_object *o = json_object_new_object();
	struct buf pem = BUF_INIT;
	X509 *cert = NULL;
	char ts[32];

	json_object_object_add(o, "CAName", json_object_new_string(r->name));
	json_object_object_add(o, "CACertificateValidity",
	    json_object_new_int(r->ca_days));
	json_object_object_add(o, "DeviceCertificateValidity",
	    json_object_new_int(r->device_days));
	if (r->renew_before > 0)
		json_object_object_add(o, "RenewBeforeExpiration",
		    json_object_new_int(r->renew_before));
	json_object_object_add(o, "KeyType",
	    json_object_new_string(r->key_type));
	if (pki_cert_from_der(r->cert_der.data, r->cert_der.len, &cert) == 0 &&
	    pki_cert_to_pem(cert, &pem) == 0)
		json_object_object_add(o, "Certificate",
		    json_object_new_string_len((const char *)pem.data,
		        (int)pem.len));
	core_iso8601_format(r->created_at, ts, sizeof(ts));
	json_object_object_add(o, "CreatedDate", json_object_new_string(ts));
	core_iso8601_format(r->not_after, ts, sizeof(ts));
	json_object_object_add(o, "ExpirationDate", json_object_new_string(ts));
	json_object_object_add(o, "ProvisionedDevicesCount",
	    json_object_new_int64(r->devices));
	X509_free(cert);
	buf_free(&pem);
	return o;
}

static int
root_create(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct ztp_in *in = req->in;
	struct ztp_root_rec r;
	int rc;

	if ((rc = core_ztp_root_create(req->ctx, &req->tenant, in->name,
	         in->key_type, (int)in->ca_days.v, (int)in->device_days.v,
	         in->renew.set ? (int)in->renew.v : 0, &r, st)) != 0)
		return rc;
	resp_json(resp, 200, root_json(&r));
	ztp_root_rec_clear(&r);
	return 0;
}

static int
root_update(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct ztp_in *in = req->in;
	int rc;

	if ((rc = core_ztp_root_update(req->ctx, &req->tenant, in->name,
	         (int)in->renew.v, st)) != 0)
		return rc;
	answer_message(resp, "Root CA updated successfully.");
	return 0;
}

static json_object *
page_json(int64_t total, int64_t page, const char *key, json_object *arr)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "TotalRecords", json_object_new_int64(total));
	json_object_object_add(o, "PageNumber", json_object_new_int64(page));
	json_object_object_add(o, "PageSize",
	    json_object_new_int(ZTP_PAGE_SIZE));
	json_object_object_add(o, key, arr);
	return o;
}

static int
root_get(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct ztp_in *in = req->in;
	struct ztp_root_rec *rs = NULL, one;
	json_object *arr = json_object_new_array();
	int64_t page = in->page.set ? in->page.v : 1, total = 0;
	size_t i, n = 0;
	int rc;

	if (in->name != NULL) {
		if ((rc = core_ztp_root_get(req->ctx, &req->tenant, in->name,
		         &one, st)) != 0) {
			json_object_put(arr);
			return rc;
		}
		json_object_array_add(arr, root_json(&one));
		ztp_root_rec_clear(&one);
		resp_json(resp, 200, page_json(1, 1, "CAs", arr));
		return 0;
	}
	if ((rc = core_ztp_root_page(req->ctx, &req->tenant, page, &rs, &n,
	         &total)) != 0) {
		json_object_put(arr);
		return rc;
	}
	for (i = 0; i < n; i++)
		json_object_array_add(arr, root_json(&rs[i]));
	store_rec_array_free(rs, n, sizeof(*rs),
	    (void (*)(void *))ztp_root_rec_clear);
	resp_json(resp, 200, page_json(total, page, "CAs", arr));
	return 0;
}

static int
root_crl(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct ztp_in *in = req->in;
	json_object *arr = json_object_new_array(), *o, *sa, *top;
	struct buf pem = BUF_INIT;
	char **serials = NULL;
	size_t i, j, n = 0;
	int rc = 0;

	if (in->names.n == 0)
		rc = fp_fail(st, FP_E_BADREQ,
		    "CANames names at least one "
		    "root CA.");
	for (i = 0; rc == 0 && i < in->names.n; i++) {
		buf_reset(&pem);
		if ((rc = core_ztp_root_crl(req->ctx, &req->tenant,
		         in->names.v[i], &pem, &serials, &n, st)) != 0)
			break;
		o = json_object_new_object();
		json_object_object_add(o, "CAName",
		    json_object_new_string(in->names.v[i]));
		json_object_object_add(o, "CRL",
		    json_object_new_string_len((const char *)pem.data,
		        (int)pem.len));
		sa = json_object_new_array();
		for (j = 0; j < n; j++)
			json_object_array_add(sa,
			    json_object_new_string(serials[j]));
		json_object_object_add(o, "RevokedSerialNumbers", sa);
		json_object_array_add(arr, o);
		store_ztp_strs_free(serials, n);
		serials = NULL;
	}
	buf_free(&pem);
	if (rc != 0) {
		json_object_put(arr);
		return rc;
	}
	top = json_object_new_object();
	json_object_object_add(top, "CRLs", arr);
	resp_json(resp, 200, top);
	return 0;
}

static int
root_devices(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct ztp_in *in = req->in;
	char(*rots)[17] = NULL;
	json_object *arr, *o;
	int64_t page = in->page.set ? in->page.v : 1, total = 0;
	size_t i, n = 0;
	int rc;

	if ((rc = core_ztp_root_devices(req->ctx, &req->tenant, in->name, page,
	         &rots, &n, &total, st)) != 0)
		return rc;
	arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "ROTPublicUID",
		    json_object_new_string(rots[i]));
		json_object_array_add(arr, o);
	}
	free(rots);
	resp_json(resp, 200, page_json(total, page, "Devices", arr));
	return 0;
}

static int
root_pop(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct ztp_in *in = req->in;
	struct buf pem = BUF_INIT;
	json_object *o;
	int rc;

	if ((rc = core_ztp_pop(req->ctx, &req->tenant, in->name, in->code, &pem,
	         st)) != 0)
		goto out;
	o = json_object_new_object();
	json_object_object_add(o, "CAName", json_object_new_string(in->name));
	json_object_object_add(o, "PoPCertificate",
	    json_object_new_string_len((const char *)pem.data, (int)pem.len));
	resp_json(resp, 200, o);
out:
	buf_free(&pem);
	return rc;
}

static int
root_delete(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct ztp_in *in = req->in;
	int rc;

	if ((rc = core_ztp_root_delete(req->ctx, &req->tenant, in->name, st)) !=
	    0)
		return rc;
	answer_message(resp, "Root CA deleted successfully.");
	return 0;
}

static int
profile_set(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct ztp_in *in = req->in;
	int rc;

	if ((rc = core_ztp_profile_link(req->ctx, &req->tenant, in->profile,
	         in->name, in->server_key.set && in->server_key.v, in->key_type,
	         st)) != 0)
		return rc;
	answer_message(resp, "Device profile linked to the root CA.");
	return 0;
}

static int
profile_delete(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct ztp_in *in = req->in;
	int rc;

	if ((rc = core_ztp_profile_link(req->ctx, &req->tenant, in->profile,
	         NULL, false, NULL, st)) != 0)
		return rc;
	answer_message(resp, "Device profile unlinked from its root CA.");
	return 0;
}

static int
devices(struct http_req *req, struct http_resp *resp, struct fp_status *st,
    enum ztp_op op, const char *msg)
{
	const struct ztp_in *in = req->in;
	int64_t marked = 0;
	int rc;

	if ((rc = core_ztp_devices(req->ctx, &req->tenant, op,
	         op == ZTP_OP_DELETE ? NULL : in->name,
	         op == ZTP_OP_TRANSFER ? in->to : NULL, in->rots.v, in->rots.n,
	         in->serials.v, in->serials.n,
	         op == ZTP_OP_RENEW ? (int)in->device_days.v : 0, &marked,
	         st)) != 0)
		return rc;
	answer_message(resp, msg);
	return 0;
}

static int
cert_renew(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	return devices(req, resp, st, ZTP_OP_RENEW,
	    "Device certificate renewal requested: it happens at the next "
	    "security heartbeat.");
}

static int
cert_update(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	return devices(req, resp, st, ZTP_OP_UPDATE,
	    "Device certificate update requested: it happens over the next "
	    "two security heartbeats.");
}

static int
cert_delete(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	return devices(req, resp, st, ZTP_OP_DELETE,
	    "Device certificate deletion requested: it happens at the next "
	    "security heartbeat.");
}

static int
cert_transfer(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	return devices(req, resp, st, ZTP_OP_TRANSFER,
	    "Device certificate transfer requested: it happens at the next "
	    "security heartbeat.");
}

static int
cert_revoke(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct ztp_in *in = req->in;
	int rc;

	if ((rc = core_ztp_revoke(req->ctx, &req->tenant, in->name, in->rot,
	         in->serial, st)) != 0)
		return rc;
	answer_message(resp, "Device certificate revoked successfully.");
	return 0;
}

#define R(path, fn, body)                                                      \
	{                                                                      \
		"POST", (path), (fn), AUTH_AUTHTOKEN, &body##_body, NULL,      \
		    sizeof(struct ztp_in)                                      \
	}

static const struct route routes[] = {
	R("/ztp/rootca/create", root_create, create_f),
	R("/ztp/rootca/update", root_update, update_f),
	R("/ztp/rootca/get", root_get, get_f),
	R("/ztp/rootca/crl/get", root_crl, crl_f),
	R("/ztp/rootca/device/get", root_devices, devget_f),
	R("/ztp/rootca/popcertificate/generate", root_pop, pop_f),
	R("/ztp/rootca/delete", root_delete, name_f),
	R("/ztp/rootca/profile/set", profile_set, link_f),
	R("/ztp/rootca/profile/delete", profile_delete, unlink_f),
	R("/ztp/devicecertificate/renew", cert_renew, renew_f),
	R("/ztp/devicecertificate/update", cert_update, upd_f),
	R("/ztp/devicecertificate/delete", cert_delete, del_f),
	R("/ztp/devicecertificate/revoke", cert_revoke, revoke_f),
	R("/ztp/devicecertificate/rootca/transfer", cert_transfer, transfer_f),
};

const struct route_group secsvc_ztp_routes =
    ROUTE_GROUP("secsvc-ztp", routes, NULL);
