/*
 * Unit tests for typed input: json_decode (JSON bodies into a struct by
 * offsetof) and in_decode (query, header and path parameters), and the
 * media-type comparison the front checks Content-Type with.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fleetpki/arena.h"
#include "fleetpki/input.h"
#include "fleetpki/json.h"
#include "fleetpki/util.h"

/* ---- json_decode ------------------------------------------------- */

struct point {
	struct json_int x, y;
};

struct thing {
	const char *name;
	struct json_int count;
	struct json_bool flag;
	struct json_strs tags;
	const struct point *at;
};

static const struct json_field point_fields[] = {
	{ "x", JF_INT, 1, -10, 10, 0, offsetof(struct point, x), NULL },
	{ "y", JF_INT, 0, -10, 10, 0, offsetof(struct point, y), NULL },
};
static const struct json_schema point_schema =
    JSON_SCHEMA(struct point, point_fields);

static const struct json_field thing_fields[] = {
	{ "name", JF_STRING, 1, 1, 8, 0, offsetof(struct thing, name), NULL },
	{ "count", JF_INT, 0, 0, 100, 0, offsetof(struct thing, count), NULL },
	{ "flag", JF_BOOL, 0, 0, 0, 0, offsetof(struct thing, flag), NULL },
	{ "tags", JF_STRINGS, 0, 1, 3, 4, offsetof(struct thing, tags), NULL },
	{ "at", JF_OBJECT, 0, 0, 0, 0, offsetof(struct thing, at),
	    &point_schema },
};
static const struct json_schema thing_schema =
    JSON_SCHEMA(struct thing, thing_fields);

static int
decode(struct arena *a, const char *text, json_object **obj, struct thing *t,
    struct fp_status *st)
{
	memset(st, 0, sizeof(*st));
	*obj = NULL;
	if (json_parse_strict(text, strlen(text), obj, st) != 0)
		return -1;
	return json_decode(*obj, &thing_schema, a, t, st);
}

static void
test_json_decode(void **state)
{
	struct arena *a = arena_new();
	struct fp_status st;
	json_object *obj;
	struct thing t;

	(void)state;
	assert_int_equal(decode(a,
	                     "{\"name\":\"dev\",\"count\":7,\"flag\":true,"
	                     "\"tags\":[\"a\",\"bc\"],\"at\":{\"x\":-3}}",
	                     &obj, &t, &st),
	    0);
	assert_string_equal(t.name, "dev");
	assert_true(t.count.set);
	assert_int_equal(t.count.v, 7);
	assert_true(t.flag.set);
	assert_int_equal(t.flag.v, 1);
	assert_int_equal(t.tags.n, 2);
	assert_string_equal(t.tags.v[0], "a");
	assert_string_equal(t.tags.v[1], "bc");
	assert_non_null(t.at);
	assert_true(t.at->x.set);
	assert_int_equal(t.at->x.v, -3);
	assert_false(t.at->y.set);
	json_object_put(obj);

	/* Absent members stay absent: unset, NULL, empty. */
	assert_int_equal(decode(a, "{\"name\":\"x\"}", &obj, &t, &st), 0);
	assert_false(t.count.set);
	assert_false(t.flag.set);
	assert_int_equal(t.tags.n, 0);
	assert_null(t.at);
	json_object_put(obj);

	/* A false boolean is set and false. */
	assert_int_equal(decode(a, "{\"name\":\"x\",\"flag\":false}", &obj, &t,
	                     &st),
	    0);
	assert_true(t.flag.set);
	assert_int_equal(t.flag.v, 0);
	json_object_put(obj);

	/* Sub-objects are held to their own table. */
	assert_int_equal(decode(a, "{\"name\":\"x\",\"at\":{\"y\":1}}", &obj,
	                     &t, &st),
	    -FP_E_SCHEMA);
	assert_non_null(strstr(st.msg, "required field \"x\""));
	assert_null(t.name); /* nothing half-decoded is left behind */
	json_object_put(obj);
	assert_int_equal(decode(a, "{\"name\":\"x\",\"at\":{\"x\":1,\"z\":2}}",
	                     &obj, &t, &st),
	    -FP_E_SCHEMA);
	assert_non_null(strstr(st.msg, "unknown field \"z\""));
	json_object_put(obj);
	assert_int_equal(decode(a, "{\"name\":\"x\",\"at\":{\"x\":11}}", &obj,
	                     &t, &st),
	    -FP_E_SCHEMA);
	assert_non_null(strstr(st.msg, "\"x\" must be between"));
	json_object_put(obj);

	/* The top-level rules hold as in json_validate. */
	assert_int_equal(decode(a, "{\"name\":\"x\",\"count\":\"7\"}", &obj, &t,
	                     &st),
	    -FP_E_SCHEMA);
	json_object_put(obj);
	assert_int_equal(decode(a, "{\"nam\":\"x\"}", &obj, &t, &st),
	    -FP_E_SCHEMA);
	json_object_put(obj);
	arena_free(a);
}

/* ---- in_decode --------------------------------------------------- */

struct params {
	struct json_int page, limit, port;
	const char *id, *keyval;
	int enc;
};

static const char *const encodings[] = { "pem", "der", NULL };

/* A converter: ids are upper-cased hex, anything else is "not found". */
static int
conv_id(struct arena *a, const char *in, const char **out, struct fp_status *st)
{
	char *s = arena_strdup(a, in);
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (util_hexval((unsigned char)s[i]) < 0)
			return fp_fail(st, FP_E_NOTFOUND, "No such thing.");
		if (s[i] >= 'a' && s[i] <= 'f')
			s[i] = (char)(s[i] - 'a' + 'A');
	}
	*out = s;
	return 0;
}

static const struct in_field fields[] = {
	{ .name = "page",
	    .src = IN_QUERY,
	    .type = IN_INT,
	    .flags = IN_EMPTY_ABSENT,
	    .min = 1,
	    .max = 1000,
	    .off = offsetof(struct params, page),
	    .msg = "page must be a positive integer." },
	{ .name = "limit",
	    .src = IN_QUERY,
	    .type = IN_INT,
	    .flags = IN_CLAMP,
	    .min = 1,
	    .max = 50,
	    .off = offsetof(struct params, limit) },
	{ .name = "keyVal",
	    .src = IN_QUERY,
	    .type = IN_STR,
	    .max = 10,
	    .flags = IN_EMPTY_ABSENT,
	    .off = offsetof(struct params, keyval) },
	{ .name = "encoding",
	    .src = IN_QUERY,
	    .type = IN_ENUM,
	    .off = offsetof(struct params, enc),
	    .choices = encodings,
	    .msg = "Invalid encoding." },
	{ .name = "id",
	    .src = IN_PATH,
	    .type = IN_STR,
	    .index = 0,
	    .flags = IN_REQUIRED,
	    .off = offsetof(struct params, id),
	    .conv = conv_id },
	{ .name = "X-Port",
	    .src = IN_HEADER,
	    .type = IN_INT,
	    .min = 1,
	    .max = 65535,
	    .off = offsetof(struct params, port) },
	{ .name = "X-Old-Port",
	    .src = IN_HEADER,
	    .type = IN_INT,
	    .min = 1,
	    .max = 65535,
	    .off = offsetof(struct params, port) },
};
static const struct in_schema schema = IN_SCHEMA(fields);

/* A request as "src:name=value" lines. */
struct fake {
	const char *const *kv;
};

static const char *
fake_get(void *arg, enum in_src src, const char *name, int index)
{
	const struct fake *f = arg;
	char key[64];
	size_t i, len;

	if (src == IN_PATH)
		snprintf(key, sizeof(key), "p:%d=", index);
	else
		snprintf(key, sizeof(key),
		    "%c:%s=", src == IN_QUERY ? 'q' : 'h', name);
	len = strlen(key);
	for (i = 0; f->kv[i] != NULL; i++)
		if (strncmp(f->kv[i], key, len) == 0)
			return f->kv[i] + len;
	return NULL;
}

static int
run(struct arena *a, const char *const *kv, struct params *p,
    struct fp_status *st)
{
	struct fake f = { kv };

	memset(p, 0, sizeof(*p));
	memset(st, 0, sizeof(*st));
	return in_decode(&schema, fake_get, &f, a, p, st);
}

static void
test_in_decode(void **state)
{
	static const char *const full[] = { "q:page=3", "q:limit=9999",
		"q:keyVal=a=b", "q:encoding=der", "p:0=ab12",
		"h:X-Old-Port=8080", NULL };
	static const char *const bare[] = { "p:0=00",
		"q:page=", "q:keyVal=", NULL };
	static const char *const both_ports[] = { "p:0=00", "h:X-Port=81",
		"h:X-Old-Port=82", NULL };
	struct arena *a = arena_new();
	struct fp_status st;
	struct params p;

	(void)state;
	assert_int_equal(run(a, full, &p, &st), 0);
	assert_true(p.page.set);
	assert_int_equal(p.page.v, 3);
	assert_int_equal(p.limit.v, 50); /* clamped, not refused */
	assert_string_equal(p.keyval, "a=b");
	assert_int_equal(p.enc, 1);
	assert_string_equal(p.id, "AB12");
	assert_int_equal(p.port.v, 8080); /* through the alias */

	/* Empty values of IN_EMPTY_ABSENT fields are absent. */
	assert_int_equal(run(a, bare, &p, &st), 0);
	assert_false(p.page.set);
	assert_null(p.keyval);
	assert_int_equal(p.enc, 0);
	assert_false(p.port.set);

	/* The first alias present wins. */
	assert_int_equal(run(a, both_ports, &p, &st), 0);
	assert_int_equal(p.port.v, 81);
	arena_free(a);
}

static void
refused(const char *const *kv, int code, const char *why)
{
	struct arena *a = arena_new();
	struct fp_status st;
	struct params p;

	assert_int_equal(run(a, kv, &p, &st), -code);
	if (strstr(st.msg, why) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", st.msg, why);
	arena_free(a);
}

static void
test_in_refused(void **state)
{
	(void)state;
	refused((const char *const[]){ "p:0=00", "q:page=0", NULL },
	    FP_E_BADREQ, "page must be a positive integer.");
	refused((const char *const[]){ "p:0=00", "q:page=1x", NULL },
	    FP_E_BADREQ, "page must be");
	refused((const char *const[]){ "p:0=00", "q:page=-1", NULL },
	    FP_E_BADREQ, "page must be");
	refused((const char *const[]){ "p:0=00", "q:page=1001", NULL },
	    FP_E_BADREQ, "page must be");
	refused((const char *const[]){ "p:0=00", "q:limit=0", NULL },
	    FP_E_BADREQ, "limit must be an integer");
	refused((const char *const[]){ "p:0=00", "q:keyVal=01234567890", NULL },
	    FP_E_BADREQ, "keyVal has a length");
	refused((const char *const[]){ "p:0=00", "q:encoding=PEM", NULL },
	    FP_E_BADREQ, "Invalid encoding.");
	refused((const char *const[]){ "p:0=00", "q:encoding=", NULL },
	    FP_E_BADREQ, "Invalid encoding.");
	refused((const char *const[]){ "p:0=zz", NULL }, FP_E_NOTFOUND,
	    "No such thing.");
	refused((const char *const[]){ NULL }, FP_E_BADREQ, "id is required");
	refused((const char *const[]){ "p:0=00", "h:X-Port=65536", NULL },
	    FP_E_BADREQ, "X-Port must be");
}

static void
test_media_type(void **state)
{
	(void)state;
	assert_true(in_media_type_is("application/json", "application/json"));
	assert_true(in_media_type_is("Application/JSON; charset=utf-8",
	    "application/json"));
	assert_true(
	    in_media_type_is(" application/json ;q=1", "application/json"));
	assert_false(in_media_type_is("application/jsonx", "application/json"));
	assert_false(in_media_type_is("application/jso", "application/json"));
	assert_false(in_media_type_is("", "application/json"));
	assert_false(in_media_type_is("text/json", "application/json"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_decode),
		cmocka_unit_test(test_in_decode),
		cmocka_unit_test(test_in_refused),
		cmocka_unit_test(test_media_type),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
