/*
 * libfleetpki-device: devices, requests, acknowledgements and the
 * libcurl transport (docs/device-protocol.md).  Answers are parsed in
 * answer.c.
 *
 * The library runs on devices, not in the server: it links neither
 * libfleetpki nor its memory helpers, reports out of memory as
 * FPD_ENOMEM instead of exiting, and shares only devproto (proto.c)
 * with the server, so both sides compute the same canonical forms.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fleetpki-device.h"
#include "fleetpki/devproto.h"
#include "device_internal.h"

/* What one request may carry: the server refuses more (docs). */
#define MAX_ACKS_PER_REQUEST 64
#define MAX_PENDING_ACKS 256
#define MAX_ACK_ERROR 256
#define MAX_CSR (16 * 1024)
#define MAX_URL 2048

struct fpd_client {
	CURL *curl;
	char *url;
	char *cacert;
	long timeout;
};

const char *
fpd_strerror(int err)
{
	switch (err) {
	case FPD_OK:
		return "success";
	case FPD_EINVAL:
		return "invalid argument";
	case FPD_ECRYPTO:
		return "cryptographic operation failed";
	case FPD_ECOUNTER:
		return "counter could not be saved or is exhausted";
	case FPD_ETRANSPORT:
		return "server not reached (connection, TLS, timeout or size)";
	case FPD_EAUTH:
		return "answer not authenticated (MAC missing or wrong)";
	case FPD_EPROTO:
		return "malformed answer";
	case FPD_EREFUSED:
		return "request refused by the server";
	case FPD_EHTTP:
		return "unauthenticated error answer";
	case FPD_ENOMEM:
		return "out of memory";
	}
	return "unknown error";
}

int
fpd_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK
	    ? FPD_OK
	    : FPD_ETRANSPORT;
}

void
fpd_global_cleanup(void)
{
	curl_global_cleanup();
}

int
fpd_derive_keys(const char *rot_hex, const unsigned char *secret,
    unsigned char *request_key, unsigned char *response_key)
{
	unsigned char rot[DEVPROTO_ROT_LEN];
	struct devproto_keys keys;

	if (secret == NULL || request_key == NULL || response_key == NULL ||
	    devproto_rot_parse(rot_hex, rot) != 0)
		return FPD_EINVAL;
	if (devproto_derive_keys(secret, rot, &keys) != 0)
		return FPD_ECRYPTO;
	memcpy(request_key, keys.request, sizeof(keys.request));
	memcpy(response_key, keys.response, sizeof(keys.response));
	devproto_keys_wipe(&keys);
	return FPD_OK;
}

int
fpd_device_new(const char *rot_hex, const unsigned char *secret,
    uint64_t last_counter, fpd_counter_save_fn save, void *save_arg,
    struct fpd_device **out)
{
	struct fpd_device *dev = NULL;
	int rc = FPD_EINVAL;

	*out = NULL;
	if (secret == NULL || last_counter > DEVPROTO_COUNTER_MAX)
		goto out;
	if ((dev = calloc(1, sizeof(*dev))) == NULL) {
		rc = FPD_ENOMEM;
		goto out;
	}
	if (devproto_rot_parse(rot_hex, dev->rot) != 0)
		goto out;
	devproto_rot_format(dev->rot, dev->rot_hex);
	memcpy(dev->secret, secret, sizeof(dev->secret));
	if (devproto_derive_keys(secret, dev->rot, &dev->keys) != 0) {
		rc = FPD_ECRYPTO;
		goto out;
	}
	dev->counter = last_counter;
	dev->save = save;
	dev->save_arg = save_arg;
	*out = dev;
	dev = NULL;
	rc = FPD_OK;
out:
	fpd_device_free(dev);
	return rc;
}

static void
ack_clear(struct ack *a)
{
	free(a->id);
	free(a->error);
	free(a->csr);
	memset(a, 0, sizeof(*a));
}

void
fpd_device_free(struct fpd_device *dev)
{
	size_t i;

	if (dev == NULL)
		return;
	for (i = 0; i < dev->nacks; i++)
		ack_clear(&dev->acks[i]);
	free(dev->acks);
	/* The root secret and both keys. */
	OPENSSL_cleanse(dev, sizeof(*dev));
	free(dev);
}

uint64_t
fpd_device_counter(const struct fpd_device *dev)
{
	return dev->counter;
}

const char *
fpd_device_rot(const struct fpd_device *dev)
{
	return dev->rot_hex;
}

int
fpd_device_resync(struct fpd_device *dev, const struct fpd_answer *ans)
{
	if (dev == NULL || ans == NULL || !ans->authenticated ||
	    ans->error == NULL || strcmp(ans->error, "COUNTER_REPLAY") != 0 ||
	    ans->last_counter >= DEVPROTO_COUNTER_MAX)
		return FPD_EINVAL;
	if (ans->last_counter > dev->counter)
		dev->counter = ans->last_counter;
	return FPD_OK;
}

/* Printable ASCII only, 'min'..'max' bytes. */
static int
text_ok(const char *s, size_t min, size_t max)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) < min || n > max)
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

/* Printable ASCII and line ends (a PEM block), 'min'..'max' bytes. */
static int
text_ok_multiline(const char *s, size_t min, size_t max)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) < min || n > max)
		return 0;
	for (; *s != '\0'; s++)
		if (*s != '\n' && *s != '\r' &&
		    ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e))
			return 0;
	return 1;
}

static int
add_ack(struct fpd_device *dev, const char *id, int ok, const char *error,
    const char *csr)
{
	struct ack a = { NULL, ok, NULL, NULL }, *grown;

	if (dev == NULL || !fpd_id_ok(id) ||
	    (!ok && !text_ok(error, 1, MAX_ACK_ERROR)) ||
	    (csr != NULL && !text_ok_multiline(csr, 1, MAX_CSR)))
		return FPD_EINVAL;
	if (dev->nacks >= MAX_PENDING_ACKS)
		return FPD_EINVAL;
	if ((a.id = strdup(id)) == NULL ||
	    (!ok && (a.error = strdup(error)) == NULL) ||
	    (csr != NULL && (a.csr = strdup(csr)) == NULL))
		goto nomem;
	if ((grown = realloc(dev->acks, (dev->nacks + 1) * sizeof(*grown))) ==
	    NULL)
		goto nomem;
	dev->acks = grown;
	dev->acks[dev->nacks++] = a;
	return FPD_OK;
nomem:
	ack_clear(&a);
	return FPD_ENOMEM;
}

int
fpd_ack_success(struct fpd_device *dev, const char *id, const char *csr_pem)
{
	return add_ack(dev, id, 1, NULL, csr_pem);
}

int
fpd_ack_failure(struct fpd_device *dev, const char *id, const char *error)
{
	return add_ack(dev, id, 0, error, NULL);
}

size_t
fpd_pending_acks(const struct fpd_device *dev)
{
	return dev->nacks;
}

/* The answer to a heartbeat that carried the first 'n' acks arrived. */
static void
drop_acks(struct fpd_device *dev, size_t n)
{
	size_t i;

	if (n > dev->nacks)
		n = dev->nacks;
	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		ack_clear(&dev->acks[i]);
	memmove(dev->acks, dev->acks + n,
	    (dev->nacks - n) * sizeof(*dev->acks));
	dev->nacks -= n;
}

void
fpd_request_free(struct fpd_request *req)
{
	if (req == NULL)
		return;
	free(req->body);
	free(req);
}

/* Add a string member when 'v' is not NULL. */
static int
put_str(json_object *o, const char *k, const char *v)
{
	json_object *s;

	if (v == NULL)
		return 0;
	if ((s = json_object_new_string(v)) == NULL)
		return -1;
	if (json_object_object_add(o, k, s) != 0) {
		json_object_put(s);
		return -1;
	}
	return 0;
}

/*
 * Take the next counter (saved first: the request does not exist until
 * the caller's storage has the counter), MAC the request and fill the
 * headers.  'body' becomes the request's.
 */
static int
finish_request(struct fpd_device *dev, const char *path, char *body,
    int64_t now, int heartbeat, size_t nacks, struct fpd_request **out)
{
	struct fpd_request *req = NULL;
	struct devproto_req dr;
	uint64_t next;
	int rc = FPD_EINVAL;

	if (now < 0)
		goto out;
	if (dev->counter >= DEVPROTO_COUNTER_MAX) {
		rc = FPD_ECOUNTER;
		goto out;
	}
	next = dev->counter + 1;
	if (dev->save != NULL && dev->save(dev->save_arg, next) != 0) {
		rc = FPD_ECOUNTER;
		goto out;
	}
	dev->counter = next;
	if ((req = calloc(1, sizeof(*req))) == NULL) {
		rc = FPD_ENOMEM;
		goto out;
	}
	req->path = path;
	req->body = body;
	req->body_len = strlen(body);
	body = NULL;
	req->counter_value = next;
	req->heartbeat = heartbeat;
	req->nacks = nacks;
	dr = (struct devproto_req){ dev->rot, next, now, "POST", path,
		(const unsigned char *)req->body, req->body_len };
	if (devproto_request_mac(dev->keys.request, &dr, req->mac_raw) != 0) {
		rc = FPD_ECRYPTO;
		goto out;
	}
	memcpy(req->rot, dev->rot_hex, sizeof(req->rot));
	snprintf(req->counter, sizeof(req->counter), "%" PRIu64, next);
	snprintf(req->timestamp, sizeof(req->timestamp), "%" PRId64, now);
	devproto_hex_encode(req->mac_raw, sizeof(req->mac_raw), req->mac);
	*out = req;
	req = NULL;
	rc = FPD_OK;
out:
	free(body);
	fpd_request_free(req);
	return rc;
}

/* A JSON object's compact text, malloc'ed. */
static char *
json_text(json_object *o)
{
	const char *s;

	s = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	return s != NULL ? strdup(s) : NULL;
}

static int
digits_ok(const char *s, size_t min, size_t max)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) < min || n > max)
		return 0;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

int
fpd_build_bootstrap(struct fpd_device *dev,
    const struct fpd_bootstrap_info *info, int64_t now,
    struct fpd_request **out)
{
	json_object *o = NULL;
	char *body = NULL;
	int rc = FPD_EINVAL;

	*out = NULL;
	if (dev == NULL || info == NULL || !text_ok(info->serial, 1, 16) ||
	    (info->profile != NULL && !fpd_id_ok(info->profile)) ||
	    (info->imei != NULL && !digits_ok(info->imei, 1, 16)) ||
	    (info->firmware != NULL && !text_ok(info->firmware, 1, 64)))
		goto out;
	rc = FPD_ENOMEM;
	if ((o = json_object_new_object()) == NULL ||
	    put_str(o, "DeviceSerialNumber", info->serial) != 0 ||
	    put_str(o, "DeviceProfileUID", info->profile) != 0 ||
	    put_str(o, "IMEI", info->imei) != 0 ||
	    put_str(o, "FirmwareVersion", info->firmware) != 0 ||
	    (body = json_text(o)) == NULL)
		goto out;
	rc = finish_request(dev, DEVPROTO_PATH_BOOTSTRAP, body, now, 0, 0, out);
	body = NULL;
out:
	json_object_put(o);
	free(body);
	return rc;
}

int
fpd_build_heartbeat(struct fpd_device *dev, int64_t now,
    struct fpd_request **out)
{
	json_object *o = NULL, *arr = NULL, *a;
	char *body = NULL;
	size_t i, n;
	int rc = FPD_ENOMEM;

	*out = NULL;
	if (dev == NULL)
		return FPD_EINVAL;
	n = dev->nacks < MAX_ACKS_PER_REQUEST ? dev->nacks
	                                      : MAX_ACKS_PER_REQUEST;
	if ((o = json_object_new_object()) == NULL ||
	    (arr = json_object_new_array()) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		const struct ack *k = &dev->acks[i];

		if ((a = json_object_new_object()) == NULL)
			goto out;
		if (json_object_array_add(arr, a) != 0) {
			json_object_put(a);
			goto out;
		}
		if (put_str(a, "Id", k->id) != 0 ||
		    put_str(a, "Status", k->ok ? "SUCCESS" : "FAILURE") != 0 ||
		    put_str(a, "Error", k->error) != 0 ||
		    put_str(a, "Csr", k->csr) != 0)
			goto out;
	}
	if (json_object_object_add(o, "Acks", arr) != 0)
		goto out;
	arr = NULL;
	if ((body = json_text(o)) == NULL)
		goto out;
	rc = finish_request(dev, DEVPROTO_PATH_HEARTBEAT, body, now, 1, n, out);
	body = NULL;
out:
	json_object_put(arr);
	json_object_put(o);
	free(body);
	return rc;
}

int
fpd_read_answer(struct fpd_device *dev, const struct fpd_request *req,
    int status, const char *mac_hdr, const char *timestamp_hdr,
    const unsigned char *body, size_t body_len, struct fpd_answer **ans)
{
	struct fpd_answer *a = NULL;
	struct devproto_resp dr;
	unsigned char mac[DEVPROTO_MAC_LEN];
	int64_t ts;
	int rc = FPD_EINVAL;

	*ans = NULL;
	if (dev == NULL || req == NULL || (body == NULL && body_len > 0) ||
	    status < 100 || status > 599)
		goto out;
	if (body_len > FPD_MAX_ANSWER) {
		rc = FPD_ETRANSPORT;
		goto out;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		rc = FPD_ENOMEM;
		goto out;
	}
	a->status = status;
	if (mac_hdr == NULL) {
		/*
		 * Nothing unauthenticated is believed.  A success without a
		 * MAC is a forgery or a broken proxy; an error without one
		 * (401, 413, 5xx) is reported with its status and, for the
		 * log only, the code it claims.
		 */
		if (status >= 200 && status < 300) {
			rc = FPD_EAUTH;
			goto out;
		}
		if (fpd_parse_error(body, body_len, a) == FPD_ENOMEM) {
			rc = FPD_ENOMEM;
			goto out;
		}
		rc = FPD_EHTTP;
		*ans = a;
		a = NULL;
		goto out;
	}
	/* The MAC binds the answer to this request: its counter and MAC. */
	rc = FPD_EAUTH;
	if (devproto_parse_mac(mac_hdr, mac) != 0 || timestamp_hdr == NULL ||
	    devproto_parse_timestamp(timestamp_hdr, &ts) != 0)
		goto out;
	dr = (struct devproto_resp){ dev->rot, req->counter_value, req->mac_raw,
		status, ts, body, body_len };
	if (devproto_response_verify(dev->keys.response, &dr, mac) != 0)
		goto out;
	a->authenticated = 1;
	a->server_time = ts;
	if (status == 200) {
		rc = fpd_parse_success(body, body_len, !req->heartbeat, a);
		if (rc == FPD_OK && req->heartbeat)
			drop_acks(dev, req->nacks);
	} else {
		rc = fpd_parse_error(body, body_len, a);
		if (rc == FPD_OK)
			rc = FPD_EREFUSED;
	}
	if (rc != FPD_ENOMEM) {
		*ans = a;
		a = NULL;
	}
out:
	fpd_answer_free(a);
	return rc;
}

int
fpd_client_new(const char *url, const char *cacert, long timeout_sec,
    struct fpd_client **out)
{
	struct fpd_client *cl = NULL;
	size_t n;
	int rc = FPD_EINVAL;

	*out = NULL;
	/* An https base URL without a trailing slash, no spaces. */
	if (url == NULL || strncasecmp(url, "https://", 8) != 0 ||
	    !text_ok(url, 9, MAX_URL) || strchr(url, ' ') != NULL ||
	    url[(n = strlen(url)) - 1] == '/' || timeout_sec < 0)
		goto out;
	rc = FPD_ENOMEM;
	if ((cl = calloc(1, sizeof(*cl))) == NULL ||
	    (cl->url = strdup(url)) == NULL ||
	    (cacert != NULL && (cl->cacert = strdup(cacert)) == NULL))
		goto out;
	if ((cl->curl = curl_easy_init()) == NULL) {
		rc = FPD_ETRANSPORT;
		goto out;
	}
	cl->timeout = timeout_sec > 0 ? timeout_sec : 30;
	*out = cl;
	cl = NULL;
	rc = FPD_OK;
out:
	fpd_client_free(cl);
	return rc;
}

void
fpd_client_free(struct fpd_client *cl)
{
	if (cl == NULL)
		return;
	if (cl->curl != NULL)
		curl_easy_cleanup(cl->curl);
	free(cl->url);
	free(cl->cacert);
	free(cl);
}

/* What one exchange collects from libcurl. */
struct xfer {
	unsigned char *body;
	size_t len;
	int too_big;
	char mac[DEVPROTO_MAC_HEX_LEN + 1];
	int have_mac; /* -1: present but malformed */
	char ts[24];
	int have_ts;
};

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	unsigned char *grown;

	if (n > FPD_MAX_ANSWER - x->len) {
		x->too_big = 1;
		return 0; /* aborts the transfer */
	}
	if ((grown = realloc(x->body, x->len + n + 1)) == NULL)
		return 0;
	x->body = grown;
	memcpy(x->body + x->len, p, n);
	x->len += n;
	x->body[x->len] = '\0';
	return n;
}

/* Copy header 'name''s trimmed value from 'line' into 'dst'. */
static int
header_value(const char *line, size_t n, const char *name, char *dst,
    size_t dstsz)
{
	size_t k = strlen(name), b, e;

	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return 0;
	for (b = k + 1; b < n && (line[b] == ' ' || line[b] == '\t'); b++)
		;
	for (e = n; e > b && isspace((unsigned char)line[e - 1]); e--)
		;
	if (e - b >= dstsz)
		return -1;
	memcpy(dst, line + b, e - b);
	dst[e - b] = '\0';
	return 1;
}

static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	int r;

	/* A new status line (after a 1xx): forget what came before. */
	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		x->have_mac = x->have_ts = 0;
		return n;
	}
	if ((r = header_value(p, n, DEVPROTO_HDR_MAC, x->mac,
	         sizeof(x->mac))) != 0)
		x->have_mac = x->have_mac != 0 ? -1 : r; /* twice: malformed */
	else if ((r = header_value(p, n, DEVPROTO_HDR_TIMESTAMP, x->ts,
	              sizeof(x->ts))) != 0)
		x->have_ts = x->have_ts != 0 ? -1 : r;
	return n;
}

int
fpd_send(struct fpd_client *cl, struct fpd_device *dev,
    const struct fpd_request *req, struct fpd_answer **ans)
{
	struct xfer x;
	struct curl_slist *hdrs = NULL, *h;
	char *url = NULL, line[128];
	const char *mac = NULL, *ts = NULL;
	long status = 0;
	CURLcode cc;
	int rc = FPD_ENOMEM;

	*ans = NULL;
	memset(&x, 0, sizeof(x));
	if (cl == NULL || dev == NULL || req == NULL)
		return FPD_EINVAL;
	if ((url = malloc(strlen(cl->url) + strlen(req->path) + 1)) == NULL)
		goto out;
	strcpy(url, cl->url);
	strcat(url, req->path);
#define ADD_HEADER(...)                                                        \
	do {                                                                   \
		snprintf(line, sizeof(line), __VA_ARGS__);                     \
		if ((h = curl_slist_append(hdrs, line)) == NULL)               \
			goto out;                                              \
		hdrs = h;                                                      \
	} while (0)
	ADD_HEADER("Content-Type: application/json");
	ADD_HEADER("Expect:");
	ADD_HEADER("%s: %s", DEVPROTO_HDR_ROT, req->rot);
	ADD_HEADER("%s: %s", DEVPROTO_HDR_COUNTER, req->counter);
	ADD_HEADER("%s: %s", DEVPROTO_HDR_TIMESTAMP, req->timestamp);
	ADD_HEADER("%s: %s", DEVPROTO_HDR_MAC, req->mac);
#undef ADD_HEADER
	/* Reset keeps the open connection, drops the last request's. */
	curl_easy_reset(cl->curl);
	if (curl_easy_setopt(cl->curl, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(cl->curl, CURLOPT_PROTOCOLS_STR, "https") !=
	        CURLE_OK ||
	    curl_easy_setopt(cl->curl, CURLOPT_FOLLOWLOCATION, 0L) !=
	        CURLE_OK ||
	    curl_easy_setopt(cl->curl, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(cl->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(cl->curl, CURLOPT_SSL_VERIFYPEER, 1L) !=
	        CURLE_OK ||
	    curl_easy_setopt(cl->curl, CURLOPT_SSL_VERIFYHOST, 2L) !=
	        CURLE_OK ||
	    (cl->cacert != NULL &&
	        curl_easy_setopt(cl->curl, CURLOPT_CAINFO, cl->cacert) !=
	            CURLE_OK) ||
	    curl_easy_setopt(cl->curl, CURLOPT_TIMEOUT, cl->timeout) !=
	        CURLE_OK ||
	    curl_easy_setopt(cl->curl, CURLOPT_CONNECTTIMEOUT,
	        cl->timeout < 10 ? cl->timeout : 10L) != CURLE_OK ||
	    curl_easy_setopt(cl->curl, CURLOPT_USERAGENT,
	        "libfleetpki-device/1") != CURLE_OK ||
	    curl_easy_setopt(cl->curl, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(cl->curl, CURLOPT_POSTFIELDS, req->body) !=
	        CURLE_OK ||
	    curl_easy_setopt(cl->curl, CURLOPT_POSTFIELDSIZE_LARGE,
	        (curl_off_t)req->body_len) != CURLE_OK ||
	    curl_easy_setopt(cl->curl, CURLOPT_WRITEFUNCTION, on_body) !=
	        CURLE_OK ||
	    curl_easy_setopt(cl->curl, CURLOPT_WRITEDATA, &x) != CURLE_OK ||
	    curl_easy_setopt(cl->curl, CURLOPT_HEADERFUNCTION, on_header) !=
	        CURLE_OK ||
	    curl_easy_setopt(cl->curl, CURLOPT_HEADERDATA, &x) != CURLE_OK) {
		rc = FPD_ETRANSPORT;
		goto out;
	}
	cc = curl_easy_perform(cl->curl);
	if (cc != CURLE_OK ||
	    curl_easy_getinfo(cl->curl, CURLINFO_RESPONSE_CODE, &status) !=
	        CURLE_OK) {
		rc = x.too_big || cc != CURLE_WRITE_ERROR ? FPD_ETRANSPORT
		                                          : FPD_ENOMEM;
		goto out;
	}
	/* A header sent twice or too long cannot verify: pass garbage. */
	if (x.have_mac != 0)
		mac = x.have_mac > 0 ? x.mac : "";
	if (x.have_ts != 0)
		ts = x.have_ts > 0 ? x.ts : "";
	rc = fpd_read_answer(dev, req, (int)status, mac, ts,
	    x.body != NULL ? x.body : (const unsigned char *)"", x.len, ans);
out:
	curl_slist_free_all(hdrs);
	free(url);
	free(x.body);
	return rc;
}

int
fpd_bootstrap(struct fpd_client *cl, struct fpd_device *dev,
    const struct fpd_bootstrap_info *info, struct fpd_answer **ans)
{
	struct fpd_request *req = NULL;
	int rc;

	*ans = NULL;
	if ((rc = fpd_build_bootstrap(dev, info, (int64_t)time(NULL), &req)) ==
	    FPD_OK)
		rc = fpd_send(cl, dev, req, ans);
	fpd_request_free(req);
	return rc;
}

int
fpd_heartbeat(struct fpd_client *cl, struct fpd_device *dev,
    struct fpd_answer **ans)
{
	struct fpd_request *req = NULL;
	int rc;

	*ans = NULL;
	if ((rc = fpd_build_heartbeat(dev, (int64_t)time(NULL), &req)) ==
	    FPD_OK)
		rc = fpd_send(cl, dev, req, ans);
	fpd_request_free(req);
	return rc;
}
