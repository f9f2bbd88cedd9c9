/*
 * test_net: the outbound fetcher against its contract in net.h.  The
 * SSRF address check is tested on every notation a resolver accepts;
 * net_http_get() talks to a real server that a forked child runs on
 * 127.0.0.2 (the address the black-box challenge tests use too), with
 * proxy variables set in the environment that must be ignored.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/log.h"
#include "fleetpki/net.h"
#include "fleetpki/util.h"

#define SERVER_ADDR "127.0.0.2"
#define CHALLENGE_PATH "/.well-known/certmaker-challenge/token.txt"

/* ---- address checks ----------------------------------------------- */

static struct net_denylist *
deny(const char *spec)
{
	struct net_denylist *dl = NULL;
	char *err = NULL;

	if (net_denylist_parse(spec, &dl, &err) != 0)
		fail_msg("'%s': %s", spec, err);
	assert_null(err);
	assert_non_null(dl);
	return dl;
}

/* 1 denied, 0 allowed; 'text' must be an IP literal. */
static int
denied(const struct net_denylist *dl, const char *text)
{
	struct sockaddr_storage ss;

	if (net_parse_ip(text, &ss) != 0)
		fail_msg("net_parse_ip('%s') failed", text);
	return net_addr_denied(dl, (struct sockaddr *)&ss);
}

static void
test_denylist_parse(void **state)
{
	static const char *const good[] = {
		"",
		" , ,\t",
		"10.0.0.0/8",
		"10.0.0.0/8,fd00::/8",
		"10.0.0.0/8 , 192.168.0.0/16\tfd00::/8\n172.16.0.0/12",
		"192.0.2.1",
		"::1",
		"0.0.0.0/0",
		"::/0",
		"::ffff:10.0.0.0/104",
		"2001:db8::/32",
	};
	static const char *const bad[] = {
		"10.0.0.0/33",
		"fd00::/129",
		"10.0.0.1/8", /* host bits */
		"fd00::1/8",
		"10.0.0.0/",
		"/8",
		"10.0.0/8",
		"10.0.0.0/8x",
		"10.0.0.0/-1",
		"10.0.0.0/+8",
		"10.0.0.0/ 8",
		"10.0.0.0/8;",
		"example.com/8",
		"0x0a.0.0.0/8", /* the operator's file is strict: inet_pton */
		"10.1/16",
		"10.0.0.0/8,nonsense",
		"fd00::/8/8",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc/8",
	};
	struct net_denylist *dl;
	char *err;
	size_t i;

	for (i = 0; i < FP_ARRAY_LEN(good); i++) {
		dl = deny(good[i]);
		net_denylist_free(dl);
	}
	dl = deny(NULL);
	net_denylist_free(dl);
	net_denylist_free(NULL);

	for (i = 0; i < FP_ARRAY_LEN(bad); i++) {
		dl = (struct net_denylist *)&err; /* poisoned */
		err = NULL;
		assert_int_equal(net_denylist_parse(bad[i], &dl, &err), -1);
		assert_null(dl);
		assert_non_null(err);
		/* The message names what was wrong. */
		assert_non_null(strstr(err, "not a CIDR network"));
		free(err);
	}
	assert_int_equal(net_denylist_parse("10.0.0.0/8, 10.0.0.1/8", &dl,
	                     &err),
	    -1);
	assert_non_null(strstr(err, "'10.0.0.1/8'"));
	free(err);
}

static void
test_always_denied(void **state)
{
	static const char *const always[] = {
		"169.254.169.254",
		"169.254.0.1",
		"2852039166", /* 169.254.169.254 */
		"0xa9fea9fe",
		"0251.0376.0251.0376",
		"169.254.43518",
		"0xa9.0xfe.0xa9.0xfe",
		"::ffff:169.254.169.254",
		"::ffff:a9fe:a9fe",
		"::169.254.169.254", /* IPv4-compatible */
		"0.0.0.0",
		"0",
		"0.1.2.3",
		"255.255.255.255",
		"4294967295",
		"::ffff:0.0.0.0",
		"64:ff9b::169.254.169.254", /* NAT64 (RFC 6052) */
		"64:ff9b::a9fe:a9fe",
		"fe80::1",
		"febf:ffff::1",
		"::",
		/* Metadata services off link-local. */
		"fd00:ec2::254",
		"100.100.100.200",
		"::ffff:100.100.100.200",
		"168.63.129.16",
		"2822734096", /* 168.63.129.16 */
		"64:ff9b::a83f:8110",
		/* The local-use NAT64 prefix (RFC 8215), like 64:ff9b::/96. */
		"64:ff9b:1::a9fe:a9fe",
		"64:ff9b:1::169.254.169.254",
		"64:ff9b:1:ffff:ffff:ffff:a9fe:a9fe",
		"64:ff9b:1::100.100.100.200",
	};
	static const char *const allowed[] = {
		"192.0.2.1",
		"169.253.255.255",
		"169.255.0.0",
		"1.0.0.0",
		"255.255.255.254",
		"fec0::1",
		"fe7f::1",
		"2001:db8::1",
		"::ffff:192.0.2.1",
		"64:ff9b::192.0.2.1",
		"64:ff9b:1::192.0.2.1",
		"64:ff9b:2::a9fe:a9fe", /* outside both NAT64 prefixes */
		"168.63.129.17",
	};
	struct net_denylist *empty = deny("");
	struct net_denylist *all = deny("");
	char *err = NULL;
	size_t i;

	for (i = 0; i < FP_ARRAY_LEN(always); i++) {
		if (!denied(NULL, always[i]) || !denied(empty, always[i]))
			fail_msg("%s not denied", always[i]);
	}
	for (i = 0; i < FP_ARRAY_LEN(allowed); i++) {
		if (denied(NULL, allowed[i]) || denied(empty, allowed[i]))
			fail_msg("%s denied", allowed[i]);
	}
	/* ::2 is IPv4-compatible 0.0.0.2: in 0.0.0.0/8. */
	assert_int_equal(denied(NULL, "::2"), 1);

	/* outbound_allow of everything opens none of the always-denied. */
	assert_int_equal(net_denylist_allow(all, "0.0.0.0/0, ::/0", &err), 0);
	assert_null(err);
	for (i = 0; i < FP_ARRAY_LEN(always); i++)
		if (!denied(all, always[i]))
			fail_msg("%s re-allowed", always[i]);
	for (i = 0; i < FP_ARRAY_LEN(allowed); i++)
		if (denied(all, allowed[i]))
			fail_msg("%s denied", allowed[i]);
	/* Exactly the AWS host, not its ULA neighbours once re-allowed. */
	assert_int_equal(denied(NULL, "fd00:ec2::253"), 1);
	assert_int_equal(denied(all, "fd00:ec2::253"), 0);
	assert_int_equal(denied(NULL, "100.100.100.201"), 1); /* 100.64/10 */
	assert_int_equal(denied(all, "100.100.100.201"), 0);
	net_denylist_free(empty);
	net_denylist_free(all);
}

/*
 * The operator's own networks are denied by default; outbound_allow
 * re-allows exactly the networks it names, and outbound_deny wins.
 */
static void
test_default_denied(void **state)
{
	static const char *const dflt[] = {
		"127.0.0.1",
		"127.0.0.2",
		"2130706434", /* 127.0.0.2 */
		"0x7f.2",
		"::1",
		"::ffff:127.0.0.2",
		"10.0.0.1",
		"10.255.255.255",
		"172.16.0.1",
		"172.31.255.255",
		"192.168.0.1",
		"::ffff:192.168.1.1",
		"100.64.0.1",
		"100.127.255.255",
		"fc00::1",
		"fd12:3456::1",
		"64:ff9b::10.0.0.1", /* NAT64 reaching a private address */
		"64:ff9b:1::127.0.0.1",
	};
	static const char *const not_dflt[] = {
		"172.15.255.255",
		"172.32.0.0",
		"192.169.0.1",
		"100.63.255.255",
		"100.128.0.0",
		"11.0.0.1",
		"fe00::1",
		"fbff::1",
	};
	struct net_denylist *empty = deny("");
	struct net_denylist *lo = deny("");
	struct net_denylist *both = deny("127.0.0.3");
	char *err = NULL;
	size_t i;

	for (i = 0; i < FP_ARRAY_LEN(dflt); i++)
		if (!denied(NULL, dflt[i]) || !denied(empty, dflt[i]))
			fail_msg("%s not denied by default", dflt[i]);
	for (i = 0; i < FP_ARRAY_LEN(not_dflt); i++)
		if (denied(NULL, not_dflt[i]))
			fail_msg("%s denied", not_dflt[i]);

	assert_int_equal(net_denylist_allow(lo, "127.0.0.0/8, ::1", &err), 0);
	assert_int_equal(denied(lo, "127.0.0.2"), 0);
	assert_int_equal(denied(lo, "2130706434"), 0);
	assert_int_equal(denied(lo, "::ffff:127.0.0.2"), 0);
	assert_int_equal(denied(lo, "::1"), 0);
	/* Only what it names. */
	assert_int_equal(denied(lo, "10.0.0.1"), 1);
	assert_int_equal(denied(lo, "fd00::1"), 1);
	assert_int_equal(denied(lo, "100.64.0.1"), 1);

	/* The deny list wins over the allow list. */
	assert_int_equal(net_denylist_allow(both, "127.0.0.0/8", &err), 0);
	assert_int_equal(denied(both, "127.0.0.2"), 0);
	assert_int_equal(denied(both, "127.0.0.3"), 1);

	/* A bad entry is refused and changes nothing. */
	assert_int_equal(net_denylist_allow(lo, "10.0.0.0/8, 10.0.0.1/8", &err),
	    -1);
	assert_non_null(strstr(err, "'10.0.0.1/8': not a CIDR network"));
	free(err);
	assert_int_equal(denied(lo, "10.0.0.1"), 1);

	net_denylist_free(empty);
	net_denylist_free(lo);
	net_denylist_free(both);
}

static void
test_configured(void **state)
{
	static const char *const in_10[] = {
		"10.0.0.1",
		"10.255.255.255",
		"167772161", /* decimal */
		"0xa000001", /* hex */
		"0x0A000001",
		"012.0.0.1", /* octal */
		"012.0.0.01",
		"10.1", /* short forms */
		"10.0.1",
		"0xa.1",
		"::ffff:10.0.0.1", /* IPv4-mapped */
		"::ffff:a00:1",
		"::10.0.0.1", /* IPv4-compatible */
		"fd00::1",
		"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		"192.168.77.1", /* from the mapped spelling of the network */
		"::ffff:192.168.0.1",
		"64:ff9b::10.0.0.1", /* NAT64 */
		"64:ff9b::a00:1",
	};
	static const char *const out[] = {
		"11.0.0.1", "9.255.255.255", "127.0.0.2", "::1", "fc00::1",
		"fe00::1", "::ffff:127.0.0.2", "192.169.0.1", "2001:db8::1",
		"64:ff9b::b00:1", /* NAT64 of 11.0.0.1 */
	};
	struct net_denylist *dl =
	    deny("10.0.0.0/8, fd00::/8 ::ffff:192.168.0.0/112");
	struct net_denylist *lo = deny("127.0.0.0/8,::1/128");
	struct sockaddr_un sun;
	char *err = NULL;
	size_t i;

	/* 'out' below holds default-denied addresses: open them all. */
	assert_int_equal(net_denylist_allow(dl, "0.0.0.0/0, ::/0", &err), 0);
	assert_int_equal(net_denylist_allow(lo, "0.0.0.0/0, ::/0", &err), 0);

	/* Denied by the list even though outbound_allow opens them all. */
	for (i = 0; i < FP_ARRAY_LEN(in_10); i++)
		if (!denied(dl, in_10[i]))
			fail_msg("%s not denied", in_10[i]);
	for (i = 0; i < FP_ARRAY_LEN(out); i++)
		if (denied(dl, out[i]))
			fail_msg("%s denied", out[i]);

	/* The operator's loopback choice, in all its spellings. */
	assert_int_equal(denied(lo, "127.0.0.2"), 1);
	assert_int_equal(denied(lo, "2130706434"), 1);
	assert_int_equal(denied(lo, "0x7f.2"), 1);
	assert_int_equal(denied(lo, "0177.0.0.2"), 1);
	assert_int_equal(denied(lo, "127.2"), 1);
	assert_int_equal(denied(lo, "::ffff:127.0.0.2"), 1);
	assert_int_equal(denied(lo, "::1"), 1);
	assert_int_equal(denied(lo, "192.0.2.1"), 0);

	/* Families other than IPv4 and IPv6 are refused. */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_int_equal(net_addr_denied(NULL, (struct sockaddr *)&sun), 1);
	assert_int_equal(net_addr_denied(dl, NULL), 1);

	net_denylist_free(dl);
	net_denylist_free(lo);
}

static void
test_parse_ip(void **state)
{
	static const struct {
		const char *in, *norm;
	} ok[] = {
		{ "192.0.2.1", "192.0.2.1" },
		{ "3221225985", "192.0.2.1" },
		{ "0xc0000201", "192.0.2.1" },
		{ "0300.0.02.01", "192.0.2.1" },
		{ "192.0.513", "192.0.2.1" },
		{ "192.513", "192.0.2.1" },
		{ "0", "0.0.0.0" },
		{ "2001:DB8::1", "2001:db8::1" },
		{ "2001:db8:0:0:0:0:0:1", "2001:db8::1" },
		{ "::ffff:10.0.0.1", "::ffff:10.0.0.1" },
		{ "::", "::" },
	};
	static const char *const bad[] = {
		"",
		"example.com",
		"1.2.3.4.5",
		"256.1.1.1",
		"4294967296",
		"1.2.3.4 ",
		" 1.2.3.4",
		"1.2.3.4 junk",
		"1.2.3.4/8",
		"1.",
		"0x",
		"08",
		"abc",
		"::g",
		"1::2::3",
		"fe80::1%eth0",
		"[::1]",
		"1.2.3.4\n",
	};
	struct sockaddr_storage ss;
	char text[INET6_ADDRSTRLEN];
	const void *addr;
	size_t i;

	for (i = 0; i < FP_ARRAY_LEN(ok); i++) {
		memset(&ss, 0xa5, sizeof(ss));
		if (net_parse_ip(ok[i].in, &ss) != 0)
			fail_msg("'%s' refused", ok[i].in);
		if (ss.ss_family == AF_INET)
			addr = &((struct sockaddr_in *)&ss)->sin_addr;
		else
			addr = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		assert_non_null(
		    inet_ntop(ss.ss_family, addr, text, sizeof(text)));
		assert_string_equal(text, ok[i].norm);
		/* A clean sockaddr: no port, no stray bytes. */
		if (ss.ss_family == AF_INET)
			assert_int_equal(((struct sockaddr_in *)&ss)->sin_port,
			    0);
		else
			assert_int_equal(((struct sockaddr_in6 *)&ss)
			                     ->sin6_scope_id,
			    0);
	}
	for (i = 0; i < FP_ARRAY_LEN(bad); i++)
		if (net_parse_ip(bad[i], &ss) != -1)
			fail_msg("'%s' accepted", bad[i]);
	assert_int_equal(net_parse_ip(NULL, &ss), -1);
}

/* ---- a tiny HTTP server ------------------------------------------- */

struct srv {
	int fd;
	int port;
	pid_t pid;
};

/* Listen on 127.0.0.2 on a free port; nothing accepts yet. */
static void
srv_listen(struct srv *s)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(s, 0, sizeof(*s));
	s->pid = -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, SERVER_ADDR, &sin.sin_addr), 1);
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(s->fd, 8), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&sin, &len), 0);
	s->port = ntohs(sin.sin_port);
}

static void
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0 && (w = write(fd, p, n)) > 0) {
		p += w;
		n -= (size_t)w;
	}
}

/*
 * Fork a child that answers one connection with 'resp', or with the
 * request head as the body when 'resp' is NULL (so the test sees what
 * curl sent), then exits.
 */
static void
srv_answer_once(struct srv *s, const char *resp)
{
	char req[8192], head[256];
	size_t got = 0;
	ssize_t n;
	int c;

	if ((s->pid = fork()) != 0) {
		assert_true(s->pid > 0);
		return;
	}
	signal(SIGPIPE, SIG_IGN);
	alarm(10); /* never outlive a broken test */
	if ((c = accept(s->fd, NULL, NULL)) < 0)
		_exit(1);
	while (got < sizeof(req) - 1 &&
	    (n = read(c, req + got, sizeof(req) - 1 - got)) > 0) {
		got += (size_t)n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL)
			break;
	}
	if (resp == NULL) {
		snprintf(head, sizeof(head),
		    "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
		    "Content-Type: text/plain\r\n\r\n",
		    got);
		write_all(c, head, strlen(head));
		write_all(c, req, got);
	} else {
		write_all(c, resp, strlen(resp));
	}
	close(c);
	_exit(0);
}

/*
 * Fork a child that reads one whole request (its head, then as many
 * body bytes as its Content-Length says) and answers 200 with the
 * request as the body and 'extra' header lines, then exits.
 */
static void
srv_echo_once(struct srv *s, const char *extra)
{
	char req[16384], head[512], *end, *cl;
	size_t got = 0, want = 0;
	ssize_t n;
	int c;

	if ((s->pid = fork()) != 0) {
		assert_true(s->pid > 0);
		return;
	}
	signal(SIGPIPE, SIG_IGN);
	alarm(10); /* never outlive a broken test */
	if ((c = accept(s->fd, NULL, NULL)) < 0)
		_exit(1);
	for (;;) {
		if (got == sizeof(req) - 1)
			_exit(1);
		if ((n = read(c, req + got, sizeof(req) - 1 - got)) <= 0)
			break;
		got += (size_t)n;
		req[got] = '\0';
		if (want == 0 && (end = strstr(req, "\r\n\r\n")) != NULL) {
			want = (size_t)(end + 4 - req);
			if ((cl = strcasestr(req, "\r\ncontent-length:")) !=
			        NULL &&
			    cl < end)
				want += strtoul(cl + 17, NULL, 10);
		}
		if (want != 0 && got >= want)
			break;
	}
	snprintf(head, sizeof(head),
	    "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n%s\r\n", got,
	    extra != NULL ? extra : "");
	write_all(c, head, strlen(head));
	write_all(c, req, got);
	close(c);
	_exit(0);
}

/* 1 when a connection is waiting in the listen queue (never accepted). */
static int
srv_pending(struct srv *s)
{
	int c, fl = fcntl(s->fd, F_GETFL);

	assert_int_equal(fcntl(s->fd, F_SETFL, fl | O_NONBLOCK), 0);
	c = accept(s->fd, NULL, NULL);
	assert_int_equal(fcntl(s->fd, F_SETFL, fl), 0);
	if (c < 0) {
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		return 0;
	}
	close(c);
	return 1;
}

static void
srv_close(struct srv *s)
{
	int status;

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		assert_int_equal(waitpid(s->pid, &status, 0), s->pid);
	}
	close(s->fd);
}

/*
 * The fetch tests' server listens on loopback, which is denied by
 * default: this list re-allows 127.0.0.0/8 (as the black-box stack's
 * outbound_allow does).
 */
static struct net_denylist *lo_allowed;

/* GET 'url' with test defaults (NULL 'dl': lo_allowed); the reason in 'st'. */
static int
get(const char *url, const struct net_denylist *dl, size_t max_body,
    long *status, struct buf *body, struct fp_status *st)
{
	struct net_fetch f = { 0 };

	if (dl == NULL)
		dl = lo_allowed;
	f.url = url;
	f.timeout_ms = 5000;
	f.connect_timeout_ms = 2000;
	f.max_body = max_body;
	f.deny = dl;
	memset(st, 0, sizeof(*st));
	*status = -1;
	return net_http_get(&f, status, body, st);
}

static char *
url_for(const struct srv *s, const char *host)
{
	return xasprintf("http://%s:%d" CHALLENGE_PATH, host, s->port);
}

/* ---- fetching ----------------------------------------------------- */

static void
test_get_ok(void **state)
{
	struct buf body = BUF_INIT;
	struct fp_status st;
	struct srv s;
	long status;
	char *url;

	srv_listen(&s);
	url = url_for(&s, SERVER_ADDR);
	srv_answer_once(&s,
	    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	    "Set-Cookie: a=b\r\n\r\ntoken");
	assert_int_equal(get(url, NULL, 5, &status, &body, &st), 0);
	assert_int_equal(status, 200);
	assert_int_equal(body.len, 5);
	assert_string_equal((char *)body.data, "token");
	srv_close(&s);
	free(url);

	/*
	 * What went over the wire: our user agent, the path, and no
	 * cookie, compression or proxy headers (the proxy variables of the
	 * environment point at a closed port: used, they would fail this).
	 */
	buf_reset(&body);
	srv_listen(&s);
	url = url_for(&s, "2130706434"); /* 127.0.0.2, curl normalises */
	srv_answer_once(&s, NULL);
	assert_int_equal(get(url, NULL, 4096, &status, &body, &st), 0);
	assert_int_equal(status, 200);
	assert_non_null(
	    strstr((char *)body.data, "GET " CHALLENGE_PATH " HTTP/1.1\r\n"));
	assert_non_null(
	    strstr((char *)body.data, "\r\nUser-Agent: fleetpki\r\n"));
	assert_null(strcasestr((char *)body.data, "cookie"));
	assert_null(strcasestr((char *)body.data, "accept-encoding"));
	assert_null(strcasestr((char *)body.data, "proxy"));
	srv_close(&s);
	free(url);

	/* Any status is an answer: the caller decides. */
	buf_reset(&body);
	srv_listen(&s);
	url = url_for(&s, SERVER_ADDR);
	srv_answer_once(&s,
	    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(get(url, NULL, 100, &status, &body, &st), 0);
	assert_int_equal(status, 404);
	assert_int_equal(body.len, 0);
	srv_close(&s);
	free(url);
	buf_free(&body);
}

static void
test_get_redirect_not_followed(void **state)
{
	struct buf body = BUF_INIT;
	struct fp_status st;
	struct srv s;
	long status;
	char *url;

	srv_listen(&s);
	url = url_for(&s, SERVER_ADDR);
	srv_answer_once(&s,
	    "HTTP/1.1 302 Found\r\n"
	    "Location: http://169.254.169.254/latest/\r\n"
	    "Content-Length: 3\r\n\r\nbye");
	assert_int_equal(get(url, NULL, 100, &status, &body, &st), 0);
	assert_int_equal(status, 302);
	assert_string_equal((char *)body.data, "bye");
	srv_close(&s);
	free(url);
	buf_free(&body);
}

static void
test_get_too_large(void **state)
{
	static const char *const resps[] = {
		/* Announced: refused from the header. */
		"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n0123456789A",
		/* Unannounced: cut off by the write callback. */
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n0123456789A",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		"6\r\n012345\r\n5\r\n6789A\r\n0\r\n\r\n",
	};
	struct buf body = BUF_INIT;
	struct fp_status st;
	struct srv s;
	long status;
	size_t i;
	char *url;

	for (i = 0; i < FP_ARRAY_LEN(resps); i++) {
		srv_listen(&s);
		url = url_for(&s, SERVER_ADDR);
		srv_answer_once(&s, resps[i]);
		buf_puts(&body, "keep");
		assert_int_equal(get(url, NULL, 10, &status, &body, &st),
		    -FP_E_EXPECTATION);
		assert_int_equal(st.code, FP_E_EXPECTATION);
		assert_string_equal(st.msg, "response too large");
		/* Nothing of a failed body lands in the caller's buffer. */
		assert_string_equal((char *)body.data, "keep");
		buf_reset(&body);
		srv_close(&s);

		/* One byte more room and it fits. */
		srv_listen(&s);
		srv_answer_once(&s, resps[i]);
		free(url);
		url = url_for(&s, SERVER_ADDR);
		assert_int_equal(get(url, NULL, 11, &status, &body, &st), 0);
		assert_string_equal((char *)body.data, "0123456789A");
		buf_reset(&body);
		srv_close(&s);
		free(url);
	}
	buf_free(&body);
}

static void
test_get_denied(void **state)
{
	struct net_denylist *lo = deny("127.0.0.0/8, ::1");
	const char *hosts[] = { SERVER_ADDR, "2130706434", "0x7f.2", "127.2",
		"[::ffff:127.0.0.2]", "localhost" };
	struct buf body = BUF_INIT;
	struct fp_status st;
	struct srv s;
	long status;
	size_t i;
	char *url;

	srv_listen(&s);
	for (i = 0; i < FP_ARRAY_LEN(hosts); i++) {
		url = url_for(&s, hosts[i]);
		if (get(url, lo, 100, &status, &body, &st) != -FP_E_EXPECTATION)
			fail_msg("%s: fetched", url);
		assert_string_equal(st.msg, "address not allowed");
		free(url);
	}
	/* Loopback without outbound_allow: denied by default. */
	for (i = 0; i < FP_ARRAY_LEN(hosts); i++) {
		struct net_fetch f = { 0 };

		url = url_for(&s, hosts[i]);
		f.url = url;
		f.timeout_ms = 5000;
		f.max_body = 100;
		if (net_http_get(&f, &status, &body, &st) != -FP_E_EXPECTATION)
			fail_msg("%s: fetched without outbound_allow", url);
		assert_string_equal(st.msg, "address not allowed");
		free(url);
	}
	/* The check ran before connecting: the server saw nobody. */
	assert_int_equal(srv_pending(&s), 0);
	assert_int_equal(body.len, 0);
	srv_close(&s);

	/* Metadata is denied with no list at all, and never contacted. */
	assert_int_equal(get("http://169.254.169.254/latest/meta-data/", NULL,
	                     100, &status, &body, &st),
	    -FP_E_EXPECTATION);
	assert_string_equal(st.msg, "address not allowed");
	assert_int_equal(get("http://[fe80::1]/", NULL, 100, &status, &body,
	                     &st),
	    -FP_E_EXPECTATION);
	assert_string_equal(st.msg, "address not allowed");
	net_denylist_free(lo);
	buf_free(&body);
}

/* 'base' with ":<port>/" of 's' appended, unless it ends in '/'. */
static char *
with_port(const char *base, const struct srv *s)
{
	size_t len = strlen(base);

	if (len > 0 && base[len - 1] == '/')
		return xstrdup(base);
	return xasprintf("%s:%d/", base, s->port);
}

static void
test_get_schemes(void **state)
{
	static const char *const urls[] = {
		"https://" SERVER_ADDR,
		"HTTPS://" SERVER_ADDR,
		"file:///etc/passwd",
		"gopher://" SERVER_ADDR,
		"ftp://" SERVER_ADDR,
		"dict://" SERVER_ADDR,
		"telnet://" SERVER_ADDR,
		"ldap://" SERVER_ADDR,
	};
	static const char *const malformed[] = {
		"/",
		SERVER_ADDR, /* no scheme: not guessed */
		"http:///",
		"http:// " SERVER_ADDR "/",
		"http://" SERVER_ADDR ":99999/",
	};
	struct buf body = BUF_INIT;
	struct fp_status st;
	struct srv s;
	long status;
	size_t i;
	char *url;

	srv_listen(&s);
	for (i = 0; i < FP_ARRAY_LEN(urls); i++) {
		url = with_port(urls[i], &s);
		if (get(url, NULL, 100, &status, &body, &st) !=
		    -FP_E_EXPECTATION)
			fail_msg("%s: fetched", url);
		if (strcmp(st.msg, "URL scheme not allowed") != 0)
			fail_msg("%s: %s", url, st.msg);
		free(url);
	}
	for (i = 0; i < FP_ARRAY_LEN(malformed); i++) {
		url = with_port(malformed[i], &s);
		if (get(url, NULL, 100, &status, &body, &st) !=
		    -FP_E_EXPECTATION)
			fail_msg("%s: fetched", url);
		if (strcmp(st.msg, "malformed URL") != 0)
			fail_msg("%s: %s", url, st.msg);
		free(url);
	}
	assert_int_equal(srv_pending(&s), 0);
	assert_int_equal(body.len, 0);
	srv_close(&s);
	buf_free(&body);
}

/* A server that accepts and never answers; and one that is not there. */
static void
test_get_timeout_and_refused(void **state)
{
	struct net_fetch f = { 0 };
	struct buf body = BUF_INIT;
	struct fp_status st = { 0 };
	struct timespec t0, t1;
	struct srv s;
	long status, ms;
	char *url;

	srv_listen(&s);
	url = url_for(&s, SERVER_ADDR);
	f.url = url;
	f.timeout_ms = 300;
	f.connect_timeout_ms = 300;
	f.max_body = 100;
	f.deny = lo_allowed;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* The kernel completes the handshake; nobody ever reads. */
	assert_int_equal(net_http_get(&f, &status, &body, &st),
	    -FP_E_EXPECTATION);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_string_equal(st.msg, "timed out");
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 250 && ms < 3000);
	assert_int_equal(srv_pending(&s), 1);

	/* https is spoken (and times out here) once allowed. */
	free(url);
	url = xasprintf("https://%s:%d/", SERVER_ADDR, s.port);
	f.url = url;
	f.allow_https = 1;
	assert_int_equal(net_http_get(&f, &status, &body, &st),
	    -FP_E_EXPECTATION);
	assert_string_equal(st.msg, "timed out");
	assert_int_equal(srv_pending(&s), 1);
	srv_close(&s);
	free(url);

	/* The port is closed now: refused, named by the host we gave. */
	url = url_for(&s, SERVER_ADDR);
	f.url = url;
	f.allow_https = 0;
	assert_int_equal(net_http_get(&f, &status, &body, &st),
	    -FP_E_EXPECTATION);
	assert_string_equal(st.msg, "could not connect to " SERVER_ADDR);
	assert_int_equal(body.len, 0);
	free(url);
	buf_free(&body);
}

static int
group_setup(void **state)
{
	char *err = NULL;

	log_init("test_net", LOG_LVL_ERR);
	if (net_denylist_parse("", &lo_allowed, &err) != 0 ||
	    net_denylist_allow(lo_allowed, "127.0.0.0/8", &err) != 0)
		fail_msg("lo_allowed: %s", err);
	/*
	 * Every proxy variable libcurl reads, pointing at a port nobody
	 * listens on: a fetch that honoured one would fail.
	 */
	setenv("http_proxy", "http://127.0.0.2:1/", 1);
	setenv("HTTP_PROXY", "http://127.0.0.2:1/", 1);
	setenv("https_proxy", "http://127.0.0.2:1/", 1);
	setenv("HTTPS_PROXY", "http://127.0.0.2:1/", 1);
	setenv("ALL_PROXY", "http://127.0.0.2:1/", 1);
	setenv("all_proxy", "http://127.0.0.2:1/", 1);
	unsetenv("NO_PROXY");
	unsetenv("no_proxy");
	return 0;
}

/* A request with method, headers and body, as webhooks and ACME send. */
static void
test_request_post(void **state)
{
	static const char *const hdrs[] = {
		"Content-Type: application/jose+json",
		"X-Fleetpki-Event: certificate.issued",
		NULL,
	};
	static const char payload[] = "{\"protected\":\"eyJ9\",\"x\":1}";
	struct net_request rq = { "POST", hdrs, payload, sizeof(payload) - 1 };
	struct net_fetch f = { 0 };
	struct buf head = BUF_INIT, body = BUF_INIT;
	struct fp_status st = { 0 };
	const char *req;
	char *cl;
	struct srv s;
	long status;
	char *url;

	srv_listen(&s);
	url = xasprintf("http://%s:%d/acme/new-order", SERVER_ADDR, s.port);
	f.url = url;
	f.timeout_ms = 5000;
	f.max_body = 16384;
	f.deny = lo_allowed;
	srv_echo_once(&s, "Replay-Nonce: n0nce\r\nLocation: /acme/order/1\r\n");
	assert_int_equal(
	    net_http_request(&f, &rq, &status, &head, &body, &st), 0);
	assert_int_equal(status, 200);
	req = (const char *)body.data;
	assert_non_null(strstr(req, "POST /acme/new-order HTTP/1.1\r\n"));
	assert_non_null(
	    strstr(req, "\r\nContent-Type: application/jose+json\r\n"));
	assert_non_null(
	    strstr(req, "\r\nX-Fleetpki-Event: certificate.issued\r\n"));
	cl = xasprintf("\r\nContent-Length: %zu\r\n", sizeof(payload) - 1);
	assert_non_null(strstr(req, cl));
	free(cl);
	assert_null(strcasestr(req, "expect:"));
	assert_null(strcasestr(req, "chunked"));
	/* The body, byte for byte, after the head. */
	assert_non_null(strstr(req, "\r\n\r\n"));
	assert_string_equal(strstr(req, "\r\n\r\n") + 4, payload);
	/* The response headers, for ACME's nonce and order URL. */
	assert_non_null(strstr((char *)head.data, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr((char *)head.data, "\r\nReplay-Nonce: n0nce\r\n"));
	assert_non_null(
	    strstr((char *)head.data, "\r\nLocation: /acme/order/1\r\n"));
	srv_close(&s);

	/* PUT renames the request line; the body goes the same way. */
	buf_reset(&body);
	buf_reset(&head);
	srv_listen(&s);
	free(url);
	url = xasprintf("http://%s:%d/hook", SERVER_ADDR, s.port);
	f.url = url;
	rq.method = "PUT";
	srv_echo_once(&s, NULL);
	assert_int_equal(
	    net_http_request(&f, &rq, &status, NULL, &body, &st), 0);
	assert_non_null(strstr((char *)body.data, "PUT /hook HTTP/1.1\r\n"));
	assert_string_equal(strstr((char *)body.data, "\r\n\r\n") + 4,
	    payload);
	srv_close(&s);
	free(url);
	buf_free(&head);
	buf_free(&body);
}

/* Every limit of the GET holds for the other methods. */
static void
test_request_limits(void **state)
{
	static const char *const bad_hdrs[][2] = {
		{ "X-A: b\r\nX-Injected: 1", NULL },
		{ "X-A: b\nX-Injected: 1", NULL },
		{ "No colon here", NULL },
		{ ": empty name", NULL },
		{ "Bad Name: x", NULL },
	};
	static const char *const bad_methods[] = { "CONNECT", "TRACE", "get",
		"GET / HTTP/1.1\r\nX:", "" };
	struct net_request rq = { "POST", NULL, "x", 1 };
	struct net_fetch f = { 0 };
	struct buf body = BUF_INIT;
	struct fp_status st = { 0 };
	struct srv s;
	long status;
	size_t i;
	char *url;

	srv_listen(&s);
	url = url_for(&s, SERVER_ADDR);
	f.url = url;
	f.timeout_ms = 5000;
	f.max_body = 100;
	f.deny = lo_allowed;
	for (i = 0; i < FP_ARRAY_LEN(bad_hdrs); i++) {
		rq.headers = bad_hdrs[i];
		assert_int_equal(
		    net_http_request(&f, &rq, &status, NULL, &body, &st),
		    -FP_E_INTERNAL);
	}
	rq.headers = NULL;
	for (i = 0; i < FP_ARRAY_LEN(bad_methods); i++) {
		rq.method = bad_methods[i];
		assert_int_equal(
		    net_http_request(&f, &rq, &status, NULL, &body, &st),
		    -FP_E_INTERNAL);
	}
	rq.method = "POST";
	rq.body = NULL; /* a length without bytes */
	assert_int_equal(net_http_request(&f, &rq, &status, NULL, &body, &st),
	    -FP_E_INTERNAL);
	/* None of that reached the server. */
	assert_int_equal(srv_pending(&s), 0);

	/* The deny list: loopback without outbound_allow, metadata always. */
	rq.body = "x";
	f.deny = NULL;
	assert_int_equal(net_http_request(&f, &rq, &status, NULL, &body, &st),
	    -FP_E_EXPECTATION);
	assert_string_equal(st.msg, "address not allowed");
	assert_int_equal(srv_pending(&s), 0);
	free(url);
	url = xstrdup("http://169.254.169.254/latest/api/token");
	f.url = url;
	f.deny = lo_allowed;
	rq.method = "PUT";
	assert_int_equal(net_http_request(&f, &rq, &status, NULL, &body, &st),
	    -FP_E_EXPECTATION);
	assert_string_equal(st.msg, "address not allowed");
	free(url);

	/* No redirect is followed, for a POST either. */
	url = url_for(&s, SERVER_ADDR);
	f.url = url;
	rq.method = "POST";
	srv_answer_once(&s,
	    "HTTP/1.1 307 Temporary Redirect\r\n"
	    "Location: http://169.254.169.254/\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(
	    net_http_request(&f, &rq, &status, NULL, &body, &st), 0);
	assert_int_equal(status, 307);
	srv_close(&s);
	free(url);

	/* Response headers are capped like the body. */
	srv_listen(&s);
	url = url_for(&s, SERVER_ADDR);
	f.url = url;
	{
		struct buf big = BUF_INIT;

		buf_puts(&big, "HTTP/1.1 200 OK\r\n");
		for (i = 0; i < 400; i++)
			buf_printf(&big, "X-Filler-%zu: %064zu\r\n", i, i);
		buf_puts(&big, "Content-Length: 0\r\n\r\n");
		srv_answer_once(&s, (const char *)big.data);
		assert_int_equal(
		    net_http_request(&f, &rq, &status, NULL, &body, &st),
		    -FP_E_EXPECTATION);
		assert_string_equal(st.msg, "response too large");
		buf_free(&big);
	}
	srv_close(&s);
	free(url);
	buf_free(&body);
}

static int
group_teardown(void **state)
{
	net_denylist_free(lo_allowed);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_denylist_parse),
		cmocka_unit_test(test_always_denied),
		cmocka_unit_test(test_default_denied),
		cmocka_unit_test(test_configured),
		cmocka_unit_test(test_parse_ip),
		cmocka_unit_test(test_get_ok),
		cmocka_unit_test(test_get_redirect_not_followed),
		cmocka_unit_test(test_get_too_large),
		cmocka_unit_test(test_get_denied),
		cmocka_unit_test(test_get_schemes),
		cmocka_unit_test(test_get_timeout_and_refused),
		cmocka_unit_test(test_request_post),
		cmocka_unit_test(test_request_limits),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
