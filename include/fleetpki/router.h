/*
 * router: the one static table of routes (kcgi disps[], Redis's command
 * table).  Each row says who may call it (auth) and how large a body it
 * takes; the front enforces both before the handler runs.
 */
#ifndef FLEETPKI_ROUTER_H
#define FLEETPKI_ROUTER_H

#include <stddef.h>

#include "fleetpki/error.h"

struct http_req;
struct http_resp;

enum route_auth {
	AUTH_NONE,	/* public: health, CRL, server certificates */
	AUTH_BEARER,	/* JWT naming a tenant (identity API) */
	AUTH_API_TOKEN,	/* X-Auth-Token of a user (certificate maker) */
};

/*
 * A handler fills 'resp' and returns 0, or returns a negative fp_err
 * (with a reason in 'st') for the front to answer in the route's error
 * shape.
 */
typedef int (*route_handler)(struct http_req *, struct http_resp *,
    struct fp_status *);

/* How a dialect shapes its error bodies. */
typedef void (*route_error_fn)(struct http_resp *, int code,
    const struct fp_status *);

struct route {
	const char	*method;
	/*
	 * Literal segments; "{}" matches one non-empty segment, a final
	 * "{*}" the non-empty rest of the path, slashes included.
	 */
	const char	*pattern;
	route_handler	 handler;
	enum route_auth	 auth;
	size_t		 body_max;	/* bytes; 0 = no body accepted */
	route_error_fn	 error;		/* NULL = resp_error */
};

enum route_match { ROUTE_FOUND, ROUTE_NO_PATH, ROUTE_NO_METHOD };

/*
 * Find the route for 'method' and 'path', capturing "{}" segments into
 * req->params.  ROUTE_NO_METHOD when the path exists under another
 * method (405), ROUTE_NO_PATH otherwise (404).
 */
enum route_match router_match(struct http_req *req, const struct route **out);

/* The Allow header value for a path that exists (for 405). */
void	router_allow(struct http_req *req, char *out, size_t outlen);

#endif
