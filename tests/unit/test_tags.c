/*
 * Unit tests for the tags and reports rules (src/core/tags.c,
 * src/core/reports.c): the tag-name rules, strict ISO 8601 dates,
 * the report ranges and the paging tokens.  No database.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fleetpki/arena.h"
#include "fleetpki/buf.h"
#include "fleetpki/core_tags.h"
#include "fleetpki/error.h"

#define DAY_US (INT64_C(86400) * 1000000)

static void
test_tag_name_ok(void **state)
{
	char name[4 * 255 + 1];
	size_t i;

	(void)state;
	assert_int_equal(core_tag_name_check("downtown", NULL), 0);
	assert_int_equal(core_tag_name_check("a b-c_d.e/f:g;h!@#$%&*()+=[]?'",
	                     NULL),
	    0);
	assert_int_equal(core_tag_name_check("Zürich ☃ 🚀", NULL), 0);
	/* 255 characters exactly, ASCII or 4-byte UTF-8. */
	memset(name, 'a', 255);
	name[255] = '\0';
	assert_int_equal(core_tag_name_check(name, NULL), 0);
	for (i = 0; i < 255; i++)
		memcpy(name + 4 * i, "\xf0\x9f\x9a\x80", 4);
	name[4 * 255] = '\0';
	assert_int_equal(core_tag_name_check(name, NULL), 0);
}

static void
test_tag_name_bad(void **state)
{
	static const char forbidden[] = "^`~<>\"{}|\\,";
	struct fp_status st;
	char name[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(forbidden) - 1; i++) {
		snprintf(name, sizeof(name), "ab%cc", forbidden[i]);
		memset(&st, 0, sizeof(st));
		assert_int_equal(core_tag_name_check(name, &st), -FP_E_BADREQ);
		assert_non_null(strstr(st.msg, "must not contain"));
	}
	/* 256 characters: one too many. */
	memset(name, 'a', 256);
	name[256] = '\0';
	memset(&st, 0, sizeof(st));
	assert_int_equal(core_tag_name_check(name, &st), -FP_E_BADREQ);
	assert_non_null(strstr(st.msg, "255 characters"));
	assert_int_equal(core_tag_name_check("", NULL), -FP_E_BADREQ);
	assert_int_equal(core_tag_name_check(NULL, NULL), -FP_E_BADREQ);
	assert_int_equal(core_tag_name_check("a\tb", NULL), -FP_E_BADREQ);
	assert_int_equal(core_tag_name_check("a\x7f", NULL), -FP_E_BADREQ);
	assert_int_equal(core_tag_name_check("a\xc2\x85", NULL), -FP_E_BADREQ);
	/* Not UTF-8: a lone continuation, overlong, a surrogate, cut. */
	assert_int_equal(core_tag_name_check("a\x80", NULL), -FP_E_BADREQ);
	assert_int_equal(core_tag_name_check("\xc0\xaf", NULL), -FP_E_BADREQ);
	assert_int_equal(core_tag_name_check("\xed\xa0\x80", NULL),
	    -FP_E_BADREQ);
	assert_int_equal(core_tag_name_check("\xe2\x98", NULL), -FP_E_BADREQ);
	assert_int_equal(core_tag_name_check("\xf4\x90\x80\x80", NULL),
	    -FP_E_BADREQ);
}

static void
test_iso8601(void **state)
{
	int64_t us;

	(void)state;
	assert_int_equal(core_iso8601_parse("1970-01-01T00:00:00Z", &us), 0);
	assert_int_equal(us, 0);
	assert_int_equal(core_iso8601_parse("2020-03-02T07:40:19Z", &us), 0);
	assert_int_equal(us, INT64_C(1583134819) * 1000000);
	assert_int_equal(core_iso8601_parse("2020-03-02T09:40:19+02:00", &us),
	    0);
	assert_int_equal(us, INT64_C(1583134819) * 1000000);
	assert_int_equal(core_iso8601_parse("2020-03-02T02:40:19-0500", &us),
	    0);
	assert_int_equal(us, INT64_C(1583134819) * 1000000);
	assert_int_equal(core_iso8601_parse("2020-03-02T07:40:19.123456789Z",
	                     &us),
	    0);
	assert_int_equal(us, INT64_C(1583134819) * 1000000 + 123456);
	assert_int_equal(core_iso8601_parse("2024-02-29T23:59:59Z", &us), 0);
	assert_int_equal(core_iso8601_parse("2000-02-29T00:00:00Z", &us), 0);

	assert_int_equal(core_iso8601_parse("2020-03-02T07:40:19", &us), -1);
	assert_int_equal(core_iso8601_parse("2020-03-02", &us), -1);
	assert_int_equal(core_iso8601_parse("2020-03-02 07:40:19Z", &us), -1);
	assert_int_equal(core_iso8601_parse("2020-3-02T07:40:19Z", &us), -1);
	assert_int_equal(core_iso8601_parse("2023-02-29T00:00:00Z", &us), -1);
	assert_int_equal(core_iso8601_parse("1900-02-29T00:00:00Z", &us), -1);
	assert_int_equal(core_iso8601_parse("2020-13-01T00:00:00Z", &us), -1);
	assert_int_equal(core_iso8601_parse("2020-04-31T00:00:00Z", &us), -1);
	assert_int_equal(core_iso8601_parse("2020-01-01T24:00:00Z", &us), -1);
	assert_int_equal(core_iso8601_parse("2020-01-01T00:60:00Z", &us), -1);
	assert_int_equal(core_iso8601_parse("2020-01-01T00:00:60Z", &us), -1);
	assert_int_equal(core_iso8601_parse("2020-01-01T00:00:00.Z", &us), -1);
	assert_int_equal(core_iso8601_parse("2020-01-01T00:00:00+2400", &us),
	    -1);
	assert_int_equal(core_iso8601_parse("2020-01-01T00:00:00Zx", &us), -1);
	assert_int_equal(core_iso8601_parse("2020-01-01T00:00:00z", &us), -1);
	assert_int_equal(core_iso8601_parse("1969-12-31T23:59:59Z", &us), -1);
	assert_int_equal(core_iso8601_parse("1970-01-01T00:00:00+01:00", &us),
	    -1);
	assert_int_equal(core_iso8601_parse("", &us), -1);
	assert_int_equal(core_iso8601_parse(NULL, &us), -1);
}

static void
test_days(void **state)
{
	int64_t d;
	char out[32];

	(void)state;
	assert_int_equal(core_day_parse("1970-01-01", &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(core_day_parse("2020-03-02", &d), 0);
	assert_int_equal(d, 18323);
	assert_int_equal(core_day_parse("2020-03-02T00:00:00Z", &d), -1);
	assert_int_equal(core_day_parse("2020-3-2", &d), -1);
	assert_int_equal(core_day_parse("2020-02-30", &d), -1);
	assert_int_equal(core_day_parse("20200302", &d), -1);
	core_iso8601_format(1583134819, out, sizeof(out));
	assert_string_equal(out, "2020-03-02T07:40:19Z");
}

static void
test_ranges(void **state)
{
	struct fp_status st;
	struct time_range r;
	int64_t now, from, to;

	(void)state;
	assert_int_equal(core_iso8601_parse("2026-12-02T00:00:00Z", &now), 0);
	assert_int_equal(core_report_range("2026-11-01T00:00:00Z", NULL, 180,
	                     now, &r, &st),
	    0);
	assert_int_equal(r.to_us, now);
	memset(&st, 0, sizeof(st));
	assert_int_equal(core_report_range("2026-11-02T00:00:00Z",
	                     "2026-11-01T00:00:00Z", 180, now, &r, &st),
	    -FP_E_BADREQ);
	assert_non_null(strstr(st.msg, "FromDate is after ToDate"));
	memset(&st, 0, sizeof(st));
	assert_int_equal(core_report_range("2026-06-04T23:59:59Z", NULL, 180,
	                     now, &r, &st),
	    -FP_E_BADREQ);
	assert_non_null(strstr(st.msg, "180 days"));
	assert_int_equal(core_report_range("2026-06-05T00:00:00Z", NULL, 180,
	                     now, &r, &st),
	    0);
	/* No limit: any past start. */
	assert_int_equal(core_report_range("2001-01-01T00:00:00Z", NULL, 0, now,
	                     &r, &st),
	    0);
	memset(&st, 0, sizeof(st));
	assert_int_equal(core_report_range("yesterday", NULL, 0, now, &r, &st),
	    -FP_E_BADREQ);
	assert_non_null(strstr(st.msg, "FromDate"));
	memset(&st, 0, sizeof(st));
	assert_int_equal(core_report_range("2026-11-01T00:00:00Z", "soon", 0,
	                     now, &r, &st),
	    -FP_E_BADREQ);
	assert_non_null(strstr(st.msg, "ToDate"));

	assert_int_equal(core_report_days("2026-10-03", NULL, 60, now + 5,
	                     &from, &to, &st),
	    0);
	assert_int_equal(to - from, 60);
	memset(&st, 0, sizeof(st));
	assert_int_equal(core_report_days("2026-10-02", NULL, 60, now, &from,
	                     &to, &st),
	    -FP_E_BADREQ);
	assert_non_null(strstr(st.msg, "60 days"));
	assert_int_equal(core_report_days("2026-11-02", "2026-11-01", 60, now,
	                     &from, &to, &st),
	    -FP_E_BADREQ);
	assert_int_equal(core_report_days("2026-11-02T00:00:00Z", NULL, 60, now,
	                     &from, &to, &st),
	    -FP_E_BADREQ);
	(void)DAY_US;
}

static void
test_paging(void **state)
{
	struct arena *a = arena_new();
	struct fp_status st;
	struct page_pos pos;
	char *tok;

	(void)state;
	assert_int_equal(core_page_pos(0, NULL, 5, 6, &pos, &st), 0);
	assert_int_equal(pos.page, 1);
	assert_int_equal(pos.offset, 0);
	assert_int_equal(pos.k1, 5);
	assert_int_equal(pos.k2, 6);
	assert_int_equal(core_page_pos(3, NULL, 5, 6, &pos, &st), 0);
	assert_int_equal(pos.offset, 200);
	tok = core_page_token(a, &pos, 1234567, 89);
	assert_string_equal(tok, "4.1234567.89");
	assert_int_equal(core_page_pos(0, tok, 5, 6, &pos, &st), 0);
	assert_int_equal(pos.page, 4);
	assert_int_equal(pos.offset, 0);
	assert_int_equal(pos.k1, 1234567);
	assert_int_equal(pos.k2, 89);
	assert_int_equal(core_page_pos(4, tok, 5, 6, &pos, &st), 0);
	memset(&st, 0, sizeof(st));
	assert_int_equal(core_page_pos(5, tok, 5, 6, &pos, &st), -FP_E_BADREQ);
	assert_non_null(strstr(st.msg, "PageNumber"));
	/* A token cannot reach before the range's start. */
	assert_int_equal(core_page_pos(0, "2.1.1", 5, 6, &pos, &st), 0);
	assert_int_equal(pos.k1, 5);
	assert_int_equal(pos.k2, 6);
	assert_int_equal(core_page_pos(0, "x", 0, 0, &pos, &st), -FP_E_BADREQ);
	assert_int_equal(core_page_pos(0, "1.2.3", 0, 0, &pos, &st),
	    -FP_E_BADREQ);
	assert_int_equal(core_page_pos(0, "2.2", 0, 0, &pos, &st),
	    -FP_E_BADREQ);
	assert_int_equal(core_page_pos(0, "2.2.3.4", 0, 0, &pos, &st),
	    -FP_E_BADREQ);
	assert_int_equal(core_page_pos(0, "2. 2.3", 0, 0, &pos, &st),
	    -FP_E_BADREQ);
	assert_int_equal(core_page_pos(0, "2.99999999999999999999.3", 0, 0,
	                     &pos, &st),
	    -FP_E_BADREQ);
	assert_int_equal(core_page_pos(0, "2..3", 0, 0, &pos, &st),
	    -FP_E_BADREQ);
	arena_free(a);
}

static void
test_rots_and_filters(void **state)
{
	static const char *const rots[] = { "0000200456789544",
		"abcdefABCDEF0123" };
	static const char *const bad[] = { "000020045678954" };
	static const char *const bad2[] = { "000020045678954G" };
	static const char *const tags[] = { "a" };
	struct arena *a = arena_new();
	struct report_devices rd;
	struct device_filter f;
	struct fp_status st;
	const char **up;

	(void)state;
	assert_int_equal(core_rots_upper(a, "ROTPublicUIDs", rots, 2, &up, &st),
	    0);
	assert_string_equal(up[1], "ABCDEFABCDEF0123");
	assert_int_equal(core_rots_upper(a, "ROTPublicUIDs", bad, 1, &up, &st),
	    -FP_E_BADREQ);
	assert_int_equal(core_rots_upper(a, "ROTPublicUIDs", bad2, 1, &up, &st),
	    -FP_E_BADREQ);
	assert_string_equal(st.msg, "Bad Request. Invalid ROTPublicUIDs");

	memset(&rd, 0, sizeof(rd));
	memset(&st, 0, sizeof(st));
	assert_int_equal(core_report_filter(a, &rd, SEL_ROTS | SEL_TAGS, 1, &f,
	                     &st),
	    -FP_E_BADREQ);
	assert_string_equal(st.msg,
	    "Bad Request. ROTPublicUIDs or TagNames is required");
	assert_int_equal(core_report_filter(a, &rd, SEL_ROTS | SEL_TAGS, 0, &f,
	                     &st),
	    0);
	assert_int_equal(f.all, 1);
	rd.rots = rots;
	rd.nrots = 2;
	rd.tags = tags;
	rd.ntags = 1;
	memset(&st, 0, sizeof(st));
	assert_int_equal(core_report_filter(a, &rd,
	                     SEL_ROTS | SEL_TAGS | SEL_PROFILE, 1, &f, &st),
	    -FP_E_BADREQ);
	assert_string_equal(st.msg,
	    "Bad Request. Give only one of ROTPublicUIDs and TagNames");
	rd.ntags = 0;
	assert_int_equal(core_report_filter(a, &rd, SEL_ROTS | SEL_TAGS, 1, &f,
	                     &st),
	    0);
	assert_string_equal(f.rots[0], "0000200456789544");
	assert_int_equal(core_notification_type_check("DEVICE_ERROR", &st), 0);
	assert_int_equal(core_notification_type_check("DEVICE_BOOTSTRAP", &st),
	    -FP_E_BADREQ);
	arena_free(a);
}

/* The text[] literal every array of this area is bound as. */
static void
test_text_array(void **state)
{
	static const char *const v[] = { "a", "b\"c", "d\\e", "x,y", "", "NULL",
		"{*}", " s " };
	struct buf b = BUF_INIT;

	(void)state;
	store_tags_text_array(&b, v, sizeof(v) / sizeof(v[0]));
	assert_string_equal((const char *)b.data,
	    "{\"a\",\"b\\\"c\",\"d\\\\e\",\"x,y\",\"\",\"NULL\",\"{*}\","
	    "\" s \"}");
	buf_free(&b);
	store_tags_text_array(&b, v, 0);
	assert_string_equal((const char *)b.data, "{}");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tag_name_ok),
		cmocka_unit_test(test_tag_name_bad),
		cmocka_unit_test(test_iso8601),
		cmocka_unit_test(test_days),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_paging),
		cmocka_unit_test(test_rots_and_filters),
		cmocka_unit_test(test_text_array),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
