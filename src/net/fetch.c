/*
 * fetch: outbound HTTP requests to URLs a client chose (challenge GETs;
 * webhook and ACME POSTs), with an SSRF guard.
 *
 * The guard sits where the address is final: libcurl resolves the name
 * and hands every address it is about to connect to to our
 * CURLOPT_OPENSOCKETFUNCTION, which refuses denied ones.  Checking the
 * name before the request instead would lose to DNS rebinding (a second
 * lookup answering differently) and to the many spellings of an IPv4
 * address ("2852039166", "0xa9.0xfe.0xa9.0xfe") that resolvers accept.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/log.h"
#include "fleetpki/net.h"
#include "fleetpki/util.h"

/*
 * One network: an address matches when (addr & mask) == net.  IPv4 uses
 * the first 4 bytes; IPv4-mapped IPv6 networks are stored as IPv4, since
 * addresses are judged that way too.
 */
struct net_cidr {
	int family;
	uint8_t net[16];
	uint8_t mask[16];
};

/*
 * What the operator configured: 'deny' (outbound_deny) adds to the
 * denied networks; 'allow' (outbound_allow) takes networks out of the
 * default-denied set again, never out of the always-denied one.
 */
struct net_denylist {
	struct net_cidr *v;
	size_t n;
	struct net_cidr *allow;
	size_t nallow;
};

/*
 * Denied whatever the operator writes: link-local (cloud metadata at
 * 169.254.169.254 and fe80::/10), the metadata services that live
 * elsewhere (AWS's IPv6 fd00:ec2::254, Alibaba's 100.100.100.200,
 * Azure's 168.63.129.16), "this network" 0.0.0.0/8 (Linux connects
 * 0.0.0.0 to the local host), the broadcast address and the unspecified
 * ::.  outbound_allow cannot open these: no deployment serves a
 * challenge on its cloud's metadata address, and one that thinks it
 * does is being attacked.
 */
static const struct net_cidr always_denied[] = {
	{ AF_INET, { 169, 254 }, { 0xff, 0xff } },
	{ AF_INET, { 0 }, { 0xff } },
	{ AF_INET, { 255, 255, 255, 255 }, { 0xff, 0xff, 0xff, 0xff } },
	{ AF_INET, { 100, 100, 100, 200 }, { 0xff, 0xff, 0xff, 0xff } },
	{ AF_INET, { 168, 63, 129, 16 }, { 0xff, 0xff, 0xff, 0xff } },
	{ AF_INET6, { 0xfe, 0x80 }, { 0xff, 0xc0 } },
	{ AF_INET6, { 0 },
	    { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	        0xff, 0xff, 0xff, 0xff, 0xff } },
	{ AF_INET6,
	    { 0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
	        0x54 },
	    { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	        0xff, 0xff, 0xff, 0xff, 0xff } },
};

/*
 * Denied unless outbound_allow re-allows them: the operator's own
 * networks, which a client-chosen URL must not reach by default (a
 * challenge fetch is otherwise a port scanner into them).  Loopback
 * 127.0.0.0/8 and ::1, private RFC 1918 and ULA fc00::/7, shared
 * address space 100.64.0.0/10 (carrier-grade NAT, and some clouds'
 * internal services).  Link-local is in always_denied.
 */
static const struct net_cidr default_denied[] = {
	{ AF_INET, { 127 }, { 0xff } },
	{ AF_INET, { 10 }, { 0xff } },
	{ AF_INET, { 172, 16 }, { 0xff, 0xf0 } },
	{ AF_INET, { 192, 168 }, { 0xff, 0xff } },
	{ AF_INET, { 100, 64 }, { 0xff, 0xc0 } },
	{ AF_INET6, { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
	    { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	        0xff, 0xff, 0xff, 0xff, 0xff } },
	{ AF_INET6, { 0xfc }, { 0xfe } },
};

/* Longest "xxxx:...:a.b.c.d/128" we take, with room to spare. */
#define CIDR_TEXT_MAX 64

static int
cidr_matches(const struct net_cidr *c, int family, const uint8_t *addr)
{
	size_t i, len = family == AF_INET ? 4 : 16;

	if (c->family != family)
		return 0;
	for (i = 0; i < len; i++)
		if ((addr[i] & c->mask[i]) != c->net[i])
			return 0;
	return 1;
}

/* ::ffff:a.b.c.d (mapped) or ::a.b.c.d (compatible, but not :: or ::1). */
static int
v6_embeds_v4(const uint8_t *a)
{
	static const uint8_t zero[12];

	if (memcmp(a, zero, 10) != 0)
		return 0;
	if (a[10] == 0xff && a[11] == 0xff)
		return 1;
	return a[10] == 0 && a[11] == 0 &&
	    !(a[12] == 0 && a[13] == 0 && a[14] == 0 && a[15] <= 1);
}

/*
 * 64:ff9b::a.b.c.d, the NAT64 well-known prefix (RFC 6052): on a host
 * behind a NAT64 gateway it reaches the IPv4 address a.b.c.d.
 */
static int
v6_nat64(const uint8_t *a)
{
	static const uint8_t prefix[12] = { 0x00, 0x64, 0xff, 0x9b };

	return memcmp(a, prefix, sizeof(prefix)) == 0;
}

/*
 * 64:ff9b:1::/48, the local-use NAT64 prefix (RFC 8215), taken like the
 * well-known one: a gateway with a /96 inside it reaches the IPv4
 * address in the last 32 bits.  (A site whose gateway embeds the
 * address elsewhere, with a shorter prefix, lists its prefix in
 * outbound_deny.)
 */
static int
v6_nat64_local(const uint8_t *a)
{
	static const uint8_t prefix[6] = { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 };

	return memcmp(a, prefix, sizeof(prefix)) == 0;
}

static int
in_set(const struct net_cidr *v, size_t n, int family, const uint8_t *addr)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (cidr_matches(&v[i], family, addr))
			return 1;
	return 0;
}

/*
 * The verdict for one address as it stands (no embedded IPv4 taken
 * out): always denied, denied by the operator, or default-denied and
 * not re-allowed by the operator.
 */
static int
listed(const struct net_denylist *dl, int family, const uint8_t *addr)
{
	if (in_set(always_denied, FP_ARRAY_LEN(always_denied), family, addr))
		return 1;
	if (dl != NULL && in_set(dl->v, dl->n, family, addr))
		return 1;
	return in_set(default_denied, FP_ARRAY_LEN(default_denied), family,
	           addr) &&
	    !(dl != NULL && in_set(dl->allow, dl->nallow, family, addr));
}

/* Parse one "addr[/prefix]" into 'c'; -1 when it is not one. */
static int
cidr_parse(const char *text, struct net_cidr *c)
{
	char addr[CIDR_TEXT_MAX];
	const char *slash = strchr(text, '/');
	size_t alen = slash != NULL ? (size_t)(slash - text) : strlen(text);
	long long prefix;
	int max, i;

	memset(c, 0, sizeof(*c));
	if (alen == 0 || alen >= sizeof(addr))
		return -1;
	memcpy(addr, text, alen);
	addr[alen] = '\0';
	/* Strict notation in the operator's file: inet_pton, not inet_aton. */
	if (inet_pton(AF_INET, addr, c->net) == 1)
		c->family = AF_INET;
	else if (inet_pton(AF_INET6, addr, c->net) == 1)
		c->family = AF_INET6;
	else
		return -1;
	max = c->family == AF_INET ? 32 : 128;
	prefix = max;
	if (slash != NULL &&
	    (slash[1] < '0' || slash[1] > '9' ||
	        util_parse_int(slash + 1, 0, max, &prefix) != 0))
		return -1;
	for (i = 0; i < max; i++)
		if (i < prefix)
			c->mask[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	/*
	 * "10.0.0.1/8" is refused rather than read as 10.0.0.0/8: the
	 * operator meant one of the two, and a deny list is no place to
	 * guess which.
	 */
	for (i = 0; i < 16; i++)
		if ((c->net[i] & ~c->mask[i]) != 0)
			return -1;
	/* ::ffff:10.0.0.0/104 would never match: addresses go as IPv4. */
	if (c->family == AF_INET6 && prefix >= 96 && c->net[10] == 0xff &&
	    c->net[11] == 0xff && v6_embeds_v4(c->net)) {
		c->family = AF_INET;
		memmove(c->net, c->net + 12, 4);
		memmove(c->mask, c->mask + 12, 4);
		memset(c->net + 4, 0, 12);
		memset(c->mask + 4, 0, 12);
	}
	return 0;
}

static int
is_sep(char ch)
{
	return ch == ',' || ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* Append the networks of 'spec' to '*v'/'*n'; -1 with '*err' set. */
static int
cidr_list_parse(const char *spec, struct net_cidr **v, size_t *n, char **err)
{
	char tok[CIDR_TEXT_MAX];
	const char *p = spec != NULL ? spec : "";
	size_t len;

	for (;;) {
		while (is_sep(*p))
			p++;
		if (*p == '\0')
			return 0;
		for (len = 0; p[len] != '\0' && !is_sep(p[len]); len++)
			;
		if (len >= sizeof(tok)) {
			*err = xasprintf("'%.*s...': not a CIDR network",
			    CIDR_TEXT_MAX, p);
			return -1;
		}
		memcpy(tok, p, len);
		tok[len] = '\0';
		*v = xrealloc(*v, (*n + 1) * sizeof(**v));
		if (cidr_parse(tok, &(*v)[*n]) != 0) {
			*err = xasprintf("'%s': not a CIDR network "
			                 "(address/prefix, no host bits set)",
			    tok);
			return -1;
		}
		(*n)++;
		p += len;
	}
}

int
net_denylist_parse(const char *spec, struct net_denylist **out, char **err)
{
	struct net_denylist *dl = NULL;
	int r = -1;

	*out = NULL;
	*err = NULL;
	dl = xcalloc(1, sizeof(*dl));
	if (cidr_list_parse(spec, &dl->v, &dl->n, err) != 0)
		goto out;
	*out = dl;
	dl = NULL;
	r = 0;
out:
	net_denylist_free(dl);
	return r;
}

int
net_denylist_allow(struct net_denylist *dl, const char *spec, char **err)
{
	struct net_cidr *v = NULL;
	size_t n = 0;
	int r = -1;

	*err = NULL;
	/* All or nothing: a bad entry leaves the list as it was. */
	if (cidr_list_parse(spec, &v, &n, err) != 0)
		goto out;
	dl->allow = xrealloc(dl->allow, (dl->nallow + n + 1) * sizeof(*v));
	if (n > 0)
		memcpy(dl->allow + dl->nallow, v, n * sizeof(*v));
	dl->nallow += n;
	r = 0;
out:
	free(v);
	return r;
}

void
net_denylist_free(struct net_denylist *dl)
{
	if (dl == NULL)
		return;
	free(dl->v);
	free(dl->allow);
	free(dl);
}

int
net_addr_denied(const struct net_denylist *dl, const struct sockaddr *sa)
{
	const struct sockaddr_in *sin = (const void *)sa;
	const struct sockaddr_in6 *sin6 = (const void *)sa;
	const uint8_t *addr;
	int family;

	if (sa == NULL)
		return 1;
	switch (sa->sa_family) {
	case AF_INET:
		family = AF_INET;
		addr = (const uint8_t *)&sin->sin_addr;
		break;
	case AF_INET6:
		family = AF_INET6;
		addr = sin6->sin6_addr.s6_addr;
		/* The kernel sends ::ffff:169.254.169.254 over IPv4. */
		if (v6_embeds_v4(addr)) {
			family = AF_INET;
			addr += 12;
		}
		/* So does a NAT64 gateway: the IPv4 address must pass too. */
		if (family == AF_INET6 &&
		    (v6_nat64(addr) || v6_nat64_local(addr)) &&
		    listed(dl, AF_INET, addr + 12))
			return 1;
		break;
	default:
		return 1;
	}
	return listed(dl, family, addr);
}

int
net_parse_ip(const char *text, struct sockaddr_storage *out)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)out;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)out;
	struct in_addr a4;
	struct in6_addr a6;

	if (text == NULL || *text == '\0')
		return -1;
	if (strchr(text, ':') != NULL) {
		if (inet_pton(AF_INET6, text, &a6) != 1)
			return -1;
		memset(out, 0, sizeof(*out));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = a6;
		return 0;
	}
	/*
	 * inet_aton() is what getaddrinfo() uses for numeric hosts, and so
	 * what a name "0x7f.1" becomes; but glibc's inet_aton() also stops
	 * quietly at white space ("1.2.3.4 junk"), which getaddrinfo()
	 * would not take as a number: allow only the characters of the
	 * numeric notations.
	 */
	if (text[strspn(text, "0123456789abcdefABCDEFxX.")] != '\0' ||
	    inet_aton(text, &a4) == 0)
		return -1;
	memset(out, 0, sizeof(*out));
	sin->sin_family = AF_INET;
	sin->sin_addr = a4;
	return 0;
}

/* ---- libcurl ------------------------------------------------------ */

struct fetch_ctx {
	const struct net_denylist *deny;
	struct buf body;
	size_t max_body;
	struct buf head; /* response header lines, when asked for */
	size_t head_bytes; /* received, kept or not */
	int want_head;
	int denied; /* the socket callback refused an address */
	int too_large; /* the write callback stopped the transfer */
};

/* Response headers kept for the caller (ACME's Replay-Nonce, Location). */
#define NET_HEAD_MAX (16 * 1024)

/*
 * Header lines as curl receives them, status line included.  Capped
 * like the body: a peer must not grow our memory with headers either.
 */
static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct fetch_ctx *ctx = arg;
	size_t n = size * nmemb;

	if (n > NET_HEAD_MAX - ctx->head_bytes) {
		ctx->too_large = 1;
		return 0;
	}
	ctx->head_bytes += n;
	if (ctx->want_head)
		buf_append(&ctx->head, data, n);
	return n;
}

/*
 * The methods a request may use: the ones webhooks and ACME send.  A
 * method is written into the request line, so only known words go.
 */
static int
method_known(const char *m)
{
	static const char *const known[] = { "GET", "HEAD", "POST", "PUT",
		"PATCH", "DELETE" };
	size_t i;

	for (i = 0; i < FP_ARRAY_LEN(known); i++)
		if (strcmp(m, known[i]) == 0)
			return 1;
	return 0;
}

/*
 * "Name: value", one line: a CR or LF would let a value start a header
 * (or a body) of its own; a name must be a token.
 */
static int
header_ok(const char *h)
{
	const char *colon = strchr(h, ':');
	size_t nlen;

	if (colon == NULL || colon == h || strpbrk(h, "\r\n") != NULL)
		return 0;
	nlen = (size_t)(colon - h);
	return strspn(h,
	           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	           "0123456789!#$%&'*+-.^_`|~") == nlen;
}

static size_t
on_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct fetch_ctx *ctx = arg;
	size_t n = size * nmemb;

	/* Any return value other than 'n' makes curl abort the transfer. */
	if (n > ctx->max_body - ctx->body.len) {
		ctx->too_large = 1;
		return 0;
	}
	buf_append(&ctx->body, data, n);
	return n;
}

/*
 * Called with each resolved address right before connecting: the one
 * place where the address checked is the address used.
 */
static curl_socket_t
on_opensocket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct fetch_ctx *ctx = arg;
	int fd;

	if (purpose != CURLSOCKTYPE_IPCXN ||
	    net_addr_denied(ctx->deny, &a->addr)) {
		ctx->denied = 1;
		return CURL_SOCKET_BAD;
	}
	/* Not inherited by anything a worker might exec. */
	fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	return fd < 0 ? CURL_SOCKET_BAD : fd;
}

/* curl_global_init() is not thread-safe; workers are single-threaded. */
static int
curl_ready(void)
{
	static int done;
	CURLcode rc;

	if (done)
		return 0;
	if ((rc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK) {
		log_err("curl_global_init: %s", curl_easy_strerror(rc));
		return -FP_E_INTERNAL;
	}
	done = 1;
	return 0;
}

/*
 * The connections, TLS sessions and name lookups kept between requests
 * of one process (net_fetch.keep_alive).  Made on first use in the
 * process that uses it: one made before a fork would hand the parent's
 * sockets to every child, so a share of another process is left alone
 * and a new one made.  Single-threaded processes: no lock callbacks.
 */
#define NET_KEEP_MAX_CONNS 16

static CURLSH *
keep_share(void)
{
	static CURLSH *share;
	static pid_t owner;

	if (share != NULL && owner == getpid())
		return share;
	if ((share = curl_share_init()) == NULL)
		fatal("curl_share_init: out of memory");
	if (curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) !=
	        CURLSHE_OK ||
	    curl_share_setopt(share, CURLSHOPT_SHARE,
	        CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
	    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) !=
	        CURLSHE_OK) {
		log_err("net: curl_share_setopt failed; connections not kept");
		curl_share_cleanup(share);
		share = NULL;
		return NULL;
	}
	owner = getpid();
	return share;
}

/*
 * The reason a client sees: the host it gave us, never the address it
 * resolved to (that would map the operator's network for it).
 */
static int
fetch_fail(struct fp_status *st, CURLcode rc, const struct fetch_ctx *ctx,
    const char *host)
{
	if (ctx->denied)
		return fp_fail(st, FP_E_EXPECTATION, "address not allowed");
	if (ctx->too_large || rc == CURLE_FILESIZE_EXCEEDED)
		return fp_fail(st, FP_E_EXPECTATION, "response too large");
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return fp_fail(st, FP_E_EXPECTATION, "timed out");
	case CURLE_UNSUPPORTED_PROTOCOL:
		return fp_fail(st, FP_E_EXPECTATION, "URL scheme not allowed");
	case CURLE_URL_MALFORMAT:
		return fp_fail(st, FP_E_EXPECTATION, "malformed URL");
	case CURLE_COULDNT_RESOLVE_HOST:
		return fp_fail(st, FP_E_EXPECTATION, "could not resolve %.255s",
		    host);
	case CURLE_COULDNT_CONNECT:
		return fp_fail(st, FP_E_EXPECTATION,
		    "could not connect to %.255s", host);
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		return fp_fail(st, FP_E_EXPECTATION,
		    "TLS connection to %.255s failed", host);
	default:
		return fp_fail(st, FP_E_EXPECTATION, "request to %.255s failed",
		    host);
	}
}

int
net_http_get(const struct net_fetch *f, long *status, struct buf *body,
    struct fp_status *st)
{
	return net_http_request(f, NULL, status, NULL, body, st);
}

int
net_http_request(const struct net_fetch *f, const struct net_request *rq,
    long *status, struct buf *head, struct buf *body, struct fp_status *st)
{
	static const struct net_request get = { "GET", NULL, NULL, 0 };
	struct fetch_ctx ctx = { 0 };
	struct curl_slist *hdrs = NULL, *tmp;
	size_t i;
	char errbuf[CURL_ERROR_SIZE] = "";
	const char *protos;
	CURL *curl = NULL;
	CURLU *url = NULL;
	char *scheme = NULL, *host = NULL;
	CURLcode rc;
	int r;

	*status = 0;
	if (rq == NULL)
		rq = &get;
	ctx.deny = f->deny;
	ctx.max_body = f->max_body;
	ctx.want_head = head != NULL;
	if ((r = curl_ready()) != 0)
		goto out;
	if (f->url == NULL || f->timeout_ms <= 0) {
		log_err("net_http_request: no URL or no timeout");
		r = -FP_E_INTERNAL;
		goto out;
	}
	/* The method and headers are the caller's code, not a client's. */
	if (rq->method == NULL || !method_known(rq->method) ||
	    (rq->body_len > 0 && rq->body == NULL)) {
		log_err("net_http_request: bad method or body");
		r = -FP_E_INTERNAL;
		goto out;
	}
	for (i = 0; rq->headers != NULL && rq->headers[i] != NULL; i++) {
		if (!header_ok(rq->headers[i])) {
			log_err("net_http_request: malformed header line");
			r = -FP_E_INTERNAL;
			goto out;
		}
		if ((tmp = curl_slist_append(hdrs, rq->headers[i])) == NULL)
			fatal("curl_slist_append: out of memory");
		hdrs = tmp;
	}
	/*
	 * No "Expect: 100-continue": a second round trip, and one more
	 * way for a slow peer to hold the request open.
	 */
	if ((tmp = curl_slist_append(hdrs, "Expect:")) == NULL)
		fatal("curl_slist_append: out of memory");
	hdrs = tmp;

	/*
	 * Parse once with curl's own parser and hand the parsed URL to the
	 * transfer (CURLOPT_CURLU), so the host we name in errors and check
	 * the scheme of is the one curl connects to.  No scheme guessing:
	 * "example.com/x" is refused rather than taken as http.
	 */
	if ((url = curl_url()) == NULL)
		fatal("curl_url: out of memory");
	/* Any scheme parses, so that "gopher:" is named for what it is. */
	if (curl_url_set(url, CURLUPART_URL, f->url,
	        CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_get(url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		r = fp_fail(st, FP_E_EXPECTATION, "malformed URL");
		goto out;
	}
	if (strcmp(scheme, "http") != 0 &&
	    !(f->allow_https && strcmp(scheme, "https") == 0)) {
		r = fp_fail(st, FP_E_EXPECTATION, "URL scheme not allowed");
		goto out;
	}
	if (curl_url_get(url, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		r = fp_fail(st, FP_E_EXPECTATION, "malformed URL");
		goto out;
	}
	protos = f->allow_https ? "http,https" : "http";

	if ((curl = curl_easy_init()) == NULL)
		fatal("curl_easy_init: out of memory");
	/*
	 * No redirects (a 302 to http://169.254.169.254/ is the classic
	 * bypass; the caller sees the 302), no proxy from http_proxy and
	 * friends in the environment, no signals (SIGALRM timeouts do not
	 * mix with a FastCGI worker), no cookie engine, no content decoding
	 * (so 'max_body' counts the bytes received, not a decompressed
	 * bomb).  The socket callback does the address check.
	 */
	if (curl_easy_setopt(curl, CURLOPT_CURLU, url) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, protos) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, protos) !=
	        CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 0L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*") != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, f->timeout_ms) !=
	        CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
	        f->connect_timeout_ms > 0 ? f->connect_timeout_ms
	                                  : f->timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_USERAGENT, "fleetpki") != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write) !=
	        CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &ctx) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, on_opensocket) !=
	        CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &ctx) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header) !=
	        CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &ctx) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK) {
		log_err("net_http_request: curl_easy_setopt failed");
		r = -FP_E_INTERNAL;
		goto out;
	}
	if (f->keep_alive) {
		CURLSH *sh = keep_share();

		if (sh != NULL &&
		    (curl_easy_setopt(curl, CURLOPT_SHARE, sh) != CURLE_OK ||
		        curl_easy_setopt(curl, CURLOPT_MAXCONNECTS,
		            (long)NET_KEEP_MAX_CONNS) != CURLE_OK)) {
			log_err("net_http_request: CURLOPT_SHARE failed");
			r = -FP_E_INTERNAL;
			goto out;
		}
	} else if (curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L) !=
	    CURLE_OK) {
		log_err("net_http_request: CURLOPT_FORBID_REUSE failed");
		r = -FP_E_INTERNAL;
		goto out;
	}
	/* The operator's CA bundle, else curl's default (the system's). */
	if (f->ca_file != NULL && f->ca_file[0] != '\0' &&
	    curl_easy_setopt(curl, CURLOPT_CAINFO, f->ca_file) != CURLE_OK) {
		log_err("net_http_request: CURLOPT_CAINFO failed");
		r = -FP_E_INTERNAL;
		goto out;
	}
	/* A Content-Length over the cap fails before any body is read. */
	if (f->max_body > 0 && f->max_body < (size_t)INT64_MAX &&
	    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
	        (curl_off_t)f->max_body) != CURLE_OK) {
		log_err("net_http_request: CURLOPT_MAXFILESIZE_LARGE failed");
		r = -FP_E_INTERNAL;
		goto out;
	}
	/*
	 * The method.  A body goes as POSTFIELDS (curl sends it from our
	 * memory, with its Content-Length; never "chunked"); other methods
	 * than POST rename the request line.  HEAD reads no body.
	 */
	if (strcmp(rq->method, "GET") == 0) {
		/* curl's default */
	} else if (strcmp(rq->method, "HEAD") == 0) {
		if (curl_easy_setopt(curl, CURLOPT_NOBODY, 1L) != CURLE_OK)
			r = -FP_E_INTERNAL;
	} else if (curl_easy_setopt(curl, CURLOPT_POSTFIELDS,
	               rq->body != NULL ? rq->body : "") != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
	        (curl_off_t)rq->body_len) != CURLE_OK ||
	    (strcmp(rq->method, "POST") != 0 &&
	        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, rq->method) !=
	            CURLE_OK)) {
		r = -FP_E_INTERNAL;
	}
	if (r == -FP_E_INTERNAL) {
		log_err("net_http_request: setting the method failed");
		goto out;
	}

	if ((rc = curl_easy_perform(curl)) != CURLE_OK) {
		/* The operator may see the details (addresses included). */
		log_info("net_http_request %s %.255s: %s%s%s", rq->method, host,
		    curl_easy_strerror(rc), errbuf[0] != '\0' ? ": " : "",
		    errbuf);
		r = fetch_fail(st, rc, &ctx, host);
		goto out;
	}
	if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status) !=
	    CURLE_OK) {
		log_err("net_http_request: CURLINFO_RESPONSE_CODE failed");
		r = -FP_E_INTERNAL;
		goto out;
	}
	buf_append(body, ctx.body.data, ctx.body.len);
	if (head != NULL)
		buf_append(head, ctx.head.data, ctx.head.len);
	r = 0;
out:
	curl_easy_cleanup(curl);
	curl_url_cleanup(url);
	curl_slist_free_all(hdrs);
	curl_free(scheme);
	curl_free(host);
	buf_free(&ctx.body);
	buf_free(&ctx.head);
	return r;
}
