/*
 * arena: a chain of blocks; allocation bumps a pointer, reset frees all
 * blocks but the first.  Large requests get a block of their own.
 */
#include "config.h"

#include <stdarg.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleetpki/arena.h"
#include "fleetpki/buf.h"
#include "fleetpki/util.h"

#define ARENA_BLOCK (16 * 1024)
#define ARENA_ALIGN alignof(max_align_t)

struct arena_block {
	struct arena_block *next;
	size_t size; /* usable bytes in data[] */
	size_t used;
	alignas(max_align_t) unsigned char data[];
};

struct arena {
	struct arena_block *head; /* current block; first one last */
};

static struct arena_block *
arena_block_new(size_t size)
{
	struct arena_block *b;

	b = xmalloc(sizeof(*b) + size);
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

struct arena *
arena_new(void)
{
	struct arena *a = xmalloc(sizeof(*a));

	a->head = arena_block_new(ARENA_BLOCK);
	return a;
}

void
arena_reset(struct arena *a)
{
	struct arena_block *b, *next;

	/* Keep only the oldest block, the one at the end of the chain. */
	for (b = a->head; b->next != NULL; b = next) {
		next = b->next;
		free(b);
	}
	a->head = b;
	b->used = 0;
}

void
arena_free(struct arena *a)
{
	struct arena_block *b, *next;

	if (a == NULL)
		return;
	for (b = a->head; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
}

void *
arena_alloc(struct arena *a, size_t n)
{
	struct arena_block *b = a->head;
	size_t off;

	if (n > SIZE_MAX - ARENA_ALIGN)
		fatal("arena allocation overflow");
	off = (b->used + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
	if (off + n > b->size) {
		b = arena_block_new(n > ARENA_BLOCK ? n : ARENA_BLOCK);
		b->next = a->head;
		a->head = b;
		off = 0;
	}
	b->used = off + n;
	return b->data + off;
}

char *
arena_strndup(struct arena *a, const char *s, size_t len)
{
	char *p = arena_alloc(a, len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	char *p;

	/* Formatted once into a scratch buffer, then copied in. */
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	p = arena_strndup(a, b.data != NULL ? (const char *)b.data : "", b.len);
	buf_free(&b);
	return p;
}
