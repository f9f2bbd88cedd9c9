/*
 * buf: growable byte buffer, NUL-terminated past 'len' at all times.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "fleetpki/buf.h"
#include "fleetpki/util.h"

void
buf_reserve(struct buf *b, size_t more)
{
	size_t need, cap;

	/* One byte beyond 'len' always holds the terminating NUL. */
	if (more > SIZE_MAX - b->len - 1)
		fatal("buffer size overflow");
	need = b->len + more + 1;
	if (need <= b->cap)
		return;
	cap = b->cap == 0 ? 256 : b->cap;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
	b->data[b->len] = '\0'; /* a fresh buffer is "" too */
}

void
buf_append(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list measure;
	int n;

	/* Measure on a copy: 'ap' is consumed by the second pass. */
	va_copy(measure, ap);
	n = vsnprintf(NULL, 0, fmt, measure);
	va_end(measure);
	if (n < 0)
		fatal("buf_printf: bad format");
	buf_reserve(b, (size_t)n);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_free_secret(struct buf *b)
{
	if (b->data != NULL)
		OPENSSL_cleanse(b->data, b->cap);
	buf_free(b);
}

char *
buf_steal(struct buf *b, size_t *lenp)
{
	char *p;

	buf_reserve(b, 0); /* an empty buf still yields "" */
	p = (char *)b->data;
	if (lenp != NULL)
		*lenp = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}
