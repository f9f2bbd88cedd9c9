/*
 * config: "key = value" lines into struct config, driven by one table.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "fleetpki/config.h"
#include "fleetpki/util.h"

#define CONFIG_DEFAULT_PATH FLEETPKI_SYSCONFDIR "/fleetpki.conf"

enum ctype { C_STR, C_INT, C_BOOL, C_MODE, C_KEY };

/* Each key with its type, bounds and where it lands in struct config. */
static const struct config_key {
	const char *name;
	enum ctype type;
	size_t off;
	long long min, max;
} config_keys[] = {
	{ "database_url", C_STR, offsetof(struct config, database_url), 0, 0 },
	{ "owner_database_url", C_STR,
	    offsetof(struct config, owner_database_url), 0, 0 },
	{ "listen", C_STR, offsetof(struct config, listen), 0, 0 },
	{ "socket_mode", C_MODE, offsetof(struct config, socket_mode), 0,
	    0777 },
	{ "socket_group", C_STR, offsetof(struct config, socket_group), 0, 0 },
	{ "workers", C_INT, offsetof(struct config, workers), 1, 256 },
	{ "public_url", C_STR, offsetof(struct config, public_url), 0, 0 },
	{ "http_url", C_STR, offsetof(struct config, http_url), 0, 0 },
	{ "sql_dir", C_STR, offsetof(struct config, sql_dir), 0, 0 },
	{ "pid_file", C_STR, offsetof(struct config, pid_file), 0, 0 },
	{ "log_level", C_STR, offsetof(struct config, log_level), 0, 0 },
	{ "master_key", C_KEY, offsetof(struct config, master_key), 0, 0 },
	{ "pepper", C_KEY, offsetof(struct config, pepper), 0, 0 },
	{ "crl_validity", C_INT, offsetof(struct config, crl_validity), 300,
	    366 * 86400 },
	{ "crl_refresh_margin", C_INT,
	    offsetof(struct config, crl_refresh_margin), 0, 366 * 86400 },
	{ "crl_history", C_INT, offsetof(struct config, crl_history), 1, 1000 },
	{ "crl_expired_keep", C_INT, offsetof(struct config, crl_expired_keep),
	    0, 3650 * 86400 },
	{ "crl_base_interval", C_INT,
	    offsetof(struct config, crl_base_interval), 300, 366 * 86400 },
	{ "crl_delta_validity", C_INT,
	    offsetof(struct config, crl_delta_validity), 60, 366 * 86400 },
	{ "crl_complete_on_revoke", C_BOOL,
	    offsetof(struct config, crl_complete_on_revoke), 0, 1 },
	{ "worker_interval", C_INT, offsetof(struct config, worker_interval), 1,
	    86400 },
	{ "jwt_leeway", C_INT, offsetof(struct config, jwt_leeway), 0, 3600 },
	{ "jwt_max_ttl", C_INT, offsetof(struct config, jwt_max_ttl), 60,
	    366 * 86400 },
	{ "cert_days", C_INT, offsetof(struct config, cert_days), 1, 3650 },
	{ "db_connect_timeout", C_INT,
	    offsetof(struct config, db_connect_timeout), 1, 60 },
	{ "outbound_deny", C_STR, offsetof(struct config, outbound_deny), 0,
	    0 },
	{ "outbound_allow", C_STR, offsetof(struct config, outbound_allow), 0,
	    0 },
	{ "outbound_ca_file", C_STR, offsetof(struct config, outbound_ca_file),
	    0, 0 },
	{ "ocsp_cache_dir", C_STR, offsetof(struct config, ocsp_cache_dir), 0,
	    0 },
	{ "signer", C_STR, offsetof(struct config, signer), 0, 0 },
	{ "metrics_token", C_STR, offsetof(struct config, metrics_token), 0,
	    0 },
	{ "worker_metrics_listen", C_STR,
	    offsetof(struct config, worker_metrics_listen), 0, 0 },
};

void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->database_url = xstrdup("dbname=fleetpki");
	cfg->owner_database_url = xstrdup("");
	cfg->listen = xstrdup("/run/fleetpki/fleetpkid.sock");
	cfg->socket_mode = 0660;
	cfg->workers = 2;
	cfg->public_url = xstrdup("https://localhost");
	cfg->http_url = xstrdup("http://localhost");
	cfg->sql_dir = xstrdup(FLEETPKI_PKGDATADIR "/sql");
	cfg->log_level = xstrdup("info");
	cfg->crl_validity = 86400;
	cfg->crl_refresh_margin = 3600;
	cfg->crl_history = 10;
	cfg->crl_expired_keep = 7 * 86400;
	cfg->crl_base_interval = 86400;
	cfg->crl_delta_validity = 4 * 3600;
	cfg->crl_complete_on_revoke = 1;
	cfg->worker_interval = 30;
	cfg->jwt_leeway = 60;
	cfg->jwt_max_ttl = 30 * 86400;
	cfg->cert_days = 365;
	cfg->db_connect_timeout = 3;
	cfg->outbound_deny = xstrdup("");
	cfg->outbound_allow = xstrdup("");
	cfg->outbound_ca_file = xstrdup("");
	cfg->socket_group = xstrdup("");
	cfg->ocsp_cache_dir = xstrdup("");
	cfg->signer = xstrdup("on");
	cfg->metrics_token = xstrdup("");
	cfg->worker_metrics_listen = xstrdup("");
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
hex_key(const char *s, unsigned char out[CONFIG_KEY_LEN])
{
	long len = 0;
	unsigned char *raw;

	if (strlen(s) != 2 * CONFIG_KEY_LEN)
		return -1;
	if ((raw = OPENSSL_hexstr2buf(s, &len)) == NULL)
		return -1;
	if (len != CONFIG_KEY_LEN) {
		OPENSSL_clear_free(raw, (size_t)len);
		return -1;
	}
	memcpy(out, raw, CONFIG_KEY_LEN);
	OPENSSL_clear_free(raw, (size_t)len);
	return 0;
}

static int
config_set(struct config *cfg, const char *key, const char *val, char **why)
{
	const struct config_key *k = NULL;
	long long n;
	char *end;
	size_t i;
	void *field;

	for (i = 0; i < FP_ARRAY_LEN(config_keys); i++)
		if (strcmp(config_keys[i].name, key) == 0)
			k = &config_keys[i];
	if (k == NULL) {
		*why = xasprintf("unknown key '%s'", key);
		return -1;
	}
	field = (char *)cfg + k->off;
	switch (k->type) {
	case C_STR:
		if (*val == '\0') {
			*why = xasprintf("'%s' is empty", key);
			return -1;
		}
		free(*(char **)field);
		*(char **)field = xstrdup(val);
		break;
	case C_INT:
		if (util_parse_int(val, k->min, k->max, &n) != 0) {
			*why =
			    xasprintf("'%s' must be an integer in %lld..%lld",
			        key, k->min, k->max);
			return -1;
		}
		*(int *)field = (int)n;
		break;
	case C_BOOL:
		if (strcmp(val, "on") == 0 || strcmp(val, "yes") == 0 ||
		    strcmp(val, "true") == 0 || strcmp(val, "1") == 0)
			*(int *)field = 1;
		else if (strcmp(val, "off") == 0 || strcmp(val, "no") == 0 ||
		    strcmp(val, "false") == 0 || strcmp(val, "0") == 0)
			*(int *)field = 0;
		else {
			*why = xasprintf("'%s' must be on or off", key);
			return -1;
		}
		break;
	case C_MODE:
		errno = 0;
		n = strtoll(val, &end, 8);
		if (errno != 0 || *val == '\0' || *end != '\0' || n < 0 ||
		    n > k->max) {
			*why = xasprintf("'%s' must be an octal mode", key);
			return -1;
		}
		*(int *)field = (int)n;
		break;
	case C_KEY:
		if (hex_key(val, field) != 0) {
			*why = xasprintf("'%s' must be %d hex digits", key,
			    2 * CONFIG_KEY_LEN);
			return -1;
		}
		break;
	}
	return 0;
}

int
config_load(const char *path, struct config *cfg, char **err)
{
	char line[4096], iobuf[4096], *key, *val, *eq, *why = NULL;
	int lineno = 0, rc = -1, have_key = 0, have_pepper = 0;
	FILE *f = NULL;

	config_defaults(cfg);
	cfg->path = xstrdup(path);
	if ((f = fopen(path, "r")) == NULL) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		goto out;
	}
	/* stdio's own buffer would keep the file's secrets after fclose. */
	setvbuf(f, iobuf, _IOFBF, sizeof(iobuf));
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			*err = xasprintf("%s:%d: line too long", path, lineno);
			goto out;
		}
		if ((eq = strchr(line, '#')) != NULL)
			*eq = '\0';
		key = trim(line);
		if (*key == '\0')
			continue;
		if ((eq = strchr(key, '=')) == NULL) {
			*err = xasprintf("%s:%d: expected 'key = value'", path,
			    lineno);
			goto out;
		}
		*eq = '\0';
		key = trim(key);
		val = trim(eq + 1);
		if (config_set(cfg, key, val, &why) != 0) {
			*err = xasprintf("%s:%d: %s", path, lineno, why);
			goto out;
		}
		have_key |= strcmp(key, "master_key") == 0;
		have_pepper |= strcmp(key, "pepper") == 0;
	}
	if (ferror(f)) {
		*err = xasprintf("%s: read error", path);
		goto out;
	}
	if (strcmp(cfg->signer, "on") != 0 && strcmp(cfg->signer, "off") != 0) {
		*err = xasprintf("%s: 'signer' must be on or off", path);
		goto out;
	}
	/* No default for secrets: a server must never run on a known key. */
	if (!have_key || !have_pepper) {
		*err = xasprintf("%s: 'master_key' and 'pepper' are required",
		    path);
		goto out;
	}
	rc = 0;
out:
	free(why);
	if (f != NULL)
		fclose(f);
	OPENSSL_cleanse(line, sizeof(line));
	OPENSSL_cleanse(iobuf, sizeof(iobuf));
	return rc;
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->database_url);
	free(cfg->owner_database_url);
	free(cfg->listen);
	free(cfg->public_url);
	free(cfg->http_url);
	free(cfg->sql_dir);
	free(cfg->pid_file);
	free(cfg->log_level);
	free(cfg->outbound_deny);
	free(cfg->outbound_allow);
	free(cfg->outbound_ca_file);
	free(cfg->socket_group);
	free(cfg->ocsp_cache_dir);
	free(cfg->signer);
	if (cfg->metrics_token != NULL)
		OPENSSL_cleanse(cfg->metrics_token, strlen(cfg->metrics_token));
	free(cfg->metrics_token);
	free(cfg->worker_metrics_listen);
	OPENSSL_cleanse(cfg, sizeof(*cfg));
}

const char *
config_path(const char *arg)
{
	const char *env;

	if (arg != NULL)
		return arg;
	if ((env = getenv("FLEETPKI_CONFIG")) != NULL && *env != '\0')
		return env;
	return CONFIG_DEFAULT_PATH;
}
