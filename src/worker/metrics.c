/*
 * metrics: fleetpki-worker's GET /metrics, on a loopback listener of its
 * own (worker_metrics_listen = 127.0.0.1:PORT; none when unset).
 *
 * The socket is bound by the supervisor before it forks, so a respawned
 * server child listens on the same port; the counters are the shared
 * region the supervisor made (metrics.h), so they are every child's.
 * The HTTP is the least that a scraper needs and kept robust: one
 * request per connection, answered with "Connection: close"; the
 * request head is capped (WM_HEAD_MAX) and must arrive within
 * WM_DEADLINE_S (every read and write is bounded too), so a client that
 * stalls or floods costs this child that long, once.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "fleetpki/buf.h"
#include "fleetpki/config.h"
#include "fleetpki/log.h"
#include "fleetpki/metrics.h"
#include "fleetpki/proc.h"
#include "fleetpki/util.h"
#include "fleetpki/worker.h"

#define WM_HEAD_MAX 8192
#define WM_DEADLINE_S 5
#define WM_BACKLOG 16
#define WM_LINGER_S 2
#define WM_LINGER_MAX (256 * 1024)

/* SIGTERM: exit at once while idle in accept(), else after the answer. */
static volatile sig_atomic_t wm_stop;
static volatile sig_atomic_t wm_idle;

static void
on_term(int sig)
{
	(void)sig;
	wm_stop = 1;
	if (wm_idle)
		_exit(0);
}

/* "host:port" or "[v6]:port" into 'host' and 'port'. */
static int
split_hostport(const char *s, char *host, size_t hostlen, const char **port)
{
	const char *colon = strrchr(s, ':');
	const char *h = s;
	size_t len;

	if (colon == NULL || colon[1] == '\0')
		return -1;
	len = (size_t)(colon - s);
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		h = s + 1;
		len -= 2;
	}
	if (len == 0 || len >= hostlen)
		return -1;
	memcpy(host, h, len);
	host[len] = '\0';
	*port = colon + 1;
	return 0;
}

int
worker_metrics_listen(const char *where)
{
	struct addrinfo hints, *ai = NULL;
	char host[64];
	const char *port;
	int fd = -1, one = 1, rc;

	if (split_hostport(where, host, sizeof(host), &port) != 0) {
		log_err("worker_metrics_listen '%s': not host:port", where);
		return -1;
	}
	/* Loopback only: the worker's counters are for this host. */
	if (strncmp(host, "127.", 4) != 0 && strcmp(host, "::1") != 0) {
		log_err("worker_metrics_listen '%s': not a loopback address",
		    where);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
		log_err("worker_metrics_listen '%s': %s", where,
		    gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(fd, WM_BACKLOG) != 0) {
		log_err("worker_metrics_listen '%s': %s", where,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

void
worker_metrics_write(struct buf *b)
{
	struct metrics_label l[2];
	struct metrics_hist_snap h;
	size_t k;
	int what, ok;

	metrics_write_family(b, "fleetpki_worker_jobs_total", "counter",
	    "Jobs this host's fleetpki-worker ran, by kind and result.");
	l[0].name = "kind";
	l[1].name = "result";
	for (k = 0; k < worker_njob_kinds && k < METRICS_MAX_JOB_KINDS; k++) {
		l[0].value = worker_job_kinds[k].name;
		for (ok = 1; ok >= 0; ok--) {
			l[1].value = ok ? "ok" : "failed";
			metrics_write_sample(b, "fleetpki_worker_jobs_total", l,
			    2, metrics_get_job(k, ok));
		}
	}
	metrics_write_family(b, "fleetpki_webhook_delivery_attempts_total",
	    "counter",
	    "Webhook delivery attempts, by result (failed_retry: tried "
	    "again later; failed_dead: the last attempt; gone: 410, "
	    "webhook disabled).");
	l[0].name = "result";
	for (what = 0; what < METRICS_WH__COUNT; what++) {
		l[0].value = metrics_wh_label((enum metrics_wh)what);
		metrics_write_sample(b,
		    "fleetpki_webhook_delivery_attempts_total", l, 1,
		    metrics_get_webhook((enum metrics_wh)what));
	}
	metrics_write_family(b, "fleetpki_webhook_delivery_lag_seconds",
	    "histogram",
	    "From an event's commit to its delivery's 2xx answer.");
	metrics_get_webhook_lag(&h);
	metrics_write_histogram(b, "fleetpki_webhook_delivery_lag_seconds",
	    NULL, 0, metrics_lag_bounds, METRICS_LAG_BOUNDS, &h);
	metrics_write_db(b, "fleetpki-worker's children");
}

static void
send_all(int fd, const void *p, size_t len)
{
	const char *c = p;
	ssize_t n;

	while (len > 0) {
		n = send(fd, c, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* timed out or gone: nothing more to do */
		c += n;
		len -= (size_t)n;
	}
}

static void
answer(int fd, int status, const char *reason, const char *type,
    const struct buf *body, const char *extra)
{
	struct buf head = BUF_INIT;

	buf_printf(&head,
	    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n%sConnection: close\r\n\r\n",
	    status, reason, type, body->len, extra);
	send_all(fd, head.data, head.len);
	send_all(fd, body->data, body->len);
	buf_free(&head);
}

static void
answer_error(int fd, int status, const char *reason, const char *message,
    const char *extra)
{
	struct buf body = BUF_INIT;

	buf_printf(&body, "{\"message\": \"%s\"}\n", message);
	answer(fd, status, reason, "application/json", &body, extra);
	buf_free(&body);
}

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read the request head (up to the empty line) within the deadline. */
static int
read_head(int fd, char *buf, size_t cap, size_t *len)
{
	double until = mono_s() + WM_DEADLINE_S;
	ssize_t n;

	*len = 0;
	while (*len < cap - 1) {
		if (mono_s() > until)
			return -1;
		n = recv(fd, buf + *len, cap - 1 - *len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		*len += (size_t)n;
		buf[*len] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL ||
		    strstr(buf, "\n\n") != NULL)
			return 0;
	}
	return 1; /* too large */
}

/*
 * After answering a request we did not read whole: closing with unread
 * bytes would send a reset that can destroy the answer in flight, so end
 * our side and drain what the client still sends, bounded in bytes and
 * in time (WM_LINGER_S, whatever the client trickles).
 */
static void
linger_close(int fd)
{
	char sink[4096];
	double until = mono_s() + WM_LINGER_S;
	size_t total = 0;
	ssize_t n;

	(void)shutdown(fd, SHUT_WR);
	while (total < WM_LINGER_MAX && mono_s() < until) {
		n = recv(fd, sink, sizeof(sink), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += (size_t)n;
	}
}

static void
serve(int fd)
{
	char head[WM_HEAD_MAX], *sp, *target, *end;
	struct buf body = BUF_INIT;
	size_t len;
	int rc;

	if ((rc = read_head(fd, head, sizeof(head), &len)) < 0)
		return; /* silent, slow or gone: drop it */
	if (rc > 0) {
		answer_error(fd, 431, "Request Header Fields Too Large",
		    "Request head too large.", "");
		linger_close(fd);
		return;
	}
	/* "METHOD SP target SP HTTP/x.y" */
	sp = strchr(head, ' ');
	target = sp != NULL ? sp + 1 : NULL;
	end = target != NULL ? strchr(target, ' ') : NULL;
	if (sp == NULL || end == NULL || strncmp(end + 1, "HTTP/1.", 7) != 0) {
		answer_error(fd, 400, "Bad Request", "Malformed request.", "");
		return;
	}
	*sp = '\0';
	*end = '\0';
	if ((sp = strchr(target, '?')) != NULL)
		*sp = '\0';
	if (strcmp(target, "/metrics") != 0) {
		answer_error(fd, 404, "Not Found", "No such resource.", "");
		return;
	}
	if (strcmp(head, "GET") != 0) {
		answer_error(fd, 405, "Method Not Allowed",
		    "Only GET is served here.", "Allow: GET\r\n");
		return;
	}
	worker_metrics_write(&body);
	answer(fd, 200, "OK", METRICS_CONTENT_TYPE, &body, "");
	buf_free(&body);
}

void
worker_metrics_run(const struct config *cfg, int listen_fd)
{
	struct timeval tv = { WM_DEADLINE_S, 0 };
	enum log_level lvl;
	int fd;

	if (log_level_parse(cfg->log_level, &lvl) == 0)
		log_init("worker-metrics", lvl);
	proc_child_signals(on_term); /* accept() returns on SIGTERM */
	for (;;) {
		wm_idle = 1;
		if (wm_stop)
			_exit(0);
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		wm_idle = 0;
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EAGAIN)
				continue;
			fatal("metrics accept: %s", strerror(errno));
		}
		if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ==
		        0 &&
		    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ==
		        0)
			serve(fd);
		close(fd);
	}
}
