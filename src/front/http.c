/*
 * http: request accessors and response builders.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <fcgiapp.h>

#include "fleetpki/arena.h"
#include "fleetpki/core.h"
#include "fleetpki/http.h"
#include "fleetpki/json.h"
#include "fleetpki/pki.h"
#include "fleetpki/util.h"

const char *
http_header(struct http_req *req, const char *name)
{
	FCGX_Request *fr = req->fcgx;
	char param[128] = "HTTP_";
	size_t i, n = 5;

	/* CGI names headers HTTP_<UPPER_WITH_UNDERSCORES>. */
	for (i = 0; name[i] != '\0' && n < sizeof(param) - 1; i++)
		param[n++] = name[i] == '-'
		    ? '_'
		    : (char)toupper((unsigned char)name[i]);
	param[n] = '\0';
	return FCGX_GetParam(param, fr->envp);
}

int
http_etag_match(struct http_req *req, const char *etag)
{
	const char *inm = http_header(req, "If-None-Match"), *p;
	size_t len = strlen(etag);

	if (inm == NULL)
		return 0;
	for (p = inm; *p != '\0';) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (*p == '*')
			return 1;
		/* RFC 9110 13.1.2: If-None-Match uses the weak comparison. */
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (strncmp(p, etag, len) == 0 &&
		    (p[len] == '\0' || p[len] == ',' || p[len] == ' '))
			return 1;
		while (*p != '\0' && *p != ',')
			p++;
	}
	return 0;
}

/* Percent-decode 'len' bytes of a query component; '+' is a space. */
static char *
query_decode(struct arena *a, const char *s, size_t len)
{
	char *out = arena_alloc(a, len + 1), *o = out;
	size_t i;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (s[i] == '+') {
			*o++ = ' ';
		} else if (s[i] == '%' && i + 2 < len &&
		    (hi = util_hexval((unsigned char)s[i + 1])) >= 0 &&
		    (lo = util_hexval((unsigned char)s[i + 2])) >= 0) {
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

char *
http_percent_decode(struct arena *a, const char *s)
{
	size_t len = strlen(s), i;
	char *out = arena_alloc(a, len + 1), *o = out;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len &&
		    (hi = util_hexval((unsigned char)s[i + 1])) >= 0 &&
		    (lo = util_hexval((unsigned char)s[i + 2])) >= 0) {
			if ((hi << 4 | lo) == 0)
				return NULL;
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

const char *
http_query(struct http_req *req, const char *name)
{
	const char *p = req->query, *amp, *eq;
	size_t namelen = strlen(name), keylen, pairlen;
	char *key;

	while (p != NULL && *p != '\0') {
		amp = strchr(p, '&');
		pairlen = amp != NULL ? (size_t)(amp - p) : strlen(p);
		eq = memchr(p, '=', pairlen);
		keylen = eq != NULL ? (size_t)(eq - p) : pairlen;
		key = query_decode(req->arena, p, keylen);
		/* A decoded NUL would end the key early: such keys never match. */
		if (strlen(key) == namelen && strcmp(key, name) == 0)
			return eq != NULL ? query_decode(req->arena, eq + 1,
			                        pairlen - keylen - 1)
			                  : "";
		p = amp != NULL ? amp + 1 : NULL;
	}
	return NULL;
}

int
http_idem_key(struct arena *a, const char *in, const char **out,
    struct fp_status *st)
{
	size_t len = strlen(in), i;

	(void)a;
	/* Visible ASCII: it is compared and stored as given. */
	for (i = 0; i < len; i++)
		if (in[i] < '!' || in[i] > '~')
			break;
	if (len < 1 || len > HTTP_IDEM_KEY_MAX || i < len)
		return fp_fail(st, FP_E_BADREQ,
		    "Idempotency-Key must be 1 to %d visible ASCII "
		    "characters.",
		    HTTP_IDEM_KEY_MAX);
	*out = in;
	return 0;
}

int
http_idem(struct http_req *req, const char *key, struct core_idem *idem)
{
	struct buf b = BUF_INIT;
	char hex[EVP_MAX_MD_SIZE * 2 + 1];
	int rc;

	memset(idem, 0, sizeof(*idem));
	if (key == NULL)
		return 0;
	/*
	 * "The same request": the same route and query, by the same caller,
	 * with the same bytes.  NULs separate the parts, none of which can
	 * hold one, so no two requests share a digest input.
	 */
	buf_append(&b, req->method, strlen(req->method) + 1);
	buf_append(&b, req->path, strlen(req->path) + 1);
	buf_append(&b, req->query, strlen(req->query) + 1);
	buf_printf(&b, "%lld", (long long)req->user.id);
	buf_append(&b, "", 1);
	buf_append(&b, req->body, req->body_len);
	rc = pki_digest_hex("sha256", b.data, b.len, hex);
	buf_free(&b);
	if (rc != 0)
		return rc;
	idem->key = key;
	memcpy(idem->hash, hex, sizeof(idem->hash) - 1); /* 64 digits */
	idem->hash[sizeof(idem->hash) - 1] = '\0';
	return 0;
}

void
resp_header(struct http_resp *resp, const char *name, const char *fmt, ...)
{
	char value[1024];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	/* A header value never carries a line break (response splitting). */
	for (i = 0; value[i] != '\0'; i++)
		if (value[i] == '\r' || value[i] == '\n')
			value[i] = ' ';
	buf_printf(&resp->headers, "%s: %s\r\n", name, value);
}

void
resp_bytes(struct http_resp *resp, int status, const char *content_type,
    const void *data, size_t len)
{
	resp->status = status;
	resp->content_type = content_type;
	buf_reset(&resp->body);
	buf_append(&resp->body, data, len);
}

void
resp_json(struct http_resp *resp, int status, json_object *obj)
{
	const char *text;
	size_t len;

	text = json_object_to_json_string_length(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	resp_bytes(resp, status, "application/json", text, len);
	if (resp->secret)
		json_wipe(obj); /* the body itself is wiped once sent */
	json_object_put(obj);
}

void
resp_empty(struct http_resp *resp, int status)
{
	resp->status = status;
	resp->content_type = NULL;
	buf_reset(&resp->body);
}

void
resp_error(struct http_resp *resp, int code, const struct fp_status *st)
{
	json_object *obj = json_object_new_object();

	json_object_object_add(obj, "message",
	    json_object_new_string(fp_status_message(st, code)));
	resp_json(resp, fp_err_http(code), obj);
}
