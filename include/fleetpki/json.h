/*
 * json: strict parsing of request bodies with json-c, and validation of
 * a parsed object against a declared table of fields (kcgi kvalid).
 * Handlers only read values that passed the table.
 */
#ifndef FLEETPKI_JSON_H
#define FLEETPKI_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "fleetpki/error.h"

/* Nesting depth a request body may have. */
#define JSON_MAX_DEPTH 32

/*
 * Parse exactly 'len' bytes as one JSON value with JSON_TOKENER_STRICT.
 * Rejected (-FP_E_SCHEMA, reason in 'st'): invalid JSON, an embedded NUL
 * anywhere, anything but white space after the value, duplicate keys in
 * any object, nesting deeper than JSON_MAX_DEPTH, invalid UTF-8.
 */
int	json_parse_strict(const char *buf, size_t len, json_object **out,
	    struct fp_status *st);

enum json_ftype {
	JF_STRING,	/* string; 'max' = longest length in bytes */
	JF_INT,		/* integer (not a double, not a numeric string), in [min, max] */
	JF_BOOL,
	JF_STRINGS,	/* array of strings; 'max' = most elements, each <= 'max_item' */
	JF_OBJECT,	/* object; its members are 'sub' (or, without 'sub', the caller's) */
};

struct json_schema;

/*
 * One member of a JSON object, and where json_decode puts its value in
 * the caller's struct ('off', from offsetof): by type,
 *   JF_STRING   const char *          (NULL when absent)
 *   JF_INT      struct json_int
 *   JF_BOOL     struct json_bool
 *   JF_STRINGS  struct json_strs
 *   JF_OBJECT   const void *          (a decoded 'sub' struct, NULL when absent)
 * Strings are borrowed from the parsed object: it must outlive the struct.
 */
struct json_field {
	const char		 *name;
	enum json_ftype		  type;
	int			  required;
	int64_t			  min;		/* JF_INT, and minimum string length */
	int64_t			  max;
	size_t			  max_item;	/* JF_STRINGS: longest element */
	size_t			  off;
	const struct json_schema *sub;		/* JF_OBJECT */
};

/* An object's members and the size of the struct they decode into. */
struct json_schema {
	const struct json_field	*fields;
	size_t			 nfields;
	size_t			 size;
};

#define JSON_SCHEMA(type, fields) \
	{ (fields), sizeof(fields) / sizeof((fields)[0]), sizeof(type) }

struct json_int {
	int	set;
	int64_t	v;
};

struct json_bool {
	int	set;
	int	v;
};

struct json_strs {
	const char *const *v;
	size_t		   n;
};

/*
 * Check that 'obj' is an object whose members are all in 'fields' (none
 * unknown), each of the declared type and bounds, and that required
 * ones are present.  Strings with an embedded NUL are refused.  Members
 * of a JF_OBJECT with a 'sub' schema are checked the same way.
 * -FP_E_SCHEMA with a reason naming the field.
 */
int	json_validate(json_object *obj, const struct json_field *fields,
	    size_t nfields, struct fp_status *st);

struct arena;

/*
 * json_validate, then write every member's value into 'out' (a zeroed
 * struct of 'schema->size' bytes) at its field's offset; arrays and
 * sub-objects are allocated from 'a'.  Nothing is written on failure
 * that the caller could mistake for input.
 */
int	json_decode(json_object *obj, const struct json_schema *schema,
	    struct arena *a, void *out, struct fp_status *st);

/*
 * Borrowed accessors for validated objects: NULL / 'dflt' when absent.
 * json_get_str also returns the length through 'lenp' (may be NULL).
 */
const char	*json_get_str(json_object *obj, const char *name, size_t *lenp);
int64_t		 json_get_int(json_object *obj, const char *name, int64_t dflt);

/* Serialise compactly into a malloc'd string (json-c's flags pinned). */
char	*json_dump(json_object *obj);
/*
 * Overwrite every string of 'obj' (members' values, array elements, at
 * any depth) and its cached serialisation with zeros, before it is put:
 * json-c frees them as they are, and an answer that carries a key must
 * not leave it in the worker's heap.  Member names are left alone (they
 * are the schema's, not secrets).
 */
void	json_wipe(json_object *obj);

#endif
