/*
 * arena: request-scoped memory (h2o req->pool).  Everything allocated
 * from an arena is released at once by arena_reset() after the request.
 * OpenSSL, libpq and json-c objects are never put in it: they are freed
 * by their own free functions.
 */
#ifndef FLEETPKI_ARENA_H
#define FLEETPKI_ARENA_H

#include <stddef.h>

struct arena;

struct arena	*arena_new(void);
void		 arena_free(struct arena *);
/* Release everything, keep the first block for the next request. */
void		 arena_reset(struct arena *);
/* Aligned for any type; never NULL (out of memory is fatal). */
void		*arena_alloc(struct arena *, size_t);
char		*arena_strdup(struct arena *, const char *);
char		*arena_strndup(struct arena *, const char *, size_t);
char		*arena_printf(struct arena *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

#endif
