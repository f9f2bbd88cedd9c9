/*
 * util: allocation that cannot fail, and small shared helpers.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "fleetpki/log.h"
#include "fleetpki/util.h"

void *
xmalloc(size_t n)
{
	void *p;

	/* malloc(0) may return NULL legitimately; never hand that out. */
	if ((p = malloc(n == 0 ? 1 : n)) == NULL)
		fatal("out of memory allocating %zu bytes", n);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	/* calloc checks nmemb * size for overflow itself. */
	if ((p = calloc(nmemb, size)) == NULL)
		fatal("out of memory allocating %zu * %zu bytes", nmemb, size);
	return p;
}

void *
xrealloc(void *old, size_t n)
{
	void *p;

	if ((p = realloc(old, n == 0 ? 1 : n)) == NULL)
		fatal("out of memory reallocating %zu bytes", n);
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t len)
{
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("out of memory formatting a string");
	return p;
}

void
fatal(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("fatal: %s", msg);
	exit(1);
}

void
util_free_secret(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/* Two digits from 'digits' a byte, then 'sep' between bytes when set. */
static void
hex_encode(const unsigned char *in, size_t len, const char *digits, char sep,
    char *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (sep != '\0' && i > 0)
			*out++ = sep;
		*out++ = digits[in[i] >> 4];
		*out++ = digits[in[i] & 0xf];
	}
	*out = '\0';
}

void
util_hex(const unsigned char *in, size_t len, char *out)
{
	hex_encode(in, len, "0123456789abcdef", '\0', out);
}

void
util_hex_upper(const unsigned char *in, size_t len, char sep, char *out)
{
	hex_encode(in, len, "0123456789ABCDEF", sep, out);
}

int
util_parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	/* strtoll accepts leading space and '+'; a client value must not. */
	if (s == NULL || *s == '\0' || !((*s >= '0' && *s <= '9') || *s == '-'))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

void
util_iso8601_ms(int64_t unix_ms, char out[32])
{
	time_t secs = (time_t)(unix_ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	/* strftime bounds the year's width where snprintf cannot. */
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + strlen(out), 32 - strlen(out), ".%03dZ",
	    (int)(unix_ms % 1000));
}

int
util_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

time_t
util_now(void)
{
	return time(NULL);
}

static int
empty_dirfd(int dfd, int depth)
{
	struct dirent *de;
	DIR *d;
	int fd, n = 0;

	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		/* A directory opens with O_DIRECTORY; anything else unlinks. */
		fd = openat(dirfd(d), de->d_name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd != -1) {
			if (depth > 0)
				n += empty_dirfd(fd, depth - 1); /* closes fd */
			else
				close(fd);
			continue;
		}
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	return n;
}

int
util_empty_dir(const char *dir, int depth)
{
	int fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	return empty_dirfd(fd, depth);
}
