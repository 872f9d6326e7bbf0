/*
 * test_dnsbl: unit tests for the pure parts of src/lookup/dnsbl.c (query
 * names for IPv4 and IPv6, exact buffer boundaries, which A answers count
 * as "listed") and for dnsbl_check's callback contract when no query can
 * be sent (no lists; no resolver).
 *
 * Security role: pins down that a query name is never cut silently and
 * that list-operator error answers (127.255.255.x) never list a client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "lookup/dns.h"
#include "lookup/dnsbl.h"

static const unsigned char V4[4] = {192, 0, 2, 1};

static void v6(const char *text, unsigned char out[16])
{
	assert_int_equal(inet_pton(AF_INET6, text, out), 1);
}

static void test_name_v4(void **state)
{
	char out[DNS_NAME_MAX];

	(void)state;
	assert_int_equal(dnsbl_query_name(AF_INET, V4, "zen.example", out, sizeof out), 0);
	assert_string_equal(out, "1.2.0.192.zen.example");
	const unsigned char hi[4] = {255, 255, 255, 255};
	assert_int_equal(dnsbl_query_name(AF_INET, hi, "b.example", out, sizeof out), 0);
	assert_string_equal(out, "255.255.255.255.b.example");
}

static void test_name_v6(void **state)
{
	unsigned char a[16];
	char out[DNS_NAME_MAX];

	(void)state;
	v6("2001:db8::1", a);
	assert_int_equal(dnsbl_query_name(AF_INET6, a, "bl.example", out, sizeof out), 0);
	assert_string_equal(
	    out, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example");
	v6("fedc:ba98:7654:3210:0123:4567:89ab:cdef", a);
	assert_int_equal(dnsbl_query_name(AF_INET6, a, "x", out, sizeof out), 0);
	assert_string_equal(out,
			    "f.e.d.c.b.a.9.8.7.6.5.4.3.2.1.0.0.1.2.3.4.5.6.7.8.9.a.b.c.d.e.f.x");
}

/* The name must fit exactly: cap = strlen + 1 works, one less fails. */
static void test_name_boundary(void **state)
{
	char out[DNS_NAME_MAX];
	const char *want = "1.2.0.192.zen.example";
	size_t need = strlen(want) + 1;

	(void)state;
	assert_int_equal(dnsbl_query_name(AF_INET, V4, "zen.example", out, need), 0);
	assert_string_equal(out, want);
	memset(out, 'x', sizeof out);
	assert_int_equal(dnsbl_query_name(AF_INET, V4, "zen.example", out, need - 1), -1);
	assert_int_equal(out[0], '\0');
	assert_int_equal(dnsbl_query_name(AF_INET, V4, "zen.example", out, 0), -1);

	unsigned char a[16];
	v6("::", a);
	assert_int_equal(dnsbl_query_name(AF_INET6, a, "z", out, 64 + 1 + 1), 0);
	assert_int_equal(strlen(out), 65);
	assert_int_equal(dnsbl_query_name(AF_INET6, a, "z", out, 64 + 1), -1);
	assert_int_equal(dnsbl_query_name(AF_INET6, a, "z", out, 10), -1);
}

/* A name longer than DNS allows (253) is refused even with room for it. */
static void test_name_dns_limit(void **state)
{
	char zone[DNS_NAME_MAX + 8], out[1024];
	size_t prefix = strlen("1.2.0.192.");

	(void)state;
	memset(zone, 'a', sizeof zone);
	zone[DNS_NAME_MAX - 1 - prefix] = '\0'; /* total 253: fits */
	assert_int_equal(dnsbl_query_name(AF_INET, V4, zone, out, sizeof out), 0);
	assert_int_equal(strlen(out), DNS_NAME_MAX - 1);
	zone[DNS_NAME_MAX - 1 - prefix] = 'a';
	zone[DNS_NAME_MAX - prefix] = '\0'; /* total 254: too long */
	assert_int_equal(dnsbl_query_name(AF_INET, V4, zone, out, sizeof out), -1);
	memset(zone, 'a', sizeof zone); /* not even terminated within bounds */
	assert_int_equal(dnsbl_query_name(AF_INET, V4, zone, out, sizeof out), -1);
}

static void test_name_bad_input(void **state)
{
	char out[DNS_NAME_MAX];

	(void)state;
	assert_int_equal(dnsbl_query_name(AF_INET, V4, "", out, sizeof out), -1);
	assert_int_equal(dnsbl_query_name(AF_INET, V4, ".zen.example", out, sizeof out), -1);
	assert_int_equal(dnsbl_query_name(AF_UNIX, V4, "zen.example", out, sizeof out), -1);
	assert_int_equal(dnsbl_query_name(AF_INET, NULL, "zen.example", out, sizeof out), -1);
	assert_int_equal(dnsbl_query_name(AF_INET, V4, NULL, out, sizeof out), -1);
}

static uint32_t ip(unsigned a, unsigned b, unsigned c, unsigned d)
{
	return (uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | d;
}

static void test_match_default(void **state)
{
	struct conf_dnsbl b = {.zone = "zen.example", .weight = 1};

	(void)state;
	assert_true(dnsbl_answer_matches(&b, ip(127, 0, 0, 2)));
	assert_true(dnsbl_answer_matches(&b, ip(127, 0, 0, 0)));
	assert_true(dnsbl_answer_matches(&b, ip(127, 1, 2, 3)));
	assert_true(dnsbl_answer_matches(&b, ip(127, 255, 254, 255)));
	/* list errors: query refused, rate limited, typing error */
	assert_false(dnsbl_answer_matches(&b, ip(127, 255, 255, 252)));
	assert_false(dnsbl_answer_matches(&b, ip(127, 255, 255, 254)));
	assert_false(dnsbl_answer_matches(&b, ip(127, 255, 255, 255)));
	assert_false(dnsbl_answer_matches(&b, ip(127, 255, 255, 0)));
	/* outside 127/8: a wildcard or a hijacked NXDOMAIN */
	assert_false(dnsbl_answer_matches(&b, ip(126, 255, 255, 255)));
	assert_false(dnsbl_answer_matches(&b, ip(128, 0, 0, 2)));
	assert_false(dnsbl_answer_matches(&b, ip(192, 0, 2, 1)));
	assert_false(dnsbl_answer_matches(&b, 0));
}

static void test_match_list(void **state)
{
	struct conf_dnsbl b = {.zone = "zen.example", .weight = 2};

	(void)state;
	b.match[0] = ip(127, 0, 0, 2);
	b.match[1] = ip(127, 0, 0, 4);
	b.n_match = 2;
	assert_true(dnsbl_answer_matches(&b, ip(127, 0, 0, 2)));
	assert_true(dnsbl_answer_matches(&b, ip(127, 0, 0, 4)));
	assert_false(dnsbl_answer_matches(&b, ip(127, 0, 0, 3)));
	assert_false(dnsbl_answer_matches(&b, ip(127, 0, 0, 10)));
	assert_false(dnsbl_answer_matches(&b, ip(127, 255, 255, 254)));
	/* an operator who names an answer gets exactly that answer */
	b.match[0] = ip(127, 255, 255, 254);
	b.n_match = 1;
	assert_true(dnsbl_answer_matches(&b, ip(127, 255, 255, 254)));
	assert_false(dnsbl_answer_matches(&b, ip(127, 0, 0, 4)));
	/* a count beyond the array is clamped, never read past it */
	b.n_match = CONF_DNSBL_MATCH_MAX + 5;
	assert_true(dnsbl_answer_matches(&b, ip(127, 255, 255, 254)));
}

static int calls;
static struct dnsbl_verdict last;

static void record(void *arg, const struct dnsbl_verdict *v)
{
	(void)arg;
	calls++;
	last = *v;
}

static void test_check_no_lists(void **state)
{
	struct conf_limits l;

	(void)state;
	conf_limits_defaults(&l);
	calls = 0;
	assert_int_equal(dnsbl_check(&l, AF_INET, V4, record, NULL), 0);
	assert_int_equal(calls, 1);
	assert_int_equal(last.score, 0);
	assert_int_equal(last.timed_out, 0);
	assert_string_equal(last.names, "");
}

/* Without dns_init no query can start: each list counts as timed out and
 * the verdict still arrives exactly once, before dnsbl_check returns. */
static void test_check_no_resolver(void **state)
{
	struct conf_limits l;

	(void)state;
	conf_limits_defaults(&l);
	snprintf(l.dnsbl[0].zone, sizeof l.dnsbl[0].zone, "a.example");
	snprintf(l.dnsbl[1].zone, sizeof l.dnsbl[1].zone, "b.example");
	l.dnsbl[0].weight = l.dnsbl[1].weight = 1;
	l.n_dnsbl = 2;
	calls = 0;
	assert_int_equal(dnsbl_check(&l, AF_INET, V4, record, NULL), 0);
	assert_int_equal(calls, 1);
	assert_int_equal(last.score, 0);
	assert_int_equal(last.timed_out, 2);
	assert_int_equal(last.state[0], DNSBL_TIMEOUT);
	assert_int_equal(last.state[1], DNSBL_TIMEOUT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_v4),	      cmocka_unit_test(test_name_v6),
	    cmocka_unit_test(test_name_boundary),     cmocka_unit_test(test_name_dns_limit),
	    cmocka_unit_test(test_name_bad_input),    cmocka_unit_test(test_match_default),
	    cmocka_unit_test(test_match_list),	      cmocka_unit_test(test_check_no_lists),
	    cmocka_unit_test(test_check_no_resolver),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
