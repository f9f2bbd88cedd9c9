/*
 * fleetpki: the operator's command line.  It talks to PostgreSQL
 * directly through the store and the core, like the server does, so
 * what it creates is exactly what the server would.
 *
 * Each command is one row of a table: its name, its usage, its handler.
 * Every failure is one line on stderr and a non-zero exit.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fleetpki/auth.h"
#include "fleetpki/buf.h"
#include "fleetpki/config.h"
#include "fleetpki/core.h"
#include "fleetpki/core_acme.h"
#include "fleetpki/core_admin.h"
#include "fleetpki/core_device.h"
#include "fleetpki/core_enroll.h"
#include "fleetpki/core_registry.h"
#include "fleetpki/core_tags.h"
#include "fleetpki/log.h"
#include "fleetpki/migrate.h"
#include "fleetpki/pki.h"
#include "fleetpki/signer.h"
#include "fleetpki/store.h"
#include "fleetpki/store_admin.h"
#include "fleetpki/store_webhook.h"
#include "fleetpki/util.h"

#include <openssl/crypto.h>

/*
 * Exit codes: 0 done, 1 the command failed (one line on stderr says
 * why), 2 the command line was wrong.  Scripts (scripts/up, the Docker
 * entrypoint) tell "try again later" from "fix the call" by them.
 */
#define EXIT_USAGE 2

/*
 * The process's state.  The configuration is loaded and the database
 * connected only by commands that need them (cli_open), so --help and
 * usage errors work without a readable config or a running PostgreSQL.
 */
struct cli {
	struct config cfg;
	struct fp_ctx ctx;
	const char *config_arg;
	int loaded;
};

/*
 * Options a command accepts; each command reads the ones it declares.
 * One struct for all commands keeps the getopt table in one place: a
 * command's row says which letters it takes (struct command 'opts'),
 * and anything else is refused before the command runs.
 */
struct cli_opts {
	const char *tenant, *name, *key, *server, *slot, *cert;
	const char *ca, *serials, *issued_from, *reason;
	/* device seal */
	const char *profile, *rot, *serial, *imei, *from, *secrets_out;
	/* device add|list|import (enrollment) */
	const char *id, *state, *prefix, *after, *key_file;
	int atomic;
	int admin;
	int off;
	long long days, ttl, limit;
	int days_set, ttl_set, limit_set;
};

/*
 * One row per command (the table is at the end of the commands): the
 * dispatcher, usage text and option checks all come from it, so a new
 * command is a function and a row.
 */
struct command {
	const char *words; /* "ca create" */
	const char *usage;
	const char *opts; /* long options accepted, by letter */
	int nargs; /* positional arguments required */
	int (*run)(struct cli *, struct cli_opts *, char **args);
};

/*
 * Every failure ends here: one line on stderr, exit 1.  Exiting without
 * cleanup is fine in a one-shot process, and it keeps each command's
 * error paths one line long.
 */
static void die(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));

static void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("fleetpki: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Load the configuration and connect, or die saying why. */
static void
cli_open(struct cli *cli)
{
	const char *url;
	char *err = NULL;

	if (cli->loaded)
		return;
	if (config_load(config_path(cli->config_arg), &cli->cfg, &err) != 0)
		die("%s", err);
	cli->ctx.cfg = &cli->cfg;
	/* The CLI parses no client input: it signs in-process. */
	cli->ctx.signer = signer_local_new(cli->cfg.master_key);
	/*
	 * The operator's commands run as the schema owner: migrations, and
	 * listings and changes across tenants, which the app role's
	 * row-level security (sql/005) would hide.  One-role installs set
	 * only database_url.
	 */
	url = *cli->cfg.owner_database_url != '\0' ? cli->cfg.owner_database_url
	                                           : cli->cfg.database_url;
	cli->ctx.db = store_open(url, cli->cfg.db_connect_timeout);
	if (store_ready(cli->ctx.db) != 0)
		die("cannot connect to the database (%s in %s)",
		    url == cli->cfg.database_url ? "database_url"
		                                 : "owner_database_url",
		    cli->cfg.path);
	cli->loaded = 1;
}

/*
 * The reason the core gave, or the error code's default text when it
 * gave none: the operator sees what an API client would.
 */
static const char *
errtext(int rc, const struct fp_status *st)
{
	return fp_status_message(st, rc);
}

/*
 * Most commands name a tenant; "no such tenant" and "could not read it"
 * are different problems for an operator, so they get different lines.
 */
static void
tenant_or_die(struct cli *cli, const char *name, struct tenant *t)
{
	int rc = store_tenant_by_name(cli->ctx.db, name, t);

	if (rc == -FP_E_NOTFOUND)
		die("no tenant '%s'", name);
	if (rc != 0)
		die("reading tenant '%s' failed", name);
}

/* The --tenant a command needs: connect and look it up, or die. */
static void
cli_tenant(struct cli *cli, const struct cli_opts *o, const char *cmd,
    struct tenant *t)
{
	if (o->tenant == NULL)
		die("%s needs --tenant", cmd);
	cli_open(cli);
	tenant_or_die(cli, o->tenant, t);
}

/*
 * 1-64 of A-Z a-z 0-9 _ - (and '.' when 'dot').  The same rule as the
 * tables' CHECK constraints, checked here first so that the operator
 * gets a sentence instead of a constraint violation.
 */
static int
valid_name(const char *s, int dot)
{
	size_t len = strlen(s);

	return len >= 1 && len <= STORE_NAME_MAX &&
	    strspn(s,
	        dot ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	              "0123456789_-."
	            : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	              "0123456789_-") == len;
}

/* ---- commands ---------------------------------------------------- */

/*
 * Safe to run again and from several hosts at once (migrate.c takes an
 * advisory lock), so scripts run it on every start.
 */
static int
cmd_migrate(struct cli *cli, struct cli_opts *o, char **args)
{
	char *err = NULL;
	int applied, hashed;

	cli_open(cli);
	if (migrate_run(cli->ctx.db, cli->cfg.sql_dir, &applied, &err) != 0)
		die("migrate: %s", err);
	/*
	 * The token signing key is sealed under the master key, which only
	 * the CLI and fleetpkid's signer hold: make it here, once, so that
	 * /authenticate finds one on a fresh install.
	 */
	if (auth_token_key_ensure(&cli->ctx) != 0)
		die("migrate: cannot make the token signing key");
	/* CAs made before sql/009: OCSP finds them by SHA-2 CertIDs too. */
	if (core_ca_key_hashes_backfill(&cli->ctx, &hashed) != 0)
		die("migrate: cannot write the CAs' key hashes");
	if (hashed > 0)
		printf("key hashes written for %d CA%s\n", hashed,
		    hashed == 1 ? "" : "s");
	printf("schema up to date (%d migration%s applied)\n", applied,
	    applied == 1 ? "" : "s");
	return 0;
}

static int
cmd_tenant_create(struct cli *cli, struct cli_opts *o, char **args)
{
	struct tenant t;
	int rc;

	if (!valid_name(args[0], 0))
		die("invalid tenant name '%s': 1-64 of A-Z a-z 0-9 _ -",
		    args[0]);
	cli_open(cli);
	/* The unique index decides "exists", not a lookup first (races). */
	rc = store_tenant_create(cli->ctx.db, args[0], &t);
	if (rc == -FP_E_CONFLICT)
		die("tenant '%s' already exists", args[0]);
	if (rc != 0)
		die("creating tenant '%s' failed", args[0]);
	printf("%s\n", t.name);
	return 0;
}

/* Exit status 1 for an unknown tenant: scripts/up uses it as a test. */
static int
cmd_tenant_show(struct cli *cli, struct cli_opts *o, char **args)
{
	struct tenant t;

	cli_open(cli);
	tenant_or_die(cli, args[0], &t);
	printf("%s\n", t.name);
	return 0;
}

static void
print_tenant(void *arg, const struct tenant *t)
{
	printf("%s\n", t->name);
}

static int
cmd_tenant_list(struct cli *cli, struct cli_opts *o, char **args)
{
	cli_open(cli);
	if (store_tenant_each(cli->ctx.db, print_tenant, NULL) != 0)
		die("listing tenants failed");
	return 0;
}

static int
cmd_ca_create(struct cli *cli, struct cli_opts *o, char **args)
{
	struct fp_status st = { FP_E_OK, "" };
	const char *key = o->key != NULL ? o->key : "ec-p256";
	/* The CA key types the core supports; checked here for a clear line. */
	static const char *const keys[] = { "ec-p256", "ec-p384", "rsa-2048",
		"rsa-3072", "rsa-4096" };
	struct tenant t;
	int64_t id;
	size_t i;
	int rc;

	if (o->tenant == NULL || o->name == NULL)
		die("ca create needs --tenant and --name");
	if (!valid_name(o->name, 1))
		die("invalid CA name '%s': 1-64 of A-Z a-z 0-9 _ - .", o->name);
	for (i = 0; i < FP_ARRAY_LEN(keys); i++)
		if (strcmp(key, keys[i]) == 0)
			break;
	if (i == FP_ARRAY_LEN(keys))
		die("unknown --key '%s' (ec-p256, ec-p384, rsa-2048, rsa-3072, "
		    "rsa-4096)",
		    key);
	if (o->days_set && (o->days < 1 || o->days > 36500))
		die("--days must be between 1 and 36500");
	cli_open(cli);
	tenant_or_die(cli, o->tenant, &t);
	/*
	 * Through the core, like the API would: the key is generated,
	 * sealed with master_key and stored with its first CRL.  Ten years
	 * by default: a CA outlives the certificates it signs.
	 */
	rc = core_ca_create(&cli->ctx, &t, o->name, key,
	    o->days_set ? (int)o->days : 3650, &id, &st);
	if (rc != 0)
		die("ca create: %s", errtext(rc, &st));
	printf("%s\n", o->name);
	return 0;
}

static int
cmd_ca_list(struct cli *cli, struct cli_opts *o, char **args)
{
	struct ca_rec *cas = NULL;
	struct tenant t;
	size_t n = 0, i;

	cli_tenant(cli, o, "ca list", &t);
	if (store_ca_list(cli->ctx.db, t.id, &cas, &n) != 0)
		die("listing CAs failed");
	for (i = 0; i < n; i++)
		printf("%s\n", cas[i].name);
	store_ca_list_free(cas, n);
	return 0;
}

/*
 * A delegated OCSP responder for the CA (sql/025): a certificate issued
 * now, renewed by the worker from then on; --off: the CA signs again.
 */
static int
cmd_ca_ocsp_signer(struct cli *cli, struct cli_opts *o, char **args)
{
	struct fp_status st = { FP_E_OK, "" };
	struct tenant t;
	int64_t ca_id, until = 0, deleted = 0;
	char serial[41], when[32];
	int rc;

	(void)args;
	if (o->ca == NULL)
		die("usage: fleetpki ca ocsp-signer --tenant T --ca NAME [--off]");
	cli_tenant(cli, o, "ca ocsp-signer", &t);
	if ((rc = core_ca_by_name(&cli->ctx, &t, o->ca, &ca_id, &st)) != 0)
		die("ca ocsp-signer: %s", errtext(rc, &st));
	if (o->off) {
		if ((rc = core_ocsp_responder_off(&cli->ctx, t.id, ca_id,
		         &deleted)) != 0)
			die("ca ocsp-signer: %s", errtext(rc, &st));
		printf("CA '%s' of tenant '%s': OCSP answers signed by the CA "
		       "(%lld responder%s deleted)\n",
		    o->ca, t.name, (long long)deleted, deleted == 1 ? "" : "s");
		return 0;
	}
	if ((rc = core_ocsp_responder_issue(&cli->ctx, t.id, ca_id, serial,
	         &until, &st)) != 0)
		die("ca ocsp-signer: %s", errtext(rc, &st));
	util_iso8601_ms(until * 1000, when);
	printf("CA '%s' of tenant '%s': OCSP answers signed by responder %s "
	       "until %s\n",
	    o->ca, t.name, serial, when);
	return 0;
}

/* "YYYY-MM-DD" (midnight UTC) or an RFC 3339 time, as Unix seconds. */
static int
parse_when(const char *s, int64_t *out)
{
	int64_t v;

	if (strlen(s) == 10) {
		if (core_day_parse(s, &v) != 0)
			return -1;
		*out = v * 86400;
		return 0;
	}
	if (core_iso8601_parse(s, &v) != 0)
		return -1;
	*out = v / 1000000;
	return 0;
}

/* A progress bar on stderr, only when it is a terminal. */
static void
progress_bar(void *arg, size_t done, size_t total)
{
	const char *what = *(const char **)arg;
	int width = 40, filled;

	if (!isatty(STDERR_FILENO) || total == 0)
		return;
	filled = (int)((double)done / (double)total * width);
	fprintf(stderr, "\r%s [%.*s%*s] %zu/%zu", what, filled,
	    "========================================", width - filled, "",
	    done, total);
	if (done == total)
		fputc('\n', stderr);
}

/*
 * Mass revocation: the serials of a file (one a line; blank lines and
 * "#" comments skipped), or every certificate the CA issued in [FROM,
 * TO).  Prints each serial that matched nothing ("not found SERIAL"),
 * then one summary line.
 */
static int
cmd_revoke(struct cli *cli, struct cli_opts *o, char **args)
{
	struct fp_status st = { FP_E_OK, "" };
	struct core_revoke_report rep;
	struct tenant t;
	char *line = NULL, **serials = NULL, *p, *e;
	size_t cap = 0, n = 0, nalloc = 0, i;
	int64_t from = 0, to = 0;
	const char *what = "revoking";
	int reason, rc;
	FILE *f;

	cli_tenant(cli, o, "revoke", &t);
	if (o->ca == NULL || o->reason == NULL ||
	    (o->serials == NULL) == (o->issued_from == NULL) ||
	    (o->issued_from != NULL) != (args[0] != NULL) ||
	    (args[0] != NULL && args[1] != NULL))
		die("usage: fleetpki revoke --tenant T --ca NAME (--serials FILE "
		    "| --issued-between FROM TO) --reason R");
	reason = pki_reason_from_name(o->reason);
	if (reason < 0 || reason == 8)
		die("revoke: unknown reason '%s' (an RFC 5280 name such as "
		    "keyCompromise, superseded, cessationOfOperation)",
		    o->reason);
	if (o->issued_from != NULL) {
		if (parse_when(o->issued_from, &from) != 0 ||
		    parse_when(args[0], &to) != 0)
			die("revoke: FROM and TO are ISO 8601 dates or times "
			    "(2026-01-31, 2026-01-31T12:00:00Z)");
		rc = core_revoke_issued_between(&cli->ctx, &t, o->ca, from, to,
		    reason, &rep, &st);
	} else {
		if (strcmp(o->serials, "-") == 0)
			f = stdin;
		else if ((f = fopen(o->serials, "r")) == NULL)
			die("revoke: %s: %s", o->serials, strerror(errno));
		while (getline(&line, &cap, f) != -1) {
			for (p = line; *p == ' ' || *p == '\t'; p++)
				;
			e = p + strcspn(p, " \t\r\n");
			*e = '\0';
			if (*p == '\0' || *p == '#')
				continue;
			if (n == nalloc) {
				nalloc = nalloc ? nalloc * 2 : 1024;
				serials = xrealloc(serials,
				    nalloc * sizeof(*serials));
			}
			serials[n++] = xstrdup(p);
		}
		if (ferror(f))
			die("revoke: reading %s failed", o->serials);
		if (f != stdin)
			fclose(f);
		free(line);
		rc = core_revoke_serials(&cli->ctx, &t, o->ca,
		    (const char *const *)serials, n, reason, progress_bar,
		    &what, &rep, &st);
		for (i = 0; i < n; i++)
			free(serials[i]);
		free(serials);
	}
	if (rc != 0)
		die("revoke: %s", errtext(rc, &st));
	if (rep.missing_list.len > 0) {
		for (p = (char *)rep.missing_list.data;
		     (e = memchr(p, '\n',
		          rep.missing_list.len -
		              (size_t)(p - (char *)rep.missing_list.data))) !=
		     NULL;
		     p = e + 1)
			printf("not found %.*s\n", (int)(e - p), p);
	}
	printf("revoked %lld, already revoked %lld, not found %lld\n",
	    (long long)rep.revoked, (long long)rep.already,
	    (long long)rep.missing);
	core_revoke_report_clear(&rep);
	return 0;
}

static int
cmd_token(struct cli *cli, struct cli_opts *o, char **args)
{
	struct fp_status st = { FP_E_OK, "" };
	struct tenant t;
	char *token = NULL;
	int rc;

	cli_tenant(cli, o, "token", &t);
	/* An hour unless asked: a token on a command line ends up in logs. */
	rc = auth_token_mint(&cli->ctx, &t, o->ttl_set ? o->ttl : 3600, &token,
	    &st);
	if (rc != 0)
		die("token: %s", errtext(rc, &st));
	printf("%s\n", token);
	/* A bearer secret: wiped, not just freed. */
	util_free_secret(token);
	return 0;
}

/*
 * A whole (PEM) file into 'out', at most 1 MiB: a certificate chain is a
 * few KiB, and a wrong path (a log, a disk image) must not be read into
 * memory whole.  -1 with errno set, or errno 0 when it is too large.
 */
static int
read_all(const char *path, struct buf *out)
{
	char chunk[4096];
	size_t got;
	FILE *f;
	int rc = 0;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf_append(out, chunk, got);
		if (out->len > 1024 * 1024) {
			rc = -1;
			break;
		}
	}
	if (ferror(f))
		rc = -1;
	fclose(f);
	return rc;
}

static int
cmd_servercert_set(struct cli *cli, struct cli_opts *o, char **args)
{
	struct fp_status st = { FP_E_OK, "" };
	struct buf pem = BUF_INIT;
	int rc;

	if (o->server == NULL || o->slot == NULL || o->cert == NULL)
		die("servercert set needs --server, --slot and --cert");
	/* Two slots: the one served now, and the next, for rotation. */
	if (strcmp(o->slot, "primary") != 0 &&
	    strcmp(o->slot, "secondary") != 0)
		die("--slot must be primary or secondary");
	if (read_all(o->cert, &pem) != 0)
		die("%s: %s", o->cert,
		    errno != 0 ? strerror(errno) : "too large");
	cli_open(cli);
	rc = core_servercert_set(&cli->ctx, o->server, o->slot,
	    (const char *)pem.data, pem.len, &st);
	buf_free(&pem);
	if (rc != 0)
		die("servercert set: %s", errtext(rc, &st));
	printf("%s %s\n", o->server, o->slot);
	return 0;
}

static int
cmd_user_create(struct cli *cli, struct cli_opts *o, char **args)
{
	char token[AUTH_API_TOKEN_LEN + 1], hash[65];
	struct user_rec u;
	struct tenant t;
	int rc;

	if (o->tenant == NULL || o->name == NULL)
		die("user create needs --tenant and --name");
	if (strlen(o->name) < 1 || strlen(o->name) > STORE_NAME_MAX ||
	    strspn(o->name,
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	        "0123456789_.@-") != strlen(o->name))
		die("invalid user name '%s': 1-64 of A-Z a-z 0-9 _ . @ -",
		    o->name);
	cli_open(cli);
	tenant_or_die(cli, o->tenant, &t);
	/*
	 * The user's API token is made here and stored only as its HMAC
	 * with the pepper: the database never holds it.
	 */
	auth_api_token_new(token);
	if (auth_api_token_hash(&cli->ctx, token, hash) != 0)
		die("hashing the token failed");
	rc = store_user_create(cli->ctx.db, t.id, o->name, hash, o->admin != 0,
	    &u);
	if (rc == -FP_E_CONFLICT)
		die("tenant '%s' already has a user '%s'", o->tenant, o->name);
	if (rc != 0)
		die("creating user '%s' failed", o->name);
	/* Shown once: only its HMAC is stored. */
	printf("%s\n", token);
	OPENSSL_cleanse(token, sizeof(token));
	return 0;
}

static int
cmd_user_disable(struct cli *cli, struct cli_opts *o, char **args)
{
	struct user_rec *users = NULL;
	struct tenant t = { 0, "" };
	size_t n = 0;

	cli_open(cli);
	if (o->tenant != NULL)
		tenant_or_die(cli, o->tenant, &t);
	/*
	 * Without --tenant the name is looked up in every tenant: refusing
	 * to guess when it is ambiguous is better than disabling someone
	 * else's user.
	 */
	if (store_user_find(cli->ctx.db, args[0], t.id, &users, &n) != 0)
		die("looking up user '%s' failed", args[0]);
	if (n == 0)
		die("no user '%s'", args[0]);
	if (n > 1) {
		free(users);
		die("user '%s' exists in several tenants: add --tenant",
		    args[0]);
	}
	if (store_user_set_disabled(cli->ctx.db, users[0].id, true) != 0)
		die("disabling user '%s' failed", args[0]);
	printf("%s/%s disabled\n", users[0].tenant, users[0].name);
	free(users);
	return 0;
}

/* Tab-separated, one user a line: for cut(1) and awk. */
static void
print_user(void *arg, const struct user_rec *u)
{
	printf("%s\t%s\t%s\t%s\n", u->tenant, u->name,
	    u->is_admin ? "admin" : "user",
	    u->disabled ? "disabled" : "active");
}

static int
cmd_user_list(struct cli *cli, struct cli_opts *o, char **args)
{
	struct tenant t = { 0, "" };

	cli_open(cli);
	if (o->tenant != NULL)
		tenant_or_die(cli, o->tenant, &t);
	if (store_user_each(cli->ctx.db, t.id, print_user, NULL) != 0)
		die("listing users failed");
	return 0;
}

/* ---- admin portal operators (sql/020) --------------------------- */

/*
 * The password: one line of standard input (never an argument, which
 * other users could read in ps), hashed with argon2id into 'hash'.
 */
static void
admin_read_password(char hash[ADMIN_ARGON2_ENCODED])
{
	char line[ADMIN_PASSWORD_MAX + 3];
	struct fp_status st = { FP_E_OK, "" };
	size_t len;

	if (fgets(line, sizeof(line), stdin) == NULL)
		die("no password on standard input (one line)");
	len = strlen(line);
	if (len > 0 && line[len - 1] != '\n' && !feof(stdin)) {
		OPENSSL_cleanse(line, sizeof(line));
		die("the password must have at most %d characters",
		    ADMIN_PASSWORD_MAX);
	}
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	if (admin_password_hash(line, hash, &st) != 0) {
		OPENSSL_cleanse(line, sizeof(line));
		die("%s", errtext(-(int)st.code, &st));
	}
	OPENSSL_cleanse(line, sizeof(line));
}

static void
admin_name_or_die(const char *name)
{
	if (name == NULL)
		die("needs --name");
	if (!admin_name_valid(name))
		die("invalid operator name '%s': 1-64 of A-Z a-z 0-9 _ . @ -",
		    name);
}

static int
cmd_admin_create(struct cli *cli, struct cli_opts *o, char **args)
{
	char hash[ADMIN_ARGON2_ENCODED];
	struct tenant t;
	int64_t id;
	int rc;

	(void)args;
	admin_name_or_die(o->name);
	cli_tenant(cli, o, "admin create", &t);
	admin_read_password(hash);
	rc = store_admin_operator_create(cli->ctx.db, t.id, o->name, hash, &id);
	if (rc == -FP_E_CONFLICT)
		die("tenant '%s' already has an operator '%s'", t.name,
		    o->name);
	if (rc != 0)
		die("creating operator '%s' failed", o->name);
	printf("operator %s/%s created\n", t.name, o->name);
	return 0;
}

static int
cmd_admin_passwd(struct cli *cli, struct cli_opts *o, char **args)
{
	char hash[ADMIN_ARGON2_ENCODED];
	struct tenant t;
	int rc;

	(void)args;
	admin_name_or_die(o->name);
	cli_tenant(cli, o, "admin passwd", &t);
	admin_read_password(hash);
	rc = store_admin_operator_passwd(cli->ctx.db, t.id, o->name, hash);
	if (rc == -FP_E_NOTFOUND)
		die("tenant '%s' has no operator '%s'", t.name, o->name);
	if (rc != 0)
		die("setting the password of '%s' failed", o->name);
	printf("operator %s/%s: new password, sessions ended\n", t.name,
	    o->name);
	return 0;
}

static int
admin_set_disabled(struct cli *cli, struct cli_opts *o, bool disabled)
{
	struct tenant t;
	int rc;

	admin_name_or_die(o->name);
	cli_tenant(cli, o, disabled ? "admin disable" : "admin enable", &t);
	rc = store_admin_operator_set_disabled(cli->ctx.db, t.id, o->name,
	    disabled);
	if (rc == -FP_E_NOTFOUND)
		die("tenant '%s' has no operator '%s'", t.name, o->name);
	if (rc != 0)
		die("changing operator '%s' failed", o->name);
	printf("operator %s/%s %s\n", t.name, o->name,
	    disabled ? "disabled, sessions ended" : "enabled");
	return 0;
}

static int
cmd_admin_disable(struct cli *cli, struct cli_opts *o, char **args)
{
	(void)args;
	return admin_set_disabled(cli, o, true);
}

static int
cmd_admin_enable(struct cli *cli, struct cli_opts *o, char **args)
{
	(void)args;
	return admin_set_disabled(cli, o, false);
}

/* Tab-separated: tenant, name, state, live sessions, last login. */
static void
print_operator(void *arg, const struct admin_operator_rec *r)
{
	char when[32];

	(void)arg;
	if (r->last_login > 0)
		util_iso8601_ms(r->last_login * 1000, when);
	else
		snprintf(when, sizeof(when), "never");
	printf("%s\t%s\t%s\t%lld\t%s\n", r->tenant, r->name,
	    r->disabled ? "disabled" : "active", (long long)r->sessions, when);
}

static int
cmd_admin_list(struct cli *cli, struct cli_opts *o, char **args)
{
	struct tenant t = { 0, "" };
	int64_t pruned;

	(void)args;
	cli_open(cli);
	if (o->tenant != NULL)
		tenant_or_die(cli, o->tenant, &t);
	/* Sessions over for a day are forgotten here. */
	(void)store_admin_sessions_prune(cli->ctx.db, 86400, &pruned);
	if (store_admin_operator_each(cli->ctx.db, t.id, print_operator,
	        NULL) != 0)
		die("listing operators failed");
	return 0;
}

static int
cmd_setting_set(struct cli *cli, struct cli_opts *o, char **args)
{
	struct fp_status st = { FP_E_OK, "" };
	struct tenant t;
	int rc;

	cli_tenant(cli, o, "setting set", &t);
	/* The core knows the keys and their values; the CLI passes text. */
	if ((rc = core_setting_set(&cli->ctx, t.id, args[0], args[1], &st)) !=
	    0)
		die("setting set: %s", errtext(rc, &st));
	printf("%s = %s\n", args[0], args[1]);
	return 0;
}

/* Defaults are listed too, marked: what is in effect, not what is set. */
static void
print_setting(void *arg, const char *key, const char *value, int is_default)
{
	printf("%s = %s%s\n", key, value, is_default ? "  (default)" : "");
}

static int
cmd_setting_list(struct cli *cli, struct cli_opts *o, char **args)
{
	struct tenant t;

	cli_tenant(cli, o, "setting list", &t);
	if (core_setting_each(&cli->ctx, t.id, print_setting, NULL) != 0)
		die("listing settings failed");
	return 0;
}

/* ---- jobs (fleetpki-worker's queue) ------------------------------- */

/*
 * Job times as UTC ISO 8601 to the second: what an operator compares
 * with log lines, and sortable as text.  0 (a NULL column) prints "-".
 */
static void
fmt_time(int64_t t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL)
		snprintf(out, len, "-");
	else
		strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- the ACME client (core_acme.h) --------------------------------- */

static void
print_acme_order(void *arg, const struct acme_queued *q)
{
	char created[32], retry[32];

	(void)arg;
	fmt_time(q->created, created, sizeof(created));
	fmt_time(q->retry_at, retry, sizeof(retry));
	printf("%-8lld %-24s %-6s %-12s %-21s %-21s %s\n", (long long)q->id,
	    q->device_id, q->kind, q->state, created, retry,
	    q->error_type[0] != '\0' ? q->error_type : "-");
}

/*
 * The tenant's ACME account, the weekly budget (used, left) and the
 * backlog: the open orders, oldest first.
 */
static int
cmd_acme_status(struct cli *cli, struct cli_opts *o, char **args)
{
	struct acme_status s;
	struct tenant t;
	char oldest[32];

	(void)args;
	cli_tenant(cli, o, "acme status", &t);
	if (core_acme_status(&cli->ctx, t.id, &s) != 0)
		die("acme status: reading the tenant's ACME state failed");
	fmt_time(s.oldest_queued, oldest, sizeof(oldest));
	printf("directory: %s\n",
	    s.directory_url[0] != '\0' ? s.directory_url : "(not set)");
	if (s.account_url[0] != '\0')
		printf("account: %s (%s)\n", s.account_url, s.account_status);
	else
		printf("account: none\n");
	printf("budget: %lld per 7 days, used %lld, left %lld\n", s.budget,
	    s.used, s.left);
	printf("in progress: %lld\n", s.in_flight);
	printf("queued: %lld (oldest %s)\n", s.queued, oldest);
	printf("%-8s %-24s %-6s %-12s %-21s %-21s %s\n", "ORDER", "DEVICE",
	    "KIND", "STATE", "CREATED", "RETRY_AT", "LAST_ERROR");
	if (core_acme_queued(&cli->ctx, t.id, o->limit > 0 ? (int)o->limit : 50,
	        print_acme_order, NULL) != 0)
		die("acme status: listing the orders failed");
	return 0;
}

/* ---- security-services registry (sql/010) ------------------------- */

/*
 * A new device profile.  The DeviceProfileUID is printed alone on the
 * last line, for scripts (and `fleetpki device seal --profile`).
 */
static int
cmd_profile_create(struct cli *cli, struct cli_opts *o, char **args)
{
	struct fp_status st = { FP_E_OK, "" };
	struct profile_rec p;
	struct tenant t;
	int rc;

	(void)args;
	cli_tenant(cli, o, "profile create", &t);
	if (o->name == NULL)
		die("profile create: --name is required");
	if ((rc = core_profile_create(&cli->ctx, &t, o->name, &p, &st)) != 0)
		die("profile create: %s", errtext(rc, &st));
	printf("profile '%s' of tenant '%s'\n%s\n", p.name, t.name, p.uid);
	return 0;
}

/* ---- devices (sealing, the deny list) ----------------------------- */

/*
 * One device: its root secret is made here, sealed under the master key
 * and printed this once, alone on the last line (64 hex digits).
 */
static int
seal_one(struct cli *cli, struct cli_opts *o, const struct tenant *t)
{
	struct fp_status st = { FP_E_OK, "" };
	struct core_seal_item it;
	int rc;

	if (o->rot == NULL || o->serial == NULL)
		die("device seal: --rot and --serial are required (or --from)");
	if (o->secrets_out != NULL)
		die("device seal: --secrets-out goes with --from");
	memset(&it, 0, sizeof(it));
	it.line = 1;
	it.rot = o->rot;
	it.serial = o->serial;
	it.imei = o->imei;
	it.profile_uid = o->profile;
	if ((rc = core_device_seal(&cli->ctx, t, NULL, &it, 1, &st)) != 0)
		die("device seal: %s", errtext(rc, &st));
	if (!it.sealed)
		die("device seal: %s", it.err);
	printf("device %s of tenant '%s' sealed%s%s\n%s\n", it.rot_norm,
	    t->name, o->profile != NULL ? " with profile " : "",
	    o->profile != NULL ? o->profile : "", it.secret_out);
	OPENSSL_cleanse(it.secret_out, sizeof(it.secret_out));
	return 0;
}

/* The columns a production log may have (docs/README-device.md). */
enum log_col {
	LC_ROT,
	LC_SERIAL,
	LC_IMEI,
	LC_PROFILE,
	LC_SCL,
	LC_SECRET,
	LC__COUNT
};
static const char *const log_cols[LC__COUNT] = { "ROTPublicUID",
	"DeviceSerialNumber", "IMEI", "DeviceProfileUID", "SCLSerialNumber",
	"RootSecret" };

#define SEAL_CHUNK 1000
#define LOG_FIELDS_MAX 16
#define LOG_LINE_MAX 1024

/* Split a line at commas in place; -1 when it has too many fields. */
static int
split_csv(char *line, char **f, int max)
{
	int n = 0;
	char *p = line, *c;

	for (;;) {
		if (n == max)
			return -1;
		f[n++] = p;
		if ((c = strchr(p, ',')) == NULL)
			break;
		*c = '\0';
		p = c + 1;
	}
	return n;
}

struct seal_batch {
	struct cli *cli;
	const struct tenant *t;
	const char *batch;
	FILE *secrets;
	struct core_seal_item items[SEAL_CHUNK];
	char *text[SEAL_CHUNK];
	size_t n;
	size_t lines, sealed, refused;
};

/* Seal the chunk gathered: one statement; then its secrets and reasons. */
static void
seal_flush(struct seal_batch *b)
{
	struct fp_status st = { FP_E_OK, "" };
	size_t i;
	int rc;

	if (b->n == 0)
		return;
	if ((rc = core_device_seal(&b->cli->ctx, b->t, b->batch, b->items, b->n,
	         &st)) != 0)
		die("device seal: %s at line %d (%zu devices sealed before "
		    "it)",
		    errtext(rc, &st), b->items[0].line, b->sealed);
	for (i = 0; i < b->n; i++) {
		struct core_seal_item *it = &b->items[i];

		if (it->sealed) {
			b->sealed++;
			if (it->secret_out[0] != '\0' &&
			    fprintf(b->secrets, "%s,%s\n", it->rot_norm,
			        it->secret_out) < 0)
				die("device seal: writing the secrets failed");
		} else {
			b->refused++;
			fprintf(stderr, "line %d: %s\n", it->line, it->err);
		}
		OPENSSL_cleanse(it->secret_out, sizeof(it->secret_out));
		free(b->text[i]);
		b->text[i] = NULL;
	}
	if (b->secrets != NULL && fflush(b->secrets) != 0)
		die("device seal: writing the secrets failed");
	b->n = 0;
}

static size_t
count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;
	int c;

	if (f == NULL)
		return 0;
	while ((c = getc(f)) != EOF)
		if (c == '\n')
			n++;
	fclose(f);
	return n > 0 ? n - 1 : 0;
}

/*
 * A production log: a header row naming the columns (log_cols, any
 * order; ROTPublicUID and DeviceSerialNumber required), then one device
 * a line.  Sealed SEAL_CHUNK lines per statement; every line is
 * recorded in device_prod_log (duplicates too: the suspicious report's
 * evidence).  Secrets: a RootSecret column gives them; the others are
 * made here and written to --secrets-out ("ROT,SECRET" lines, the
 * simulator's --devices format), a new file of mode 0600.
 */
static int
seal_from(struct cli *cli, struct cli_opts *o, const struct tenant *t)
{
	static struct seal_batch b;
	char line[LOG_LINE_MAX + 2], *f[LOG_FIELDS_MAX], batch[160], when[32];
	static const char *sealing = "sealing";
	int col[LC__COUNT], nf, i, k, lineno = 1, fd, tty = isatty(2);
	size_t total = tty ? count_lines(o->from) : 0;
	const char *base;
	FILE *in;

	if (o->rot != NULL || o->serial != NULL || o->imei != NULL ||
	    o->profile != NULL)
		die("device seal: --from takes its devices from the file only");
	if ((in = fopen(o->from, "r")) == NULL)
		die("device seal: cannot open %s: %s", o->from,
		    strerror(errno));
	if (fgets(line, sizeof(line), in) == NULL)
		die("device seal: %s is empty (it needs a header row)",
		    o->from);
	line[strcspn(line, "\r\n")] = '\0';
	for (k = 0; k < LC__COUNT; k++)
		col[k] = -1;
	if ((nf = split_csv(line, f, LOG_FIELDS_MAX)) < 0)
		die("device seal: too many columns in the header row");
	for (i = 0; i < nf; i++) {
		for (k = 0; k < LC__COUNT; k++)
			if (strcmp(f[i], log_cols[k]) == 0)
				break;
		if (k == LC__COUNT)
			die("device seal: unknown column '%s' (the columns are "
			    "ROTPublicUID, DeviceSerialNumber, IMEI, "
			    "DeviceProfileUID, SCLSerialNumber, RootSecret)",
			    f[i]);
		if (col[k] >= 0)
			die("device seal: column '%s' twice", f[i]);
		col[k] = i;
	}
	if (col[LC_ROT] < 0 || col[LC_SERIAL] < 0)
		die("device seal: the header row needs ROTPublicUID and "
		    "DeviceSerialNumber");
	if (o->secrets_out == NULL && col[LC_SECRET] < 0)
		die("device seal: without a RootSecret column, --secrets-out "
		    "FILE receives the secrets made");
	memset(&b, 0, sizeof(b));
	b.cli = cli;
	b.t = t;
	if (o->secrets_out != NULL) {
		fd = open(o->secrets_out, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd < 0 || (b.secrets = fdopen(fd, "w")) == NULL)
			die("device seal: cannot create %s: %s (it must not "
			    "exist)",
			    o->secrets_out, strerror(errno));
	}
	base =
	    strrchr(o->from, '/') != NULL ? strrchr(o->from, '/') + 1 : o->from;
	fmt_time((int64_t)time(NULL), when, sizeof(when));
	snprintf(batch, sizeof(batch), "%.100s@%s", base, when);
	b.batch = batch;
	while (fgets(line, sizeof(line), in) != NULL) {
		struct core_seal_item *it = &b.items[b.n];
		char *copy;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(in))
			die("device seal: line %d is longer than %d bytes",
			    lineno, LOG_LINE_MAX);
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		memset(it, 0, sizeof(*it));
		it->line = lineno;
		copy = b.text[b.n] = xstrdup(line);
		nf = split_csv(copy, f, LOG_FIELDS_MAX);
		for (k = 0; nf > 0 && k < LC__COUNT; k++) {
			const char *v =
			    col[k] >= 0 && col[k] < nf ? f[col[k]] : NULL;
			v = v != NULL && *v != '\0' ? v : NULL;
			switch (k) {
			case LC_ROT:
				it->rot = v;
				break;
			case LC_SERIAL:
				it->serial = v;
				break;
			case LC_IMEI:
				it->imei = v;
				break;
			case LC_PROFILE:
				it->profile_uid = v;
				break;
			case LC_SCL:
				it->scl = v;
				break;
			case LC_SECRET:
				it->secret_hex = v;
				break;
			}
		}
		/* A bad line is still recorded: rot "" when unreadable. */
		if (nf < 0)
			it->rot = NULL;
		else if (it->secret_hex == NULL && b.secrets == NULL)
			it->secret_hex = "-"; /* refused: nowhere to put one */
		b.lines++;
		if (++b.n == SEAL_CHUNK) {
			seal_flush(&b);
			if (tty)
				progress_bar(&sealing, b.lines, total);
		}
	}
	if (ferror(in))
		die("device seal: reading %s failed", o->from);
	fclose(in);
	seal_flush(&b);
	if (tty)
		progress_bar(&sealing, b.lines,
		    total > b.lines ? total : b.lines);
	if (b.secrets != NULL && fclose(b.secrets) != 0)
		die("device seal: writing %s failed", o->secrets_out);
	printf("batch '%s' of tenant '%s': %zu lines, %zu devices sealed, "
	       "%zu lines refused\n",
	    batch, t->name, b.lines, b.sealed, b.refused);
	if (o->secrets_out != NULL)
		printf("secrets in %s\n", o->secrets_out);
	return 0;
}

static int
cmd_device_seal(struct cli *cli, struct cli_opts *o, char **args)
{
	struct tenant t;

	(void)args;
	cli_tenant(cli, o, "device seal", &t);
	return o->from != NULL ? seal_from(cli, o, &t) : seal_one(cli, o, &t);
}

static int
device_block(struct cli *cli, struct cli_opts *o, const char *rot, bool block)
{
	struct fp_status st = { FP_E_OK, "" };
	const char *cmd = block ? "device block" : "device unblock";
	struct tenant t;
	int rc;

	cli_tenant(cli, o, cmd, &t);
	if ((rc = core_device_block(&cli->ctx, &t, rot, block, &st)) != 0)
		die("%s: %s", cmd, errtext(rc, &st));
	printf("device %s of tenant '%s' %s\n", rot, t.name,
	    block ? "blocked" : "unblocked");
	return 0;
}

static int
cmd_device_block(struct cli *cli, struct cli_opts *o, char **args)
{
	return device_block(cli, o, args[0], true);
}

static int
cmd_device_unblock(struct cli *cli, struct cli_opts *o, char **args)
{
	return device_block(cli, o, args[0], false);
}

/* ---- device enrollment (sql/018) ---------------------------------- */

/*
 * A pre-provisioned device: its secret alone on the last line, shown
 * this once (only its HMAC is kept).
 */
static int
cmd_device_add(struct cli *cli, struct cli_opts *o, char **args)
{
	struct fp_status st = { FP_E_OK, "" };
	char secret[ENROLL_SECRET_LEN + 1];
	struct tenant t;
	int rc;

	(void)args;
	if (o->id == NULL)
		die("device add: --id is required");
	cli_tenant(cli, o, "device add", &t);
	if ((rc = core_enroll_add(&cli->ctx, &t, o->id, secret, &st)) != 0)
		die("device add: %s", errtext(rc, &st));
	printf("device %s of tenant '%s' added; its secret (shown once):\n%s\n",
	    o->id, t.name, secret);
	OPENSSL_cleanse(secret, sizeof(secret));
	return 0;
}

static void
print_enroll_device(void *arg, const struct enroll_device *d)
{
	char seen[32], exp[32];

	(void)arg;
	fmt_time(d->last_seen_us / 1000000, seen, sizeof(seen));
	fmt_time(d->not_after_us / 1000000, exp, sizeof(exp));
	printf("%-40s %-9s %-20s %s\n", d->device_id, d->state, exp, seen);
}

/* A page of devices; the last line names the next page when there is one. */
static int
cmd_device_list(struct cli *cli, struct cli_opts *o, char **args)
{
	struct fp_status st = { FP_E_OK, "" };
	struct enroll_query q;
	struct tenant t;
	int more = 0, rc;

	(void)args;
	cli_tenant(cli, o, "device list", &t);
	memset(&q, 0, sizeof(q));
	q.after = o->after;
	q.prefix = o->prefix;
	q.state = o->state;
	q.limit = o->limit_set ? (int)(o->limit > 1000 ? 1000 : o->limit) : 100;
	printf("%-40s %-9s %-20s %s\n", "DEVICE", "STATE", "EXPIRES",
	    "LAST SEEN");
	if ((rc = core_enroll_list(&cli->ctx, t.id, &q, print_enroll_device,
	         NULL, &more, &st)) != 0)
		die("device list: %s", errtext(rc, &st));
	if (more)
		printf("more: --after <the last device above>\n");
	return 0;
}

static void
print_enroll_cert(void *arg, const struct enroll_cert *c)
{
	char nb[32], na[32];

	(void)arg;
	fmt_time(c->not_before_us / 1000000, nb, sizeof(nb));
	fmt_time(c->not_after_us / 1000000, na, sizeof(na));
	printf("certificate %s %s .. %s %s%s\n", c->serial, nb, na,
	    c->current ? "current" : "superseded",
	    c->server_key ? "" : " (device's own key)");
}

static void
print_enroll_order(void *arg, const struct enroll_order *r)
{
	char when[32];

	(void)arg;
	fmt_time(r->created_us / 1000000, when, sizeof(when));
	printf("order %lld %s %s %s%s%s%s\n", (long long)r->id, r->kind,
	    r->state, when, r->error_type[0] != '\0' ? " " : "", r->error_type,
	    r->error_detail[0] != '\0' ? ": " : "");
	if (r->error_detail[0] != '\0')
		printf("  %s\n", r->error_detail);
}

static int
cmd_device_show(struct cli *cli, struct cli_opts *o, char **args)
{
	struct enroll_device d;
	struct tenant t;
	char when[32];
	int rc;

	cli_tenant(cli, o, "device show", &t);
	if ((rc = core_enroll_get(&cli->ctx, t.id, args[0], &d)) != 0)
		die("device show: %s",
		    rc == -FP_E_NOTFOUND ? "no such device"
		                         : errtext(rc, NULL));
	printf("device %s\nstate %s\n", d.device_id, d.state);
	fmt_time(d.created_us / 1000000, when, sizeof(when));
	printf("created %s\n", when);
	fmt_time(d.registered_us / 1000000, when, sizeof(when));
	printf("registered %s\n", when);
	fmt_time(d.last_seen_us / 1000000, when, sizeof(when));
	printf("last seen %s\n", when);
	fmt_time(d.not_after_us / 1000000, when, sizeof(when));
	printf("expires %s\n", when);
	if (d.last_error[0] != '\0')
		printf("last error %s\n", d.last_error);
	if (core_enroll_certs(&cli->ctx, t.id, d.device_id, 20,
	        print_enroll_cert, NULL) != 0 ||
	    core_enroll_orders(&cli->ctx, t.id, d.device_id, 20,
	        print_enroll_order, NULL) != 0)
		die("device show: reading the device's history failed");
	return 0;
}

static int
device_enable(struct cli *cli, struct cli_opts *o, const char *id, int on)
{
	struct fp_status st = { FP_E_OK, "" };
	const char *cmd = on ? "device enable" : "device disable";
	struct tenant t;
	int rc;

	cli_tenant(cli, o, cmd, &t);
	if ((rc = core_enroll_set_enabled(&cli->ctx, t.id, id, on, &st)) != 0)
		die("%s: %s", cmd, errtext(rc, &st));
	printf("device %s of tenant '%s' %s\n", id, t.name,
	    on ? "enabled" : "disabled");
	return 0;
}

static int
cmd_device_disable(struct cli *cli, struct cli_opts *o, char **args)
{
	return device_enable(cli, o, args[0], 0);
}

static int
cmd_device_enable(struct cli *cli, struct cli_opts *o, char **args)
{
	return device_enable(cli, o, args[0], 1);
}

static int
cmd_device_rotate(struct cli *cli, struct cli_opts *o, char **args)
{
	struct fp_status st = { FP_E_OK, "" };
	char secret[ENROLL_SECRET_LEN + 1];
	struct tenant t;
	int rc;

	cli_tenant(cli, o, "device rotate-secret", &t);
	if ((rc = core_enroll_rotate(&cli->ctx, t.id, args[0], secret, &st)) !=
	    0)
		die("device rotate-secret: %s", errtext(rc, &st));
	printf("device %s of tenant '%s': new secret (shown once; the old one "
	       "no longer works):\n%s\n",
	    args[0], t.name, secret);
	OPENSSL_cleanse(secret, sizeof(secret));
	return 0;
}

/* A file's whole text (up to 1 MiB, read_all), NUL-terminated; dies. */
static char *
slurp(const char *cmd, const char *path)
{
	struct buf b = BUF_INIT;

	errno = 0;
	if (read_all(path, &b) != 0)
		die("%s: %s: %s", cmd, path,
		    errno != 0 ? strerror(errno) : "too large");
	buf_append(&b, "", 1);
	return buf_steal(&b, NULL);
}

/*
 * A certificate (and its key) obtained elsewhere becomes the device's
 * current one: a fleet moving from another provisioning server keeps
 * its certificates until they are due.
 */
static int
cmd_device_import_cert(struct cli *cli, struct cli_opts *o, char **args)
{
	struct fp_status st = { FP_E_OK, "" };
	struct tenant t;
	char *chain, *key = NULL;
	int rc;

	if (o->cert == NULL)
		die("device import-cert: --cert CHAIN.pem is required");
	cli_tenant(cli, o, "device import-cert", &t);
	chain = slurp("device import-cert", o->cert);
	if (o->key_file != NULL)
		key = slurp("device import-cert", o->key_file);
	rc = core_enroll_import_cert(&cli->ctx, &t, args[0], chain, key, &st);
	util_free_secret(key);
	free(chain);
	if (rc != 0)
		die("device import-cert: %s", errtext(rc, &st));
	printf("device %s of tenant '%s': certificate imported%s\n", args[0],
	    t.name, o->key_file != NULL ? " with its key" : "");
	return 0;
}

struct import_out {
	FILE *secrets;
	const char *path;
	char **ids;
	int *lines;
	int write_failed;
};

static void
import_row_cb(void *varg, size_t i, const char *secret, const char *why)
{
	struct import_out *x = varg;

	if (secret != NULL) {
		if (fprintf(x->secrets, "%s,%s\n", x->ids[i], secret) < 0)
			x->write_failed = 1;
	} else
		fprintf(stderr, "line %d: %s: %s\n", x->lines[i], x->ids[i],
		    why != NULL ? why : "not added");
}

static void
import_progress_cb(void *varg, size_t done, size_t total)
{
	static const char *importing = "importing";

	(void)varg;
	progress_bar(&importing, done, total);
}

/*
 * ids in (one per line, or the first column of a CSV; a header row
 * "deviceId" or "id" is skipped), id,secret out to a new file of mode
 * 0600.  Per row unless --atomic.
 */
static int
cmd_device_import(struct cli *cli, struct cli_opts *o, char **args)
{
	struct fp_status st = { FP_E_OK, "" };
	struct enroll_import_cb cb;
	struct import_out x;
	struct tenant t;
	char line[LOG_LINE_MAX + 2];
	size_t n = 0, cap = 0, failed = 0, i;
	FILE *in;
	int lineno = 0, fd, rc;

	if (o->secrets_out == NULL)
		die("device import: --secrets-out FILE receives the secrets "
		    "made");
	cli_tenant(cli, o, "device import", &t);
	memset(&x, 0, sizeof(x));
	if ((in = fopen(args[0], "r")) == NULL)
		die("device import: cannot open %s: %s", args[0],
		    strerror(errno));
	while (fgets(line, sizeof(line), in) != NULL) {
		char *id = line, *end;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(in))
			die("device import: line %d is longer than %d bytes",
			    lineno, LOG_LINE_MAX);
		line[strcspn(line, ",\r\n")] = '\0';
		while (*id == ' ' || *id == '\t' || *id == '"')
			id++;
		end = id + strlen(id);
		while (end > id &&
		    (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '"'))
			*--end = '\0';
		if (*id == '\0' ||
		    (n == 0 &&
		        (strcmp(id, "deviceId") == 0 || strcmp(id, "id") == 0 ||
		            strcmp(id, "device_id") == 0)))
			continue;
		if (n == cap) {
			cap = cap == 0 ? 1024 : cap * 2;
			x.ids = xrealloc(x.ids, cap * sizeof(*x.ids));
			x.lines = xrealloc(x.lines, cap * sizeof(*x.lines));
		}
		x.ids[n] = xstrdup(id);
		x.lines[n++] = lineno;
	}
	if (ferror(in))
		die("device import: reading %s failed", args[0]);
	fclose(in);
	fd = open(o->secrets_out, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || (x.secrets = fdopen(fd, "w")) == NULL)
		die("device import: cannot create %s: %s (it must not exist)",
		    o->secrets_out, strerror(errno));
	x.path = o->secrets_out;
	cb.row = import_row_cb;
	cb.progress = import_progress_cb;
	cb.arg = &x;
	rc = core_enroll_import(&cli->ctx, &t, (const char *const *)x.ids, n,
	    o->atomic, &cb, &failed, &st);
	if (fclose(x.secrets) != 0 || x.write_failed)
		die("device import: writing %s failed", o->secrets_out);
	if (rc != 0)
		die("device import: %s", errtext(rc, &st));
	printf("tenant '%s': %zu devices, %zu added, %zu refused%s\n", t.name,
	    n, n - failed, failed,
	    o->atomic && failed > 0 ? " (--atomic: none added)" : "");
	printf("secrets in %s\n", o->secrets_out);
	for (i = 0; i < n; i++)
		free(x.ids[i]);
	free(x.ids);
	free(x.lines);
	return failed > 0 ? 1 : 0;
}

/* ---- security-services API keys (sql/008) ------------------------ */

/*
 * A new API key: two lines, "APIKey <key>" and "APISecret <secret>",
 * which scripts read.  The secret is shown this once: only its HMAC
 * under the pepper is stored.
 */
static int
cmd_apikey_create(struct cli *cli, struct cli_opts *o, char **args)
{
	char secret[CORE_APIKEY_SECRET_LEN + 1];
	struct apikey_rec k;
	struct tenant t;

	(void)args;
	cli_tenant(cli, o, "apikey create", &t);
	if (core_apikey_create(&cli->ctx, &t, &k, secret) != 0)
		die("creating an API key for tenant '%s' failed", o->tenant);
	printf("APIKey %s\nAPISecret %s\n", k.key, secret);
	OPENSSL_cleanse(secret, sizeof(secret));
	return 0;
}

/* One line a key: the key, active or revoked, when it was made. */
static int
cmd_apikey_list(struct cli *cli, struct cli_opts *o, char **args)
{
	struct apikey_rec *keys = NULL;
	struct tenant t;
	char when[32];
	size_t n = 0, i;

	(void)args;
	cli_tenant(cli, o, "apikey list", &t);
	if (store_apikey_list(cli->ctx.db, t.id, &keys, &n) != 0)
		die("listing the API keys of tenant '%s' failed", o->tenant);
	for (i = 0; i < n; i++) {
		fmt_time(keys[i].created_at, when, sizeof(when));
		printf("%s\t%s\t%s\n", keys[i].key,
		    keys[i].revoked ? "revoked" : "active", when);
	}
	free(keys);
	return 0;
}

/*
 * Revoke a key: /authenticate refuses it, its RefreshTokens are revoked
 * with it, and its AuthTokens stop at their next request.
 */
static int
cmd_apikey_revoke(struct cli *cli, struct cli_opts *o, char **args)
{
	struct tenant t;
	int rc;

	cli_tenant(cli, o, "apikey revoke", &t);
	rc = store_apikey_revoke(cli->ctx.db, t.id, args[0]);
	if (rc == -FP_E_NOTFOUND)
		die("tenant '%s' has no active API key '%s'", o->tenant,
		    args[0]);
	if (rc != 0)
		die("revoking API key '%s' failed", args[0]);
	printf("revoked %s\n", args[0]);
	return 0;
}

/*
 * A job id operand.  Ids are positive bigints; anything else is a usage
 * error here rather than a "no such job" from the database.
 */
static int64_t
job_id_or_die(const char *arg)
{
	long long id;

	if (util_parse_int(arg, 1, INT64_MAX, &id) != 0)
		die("invalid job id '%s'", arg);
	return (int64_t)id;
}

/*
 * Last errors are one line by construction (fp_status messages), but a
 * database error text may carry a newline: keep "one job, one line".
 */
static void
print_one_line(const char *s)
{
	for (; *s != '\0'; s++)
		putchar(*s == '\n' || *s == '\r' || *s == '\t' ? ' ' : *s);
}

static int
cmd_job_list(struct cli *cli, struct cli_opts *o, char **args)
{
	struct job_rec *jobs = NULL;
	char run_at[32];
	size_t n = 0, i;

	cli_open(cli);
	/* The newest first, bounded: done jobs are pruned after a day. */
	if (store_job_list(cli->ctx.db, o->limit_set ? (int)o->limit : 100,
	        &jobs, &n) != 0)
		die("listing jobs failed");
	for (i = 0; i < n; i++) {
		fmt_time(jobs[i].run_at, run_at, sizeof(run_at));
		printf("%lld\t%s\t%s\t%d/%d\t%s\t", (long long)jobs[i].id,
		    jobs[i].kind, jobs[i].state, jobs[i].attempts,
		    jobs[i].max_attempts, run_at);
		print_one_line(
		    jobs[i].last_error != NULL ? jobs[i].last_error : "-");
		putchar('\n');
	}
	store_job_list_free(jobs, n);
	return 0;
}

static int
cmd_job_show(struct cli *cli, struct cli_opts *o, char **args)
{
	int64_t id = job_id_or_die(args[0]);
	char t[5][32];
	struct job_rec j;
	int rc;

	cli_open(cli);
	if ((rc = store_job_get(cli->ctx.db, id, &j)) == -FP_E_NOTFOUND)
		die("no job %lld", (long long)id);
	if (rc != 0)
		die("reading job %lld failed", (long long)id);
	fmt_time(j.run_at, t[0], sizeof(t[0]));
	fmt_time(j.lease_until, t[1], sizeof(t[1]));
	fmt_time(j.created_at, t[2], sizeof(t[2]));
	fmt_time(j.updated_at, t[3], sizeof(t[3]));
	fmt_time(j.finished_at, t[4], sizeof(t[4]));
	/* "field: value" lines, the same set for every job, for grep. */
	printf("id: %lld\nkind: %s\nkey: %s\n", (long long)j.id, j.kind,
	    j.key != NULL && j.key[0] != '\0' ? j.key : "-");
	if (j.tenant_id != 0)
		printf("tenant_id: %lld\n", (long long)j.tenant_id);
	else
		printf("tenant_id: -\n");
	printf("state: %s\nattempts: %d\nmax_attempts: %d\nrun_at: %s\n"
	       "lease_until: %s\nlocked_by: %s\ncreated_at: %s\n"
	       "updated_at: %s\nfinished_at: %s\nargs: %s\nlast_error: ",
	    j.state, j.attempts, j.max_attempts, t[0], t[1],
	    j.locked_by != NULL ? j.locked_by : "-", t[2], t[3], t[4],
	    j.args != NULL ? j.args : "-");
	print_one_line(j.last_error != NULL ? j.last_error : "-");
	putchar('\n');
	job_rec_clear(&j);
	return 0;
}

static int
cmd_job_retry(struct cli *cli, struct cli_opts *o, char **args)
{
	int64_t id = job_id_or_die(args[0]);
	struct job_rec j;
	int rc;

	cli_open(cli);
	rc = store_job_retry(cli->ctx.db, id);
	if (rc == -FP_E_NOTFOUND) {
		/* Say why: unknown, or in a state a retry does not touch. */
		if (store_job_get(cli->ctx.db, id, &j) != 0)
			die("no job %lld", (long long)id);
		fprintf(stderr,
		    "fleetpki: job %lld is %s: only failed or pending jobs "
		    "are retried\n",
		    (long long)id, j.state);
		job_rec_clear(&j);
		exit(1);
	}
	if (rc == -FP_E_CONFLICT) {
		/* The unique index: one queued job per kind and key. */
		if (store_job_get(cli->ctx.db, id, &j) != 0)
			die("job %lld: another job of its kind is queued",
			    (long long)id);
		fprintf(stderr,
		    "fleetpki: job %lld: a %s job for the same key is already "
		    "queued\n",
		    (long long)id, j.kind);
		job_rec_clear(&j);
		exit(1);
	}
	if (rc != 0)
		die("retrying job %lld failed", (long long)id);
	/* The workers hear of it at once (NOTIFY from the trigger). */
	printf("job %lld runnable now\n", (long long)id);
	return 0;
}

/* ---- webhooks (sql/021) ------------------------------------------ */

static int
cmd_webhook_list(struct cli *cli, struct cli_opts *o, char **args)
{
	struct webhook_rec *w = NULL;
	struct tenant t;
	char created[32];
	size_t i, n = 0;

	(void)args;
	cli_tenant(cli, o, "webhook list", &t);
	if (store_webhook_list(cli->ctx.db, t.id, &w, &n) != 0)
		die("listing webhooks failed");
	for (i = 0; i < n; i++) {
		fmt_time(w[i].created_at, created, sizeof(created));
		printf("%s\t%s\t%s\tpending=%lld\tdead=%lld\tcreated=%s",
		    w[i].url, w[i].types, w[i].enabled ? "enabled" : "disabled",
		    (long long)w[i].pending, (long long)w[i].dead, created);
		if (w[i].disabled_reason != NULL) {
			printf("\t");
			print_one_line(w[i].disabled_reason);
		}
		putchar('\n');
	}
	store_rec_array_free(w, n, sizeof(*w),
	    (void (*)(void *))webhook_rec_clear);
	return 0;
}

#define WEBHOOK_CLI_PAGE 1000

static int
cmd_webhook_deliveries(struct cli *cli, struct cli_opts *o, char **args)
{
	struct webhook_delivery_rec *d = NULL;
	struct tenant t;
	char created[32], tried[32];
	long long left = o->limit_set ? o->limit : 100;
	int64_t after = 0;
	size_t i, n = 0;

	(void)args;
	if (o->state != NULL && strcmp(o->state, "pending") != 0 &&
	    strcmp(o->state, "delivered") != 0 && strcmp(o->state, "dead") != 0)
		die("--state must be pending, delivered or dead");
	cli_tenant(cli, o, "webhook deliveries", &t);
	printf("id\tstate\ttype\twebhook-id\tattempts\tlast_status\t"
	       "created_at\tlast_attempt_at\turl\tlast_error\n");
	while (left > 0) {
		if (store_webhook_deliveries(cli->ctx.db, t.id, o->state, after,
		        left < WEBHOOK_CLI_PAGE ? (int)left : WEBHOOK_CLI_PAGE,
		        &d, &n) != 0)
			die("listing deliveries failed");
		for (i = 0; i < n; i++) {
			fmt_time(d[i].created_at, created, sizeof(created));
			fmt_time(d[i].last_attempt_at, tried, sizeof(tried));
			printf("%lld\t%s\t%s\tevt_%lld\t%d\t%d\t%s\t%s\t%s\t",
			    (long long)d[i].id, d[i].state, d[i].type,
			    (long long)d[i].event_id, d[i].attempts,
			    d[i].last_status, created, tried, d[i].url);
			print_one_line(
			    d[i].last_error != NULL ? d[i].last_error : "-");
			putchar('\n');
			after = d[i].id;
		}
		store_rec_array_free(d, n, sizeof(*d),
		    (void (*)(void *))webhook_delivery_rec_clear);
		if (n < WEBHOOK_CLI_PAGE)
			break;
		left -= (long long)n;
	}
	return 0;
}

static int
cmd_webhook_replay(struct cli *cli, struct cli_opts *o, char **args)
{
	struct tenant t;
	int64_t *ids, replayed = 0;
	long long id;
	size_t i, n = 0;

	for (n = 0; args[n] != NULL; n++)
		;
	if (n == 0 || n > 100000)
		die("usage: fleetpki webhook replay --tenant T DELIVERY_ID...");
	ids = xcalloc(n, sizeof(*ids));
	for (i = 0; i < n; i++) {
		if (util_parse_int(args[i], 1, INT64_MAX, &id) != 0)
			die("'%s' is not a delivery id", args[i]);
		ids[i] = (int64_t)id;
	}
	cli_tenant(cli, o, "webhook replay", &t);
	if (store_webhook_replay(cli->ctx.db, t.id, ids, n, &replayed) != 0)
		die("replaying deliveries failed");
	free(ids);
	if (replayed == 0)
		die("none of the deliveries named is dead (only dead deliveries "
		    "are replayed)");
	/* The workers hear of it at once (NOTIFY). */
	printf("%lld of %zu deliveries pending again\n", (long long)replayed,
	    n);
	return 0;
}

/*
 * The commands, in the order usage() lists them.  'opts' are the long
 * options' letters (see copts in main); 'nargs' the operands required.
 */
static const struct command commands[] = {
	{ "migrate", "migrate", "", 0, cmd_migrate },
	{ "tenant create", "tenant create NAME", "", 1, cmd_tenant_create },
	{ "tenant show", "tenant show NAME", "", 1, cmd_tenant_show },
	{ "tenant list", "tenant list", "", 0, cmd_tenant_list },
	{ "ca create",
	    "ca create --tenant T --name N "
	    "[--key ec-p256|ec-p384|rsa-2048|rsa-3072|rsa-4096] [--days D]",
	    "tnkd", 0, cmd_ca_create },
	{ "ca list", "ca list --tenant T", "t", 0, cmd_ca_list },
	{ "ca ocsp-signer", "ca ocsp-signer --tenant T --ca NAME [--off]",
	    "tKO", 0, cmd_ca_ocsp_signer },
	{ "revoke",
	    "revoke --tenant T --ca NAME (--serials FILE | --issued-between "
	    "FROM TO) --reason R",
	    "tKVBW", -1, cmd_revoke },
	{ "token", "token --tenant T [--ttl SECONDS]", "tl", 0, cmd_token },
	{ "servercert set",
	    "servercert set --server NAME "
	    "--slot primary|secondary --cert FILE",
	    "sSC", 0, cmd_servercert_set },
	{ "user create", "user create --tenant T --name N [--admin]", "tna", 0,
	    cmd_user_create },
	{ "user disable", "user disable NAME [--tenant T]", "t", 1,
	    cmd_user_disable },
	{ "user list", "user list [--tenant T]", "t", 0, cmd_user_list },
	{ "admin create",
	    "admin create --tenant T --name N (password on standard input)",
	    "tn", 0, cmd_admin_create },
	{ "admin passwd",
	    "admin passwd --tenant T --name N (password on standard input)",
	    "tn", 0, cmd_admin_passwd },
	{ "admin disable", "admin disable --tenant T --name N", "tn", 0,
	    cmd_admin_disable },
	{ "admin enable", "admin enable --tenant T --name N", "tn", 0,
	    cmd_admin_enable },
	{ "admin list", "admin list [--tenant T]", "t", 0, cmd_admin_list },
	{ "setting set", "setting set --tenant T KEY VALUE", "t", 2,
	    cmd_setting_set },
	{ "setting list", "setting list --tenant T", "t", 0, cmd_setting_list },
	{ "acme status", "acme status --tenant T [--limit N]", "tL", 0,
	    cmd_acme_status },
	{ "profile create", "profile create --tenant T --name N", "tn", 0,
	    cmd_profile_create },
	{ "apikey create", "apikey create --tenant T", "t", 0,
	    cmd_apikey_create },
	{ "apikey list", "apikey list --tenant T", "t", 0, cmd_apikey_list },
	{ "apikey revoke", "apikey revoke --tenant T KEY", "t", 1,
	    cmd_apikey_revoke },
	{ "device seal",
	    "device seal --tenant T [--profile UID] --rot ROT --serial SN "
	    "[--imei IMEI] | device seal --tenant T --from LOG.csv "
	    "[--secrets-out FILE]",
	    "tpreifo", 0, cmd_device_seal },
	{ "device block", "device block --tenant T ROT", "t", 1,
	    cmd_device_block },
	{ "device unblock", "device unblock --tenant T ROT", "t", 1,
	    cmd_device_unblock },
	{ "device add", "device add --tenant T --id ID", "tI", 0,
	    cmd_device_add },
	{ "device list",
	    "device list --tenant T [--state S] [--prefix P] [--after ID] "
	    "[--limit N]",
	    "tEPFL", 0, cmd_device_list },
	{ "device show", "device show --tenant T ID", "t", 1, cmd_device_show },
	{ "device disable", "device disable --tenant T ID", "t", 1,
	    cmd_device_disable },
	{ "device enable", "device enable --tenant T ID", "t", 1,
	    cmd_device_enable },
	{ "device rotate-secret", "device rotate-secret --tenant T ID", "t", 1,
	    cmd_device_rotate },
	{ "device import-cert",
	    "device import-cert --tenant T ID --cert CHAIN.pem "
	    "[--key-file KEY.pem]",
	    "tCY", 1, cmd_device_import_cert },
	{ "device import",
	    "device import --tenant T FILE.csv --secrets-out FILE [--atomic]",
	    "toA", 1, cmd_device_import },
	{ "job list", "job list [--limit N]", "L", 0, cmd_job_list },
	{ "job show", "job show ID", "", 1, cmd_job_show },
	{ "job retry", "job retry ID", "", 1, cmd_job_retry },
	{ "webhook list", "webhook list --tenant T", "t", 0, cmd_webhook_list },
	{ "webhook deliveries",
	    "webhook deliveries --tenant T [--state pending|delivered|dead] "
	    "[--limit N]",
	    "tEL", 0, cmd_webhook_deliveries },
	{ "webhook replay", "webhook replay --tenant T DELIVERY_ID...", "t", -1,
	    cmd_webhook_replay },
};

/*
 * Generated from the table, so the list cannot miss a command.  On
 * stdout for --help (it succeeded), on stderr for a usage error.
 */
static void
usage(FILE *f)
{
	size_t i;

	fprintf(f,
	    "usage: fleetpki [--config FILE] COMMAND [OPTIONS]\n\n"
	    "Commands:\n");
	for (i = 0; i < FP_ARRAY_LEN(commands); i++)
		fprintf(f, "  fleetpki %s\n", commands[i].usage);
	fprintf(f,
	    "\n--config defaults to $FLEETPKI_CONFIG, else " FLEETPKI_SYSCONFDIR
	    "/fleetpki.conf.\n"
	    "Every command answers --help.\n");
}

/*
 * Match the longest command whose words start argv[0..]: "tenant" alone
 * matches nothing, "tenant create x" matches "tenant create" with one
 * word left for the operand.
 */
static const struct command *
find_command(int argc, char **argv, int *used)
{
	const struct command *best = NULL;
	size_t i;
	int best_words = 0;

	for (i = 0; i < FP_ARRAY_LEN(commands); i++) {
		char words[64], *w, *save = NULL;
		int n = 0, ok = 1;

		/* strtok_r writes into its input: work on a copy. */
		snprintf(words, sizeof(words), "%s", commands[i].words);
		for (w = strtok_r(words, " ", &save); w != NULL;
		     w = strtok_r(NULL, " ", &save), n++) {
			if (n >= argc || strcmp(argv[n], w) != 0) {
				ok = 0;
				break;
			}
		}
		if (ok && n > best_words) {
			best = &commands[i];
			best_words = n;
		}
	}
	*used = best_words;
	return best;
}

/* Numeric options, range-checked while parsing so commands see sane values. */
static long long
parse_num(const char *opt, const char *v, long long min, long long max)
{
	long long n;

	if (util_parse_int(v, min, max, &n) != 0)
		die("--%s must be an integer between %lld and %lld", opt, min,
		    max);
	return n;
}

int
main(int argc, char **argv)
{
	static const struct option gopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/*
	 * Every command option of every command; a command's row says
	 * which letters it accepts (a shared table, so one option cannot
	 * mean two things in two commands).
	 */
	static const struct option copts[] = {
		{ "tenant", required_argument, NULL, 't' },
		{ "name", required_argument, NULL, 'n' },
		{ "key", required_argument, NULL, 'k' },
		{ "days", required_argument, NULL, 'd' },
		{ "ttl", required_argument, NULL, 'l' },
		{ "server", required_argument, NULL, 's' },
		{ "slot", required_argument, NULL, 'S' },
		{ "cert", required_argument, NULL, 'C' },
		{ "admin", no_argument, NULL, 'a' },
		{ "limit", required_argument, NULL, 'L' },
		{ "ca", required_argument, NULL, 'K' },
		{ "serials", required_argument, NULL, 'V' },
		{ "issued-between", required_argument, NULL, 'B' },
		{ "reason", required_argument, NULL, 'W' },
		{ "profile", required_argument, NULL, 'p' },
		{ "rot", required_argument, NULL, 'r' },
		{ "serial", required_argument, NULL, 'e' },
		{ "imei", required_argument, NULL, 'i' },
		{ "from", required_argument, NULL, 'f' },
		{ "secrets-out", required_argument, NULL, 'o' },
		{ "id", required_argument, NULL, 'I' },
		{ "state", required_argument, NULL, 'E' },
		{ "prefix", required_argument, NULL, 'P' },
		{ "after", required_argument, NULL, 'F' },
		{ "atomic", no_argument, NULL, 'A' },
		{ "off", no_argument, NULL, 'O' },
		{ "key-file", required_argument, NULL, 'Y' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd;
	struct cli cli;
	struct cli_opts o;
	int c, used, rc;

	memset(&cli, 0, sizeof(cli));
	opterr = 0; /* our own one-line messages instead of getopt's */
	memset(&o, 0, sizeof(o));
	/* Log lines from the core go to stderr, only when they matter. */
	log_init("fleetpki", LOG_LVL_ERR);

	/* Global options stop at the first command word. */
	while ((c = getopt_long(argc, argv, "+c:h", gopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli.config_arg = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr,
			    "fleetpki: unknown option (see --help)\n");
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((cmd = find_command(argc, argv, &used)) == NULL) {
		fprintf(stderr, "fleetpki: unknown command '%s' (see --help)\n",
		    argv[0]);
		return EXIT_USAGE;
	}
	/*
	 * getopt_long over the words after the command, options and operands
	 * in any order ("user disable NAME --tenant T"); "--" ends options.
	 * optind = 0 makes glibc reinitialise its permutation state.
	 */
	argc -= used - 1;
	argv += used - 1;
	optind = 0;
	while ((c = getopt_long(argc, argv, "", copts, NULL)) != -1) {
		if (c == 'h') {
			printf("usage: fleetpki [--config FILE] %s\n",
			    cmd->usage);
			return 0;
		}
		if (c == '?' || strchr(cmd->opts, c) == NULL) {
			fprintf(stderr,
			    "fleetpki: bad option for %s (usage: "
			    "fleetpki %s)\n",
			    cmd->words, cmd->usage);
			return EXIT_USAGE;
		}
		switch (c) {
		case 't':
			o.tenant = optarg;
			break;
		case 'n':
			o.name = optarg;
			break;
		case 'k':
			o.key = optarg;
			break;
		case 's':
			o.server = optarg;
			break;
		case 'S':
			o.slot = optarg;
			break;
		case 'C':
			o.cert = optarg;
			break;
		case 'a':
			o.admin = 1;
			break;
		case 'p':
			o.profile = optarg;
			break;
		case 'r':
			o.rot = optarg;
			break;
		case 'e':
			o.serial = optarg;
			break;
		case 'i':
			o.imei = optarg;
			break;
		case 'f':
			o.from = optarg;
			break;
		case 'o':
			o.secrets_out = optarg;
			break;
		case 'I':
			o.id = optarg;
			break;
		case 'E':
			o.state = optarg;
			break;
		case 'P':
			o.prefix = optarg;
			break;
		case 'F':
			o.after = optarg;
			break;
		case 'A':
			o.atomic = 1;
			break;
		case 'O':
			o.off = 1;
			break;
		case 'Y':
			o.key_file = optarg;
			break;
		case 'd':
			o.days = parse_num("days", optarg, 1, 36500);
			o.days_set = 1;
			break;
		case 'l':
			o.ttl = parse_num("ttl", optarg, 1, 366LL * 86400);
			o.ttl_set = 1;
			break;
		case 'L':
			o.limit = parse_num("limit", optarg, 1, 100000);
			o.limit_set = 1;
			break;
		case 'K':
			o.ca = optarg;
			break;
		case 'V':
			o.serials = optarg;
			break;
		case 'B':
			o.issued_from = optarg;
			break;
		case 'W':
			o.reason = optarg;
			break;
		}
	}
	/*
	 * Operands are counted, not guessed: "tenant create a b" is wrong.
	 * A command whose operands depend on its options (-1) counts them.
	 */
	if (cmd->nargs >= 0 && argc - optind != cmd->nargs) {
		fprintf(stderr, "fleetpki: usage: fleetpki %s\n", cmd->usage);
		return EXIT_USAGE;
	}
	/* Commands die() on failure; a return is success (or their code). */
	rc = cmd->run(&cli, &o, argv + optind);
	if (cli.loaded) {
		store_close(cli.ctx.db);
		signer_free(cli.ctx.signer);
		config_free(&cli.cfg);
	}
	return rc;
}
