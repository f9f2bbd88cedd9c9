/*
 * buf: a growable byte buffer.  Always NUL-terminated past 'len' so the
 * contents can be used as a C string when they are text.
 */
#ifndef FLEETPKI_BUF_H
#define FLEETPKI_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	unsigned char	*data;
	size_t		 len;
	size_t		 cap;
};

#define BUF_INIT { NULL, 0, 0 }

void	buf_reserve(struct buf *, size_t more);
void	buf_append(struct buf *, const void *, size_t);
void	buf_puts(struct buf *, const char *);
void	buf_printf(struct buf *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* The same with a va_list (consumed). */
void	buf_vprintf(struct buf *, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0)));
void	buf_reset(struct buf *);
/* Free the storage; the buf is BUF_INIT again.  Wipes when 'secret'. */
void	buf_free(struct buf *);
void	buf_free_secret(struct buf *);
/* Hand the storage to the caller (NUL-terminated) and reset the buf. */
char	*buf_steal(struct buf *, size_t *lenp);

#endif
