/*
 * http: one request and its response as the FastCGI worker sees them.
 * Handlers read typed, validated input from 'struct http_req' and fill
 * 'struct http_resp'; the worker writes it out.  All strings in a
 * request live in its arena and die with it.
 */
#ifndef FLEETPKI_HTTP_H
#define FLEETPKI_HTTP_H

#include <stddef.h>

#include <json-c/json.h>

#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/store.h"

struct admin_session;
struct arena;
struct fp_ctx;
struct route;

#define HTTP_MAX_PARAMS	4

struct http_req {
	struct fp_ctx		*ctx;
	struct arena		*arena;
	void			*fcgx;		/* FCGX_Request, front only */
	const char		*method;
	const char		*path;		/* decoded, without the query */
	const char		*query;		/* raw, may be "" */
	const char		*content_type;	/* may be NULL */
	const char		*remote_addr;
	const unsigned char	*body;		/* NUL-terminated copy */
	size_t			 body_len;
	/* Path segments the route's "{}" placeholders matched. */
	const char		*params[HTTP_MAX_PARAMS];
	size_t			 nparams;
	const struct route	*route;
	/*
	 * The route's input struct, decoded and validated by the front from
	 * its parameter table and JSON body schema (router.h); NULL when
	 * the route declares none.
	 */
	const void		*in;
	/* Set by the front from the route's auth column. */
	struct tenant		 tenant;
	struct user_rec		 user;		/* AUTH_API_TOKEN only */
	const struct admin_session *admin;	/* AUTH_ADMIN only */
};

struct http_resp {
	int		 status;		/* 0 until a handler sets it */
	const char	*content_type;
	struct buf	 headers;		/* "Name: value\r\n" lines */
	struct buf	 body;
	/* The body holds a private key: wiped once it is sent. */
	int		 secret;
};

/* A request header ("If-None-Match") or NULL. */
const char	*http_header(struct http_req *, const char *name);
/*
 * 1 when the request's If-None-Match names 'etag' (a quoted strong tag),
 * directly, in a list, weakly (W/) or as "*": the client's copy is fresh.
 */
int		 http_etag_match(struct http_req *, const char *etag);
/*
 * Percent-decode a path parameter into the arena ('+' stays '+').  NULL
 * when it decodes to a NUL byte.
 */
char		*http_percent_decode(struct arena *, const char *s);
/* The first value of a decoded query parameter, or NULL when absent. */
const char	*http_query(struct http_req *, const char *name);

/* The longest Idempotency-Key taken. */
#define HTTP_IDEM_KEY_MAX 255

struct core_idem;

/* in_conv_fn for an Idempotency-Key header: 1..255 visible ASCII. */
int		 http_idem_key(struct arena *, const char *in, const char **out,
		    struct fp_status *st);
/*
 * The core's view of the request's Idempotency-Key 'key' (NULL: none):
 * the key and the digest of what the request asks (method, path, query,
 * caller, body).  Call after the body was read.
 */
int		 http_idem(struct http_req *, const char *key,
		    struct core_idem *idem);

/* Add a response header; 'value' must not contain CR or LF. */
void	resp_header(struct http_resp *, const char *name, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* JSON body; takes the reference to 'obj'. */
void	resp_json(struct http_resp *, int status, json_object *obj);
/* Raw body. */
void	resp_bytes(struct http_resp *, int status, const char *content_type,
	    const void *data, size_t len);
/* No body (204, 304). */
void	resp_empty(struct http_resp *, int status);
/* The default error body: {"message": "..."} with the code's status. */
void	resp_error(struct http_resp *, int code, const struct fp_status *st);

/*
 * The route table's AUTH_METRICS (src/front/metrics_auth.c): 0 for a
 * loopback peer or the configured metrics_token, else -FP_E_FORBIDDEN.
 */
int	http_metrics_auth(struct http_req *, struct fp_status *st);

#endif
