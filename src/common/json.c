/*
 * json: strict parsing and table-driven validation over json-c.
 *
 * json-c, even with JSON_TOKENER_STRICT, accepts things a request body
 * must not carry: duplicate keys (it silently keeps the last, so two
 * components reading the same body can disagree on its meaning), NaN and
 * Infinity, "1.", raw control characters in strings, lone surrogate
 * escapes (replaced by U+FFFD, so "\ud800" and "\ufffd" collide), "\u0000"
 * inside keys (which it truncates at the NUL, so "a\u0000b" collides with
 * "a"), integers beyond 64 bits (saturated) and overlong or surrogate
 * UTF-8 (VALIDATE_UTF8 only checks the byte pattern).  So after json-c
 * has built the tree, a small scanner walks the raw text once more
 * against the RFC 8259 grammar with the I-JSON (RFC 7493) restrictions,
 * and compares each object's decoded keys.  json-c keeps handling the
 * tree; the scanner only says yes or no.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "fleetpki/arena.h"
#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/json.h"
#include "fleetpki/util.h"

#define SCHEMA_FAIL "Input data schema validation failure"

/* Longest name quoted back in a reason; the rest is cut off. */
#define JSON_NAME_SHOW 48

/*
 * Copy 'len' bytes of 'name' for quoting in a reason: printable ASCII
 * only (no quote or backslash, which the reason's reader would have to
 * unescape), and at most JSON_NAME_SHOW of them.  Input names are
 * attacker-chosen; the reason goes back to the client and into logs.
 */
static void
json_show_name(const char *name, size_t len, char out[JSON_NAME_SHOW + 4])
{
	size_t i, n = len < JSON_NAME_SHOW ? len : JSON_NAME_SHOW;
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)name[i];
		out[i] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
		    ? (char)c
		    : '?';
	}
	if (n < len) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

/* ---- the scanner ------------------------------------------------- */

/* An object key: where its decoded bytes lie in 'names'. */
struct jkey {
	size_t off, len;
};

/* One open object or array. */
struct jframe {
	int is_obj;
	size_t key0; /* first of this object's keys in 'keys' */
	size_t name0; /* where its names start in 'names' */
};

struct jscan {
	const unsigned char *s;
	size_t len, pos;
	struct fp_status *st;
	struct jframe frames[JSON_MAX_DEPTH];
	int depth;
	/*
	 * Keys of the open objects, innermost last: a closed object's keys
	 * are checked and dropped, so its parent's stay contiguous.
	 */
	struct jkey *keys;
	size_t nkeys, capkeys;
	struct buf names;
};

/* For qsort: a key's bytes, resolved once 'names' has stopped growing. */
struct jkref {
	const unsigned char *p;
	size_t len;
};

static int
jkref_cmp(const void *a, const void *b)
{
	const struct jkref *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = n > 0 ? memcmp(x->p, y->p, n) : 0;

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

static int
scan_fail(struct jscan *sc, const char *what)
{
	return fp_fail(sc->st, FP_E_SCHEMA, SCHEMA_FAIL ": %s at offset %zu",
	    what, sc->pos);
}

static void
scan_ws(struct jscan *sc)
{
	/* RFC 8259 white space only: json-c's isspace() also takes \v, \f. */
	while (sc->pos < sc->len &&
	    (sc->s[sc->pos] == ' ' || sc->s[sc->pos] == '\t' ||
	        sc->s[sc->pos] == '\n' || sc->s[sc->pos] == '\r'))
		sc->pos++;
}

static int
scan_hex4(struct jscan *sc, unsigned *out)
{
	unsigned v = 0;
	size_t i;
	unsigned char c;

	if (sc->len - sc->pos < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		c = sc->s[sc->pos + i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	sc->pos += 4;
	*out = v;
	return 0;
}

/*
 * Length of the UTF-8 sequence at 'pos' (RFC 3629: shortest form, no
 * surrogates, nothing above U+10FFFF), or 0 when it is not one.
 */
static size_t
scan_utf8(const struct jscan *sc)
{
	const unsigned char *p = sc->s + sc->pos;
	size_t left = sc->len - sc->pos, n, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0; /* overlong */
		else if (p[0] == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90; /* overlong */
		else if (p[0] == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else
		return 0;
	if (left < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

static void
put_utf8(struct buf *b, unsigned cp)
{
	unsigned char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | (cp >> 18));
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_append(b, u, n);
}

/*
 * Scan the string at 'pos' (on its opening quote).  For a key ('key'
 * set) append its decoded bytes to 'names' exactly as json-c stores
 * them, so equal keys compare equal however they were escaped.
 */
static int
scan_string(struct jscan *sc, int key)
{
	struct buf *dec = key ? &sc->names : NULL;
	size_t run, n;
	unsigned cp, lo;
	unsigned char c, e;

	sc->pos++; /* the opening quote */
	for (;;) {
		/* Copy unescaped runs in one go. */
		run = sc->pos;
		while (sc->pos < sc->len) {
			c = sc->s[sc->pos];
			if (c == '"' || c == '\\' || c < 0x20)
				break;
			if ((n = scan_utf8(sc)) == 0)
				return scan_fail(sc, "invalid UTF-8");
			sc->pos += n;
		}
		if (dec != NULL && sc->pos > run)
			buf_append(dec, sc->s + run, sc->pos - run);
		if (sc->pos >= sc->len)
			return scan_fail(sc, "unterminated string");
		c = sc->s[sc->pos];
		if (c == '"') {
			sc->pos++;
			return 0;
		}
		if (c < 0x20)
			return scan_fail(sc, "control character in string");

		/* A backslash escape. */
		if (++sc->pos >= sc->len)
			return scan_fail(sc, "unterminated string");
		e = sc->s[sc->pos++];
		switch (e) {
		case '"':
		case '\\':
		case '/':
			cp = e;
			break;
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		case 'u':
			if (scan_hex4(sc, &cp) != 0)
				return scan_fail(sc, "invalid escape");
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return scan_fail(sc, "lone surrogate");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				/* Only a full pair is a character (I-JSON). */
				if (sc->len - sc->pos < 2 ||
				    sc->s[sc->pos] != '\\' ||
				    sc->s[sc->pos + 1] != 'u')
					return scan_fail(sc, "lone surrogate");
				sc->pos += 2;
				if (scan_hex4(sc, &lo) != 0)
					return scan_fail(sc, "invalid escape");
				if (lo < 0xdc00 || lo > 0xdfff)
					return scan_fail(sc, "lone surrogate");
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
			}
			/* json-c would cut the key short at the NUL. */
			if (cp == 0 && key)
				return scan_fail(sc, "NUL in object key");
			break;
		default:
			return scan_fail(sc, "invalid escape");
		}
		if (dec != NULL)
			put_utf8(dec, cp);
	}
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/*
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and representable:
 * integers within int64_t (json-c would saturate them silently), other
 * numbers finite as a double.
 */
static int
scan_number(struct jscan *sc)
{
	size_t start = sc->pos, i;
	int isint = 1, neg = 0;
	uint64_t v = 0, lim;
	char *tmp = NULL, *end;
	double d;
	int rc;

	if (sc->s[sc->pos] == '-') {
		neg = 1;
		sc->pos++;
	}
	if (sc->pos >= sc->len || !is_digit(sc->s[sc->pos]))
		return scan_fail(sc, "invalid number");
	if (sc->s[sc->pos] == '0')
		sc->pos++;
	else
		while (sc->pos < sc->len && is_digit(sc->s[sc->pos]))
			sc->pos++;
	if (sc->pos < sc->len && sc->s[sc->pos] == '.') {
		isint = 0;
		sc->pos++;
		if (sc->pos >= sc->len || !is_digit(sc->s[sc->pos]))
			return scan_fail(sc, "invalid number");
		while (sc->pos < sc->len && is_digit(sc->s[sc->pos]))
			sc->pos++;
	}
	if (sc->pos < sc->len &&
	    (sc->s[sc->pos] == 'e' || sc->s[sc->pos] == 'E')) {
		isint = 0;
		sc->pos++;
		if (sc->pos < sc->len &&
		    (sc->s[sc->pos] == '+' || sc->s[sc->pos] == '-'))
			sc->pos++;
		if (sc->pos >= sc->len || !is_digit(sc->s[sc->pos]))
			return scan_fail(sc, "invalid number");
		while (sc->pos < sc->len && is_digit(sc->s[sc->pos]))
			sc->pos++;
	}

	if (isint) {
		lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		for (i = start + (size_t)neg; i < sc->pos; i++) {
			if (v > (lim - (uint64_t)(sc->s[i] - '0')) / 10)
				return scan_fail(sc, "number out of range");
			v = v * 10 + (uint64_t)(sc->s[i] - '0');
		}
		return 0;
	}
	/* The token is ASCII digits and signs only; strtod needs a NUL. */
	tmp = xstrndup((const char *)sc->s + start, sc->pos - start);
	d = strtod(tmp, &end);
	rc = (*end == '\0' && isfinite(d))
	    ? 0
	    : scan_fail(sc, "number out of range");
	free(tmp);
	return rc;
}

static int
scan_literal(struct jscan *sc)
{
	static const char *const lits[] = { "true", "false", "null" };
	size_t i, n;

	for (i = 0; i < FP_ARRAY_LEN(lits); i++) {
		n = strlen(lits[i]);
		if (sc->len - sc->pos >= n &&
		    memcmp(sc->s + sc->pos, lits[i], n) == 0) {
			sc->pos += n;
			return 0;
		}
	}
	/* NaN, Infinity and friends, which json-c lets through. */
	return scan_fail(sc, "invalid literal");
}

static void
scan_push_key(struct jscan *sc, size_t off)
{
	if (sc->nkeys == sc->capkeys) {
		sc->capkeys = sc->capkeys == 0 ? 16 : sc->capkeys * 2;
		sc->keys = xrealloc(sc->keys, sc->capkeys * sizeof(*sc->keys));
	}
	sc->keys[sc->nkeys].off = off;
	sc->keys[sc->nkeys].len = sc->names.len - off;
	sc->nkeys++;
}

/*
 * Close the innermost container.  For an object, sort its keys and look
 * for two equal neighbours: O(n log n), where comparing each new key
 * with all before it would let a large body cost O(n^2).
 */
static int
scan_pop(struct jscan *sc)
{
	struct jframe *f = &sc->frames[sc->depth - 1];
	struct jkref *refs = NULL;
	const unsigned char *base;
	char show[JSON_NAME_SHOW + 4];
	size_t i, n;
	int rc = 0;

	n = sc->nkeys - f->key0;
	if (f->is_obj && n > 1) {
		/* Only empty keys so far: 'names' may have no storage yet. */
		base = sc->names.data != NULL ? sc->names.data
		                              : (const unsigned char *)"";
		refs = xcalloc(n, sizeof(*refs));
		for (i = 0; i < n; i++) {
			refs[i].p = base + sc->keys[f->key0 + i].off;
			refs[i].len = sc->keys[f->key0 + i].len;
		}
		qsort(refs, n, sizeof(*refs), jkref_cmp);
		for (i = 1; i < n; i++) {
			if (jkref_cmp(&refs[i - 1], &refs[i]) != 0)
				continue;
			json_show_name((const char *)refs[i].p, refs[i].len,
			    show);
			rc = fp_fail(sc->st, FP_E_SCHEMA,
			    SCHEMA_FAIL ": duplicate key \"%s\"", show);
			goto out;
		}
	}
	/* Drop the closed object's keys, keeping buf's trailing NUL. */
	sc->nkeys = f->key0;
	sc->names.len = f->name0;
	if (sc->names.data != NULL)
		sc->names.data[sc->names.len] = '\0';
	sc->depth--;
out:
	free(refs);
	return rc;
}

static int
scan_push(struct jscan *sc, int is_obj)
{
	struct jframe *f;

	if (sc->depth >= JSON_MAX_DEPTH)
		return scan_fail(sc, "nesting too deep");
	f = &sc->frames[sc->depth++];
	f->is_obj = is_obj;
	f->key0 = sc->nkeys;
	f->name0 = sc->names.len;
	sc->pos++;
	return 0;
}

/*
 * The grammar as a loop over three states with an explicit stack, so
 * hostile nesting costs no C stack.
 */
static int
scan_text(struct jscan *sc)
{
	enum { S_VALUE, S_KEY, S_AFTER } state = S_VALUE;
	struct jframe *top;
	size_t off;
	unsigned char c;
	int rc;

	for (;;) {
		scan_ws(sc);
		if (state == S_AFTER && sc->depth == 0) {
			if (sc->pos != sc->len)
				return scan_fail(sc, "trailing data");
			return 0;
		}
		if (sc->pos >= sc->len)
			return scan_fail(sc, "unexpected end of data");
		c = sc->s[sc->pos];
		top = sc->depth > 0 ? &sc->frames[sc->depth - 1] : NULL;

		switch (state) {
		case S_VALUE:
			if (c == '{' || c == '[') {
				if ((rc = scan_push(sc, c == '{')) != 0)
					return rc;
				scan_ws(sc);
				if (sc->pos < sc->len &&
				    sc->s[sc->pos] == (c == '{' ? '}' : ']')) {
					sc->pos++;
					if ((rc = scan_pop(sc)) != 0)
						return rc;
					state = S_AFTER;
				} else
					state = c == '{' ? S_KEY : S_VALUE;
				continue;
			}
			if (c == '"')
				rc = scan_string(sc, 0);
			else if (c == '-' || is_digit(c))
				rc = scan_number(sc);
			else
				rc = scan_literal(sc);
			if (rc != 0)
				return rc;
			state = S_AFTER;
			break;
		case S_KEY:
			if (c != '"')
				return scan_fail(sc, "object key expected");
			off = sc->names.len;
			if ((rc = scan_string(sc, 1)) != 0)
				return rc;
			scan_push_key(sc, off);
			scan_ws(sc);
			if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
				return scan_fail(sc, "':' expected");
			sc->pos++;
			state = S_VALUE;
			break;
		case S_AFTER:
			sc->pos++;
			if (c == ',') {
				state = top->is_obj ? S_KEY : S_VALUE;
			} else if (c == (top->is_obj ? '}' : ']')) {
				if ((rc = scan_pop(sc)) != 0)
					return rc;
			} else {
				sc->pos--;
				return scan_fail(sc, "',' or end expected");
			}
			break;
		}
	}
}

/* ---- parsing ----------------------------------------------------- */

int
json_parse_strict(const char *buf, size_t len, json_object **out,
    struct fp_status *st)
{
	json_tokener *tok = NULL;
	json_object *obj = NULL;
	struct jscan sc;
	char *copy = NULL;
	enum json_tokener_error jerr;
	int rc;

	memset(&sc, 0, sizeof(sc));
	*out = NULL;
	if (buf == NULL || len == 0) {
		rc = fp_fail(st, FP_E_SCHEMA, SCHEMA_FAIL ": empty document");
		goto out;
	}
	/* json-c takes an int length; bodies are capped far below. */
	if (len > INT32_MAX - 1) {
		rc = fp_fail(st, FP_E_SCHEMA,
		    SCHEMA_FAIL ": document too large");
		goto out;
	}
	/* json-c would stop at a NUL and call the rest trailing data. */
	if (memchr(buf, '\0', len) != NULL) {
		rc = fp_fail(st, FP_E_SCHEMA,
		    SCHEMA_FAIL ": NUL byte in document");
		goto out;
	}

	/*
	 * json-c counts every value on its stack, the innermost scalar too,
	 * so JSON_MAX_DEPTH nested containers holding a scalar need one more
	 * level; the scanner below enforces JSON_MAX_DEPTH containers exactly.
	 */
	if ((tok = json_tokener_new_ex(JSON_MAX_DEPTH + 1)) == NULL)
		fatal("out of memory allocating a JSON tokener");
	json_tokener_set_flags(tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	/*
	 * json-c wants the terminating NUL counted in 'len' to know the
	 * input has ended (else a bare number stays "continue"); the caller's
	 * buffer need not have one, so parse a terminated copy.
	 */
	copy = xstrndup(buf, len);
	obj = json_tokener_parse_ex(tok, copy, (int)len + 1);
	jerr = json_tokener_get_error(tok);
	if (jerr != json_tokener_success) {
		rc = fp_fail(st, FP_E_SCHEMA, SCHEMA_FAIL ": %s at offset %zu",
		    json_tokener_error_desc(jerr),
		    json_tokener_get_parse_end(tok));
		goto out;
	}
	/*
	 * A bare "null" parses to a NULL object: refuse it rather than hand
	 * callers a success with nothing in '*out'.
	 */
	if (obj == NULL) {
		rc = fp_fail(st, FP_E_SCHEMA, SCHEMA_FAIL ": null document");
		goto out;
	}
	/*
	 * Strict mode already refuses trailing characters, and the scanner
	 * checks again; this is the check the json-c documentation asks for.
	 */
	if (json_tokener_get_parse_end(tok) < len) {
		sc.pos = json_tokener_get_parse_end(tok);
		sc.st = st;
		rc = scan_fail(&sc, "trailing data");
		goto out;
	}

	sc.s = (const unsigned char *)buf;
	sc.len = len;
	sc.st = st;
	if ((rc = scan_text(&sc)) != 0)
		goto out;

	*out = obj;
	obj = NULL;
	rc = 0;
out:
	json_object_put(obj);
	if (tok != NULL)
		json_tokener_free(tok);
	free(copy);
	free(sc.keys);
	buf_free(&sc.names);
	return rc;
}

/* ---- validation -------------------------------------------------- */

static const char *
json_ftype_name(enum json_ftype t)
{
	switch (t) {
	case JF_STRING:
		return "a string";
	case JF_INT:
		return "an integer";
	case JF_BOOL:
		return "a boolean";
	case JF_STRINGS:
		return "an array of strings";
	case JF_OBJECT:
		return "an object";
	}
	return "?";
}

/*
 * A string member: no embedded NUL (json-c keeps "\u0000" inside the
 * value, and C code reading it would see a shorter string than was
 * checked), length within ['min', 'max'].
 */
static int
json_check_string(json_object *v, int64_t min, uint64_t max, const char *name,
    struct fp_status *st)
{
	const char *s = json_object_get_string(v);
	size_t len = (size_t)json_object_get_string_len(v);

	if (strlen(s) != len)
		return fp_fail(st, FP_E_SCHEMA,
		    SCHEMA_FAIL ": \"%s\" contains a NUL character", name);
	if (min > 0 && len < (uint64_t)min)
		return fp_fail(st, FP_E_SCHEMA,
		    SCHEMA_FAIL ": \"%s\" is shorter than %lld characters",
		    name, (long long)min);
	if (len > max)
		return fp_fail(st, FP_E_SCHEMA,
		    SCHEMA_FAIL ": \"%s\" is longer than %llu characters", name,
		    (unsigned long long)max);
	return 0;
}

static int json_walk(json_object *obj, const struct json_field *fields,
    size_t nfields, struct arena *a, void *out, struct fp_status *st);

/*
 * Check one member against its field and, when 'out' is set, store its
 * decoded value there (see json.h for the types).
 */
static int
json_check_field(json_object *v, const struct json_field *f, struct arena *a,
    void *out, struct fp_status *st)
{
	char *dst = out != NULL ? (char *)out + f->off : NULL;
	json_object *item;
	const char **strs;
	void *sub;
	int64_t n;
	size_t i, count;
	int rc;

	switch (f->type) {
	case JF_STRING:
		if (!json_object_is_type(v, json_type_string))
			break;
		if ((rc = json_check_string(v, f->min,
		         f->max < 0 ? 0 : (uint64_t)f->max, f->name, st)) != 0)
			return rc;
		if (dst != NULL)
			*(const char **)(void *)dst = json_object_get_string(v);
		return 0;
	case JF_INT:
		/* json_type_int only: 7.0 and "7" are not integers here. */
		if (!json_object_is_type(v, json_type_int))
			break;
		n = json_object_get_int64(v);
		/*
		 * json-c keeps values above INT64_MAX as uint64 and clamps
		 * them in get_int64; refuse rather than read a clamped value.
		 */
		if ((n == INT64_MAX &&
		        json_object_get_uint64(v) != (uint64_t)INT64_MAX) ||
		    n < f->min || n > f->max)
			return fp_fail(st, FP_E_SCHEMA,
			    SCHEMA_FAIL
			    ": \"%s\" must be between %lld and %lld",
			    f->name, (long long)f->min, (long long)f->max);
		if (dst != NULL) {
			((struct json_int *)(void *)dst)->set = 1;
			((struct json_int *)(void *)dst)->v = n;
		}
		return 0;
	case JF_BOOL:
		if (!json_object_is_type(v, json_type_boolean))
			break;
		if (dst != NULL) {
			((struct json_bool *)(void *)dst)->set = 1;
			((struct json_bool *)(void *)dst)->v =
			    json_object_get_boolean(v) ? 1 : 0;
		}
		return 0;
	case JF_STRINGS:
		if (!json_object_is_type(v, json_type_array))
			break;
		count = json_object_array_length(v);
		if (f->max < 0 || count > (uint64_t)f->max)
			return fp_fail(st, FP_E_SCHEMA,
			    SCHEMA_FAIL ": \"%s\" has more than %lld elements",
			    f->name, (long long)(f->max < 0 ? 0 : f->max));
		strs = dst != NULL && count > 0
		    ? arena_alloc(a, count * sizeof(*strs))
		    : NULL;
		for (i = 0; i < count; i++) {
			item = json_object_array_get_idx(v, i);
			if (!json_object_is_type(item, json_type_string))
				return fp_fail(st, FP_E_SCHEMA,
				    SCHEMA_FAIL ": \"%s\" must be %s", f->name,
				    json_ftype_name(f->type));
			/* 'min' bounds each element's length, as for JF_STRING. */
			if ((rc = json_check_string(item, f->min, f->max_item,
			         f->name, st)) != 0)
				return rc;
			if (strs != NULL)
				strs[i] = json_object_get_string(item);
		}
		if (dst != NULL) {
			((struct json_strs *)(void *)dst)->v = strs;
			((struct json_strs *)(void *)dst)->n = count;
		}
		return 0;
	case JF_OBJECT:
		if (!json_object_is_type(v, json_type_object))
			break;
		/* Without a schema its members are the caller's business. */
		if (f->sub == NULL)
			return 0;
		sub = dst != NULL ? arena_alloc(a, f->sub->size) : NULL;
		if (sub != NULL)
			memset(sub, 0, f->sub->size);
		if ((rc = json_walk(v, f->sub->fields, f->sub->nfields, a, sub,
		         st)) != 0)
			return rc;
		if (dst != NULL)
			*(const void **)(void *)dst = sub;
		return 0;
	}
	return fp_fail(st, FP_E_SCHEMA, SCHEMA_FAIL ": \"%s\" must be %s",
	    f->name, json_ftype_name(f->type));
}

/* Validate (and with 'out', decode) one object against its fields. */
static int
json_walk(json_object *obj, const struct json_field *fields, size_t nfields,
    struct arena *a, void *out, struct fp_status *st)
{
	char show[JSON_NAME_SHOW + 4];
	const struct json_field *f;
	size_t i;
	int rc;

	if (!json_object_is_type(obj, json_type_object))
		return fp_fail(st, FP_E_SCHEMA,
		    SCHEMA_FAIL ": a JSON object is expected");

	/* Every member must be declared; a typo is an error, not ignored. */
	json_object_object_foreach(obj, key, val)
	{
		f = NULL;
		for (i = 0; i < nfields; i++) {
			if (strcmp(fields[i].name, key) == 0) {
				f = &fields[i];
				break;
			}
		}
		if (f == NULL) {
			json_show_name(key, strlen(key), show);
			return fp_fail(st, FP_E_SCHEMA,
			    SCHEMA_FAIL ": unknown field \"%s\"", show);
		}
		if ((rc = json_check_field(val, f, a, out, st)) != 0)
			return rc;
	}

	for (i = 0; i < nfields; i++) {
		if (fields[i].required &&
		    !json_object_object_get_ex(obj, fields[i].name, NULL))
			return fp_fail(st, FP_E_SCHEMA,
			    SCHEMA_FAIL ": required field \"%s\" is missing",
			    fields[i].name);
	}
	return 0;
}

int
json_validate(json_object *obj, const struct json_field *fields, size_t nfields,
    struct fp_status *st)
{
	return json_walk(obj, fields, nfields, NULL, NULL, st);
}

int
json_decode(json_object *obj, const struct json_schema *schema, struct arena *a,
    void *out, struct fp_status *st)
{
	int rc;

	memset(out, 0, schema->size);
	if ((rc = json_walk(obj, schema->fields, schema->nfields, a, out,
	         st)) != 0)
		memset(out, 0, schema->size);
	return rc;
}

/* ---- accessors --------------------------------------------------- */

const char *
json_get_str(json_object *obj, const char *name, size_t *lenp)
{
	json_object *v;

	if (lenp != NULL)
		*lenp = 0;
	if (!json_object_object_get_ex(obj, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	if (lenp != NULL)
		*lenp = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

int64_t
json_get_int(json_object *obj, const char *name, int64_t dflt)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, name, &v) ||
	    !json_object_is_type(v, json_type_int))
		return dflt;
	return json_object_get_int64(v);
}

char *
json_dump(json_object *obj)
{
	/*
	 * Pinned: compact, and "/" left alone (json-c escapes it by default,
	 * which mangles URLs for readers that compare bytes).
	 */
	return xstrdup(json_object_to_json_string_ext(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* json_wipe's walk; 'depth' bounds it like the parser's JSON_MAX_DEPTH. */
static void
wipe_tree(json_object *obj, int depth)
{
	size_t i, n;

	if (obj == NULL || depth > JSON_MAX_DEPTH)
		return;
	switch (json_object_get_type(obj)) {
	case json_type_string:
		/*
		 * json-c hands out its own storage (inline for short strings,
		 * malloc'd for long ones) as const; it is the object's, and
		 * the object is about to be freed.
		 */
		OPENSSL_cleanse((char *)(uintptr_t)json_object_get_string(obj),
		    (size_t)json_object_get_string_len(obj));
		break;
	case json_type_object: {
		json_object_object_foreach(obj, key, val)
		{
			(void)key;
			wipe_tree(val, depth + 1);
		}
		break;
	}
	case json_type_array:
		n = json_object_array_length(obj);
		for (i = 0; i < n; i++)
			wipe_tree(json_object_array_get_idx(obj, i), depth + 1);
		break;
	default:
		break;
	}
}

void
json_wipe(json_object *obj)
{
	const char *text;
	size_t len;

	if (obj == NULL)
		return;
	/* The serialisation json-c caches in the object, if it made one. */
	text = json_object_to_json_string_length(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (text != NULL)
		OPENSSL_cleanse((char *)(uintptr_t)text, len);
	wipe_tree(obj, 0);
}
