/*
 * health: GET /api/health, for load balancers and scripts/up.  200 when
 * this worker can reach the database, 503 (with the same JSON shape)
 * when it cannot.  Beside "database": "worker" (when a fleetpki-worker
 * child last passed through its loop, sql/019's worker_heartbeats) and
 * "acme" (whether the tenants' ACME directories answered the worker's
 * last probe).  The request itself never calls the CA.
 */
#include "config.h"

#include <json-c/json.h>

#include "fleetpki/api.h"
#include "fleetpki/config.h"
#include "fleetpki/core.h"
#include "fleetpki/http.h"
#include "fleetpki/store.h"
#include "fleetpki/store_acme.h"

/*
 * A worker child passes its loop at least every worker_interval; past
 * three of them (and a job's budget) it is "stale".
 */
#define WORKER_STALE_S(cfg) (3 * (cfg)->worker_interval + 300)

static void
health_extra(struct http_req *req, json_object *obj)
{
	struct health_rec h;
	json_object *w = json_object_new_object(),
	            *a = json_object_new_object();
	const char *ws, *as;

	if (store_health(req->ctx->db, &h) != 0) {
		json_object_object_add(w, "status",
		    json_object_new_string("unknown"));
		json_object_object_add(a, "status",
		    json_object_new_string("unknown"));
		goto out;
	}
	ws = h.worker_age < 0                              ? "never seen"
	    : h.worker_age > WORKER_STALE_S(req->ctx->cfg) ? "stale"
	                                                   : "ok";
	json_object_object_add(w, "status", json_object_new_string(ws));
	if (h.worker_age >= 0)
		json_object_object_add(w, "lastSeenSecondsAgo",
		    json_object_new_int64(h.worker_age));
	as = h.acme_total == 0          ? "not configured"
	    : h.acme_ok == h.acme_total ? "ok"
	                                : "unreachable";
	json_object_object_add(a, "status", json_object_new_string(as));
	json_object_object_add(a, "directories",
	    json_object_new_int64(h.acme_total));
	json_object_object_add(a, "reachable",
	    json_object_new_int64(h.acme_ok));
	if (h.acme_age >= 0)
		json_object_object_add(a, "checkedSecondsAgo",
		    json_object_new_int64(h.acme_age));
out:
	json_object_object_add(obj, "worker", w);
	json_object_object_add(obj, "acme", a);
}

static int
health_get(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	json_object *obj = json_object_new_object();
	int up = store_ping(req->ctx->db) == 0;

	json_object_object_add(obj, "status",
	    json_object_new_string(up ? "ok" : "unavailable"));
	json_object_object_add(obj, "database",
	    json_object_new_string(up ? "ok" : "unreachable"));
	if (up)
		health_extra(req, obj);
	resp_header(resp, "Cache-Control", "no-store");
	resp_json(resp, up ? 200 : 503, obj);
	return 0;
}

static const struct route routes[] = {
	{ "GET", "/api/health", health_get, AUTH_NONE, NULL, NULL, 0 },
};

const struct route_group health_routes = ROUTE_GROUP("health", routes, NULL);
