/*
 * core/reports: the rules of the security-services history reports
 * (/notification/get, /device/activity/get, /device/usage/get,
 * /device/clone/get, /device/suspicious/get): strict dates, how far
 * back a range may start, which device selectors a route takes, and
 * paging by PageNumber or by a keyset NextPageToken.  The reads are
 * the store's (store_tags.h); nothing here speaks SQL.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleetpki/arena.h"
#include "fleetpki/core_tags.h"

#define US_PER_SEC INT64_C(1000000)
#define US_PER_DAY (INT64_C(86400) * US_PER_SEC)

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
month_days(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* Exactly 'n' decimal digits at *s into *v; advances *s. */
static int
digits(const char **s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if ((*s)[i] < '0' || (*s)[i] > '9')
			return -1;
		*v = *v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	return 0;
}

/* "YYYY-MM-DD" at *s: year 1970-9999, a day of that month. */
static int
date_part(const char **s, int64_t *day)
{
	int y, m, d;

	if (digits(s, 4, &y) != 0 || *(*s)++ != '-' || digits(s, 2, &m) != 0 ||
	    *(*s)++ != '-' || digits(s, 2, &d) != 0)
		return -1;
	if (y < 1970 || m < 1 || m > 12 || d < 1 || d > month_days(y, m))
		return -1;
	*day = days_from_civil(y, m, d);
	return 0;
}

int
core_day_parse(const char *s, int64_t *day)
{
	if (s == NULL || strlen(s) != 10 || date_part(&s, day) != 0)
		return -1;
	return 0;
}

int
core_iso8601_parse(const char *s, int64_t *us)
{
	int64_t day, frac = 0, scale = US_PER_SEC, off = 0;
	int hh, mi, ss, oh, om, nfrac = 0, sign;

	if (s == NULL || strlen(s) > 64 || date_part(&s, &day) != 0 ||
	    *s++ != 'T' || digits(&s, 2, &hh) != 0 || *s++ != ':' ||
	    digits(&s, 2, &mi) != 0 || *s++ != ':' || digits(&s, 2, &ss) != 0)
		return -1;
	if (hh > 23 || mi > 59 || ss > 59)
		return -1;
	if (*s == '.') {
		/* 1-9 digits; microseconds kept, the rest truncated */
		for (s++; *s >= '0' && *s <= '9'; s++, nfrac++) {
			if (nfrac >= 9)
				return -1;
			if (scale > 1) {
				scale /= 10;
				frac += (*s - '0') * scale;
			}
		}
		if (nfrac == 0)
			return -1;
	}
	if (*s == 'Z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if (digits(&s, 2, &oh) != 0)
			return -1;
		if (*s == ':')
			s++;
		if (digits(&s, 2, &om) != 0 || oh > 23 || om > 59)
			return -1;
		off = sign * ((int64_t)oh * 3600 + om * 60);
	} else {
		return -1; /* no zone: the instant is not known */
	}
	if (*s != '\0')
		return -1;
	*us =
	    (day * 86400 + hh * 3600 + mi * 60 + ss - off) * US_PER_SEC + frac;
	return *us < 0 ? -1 : 0;
}

void
core_iso8601_format(int64_t secs, char *out, size_t outlen)
{
	struct tm tm;
	time_t t = (time_t)secs;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		if (outlen > 0)
			out[0] = '\0';
	}
}

int64_t
core_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * US_PER_SEC + ts.tv_nsec / 1000;
}

/* A decimal int64, all of [s, end), no sign but '-', no spaces. */
static int
token_num(const char *s, const char *end, int64_t *v)
{
	char buf[24], *e;
	size_t len = (size_t)(end - s);

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (!(buf[0] == '-' || (buf[0] >= '0' && buf[0] <= '9')))
		return -1;
	errno = 0;
	*v = strtoll(buf, &e, 10);
	if (errno != 0 || *e != '\0')
		return -1;
	return 0;
}

int
core_page_pos(int64_t page_number, const char *token, int64_t lo1, int64_t lo2,
    struct page_pos *pos, struct fp_status *st)
{
	const char *d1, *d2;
	int64_t page;

	memset(pos, 0, sizeof(*pos));
	if (page_number < 0 || page_number > REPORT_MAX_PAGE)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. Invalid PageNumber");
	if (token == NULL) {
		pos->page = page_number > 0 ? page_number : 1;
		pos->offset = (pos->page - 1) * TAGS_PAGE_SIZE;
		pos->k1 = lo1;
		pos->k2 = lo2;
		return 0;
	}
	if ((d1 = strchr(token, '.')) == NULL ||
	    (d2 = strchr(d1 + 1, '.')) == NULL ||
	    token_num(token, d1, &page) != 0 ||
	    token_num(d1 + 1, d2, &pos->k1) != 0 ||
	    token_num(d2 + 1, d2 + 1 + strlen(d2 + 1), &pos->k2) != 0 ||
	    page < 2 || page > REPORT_MAX_PAGE)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. Invalid NextPageToken");
	if (page_number > 0 && page_number != page)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. PageNumber does not match NextPageToken");
	/* Never before the range: a token cannot widen the query. */
	if (pos->k1 < lo1 || (pos->k1 == lo1 && pos->k2 < lo2)) {
		pos->k1 = lo1;
		pos->k2 = lo2;
	}
	pos->page = page;
	return 0;
}

char *
core_page_token(struct arena *a, const struct page_pos *pos, int64_t k1,
    int64_t k2)
{
	return arena_printf(a, "%" PRId64 ".%" PRId64 ".%" PRId64,
	    pos->page + 1, k1, k2);
}

static int
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

int
core_rots_upper(struct arena *a, const char *field, const char *const *in,
    size_t n, const char ***out, struct fp_status *st)
{
	const char **v;
	char *r;
	size_t i, j;

	*out = NULL;
	if (n == 0)
		return 0;
	v = arena_alloc(a, n * sizeof(*v));
	for (i = 0; i < n; i++) {
		if (strlen(in[i]) != TAG_ROT_LEN)
			return fp_fail(st, FP_E_BADREQ,
			    "Bad Request. Invalid %s", field);
		r = arena_alloc(a, TAG_ROT_LEN + 1);
		for (j = 0; j < TAG_ROT_LEN; j++) {
			if (!is_hex(in[i][j]))
				return fp_fail(st, FP_E_BADREQ,
				    "Bad Request. Invalid %s", field);
			r[j] =
			    in[i][j] >= 'a' ? (char)(in[i][j] - 32) : in[i][j];
		}
		r[TAG_ROT_LEN] = '\0';
		v[i] = r;
	}
	*out = v;
	return 0;
}

/* "ROTPublicUIDs, TagNames or DeviceProfileUID" of the allowed ones. */
static void
sel_names(unsigned allowed, const char *joiner, char *out, size_t outlen)
{
	static const char *const names[] = { "ROTPublicUIDs", "TagNames",
		"DeviceProfileUID" };
	size_t i, k = 0, count = 0, len;

	for (i = 0; i < 3; i++)
		count += (allowed >> i) & 1;
	out[0] = '\0';
	for (i = 0; i < 3; i++) {
		if (!((allowed >> i) & 1))
			continue;
		len = strlen(out);
		snprintf(out + len, outlen - len, "%s%s",
		    k == 0               ? ""
		        : k + 1 == count ? joiner
		                         : ", ",
		    names[i]);
		k++;
	}
}

int
core_report_filter(struct arena *a, const struct report_devices *rd,
    unsigned allowed, int required, struct device_filter *f,
    struct fp_status *st)
{
	const char **rots;
	char names[96];
	unsigned given = 0;
	size_t i;
	int rc;

	memset(f, 0, sizeof(*f));
	if (rd->nrots > 0)
		given |= SEL_ROTS;
	if (rd->ntags > 0)
		given |= SEL_TAGS;
	if (rd->profile != NULL)
		given |= SEL_PROFILE;
	/* The front refuses unknown fields: 'given' is within 'allowed'. */
	given &= allowed;
	if (given != 0 && (given & (given - 1)) != 0) {
		sel_names(given, " and ", names, sizeof(names));
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. Give only one of %s", names);
	}
	if (given == 0) {
		if (!required) {
			f->all = 1;
			return 0;
		}
		sel_names(allowed, " or ", names, sizeof(names));
		return fp_fail(st, FP_E_BADREQ, "Bad Request. %s is required",
		    names);
	}
	if (given == SEL_ROTS) {
		if ((rc = core_rots_upper(a, "ROTPublicUIDs", rd->rots,
		         rd->nrots, &rots, st)) != 0)
			return rc;
		f->rots = rots;
		f->nrots = rd->nrots;
	} else if (given == SEL_TAGS) {
		for (i = 0; i < rd->ntags; i++)
			if (core_tag_name_check(rd->tags[i], NULL) != 0)
				return fp_fail(st, FP_E_BADREQ,
				    "Bad Request. Invalid TagNames");
		f->tags = rd->tags;
		f->ntags = rd->ntags;
	} else {
		if (rd->profile[0] == '\0')
			return fp_fail(st, FP_E_BADREQ,
			    "Bad Request. Invalid DeviceProfileUID");
		f->profile = rd->profile;
	}
	return 0;
}

int
core_report_range(const char *from, const char *to, int max_days,
    int64_t now_us, struct time_range *r, struct fp_status *st)
{
	if (from == NULL)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. FromDate is required");
	if (core_iso8601_parse(from, &r->from_us) != 0)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. FromDate must be an ISO 8601 date and time "
		    "with a time zone (2020-02-01T00:00:00+00:00)");
	if (to == NULL)
		r->to_us = now_us;
	else if (core_iso8601_parse(to, &r->to_us) != 0)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. ToDate must be an ISO 8601 date and time "
		    "with a time zone (2020-03-01T23:59:00+00:00)");
	if (r->from_us > r->to_us)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. FromDate is after ToDate");
	if (max_days > 0 && r->from_us < now_us - max_days * US_PER_DAY)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. FromDate can be at most %d days ago",
		    max_days);
	return 0;
}

int
core_report_days(const char *from, const char *to, int max_days, int64_t now_us,
    int64_t *from_day, int64_t *to_day, struct fp_status *st)
{
	int64_t today = now_us / US_PER_DAY;

	if (from == NULL)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. FromDate is required");
	if (core_day_parse(from, from_day) != 0)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. FromDate must be a date yyyy-mm-dd");
	if (to == NULL)
		*to_day = today;
	else if (core_day_parse(to, to_day) != 0)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. ToDate must be a date yyyy-mm-dd");
	if (*from_day > *to_day)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. FromDate is after ToDate");
	if (max_days > 0 && *from_day < today - max_days)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. FromDate can be at most %d days ago",
		    max_days);
	return 0;
}

int
core_notification_type_check(const char *type, struct fp_status *st)
{
	static const char *const types[] = { "DEVICE_STATE_CHANGE",
		"DEVICE_INFO_CHANGE", "DEVICE_PROPERTIES_CHANGE",
		"DEVICE_ERROR" };
	size_t i;

	if (type == NULL)
		return 0;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(type, types[i]) == 0)
			return 0;
	return fp_fail(st, FP_E_BADREQ,
	    "Bad Request. Invalid NotificationType (one of "
	    "DEVICE_STATE_CHANGE, DEVICE_INFO_CHANGE, "
	    "DEVICE_PROPERTIES_CHANGE, DEVICE_ERROR)");
}

const char *
core_suspicious_reason(int reason)
{
	switch (reason) {
	case SUSPICIOUS_DEV_SERIAL_SEALING:
		return "DUPLICATED_DEV_SERIAL_NUM_SEALING";
	case SUSPICIOUS_SCL_SERIAL_SEALED:
		return "DUPLICATED_SCL_SERIAL_NUM_SEALED_INFO";
	case SUSPICIOUS_DEV_SERIAL_PROD_LOG:
		return "DUPLICATED_DEV_SERIAL_NUM_PROD_LOG";
	case SUSPICIOUS_SCL_SERIAL_PROD_LOG:
		return "DUPLICATED_SCL_SERIAL_NUM_PROD_LOG";
	}
	return "UNKNOWN";
}
