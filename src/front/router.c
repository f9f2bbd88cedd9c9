/*
 * router: the list of dialects, and the matcher.
 *
 * The dialects' tables are the whole public surface of fleetpkid: a
 * route that is not in one does not exist, and its auth, body and
 * parameter columns are enforced by the front before any handler runs.
 * A new dialect is one module with its table and one line below.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "fleetpki/api.h"
#include "fleetpki/arena.h"
#include "fleetpki/http.h"
#include "fleetpki/router.h"
#include "fleetpki/util.h"

/*
 * The dialects, each one line: its module's table lists its routes.
 * Matching is first-found in this order; no two dialects share a path.
 */
static const struct route_group *const groups[] = {
	&health_routes,
	&admin_routes,
	&revinfo_routes,
	&x509api_routes,
	&certmaker_routes,
	&srvcert_routes,
	&secsvc_routes,
	&secsvc_m_routes,
	&secsvc_tag_routes,
	&secsvc_report_routes,
	&secsvc_webhook_routes,
	&secsvc_e2e_routes,
	&secsvc_ztp_routes,
	&devproto_routes,
	&enroll_routes,
	&metrics_routes,
};

/*
 * Match 'path' against 'pattern' segment by segment; "{}" captures one
 * non-empty segment into 'params'.  Returns 1 on a match.
 */
static int
path_match(const char *pattern, const char *path, const char **params,
    size_t *nparams, struct http_req *req)
{
	const char *p = pattern, *s = path, *pe, *se;
	size_t n = 0;

	while (*p != '\0' && *s != '\0') {
		if (*p != '/' || *s != '/')
			return 0;
		p++;
		s++;
		/* "{*}" takes the rest, which must not be empty. */
		if (strcmp(p, "{*}") == 0) {
			if (*s == '\0' || n == HTTP_MAX_PARAMS)
				return 0;
			if (params != NULL)
				params[n] = arena_strdup(req->arena, s);
			n++;
			p += 3;
			s += strlen(s);
			break;
		}
		pe = strchr(p, '/');
		se = strchr(s, '/');
		if (pe == NULL)
			pe = p + strlen(p);
		if (se == NULL)
			se = s + strlen(s);
		if (pe - p == 2 && p[0] == '{' && p[1] == '}') {
			if (se == s || n == HTTP_MAX_PARAMS)
				return 0;
			if (params != NULL)
				params[n] = arena_strndup(req->arena, s,
				    (size_t)(se - s));
			n++;
		} else if (pe - p != se - s ||
		    memcmp(p, s, (size_t)(pe - p)) != 0) {
			return 0;
		}
		p = pe;
		s = se;
	}
	if (*p != '\0' || *s != '\0')
		return 0;
	if (nparams != NULL)
		*nparams = n;
	return 1;
}

/* HEAD is served by the GET route, without the body. */
static int
method_match(const char *route_method, const char *method)
{
	return strcmp(route_method, method) == 0 ||
	    (strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0);
}

enum route_match
router_match(struct http_req *req, const struct route **out,
    const struct route_group **group)
{
	enum route_match m = ROUTE_NO_PATH;
	const struct route *r;
	size_t g, i;

	*group = NULL;
	for (g = 0; g < FP_ARRAY_LEN(groups); g++) {
		if (*group == NULL && groups[g]->prefix != NULL &&
		    strncmp(req->path, groups[g]->prefix,
		        strlen(groups[g]->prefix)) == 0)
			*group = groups[g];
		for (i = 0; i < groups[g]->nroutes; i++) {
			r = &groups[g]->routes[i];
			if (!path_match(r->pattern, req->path, NULL, NULL, req))
				continue;
			if (!method_match(r->method, req->method)) {
				if (m != ROUTE_NO_METHOD)
					*group = groups[g];
				m = ROUTE_NO_METHOD;
				continue;
			}
			path_match(r->pattern, req->path, req->params,
			    &req->nparams, req);
			*out = r;
			*group = groups[g];
			return ROUTE_FOUND;
		}
	}
	return m;
}

void
router_allow(struct http_req *req, char *out, size_t outlen)
{
	const struct route *r;
	size_t g, i, len = 0;

	out[0] = '\0';
	for (g = 0; g < FP_ARRAY_LEN(groups); g++) {
		for (i = 0; i < groups[g]->nroutes; i++) {
			r = &groups[g]->routes[i];
			if (!path_match(r->pattern, req->path, NULL, NULL, req))
				continue;
			len +=
			    snprintf(out + len, outlen > len ? outlen - len : 0,
			        "%s%s", len > 0 ? ", " : "", r->method);
			if (len >= outlen)
				return;
		}
	}
}

size_t
router_nroutes(void)
{
	size_t g, n = 0;

	for (g = 0; g < FP_ARRAY_LEN(groups); g++)
		n += groups[g]->nroutes;
	return n;
}

size_t
router_slot(const struct route *r)
{
	size_t g, base = 0;

	for (g = 0; g < FP_ARRAY_LEN(groups); g++) {
		if (r >= groups[g]->routes &&
		    r < groups[g]->routes + groups[g]->nroutes)
			return base + (size_t)(r - groups[g]->routes);
		base += groups[g]->nroutes;
	}
	return (size_t)-1;
}

const struct route *
router_at(size_t slot, const struct route_group **group)
{
	size_t g;

	for (g = 0; g < FP_ARRAY_LEN(groups); g++) {
		if (slot < groups[g]->nroutes) {
			*group = groups[g];
			return &groups[g]->routes[slot];
		}
		slot -= groups[g]->nroutes;
	}
	*group = NULL;
	return NULL;
}

size_t
router_dialect(const struct route_group *g)
{
	size_t i;

	for (i = 0; i < FP_ARRAY_LEN(groups); i++)
		if (groups[i] == g)
			return i + 1;
	return 0;
}

size_t
router_ndialects(void)
{
	return FP_ARRAY_LEN(groups);
}

const struct route_group *
router_dialect_at(size_t i)
{
	return i >= 1 && i <= FP_ARRAY_LEN(groups) ? groups[i - 1] : NULL;
}
