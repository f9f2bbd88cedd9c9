/*
 * error: the tables generated from FOREACH_FP_ERROR.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "fleetpki/error.h"

#define FP_ERR_HTTP(name, status, msg) status,
#define FP_ERR_MSG(name, status, msg) msg,
static const int err_http[] = { FOREACH_FP_ERROR(FP_ERR_HTTP) };
static const char *const err_msg[] = { FOREACH_FP_ERROR(FP_ERR_MSG) };
#undef FP_ERR_HTTP
#undef FP_ERR_MSG

static int
err_index(int code)
{
	if (code < 0)
		code = -code;
	/* An out-of-range code is a bug; show it as an internal error. */
	return code < FP_E__COUNT ? code : FP_E_INTERNAL;
}

int
fp_err_http(int code)
{
	return err_http[err_index(code)];
}

const char *
fp_err_default(int code)
{
	return err_msg[err_index(code)];
}

int
fp_fail(struct fp_status *st, enum fp_err code, const char *fmt, ...)
{
	va_list ap;

	if (st != NULL) {
		st->code = code;
		st->msg[0] = '\0';
		if (fmt != NULL) {
			va_start(ap, fmt);
			vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
			va_end(ap);
		}
	}
	return -(int)code;
}

const char *
fp_status_message(const struct fp_status *st, int code)
{
	/* A reason recorded for another code must not leak into this one. */
	if (st != NULL && st->msg[0] != '\0' &&
	    err_index(st->code) == err_index(code))
		return st->msg;
	return fp_err_default(code);
}
