/*
 * Unit tests for json_parse_strict, json_validate and the accessors, and
 * for the base64 / base64url codecs they sit beside.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/rand.h>

#include "fleetpki/b64.h"
#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/json.h"
#include "fleetpki/util.h"

/* ---- helpers ----------------------------------------------------- */

/* Parse 'len' bytes; on success drop the object and return 0. */
static int
parse_len(const char *s, size_t len, struct fp_status *st)
{
	json_object *obj = (json_object *)0x1;
	int rc;

	memset(st, 0, sizeof(*st));
	rc = json_parse_strict(s, len, &obj, st);
	if (rc == 0)
		assert_non_null(obj);
	else
		assert_null(obj);
	json_object_put(obj);
	return rc;
}

static int
parse(const char *s, struct fp_status *st)
{
	return parse_len(s, strlen(s), st);
}

static void
json_ok(const char *s)
{
	struct fp_status st;

	if (parse(s, &st) != 0)
		fail_msg("rejected %s: %s", s, st.msg);
}

/* Rejected as a schema error whose reason contains 'why'. */
static void
json_bad_len(const char *s, size_t len, const char *why)
{
	struct fp_status st;

	assert_int_equal(parse_len(s, len, &st), -FP_E_SCHEMA);
	assert_int_equal(st.code, FP_E_SCHEMA);
	if (why != NULL && strstr(st.msg, why) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", st.msg, why);
}

static void
json_bad(const char *s, const char *why)
{
	json_bad_len(s, strlen(s), why);
}

static json_object *
must_parse(const char *s)
{
	struct fp_status st;
	json_object *obj = NULL;

	if (json_parse_strict(s, strlen(s), &obj, &st) != 0)
		fail_msg("rejected %s: %s", s, st.msg);
	return obj;
}

/* ---- json_parse_strict ------------------------------------------- */

static void
test_parse_valid(void **state)
{
	json_object *obj, *v;

	(void)state;
	obj = must_parse("{\"a\":\"x\",\"n\":-5,\"b\":true,\"l\":[\"p\",1.5e3],"
	                 "\"o\":{\"k\":null},\"e\":{},\"z\":[]}");
	assert_true(json_object_is_type(obj, json_type_object));
	assert_true(json_object_object_get_ex(obj, "n", &v));
	assert_int_equal(json_object_get_int64(v), -5);
	json_object_put(obj);

	/* Any value may stand alone, white space around it. */
	json_ok("123");
	json_ok("-0");
	json_ok("\"s\"");
	json_ok("true");
	json_ok("[null]");
	json_ok(" \r\n\t{ \"a\" : [ 1 , 2 ] }\n\n");
	json_ok("9223372036854775807");
	json_ok("-9223372036854775808");
	json_ok("1e-400"); /* underflows to 0: finite */
	json_ok("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"");
	json_ok("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	/* Not keys, so a NUL escape is json_validate's business. */
	json_ok("{\"a\":\"x\\u0000y\"}");
}

static void
test_parse_syntax(void **state)
{
	(void)state;
	json_bad("", "empty");
	json_bad("   ", NULL);
	json_bad("null", "null document");
	json_bad("{", NULL);
	json_bad("{\"a\"}", NULL);
	json_bad("{\"a\":1,}", NULL);
	json_bad("[1,]", NULL);
	json_bad("[1 2]", NULL);
	json_bad("{a:1}", NULL);
	json_bad("{'a':1}", NULL);
	json_bad("'a'", NULL);
	json_bad("{\"a\":1}/*c*/", NULL);
	json_bad("/*c*/{}", NULL);
	json_bad("True", NULL);
	json_bad("01", NULL);
	json_bad("+1", NULL);
	json_bad(".5", NULL);
	json_bad("\"\\x\"", NULL);
	json_bad("\"\\u12\"", NULL);
	/* json-c accepts these even in strict mode. */
	json_bad("NaN", "invalid literal");
	json_bad("Infinity", "invalid literal");
	json_bad("-Infinity", NULL);
	json_bad("[nan]", NULL);
	json_bad("1.", "invalid number");
	json_bad("1.e3", NULL);
	json_bad("1e", NULL);
	json_bad("\"a\tb\"", "control character");
	json_bad("\"a\nb\"", "control character");
	json_bad("\"\x1f\"", "control character");
	/* Beyond int64 json-c saturates; beyond double it makes inf. */
	json_bad("9223372036854775808", "out of range");
	json_bad("-9223372036854775809", "out of range");
	json_bad("[99999999999999999999]", "out of range");
	json_bad("1e400", "out of range");
	json_bad("-1e400", "out of range");
}

static void
test_parse_trailing(void **state)
{
	(void)state;
	json_bad("{}x", NULL);
	json_bad("{} {}", NULL);
	json_bad("{}{}", NULL);
	json_bad("[1]]", NULL);
	json_bad("1 2", NULL);
	json_bad("\"a\" \"b\"", NULL);
	/* Only RFC 8259 white space: json-c's isspace() takes \v and \f. */
	json_bad("{}\v", NULL);
	json_bad("{}\f", NULL);
	json_bad("\v{}", NULL);
	/* Counted length wins over a NUL terminator further on. */
	json_bad_len("{}xyz", 3, NULL);
	{
		struct fp_status st;

		assert_int_equal(parse_len("{}xyz", 2, &st), 0);
	}
}

static void
test_parse_nul(void **state)
{
	static const char trail[] = "{\"a\":1}\0";
	static const char inner[] = "{\"a\":\"b\0c\"}";
	static const char lead[] = "\0{}";

	(void)state;
	json_bad_len(trail, sizeof(trail) - 1, "NUL");
	json_bad_len(inner, sizeof(inner) - 1, "NUL");
	json_bad_len(lead, sizeof(lead) - 1, "NUL");
	/* An escaped NUL in a key: json-c would cut "a\0b" down to "a". */
	json_bad("{\"a\\u0000b\":1,\"a\":2}", "NUL in object key");
	json_bad("{\"a\\u0000\":1}", "NUL in object key");
}

static void
test_parse_duplicates(void **state)
{
	(void)state;
	json_bad("{\"a\":1,\"a\":2}", "duplicate key \"a\"");
	json_bad("{\"a\":1,\"b\":2,\"a\":1}", "duplicate key \"a\"");
	json_bad("{\"csr\":\"x\",\"csr\":\"y\"}", "duplicate key \"csr\"");
	json_bad("{\"o\":{\"x\":1,\"x\":2}}", "duplicate key \"x\"");
	json_bad("[{\"ok\":1},{\"x\":[],\"x\":[]}]", "duplicate key \"x\"");
	json_bad("{\"a\":{\"b\":1},\"c\":2,\"a\":3}", "duplicate key \"a\"");
	/* Equal once decoded, however they were written. */
	json_bad("{\"a\":1,\"\\u0061\":2}", "duplicate key \"a\"");
	json_bad("{\"\\u0041\":1,\"A\":2}", "duplicate key");
	json_bad("{\"/\":1,\"\\/\":2}", "duplicate key");
	json_bad("{\"\xc3\xa9\":1,\"\\u00e9\":2}", "duplicate key");
	json_bad("{\"\xc3\xa9\":1,\"\\u00E9\":2}", "duplicate key");
	json_bad(
	    "{\"\xf0\x9f\x98\x80\":1,\"\\ud83d\\ude00\":2}", "duplicate key");
	json_bad("{\"a\\nb\":1,\"a\\u000ab\":2}", "duplicate key");
	json_bad("{\"\":1,\"\":2}", "duplicate key \"\"");
	/* Odd characters and long names are not echoed verbatim. */
	json_bad("{\"x\\\"y\":1,\"x\\\"y\":2}", "duplicate key \"x?y\"");
	{
		struct buf big = BUF_INIT;
		struct fp_status st;
		int i;

		buf_puts(&big, "{\"");
		for (i = 0; i < 200; i++)
			buf_puts(&big, "k");
		buf_puts(&big, "\":1,\"");
		for (i = 0; i < 200; i++)
			buf_puts(&big, "k");
		buf_puts(&big, "\":2}");
		assert_int_equal(
		    parse((const char *)big.data, &st), -FP_E_SCHEMA);
		assert_non_null(strstr(st.msg, "duplicate key"));
		assert_non_null(strstr(st.msg, "...\""));
		assert_true(strlen(st.msg) < 120);
		buf_free(&big);
	}

	/* The same name in different objects is fine. */
	json_ok("[{\"a\":1},{\"a\":1}]");
	json_ok("{\"a\":{\"a\":{\"a\":1}}}");
	json_ok("{\"a\":{\"b\":1},\"b\":{\"a\":1}}");
	json_ok("{\"a\":1,\"A\":2,\"a \":3,\"\\u00e9\":4,\"e\":5}");
	/* Prefixes are different keys. */
	json_ok("{\"ab\":1,\"a\":2,\"abc\":3}");
}

static void
test_parse_many_keys(void **state)
{
	struct buf b = BUF_INIT;
	struct fp_status st;
	int i;

	(void)state;
	/* Thousands of keys: sorted, so this stays fast. */
	buf_puts(&b, "{");
	for (i = 0; i < 20000; i++)
		buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
	buf_puts(&b, "}");
	assert_int_equal(parse((const char *)b.data, &st), 0);
	/* And the duplicate is found when it is the very last key. */
	b.len--;
	buf_puts(&b, ",\"k7\":1}");
	assert_int_equal(parse((const char *)b.data, &st), -FP_E_SCHEMA);
	assert_non_null(strstr(st.msg, "duplicate key \"k7\""));
	buf_free(&b);
}

static void
nest(struct buf *b, int depth, const char *open, const char *mid,
    const char *close)
{
	int i;

	buf_reset(b);
	for (i = 0; i < depth; i++)
		buf_puts(b, open);
	buf_puts(b, mid);
	for (i = 0; i < depth; i++)
		buf_puts(b, close);
}

static void
test_parse_depth(void **state)
{
	struct buf b = BUF_INIT;
	struct fp_status st;

	(void)state;
	nest(&b, JSON_MAX_DEPTH, "[", "1", "]");
	assert_int_equal(parse((const char *)b.data, &st), 0);
	nest(&b, JSON_MAX_DEPTH + 1, "[", "1", "]");
	assert_int_equal(parse((const char *)b.data, &st), -FP_E_SCHEMA);
	nest(&b, JSON_MAX_DEPTH, "{\"a\":", "1", "}");
	assert_int_equal(parse((const char *)b.data, &st), 0);
	nest(&b, JSON_MAX_DEPTH + 1, "{\"a\":", "1", "}");
	assert_int_equal(parse((const char *)b.data, &st), -FP_E_SCHEMA);
	/* Empty innermost containers count the same. */
	nest(&b, JSON_MAX_DEPTH, "[", "", "]");
	assert_int_equal(parse((const char *)b.data, &st), 0);
	nest(&b, JSON_MAX_DEPTH + 1, "[", "", "]");
	assert_int_equal(parse((const char *)b.data, &st), -FP_E_SCHEMA);
	assert_non_null(strstr(st.msg, "nesting too deep"));
	nest(&b, JSON_MAX_DEPTH + 1, "[{\"a\":", "{}", "}]");
	assert_int_equal(parse((const char *)b.data, &st), -FP_E_SCHEMA);
	nest(&b, 100000, "[", "", "]");
	assert_int_equal(parse((const char *)b.data, &st), -FP_E_SCHEMA);
	buf_free(&b);
}

static void
test_parse_utf8(void **state)
{
	(void)state;
	json_bad("\"\xff\"", NULL);
	json_bad("\"\xe2\x82\"", NULL); /* truncated */
	json_bad("{\"\x80\":1}", NULL); /* lone continuation */
	/* json-c's VALIDATE_UTF8 lets these through; we do not. */
	json_bad("\"\xc0\xaf\"", "invalid UTF-8"); /* overlong '/' */
	json_bad("\"\xe0\x80\xaf\"", "invalid UTF-8"); /* overlong */
	json_bad("\"\xed\xa0\x80\"", "invalid UTF-8"); /* UTF-8 surrogate */
	json_bad("\"\xf4\x90\x80\x80\"", "invalid UTF-8"); /* > U+10FFFF */
	json_bad("\"\xf5\x80\x80\x80\"", "invalid UTF-8");
	/* Lone surrogate escapes, which json-c turns into U+FFFD. */
	json_bad("\"\\ud800\"", "lone surrogate");
	json_bad("\"\\udc00\"", "lone surrogate");
	json_bad("\"\\ud800\\u0041\"", "lone surrogate");
	json_bad("\"\\ud800x\"", "lone surrogate");
	json_bad("{\"\\ud800\":1,\"\\ufffd\":2}", "lone surrogate");
	json_ok("\"\\ufffd\"");
	json_ok("\"\xef\xbf\xbd\"");
	json_ok("\"\xf4\x8f\xbf\xbf\"");
}

/* ---- json_validate ----------------------------------------------- */

static const struct json_field fields[] = {
	{ "name", JF_STRING, 1, 1, 8, 0, 0, NULL },
	{ "count", JF_INT, 0, -5, 100, 0, 0, NULL },
	{ "flag", JF_BOOL, 0, 0, 0, 0, 0, NULL },
	{ "tags", JF_STRINGS, 0, 1, 3, 4, 0, NULL },
	{ "opts", JF_OBJECT, 0, 0, 0, 0, 0, NULL },
};

static int
validate(const char *s, struct fp_status *st)
{
	json_object *obj = must_parse(s);
	int rc;

	memset(st, 0, sizeof(*st));
	rc = json_validate(obj, fields, FP_ARRAY_LEN(fields), st);
	json_object_put(obj);
	return rc;
}

static void
valid(const char *s)
{
	struct fp_status st;

	if (validate(s, &st) != 0)
		fail_msg("invalid %s: %s", s, st.msg);
}

static void
invalid(const char *s, const char *why)
{
	struct fp_status st;

	assert_int_equal(validate(s, &st), -FP_E_SCHEMA);
	assert_int_equal(st.code, FP_E_SCHEMA);
	if (strstr(st.msg, why) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", st.msg, why);
}

static void
test_validate(void **state)
{
	struct fp_status st;
	json_object *arr;

	(void)state;
	valid("{\"name\":\"a\"}");
	valid("{\"name\":\"abcdefgh\",\"count\":-5,\"flag\":false,"
	      "\"tags\":[\"a\",\"bcde\"],\"opts\":{\"x\":[1]}}");
	valid("{\"count\":100,\"name\":\"x\",\"tags\":[]}");

	invalid("{\"name\":\"a\",\"nmae\":1}", "unknown field \"nmae\"");
	invalid("{\"name\":\"a\",\"\\u0001\":1}", "unknown field \"?\"");
	invalid("{}", "required field \"name\" is missing");
	invalid("{\"count\":1}", "required field \"name\"");
	invalid("{\"name\":null}", "\"name\" must be a string");
	invalid("{\"name\":5}", "\"name\" must be a string");
	invalid("{\"name\":[\"a\"]}", "\"name\" must be a string");
	invalid("{\"name\":\"\"}", "\"name\" is shorter");
	invalid("{\"name\":\"abcdefghi\"}", "\"name\" is longer");
	invalid("{\"name\":\"a\\u0000b\"}", "\"name\" contains a NUL");
	invalid("{\"name\":\"\\u0000\"}", "NUL");

	/* Integers are json_type_int: not 7.0, not "7", not true. */
	invalid(
	    "{\"name\":\"a\",\"count\":7.0}", "\"count\" must be an integer");
	invalid(
	    "{\"name\":\"a\",\"count\":7e0}", "\"count\" must be an integer");
	invalid("{\"name\":\"a\",\"count\":\"7\"}", "must be an integer");
	invalid("{\"name\":\"a\",\"count\":true}", "must be an integer");
	invalid("{\"name\":\"a\",\"count\":101}", "\"count\" must be between");
	invalid("{\"name\":\"a\",\"count\":-6}", "must be between");
	invalid("{\"name\":\"a\",\"count\":-9223372036854775808}",
	    "must be between");

	invalid("{\"name\":\"a\",\"flag\":1}", "\"flag\" must be a boolean");
	invalid("{\"name\":\"a\",\"flag\":\"true\"}", "must be a boolean");
	invalid("{\"name\":\"a\",\"tags\":\"a\"}", "must be an array of");
	invalid("{\"name\":\"a\",\"tags\":[1]}", "must be an array of");
	invalid("{\"name\":\"a\",\"tags\":[\"a\",null]}", "must be an array");
	invalid("{\"name\":\"a\",\"tags\":[\"a\",\"b\",\"c\",\"d\"]}",
	    "more than 3 elements");
	invalid("{\"name\":\"a\",\"tags\":[\"abcde\"]}", "\"tags\" is longer");
	invalid("{\"name\":\"a\",\"tags\":[\"\"]}", "\"tags\" is shorter");
	invalid("{\"name\":\"a\",\"tags\":[\"a\\u0000\"]}", "NUL");
	invalid("{\"name\":\"a\",\"opts\":[]}", "\"opts\" must be an object");

	/* Not an object at all. */
	arr = must_parse("[1]");
	assert_int_equal(json_validate(arr, fields, FP_ARRAY_LEN(fields), &st),
	    -FP_E_SCHEMA);
	json_object_put(arr);
	assert_int_equal(json_validate(NULL, fields, FP_ARRAY_LEN(fields), &st),
	    -FP_E_SCHEMA);
	/* A NULL status is allowed. */
	arr = must_parse("{\"x\":1}");
	assert_int_equal(json_validate(arr, fields, FP_ARRAY_LEN(fields), NULL),
	    -FP_E_SCHEMA);
	json_object_put(arr);
}

static void
test_validate_uint64(void **state)
{
	static const struct json_field big[] = {
		{ "n", JF_INT, 1, 0, INT64_MAX, 0, 0, NULL },
	};
	struct fp_status st;
	json_object *obj;

	(void)state;
	/* Built in code (the parser refuses it): stored as uint64. */
	obj = json_object_new_object();
	json_object_object_add(
	    obj, "n", json_object_new_uint64((uint64_t)INT64_MAX + 1));
	assert_int_equal(json_validate(obj, big, 1, &st), -FP_E_SCHEMA);
	json_object_put(obj);
	obj = must_parse("{\"n\":9223372036854775807}");
	assert_int_equal(json_validate(obj, big, 1, &st), 0);
	json_object_put(obj);
}

static void
test_accessors(void **state)
{
	json_object *obj;
	size_t len = 99;
	char *s;

	(void)state;
	obj = must_parse("{\"s\":\"a\\u0000b\",\"i\":42,\"d\":1.5,\"u\":"
	                 "\"http://x/y\"}");
	assert_string_equal(json_get_str(obj, "s", &len), "a");
	assert_int_equal(len, 3);
	assert_null(json_get_str(obj, "i", &len));
	assert_int_equal(len, 0);
	assert_null(json_get_str(obj, "missing", NULL));
	assert_int_equal(json_get_int(obj, "i", -1), 42);
	assert_int_equal(json_get_int(obj, "d", -1), -1);
	assert_int_equal(json_get_int(obj, "s", -1), -1);
	assert_int_equal(json_get_int(obj, "missing", 7), 7);
	json_object_put(obj);

	obj = must_parse("{ \"u\" : \"http://x/y\", \"n\" : [ 1, 2 ] }");
	s = json_dump(obj);
	assert_string_equal(s, "{\"u\":\"http://x/y\",\"n\":[1,2]}");
	free(s);
	json_object_put(obj);
}

/* ---- base64 ------------------------------------------------------ */

static char *
enc(const void *in, size_t len, int url)
{
	struct buf b = BUF_INIT;
	char *s;

	if (url)
		b64url_encode(in, len, &b);
	else
		b64_encode(in, len, &b);
	s = xstrndup(b.data != NULL ? (char *)b.data : "", b.len);
	buf_free(&b);
	return s;
}

static void
test_b64_vectors(void **state)
{
	/* RFC 4648 section 10. */
	static const char *const v[][2] = {
		{ "", "" },
		{ "f", "Zg==" },
		{ "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	static const unsigned char hi[] = { 0xfb, 0xff, 0xbf };
	struct buf b = BUF_INIT;
	char *s;
	size_t i;

	(void)state;
	for (i = 0; i < FP_ARRAY_LEN(v); i++) {
		s = enc(v[i][0], strlen(v[i][0]), 0);
		assert_string_equal(s, v[i][1]);
		free(s);
		buf_reset(&b);
		assert_int_equal(b64_decode(v[i][1], strlen(v[i][1]), &b), 0);
		assert_int_equal(b.len, strlen(v[i][0]));
		assert_memory_equal(b.data, v[i][0], b.len);
	}
	/* The two alphabets differ in exactly these characters. */
	s = enc(hi, 2, 0);
	assert_string_equal(s, "+/8=");
	free(s);
	s = enc(hi, 2, 1);
	assert_string_equal(s, "-_8");
	free(s);
	s = enc(hi, 3, 1);
	assert_string_equal(s, "-_-_");
	free(s);
	s = enc("f", 1, 1);
	assert_string_equal(s, "Zg");
	free(s);
	buf_reset(&b);
	assert_int_equal(b64url_decode("-_8", 3, &b), 0);
	assert_int_equal(b.len, 2);
	assert_memory_equal(b.data, hi, 2);
	buf_free(&b);
}

static void
test_b64_roundtrip(void **state)
{
	unsigned char in[5000];
	struct buf b = BUF_INIT;
	char *s;
	size_t len;
	int url;

	(void)state;
	assert_int_equal(RAND_bytes(in, sizeof(in)), 1);
	for (url = 0; url <= 1; url++) {
		for (len = 0; len < sizeof(in); len += len < 70 ? 1 : 331) {
			s = enc(in, len, url);
			assert_int_equal(strlen(s),
			    url ? (len * 4 + 2) / 3 : (len + 2) / 3 * 4);
			buf_reset(&b);
			assert_int_equal(url ? b64url_decode(s, strlen(s), &b)
			                     : b64_decode(s, strlen(s), &b),
			    0);
			assert_int_equal(b.len, len);
			if (len > 0)
				assert_memory_equal(b.data, in, len);
			/* NUL-terminated past the data, as buf promises. */
			assert_int_equal(b.data[b.len], 0);
			free(s);
		}
	}
	/* Appends to what is already there. */
	buf_reset(&b);
	buf_puts(&b, "pre:");
	assert_int_equal(b64_decode("Zm9v", 4, &b), 0);
	assert_string_equal((char *)b.data, "pre:foo");
	b64url_encode("foo", 3, &b);
	assert_string_equal((char *)b.data, "pre:fooZm9v");
	buf_free(&b);
}

static void
b64_bad(const char *s, int url)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "keep");
	if ((url ? b64url_decode(s, strlen(s), &b)
	         : b64_decode(s, strlen(s), &b)) != -1)
		fail_msg("%s decoder accepted \"%s\"", url ? "url" : "std", s);
	/* A failed decode leaves 'out' as it was. */
	assert_int_equal(b.len, 4);
	assert_string_equal((char *)b.data, "keep");
	buf_free(&b);
}

static void
test_b64_reject(void **state)
{
	static const char nul[] = "Zm\0v";
	struct buf b = BUF_INIT;

	(void)state;
	/* Standard alphabet. */
	b64_bad("Zg=", 0); /* length */
	b64_bad("Zg", 0); /* padding required */
	b64_bad("Z===", 0); /* too much padding */
	b64_bad("====", 0);
	b64_bad("Zm9v\n", 0);
	b64_bad(" Zm9v", 0);
	b64_bad("Zm9v ", 0);
	b64_bad("Zm 9v", 0);
	b64_bad("Zm9v\r\n", 0);
	b64_bad("=Zm9", 0);
	b64_bad("Zg==Zg==", 0); /* padding in the middle */
	b64_bad("Zm-v", 0); /* url alphabet */
	b64_bad("Zm_v", 0);
	b64_bad("Zm9v*A==", 0);
	b64_bad("Zh==", 0); /* non-canonical: "Zg==" is the one form */
	b64_bad("Zm9=", 0); /* non-canonical: "Zm8=" */
	b64_bad("QR==", 0);
	/* base64url. */
	b64_bad("Zg==", 1); /* no padding in JWS */
	b64_bad("Zg=", 1);
	b64_bad("Z", 1); /* 6 bits are not a byte */
	b64_bad("Zm9vY", 1);
	b64_bad("Zm+v", 1); /* standard alphabet */
	b64_bad("Zm/v", 1);
	b64_bad("Zh", 1); /* non-canonical */
	b64_bad("Zm9", 1); /* non-canonical: "Zm8" */
	b64_bad("QR", 1);
	b64_bad("Zm9v\n", 1);
	b64_bad(" Zg", 1);
	b64_bad("Zm.v", 1);

	buf_puts(&b, "keep");
	assert_int_equal(b64_decode(nul, sizeof(nul) - 1, &b), -1);
	assert_int_equal(b64url_decode(nul, sizeof(nul) - 1, &b), -1);
	assert_int_equal(b.len, 4);
	/* The canonical forms next to those. */
	assert_int_equal(b64url_decode("QQ", 2, &b), 0);
	assert_int_equal(b64_decode("QQ==", 4, &b), 0);
	assert_int_equal(b64_decode("", 0, &b), 0);
	assert_int_equal(b64url_decode("", 0, &b), 0);
	assert_string_equal((char *)b.data, "keepAA");
	buf_free(&b);
}

static void
test_b64_long_invalid(void **state)
{
	struct buf in = BUF_INIT, out = BUF_INIT;
	size_t i;

	(void)state;
	/* A bad character beyond the first decoding chunk. */
	for (i = 0; i < 3000; i++)
		buf_puts(&in, "A");
	assert_int_equal(b64url_decode((char *)in.data, in.len, &out), 0);
	assert_int_equal(out.len, 2250);
	in.data[2500] = '+';
	buf_reset(&out);
	assert_int_equal(b64url_decode((char *)in.data, in.len, &out), -1);
	assert_int_equal(out.len, 0);
	/* Non-canonical tail after several good chunks. */
	in.data[2500] = 'A';
	in.len = 2996;
	buf_puts(&in, "AB");
	assert_int_equal(b64url_decode((char *)in.data, in.len, &out), -1);
	buf_free(&in);
	buf_free(&out);
}

/* json_wipe zeroes every string of the tree and the cached text. */
static void
test_wipe(void **state)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	const char *shortv, *longv, *inner, *text;
	char big[200];
	size_t len, i;

	(void)state;
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	json_object_object_add(o, "Key", json_object_new_string("c2VjcmV0"));
	json_object_object_add(o, "Long", json_object_new_string(big));
	json_object_array_add(a, json_object_new_string("inner-secret"));
	json_object_array_add(a, json_object_new_int(7));
	json_object_object_add(o, "List", a);
	shortv = json_object_get_string(json_object_object_get(o, "Key"));
	longv = json_object_get_string(json_object_object_get(o, "Long"));
	inner = json_object_get_string(json_object_array_get_idx(a, 0));
	text = json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	assert_non_null(strstr(text, "c2VjcmV0"));
	json_wipe(o);
	for (i = 0; i < 8; i++)
		assert_int_equal(shortv[i], 0);
	for (i = 0; i < sizeof(big) - 1; i++)
		assert_int_equal(longv[i], 0);
	for (i = 0; i < 12; i++)
		assert_int_equal(inner[i], 0);
	for (i = 0; i < len; i++)
		assert_int_equal(text[i], 0);
	/* the numbers and the names are not strings of the answer */
	assert_int_equal(json_object_get_int(json_object_array_get_idx(a, 1)), 7);
	assert_non_null(json_object_object_get(o, "Key"));
	json_object_put(o);
	json_wipe(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_syntax),
		cmocka_unit_test(test_parse_trailing),
		cmocka_unit_test(test_parse_nul),
		cmocka_unit_test(test_parse_duplicates),
		cmocka_unit_test(test_parse_many_keys),
		cmocka_unit_test(test_parse_depth),
		cmocka_unit_test(test_parse_utf8),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_validate_uint64),
		cmocka_unit_test(test_accessors),
		cmocka_unit_test(test_b64_vectors),
		cmocka_unit_test(test_b64_roundtrip),
		cmocka_unit_test(test_b64_reject),
		cmocka_unit_test(test_b64_long_invalid),
		cmocka_unit_test(test_wipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
