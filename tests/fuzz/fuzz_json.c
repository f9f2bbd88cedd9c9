/*
 * libFuzzer harness for the strict JSON parser, the field table
 * validator and decoder, and the base64 / base64url decoders.  Build and run: see
 * tests/fuzz/build.sh.
 *
 * Besides "no crash, no leak, no UB" it checks two properties:
 *  - what json_parse_strict accepts, json_dump re-serialises into text
 *    that json_parse_strict accepts again (nothing accepted is
 *    unrepresentable, e.g. a merged duplicate key);
 *  - what a base64 decoder accepts re-encodes to exactly the input (the
 *    decoders are canonical: one text per byte string).
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fleetpki/arena.h"
#include "fleetpki/b64.h"
#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/json.h"
#include "fleetpki/log.h"
#include "fleetpki/util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A table shaped like a real request body, to reach every type check. */
struct body {
	const char *csr;
	struct json_int ttl;
	struct json_bool renew;
	struct json_strs sans;
	const struct meta *meta;
};

struct meta {
	const char *name;
	struct json_int n;
};

static const struct json_field meta_fields[] = {
	{ "name", JF_STRING, 0, 0, 64, 0, offsetof(struct meta, name), NULL },
	{ "n", JF_INT, 1, -5, 5, 0, offsetof(struct meta, n), NULL },
};
static const struct json_schema meta_schema =
    JSON_SCHEMA(struct meta, meta_fields);

static const struct json_field fields[] = {
	{ "csr", JF_STRING, 1, 1, 16384, 0, offsetof(struct body, csr), NULL },
	{ "ttl", JF_INT, 0, 1, 86400, 0, offsetof(struct body, ttl), NULL },
	{ "renew", JF_BOOL, 0, 0, 0, 0, offsetof(struct body, renew), NULL },
	{ "sans", JF_STRINGS, 0, 1, 8, 253, offsetof(struct body, sans), NULL },
	{ "meta", JF_OBJECT, 0, 0, 0, 0, offsetof(struct body, meta),
	    &meta_schema },
};
static const struct json_schema schema = JSON_SCHEMA(struct body, fields);

static struct arena *arena;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz", LOG_LVL_ERR);
	arena = arena_new();
	return 0;
}

static void
fuzz_b64(const uint8_t *data, size_t size, int url)
{
	struct buf out = BUF_INIT, again = BUF_INIT;
	int rc;

	rc = url ? b64url_decode((const char *)data, size, &out)
	         : b64_decode((const char *)data, size, &out);
	if (rc == 0) {
		if (url)
			b64url_encode(out.data, out.len, &again);
		else
			b64_encode(out.data, out.len, &again);
		if (again.len != size ||
		    (size > 0 && memcmp(again.data, data, size) != 0))
			abort(); /* a non-canonical encoding was accepted */
	} else if (out.len != 0)
		abort(); /* a failed decode wrote to its output */
	buf_free(&out);
	buf_free(&again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *obj = NULL, *again = NULL;
	struct fp_status st;
	struct body b;
	char *text = NULL;

	if (json_parse_strict((const char *)data, size, &obj, &st) == 0) {
		text = json_dump(obj);
		if (json_parse_strict(text, strlen(text), &again, &st) != 0)
			abort();
		if (json_decode(obj, &schema, arena, &b, &st) == 0) {
			/* Decoded: the values must hold to the table. */
			if (b.csr == NULL || strlen(b.csr) < 1 ||
			    strlen(b.csr) > 16384)
				abort();
			if (b.ttl.set && (b.ttl.v < 1 || b.ttl.v > 86400))
				abort();
			if (b.sans.n > 8 || (b.sans.n > 0 && b.sans.v == NULL))
				abort();
			if (b.meta != NULL && (!b.meta->n.set ||
			                          b.meta->n.v < -5 ||
			                          b.meta->n.v > 5))
				abort();
			/* json_validate agrees with json_decode. */
			if (json_validate(obj, fields, FP_ARRAY_LEN(fields),
			        &st) != 0)
				abort();
		} else if (b.csr != NULL || b.sans.n != 0 || b.meta != NULL) {
			abort(); /* a refused body left values behind */
		}
	} else if (obj != NULL)
		abort();
	json_object_put(obj);
	json_object_put(again);
	free(text);
	arena_reset(arena);

	fuzz_b64(data, size, 0);
	fuzz_b64(data, size, 1);
	return 0;
}
