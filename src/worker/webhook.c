/*
 * webhook: fleetpki-worker's webhook children (sql/021).
 *
 * Each child takes the lease of one webhook with something due
 * (store_webhook_claim: SKIP LOCKED, so the children of every worker on
 * every host share the webhooks and never serve one twice at once),
 * sends its pending deliveries one at a time in order, and gives the
 * lease back after WH_BATCH deliveries or WH_BATCH_MS, so one busy
 * receiver cannot keep a child to itself.  A failed attempt blocks that
 * webhook until its retry (order is kept per URL) and the child moves
 * on to another webhook.  Several children per worker (worker.h,
 * WEBHOOK_CHILDREN) and short timeouts bound what a slow or dead
 * receiver costs the others: one child for at most WH_TIMEOUT_MS per
 * attempt.
 *
 * Delivery is at least once: the attempt is recorded after the answer,
 * so a child killed in between leaves the delivery pending, and another
 * child sends it again when the lease runs out (same webhook-id).
 *
 * Each request carries the webhook's AuthorizationToken verbatim as
 * Authorization and the Standard Webhooks headers: webhook-id
 * ("evt_<event id>", the same on every attempt), webhook-timestamp (of
 * the attempt) and webhook-signature ("v1," + base64 HMAC-SHA256 of
 * "<id>.<timestamp>.<body>" under the webhook's secret).  The outbound
 * client is net_http_request: no redirects, no proxy, capped answer,
 * the deny list on every resolved address, TLS verified against the
 * system store or outbound_ca_file; each child keeps its connections
 * open (net_fetch.keep_alive), so a busy URL costs one TLS handshake,
 * not one per delivery.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "fleetpki/buf.h"
#include "fleetpki/config.h"
#include "fleetpki/core.h"
#include "fleetpki/core_webhook.h"
#include "fleetpki/log.h"
#include "fleetpki/metrics.h"
#include "fleetpki/net.h"
#include "fleetpki/pki.h"
#include "fleetpki/proc.h"
#include "fleetpki/signer.h"
#include "fleetpki/store.h"
#include "fleetpki/store_tags.h"
#include "fleetpki/store_webhook.h"
#include "fleetpki/util.h"
#include "fleetpki/worker.h"

/* A webhook's lease; renewed by every recorded attempt. */
#define WH_LEASE_S 30
#define WH_BATCH 50
#define WH_BATCH_MS 10000
#define WH_TIMEOUT_MS 10000
#define WH_CONNECT_TIMEOUT_MS 3000
/* What a receiver may answer (we read and drop it). */
#define WH_MAX_ANSWER (64 * 1024)
#define WH_RETRY_AFTER_MAX_S 86400

static volatile sig_atomic_t wh_stop;

static void
on_stop(int sig)
{
	(void)sig;
	wh_stop = 1;
}

int
worker_webhook_backoff_s(int attempts, unsigned rnd)
{
	long long s = WEBHOOK_BACKOFF_BASE_S;
	int i;

	for (i = 1; i < attempts && s < WEBHOOK_BACKOFF_MAX_S; i++)
		s *= 2;
	if (s > WEBHOOK_BACKOFF_MAX_S)
		s = WEBHOOK_BACKOFF_MAX_S;
	/* Jitter: 80% to 120%, so retries of many receivers spread out. */
	s = s * (80 + (long long)(rnd % 41)) / 100;
	return s < 1 ? 1 : (int)s;
}

int
worker_webhook_retry_after(const char *head, size_t len, long long now)
{
	const char *p = head, *end = head + len, *eol, *v;
	char val[128];
	long long n;
	time_t t;
	size_t vl;

	while (p < end) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		if ((size_t)(eol - p) > 12 &&
		    strncasecmp(p, "retry-after:", 12) == 0) {
			v = p + 12;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			vl = (size_t)(eol - v);
			while (vl > 0 &&
			    (v[vl - 1] == '\r' || v[vl - 1] == ' ' ||
			        v[vl - 1] == '\t'))
				vl--;
			if (vl == 0 || vl >= sizeof(val))
				return 0;
			memcpy(val, v, vl);
			val[vl] = '\0';
			if (util_parse_int(val, 0, 1000000000LL, &n) == 0)
				return n > WH_RETRY_AFTER_MAX_S
				    ? WH_RETRY_AFTER_MAX_S
				    : (int)n;
			if ((t = curl_getdate(val, NULL)) == -1)
				return 0;
			n = (long long)t - now;
			if (n <= 0)
				return 0;
			return n > WH_RETRY_AFTER_MAX_S ? WH_RETRY_AFTER_MAX_S
			                                : (int)n;
		}
		p = eol + 1;
	}
	return 0;
}

struct wh_child {
	struct fp_ctx ctx;
	struct net_denylist *deny;
	char owner[256];
};

/* One attempt: the outcome, the status (0: no answer) and why. */
static enum webhook_outcome
send_one(struct wh_child *w, const struct webhook_claim *c,
    const struct buf *token, const struct buf *secret,
    const struct webhook_send *d, int *status, int *retry_after, char *why,
    size_t whylen)
{
	struct fp_status st = { FP_E_OK, "" };
	struct net_fetch f;
	struct net_request rq;
	struct buf auth = BUF_INIT, id = BUF_INIT, ts = BUF_INIT,
	           sig = BUF_INIT, head = BUF_INIT, body = BUF_INIT;
	const char *hdrs[7];
	long long now = (long long)time(NULL);
	char msg_id[40];
	long code = 0;
	size_t nh = 0;
	int rc;

	*status = 0;
	*retry_after = 0;
	snprintf(msg_id, sizeof(msg_id), "evt_%lld", (long long)d->event_id);
	buf_printf(&id, "webhook-id: %s", msg_id);
	buf_printf(&ts, "webhook-timestamp: %lld", now);
	buf_puts(&sig, "webhook-signature: ");
	core_webhook_signature(secret->data, secret->len, msg_id, now, d->body,
	    strlen(d->body), &sig);
	hdrs[nh++] = "Content-Type: application/json";
	if (token->len > 0) {
		buf_puts(&auth, "Authorization: ");
		buf_append(&auth, token->data, token->len);
		buf_append(&auth, "", 1);
		auth.len--;
		hdrs[nh++] = (const char *)auth.data;
	}
	hdrs[nh++] = (const char *)id.data;
	hdrs[nh++] = (const char *)ts.data;
	hdrs[nh++] = (const char *)sig.data;
	hdrs[nh] = NULL;

	memset(&f, 0, sizeof(f));
	f.url = c->url;
	f.timeout_ms = WH_TIMEOUT_MS;
	f.connect_timeout_ms = WH_CONNECT_TIMEOUT_MS;
	f.max_body = WH_MAX_ANSWER;
	f.deny = w->deny;
	f.allow_https = 1;
	f.ca_file = w->ctx.cfg->outbound_ca_file;
	f.keep_alive = 1;
	rq.method = "POST";
	rq.headers = hdrs;
	rq.body = d->body;
	rq.body_len = strlen(d->body);
	rc = net_http_request(&f, &rq, &code, &head, &body, &st);
	buf_free_secret(&auth);
	buf_free_secret(&sig);
	buf_free(&id);
	buf_free(&ts);
	buf_free(&body);
	if (rc != 0) {
		snprintf(why, whylen, "%s", fp_status_message(&st, rc));
		buf_free(&head);
		return WEBHOOK_RETRY;
	}
	*status = (int)code;
	*retry_after =
	    worker_webhook_retry_after((const char *)head.data, head.len, now);
	buf_free(&head);
	if (code >= 200 && code < 300) {
		why[0] = '\0';
		return WEBHOOK_OK;
	}
	if (code == 410) {
		char at[32];

		util_iso8601_ms((int64_t)now * 1000, at);
		snprintf(why, whylen,
		    "the receiver answered 410 Gone at %s: disabled", at);
		return WEBHOOK_GONE;
	}
	snprintf(why, whylen, "the receiver answered HTTP %ld", code);
	return WEBHOOK_RETRY;
}

static int
open_sealed(struct wh_child *w, const struct webhook_claim *c, const char *what,
    const struct buf *ct, struct buf *out)
{
	char aad[WEBHOOK_AAD_MAX];

	core_webhook_aad(aad, c->tenant_id, c->uid, what);
	return signer_unseal(w->ctx.signer, aad, ct->data, ct->len, out);
}

/* Wall-clock milliseconds: the events' created_at is wall time. */
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Record an attempt; 0 while we may go on with this webhook. */
static int
record(struct wh_child *w, const struct webhook_send *d, enum webhook_outcome o,
    int status, const char *why, int retry_after, int max_attempts,
    int64_t webhook_id)
{
	unsigned rnd = 0;
	char state[16];
	int retry_s;

	pki_random(&rnd, sizeof(rnd));
	retry_s = retry_after > 0
	    ? retry_after
	    : worker_webhook_backoff_s(d->attempts + 1, rnd);
	if (store_webhook_result(w->ctx.db, d->id, w->owner, WH_LEASE_S, o,
	        status, why[0] != '\0' ? why : NULL, retry_s, max_attempts,
	        state, sizeof(state)) != 0) {
		log_warn("webhook %lld: recording delivery %lld failed",
		    (long long)webhook_id, (long long)d->id);
		return -1;
	}
	if (state[0] == '\0') {
		log_warn("webhook %lld: lease lost before delivery %lld was "
		         "recorded (it will be sent again)",
		    (long long)webhook_id, (long long)d->id);
		return -1;
	}
	metrics_webhook(o == WEBHOOK_OK      ? METRICS_WH_DELIVERED
	        : o == WEBHOOK_GONE          ? METRICS_WH_GONE
	        : strcmp(state, "dead") == 0 ? METRICS_WH_DEAD
	                                     : METRICS_WH_RETRY);
	if (o == WEBHOOK_OK) {
		/* From the event's commit to the receiver's 2xx. */
		metrics_webhook_lag(
		    (double)(now_ms() - d->created_ms) / 1000.0);
		log_debug("webhook %lld: delivery %lld delivered (HTTP %d)",
		    (long long)webhook_id, (long long)d->id, status);
		return 0;
	}
	if (o == WEBHOOK_GONE)
		log_warn("webhook %lld: %s", (long long)webhook_id, why);
	else if (strcmp(state, "dead") == 0)
		log_warn("webhook %lld: delivery %lld dead after %d attempts: "
		         "%s",
		    (long long)webhook_id, (long long)d->id, d->attempts + 1,
		    why);
	else
		log_info("webhook %lld: delivery %lld attempt %d failed (%s); "
		         "again in %d s",
		    (long long)webhook_id, (long long)d->id, d->attempts + 1,
		    why, retry_s);
	/* Dead: the next one may go now; else the webhook waits. */
	return strcmp(state, "dead") == 0 ? 0 : -1;
}

/* Send what is due of one claimed webhook, in order. */
static void
serve(struct wh_child *w, const struct webhook_claim *c)
{
	struct buf token = BUF_INIT, secret = BUF_INIT;
	struct webhook_send *ds = NULL;
	int64_t start = proc_now_ms();
	long long max = WEBHOOK_MAX_ATTEMPTS_DEFAULT;
	char why[256];
	size_t i, n = 0, sent = 0;
	int status, retry_after, go = 1;
	enum webhook_outcome o;

	store_set_tenant(w->ctx.db, c->tenant_id);
	if (core_setting_int(&w->ctx, c->tenant_id, "webhook.max_attempts",
	        &max) != 0)
		max = WEBHOOK_MAX_ATTEMPTS_DEFAULT;
	store_set_tenant(w->ctx.db, 0);
	if (open_sealed(w, c, "token", &c->token_sealed, &token) != 0 ||
	    open_sealed(w, c, "secret", &c->secret_sealed, &secret) != 0) {
		log_err("webhook %lld: its sealed token or secret does not "
		        "open (another master key?)",
		    (long long)c->id);
		if (store_webhook_next(w->ctx.db, c->id, w->owner, 1, &ds,
		        &n) == 0 &&
		    n == 1) {
			snprintf(why, sizeof(why),
			    "the webhook's sealed token does not open");
			(void)record(w, &ds[0], WEBHOOK_RETRY, 0, why, 0,
			    (int)max, c->id);
		}
		goto out;
	}
	while (go && !wh_stop && sent < WH_BATCH &&
	    proc_now_ms() - start < WH_BATCH_MS) {
		store_rec_array_free(ds, n, sizeof(*ds),
		    (void (*)(void *))webhook_send_clear);
		ds = NULL;
		n = 0;
		if (store_webhook_next(w->ctx.db, c->id, w->owner,
		        WH_BATCH - (int)sent, &ds, &n) != 0 ||
		    n == 0)
			break;
		for (i = 0; i < n && go && !wh_stop; i++) {
			why[0] = '\0';
			o = send_one(w, c, &token, &secret, &ds[i], &status,
			    &retry_after, why, sizeof(why));
			sent++;
			if (record(w, &ds[i], o, status, why, retry_after,
			        (int)max, c->id) != 0)
				go = 0;
			else if (proc_now_ms() - start >= WH_BATCH_MS)
				go = 0;
		}
	}
out:
	store_rec_array_free(ds, n, sizeof(*ds),
	    (void (*)(void *))webhook_send_clear);
	buf_free_secret(&token);
	buf_free_secret(&secret);
	(void)store_webhook_release(w->ctx.db, c->id, w->owner);
}

void
worker_webhook_run(const struct config *cfg, int index)
{
	struct wh_child w;
	struct webhook_claim c;
	char host[128], *err = NULL;

	memset(&w, 0, sizeof(w));
	proc_child_signals(on_stop);
	if (net_denylist_parse(cfg->outbound_deny, &w.deny, &err) != 0 ||
	    net_denylist_allow(w.deny, cfg->outbound_allow, &err) != 0) {
		log_err("webhooks: outbound_deny/outbound_allow: %s",
		    err != NULL ? err : "invalid");
		free(err);
		exit(1);
	}
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	snprintf(w.owner, sizeof(w.owner), "%s:%ld:webhook", host,
	    (long)getpid());
	w.ctx.cfg = cfg;
	w.ctx.db = store_open(cfg->database_url, cfg->db_connect_timeout);
	/*
	 * Everything this child commits is the queue's bookkeeping: a
	 * record lost in a database crash sends a delivery once more.
	 */
	store_async_commit(w.ctx.db);
	/* The tokens and secrets open here only (fleetpkid seals them). */
	w.ctx.signer = signer_local_new(cfg->master_key);
	log_info("delivering webhooks (child %d)", index);

	while (!wh_stop) {
		int64_t next_ms = -1, wait_ms;

		while (!wh_stop &&
		    store_webhook_claim(w.ctx.db, w.owner, WH_LEASE_S, &c) ==
		        0) {
			serve(&w, &c);
			webhook_claim_clear(&c);
		}
		wait_ms = (int64_t)cfg->worker_interval * 1000;
		if (store_webhook_next_due_ms(w.ctx.db, &next_ms) == 0 &&
		    next_ms >= 0 && next_ms < wait_ms)
			wait_ms = next_ms < 50 ? 50 : next_ms;
		if (!wh_stop)
			(void)store_webhook_wait(w.ctx.db, (int)wait_ms);
	}
	store_close(w.ctx.db);
	core_cache_flush();
	signer_free(w.ctx.signer);
	net_denylist_free(w.deny);
	log_debug("webhook child %d stopped", index);
	exit(0);
}
