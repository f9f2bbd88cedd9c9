/*
 * router: the route table of every dialect, and the matcher.
 *
 * The table is the whole public surface of fleetpkid: a route that is
 * not here does not exist, and its auth column is enforced by the front
 * before any handler runs.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "fleetpki/api.h"
#include "fleetpki/arena.h"
#include "fleetpki/http.h"
#include "fleetpki/router.h"
#include "fleetpki/util.h"

/* A JSON body holding a 65536-character PEM, escaped, fits in this. */
#define BODY_CSR_JSON (128 * 1024)
/* A raw CSR: an RSA-4096 CSR with a hundred names stays well below. */
#define BODY_CSR_PEM (16 * 1024)
#define BODY_CERTMAKER_JSON (64 * 1024)
/* 16 CertIDs with a nonce and a signature are far below this. */
#define BODY_OCSP (16 * 1024)

static const struct route routes[] = {
	/* operations */
	{ "GET", "/api/health", health_get, AUTH_NONE, 0, NULL },

	/* revocation information (also on the plain-HTTP listener) */
	{ "GET", "/crl/{}", revinfo_crl_der, AUTH_NONE, 0, NULL },

	/* X.509 identity API */
	{ "POST", "/x509/v1/certificates", x509api_cert_create, AUTH_BEARER,
	    BODY_CSR_JSON, NULL },
	{ "GET", "/x509/v1/certificates", x509api_cert_list, AUTH_BEARER, 0,
	    NULL },
	{ "GET", "/x509/v1/certificates/{}", x509api_cert_get, AUTH_BEARER, 0,
	    NULL },
	{ "DELETE", "/x509/v1/certificates/{}", x509api_cert_delete,
	    AUTH_BEARER, 0, NULL },
	{ "GET", "/x509/v1/ca", x509api_ca_get, AUTH_BEARER, 0, NULL },
	{ "GET", "/x509/v1/ca/crl", x509api_crl_get, AUTH_BEARER, 0, NULL },

	/* OCSP for every CA (also on the plain-HTTP listener) */
	{ "POST", "/ocsp", revinfo_ocsp_post, AUTH_NONE, BODY_OCSP, NULL },
	{ "GET", "/ocsp/{*}", revinfo_ocsp_get, AUTH_NONE, 0, NULL },
	{ "POST", "/api/v1/ocsp", revinfo_ocsp_post, AUTH_NONE, BODY_OCSP,
	    NULL },
	{ "GET", "/api/v1/ocsp/{*}", revinfo_ocsp_get, AUTH_NONE, 0, NULL },

	/* certificate maker */
	{ "GET", "/api/v1/root-certificate/obtain", certmaker_root,
	    AUTH_API_TOKEN, 0, NULL },
	{ "POST", "/api/v1/certificate/request", certmaker_request,
	    AUTH_API_TOKEN, BODY_CERTMAKER_JSON, NULL },
	{ "POST", "/api/v1/certificate/request-with-csr", certmaker_request_csr,
	    AUTH_API_TOKEN, BODY_CSR_PEM, NULL },
	{ "GET", "/api/v1/certificate/{}/obtain", certmaker_cert_obtain,
	    AUTH_API_TOKEN, 0, NULL },
	{ "GET", "/api/v1/privatekey/{}/obtain", certmaker_key_obtain,
	    AUTH_API_TOKEN, 0, NULL },
	{ "GET", "/api/v1/challenge/{}/solve", certmaker_challenge_solve,
	    AUTH_API_TOKEN, 0, NULL },
	{ "POST", "/api/v1/certificate/revoke", certmaker_revoke,
	    AUTH_API_TOKEN, BODY_CERTMAKER_JSON, NULL },

	/* server-certificate distribution */
	{ "GET", "/api/v2/certificates/{}/{}/file", srvcert_file, AUTH_NONE, 0,
	    NULL },
	{ "GET", "/api/v2/certificates/{}/{}/hash", srvcert_hash, AUTH_NONE, 0,
	    NULL },
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
router_match(struct http_req *req, const struct route **out)
{
	enum route_match m = ROUTE_NO_PATH;
	size_t i;

	for (i = 0; i < FP_ARRAY_LEN(routes); i++) {
		if (!path_match(routes[i].pattern, req->path, NULL, NULL, req))
			continue;
		if (!method_match(routes[i].method, req->method)) {
			m = ROUTE_NO_METHOD;
			continue;
		}
		path_match(routes[i].pattern, req->path, req->params,
		    &req->nparams, req);
		*out = &routes[i];
		return ROUTE_FOUND;
	}
	return m;
}

void
router_allow(struct http_req *req, char *out, size_t outlen)
{
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i < FP_ARRAY_LEN(routes); i++) {
		if (!path_match(routes[i].pattern, req->path, NULL, NULL, req))
			continue;
		len += snprintf(out + len, outlen > len ? outlen - len : 0,
		    "%s%s", len > 0 ? ", " : "", routes[i].method);
		if (len >= outlen)
			break;
	}
}
