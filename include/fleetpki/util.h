/*
 * util: memory that cannot fail, and small helpers shared by every module.
 *
 * Out of memory is fatal: the process logs and exits, and the master
 * re-forks the worker (OpenSSH xmalloc, Redis zmalloc).
 */
#ifndef FLEETPKI_UTIL_H
#define FLEETPKI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define FP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xrealloc(void *, size_t);
char *xstrdup(const char *);
/* Copy of the first 'len' bytes of 's', NUL-terminated. */
char *xstrndup(const char *s, size_t len);
/* Allocating printf. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Log 'fmt' and exit(1). */
void fatal(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));

/* Wipe and free a NUL-terminated secret; NULL is fine. */
void util_free_secret(char *);

/* The value of one hex digit (either case), or -1. */
int util_hexval(int c);

/* Lower-case hex of 'len' bytes into 'out' (2*len+1 bytes). */
void util_hex(const unsigned char *in, size_t len, char *out);
/*
 * Upper-case hex of 'len' bytes into 'out', with 'sep' between bytes
 * when it is not NUL ("AA:BB"): 2*len+1 bytes, or 3*len with a 'sep'.
 */
void util_hex_upper(const unsigned char *in, size_t len, char sep, char *out);

/*
 * Parse a decimal integer that must fill the whole string and lie in
 * ['min', 'max'].  Returns 0 and sets '*out', or -1.
 */
int util_parse_int(const char *s, long long min, long long max, long long *out);

/* RFC 3339 UTC text with milliseconds ("2020-06-06T21:13:36.448Z"). */
void util_iso8601_ms(int64_t unix_ms, char out[32]);

/* Seconds since the epoch, from the realtime clock. */
time_t util_now(void);

/*
 * Remove every file below directory 'dir' (down to 'depth' levels of
 * subdirectories), keeping the directories themselves; symbolic links
 * are removed, never followed.  Returns the number of files removed, or
 * -1 (errno set) when 'dir' cannot be opened.  Files that vanish while
 * it runs are not an error.
 */
int util_empty_dir(const char *dir, int depth);

#endif
