/*
 * Unit tests for src/cli/send_addr.c: RFC 5322 address-list extraction
 * (display names, quoted strings, comments, groups, angle addresses, folded
 * lines, malformed input), the header-block helpers used by `sealpost send
 * -t`, and the stdin normalizer (LF/CR/CRLF to CRLF, the "." line, long
 * lines), which is also fed in random splits and checked against the
 * whole-buffer result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/send_addr.h"

#define LIT(s) (s), (sizeof(s) - 1)

static char store[64][SEND_ADDR_MAX];
static struct send_rcpts R;
static const char *why;

static void reset(size_t cap)
{
	memset(store, 0, sizeof store);
	R.addr = store;
	R.n = 0;
	R.cap = cap;
	why = NULL;
}

/* Parse in; return the addresses joined with '|' (or "ERR"). */
static const char *parse(const char *in)
{
	static char joined[4096];
	size_t o = 0;

	reset(64);
	if (send_addr_list(in, strlen(in), &R, &why) < 0) {
		assert_non_null(why);
		return "ERR";
	}
	joined[0] = '\0';
	for (size_t i = 0; i < R.n; i++) {
		int w = snprintf(joined + o, sizeof joined - o, "%s%s", i ? "|" : "", R.addr[i]);
		assert_true(w > 0 && (size_t)w < sizeof joined - o);
		o += (size_t)w;
	}
	return joined;
}

/* ---- address lists ---------------------------------------------------- */

static void test_plain(void **state)
{
	assert_string_equal(parse("bob@example.test"), "bob@example.test");
	assert_string_equal(parse("  bob@example.test  "), "bob@example.test");
	assert_string_equal(parse("bob"), "bob"); /* unqualified: the caller qualifies */
}

static void test_list(void **state)
{
	assert_string_equal(parse("a@x.test, b@y.test,c@z.test"), "a@x.test|b@y.test|c@z.test");
	assert_string_equal(parse("a@x.test,,, b@y.test,"), "a@x.test|b@y.test");
}

static void test_empty(void **state)
{
	assert_string_equal(parse(""), "");
	assert_string_equal(parse("   "), "");
	assert_string_equal(parse(" , ,"), "");
	assert_string_equal(parse("(just a comment)"), "");
	reset(4);
	assert_int_equal(send_addr_list(NULL, 0, &R, &why), 0);
	assert_int_equal(R.n, 0);
}

static void test_display_name(void **state)
{
	assert_string_equal(parse("Alice Example <alice@example.test>"), "alice@example.test");
	assert_string_equal(parse("John Q. Public <jqp@example.test>, b@x.test"),
			    "jqp@example.test|b@x.test");
	assert_string_equal(parse("=?utf-8?q?J=C3=B6rg?= <j@example.test>"), "j@example.test");
}

static void test_angle_only(void **state)
{
	assert_string_equal(parse("<a@x.test>"), "a@x.test");
	assert_string_equal(parse("<a@x.test>,<b@y.test>"), "a@x.test|b@y.test");
	assert_string_equal(parse("< a@x.test >"), "a@x.test");
	assert_string_equal(parse("<>"), ""); /* nothing to send to */
}

static void test_quoted_display_name(void **state)
{
	assert_string_equal(parse("\"Doe, John\" <jd@example.test>, x@y.test"),
			    "jd@example.test|x@y.test");
	assert_string_equal(parse("\"a <fake@evil.test>, b\" <real@example.test>"),
			    "real@example.test");
	assert_string_equal(parse("\"quote \\\" inside, ok\" <q@example.test>"), "q@example.test");
}

static void test_quoted_local(void **state)
{
	assert_string_equal(parse("\"john doe\"@example.test"), "\"john doe\"@example.test");
	assert_string_equal(parse("<\"a,b\"@example.test>"), "\"a,b\"@example.test");
	assert_string_equal(parse("\"a\\\"b\"@example.test"), "\"a\\\"b\"@example.test");
}

static void test_comments(void **state)
{
	assert_string_equal(parse("a@x.test (Alice)"), "a@x.test");
	assert_string_equal(parse("(c) a@x.test (d), b@y.test"), "a@x.test|b@y.test");
	assert_string_equal(parse("a@x.test (nested (comment, with) <angles>), b@y.test"),
			    "a@x.test|b@y.test");
	assert_string_equal(parse("<a(in angle)@x.test>"), "a@x.test");
	assert_string_equal(parse("a@x.test (esc \\) paren)"), "a@x.test");
}

static void test_groups(void **state)
{
	assert_string_equal(parse("Friends: a@x.test, B <b@y.test>;"), "a@x.test|b@y.test");
	assert_string_equal(parse("undisclosed-recipients:;"), "");
	assert_string_equal(parse("G1: a@x.test;, c@z.test, G2: d@w.test;"),
			    "a@x.test|c@z.test|d@w.test");
	assert_string_equal(parse("\"Group, quoted\": a@x.test;"), "a@x.test");
	assert_string_equal(parse("Open group: a@x.test"), "a@x.test"); /* missing ';' tolerated */
}

static void test_folded(void **state)
{
	assert_string_equal(parse("a@x.test,\r\n b@y.test,\r\n\tC <c@z.test>"),
			    "a@x.test|b@y.test|c@z.test");
	assert_string_equal(parse("\"Doe,\r\n John\" <jd@example.test>"), "jd@example.test");
	assert_string_equal(parse("Alice\r\n <alice@example.test>"), "alice@example.test");
	assert_string_equal(parse("a@x.test,\n b@y.test"), "a@x.test|b@y.test");
}

static void test_obsolete(void **state)
{
	assert_string_equal(parse("john . doe @ example . test"), "john.doe@example.test");
	assert_string_equal(parse("<@relay.test,@other.test:a@x.test>"), "a@x.test");
	assert_string_equal(parse("a@[192.0.2.1]"), "a@[192.0.2.1]");
}

static void test_duplicates(void **state)
{
	assert_string_equal(parse("a@x.test, A <a@x.test>, b@y.test, a@x.test"),
			    "a@x.test|b@y.test");
}

static void test_utf8(void **state)
{
	assert_string_equal(parse("J\xc3\xb6rg <j\xc3\xb6rg@b\xc3\xbc.test>"),
			    "j\xc3\xb6rg@b\xc3\xbc.test");
}

static void test_malformed(void **state)
{
	static const char *bad[] = {
	    "a@x.test b@y.test", /* two addresses without a comma */
	    "Alice Example",	 /* a display name alone */
	    "\"unterminated",	 /* quoted string */
	    "a@x.test (open",	 /* comment */
	    "<a@x.test",	 /* missing '>' */
	    "a@x.test>",	 /* stray '>' */
	    "<a@x.test> junk",	 /* text after the angle address */
	    "<a@x.test> <b@y.test>",
	    "a@",	    /* ends with '@' */
	    "a.",	    /* ends with '.' */
	    "<a b@x.test>", /* a phrase inside <> */
	    "<a,b@x.test>", /* comma inside <> without a route */
	    "<a:b@x.test>",
	    "G: H: a@x.test;;", /* nested group */
	    "a\x01@x.test",	/* control character */
	    "\"a\x01\"@x.test",
	    "a\\b@x.test",   /* backslash outside quotes */
	    "a@[1.2.3.4",    /* unterminated literal */
	    "<@route.test>", /* route without address */
	    "a@x.test)",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (strcmp(parse(bad[i]), "ERR") != 0)
			fail_msg("accepted: %s -> %s", bad[i], parse(bad[i]));
		assert_int_equal(R.n, 0);
	}
}

static void test_error_keeps_list(void **state)
{
	reset(8);
	assert_int_equal(send_addr_list(LIT("a@x.test"), &R, &why), 0);
	assert_int_equal(send_addr_list(LIT("b@y.test, \"oops"), &R, &why), -1);
	assert_int_equal(R.n, 1); /* the failed list added nothing */
	assert_string_equal(R.addr[0], "a@x.test");
}

static void test_too_long(void **state)
{
	char in[600];

	memset(in, 'a', sizeof in - 1);
	in[sizeof in - 1] = '\0';
	assert_string_equal(parse(in), "ERR");
	assert_string_equal(why, "address too long");
	in[SEND_ADDR_MAX] = '\0'; /* one octet more than fits with its NUL */
	assert_string_equal(parse(in), "ERR");
	in[SEND_ADDR_MAX - 1] = '\0'; /* exactly fills the buffer */
	assert_int_equal(strlen(parse(in)), SEND_ADDR_MAX - 1);
}

static void test_too_many(void **state)
{
	reset(2);
	assert_int_equal(send_addr_list(LIT("a@x, b@x, a@x"), &R, &why), 0); /* dup fits */
	assert_int_equal(send_addr_list(LIT("c@x"), &R, &why), -1);
	assert_string_equal(why, "too many addresses");
	assert_int_equal(R.n, 2);
}

/* ---- header block ----------------------------------------------------- */

static void test_hdr_len(void **state)
{
	size_t off;
	int sep;

	assert_int_equal(send_hdr_len(LIT("Subject: hi\r\n\r\nbody\r\n"), &off, &sep), 13);
	assert_int_equal(off, 15);
	assert_int_equal(sep, 1);
	assert_int_equal(send_hdr_len(LIT("Subject: a\r\n b\r\nTo: x\r\n\r\n"), &off, &sep), 23);
	assert_int_equal(sep, 1);
	/* no header block at all */
	assert_int_equal(send_hdr_len(LIT("hello world\r\nSubject: x\r\n"), &off, &sep), 0);
	assert_int_equal(off, 0);
	assert_int_equal(sep, 0);
	/* continuation line first: not a header block */
	assert_int_equal(send_hdr_len(LIT(" Subject: x\r\n\r\n"), &off, &sep), 0);
	/* empty first line: empty header block, body after it */
	assert_int_equal(send_hdr_len(LIT("\r\nbody\r\n"), &off, &sep), 0);
	assert_int_equal(off, 2);
	assert_int_equal(sep, 1);
	/* a non-header line ends the block without an empty line */
	assert_int_equal(send_hdr_len(LIT("Subject: x\r\nnot a header\r\n"), &off, &sep), 12);
	assert_int_equal(off, 12);
	assert_int_equal(sep, 0);
	/* headers only */
	assert_int_equal(send_hdr_len(LIT("Subject: x\r\n"), &off, &sep), 12);
	assert_int_equal(sep, 0);
	assert_int_equal(send_hdr_len(LIT("Obs-Name : v\r\n\r\n"), &off, &sep), 14);
	assert_int_equal(send_hdr_len("", 0, &off, &sep), 0);
}

static void test_hdr_present(void **state)
{
	assert_int_equal(send_hdr_present(LIT("Subject: x\r\n")), 0);
	assert_int_equal(send_hdr_present(LIT("from: a\r\nDATE: b\r\nmessage-id: <c>\r\n")),
			 SEND_HDR_FROM | SEND_HDR_DATE | SEND_HDR_MSGID);
	assert_int_equal(send_hdr_present(LIT("From : a\r\nX-Date: b\r\nSubject: Date: c\r\n")),
			 SEND_HDR_FROM);
	assert_int_equal(send_hdr_present(LIT("Subject: x\r\n Date: folded\r\n")), 0);
}

static void test_hdr_rcpts(void **state)
{
	const char h[] = "From: me@x.test\r\n"
			 "To: A <a@x.test>,\r\n"
			 "  \"B, b\" <b@y.test>\r\n"
			 "Subject: to: fake@evil.test\r\n"
			 "cc: c@z.test (C)\r\n"
			 "BCC: hidden@w.test\r\n"
			 "Reply-To: r@x.test\r\n"
			 "X-To: no@x.test\r\n";

	reset(16);
	assert_int_equal(send_hdr_rcpts(LIT(h), &R, &why), 0);
	assert_int_equal(R.n, 4);
	assert_string_equal(R.addr[0], "a@x.test");
	assert_string_equal(R.addr[1], "b@y.test");
	assert_string_equal(R.addr[2], "c@z.test");
	assert_string_equal(R.addr[3], "hidden@w.test");
	reset(16);
	assert_int_equal(send_hdr_rcpts(LIT("To: ok@x.test\r\nCc: \"bad\r\n"), &R, &why), -1);
	assert_int_equal(R.n, 0);
}

static void test_hdr_strip_bcc(void **state)
{
	char h[] = "Bcc: a@x.test\r\nTo: b@y.test\r\nbcc: c@z.test,\r\n\td@w.test\r\n"
		   "Subject: Bcc: stays\r\nBcc :\r\n";
	const char want[] = "To: b@y.test\r\nSubject: Bcc: stays\r\n";
	size_t n = send_hdr_strip_bcc(h, sizeof h - 1);

	assert_int_equal(n, sizeof want - 1);
	assert_memory_equal(h, want, n);
	char none[] = "To: x\r\n";
	assert_int_equal(send_hdr_strip_bcc(none, sizeof none - 1), sizeof none - 1);
}

/* ---- normalizer ------------------------------------------------------- */

/* Normalize in[0..n) fed in pieces of at most step octets. */
static size_t norm(const char *in, size_t n, int ignore_dots, size_t step, char *out,
		   struct send_norm *st)
{
	size_t o = 0, off = 0;

	send_norm_init(st, ignore_dots);
	while (off < n && !st->done) {
		size_t len = n - off < step ? n - off : step, olen;
		size_t used =
		    send_norm_feed(st, in + off, len, out + o, len * SEND_NORM_EXPAND, &olen);
		assert_true(used <= len);
		assert_true(used == len || st->done);
		off += used;
		o += olen;
	}
	o += send_norm_finish(st, out + o, SEND_NORM_EXPAND);
	assert_int_equal(st->out_len, o);
	return o;
}

static void check_norm(const char *in, int ignore_dots, const char *want)
{
	static char out[20000];
	struct send_norm st;
	size_t n = norm(in, strlen(in), ignore_dots, 1 << 20, out, &st);

	out[n] = '\0';
	assert_string_equal(out, want);
	for (size_t step = 1; step < 5; step++) {
		assert_int_equal(norm(in, strlen(in), ignore_dots, step, out, &st), strlen(want));
		assert_memory_equal(out, want, strlen(want));
	}
}

static void test_norm_line_ends(void **state)
{
	check_norm("a\nb\n", 0, "a\r\nb\r\n");
	check_norm("a\r\nb\r\n", 0, "a\r\nb\r\n");
	check_norm("a\rb\r", 0, "a\r\nb\r\n");
	check_norm("a\r\r\nb", 0, "a\r\n\r\nb\r\n");
	check_norm("a\n\rb", 0, "a\r\n\r\nb\r\n");
	check_norm("no newline", 0, "no newline\r\n");
	check_norm("", 0, "");
	check_norm("\n", 0, "\r\n");
}

static void test_norm_dot(void **state)
{
	check_norm("a\n.\nafter\n", 0, "a\r\n");
	check_norm("a\r\n.\r\nafter\r\n", 0, "a\r\n");
	check_norm(".\n", 0, "");
	check_norm("a\n.", 0, "a\r\n"); /* a final "." line without line end */
	check_norm("a\n.\rafter", 0, "a\r\n");
	check_norm("a\n..\n.x\n x.\n", 0, "a\r\n..\r\n.x\r\n x.\r\n");
	check_norm("a\n.\nafter\n", 1, "a\r\n.\r\nafter\r\n");
	check_norm(".", 1, ".\r\n");
}

static void test_norm_long_lines(void **state)
{
	static char in[3000], want[3100];
	struct send_norm st;
	static char out[20000];

	memset(in, 'x', 2500);
	in[2500] = '\0';
	memset(want, 'x', 998);
	memcpy(want + 998, "\r\n", 2);
	memset(want + 1000, 'x', 998);
	memcpy(want + 1998, "\r\n", 2);
	memset(want + 2000, 'x', 504);
	memcpy(want + 2504, "\r\n", 3);
	check_norm(in, 0, want);
	assert_int_equal(norm(in, 2500, 0, 7, out, &st), 2506);
	assert_true(st.flags & SEND_NORM_SPLIT);
	/* exactly 998 octets: no split */
	in[998] = '\0';
	assert_int_equal(norm(in, 998, 0, 100, out, &st), 1000);
	assert_false(st.flags & SEND_NORM_SPLIT);
	/* a split piece that is just "." does not end the input */
	in[998] = '.';
	memcpy(in + 999, "\nend\n", 6);
	assert_int_equal(norm(in, strlen(in), 0, 3, out, &st), 998 + 2 + 1 + 2 + 5);
	assert_false(st.done);
}

static void test_norm_flags(void **state)
{
	char out[64];
	struct send_norm st;

	norm(LIT("plain\n"), 0, 64, out, &st);
	assert_int_equal(st.flags, 0);
	norm(LIT("caf\xc3\xa9\n"), 0, 64, out, &st);
	assert_int_equal(st.flags, SEND_NORM_8BIT);
	norm(LIT("a\0b\n"), 0, 64, out, &st);
	assert_int_equal(st.flags, SEND_NORM_NUL);
}

static void test_norm_small_out(void **state)
{
	struct send_norm st;
	char out[SEND_NORM_EXPAND + 1];
	size_t olen;

	send_norm_init(&st, 0);
	assert_int_equal(send_norm_feed(&st, LIT("abc"), out, SEND_NORM_EXPAND - 1, &olen), 0);
	assert_int_equal(olen, 0);
	assert_int_equal(send_norm_feed(&st, LIT("abc"), out, SEND_NORM_EXPAND, &olen), 1);
	assert_int_equal(olen, 1);
}

/* Random inputs over a small alphabet, fed whole vs in random pieces. */
static void test_norm_random_splits(void **state)
{
	static const char alpha[] = "ab.\r\n\x80";
	static char in[3000], whole[3000 * SEND_NORM_EXPAND + 8], part[3000 * SEND_NORM_EXPAND + 8];
	struct send_norm st;

	srand(12345);
	for (int iter = 0; iter < 2000; iter++) {
		size_t n = (size_t)(rand() % (iter < 1900 ? 40 : 2500));
		for (size_t i = 0; i < n; i++)
			in[i] = iter >= 1900 && rand() % 50 ? 'y' : alpha[rand() % 6];
		int dots = rand() % 2;
		size_t a = norm(in, n, dots, n + 1, whole, &st);
		size_t col = 0;
		for (size_t i = 0; i < a; i++) { /* only CRLF pairs, no line over 998 */
			assert_true(whole[i] != '\n' || (i > 0 && whole[i - 1] == '\r'));
			assert_true(whole[i] != '\r' || (i + 1 < a && whole[i + 1] == '\n'));
			col = whole[i] == '\r' || whole[i] == '\n' ? 0 : col + 1;
			assert_true(col <= SEND_LINE_MAX);
		}
		assert_true(a == 0 || (a >= 2 && whole[a - 1] == '\n'));
		size_t b = norm(in, n, dots, (size_t)(rand() % 5) + 1, part, &st);
		assert_int_equal(a, b);
		assert_memory_equal(whole, part, a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain),
	    cmocka_unit_test(test_list),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_display_name),
	    cmocka_unit_test(test_angle_only),
	    cmocka_unit_test(test_quoted_display_name),
	    cmocka_unit_test(test_quoted_local),
	    cmocka_unit_test(test_comments),
	    cmocka_unit_test(test_groups),
	    cmocka_unit_test(test_folded),
	    cmocka_unit_test(test_obsolete),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_error_keeps_list),
	    cmocka_unit_test(test_too_long),
	    cmocka_unit_test(test_too_many),
	    cmocka_unit_test(test_hdr_len),
	    cmocka_unit_test(test_hdr_present),
	    cmocka_unit_test(test_hdr_rcpts),
	    cmocka_unit_test(test_hdr_strip_bcc),
	    cmocka_unit_test(test_norm_line_ends),
	    cmocka_unit_test(test_norm_dot),
	    cmocka_unit_test(test_norm_long_lines),
	    cmocka_unit_test(test_norm_flags),
	    cmocka_unit_test(test_norm_small_out),
	    cmocka_unit_test(test_norm_random_splits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
