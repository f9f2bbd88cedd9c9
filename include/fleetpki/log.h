/*
 * log: one-line records to stderr (nginx and systemd collect it), with
 * the process role and pid.  Never log secrets: tokens, keys, passwords.
 */
#ifndef FLEETPKI_LOG_H
#define FLEETPKI_LOG_H

enum log_level { LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Set the role printed on every line ("master", "worker", "cli", ...). */
void	log_init(const char *role, enum log_level);
/* Parse "error|warn|info|debug"; returns -1 for anything else. */
int	log_level_parse(const char *, enum log_level *);

void	log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Drain the OpenSSL error queue into the log at error level, prefixed by
 * 'what' (libest ossl_dump_ssl_errors).  Call after every failed OpenSSL
 * call whose failure is unexpected.
 */
void	log_ossl_errors(const char *what);

#endif
