/*
 * router: the routes of every dialect (kcgi disps[], Redis's command
 * table).  Each row says who may call it (auth), what body it takes and
 * which parameters; the front enforces all of it before the handler
 * runs.
 */
#ifndef FLEETPKI_ROUTER_H
#define FLEETPKI_ROUTER_H

#include <stddef.h>

#include "fleetpki/error.h"
#include "fleetpki/input.h"
#include "fleetpki/json.h"

struct http_req;
struct http_resp;

enum route_auth {
	AUTH_NONE, /* public: health, CRL, server certificates */
	AUTH_BEARER, /* JWT naming a tenant (identity API) */
	AUTH_API_TOKEN, /* X-Auth-Token of a user (certificate maker) */
	AUTH_AUTHTOKEN, /* Bearer AuthToken of an API key (security services) */
	AUTH_ADMIN, /* the admin portal's session cookie, CSRF checked */
	/* a loopback peer, or Bearer metrics_token (GET /metrics) */
	AUTH_METRICS,
};

/*
 * A handler fills 'resp' and returns 0, or returns a negative fp_err
 * (with a reason in 'st') for the front to answer in the dialect's error
 * shape.  Its input (query, headers, path, JSON body) was decoded by the
 * front into the route's input struct, req->in; a raw body is in
 * req->body.
 */
typedef int (
    *route_handler)(struct http_req *, struct http_resp *, struct fp_status *);

/* How a dialect shapes its error bodies (NULL: resp_error). */
typedef void (
    *route_error_fn)(struct http_resp *, int code, const struct fp_status *);

/*
 * The body a route takes.  'types' lists the media types accepted
 * (compared without parameters; NULL accepts any), 'untyped' whether a
 * request without Content-Type is accepted too (some dialects' clients
 * send none).  With 'json' the body is parsed strictly and decoded into
 * the route's input struct (with 'optional', no body at all decodes as
 * an empty object); without it the handler gets the bytes.
 */
struct route_body {
	size_t max; /* bytes */
	const char *const *types;
	int untyped;
	const struct json_schema *json;
	int optional; /* JSON: an empty body is "{}" */
};

struct route {
	const char *method;
	/*
	 * Literal segments; "{}" matches one non-empty segment, a final
	 * "{*}" the non-empty rest of the path, slashes included.
	 */
	const char *pattern;
	route_handler handler;
	enum route_auth auth;
	const struct route_body *body; /* NULL: no body accepted */
	const struct in_schema *params; /* query, headers, path; or NULL */
	size_t in_size; /* sizeof the input struct */
};

/*
 * A dialect: its routes and its error shape.  Each dialect module
 * defines one (its table is the one list of its handlers) and the
 * router lists the dialects.
 */
struct route_group {
	const char *name;
	const struct route *routes;
	size_t nroutes;
	route_error_fn error;
	/*
	 * A path prefix the dialect owns (or NULL): a path under it that no
	 * route matches, or a method no route takes, is answered in this
	 * dialect's error shape too.
	 */
	const char *prefix;
};

#define ROUTE_GROUP(name, routes, error)                                       \
	{                                                                      \
		(name), (routes), sizeof(routes) / sizeof((routes)[0]),        \
		    (error), NULL                                              \
	}
#define ROUTE_GROUP_AT(name, prefix, routes, error)                            \
	{                                                                      \
		(name), (routes), sizeof(routes) / sizeof((routes)[0]),        \
		    (error), (prefix)                                          \
	}

enum route_match { ROUTE_FOUND, ROUTE_NO_PATH, ROUTE_NO_METHOD };

/*
 * Find the route for 'method' and 'path', capturing "{}" segments into
 * req->params.  ROUTE_NO_METHOD when the path exists under another
 * method (405), ROUTE_NO_PATH otherwise (404); then '*group' is the
 * dialect whose path it is (by route or by prefix), or NULL.
 */
enum route_match router_match(struct http_req *req, const struct route **out,
    const struct route_group **group);

/* The Allow header value for a path that exists (for 405). */
void router_allow(struct http_req *req, char *out, size_t outlen);

/*
 * Routes by slot, for the metrics (metrics.h): every route of every
 * dialect has a fixed slot 0 .. router_nroutes()-1, in table order.
 */
size_t router_nroutes(void);
/* The slot of 'r' (a row of a dialect's table). */
size_t router_slot(const struct route *r);
/* The route in slot 'slot' and its dialect, or NULL past the last. */
const struct route *router_at(size_t slot, const struct route_group **group);
/*
 * The dialect slot of 'g' for metrics_set_dialect: 1 + its index in
 * the list; router_ndialects() of them; router_dialect_at(i) the
 * group of dialect slot i (1 ..), NULL for 0 or past the last.
 */
size_t router_dialect(const struct route_group *g);
size_t router_ndialects(void);
const struct route_group *router_dialect_at(size_t i);

#endif
