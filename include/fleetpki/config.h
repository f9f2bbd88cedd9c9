/*
 * config: the server's configuration file, shared by fleetpkid,
 * fleetpki-worker and the fleetpki CLI.
 *
 * Format: one "key = value" a line; '#' starts a comment; unknown keys
 * are an error (a typo must not silently fall back to a default).
 */
#ifndef FLEETPKI_CONFIG_H
#define FLEETPKI_CONFIG_H

#include <stddef.h>

#define CONFIG_KEY_LEN 32

struct config {
	char *path; /* file it was read from */
	char *database_url; /* libpq conninfo or URI */
	/*
	 * The schema owner's connection, for `fleetpki migrate` and the
	 * CLI's commands (which cross tenants); empty: database_url, as in
	 * an install with one role.  fleetpkid and fleetpki-worker never
	 * use it: they connect as the app role (sql/005).
	 */
	char *owner_database_url;
	char *listen; /* FastCGI socket: path or host:port */
	int socket_mode; /* for a unix socket, e.g. 0660 */
	/*
	 * Group of a unix socket (nginx's, with socket_mode 0660), so that
	 * only fleetpkid's user and nginx reach it; empty: the creator's.
	 */
	char *socket_group;
	int workers; /* pre-forked FastCGI workers */
	char *public_url; /* https base, e.g. https://pki.example:8443 */
	char *http_url; /* plain http base for CRL and OCSP */
	char *sql_dir; /* numbered migration files */
	char *pid_file; /* master pid file, optional */
	char *log_level; /* error|warn|info|debug */
	/* AES-256-GCM key that wraps private keys at rest (hex in file). */
	unsigned char master_key[CONFIG_KEY_LEN];
	/* HMAC-SHA256 key for stored secrets and token hashes. */
	unsigned char pepper[CONFIG_KEY_LEN];
	int crl_validity; /* seconds from thisUpdate to nextUpdate */
	int crl_refresh_margin; /* worker regenerates this long before */
	int crl_history; /* CRLs kept per CA (the newest) */
	int crl_expired_keep; /* seconds an expired certificate stays listed */
	int crl_base_interval; /* seconds between base CRLs (deltas over it) */
	int crl_delta_validity; /* a delta CRL's thisUpdate to nextUpdate */
	int crl_complete_on_revoke; /* a complete CRL too, not only a delta */
	int worker_interval; /* fleetpki-worker scheduler tick, seconds */
	int jwt_leeway; /* seconds of clock skew allowed */
	int jwt_max_ttl; /* longest token the CLI will mint */
	int cert_days; /* device certificate validity */
	int db_connect_timeout; /* seconds */
	/*
	 * Networks outbound fetches (challenges, webhooks) must never reach,
	 * CIDR list; link-local/metadata is denied whatever this says.
	 */
	char *outbound_deny;
	/*
	 * Networks re-allowed from the default-denied set (loopback,
	 * private, ULA, shared 100.64/10), CIDR list; never the
	 * always-denied metadata addresses (see net.h).
	 */
	char *outbound_allow;
	/*
	 * CA bundle (PEM) outbound https (webhooks) is verified against;
	 * "": the system's trust store.
	 */
	char *outbound_ca_file;
	/*
	 * nginx's OCSP cache directory (its fastcgi_cache_path), when this
	 * host's nginx keeps OCSP answers: fleetpkid lets it keep cacheable
	 * ones and empties it at every revocation.  Empty: nginx is told to
	 * keep none.
	 */
	char *ocsp_cache_dir;
	/*
	 * "on" (default): fleetpkid's workers sign and seal through the
	 * signer process and hold no key.  "off" keeps the keys in the
	 * workers: for measuring the signer's cost only.
	 */
	char *signer;
	/*
	 * Bearer token that lets a non-loopback client read GET /metrics
	 * (loopback peers need none); "": loopback only.  A secret.
	 */
	char *metrics_token;
	/*
	 * host:port of fleetpki-worker's metrics listener (loopback);
	 * "": none.
	 */
	char *worker_metrics_listen;
};

/*
 * Read 'path' into 'cfg' (defaults first).  On failure returns -1 and
 * sets '*err' to an allocated one-line reason naming the line.
 */
int config_load(const char *path, struct config *cfg, char **err);
/* Defaults only: what a missing key means. */
void config_defaults(struct config *cfg);
void config_free(struct config *cfg);
/* The config path from 'arg', else $FLEETPKI_CONFIG, else the default. */
const char *config_path(const char *arg);

#endif
