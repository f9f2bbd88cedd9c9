/*
 * error: the one list of errors (libest FOREACH_EST_ERROR).  Each entry
 * yields the enum value, the HTTP status and the default message.
 *
 * Functions return 0 or a negative 'enum fp_err' (-FP_E_NOTFOUND, ...).
 * Where a user must learn why ("The RSA public key length less than 2048
 * bits is not supported."), the callee also writes the reason into a
 * 'struct fp_status' that the caller passed; the front turns the status
 * into the response body.  Internal details never reach that text.
 */
#ifndef FLEETPKI_ERROR_H
#define FLEETPKI_ERROR_H

#include <stddef.h>

#define FOREACH_FP_ERROR(X) \
	X(OK,          200, "OK") \
	X(BADREQ,      400, "Bad request.") \
	X(SCHEMA,      400, "Input data schema validation failure.") \
	X(UNAUTH,      401, "Unauthorized.") \
	X(FORBIDDEN,   403, "Forbidden.") \
	X(NOTFOUND,    404, "Not found.") \
	X(METHOD,      405, "Method not allowed.") \
	X(CONFLICT,    409, "Conflict.") \
	X(GONE,        410, "Gone.") \
	X(TOOLARGE,    413, "Request body too large.") \
	X(MEDIATYPE,   415, "Unsupported media type.") \
	X(EXPECTATION, 417, "Expectation failed.") \
	X(UNPROCESSABLE, 422, "Unprocessable request.") \
	X(RATELIMIT,   429, "Too many requests.") \
	X(INTERNAL,    500, "An unexpected error has occurred.") \
	X(UNAVAILABLE, 503, "Service temporarily unavailable.")

#define FP_ERR_ENUM(name, status, msg) FP_E_##name,
enum fp_err {
	FOREACH_FP_ERROR(FP_ERR_ENUM)
	FP_E__COUNT
};
#undef FP_ERR_ENUM

struct fp_status {
	enum fp_err	code;
	char		msg[512];	/* user-facing reason; "" = default */
};

/* HTTP status and default message of 'code' (negative values accepted). */
int		 fp_err_http(int code);
const char	*fp_err_default(int code);

/*
 * Record 'code' with a formatted reason in 'st' (which may be NULL) and
 * return -code, so callers write: return fp_fail(st, FP_E_BADREQ, "...").
 * A NULL 'fmt' keeps the default message.
 */
int		 fp_fail(struct fp_status *st, enum fp_err code,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The message to show: the recorded reason, else the default text. */
const char	*fp_status_message(const struct fp_status *, int code);

#endif
