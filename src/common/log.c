/*
 * log: one line a record on stderr: time, role[pid], level, message.
 * stderr is unbuffered, and each record is written with one write(2) so
 * lines from pre-forked workers sharing the descriptor do not interleave.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "fleetpki/log.h"

static const char *log_role = "fleetpki";
static enum log_level log_max = LOG_LVL_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
log_init(const char *role, enum log_level level)
{
	log_role = role;
	log_max = level;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

static void log_emit(enum log_level, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

static void
log_emit(enum log_level level, const char *fmt, va_list ap)
{
	char line[2048], stamp[32];
	struct tm tm;
	time_t now;
	int n, m;

	if (level > log_max)
		return;
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(line, sizeof(line), "%s %s[%ld] %s: ", stamp, log_role,
	    (long)getpid(), level_names[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2; /* truncated: keep the newline */
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}

#define LOG_FN(name, level)                                                    \
	void name(const char *fmt, ...)                                        \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_emit(level, fmt, ap);                                      \
		va_end(ap);                                                    \
	}

LOG_FN(log_err, LOG_LVL_ERR)
LOG_FN(log_warn, LOG_LVL_WARN)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_debug, LOG_LVL_DEBUG)

void
log_ossl_errors(const char *what)
{
	const char *file, *func, *data;
	unsigned long e;
	char text[256];
	int line, flags, any = 0;

	while (
	    (e = ERR_get_error_all(&file, &line, &func, &data, &flags)) != 0) {
		ERR_error_string_n(e, text, sizeof(text));
		log_err("%s: %s (%s:%d %s)%s%s", what, text, file, line,
		    func != NULL ? func : "",
		    (flags & ERR_TXT_STRING) ? " " : "",
		    (flags & ERR_TXT_STRING) ? data : "");
		any = 1;
	}
	if (!any)
		log_err("%s: failed (no OpenSSL error queued)", what);
}
