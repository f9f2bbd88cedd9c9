/*
 * core/acme_dns: the DNS-01 side of the ACME client (core_acme.h): the
 * providers that set and remove the TXT record (an exec hook in the
 * convention of lego and acme.sh, or RFC 2136 updates through nsupdate
 * with a TSIG key), and the check that the record is visible on the
 * configured resolvers (a TXT query over UDP, here).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fleetpki/core_acme.h"
#include "fleetpki/log.h"
#include "fleetpki/proc.h"
#include "fleetpki/util.h"

/* A hook or nsupdate that takes longer is killed. */
#define DNS_CHILD_TIMEOUT_MS 60000
#define DNS_QUERY_TIMEOUT_MS 2000
#define DNS_TYPE_TXT 16
#define DNS_CLASS_IN 1

void
acme_dns_free(struct acme_dns *d)
{
	free(d->provider);
	free(d->hook);
	free(d->resolvers);
	free(d->rfc2136_server);
	free(d->rfc2136_key_file);
	memset(d, 0, sizeof(*d));
}

#define B64URL_CHARS                                                           \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"

/* A name as we make it: nothing to quote, and never taken for an option. */
static int
safe_arg(const char *s)
{
	return s[0] != '\0' && s[0] != '-' &&
	    strspn(s, B64URL_CHARS ".") == strlen(s);
}

/*
 * The record's value: base64url of a SHA-256 (acme_dns01_value), which
 * starts with '-' once in 64.  Nothing to quote; a hook that hands it to
 * another program must end that program's options first ("--").
 */
static int
safe_value(const char *s)
{
	return s[0] != '\0' && strspn(s, B64URL_CHARS) == strlen(s);
}

/*
 * Run 'argv' with 'input' (or nothing) on its standard input and wait
 * for it, at most DNS_CHILD_TIMEOUT_MS: its exit status, or -1.
 */
static int
run_child(char *const argv[], const char *input, struct fp_status *st)
{
	int in[2] = { -1, -1 }, status = 0, fd;
	int64_t deadline;
	pid_t pid, w;

	if (pipe(in) != 0)
		return fp_fail(st, FP_E_INTERNAL, "pipe: %s", strerror(errno));
	if ((pid = fork()) < 0) {
		close(in[0]);
		close(in[1]);
		return fp_fail(st, FP_E_INTERNAL, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGALRM, &sa, NULL);
		dup2(in[0], 0);
		close(in[0]);
		close(in[1]);
		/* stdout and stderr stay the worker's log. */
		for (fd = 3; fd < 1024; fd++)
			close(fd);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	if (input != NULL) {
		size_t off = 0, len = strlen(input);
		ssize_t n;

		while (off < len &&
		    ((n = write(in[1], input + off, len - off)) > 0 ||
		        (n < 0 && errno == EINTR)))
			if (n > 0)
				off += (size_t)n;
	}
	close(in[1]);
	deadline = proc_now_ms() + DNS_CHILD_TIMEOUT_MS;
	for (;;) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return fp_fail(st, FP_E_INTERNAL, "waitpid: %s",
			    strerror(errno));
		if (proc_now_ms() > deadline) {
			kill(pid, SIGKILL);
			(void)waitpid(pid, &status, 0);
			return fp_fail(st, FP_E_UNAVAILABLE,
			    "%s took longer than %d s", argv[0],
			    DNS_CHILD_TIMEOUT_MS / 1000);
		}
		usleep(20 * 1000);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return -1;
}

/* host:port into its parts ("[v6]:port" too); 0, or -1. */
static int
split_hostport(const char *hp, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon;

	if (hp[0] == '[') {
		const char *rb = strchr(hp, ']');

		if (rb == NULL || rb[1] != ':' || (size_t)(rb - hp - 1) >= hlen)
			return -1;
		snprintf(host, hlen, "%.*s", (int)(rb - hp - 1), hp + 1);
		colon = rb + 1;
	} else {
		if ((colon = strrchr(hp, ':')) == NULL ||
		    (size_t)(colon - hp) >= hlen || colon == hp)
			return -1;
		snprintf(host, hlen, "%.*s", (int)(colon - hp), hp);
	}
	if (colon[1] == '\0' || strlen(colon + 1) >= plen ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -1;
	snprintf(port, plen, "%s", colon + 1);
	return 0;
}

int
acme_dns_set(const struct acme_dns *d, int present, const char *fqdn,
    const char *value, struct fp_status *st)
{
	char host[256], port[8];
	int rc;

	if (!safe_arg(fqdn) || !safe_value(value))
		return fp_fail(st, FP_E_INTERNAL,
		    "unsafe DNS-01 name or value");
	if (d->provider == NULL || strcmp(d->provider, "exec") == 0) {
		char *argv[5];

		if (d->hook == NULL || d->hook[0] == '\0')
			return fp_fail(st, FP_E_UNAVAILABLE,
			    "acme.dns_hook is not set");
		argv[0] = d->hook;
		argv[1] = (char *)(present ? "present" : "cleanup");
		argv[2] = (char *)fqdn;
		argv[3] = (char *)value;
		argv[4] = NULL;
		if ((rc = run_child(argv, NULL, st)) < 0 && st->code != FP_E_OK)
			return rc;
		if (rc != 0)
			return fp_fail(st, FP_E_UNAVAILABLE,
			    "the DNS hook's %s of %s exited with %d", argv[1],
			    fqdn, rc);
		return 0;
	}
	if (strcmp(d->provider, "rfc2136") == 0) {
		char *argv[4], *script;

		if (d->rfc2136_server == NULL ||
		    split_hostport(d->rfc2136_server, host, sizeof(host), port,
		        sizeof(port)) != 0 ||
		    !safe_arg(host))
			return fp_fail(st, FP_E_UNAVAILABLE,
			    "acme.rfc2136_server is not a host:port");
		if (d->rfc2136_key_file == NULL ||
		    d->rfc2136_key_file[0] != '/')
			return fp_fail(st, FP_E_UNAVAILABLE,
			    "acme.rfc2136_key_file is not set");
		argv[0] = (char *)"nsupdate";
		argv[1] = (char *)"-k";
		argv[2] = d->rfc2136_key_file;
		argv[3] = NULL;
		script = present
		    ? xasprintf("server %s %s\nupdate delete %s. TXT \"%s\"\n"
		                "update add %s. 60 TXT \"%s\"\nsend\n",
		          host, port, fqdn, value, fqdn, value)
		    : xasprintf("server %s %s\nupdate delete %s. TXT \"%s\"\n"
		                "send\n",
		          host, port, fqdn, value);
		rc = run_child(argv, script, st);
		free(script);
		if (rc < 0 && st->code != FP_E_OK)
			return rc;
		if (rc != 0)
			return fp_fail(st, FP_E_UNAVAILABLE,
			    "nsupdate (%s of %s at %s) exited with %d",
			    present ? "present" : "cleanup", fqdn,
			    d->rfc2136_server, rc);
		return 0;
	}
	return fp_fail(st, FP_E_UNAVAILABLE, "unknown acme.dns_provider '%s'",
	    d->provider);
}

/* ---- the TXT query ------------------------------------------------- */

int
acme_dns_query(const char *name, unsigned id, unsigned char *out, size_t cap)
{
	size_t n = 12, len;
	const char *p = name, *dot;

	if (cap < 12 + strlen(name) + 2 + 4 || strlen(name) > 253)
		return -1;
	memset(out, 0, 12);
	out[0] = (unsigned char)(id >> 8);
	out[1] = (unsigned char)id;
	out[2] = 0x01; /* RD */
	out[5] = 1; /* QDCOUNT */
	while (*p != '\0') {
		dot = strchr(p, '.');
		len = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (len == 0 || len > 63)
			return -1;
		out[n++] = (unsigned char)len;
		memcpy(out + n, p, len);
		n += len;
		p += len;
		if (*p == '.')
			p++;
	}
	out[n++] = 0;
	out[n++] = 0;
	out[n++] = DNS_TYPE_TXT;
	out[n++] = 0;
	out[n++] = DNS_CLASS_IN;
	return (int)n;
}

/* Past the name at 'off' (labels or a compression pointer); -1. */
static long
skip_name(const unsigned char *m, size_t len, size_t off)
{
	while (off < len) {
		if (m[off] == 0)
			return (long)off + 1;
		if ((m[off] & 0xc0) == 0xc0)
			return off + 1 < len ? (long)off + 2 : -1;
		if ((m[off] & 0xc0) != 0)
			return -1;
		off += (size_t)m[off] + 1;
	}
	return -1;
}

int
acme_dns_answer_has(const unsigned char *m, size_t len, unsigned id,
    const char *value)
{
	size_t qd, an, i, vlen = strlen(value);
	long off = 12;

	if (len < 12 || ((unsigned)m[0] << 8 | m[1]) != (id & 0xffff) ||
	    (m[2] & 0x80) == 0)
		return -1;
	if ((m[3] & 0x0f) != 0)
		return 0; /* NXDOMAIN, SERVFAIL...: not there */
	qd = (size_t)m[4] << 8 | m[5];
	an = (size_t)m[6] << 8 | m[7];
	for (i = 0; i < qd; i++) {
		if ((off = skip_name(m, len, (size_t)off)) < 0 ||
		    (size_t)off + 4 > len)
			return -1;
		off += 4;
	}
	for (i = 0; i < an; i++) {
		unsigned type, rdlen;
		size_t r, end;

		if ((off = skip_name(m, len, (size_t)off)) < 0 ||
		    (size_t)off + 10 > len)
			return -1;
		type = (unsigned)m[off] << 8 | m[off + 1];
		rdlen = (unsigned)m[off + 8] << 8 | m[off + 9];
		off += 10;
		if ((size_t)off + rdlen > len)
			return -1;
		end = (size_t)off + rdlen;
		if (type == DNS_TYPE_TXT) {
			/* Each character-string of the record. */
			for (r = (size_t)off; r < end; r += (size_t)m[r] + 1) {
				if (r + 1 + m[r] > end)
					return -1;
				if (m[r] == vlen &&
				    memcmp(m + r + 1, value, vlen) == 0)
					return 1;
			}
		}
		off = (long)end;
	}
	return 0;
}

/* Whether resolver 'hp' answers the TXT: 1, 0, or negative. */
static int
visible_at(const char *hp, const char *fqdn, const char *value,
    struct fp_status *st)
{
	struct addrinfo hints, *ai = NULL;
	unsigned char q[512], a[4096];
	char host[256], port[8];
	struct pollfd pfd;
	unsigned id;
	int fd = -1, n, qlen, rc = 0;

	if (split_hostport(hp, host, sizeof(host), port, sizeof(port)) != 0)
		return fp_fail(st, FP_E_UNAVAILABLE,
		    "acme.dns_resolvers: '%s' is no host:port", hp);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL)
		return fp_fail(st, FP_E_UNAVAILABLE,
		    "acme.dns_resolvers: '%s' does not resolve", hp);
	id = (unsigned)arc4random() & 0xffff;
	if ((qlen = acme_dns_query(fqdn, id, q, sizeof(q))) < 0) {
		rc = fp_fail(st, FP_E_INTERNAL, "bad DNS name %s", fqdn);
		goto out;
	}
	if ((fd = socket(ai->ai_family, SOCK_DGRAM, 0)) < 0 ||
	    connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    send(fd, q, (size_t)qlen, 0) != qlen)
		goto out; /* not visible (yet): the resolver is down */
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, DNS_QUERY_TIMEOUT_MS) == 1 &&
	    (n = (int)recv(fd, a, sizeof(a), 0)) > 0)
		rc = acme_dns_answer_has(a, (size_t)n, id, value) == 1;
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return rc;
}

int
acme_dns_visible(const char *resolvers, const char *fqdn, const char *value,
    struct fp_status *st)
{
	char *list, *tok, *save = NULL;
	int rc = 1, r, any = 0;

	if (resolvers == NULL || resolvers[0] == '\0')
		return fp_fail(st, FP_E_UNAVAILABLE,
		    "acme.dns_resolvers is not set");
	list = xstrdup(resolvers);
	for (tok = strtok_r(list, ", \t", &save); tok != NULL && rc == 1;
	     tok = strtok_r(NULL, ", \t", &save)) {
		any = 1;
		if ((r = visible_at(tok, fqdn, value, st)) != 1)
			rc = r;
	}
	free(list);
	if (!any)
		return fp_fail(st, FP_E_UNAVAILABLE,
		    "acme.dns_resolvers is empty");
	return rc;
}
