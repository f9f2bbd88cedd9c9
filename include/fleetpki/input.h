/*
 * input: what a request carries outside its body -- query parameters,
 * headers, path segments -- declared per route as a table of fields and
 * decoded into the handler's input struct before the handler runs (kcgi
 * struct kvalid).  The JSON body has its own tables (json.h); both
 * decode into the same struct, so a handler reads typed, validated
 * values only and never parses text itself.
 *
 * The decoder is independent of FastCGI: values come through a getter,
 * so it is tested without a server.
 */
#ifndef FLEETPKI_INPUT_H
#define FLEETPKI_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "fleetpki/error.h"
#include "fleetpki/json.h"

struct arena;

enum in_src {
	IN_QUERY, /* the first value of a query parameter, decoded */
	IN_HEADER, /* a request header */
	IN_PATH, /* the route pattern's "{}" number 'index' */
};

enum in_type {
	IN_STR, /* const char *, length in [min, max] (max 0: any) */
	IN_INT, /* struct json_int, value in [min, max] */
	IN_ENUM, /* int: the index of the value in 'choices' (absent: 0) */
};

/* Flags. */
#define IN_REQUIRED 0x01 /* absent: refused */
#define IN_CLAMP 0x02 /* IN_INT above 'max' is 'max', not an error */
#define IN_EMPTY_ABSENT 0x04 /* an empty value counts as absent */

/*
 * Normalise a string value ('in') into '*out' (arena memory, or 'in'
 * itself), or refuse it: return a negative fp_err with the reason in
 * 'st' (a path converter may answer 404, say).
 */
typedef int (*in_conv_fn)(struct arena *, const char *in, const char **out,
    struct fp_status *st);

struct in_field {
	const char *name; /* parameter or header; a path's is for messages */
	enum in_src src;
	enum in_type type;
	unsigned flags;
	int64_t min, max;
	size_t off; /* offsetof the value in the input struct */
	int index; /* IN_PATH */
	const char *const *choices; /* IN_ENUM, NULL-terminated */
	in_conv_fn conv; /* IN_STR, after the length check */
	/*
	 * The reason for a refused value (400), verbatim; NULL: a generic
	 * one naming the field.  Fields sharing an 'off' are aliases: the
	 * first one present wins.
	 */
	const char *msg;
};

struct in_schema {
	const struct in_field *fields;
	size_t nfields;
};

#define IN_SCHEMA(fields)                                                      \
	{                                                                      \
		(fields), sizeof(fields) / sizeof((fields)[0])                 \
	}

/*
 * Field constructors, one line a field: 'src' is QUERY, HEADER or PATH,
 * 'st' the input struct and 'm' its member.
 */
#define IN_STR_FIELD(src, name, st, m, index, flags, conv)                     \
	{                                                                      \
		(name), IN_##src, IN_STR, (flags), 0, 0, offsetof(st, m),      \
		    (index), NULL, (conv), NULL                                \
	}
#define IN_INT_FIELD(src, name, st, m, lo, hi, flags, why)                     \
	{                                                                      \
		(name), IN_##src, IN_INT, (flags), (lo), (hi),                 \
		    offsetof(st, m), 0, NULL, NULL, (why)                      \
	}
#define IN_ENUM_FIELD(src, name, st, m, choices, why)                          \
	{                                                                      \
		(name), IN_##src, IN_ENUM, 0, 0, 0, offsetof(st, m), 0,        \
		    (choices), NULL, (why)                                     \
	}

/* The raw value of a parameter, or NULL when the request has none. */
typedef const char *(
    *in_get_fn)(void *arg, enum in_src src, const char *name, int index);

/*
 * Decode every field of 'schema' into 'out' (the caller zeroed it).
 * -FP_E_BADREQ (or a converter's code) with the reason in 'st'.
 */
int in_decode(const struct in_schema *schema, in_get_fn get, void *arg,
    struct arena *a, void *out, struct fp_status *st);

/*
 * 1 when the media type of Content-Type value 'ctype' (before any
 * parameters, case-insensitive, spaces trimmed) is exactly 'want'.
 */
int in_media_type_is(const char *ctype, const char *want);

#endif
