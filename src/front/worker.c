/*
 * worker: one pre-forked FastCGI worker.  It owns one database
 * connection (made after the fork: a libpq connection is never shared
 * across processes) and one arena that every request allocates from.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include <openssl/crypto.h>

#include "fleetpki/arena.h"
#include "fleetpki/auth.h"
#include "fleetpki/config.h"
#include "fleetpki/core.h"
#include "fleetpki/core_admin.h"
#include "fleetpki/front.h"
#include "fleetpki/http.h"
#include "fleetpki/input.h"
#include "fleetpki/json.h"
#include "fleetpki/log.h"
#include "fleetpki/metrics.h"
#include "fleetpki/router.h"
#include "fleetpki/util.h"

/* How long one read or write of a FastCGI connection may take. */
#define FASTCGI_DEADLINE_S 10

/* Set by SIGTERM; while idle in epoll_wait() the worker exits at once. */
static volatile sig_atomic_t w_stop;
static volatile sig_atomic_t w_idle;

static void
on_term(int sig)
{
	(void)sig;
	w_stop = 1;
	if (w_idle)
		_exit(0);
}

static const char *
reason_phrase(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 417:
		return "Expectation Failed";
	case 422:
		return "Unprocessable Content";
	case 429:
		return "Too Many Requests";
	case 503:
		return "Service Unavailable";
	default:
		return status >= 500 ? "Internal Server Error" : "OK";
	}
}

/*
 * The path of REQUEST_URI, percent-decoded.  An encoded '/' or NUL stays
 * encoded: decoded, it would forge a segment boundary or cut a string.
 * (An OCSP GET carries base64, whose '/' may come either way.)
 */
static const char *
decode_path(struct arena *a, const char *uri, const char **query)
{
	const char *q = strchr(uri, '?');
	size_t len = q != NULL ? (size_t)(q - uri) : strlen(uri), i;
	char *out = arena_alloc(a, len + 1), *o = out;
	int hi, lo;

	*query = q != NULL ? q + 1 : "";
	for (i = 0; i < len; i++) {
		if (uri[i] == '%' && i + 2 < len &&
		    (hi = util_hexval((unsigned char)uri[i + 1])) >= 0 &&
		    (lo = util_hexval((unsigned char)uri[i + 2])) >= 0) {
			int c = hi << 4 | lo;

			if (c == 0 || c == '/') {
				*o++ = uri[i];
				continue;
			}
			*o++ = (char)c;
			i += 2;
		} else {
			*o++ = uri[i];
		}
	}
	*o = '\0';
	return out;
}

/* Read exactly the announced body into the arena. */
static int
read_body(struct http_req *req, FCGX_Request *fr, struct fp_status *st)
{
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", fr->envp);
	const struct route_body *rb = req->route->body;
	long long len = 0;
	unsigned char *body;
	int got;

	if (cl != NULL && *cl != '\0' &&
	    util_parse_int(cl, 0, 1LL << 40, &len) != 0)
		return fp_fail(st, FP_E_BADREQ, "Invalid Content-Length.");
	if (len == 0) {
		req->body = (const unsigned char *)"";
		req->body_len = 0;
		return 0;
	}
	if (rb == NULL)
		return fp_fail(st, FP_E_BADREQ,
		    "This endpoint takes no request body.");
	if ((unsigned long long)len > rb->max)
		return fp_fail(st, FP_E_TOOLARGE,
		    "Request body too large (limit %zu bytes).", rb->max);
	body = arena_alloc(req->arena, (size_t)len + 1);
	got = FCGX_GetStr((char *)body, (int)len, fr->in);
	if (got != (int)len)
		return fp_fail(st, FP_E_BADREQ, "Truncated request body.");
	body[len] = '\0';
	req->body = body;
	req->body_len = (size_t)len;
	return 0;
}

/* The media types a body may be sent as, for the 415 reason. */
static void
media_types(const struct route_body *rb, char *out, size_t outlen)
{
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; rb->types[i] != NULL && len < outlen; i++)
		len += snprintf(out + len, outlen - len, "%s%s",
		    i == 0 ? "" : " or ", rb->types[i]);
}

/* in_get_fn over the FastCGI request. */
static const char *
param_get(void *arg, enum in_src src, const char *name, int index)
{
	struct http_req *req = arg;

	switch (src) {
	case IN_QUERY:
		return http_query(req, name);
	case IN_HEADER:
		return http_header(req, name);
	case IN_PATH:
		return index >= 0 && (size_t)index < req->nparams
		    ? req->params[index]
		    : NULL;
	}
	return NULL;
}

/*
 * What the route declares its input to be, checked and decoded before
 * the handler runs: the body's media type (415), its JSON (400), then
 * the query, header and path parameters (400, or a converter's 404).
 * A parsed JSON body is kept in '*json' until the handler returns: the
 * decoded strings point into it.
 */
static int
decode_input(struct http_req *req, json_object **json, struct fp_status *st)
{
	const struct route *r = req->route;
	const struct route_body *rb = r->body;
	int typed = req->content_type != NULL && *req->content_type != '\0';
	char types[160];
	void *in = NULL;
	size_t i;
	int rc, ok;

	if (r->in_size > 0) {
		in = arena_alloc(req->arena, r->in_size);
		memset(in, 0, r->in_size);
	}
	if (rb != NULL && rb->types != NULL && (req->body_len > 0 || typed)) {
		ok = typed ? 0 : rb->untyped;
		for (i = 0; typed && !ok && rb->types[i] != NULL; i++)
			ok = in_media_type_is(req->content_type, rb->types[i]);
		if (!ok) {
			media_types(rb, types, sizeof(types));
			return fp_fail(st, FP_E_MEDIATYPE,
			    "Content-Type must be %s.", types);
		}
	}
	if (rb != NULL && rb->json != NULL) {
		/* A JSON route without an input struct is the table's bug. */
		if (in == NULL) {
			log_err("%s %s: JSON body but no input struct",
			    r->method, r->pattern);
			return -FP_E_INTERNAL;
		}
		/* A body the route may omit reads as the empty object. */
		const char *text = req->body_len == 0 && rb->optional
		    ? "{}"
		    : (const char *)req->body;
		size_t len =
		    req->body_len == 0 && rb->optional ? 2 : req->body_len;

		if ((rc = json_parse_strict(text, len, json, st)) != 0 ||
		    (rc = json_decode(*json, rb->json, req->arena, in, st)) !=
		        0)
			return rc;
	}
	if (r->params != NULL &&
	    (rc = in_decode(r->params, param_get, req, req->arena, in, st)) !=
	        0)
		return rc;
	req->in = in;
	return 0;
}

/*
 * libfcgi keeps the bytes of an answer in its stream buffer until
 * FCGX_Finish_r frees it, unwiped.  After a flush the whole content area
 * of that buffer is [wrNext, stop): EmptyBuffProc leaves wrNext just past
 * the record header it reserves (fcgiapp.c), so wiping that range wipes
 * everything the answer put there.  On a write error the stream is left
 * as it is: the buffer's start is private to libfcgi.
 */
static void
wipe_out_stream(FCGX_Stream *out)
{
	if (out == NULL || out->isClosed || FCGX_FFlush(out) != 0 ||
	    FCGX_GetError(out) != 0)
		return;
	if (out->wrNext != NULL && out->stop > out->wrNext)
		OPENSSL_cleanse(out->wrNext, (size_t)(out->stop - out->wrNext));
}

/*
 * The CGI-style header block is built in 'head' (libfcgi's own printf
 * knows no %zu) and written with the body in as few records as it takes.
 */
static void
write_response(FCGX_Request *fr, struct http_req *req, struct http_resp *resp,
    struct buf *head)
{
	int bodyless = resp->status == 204 || resp->status == 304 ||
	    strcmp(req->method, "HEAD") == 0;

	buf_reset(head);
	buf_printf(head, "Status: %d %s\r\n", resp->status,
	    reason_phrase(resp->status));
	if (resp->content_type != NULL)
		buf_printf(head, "Content-Type: %s\r\n", resp->content_type);
	if (resp->status != 204 && resp->status != 304)
		buf_printf(head, "Content-Length: %zu\r\n", resp->body.len);
	buf_append(head, resp->headers.data, resp->headers.len);
	buf_puts(head, "\r\n");
	FCGX_PutStr((const char *)head->data, (int)head->len, fr->out);
	if (!bodyless && resp->body.len > 0)
		FCGX_PutStr((const char *)resp->body.data, (int)resp->body.len,
		    fr->out);
}

static void
handle(struct fp_ctx *ctx, FCGX_Request *fr, struct arena *arena,
    struct http_resp *resp, struct buf *head)
{
	struct http_req req;
	struct fp_status st = { FP_E_OK, "" };
	const struct route *route = NULL;
	const struct route_group *group = NULL;
	json_object *json = NULL;
	const char *uri;
	char allow[128];
	struct timespec t0, t1;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&req, 0, sizeof(req));
	req.ctx = ctx;
	req.arena = arena;
	req.fcgx = fr;
	req.method = FCGX_GetParam("REQUEST_METHOD", fr->envp);
	uri = FCGX_GetParam("REQUEST_URI", fr->envp);
	req.content_type = FCGX_GetParam("CONTENT_TYPE", fr->envp);
	req.remote_addr = FCGX_GetParam("REMOTE_ADDR", fr->envp);
	if (req.method == NULL)
		req.method = "GET";
	if (uri == NULL || *uri != '/' ||
	    (req.path = decode_path(arena, uri, &req.query)) == NULL) {
		rc = fp_fail(&st, FP_E_NOTFOUND, "No such resource.");
		goto out;
	}
	switch (router_match(&req, &route, &group)) {
	case ROUTE_NO_PATH:
		rc = fp_fail(&st, FP_E_NOTFOUND, "No such resource.");
		goto out;
	case ROUTE_NO_METHOD:
		router_allow(&req, allow, sizeof(allow));
		resp_header(resp, "Allow", "%s", allow);
		rc = fp_fail(&st, FP_E_METHOD, "Method %s not allowed here.",
		    req.method);
		goto out;
	case ROUTE_FOUND:
		break;
	}
	req.route = route;
	/* An issuance in this request counts under this dialect. */
	metrics_set_dialect(router_dialect(group));
	if ((rc = read_body(&req, fr, &st)) != 0)
		goto out;
	/* Authentication is the table's business, never a handler's. */
	switch (route->auth) {
	case AUTH_NONE:
		break;
	case AUTH_BEARER:
		resp_header(resp, "Cache-Control", "no-store");
		if ((rc = auth_bearer(ctx, http_header(&req, "Authorization"),
		         &req.tenant, &st)) != 0)
			goto out;
		break;
	case AUTH_API_TOKEN:
		resp_header(resp, "Cache-Control", "no-store");
		if ((rc = auth_api_token(ctx, http_header(&req, "X-Auth-Token"),
		         &req.tenant, &req.user, &st)) != 0)
			goto out;
		break;
	case AUTH_AUTHTOKEN:
		resp_header(resp, "Cache-Control", "no-store");
		if ((rc = auth_authtoken(ctx,
		         http_header(&req, "Authorization"), &req.tenant,
		         &st)) != 0)
			goto out;
		break;
	case AUTH_ADMIN:
		resp_header(resp, "Cache-Control", "no-store");
		if ((rc = http_admin_auth(&req, &st)) != 0)
			goto out;
		break;
	case AUTH_METRICS:
		resp_header(resp, "Cache-Control", "no-store");
		if ((rc = http_metrics_auth(&req, &st)) != 0)
			goto out;
		break;
	}
	store_set_tenant(ctx->db, req.tenant.id); /* RLS: sql/005 */
	/* So is the input: handlers read typed values only. */
	if ((rc = decode_input(&req, &json, &st)) != 0)
		goto out;
	rc = route->handler(&req, resp, &st);
	if (rc == 0 && resp->status == 0) {
		log_err("%s %s: handler set no response", req.method, req.path);
		rc = -FP_E_INTERNAL;
	}
out:
	if (rc != 0) {
		if (fp_err_http(rc) == 401 && route != NULL &&
		    (route->auth == AUTH_BEARER ||
		        route->auth == AUTH_AUTHTOKEN))
			resp_header(resp, "WWW-Authenticate", "Bearer");
		if (group != NULL && group->error != NULL)
			group->error(resp, rc, &st);
		else
			resp_error(resp, rc, &st);
		if (fp_err_http(rc) >= 500)
			log_warn("%s %s -> %d", req.method,
			    req.path != NULL ? req.path : "?", fp_err_http(rc));
	}
	write_response(fr, &req, resp, head);
	json_object_put(json);
	/* By the route's pattern, never the raw path: bounded labels. */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_http(route != NULL ? router_slot(route) : METRICS_ROUTE_NONE,
	    resp->status,
	    (double)(t1.tv_sec - t0.tv_sec) +
	        (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	metrics_set_dialect(0);
}

/*
 * Which idle worker takes a new connection.  A blocking accept() on the
 * shared socket wakes its waiters first come, first served: each
 * connection goes to the worker idle the longest, so with a few clients
 * the requests rotate over every worker and each one finds its caches
 * (and its PostgreSQL backend's) cold.  Measured at one connection with
 * 8 workers, a request cost fleetpkid 1.17 ms of CPU and PostgreSQL
 * 0.85 ms, against 0.76 and 0.50 with the one worker kept warm
 * (bench/RESULTS.md (q)).  So each worker waits in its own epoll set
 * with EPOLLEXCLUSIVE instead: the kernel wakes the first idle worker in
 * the order they registered, the same few workers serve a light load
 * and the others join as concurrency grows.  The listening socket is
 * non-blocking, since another worker may take the connection between the
 * wakeup and accept4().
 */
static int
accept_setup(int listen_fd)
{
	struct epoll_event ev;
	int ep, fl;

	if ((fl = fcntl(listen_fd, F_GETFL)) < 0 ||
	    fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0)
		fatal("fcntl on the listening socket: %s", strerror(errno));
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		fatal("epoll_create1: %s", strerror(errno));
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	ev.data.fd = listen_fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev) != 0)
		fatal("epoll_ctl: %s", strerror(errno));
	return ep;
}

/*
 * Wait for the next whole request into 'fr'.  0: one is read; 1: this
 * connection gave up or ran out of time (try again); -1: accepting
 * failed for good.
 *
 * The worker accepts the connection itself so that it can put a
 * deadline on it before the first byte is read: libfcgi's own accept
 * gives a unix connection 2 s for its first byte and then reads the
 * rest of the request without limit, so a client that sends half a
 * record and stops would hold this worker for ever, and as many such
 * clients as there are workers would stop the service.  With
 * SO_RCVTIMEO/SO_SNDTIMEO every read and write of the connection is
 * bounded (FASTCGI_DEADLINE_S): a silent or slow client costs one worker
 * that long, once.
 */
static int
next_request(FCGX_Request *fr, int ep, int listen_fd)
{
	struct timeval tv = { FASTCGI_DEADLINE_S, 0 };
	struct epoll_event ev;
	int fd;

	if (fr->ipcFd < 0) {
		if (epoll_wait(ep, &ev, 1, -1) < 0) {
			if (errno == EINTR)
				return 1;
			log_err("epoll_wait: %s", strerror(errno));
			return -1;
		}
		if ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			log_err("accept: %s", strerror(errno));
			return -1;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) !=
		        0 ||
		    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) !=
		        0) {
			log_err("setsockopt: %s", strerror(errno));
			close(fd);
			return 1;
		}
		fr->ipcFd = fd;
		/*
		 * Keep it: FCGX_Accept_r begins by finishing the previous
		 * request, which would close a connection it did not open.
		 */
		fr->keepConnection = 1;
	}
	/*
	 * libfcgi reads the request from fr->ipcFd; when the connection
	 * fails or times out first, it closes it and, with no listener of
	 * its own (-1), returns instead of accepting.  A connection the
	 * server asked to keep (FCGI_KEEP_CONN) stays in fr->ipcFd for the
	 * next call, under the same deadline.
	 */
	return FCGX_Accept_r(fr) == 0 ? 0 : 1;
}

void
front_worker_run(const struct config *cfg, int listen_fd, struct signer *signer)
{
	struct fp_ctx ctx = { cfg, NULL, signer };
	struct http_resp resp;
	struct buf head = BUF_INIT;
	struct sigaction sa;
	struct arena *arena;
	FCGX_Request fr;
	sigset_t all;
	int ep, rc;

	/* Die with the master: an orphaned worker would hold the socket. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term; /* no SA_RESTART: accept() returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);

	if (FCGX_Init() != 0)
		fatal("FCGX_Init failed");
	/* We accept, libfcgi only reads: see next_request(). */
	FCGX_InitRequest(&fr, -1, 0);
	ep = accept_setup(listen_fd);
	ctx.db = store_open(cfg->database_url, cfg->db_connect_timeout);
	/* Connect now so the first request does not pay for it. */
	(void)store_ready(ctx.db);
	arena = arena_new();
	memset(&resp, 0, sizeof(resp));
	log_debug("worker ready");

	while (!w_stop) {
		w_idle = 1;
		if (w_stop)
			break;
		if ((rc = next_request(&fr, ep, listen_fd)) != 0) {
			w_idle = 0;
			if (rc > 0 || w_stop)
				continue;
			break;
		}
		w_idle = 0;
		resp.status = 0;
		resp.secret = 0;
		resp.content_type = NULL;
		buf_reset(&resp.headers);
		buf_reset(&resp.body);
		handle(&ctx, &fr, arena, &resp, &head);
		store_set_tenant(ctx.db, 0); /* nothing crosses requests */
		if (resp.secret)
			wipe_out_stream(fr.out);
		FCGX_Finish_r(&fr);
		if (resp.secret && resp.body.data != NULL)
			OPENSSL_cleanse(resp.body.data, resp.body.cap);
		arena_reset(arena);
	}
	store_close(ctx.db);
	close(ep);
	arena_free(arena);
	buf_free(&resp.headers);
	buf_free(&resp.body);
	buf_free(&head);
	exit(0);
}
