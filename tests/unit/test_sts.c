/*
 * test_sts: unit tests for the pure parts of MTA-STS (src/deliver/
 * remote_sts_parse.c): the policy parser (CRLF and LF, missing and
 * repeated fields, max_age bounds, mx counts, bad versions and modes),
 * MX pattern matching (RFC 8461 4.1), choosing the _mta-sts TXT record
 * (RFC 8461 3.1) and the cache file codec; and the lookup contract when
 * mta-sts is off (NULL, once, from the loop, never inside sts_lookup).
 *
 * Security role: pins down that a malformed policy is refused as a whole,
 * that a wildcard covers exactly one label, and that several STSv1
 * records mean no policy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "deliver/remote_sts.h"
#include "deliver/remote_sts_int.h"
#include "util/conf.h"

static int parse(const char *text, struct sts_policy *p, const char **why)
{
	*why = NULL;
	return sts_policy_parse(text, strlen(text), p, why);
}

static void test_parse_enforce_crlf(void **state)
{
	struct sts_policy p;
	const char *why;

	(void)state;
	assert_int_equal(parse("version: STSv1\r\nmode: enforce\r\nmx: mx1.Example.ORG\r\n"
			       "mx: *.example.net\r\nmax_age: 86400\r\n",
			       &p, &why),
			 0);
	assert_int_equal(p.mode, STS_ENFORCE);
	assert_int_equal(p.n_mx, 2);
	assert_string_equal(p.mx[0], "mx1.example.org");
	assert_string_equal(p.mx[1], "*.example.net");
	assert_int_equal(p.max_age, 86400);
}

static void test_parse_lf_and_no_final_newline(void **state)
{
	struct sts_policy p;
	const char *why;

	(void)state;
	assert_int_equal(
	    parse("version: STSv1\nmode: testing\nmx: mx.example.org\nmax_age: 0", &p, &why), 0);
	assert_int_equal(p.mode, STS_TESTING);
	assert_int_equal(p.max_age, 0);
	/* mixed line ends, tabs around values, blank lines */
	assert_int_equal(parse("version:\tSTSv1 \r\n\nmode:  none\nmax_age: 5\t\r\n\r\n", &p, &why),
			 0);
	assert_int_equal(p.mode, STS_NONE);
	assert_int_equal(p.n_mx, 0);
}

static void test_parse_unknown_and_repeated(void **state)
{
	struct sts_policy p;
	const char *why;

	(void)state;
	assert_int_equal(parse("version: STSv1\nx-extra.field_1: whatever=;value\nmode: "
			       "enforce\nmode: none\nmx: a.example\nmax_age: 10\nmax_age: 99\n",
			       &p, &why),
			 0);
	assert_int_equal(p.mode, STS_ENFORCE); /* the first of a repeated field counts */
	assert_int_equal(p.max_age, 10);
}

static void test_parse_missing_fields(void **state)
{
	struct sts_policy p;
	const char *why;

	(void)state;
	assert_int_equal(parse("mode: enforce\nmx: a.example\nmax_age: 1\n", &p, &why), -1);
	assert_string_equal(why, "no version field");
	assert_int_equal(parse("version: STSv1\nmx: a.example\nmax_age: 1\n", &p, &why), -1);
	assert_string_equal(why, "no mode field");
	assert_int_equal(parse("version: STSv1\nmode: enforce\nmx: a.example\n", &p, &why), -1);
	assert_string_equal(why, "no max_age field");
	assert_int_equal(parse("version: STSv1\nmode: enforce\nmax_age: 1\n", &p, &why), -1);
	assert_string_equal(why, "mode enforce or testing without an mx field");
	assert_int_equal(parse("version: STSv1\nmode: testing\nmax_age: 1\n", &p, &why), -1);
	assert_int_equal(parse("", &p, &why), -1);
	assert_int_equal(p.mode, STS_NONE);
	assert_int_equal(p.n_mx, 0);
}

static void test_parse_bad_values(void **state)
{
	static const char *const bad[] = {
	    "version: STSv2\nmode: none\nmax_age: 1\n",
	    "version: stsv1\nmode: none\nmax_age: 1\n",
	    "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n",
	    "version: STSv1\nmode: enforce now\nmx: a.example\nmax_age: 1\n",
	    "version: STSv1\nmode: none\nmax_age: -1\n",
	    "version: STSv1\nmode: none\nmax_age: 12345678901\n",
	    "version: STSv1\nmode: none\nmax_age: 31557601\n",
	    "version: STSv1\nmode: none\nmax_age: \n",
	    "version: STSv1\nmode: enforce\nmx: *.\nmax_age: 1\n",
	    "version: STSv1\nmode: enforce\nmx: a.*.example\nmax_age: 1\n",
	    "version: STSv1\nmode: enforce\nmx: mx.example.\nmax_age: 1\n",
	    "version: STSv1\nmode: enforce\nmx: -mx.example\nmax_age: 1\n",
	    "version: STSv1\nmode: enforce\nmx: mx..example\nmax_age: 1\n",
	    "version: STSv1\nmode: none\nmax_age: 1\nno colon here\n",
	    "version : STSv1\nmode: none\nmax_age: 1\n",
	    "version: STSv1\nmode: none\nmax_age: 1\nbad\x01: x\n",
	    "version: STSv1\nmode: none\nmax_age: 1\nx: a\rb\n",
	    "version: STSv1\nmode: none\nmax_age: 1\nx: caf\xc3\xa9\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct sts_policy p;
		const char *why = NULL;
		if (sts_policy_parse(bad[i], strlen(bad[i]), &p, &why) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(why);
	}
}

static void test_parse_max_age_bounds(void **state)
{
	struct sts_policy p;
	const char *why;

	(void)state;
	assert_int_equal(parse("version: STSv1\nmode: none\nmax_age: 31557600\n", &p, &why), 0);
	assert_int_equal(p.max_age, STS_MAX_AGE_LIMIT);
	assert_int_equal(parse("version: STSv1\nmode: none\nmax_age: 0000000001\n", &p, &why), 0);
	assert_int_equal(p.max_age, 1);
}

static void test_parse_mx_count(void **state)
{
	char text[2048] = "version: STSv1\nmode: enforce\nmax_age: 60\n";
	struct sts_policy p;
	const char *why;

	(void)state;
	for (int i = 0; i < STS_MX_MAX; i++) {
		size_t n = strlen(text);
		snprintf(text + n, sizeof text - n, "mx: mx%d.example.org\n", i);
	}
	assert_int_equal(parse(text, &p, &why), 0);
	assert_int_equal(p.n_mx, STS_MX_MAX);
	assert_string_equal(p.mx[STS_MX_MAX - 1], "mx15.example.org");
	size_t n = strlen(text);
	snprintf(text + n, sizeof text - n, "mx: one-more.example.org\n");
	assert_int_equal(parse(text, &p, &why), -1);
	assert_string_equal(why, "more than 16 mx patterns");
}

static void test_mx_match(void **state)
{
	(void)state;
	assert_true(sts_mx_match("mx.example.org", "mx.example.org"));
	assert_true(sts_mx_match("mx.example.org", "MX.Example.Org"));
	assert_true(sts_mx_match("mx.example.org", "mx.example.org."));
	assert_false(sts_mx_match("mx.example.org", "mx.example.org.evil"));
	assert_false(sts_mx_match("mx.example.org", "xmx.example.org"));
	assert_true(sts_mx_match("*.example.org", "mx1.example.org"));
	assert_true(sts_mx_match("*.Example.org", "MX1.example.ORG"));
	assert_false(sts_mx_match("*.example.org", "a.b.example.org")); /* one label only */
	assert_false(sts_mx_match("*.example.org", "example.org"));
	assert_false(sts_mx_match("*.example.org", ".example.org"));
	assert_false(sts_mx_match("*.example.org", "mx.example.org.net"));
	assert_false(sts_mx_match("*.example.org", "mxexample.org"));
	assert_false(sts_mx_match("", "mx.example.org"));
	assert_false(sts_mx_match("mx.example.org", ""));
	assert_false(sts_mx_match("*.", "a."));
}

static void test_policy_mx_ok(void **state)
{
	struct sts_policy p;
	const char *why;

	(void)state;
	assert_int_equal(parse("version: STSv1\nmode: enforce\nmx: mail.example.org\n"
			       "mx: *.mx.example.net\nmax_age: 60\n",
			       &p, &why),
			 0);
	assert_true(sts_policy_mx_ok(&p, "mail.example.org"));
	assert_true(sts_policy_mx_ok(&p, "a.mx.example.net"));
	assert_false(sts_policy_mx_ok(&p, "evil.example.org"));
}

/* ---- TXT records -------------------------------------------------------- */

/* Wire form of one TXT rdata from NUL-separated pieces ("a\0b\0"). */
static size_t txt_wire(unsigned char *out, const char *const *parts, size_t n)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		size_t k = strlen(parts[i]);
		out[len++] = (unsigned char)k;
		memcpy(out + len, parts[i], k);
		len += k;
	}
	return len;
}

static int txt_one(const char *text, char id[33], const char **why)
{
	unsigned char wire[300];
	const unsigned char *rr[1] = {wire};
	size_t len[1];

	len[0] = txt_wire(wire, &text, 1);
	return sts_txt_select(rr, len, 1, id, why);
}

static void test_txt_valid(void **state)
{
	char id[33];
	const char *why;

	(void)state;
	assert_int_equal(txt_one("v=STSv1; id=20160831085700Z;", id, &why), 0);
	assert_string_equal(id, "20160831085700Z");
	assert_int_equal(txt_one("v=STSv1;id=abc", id, &why), 0);
	assert_string_equal(id, "abc");
	assert_int_equal(txt_one("v=STSv1 ; ext=1 ;\tid=X1 ; id=second", id, &why), 0);
	assert_string_equal(id, "X1");
	assert_int_equal(txt_one("v=STSv1; id=12345678901234567890123456789012", id, &why), 0);
}

static void test_txt_invalid(void **state)
{
	static const char *const bad[] = {
	    "v=STSv1;",
	    "v=STSv1; id=",
	    "v=STSv1; id=has-dash",
	    "v=STSv1; id=123456789012345678901234567890123",
	    "v=STSv1; ext=1",
	    "v=STSv1; id=a b",
	    "v=STSv1; =x; id=a",
	};
	char id[33];
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (txt_one(bad[i], id, &why) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_string_equal(why, "malformed v=STSv1 TXT record");
		assert_string_equal(id, "");
	}
	assert_int_equal(txt_one("v=spf1 -all", id, &why), -1);
	assert_string_equal(why, "no v=STSv1 TXT record");
	assert_int_equal(txt_one("v=STSv10; id=1", id, &why), -1);
	assert_string_equal(why, "no v=STSv1 TXT record");
	assert_int_equal(txt_one("v=STSv1", id, &why), -1);
	assert_string_equal(why, "no v=STSv1 TXT record");
}

static void test_txt_several_and_split(void **state)
{
	static const char *const split[] = {"v=STSv1; id=", "abc123"};
	static const char *const other[] = {"v=spf1 -all"};
	static const char *const sts2[] = {"v=STSv1; id=two"};
	unsigned char w1[100], w2[100], w3[100];
	const unsigned char *rr[3] = {w1, w2, w3};
	size_t len[3];
	char id[33];
	const char *why;

	(void)state;
	len[0] = txt_wire(w1, split, 2); /* strings of one record are joined */
	len[1] = txt_wire(w2, other, 1);
	assert_int_equal(sts_txt_select(rr, len, 2, id, &why), 0);
	assert_string_equal(id, "abc123");
	len[2] = txt_wire(w3, sts2, 1);
	assert_int_equal(sts_txt_select(rr, len, 3, id, &why), -1);
	assert_string_equal(why, "several v=STSv1 TXT records");
	/* a string length running past the rdata */
	w1[0] = 90;
	assert_int_equal(sts_txt_select(rr, len, 1, id, &why), -1);
	assert_int_equal(sts_txt_select(rr, len, 0, id, &why), -1);
	assert_string_equal(why, "no v=STSv1 TXT record");
}

/* ---- cache files -------------------------------------------------------- */

static void test_cache_roundtrip(void **state)
{
	struct sts_policy p, q;
	char text[STS_CACHE_FILE_MAX];
	const char *why;
	size_t len;

	(void)state;
	assert_int_equal(parse("version: STSv1\nmode: testing\nmx: a.example\nmx: *.b.example\n"
			       "max_age: 604800\n",
			       &p, &why),
			 0);
	snprintf(p.id, sizeof p.id, "abc42");
	p.fetched = 1700000000;
	assert_int_equal(sts_cache_encode(&p, text, sizeof text, &len), 0);
	assert_int_equal(len, strlen(text));
	assert_int_equal(sts_cache_decode(text, len, &q, &why), 0);
	assert_int_equal(q.mode, STS_TESTING);
	assert_int_equal(q.n_mx, 2);
	assert_string_equal(q.mx[1], "*.b.example");
	assert_int_equal(q.max_age, 604800);
	assert_string_equal(q.id, "abc42");
	assert_int_equal(q.fetched, 1700000000);
	assert_int_equal(sts_cache_encode(&p, text, 40, &len), -1);
}

static void test_cache_bad(void **state)
{
	static const char *const bad[] = {
	    "",
	    "sealpost-mta-sts 1 \nversion: STSv1\nmode: none\nmax_age: 1\n",
	    "sealpost-mta-sts 1 12 \nversion: STSv1\nmode: none\nmax_age: 1\n",
	    "sealpost-mta-sts 1 12 a-b\nversion: STSv1\nmode: none\nmax_age: 1\n",
	    "sealpost-mta-sts 2 12 ab\nversion: STSv1\nmode: none\nmax_age: 1\n",
	    "sealpost-mta-sts 1 99999999999999999999 ab\nversion: STSv1\nmode: none\nmax_age: 1\n",
	    "sealpost-mta-sts 1 12 ab\nversion: STSv1\nmode: none\n",
	};
	struct sts_policy p;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (sts_cache_decode(bad[i], strlen(bad[i]), &p, &why) != -1)
			fail_msg("accepted: %s", bad[i]);
}

/* ---- the lookup contract with mta-sts off ------------------------------- */

struct off_run {
	int calls;
	int in_lookup;
	int got_null;
	char why[64];
};

static void off_cb(void *arg, const struct sts_policy *p, const char *why)
{
	struct off_run *r = arg;

	assert_false(r->in_lookup);
	r->calls++;
	r->got_null = p == NULL;
	snprintf(r->why, sizeof r->why, "%s", why);
}

static void test_lookup_off(void **state)
{
	static struct conf c;
	struct event_base *base = event_base_new();
	struct off_run r = {0};

	(void)state;
	assert_non_null(base);
	conf_defaults(&c);
	c.out.mta_sts = 0;
	assert_int_equal(sts_init_dir(base, &c, NULL), 0);
	r.in_lookup = 1;
	sts_lookup_why("example.org", off_cb, &r);
	r.in_lookup = 0;
	assert_int_equal(r.calls, 0);
	(void)event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(r.calls, 1);
	assert_true(r.got_null);
	assert_string_equal(r.why, "mta-sts is off");
	(void)event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(r.calls, 1);
	sts_shutdown();
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_enforce_crlf),
	    cmocka_unit_test(test_parse_lf_and_no_final_newline),
	    cmocka_unit_test(test_parse_unknown_and_repeated),
	    cmocka_unit_test(test_parse_missing_fields),
	    cmocka_unit_test(test_parse_bad_values),
	    cmocka_unit_test(test_parse_max_age_bounds),
	    cmocka_unit_test(test_parse_mx_count),
	    cmocka_unit_test(test_mx_match),
	    cmocka_unit_test(test_policy_mx_ok),
	    cmocka_unit_test(test_txt_valid),
	    cmocka_unit_test(test_txt_invalid),
	    cmocka_unit_test(test_txt_several_and_split),
	    cmocka_unit_test(test_cache_roundtrip),
	    cmocka_unit_test(test_cache_bad),
	    cmocka_unit_test(test_lookup_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
