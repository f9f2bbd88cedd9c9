/*
 * Reading the server's answers (docs/device-protocol.md, "Answers").
 *
 * Only authenticated bodies reach the success parser, but a device
 * must survive a server bug as well as an attacker, so parsing is as
 * strict as the server's own (json-c with JSON_TOKENER_STRICT and UTF-8
 * validation, the parse must end at the body's end, no embedded NUL in
 * a string, integers must be JSON integers in range).  Unknown members
 * are ignored: that is how version 1 grows (issue 11's ZTP fields
 * arrive so).  A command that cannot be read but has an Id is kept with
 * 'invalid' set, so the device acknowledges it as failed instead of
 * hearing it again forever; a command without a readable Id makes the
 * whole answer malformed.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fleetpki-device.h"
#include "device_internal.h"

#define MAX_DEPTH 8
#define MAX_COMMANDS 64
#define MAX_PROPERTIES 32
#define MAX_CERT (64 * 1024)
#define MAX_HEARTBEAT_SEC 31622400 /* 366 days */

int
fpd_id_ok(const char *s)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > 64)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		        (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' ||
		        *s == ':' || *s == '-'))
			return 0;
	return 1;
}

/* Upper-case words: an error code, a command Type, a State. */
static int
code_ok(const char *s)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > 64)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		        *s == '_'))
			return 0;
	return 1;
}

/* Letters, digits and '_' (property names), or '-' too (key types). */
static int
name_ok(const char *s, int dash)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > 64)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		        (*s >= '0' && *s <= '9') || *s == '_' ||
		        (dash && *s == '-')))
			return 0;
	return 1;
}

/*
 * The RFC 8259 grammar, checked over the raw text before json-c builds
 * its tree, for what json-c's strict mode still lets through: single
 * quotes, duplicate member names (json-c keeps the last), raw control
 * characters, "\u0000", lone surrogates, overlong or surrogate UTF-8,
 * NaN, "1.", nesting deeper than MAX_DEPTH.  Member names may not use
 * escapes at all (the protocol's names are ASCII), so comparing their
 * raw bytes finds every duplicate.  Each function returns 0 or -1.
 */
struct scan {
	const unsigned char *s;
	size_t len, pos;
};

#define MAX_MEMBERS 128 /* per object */

static void
sc_ws(struct scan *sc)
{
	while (sc->pos < sc->len &&
	    (sc->s[sc->pos] == ' ' || sc->s[sc->pos] == '\t' ||
	        sc->s[sc->pos] == '\n' || sc->s[sc->pos] == '\r'))
		sc->pos++;
}

static int
sc_hex4(struct scan *sc, unsigned *v)
{
	size_t i;
	int c;

	*v = 0;
	if (sc->len - sc->pos < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		c = sc->s[sc->pos++];
		if (c >= '0' && c <= '9')
			*v = *v << 4 | (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v = *v << 4 | (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v = *v << 4 | (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

/* One UTF-8 sequence of 2..4 bytes starting at the lead byte 'c'. */
static int
sc_utf8(struct scan *sc, unsigned c)
{
	unsigned lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c >= 0xc2 && c <= 0xdf)
		n = 1;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		if (c == 0xf4)
			hi = 0x8f; /* beyond U+10FFFF */
	} else
		return -1;
	if (sc->len - sc->pos < n)
		return -1;
	for (i = 0; i < n; i++) {
		c = sc->s[sc->pos++];
		if (c < lo || c > hi)
			return -1;
		lo = 0x80;
		hi = 0xbf;
	}
	return 0;
}

static int
sc_string(struct scan *sc, int key)
{
	unsigned c, u, u2;

	if (sc->pos >= sc->len || sc->s[sc->pos] != '"')
		return -1;
	sc->pos++;
	while (sc->pos < sc->len) {
		c = sc->s[sc->pos++];
		if (c == '"')
			return 0;
		if (c < 0x20)
			return -1;
		if (c >= 0x80) {
			if (sc_utf8(sc, c) != 0)
				return -1;
			continue;
		}
		if (c != '\\')
			continue;
		if (key || sc->pos >= sc->len)
			return -1;
		c = sc->s[sc->pos++];
		if (strchr("\"\\/bfnrt", (int)c) != NULL && c != 0)
			continue;
		if (c != 'u' || sc_hex4(sc, &u) != 0 || u == 0 ||
		    (u >= 0xdc00 && u <= 0xdfff))
			return -1;
		if (u >= 0xd800 && u <= 0xdbff) {
			/* A high surrogate needs its low half. */
			if (sc->len - sc->pos < 2 || sc->s[sc->pos] != '\\' ||
			    sc->s[sc->pos + 1] != 'u')
				return -1;
			sc->pos += 2;
			if (sc_hex4(sc, &u2) != 0 || u2 < 0xdc00 || u2 > 0xdfff)
				return -1;
		}
	}
	return -1;
}

static int
sc_digits(struct scan *sc)
{
	size_t start = sc->pos;

	while (
	    sc->pos < sc->len && sc->s[sc->pos] >= '0' && sc->s[sc->pos] <= '9')
		sc->pos++;
	return sc->pos > start ? 0 : -1;
}

static int
sc_number(struct scan *sc)
{
	if (sc->pos < sc->len && sc->s[sc->pos] == '-')
		sc->pos++;
	if (sc->pos < sc->len && sc->s[sc->pos] == '0')
		sc->pos++;
	else if (sc_digits(sc) != 0)
		return -1;
	if (sc->pos < sc->len && sc->s[sc->pos] == '.') {
		sc->pos++;
		if (sc_digits(sc) != 0)
			return -1;
	}
	if (sc->pos < sc->len && (sc->s[sc->pos] | 0x20) == 'e') {
		sc->pos++;
		if (sc->pos < sc->len &&
		    (sc->s[sc->pos] == '+' || sc->s[sc->pos] == '-'))
			sc->pos++;
		if (sc_digits(sc) != 0)
			return -1;
	}
	return 0;
}

static int
sc_literal(struct scan *sc, const char *lit)
{
	size_t n = strlen(lit);

	if (sc->len - sc->pos < n || memcmp(sc->s + sc->pos, lit, n) != 0)
		return -1;
	sc->pos += n;
	return 0;
}

static int sc_value(struct scan *sc, int depth);

static int
sc_object(struct scan *sc, int depth)
{
	size_t start[MAX_MEMBERS], end[MAX_MEMBERS], n = 0, i;

	sc->pos++;
	sc_ws(sc);
	if (sc->pos < sc->len && sc->s[sc->pos] == '}') {
		sc->pos++;
		return 0;
	}
	for (;;) {
		if (n >= MAX_MEMBERS)
			return -1;
		start[n] = sc->pos;
		if (sc_string(sc, 1) != 0)
			return -1;
		end[n] = sc->pos;
		for (i = 0; i < n; i++)
			if (end[i] - start[i] == end[n] - start[n] &&
			    memcmp(sc->s + start[i], sc->s + start[n],
			        end[n] - start[n]) == 0)
				return -1; /* a duplicate name */
		n++;
		sc_ws(sc);
		if (sc->pos >= sc->len || sc->s[sc->pos++] != ':')
			return -1;
		if (sc_value(sc, depth) != 0)
			return -1;
		sc_ws(sc);
		if (sc->pos >= sc->len)
			return -1;
		if (sc->s[sc->pos] == '}') {
			sc->pos++;
			return 0;
		}
		if (sc->s[sc->pos++] != ',')
			return -1;
		sc_ws(sc);
	}
}

static int
sc_array(struct scan *sc, int depth)
{
	sc->pos++;
	sc_ws(sc);
	if (sc->pos < sc->len && sc->s[sc->pos] == ']') {
		sc->pos++;
		return 0;
	}
	for (;;) {
		if (sc_value(sc, depth) != 0)
			return -1;
		sc_ws(sc);
		if (sc->pos >= sc->len)
			return -1;
		if (sc->s[sc->pos] == ']') {
			sc->pos++;
			return 0;
		}
		if (sc->s[sc->pos++] != ',')
			return -1;
	}
}

/* A value at nesting 'depth' (containers around it). */
static int
sc_value(struct scan *sc, int depth)
{
	sc_ws(sc);
	if (sc->pos >= sc->len)
		return -1;
	switch (sc->s[sc->pos]) {
	case '{':
		return depth >= MAX_DEPTH ? -1 : sc_object(sc, depth + 1);
	case '[':
		return depth >= MAX_DEPTH ? -1 : sc_array(sc, depth + 1);
	case '"':
		return sc_string(sc, 0);
	case 't':
		return sc_literal(sc, "true");
	case 'f':
		return sc_literal(sc, "false");
	case 'n':
		return sc_literal(sc, "null");
	default:
		return sc_number(sc);
	}
}

static int
parse_json(const unsigned char *body, size_t len, json_object **out)
{
	struct scan sc = { body, len, 0 };
	json_tokener *tok = NULL;
	json_object *o = NULL;
	char *copy = NULL;
	int rc = FPD_EPROTO;

	*out = NULL;
	if (body == NULL || len == 0 || len > FPD_MAX_ANSWER ||
	    memchr(body, '\0', len) != NULL)
		goto out;
	sc_ws(&sc);
	if (sc.pos >= len || body[sc.pos] != '{' || sc_value(&sc, 0) != 0)
		goto out;
	sc_ws(&sc);
	if (sc.pos != len)
		goto out;
	/* json-c needs the terminating NUL counted to see the end. */
	if ((copy = malloc(len + 1)) == NULL ||
	    (tok = json_tokener_new_ex(MAX_DEPTH + 1)) == NULL) {
		rc = FPD_ENOMEM;
		goto out;
	}
	memcpy(copy, body, len);
	copy[len] = '\0';
	json_tokener_set_flags(tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, copy, (int)len + 1);
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) < len ||
	    !json_object_is_type(o, json_type_object))
		goto out;
	*out = o;
	o = NULL;
	rc = FPD_OK;
out:
	json_object_put(o);
	if (tok != NULL)
		json_tokener_free(tok);
	free(copy);
	return rc;
}

/*
 * Member 'key' of 'o' as a string of 1..'max' bytes without an
 * embedded NUL: 1 and a copy in '*dst', 0 when absent, -1 when of
 * another type or size, -2 out of memory.
 */
static int
get_str(json_object *o, const char *key, size_t max, char **dst)
{
	json_object *v;
	const char *s;
	int n;

	*dst = NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	s = json_object_get_string(v);
	n = json_object_get_string_len(v);
	if (n <= 0 || (size_t)n > max || strlen(s) != (size_t)n)
		return -1;
	if ((*dst = strdup(s)) == NULL)
		return -2;
	return 1;
}

/* Member 'key' as a JSON integer in ['min', 'max']: 1, 0 absent, -1. */
static int
get_int(json_object *o, const char *key, int64_t min, int64_t max, int64_t *dst)
{
	json_object *v;
	int64_t x;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -1;
	x = json_object_get_int64(v);
	/* json-c saturates: INT64_MAX may stand for anything above it. */
	if (x < min || x > max || x == INT64_MAX)
		return -1;
	*dst = x;
	return 1;
}

static void
command_clear(struct fpd_command *c)
{
	size_t i;

	for (i = 0; i < c->nprops; i++)
		free(c->props[i].name);
	free(c->props);
	free(c->id);
	free(c->type_name);
	free(c->invalid);
	free(c->slot);
	free(c->key_type);
	free(c->certificate);
	free(c->wrapped_nonce);
	free(c->wrapped_ciphertext);
	free(c->wrapped_tag);
}

void
fpd_answer_free(struct fpd_answer *ans)
{
	size_t i;

	if (ans == NULL)
		return;
	for (i = 0; i < ans->ncommands; i++)
		command_clear(&ans->commands[i]);
	free(ans->commands);
	free(ans->error);
	free(ans->message);
	free(ans->state);
	free(ans->profile);
	free(ans);
}

/* Mark 'c' invalid with 'why': 0, or -2 out of memory. */
static int
invalid(struct fpd_command *c, const char *why)
{
	if (c->invalid != NULL)
		return 0;
	return (c->invalid = strdup(why)) == NULL ? -2 : 0;
}

static int
read_properties(json_object *cmd, struct fpd_command *c)
{
	json_object *props;
	struct json_object_iterator it, end;
	size_t n;

	if (!json_object_object_get_ex(cmd, "Properties", &props) ||
	    !json_object_is_type(props, json_type_object))
		return invalid(c, "Properties missing or not an object");
	n = (size_t)json_object_object_length(props);
	if (n == 0 || n > MAX_PROPERTIES)
		return invalid(c, "Properties: 1 to 32 members");
	if ((c->props = calloc(n, sizeof(*c->props))) == NULL)
		return -2;
	it = json_object_iter_begin(props);
	end = json_object_iter_end(props);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *name = json_object_iter_peek_name(&it);
		json_object *v = json_object_iter_peek_value(&it);
		struct fpd_property *p = &c->props[c->nprops];

		if (c->nprops >= n || !name_ok(name, 0))
			return invalid(c, "Properties: a name is not valid");
		if (json_object_is_type(v, json_type_boolean)) {
			p->type = FPD_PROP_BOOL;
			p->value = json_object_get_boolean(v) ? 1 : 0;
		} else if (json_object_is_type(v, json_type_int) &&
		    json_object_get_int64(v) != INT64_MAX &&
		    json_object_get_int64(v) >= 0) {
			p->type = FPD_PROP_INT;
			p->value = json_object_get_int64(v);
		} else {
			return invalid(c,
			    "Properties: a value is neither a boolean nor an "
			    "integer >= 0");
		}
		if ((p->name = strdup(name)) == NULL)
			return -2;
		c->nprops++;
	}
	return 0;
}

/* A string member 'key' required by the command: 0, or -2. */
static int
need_str(json_object *cmd, struct fpd_command *c, const char *key, size_t max,
    char **dst, const char *why)
{
	int r = get_str(cmd, key, max, dst);

	if (r == -2)
		return -2;
	return r == 1 ? 0 : invalid(c, why);
}

static int
read_wrapped(json_object *cmd, struct fpd_command *c)
{
	json_object *w;
	char *alg = NULL;
	int r, rc;

	if (!json_object_object_get_ex(cmd, "WrappedKey", &w) ||
	    !json_object_is_type(w, json_type_object))
		return invalid(c, "WrappedKey missing or not an object");
	if ((r = get_str(w, "Alg", 16, &alg)) == -2)
		return -2;
	rc = r == 1 && strcmp(alg, "A256GCM") == 0
	    ? 0
	    : invalid(c, "WrappedKey: Alg is not A256GCM");
	free(alg);
	if (rc == 0)
		rc = need_str(w, c, "Nonce", 64, &c->wrapped_nonce,
		    "WrappedKey: Nonce missing");
	if (rc == 0)
		rc = need_str(w, c, "Ciphertext", MAX_CERT,
		    &c->wrapped_ciphertext, "WrappedKey: Ciphertext missing");
	if (rc == 0)
		rc = need_str(w, c, "Tag", 64, &c->wrapped_tag,
		    "WrappedKey: Tag missing");
	return rc;
}

/* The members of the command of 'c->type': 0 (maybe invalid), or -2. */
static int
read_command_body(json_object *cmd, struct fpd_command *c)
{
	int r;

	switch (c->type) {
	case FPD_CMD_SET_PROPERTIES:
		return read_properties(cmd, c);
	case FPD_CMD_GENERATE_KEY:
		if ((r = need_str(cmd, c, "Slot", 64, &c->slot,
		         "Slot missing or not valid")) != 0)
			return r;
		if ((r = get_str(cmd, "KeyType", 32, &c->key_type)) == -2)
			return -2;
		if (r == 0 && (c->key_type = strdup("EC-P256")) == NULL)
			return -2;
		if (r == -1 || !name_ok(c->key_type, 1))
			return invalid(c, "KeyType not valid");
		break;
	case FPD_CMD_INSTALL_CERTIFICATE:
	case FPD_CMD_INSTALL_KEY_AND_CERTIFICATE:
		if ((r = need_str(cmd, c, "Slot", 64, &c->slot,
		         "Slot missing or not valid")) != 0 ||
		    (r = need_str(cmd, c, "Certificate", MAX_CERT,
		         &c->certificate, "Certificate missing")) != 0)
			return r;
		if (c->certificate == NULL)
			return 0; /* invalid: acknowledged as failed */
		if (strncmp(c->certificate, "-----BEGIN CERTIFICATE-----",
		        27) != 0)
			return invalid(c, "Certificate is not PEM");
		if (c->type == FPD_CMD_INSTALL_KEY_AND_CERTIFICATE)
			return read_wrapped(cmd, c);
		break;
	case FPD_CMD_REMOVE_CERTIFICATE:
		return need_str(cmd, c, "Slot", 64, &c->slot,
		    "Slot missing or not valid");
	case FPD_CMD_UNKNOWN:
		return invalid(c, "unsupported command");
	}
	return 0;
}

static const struct {
	const char *name;
	enum fpd_cmd_type type;
} command_types[] = {
	{ "SET_PROPERTIES", FPD_CMD_SET_PROPERTIES },
	{ "GENERATE_KEY", FPD_CMD_GENERATE_KEY },
	{ "INSTALL_CERTIFICATE", FPD_CMD_INSTALL_CERTIFICATE },
	{ "INSTALL_KEY_AND_CERTIFICATE", FPD_CMD_INSTALL_KEY_AND_CERTIFICATE },
	{ "REMOVE_CERTIFICATE", FPD_CMD_REMOVE_CERTIFICATE },
};

/* One command: FPD_OK, FPD_EPROTO (no readable Id) or FPD_ENOMEM. */
static int
read_command(json_object *cmd, struct fpd_command *c)
{
	size_t i;
	int r;

	if (!json_object_is_type(cmd, json_type_object))
		return FPD_EPROTO;
	if ((r = get_str(cmd, "Id", 64, &c->id)) == -2)
		return FPD_ENOMEM;
	if (r != 1 || !fpd_id_ok(c->id))
		return FPD_EPROTO;
	if ((r = get_str(cmd, "Type", 64, &c->type_name)) == -2)
		return FPD_ENOMEM;
	if (r != 1 || !code_ok(c->type_name))
		return invalid(c, "Type missing or not valid") == 0
		    ? FPD_OK
		    : FPD_ENOMEM;
	c->type = FPD_CMD_UNKNOWN;
	for (i = 0; i < sizeof(command_types) / sizeof(command_types[0]); i++)
		if (strcmp(c->type_name, command_types[i].name) == 0)
			c->type = command_types[i].type;
	if (read_command_body(cmd, c) != 0)
		return FPD_ENOMEM;
	if (c->slot != NULL && !name_ok(c->slot, 1) &&
	    invalid(c, "Slot missing or not valid") != 0)
		return FPD_ENOMEM;
	return FPD_OK;
}

int
fpd_parse_success(const unsigned char *body, size_t len, int bootstrap,
    struct fpd_answer *a)
{
	json_object *o = NULL, *cmds;
	size_t i, n;
	int r, rc;

	if ((rc = parse_json(body, len, &o)) != FPD_OK)
		goto out;
	rc = FPD_EPROTO;
	if (get_int(o, "HeartbeatInSec", 1, MAX_HEARTBEAT_SEC,
	        &a->heartbeat_in_sec) != 1)
		goto out;
	if (bootstrap) {
		if ((r = get_str(o, "State", 16, &a->state)) == -2 ||
		    (r == 1 &&
		        (r = get_str(o, "DeviceProfileUID", 64, &a->profile)) ==
		            -2)) {
			rc = FPD_ENOMEM;
			goto out;
		}
		if (a->state == NULL ||
		    (strcmp(a->state, "ACTIVATED") != 0 &&
		        strcmp(a->state, "ALLOCATED") != 0) ||
		    r == -1 || (a->profile != NULL && !fpd_id_ok(a->profile)))
			goto out;
	}
	if (!json_object_object_get_ex(o, "Commands", &cmds) ||
	    !json_object_is_type(cmds, json_type_array) ||
	    (n = json_object_array_length(cmds)) > MAX_COMMANDS)
		goto out;
	if (n > 0 && (a->commands = calloc(n, sizeof(*a->commands))) == NULL) {
		rc = FPD_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		/* Counted first, so that a failure frees what was read. */
		a->ncommands++;
		if ((rc = read_command(json_object_array_get_idx(cmds, i),
		         &a->commands[i])) != FPD_OK)
			goto out;
	}
	/* Two commands with one Id could not be acknowledged apart. */
	rc = FPD_EPROTO;
	for (i = 0; i < n; i++) {
		size_t j;

		for (j = i + 1; j < n; j++)
			if (strcmp(a->commands[i].id, a->commands[j].id) == 0)
				goto out;
	}
	rc = FPD_OK;
out:
	json_object_put(o);
	return rc;
}

int
fpd_parse_error(const unsigned char *body, size_t len, struct fpd_answer *a)
{
	json_object *o = NULL;
	int64_t v;
	int r, rc;

	if ((rc = parse_json(body, len, &o)) != FPD_OK)
		goto out;
	rc = FPD_EPROTO;
	if ((r = get_str(o, "Error", 64, &a->error)) == -2) {
		rc = FPD_ENOMEM;
		goto out;
	}
	if (r != 1 || !code_ok(a->error)) {
		free(a->error);
		a->error = NULL;
		goto out;
	}
	if ((r = get_str(o, "Message", 1024, &a->message)) == -2) {
		rc = FPD_ENOMEM;
		goto out;
	}
	if (r == -1)
		goto out;
	if ((r = get_int(o, "LastCounter", 0, INT64_MAX, &v)) == -1)
		goto out;
	if (r == 1)
		a->last_counter = (uint64_t)v;
	if ((r = get_int(o, "RetryAfter", 0, MAX_HEARTBEAT_SEC, &v)) == -1)
		goto out;
	if (r == 1)
		a->retry_after = v;
	rc = FPD_OK;
out:
	json_object_put(o);
	return rc;
}
