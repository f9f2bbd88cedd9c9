/*
 * health: GET /api/health, for load balancers and scripts/up.  200 when
 * this worker can reach the database, 503 (with the same JSON shape)
 * when it cannot.
 */
#include "config.h"

#include <json-c/json.h>

#include "fleetpki/api.h"
#include "fleetpki/core.h"
#include "fleetpki/http.h"
#include "fleetpki/store.h"

static int
health_get(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	json_object *obj = json_object_new_object();
	int up = store_ping(req->ctx->db) == 0;

	json_object_object_add(obj, "status",
	    json_object_new_string(up ? "ok" : "unavailable"));
	json_object_object_add(obj, "database",
	    json_object_new_string(up ? "ok" : "unreachable"));
	resp_header(resp, "Cache-Control", "no-store");
	resp_json(resp, up ? 200 : 503, obj);
	return 0;
}

static const struct route routes[] = {
	{ "GET", "/api/health", health_get, AUTH_NONE, NULL, NULL, 0 },
};

const struct route_group health_routes = ROUTE_GROUP("health", routes, NULL);
