/*
 * test_remote_parse: unit tests for the pure parsers of the remote SMTP
 * client (src/deliver/remote_parse.c): reply framing and code consistency,
 * enhanced status extraction, EHLO keywords, line finding limits,
 * dot-stuffing across piece boundaries; and MX rdata parsing and the
 * preference sort of remote_route.c.
 *
 * Security role: pins down that a hostile server's malformed or oversized
 * replies are refused rather than misread, and that a body line starting
 * with "." can never end our DATA early.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "deliver/remote_int.h"
#include "lookup/dns.h"
#include "deliver/remote_parse.h"

static enum rp_status feed(struct rp_reply *r, const char *line)
{
	return rp_reply_feed(r, line, strlen(line));
}

static void test_reply_single(void **state)
{
	struct rp_reply r;
	char s[RP_TEXT_MAX + 32];

	(void)state;
	rp_reply_init(&r);
	assert_int_equal(feed(&r, "550 5.1.1 <bob@x.example>: no such user"), RP_DONE);
	assert_int_equal(r.code, 550);
	assert_string_equal(r.enh, "5.1.1");
	assert_string_equal(r.text, "<bob@x.example>: no such user");
	assert_int_equal(rp_reply_str(&r, s, sizeof s), 0);
	assert_string_equal(s, "550 5.1.1 <bob@x.example>: no such user");
	rp_reply_init(&r);
	assert_int_equal(feed(&r, "250"), RP_DONE);
	assert_int_equal(r.code, 250);
	assert_string_equal(r.enh, "");
}

static void test_reply_multiline(void **state)
{
	struct rp_reply r;

	(void)state;
	rp_reply_init(&r);
	assert_int_equal(feed(&r, "250-mx.example"), RP_MORE);
	assert_int_equal(feed(&r, "250-PIPELINING"), RP_MORE);
	assert_int_equal(feed(&r, "250 SIZE 1000"), RP_DONE);
	assert_int_equal(r.n_lines, 3);
	assert_string_equal(r.text, "mx.example");
	/* a code that changes inside a reply */
	rp_reply_init(&r);
	assert_int_equal(feed(&r, "250-a"), RP_MORE);
	assert_int_equal(feed(&r, "251 b"), RP_BAD);
}

static void test_reply_malformed(void **state)
{
	static const char *bad[] = {"",	     "25",    "2500 x", "25x ok", "150 x",
				    "650 x", "260 x", "250x",	"abc",	  "250_x"};
	struct rp_reply r;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rp_reply_init(&r);
		assert_int_equal(feed(&r, bad[i]), RP_BAD);
	}
	/* too many lines */
	rp_reply_init(&r);
	for (int i = 0; i < RP_LINES_MAX; i++)
		assert_int_equal(feed(&r, "250-x"), RP_MORE);
	assert_int_equal(feed(&r, "250 x"), RP_BAD);
}

static void test_reply_enhanced(void **state)
{
	struct rp_reply r;

	(void)state;
	/* class must match the code's first digit */
	rp_reply_init(&r);
	assert_int_equal(feed(&r, "451 5.1.1 mismatch"), RP_DONE);
	assert_string_equal(r.enh, "");
	assert_string_equal(r.text, "5.1.1 mismatch");
	rp_reply_init(&r);
	assert_int_equal(feed(&r, "451 4.7.1234 four digits"), RP_DONE);
	assert_string_equal(r.enh, "");
	rp_reply_init(&r);
	assert_int_equal(feed(&r, "421 4.4.2"), RP_DONE);
	assert_string_equal(r.enh, "4.4.2");
	assert_string_equal(r.text, "");
	/* control characters are sanitized */
	rp_reply_init(&r);
	assert_int_equal(rp_reply_feed(&r,
				       "550 a\x01\x7f"
				       "b",
				       8),
			 RP_DONE);
	assert_string_equal(r.text, "a??b");
}

static void test_ehlo_keywords(void **state)
{
	uint64_t size = 7;

	(void)state;
	assert_int_equal(rp_ehlo_keyword("PIPELINING", 10, &size), RP_EXT_PIPELINING);
	assert_int_equal(rp_ehlo_keyword("pipelining", 10, &size), RP_EXT_PIPELINING);
	assert_int_equal(rp_ehlo_keyword("PIPELININGX", 11, &size), 0);
	assert_int_equal(rp_ehlo_keyword("STARTTLS", 8, &size), RP_EXT_STARTTLS);
	assert_int_equal(rp_ehlo_keyword("8BITMIME", 8, &size), RP_EXT_8BITMIME);
	assert_int_equal(rp_ehlo_keyword("SMTPUTF8", 8, &size), RP_EXT_SMTPUTF8);
	assert_int_equal(rp_ehlo_keyword("SIZE 52428800", 13, &size), RP_EXT_SIZE);
	assert_int_equal(size, 52428800);
	assert_int_equal(rp_ehlo_keyword("SIZE", 4, &size), RP_EXT_SIZE);
	assert_int_equal(size, 0);
	assert_int_equal(rp_ehlo_keyword("SIZE 12x", 8, &size), RP_EXT_SIZE);
	assert_int_equal(size, 0);
	assert_int_equal(rp_ehlo_keyword("SIZE 99999999999999999999", 25, &size), RP_EXT_SIZE);
	assert_int_equal(size, 0);
	assert_int_equal(rp_ehlo_keyword("AUTH LOGIN PLAIN", 16, &size), RP_EXT_AUTH_PLAIN);
	assert_int_equal(rp_ehlo_keyword("AUTH LOGIN", 10, &size), 0);
	assert_int_equal(rp_ehlo_keyword("AUTH PLAINX", 11, &size), 0);
}

static void test_line_find(void **state)
{
	size_t used;

	(void)state;
	assert_int_equal(rp_line_find("250 ok\r\nrest", 12, 100, &used), 6);
	assert_int_equal(used, 8);
	assert_int_equal(rp_line_find("250 ok\nrest", 11, 100, &used), 6);
	assert_int_equal(used, 7);
	assert_int_equal(rp_line_find("250 ok", 6, 100, &used), -1);
	assert_int_equal(rp_line_find("250 ok\r", 7, 100, &used), -1);
	assert_int_equal(rp_line_find("0123456789\r\n", 12, 10, &used), 10);
	assert_int_equal(rp_line_find("0123456789a\r\n", 13, 10, &used), -2);
	assert_int_equal(rp_line_find("0123456789abc", 13, 10, &used), -2);
}

static void stuff_all(const char *in, size_t n, size_t piece, size_t cap, char *out, size_t *olen)
{
	int bol = 1;
	char buf[64];
	size_t pos = 0, made;

	*olen = 0;
	while (pos < n) {
		size_t take = n - pos < piece ? n - pos : piece;
		size_t used = rp_dot_stuff(in + pos, take, &bol, buf, cap, &made);
		assert_true(used > 0);
		memcpy(out + *olen, buf, made);
		*olen += made;
		pos += used;
	}
	out[*olen] = '\0';
}

static void test_dot_stuff(void **state)
{
	static const char in[] = ".a\r\nb\r\n..c\r\n.\r\nd.\r\n";
	static const char want[] = "..a\r\nb\r\n...c\r\n..\r\nd.\r\n";
	char out[128];
	size_t olen;

	(void)state;
	for (size_t piece = 1; piece <= sizeof in; piece++)
		for (size_t cap = 2; cap <= 8; cap++) {
			stuff_all(in, sizeof in - 1, piece, cap, out, &olen);
			assert_string_equal(out, want);
		}
	assert_string_equal(rp_data_end(1), ".\r\n");
	assert_string_equal(rp_data_end(0), "\r\n.\r\n");
	assert_true(rp_ends_crlf("x\r\n", 3));
	assert_false(rp_ends_crlf("x\n", 2));
	assert_true(rp_ends_crlf("", 0));
}

static void test_count_received(void **state)
{
	static const char m[] = "Received: a\r\nreceived: b\r\n\tcont\r\nX-Received: no\r\n"
				"RECEIVED:c\r\n\r\nReceived: in the body\r\n";

	(void)state;
	assert_int_equal(rp_count_received(m, sizeof m - 1, 4096), 3);
	assert_int_equal(rp_count_received(m, 13, 4096), 1);
	assert_int_equal(rp_count_received(m, sizeof m - 1, 10), 1);
	assert_int_equal(rp_count_received("\r\nReceived: x\r\n", 16, 100), 0);
	assert_int_equal(rp_count_received("", 0, 100), 0);
}

static void test_mx_rdata(void **state)
{
	static const unsigned char mx[] = {0,	10,  2,	  'm', 'x', 7,	 'e',
					   'x', 'a', 'm', 'p', 'l', 'e', 0};
	static const unsigned char null_mx[] = {0, 0, 0};
	static const unsigned char trail[] = {0, 10, 2, 'm', 'x', 0, 1};
	static const unsigned char noroot[] = {0, 10, 2, 'm', 'x'};
	static const unsigned char badch[] = {0, 10, 2, 'm', '/', 0};
	char name[256];
	unsigned pref;

	(void)state;
	assert_int_equal(dns_mx_rdata(mx, sizeof mx, &pref, name, sizeof name), 0);
	assert_int_equal(pref, 10);
	assert_string_equal(name, "mx.example");
	assert_int_equal(dns_mx_rdata(null_mx, sizeof null_mx, &pref, name, sizeof name), 0);
	assert_string_equal(name, "");
	assert_int_equal(dns_mx_rdata(trail, sizeof trail, &pref, name, sizeof name), -1);
	assert_int_equal(dns_mx_rdata(noroot, sizeof noroot, &pref, name, sizeof name), -1);
	assert_int_equal(dns_mx_rdata(badch, sizeof badch, &pref, name, sizeof name), -1);
	assert_int_equal(dns_mx_rdata(mx, sizeof mx, &pref, name, 5), -1);
}

static void test_route_sort(void **state)
{
	struct rhost h[6];
	static const unsigned prefs[6] = {30, 10, 20, 10, 0, 20};

	(void)state;
	memset(h, 0, sizeof h);
	for (int i = 0; i < 6; i++)
		h[i].pref = prefs[i];
	route_sort(h, 6);
	for (int i = 1; i < 6; i++)
		assert_true(h[i - 1].pref <= h[i].pref);
	assert_int_equal(h[0].pref, 0);
	assert_int_equal(h[5].pref, 30);
}

static void test_tlsa_parse(void **state)
{
	unsigned char rd[3 + 32];
	struct rtlsa t;

	(void)state;
	memset(rd, 0xab, sizeof rd);
	rd[0] = 3, rd[1] = 1, rd[2] = 1;
	assert_int_equal(rtls_tlsa_parse(rd, sizeof rd, &t), 1);
	rd[0] = 2;
	assert_int_equal(rtls_tlsa_parse(rd, sizeof rd, &t), 1);
	rd[0] = 1; /* PKIX-EE: not for SMTP */
	assert_int_equal(rtls_tlsa_parse(rd, sizeof rd, &t), 0);
	rd[0] = 3, rd[2] = 2; /* SHA-512 needs 64 octets */
	assert_int_equal(rtls_tlsa_parse(rd, sizeof rd, &t), 0);
	rd[2] = 1;
	assert_int_equal(rtls_tlsa_parse(rd, 3, &t), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reply_single),    cmocka_unit_test(test_reply_multiline),
	    cmocka_unit_test(test_reply_malformed), cmocka_unit_test(test_reply_enhanced),
	    cmocka_unit_test(test_ehlo_keywords),   cmocka_unit_test(test_line_find),
	    cmocka_unit_test(test_dot_stuff),	    cmocka_unit_test(test_count_received),
	    cmocka_unit_test(test_mx_rdata),	    cmocka_unit_test(test_route_sort),
	    cmocka_unit_test(test_tlsa_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
