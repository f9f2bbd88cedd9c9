/*
 * input: table-driven decoding of query, header and path parameters.
 *
 * Every value is text; each field says how to read it.  What a client
 * sends is attacker-chosen, so a refused value is never echoed back in
 * a generic reason (only the field's name is), and the integer reader
 * is util_parse_int's (no sign tricks, no trailing junk, no overflow).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fleetpki/arena.h"
#include "fleetpki/input.h"
#include "fleetpki/util.h"

/* A value already decoded through an alias of the same slot. */
static int
in_slot_set(const struct in_field *f, const char *slot)
{
	switch (f->type) {
	case IN_STR:
		return *(const char *const *)(const void *)slot != NULL;
	case IN_INT:
		return ((const struct json_int *)(const void *)slot)->set;
	case IN_ENUM:
		return 0;
	}
	return 0;
}

static int
in_refuse(const struct in_field *f, struct fp_status *st, const char *why)
{
	if (f->msg != NULL)
		return fp_fail(st, FP_E_BADREQ, "%s", f->msg);
	return fp_fail(st, FP_E_BADREQ, "%s %s.", f->name, why);
}

static int
in_one(const struct in_field *f, const char *v, struct arena *a, char *slot,
    struct fp_status *st)
{
	long long n, hi;
	size_t len, i;
	const char *out;
	int rc;

	switch (f->type) {
	case IN_STR:
		len = strlen(v);
		if ((int64_t)len < f->min ||
		    (f->max > 0 && (int64_t)len > f->max))
			return in_refuse(f, st, "has a length out of bounds");
		out = v;
		if (f->conv != NULL && (rc = f->conv(a, v, &out, st)) != 0)
			return rc;
		*(const char **)(void *)slot = out;
		return 0;
	case IN_INT:
		/* Clamped fields read anything positive up to 2^40, then cap. */
		hi = (f->flags & IN_CLAMP) ? 1LL << 40 : (long long)f->max;
		if (util_parse_int(v, (long long)f->min, hi, &n) != 0)
			return in_refuse(f, st, "must be an integer in range");
		if (n > f->max)
			n = f->max;
		((struct json_int *)(void *)slot)->set = 1;
		((struct json_int *)(void *)slot)->v = n;
		return 0;
	case IN_ENUM:
		for (i = 0; f->choices[i] != NULL; i++) {
			if (strcmp(v, f->choices[i]) == 0) {
				*(int *)(void *)slot = (int)i;
				return 0;
			}
		}
		return in_refuse(f, st, "has an unknown value");
	}
	return -FP_E_INTERNAL;
}

int
in_decode(const struct in_schema *schema, in_get_fn get, void *arg,
    struct arena *a, void *out, struct fp_status *st)
{
	const struct in_field *f;
	const char *v;
	size_t i;
	int rc;

	for (i = 0; i < schema->nfields; i++) {
		f = &schema->fields[i];
		if (in_slot_set(f, (char *)out + f->off))
			continue;
		v = get(arg, f->src, f->name, f->index);
		if (v != NULL && *v == '\0' && (f->flags & IN_EMPTY_ABSENT))
			v = NULL;
		if (v == NULL) {
			/* An alias later in the table may still fill it. */
			if ((f->flags & IN_REQUIRED) &&
			    (i + 1 == schema->nfields ||
			        schema->fields[i + 1].off != f->off))
				return in_refuse(f, st, "is required");
			continue;
		}
		if ((rc = in_one(f, v, a, (char *)out + f->off, st)) != 0)
			return rc;
	}
	return 0;
}

int
in_media_type_is(const char *ctype, const char *want)
{
	size_t len, wlen = strlen(want);
	const char *end;

	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	end = strchr(ctype, ';');
	len = end != NULL ? (size_t)(end - ctype) : strlen(ctype);
	while (len > 0 && (ctype[len - 1] == ' ' || ctype[len - 1] == '\t'))
		len--;
	return len == wlen && strncasecmp(ctype, want, len) == 0;
}
