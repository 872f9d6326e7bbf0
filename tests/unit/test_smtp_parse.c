/*
 * Unit tests for src/smtp/smtp_parse.c: line reader, command splitting,
 * address and parameter parsing, and the DATA/BDAT body scanner. The body
 * scanner is checked against a small reference model (whole-buffer, obvious
 * code) on many generated inputs, fed in one piece, byte by byte and in
 * random chunks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/smtp_parse.h"

#define LIT(s) (s), (sizeof(s) - 1)

/* ---- line reader ------------------------------------------------------ */

static void test_line_ok(void **state)
{
	struct smtp_line l;
	const char two[] = "HELO x\r\nQUIT\r\n";

	assert_int_equal(smtp_line_next(LIT("HELO x\r\n"), SMTP_CMD_LINE_MAX, &l), SMTP_LINE_OK);
	assert_int_equal(l.len, 6);
	assert_int_equal(l.consumed, 8);
	assert_int_equal(l.flags, 0);
	assert_int_equal(smtp_line_next(LIT(two), SMTP_CMD_LINE_MAX, &l), SMTP_LINE_OK);
	assert_int_equal(l.consumed, 8);
	assert_int_equal(smtp_line_next(two + 8, sizeof(two) - 9, SMTP_CMD_LINE_MAX, &l),
			 SMTP_LINE_OK);
	assert_int_equal(l.len, 4);
	assert_int_equal(smtp_line_next(LIT("\r\n"), SMTP_CMD_LINE_MAX, &l), SMTP_LINE_OK);
	assert_int_equal(l.len, 0);
	assert_int_equal(l.consumed, 2);
}

static void test_line_more(void **state)
{
	struct smtp_line l;

	assert_int_equal(smtp_line_next("", 0, SMTP_CMD_LINE_MAX, &l), SMTP_LINE_MORE);
	assert_int_equal(smtp_line_next(LIT("HELO x"), SMTP_CMD_LINE_MAX, &l), SMTP_LINE_MORE);
	assert_int_equal(l.consumed, 0);
	/* A final CR may start a CRLF: wait, do not flag it. */
	assert_int_equal(smtp_line_next(LIT("HELO x\r"), SMTP_CMD_LINE_MAX, &l), SMTP_LINE_MORE);
	assert_int_equal(l.flags, 0);
	assert_int_equal(smtp_line_next(LIT("\r"), SMTP_CMD_LINE_MAX, &l), SMTP_LINE_MORE);
	assert_int_equal(smtp_line_next(LIT("a\nb"), SMTP_CMD_LINE_MAX, &l), SMTP_LINE_MORE);
}

static void test_line_flags(void **state)
{
	struct smtp_line l;

	assert_int_equal(smtp_line_next(LIT("a\rb\r\n"), 512, &l), SMTP_LINE_OK);
	assert_int_equal(l.flags, SMTP_LINE_BARE_CR);
	assert_int_equal(l.len, 3);
	assert_int_equal(smtp_line_next(LIT("a\nb\r\n"), 512, &l), SMTP_LINE_OK);
	assert_int_equal(l.flags, SMTP_LINE_BARE_LF);
	assert_int_equal(smtp_line_next(LIT("a\0b\r\n"), 512, &l), SMTP_LINE_OK);
	assert_int_equal(l.flags, SMTP_LINE_NUL);
	assert_int_equal(smtp_line_next(LIT("\r\r\n"), 512, &l), SMTP_LINE_OK);
	assert_int_equal(l.flags, SMTP_LINE_BARE_CR);
	assert_int_equal(l.len, 1);
	assert_int_equal(smtp_line_next(LIT("\n\r\n"), 512, &l), SMTP_LINE_OK);
	assert_int_equal(l.flags, SMTP_LINE_BARE_LF);
	assert_int_equal(smtp_line_next(LIT("a\n\r\rb\0\r\n"), 512, &l), SMTP_LINE_OK);
	assert_int_equal(l.flags, SMTP_LINE_BARE_LF | SMTP_LINE_BARE_CR | SMTP_LINE_NUL);
	assert_int_equal(l.len, 6);
	/* Flags of the next line do not leak into this one. */
	assert_int_equal(smtp_line_next(LIT("ok\r\nb\na\r\n"), 512, &l), SMTP_LINE_OK);
	assert_int_equal(l.flags, 0);
}

/* A line of `body` octets of 'x' followed by CRLF and "NEXT\r\n". */
static char *mkline(size_t body, size_t *n)
{
	char *s = malloc(body + 8);

	assert_non_null(s);
	memset(s, 'x', body);
	memcpy(s + body, "\r\nNEXT\r\n", 8);
	*n = body + 8;
	return s;
}

static void test_line_boundary(void **state)
{
	struct smtp_line l;
	size_t n, got;
	int done = 0;
	char *s = mkline(510, &n); /* 512 with the CRLF: accepted */

	assert_int_equal(smtp_line_next(s, n, SMTP_CMD_LINE_MAX, &l), SMTP_LINE_OK);
	assert_int_equal(l.len, 510);
	assert_int_equal(l.consumed, 512);
	free(s);

	s = mkline(511, &n); /* 513: too long */
	assert_int_equal(smtp_line_next(s, n, SMTP_CMD_LINE_MAX, &l), SMTP_LINE_TOOLONG);
	assert_int_equal(l.consumed, 511); /* the CR at 511 is kept */
	got = smtp_line_skip(s + l.consumed, n - l.consumed, &done);
	assert_int_equal(got, 2);
	assert_int_equal(done, 1);
	assert_int_equal(smtp_line_next(s + 513, n - 513, SMTP_CMD_LINE_MAX, &l), SMTP_LINE_OK);
	assert_int_equal(l.len, 4);
	free(s);

	/* MORE only while n < max. */
	s = mkline(600, &n);
	assert_int_equal(smtp_line_next(s, 511, SMTP_CMD_LINE_MAX, &l), SMTP_LINE_MORE);
	assert_int_equal(smtp_line_next(s, 512, SMTP_CMD_LINE_MAX, &l), SMTP_LINE_TOOLONG);
	assert_int_equal(l.consumed, 512);
	free(s);

	/* Text lines: 1000 accepted, 1001 rejected. */
	s = mkline(998, &n);
	assert_int_equal(smtp_line_next(s, n, SMTP_TEXT_LINE_MAX, &l), SMTP_LINE_OK);
	free(s);
	s = mkline(999, &n);
	assert_int_equal(smtp_line_next(s, n, SMTP_TEXT_LINE_MAX, &l), SMTP_LINE_TOOLONG);
	free(s);
}

static void test_line_skip(void **state)
{
	struct smtp_line l;
	int done = 7;
	size_t n;
	char *s = mkline(700, &n);

	assert_int_equal(smtp_line_next(s, 600, SMTP_CMD_LINE_MAX, &l), SMTP_LINE_TOOLONG);
	assert_int_equal(l.consumed, 512);
	/* The caller discards in whatever pieces its buffer gives it. */
	assert_int_equal(smtp_line_skip(s + 512, 100, &done), 100);
	assert_int_equal(done, 0);
	assert_int_equal(smtp_line_skip(s + 612, 89, &done), 88); /* ends in CR: kept */
	assert_int_equal(done, 0);
	assert_int_equal(smtp_line_skip(s + 700, n - 700, &done), 2);
	assert_int_equal(done, 1);
	free(s);

	assert_int_equal(smtp_line_skip("", 0, &done), 0);
	assert_int_equal(done, 0);
	assert_int_equal(smtp_line_skip(LIT("\r"), &done), 0);
	assert_int_equal(smtp_line_skip(LIT("\r\n"), &done), 2);
	assert_int_equal(done, 1);
	assert_int_equal(smtp_line_skip(LIT("a\rb\nc"), &done), 5); /* bare CR/LF do not end it */
	assert_int_equal(done, 0);

	/* Long line whose CR falls exactly on the limit. */
	char buf[600];
	memset(buf, 'y', sizeof(buf));
	buf[511] = '\r';
	buf[512] = '\n';
	assert_int_equal(smtp_line_next(buf, sizeof(buf), 512, &l), SMTP_LINE_TOOLONG);
	assert_int_equal(l.consumed, 511);
	assert_int_equal(smtp_line_skip(buf + 511, sizeof(buf) - 511, &done), 2);
	assert_int_equal(done, 1);
	/* Degenerate max. */
	assert_int_equal(smtp_line_next(LIT("\r\n"), 0, &l), SMTP_LINE_OK);
	assert_int_equal(smtp_line_next(LIT("ab"), 1, &l), SMTP_LINE_TOOLONG);
	assert_int_equal(l.consumed, 2);
}

/* ---- commands --------------------------------------------------------- */

struct cmd_case {
	const char *line;
	int ret;
	enum smtp_verb verb;
	const char *arg; /* NULL: no argument */
};

static const struct cmd_case cmd_cases[] = {
    {"HELO example.com", 0, SMTP_V_HELO, "example.com"},
    {"ehlo x", 0, SMTP_V_EHLO, "x"},
    {"EhLo [192.0.2.1]", 0, SMTP_V_EHLO, "[192.0.2.1]"},
    {"EHLO", 0, SMTP_V_EHLO, NULL},
    {"EHLO ", -1, SMTP_V_EHLO, NULL},
    {"EHLO  x", -1, SMTP_V_EHLO, NULL},
    {"EHLO\tx", -1, SMTP_V_EHLO, NULL},
    {"EHLO1", -1, SMTP_V_EHLO, NULL},
    {"EHLO:x", -1, SMTP_V_EHLO, NULL},
    {"EHLOx", -1, SMTP_V_UNKNOWN, NULL},
    {"MAIL FROM:<a@b.c>", 0, SMTP_V_MAIL, "<a@b.c>"},
    {"mail from:<a@b.c> SIZE=1", 0, SMTP_V_MAIL, "<a@b.c> SIZE=1"},
    {"Mail From: <a@b.c>", 0, SMTP_V_MAIL, "<a@b.c>"},
    {"MAIL FROM:   <>", 0, SMTP_V_MAIL, "<>"},
    {"MAIL FROM:", 0, SMTP_V_MAIL, NULL},
    {"MAIL FROM:  ", 0, SMTP_V_MAIL, NULL},
    {"MAIL FROM:\t<a@b.c>", 0, SMTP_V_MAIL, "\t<a@b.c>"},
    {"MAIL", -1, SMTP_V_MAIL, NULL},
    {"MAIL ", -1, SMTP_V_MAIL, NULL},
    {"MAIL FROM <a@b.c>", -1, SMTP_V_MAIL, NULL},
    {"MAIL FRO", -1, SMTP_V_MAIL, NULL},
    {"MAIL TO:<a@b.c>", -1, SMTP_V_MAIL, NULL},
    {"MAIL  FROM:<a@b.c>", -1, SMTP_V_MAIL, NULL},
    {"MAIL\tFROM:<a@b.c>", -1, SMTP_V_MAIL, NULL},
    {"MAILFROM:<a@b.c>", -1, SMTP_V_UNKNOWN, NULL},
    {"RCPT TO:<a@b.c>", 0, SMTP_V_RCPT, "<a@b.c>"},
    {"rcpt to:<Postmaster>", 0, SMTP_V_RCPT, "<Postmaster>"},
    {"RCPT TO: <a@b.c> NOTIFY=NEVER", 0, SMTP_V_RCPT, "<a@b.c> NOTIFY=NEVER"},
    {"RCPT FROM:<a@b.c>", -1, SMTP_V_RCPT, NULL},
    {"RCPT", -1, SMTP_V_RCPT, NULL},
    {"DATA", 0, SMTP_V_DATA, NULL},
    {"data", 0, SMTP_V_DATA, NULL},
    {"DATA x", 0, SMTP_V_DATA, "x"},
    {"DATA ", -1, SMTP_V_DATA, NULL},
    {"DATA:", -1, SMTP_V_DATA, NULL},
    {"BDAT 1000 LAST", 0, SMTP_V_BDAT, "1000 LAST"},
    {"RSET", 0, SMTP_V_RSET, NULL},
    {"NOOP", 0, SMTP_V_NOOP, NULL},
    {"NOOP hello there", 0, SMTP_V_NOOP, "hello there"},
    {"QUIT", 0, SMTP_V_QUIT, NULL},
    {"VRFY user", 0, SMTP_V_VRFY, "user"},
    {"EXPN list", 0, SMTP_V_EXPN, "list"},
    {"HELP", 0, SMTP_V_HELP, NULL},
    {"STARTTLS", 0, SMTP_V_STARTTLS, NULL},
    {"starttls", 0, SMTP_V_STARTTLS, NULL},
    {"STARTTLSX", -1, SMTP_V_UNKNOWN, NULL},
    {"AUTH PLAIN AGZvbwBiYXI=", 0, SMTP_V_AUTH, "PLAIN AGZvbwBiYXI="},
    {"FOO bar", -1, SMTP_V_UNKNOWN, NULL},
    {"", -1, SMTP_V_UNKNOWN, NULL},
    {" HELO x", -1, SMTP_V_UNKNOWN, NULL},
    {"\x80HELO", -1, SMTP_V_UNKNOWN, NULL},
};

static void test_cmd_table(void **state)
{
	for (size_t i = 0; i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++) {
		const struct cmd_case *c = &cmd_cases[i];
		struct smtp_cmd cmd;
		int r = smtp_cmd_parse(c->line, strlen(c->line), &cmd);
		if (r != c->ret || cmd.verb != c->verb)
			fail_msg("case %zu \"%s\": ret %d verb %d, want %d %d", i, c->line, r,
				 (int)cmd.verb, c->ret, (int)c->verb);
		if (r != 0)
			continue;
		if (c->arg == NULL) {
			assert_null(cmd.arg);
			assert_int_equal(cmd.arg_len, 0);
		} else {
			assert_non_null(cmd.arg);
			assert_int_equal(cmd.arg_len, strlen(c->arg));
			assert_memory_equal(cmd.arg, c->arg, cmd.arg_len);
		}
	}
}

static void test_cmd_bounds(void **state)
{
	/* The parser uses only line[0..len): a verb cut short is unknown. */
	struct smtp_cmd cmd;

	assert_int_equal(smtp_cmd_parse("QUITTER", 4, &cmd), 0);
	assert_int_equal(cmd.verb, SMTP_V_QUIT);
	assert_int_equal(smtp_cmd_parse("QUIT", 3, &cmd), -1);
	assert_int_equal(cmd.verb, SMTP_V_UNKNOWN);
	assert_int_equal(smtp_cmd_parse("MAIL FROM:<a>", 9, &cmd), -1);
	assert_int_equal(smtp_cmd_parse("HELO x\0y", 8, &cmd), 0); /* args are not checked */
	assert_int_equal(cmd.arg_len, 3);
}

/* ---- addresses -------------------------------------------------------- */

#define F_NULL SMTP_ADDR_ALLOW_NULL
#define F_UTF8 SMTP_ADDR_ALLOW_UTF8
#define F_PM   SMTP_ADDR_POSTMASTER
#define F_ALL  (F_NULL | F_UTF8 | F_PM)

struct addr_case {
	const char *in;
	size_t n; /* 0: strlen(in) */
	unsigned flags;
	enum smtp_addr_err err;
	const char *text; /* expected text on OK */
	size_t local_len;
	int quoted, literal, utf8;
	size_t end; /* on OK, 0: n */
};

static const struct addr_case addr_cases[] = {
    /* dot-string */
    {"<user@example.com>", 0, 0, SMTP_ADDR_OK, "user@example.com", 4, 0, 0, 0, 0},
    {"<User.Name+tag@Example.COM>", 0, 0, SMTP_ADDR_OK, "User.Name+tag@example.com", 13, 0, 0, 0,
     0},
    {"<a!#$%&'*+-/=?^_`{|}~@x.org>", 0, 0, SMTP_ADDR_OK, "a!#$%&'*+-/=?^_`{|}~@x.org", 20, 0, 0, 0,
     0},
    {"<A@EXAMPLE.COM>", 0, F_ALL, SMTP_ADDR_OK, "A@example.com", 1, 0, 0, 0, 0},
    {"<a@localhost>", 0, 0, SMTP_ADDR_OK, "a@localhost", 1, 0, 0, 0, 0},
    {"<a@123.example>", 0, 0, SMTP_ADDR_OK, "a@123.example", 1, 0, 0, 0, 0},
    {"<a@ex--ample.com>", 0, 0, SMTP_ADDR_OK, "a@ex--ample.com", 1, 0, 0, 0, 0},
    {"<a@b.c> SIZE=10", 0, 0, SMTP_ADDR_OK, "a@b.c", 1, 0, 0, 0, 7},
    {"<a@b.c>>", 0, 0, SMTP_ADDR_OK, "a@b.c", 1, 0, 0, 0, 7},
    {".a@x.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<.a@x.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a.@x.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a..b@x.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a b@x.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"< a@x.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@x.com >", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a @x.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a\x01@x.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a\t@x.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a\x7f@x.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a\0b@x.com>", 11, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@x\0.com>", 10, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a(c)@x.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@b@x.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<<a@x.com>>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"a@x.com", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@x.com", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@x.com\r\n>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a>", 0, F_NULL | F_UTF8, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<", 0, F_ALL, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"", 0, F_ALL, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    /* quoted-string */
    {"<\"john doe\"@example.com>", 0, 0, SMTP_ADDR_OK, "\"john doe\"@example.com", 10, 1, 0, 0, 0},
    {"<\"a@b%c\"@Example.com>", 0, 0, SMTP_ADDR_OK, "\"a@b%c\"@example.com", 7, 1, 0, 0, 0},
    {"<\"a\\\"b\"@x.com>", 0, 0, SMTP_ADDR_OK, "\"a\\\"b\"@x.com", 6, 1, 0, 0, 0},
    {"<\"a\\\\b\"@x.com>", 0, 0, SMTP_ADDR_OK, "\"a\\\\b\"@x.com", 6, 1, 0, 0, 0},
    {"<\"a>b\"@x.com>", 0, 0, SMTP_ADDR_OK, "\"a>b\"@x.com", 5, 1, 0, 0, 0},
    {"<\"\"@x.com>", 0, 0, SMTP_ADDR_OK, "\"\"@x.com", 2, 1, 0, 0, 0},
    {"<\"a\\\x01\"@x.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<\"a\x01\"@x.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<\"a\tb\"@x.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<\"abc@x.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<\"abc\\\">", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<\"a\"b@x.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a\"b\"@x.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<\"a\".b@x.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    /* address literals */
    {"<a@[192.0.2.1]>", 0, 0, SMTP_ADDR_OK, "a@[192.0.2.1]", 1, 0, 1, 0, 0},
    {"<a@[IPv6:2001:DB8::1]>", 0, 0, SMTP_ADDR_OK, "a@[ipv6:2001:db8::1]", 1, 0, 1, 0, 0},
    {"<a@[ipv6:::1]>", 0, 0, SMTP_ADDR_OK, "a@[ipv6:::1]", 1, 0, 1, 0, 0},
    {"<a@[IPv6:::ffff:192.0.2.1]>", 0, 0, SMTP_ADDR_OK, "a@[ipv6:::ffff:192.0.2.1]", 1, 0, 1, 0, 0},
    {"<a@[192.0.2.256]>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@[192.0.2]>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@[2001:db8::1]>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@[IPv6:2001:db8::g]>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@[IPv6:1.2.3.4]>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@[192.0.2.1>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@192.0.2.1]>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@[192.0.2.1]x>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@[[192.0.2.1]]>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@[]>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@[ 192.0.2.1]>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@[192.0.2.1\0]>", 16, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@[x-tag:foo]>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@[\xc3\xb6]>", 0, F_UTF8, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    /* bad domains */
    {"<a@-example.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@example-.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@example.com->", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@example..com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@.example.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@example.com.>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@ex_ample.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<a@exa mple.com>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    /* source routes */
    {"<@a.example,@b.example:user@c.example>", 0, F_ALL, SMTP_ADDR_ROUTE, NULL, 0, 0, 0, 0, 0},
    {"<@a.example:user@c.example>", 0, 0, SMTP_ADDR_ROUTE, NULL, 0, 0, 0, 0, 0},
    /* null path */
    {"<>", 0, 0, SMTP_ADDR_NULL, NULL, 0, 0, 0, 0, 0},
    {"<>", 0, F_UTF8 | F_PM, SMTP_ADDR_NULL, NULL, 0, 0, 0, 0, 0},
    {"<>", 0, F_NULL, SMTP_ADDR_OK, "", 0, 0, 0, 0, 0},
    {"<> SIZE=0", 0, F_NULL, SMTP_ADDR_OK, "", 0, 0, 0, 0, 2},
    {"< >", 0, F_NULL, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    /* Postmaster */
    {"<Postmaster>", 0, F_PM, SMTP_ADDR_OK, "Postmaster", 10, 0, 0, 0, 0},
    {"<postMASTER>", 0, F_PM, SMTP_ADDR_OK, "Postmaster", 10, 0, 0, 0, 0},
    {"<Postmaster> NOTIFY=NEVER", 0, F_PM, SMTP_ADDR_OK, "Postmaster", 10, 0, 0, 0, 12},
    {"<Postmaster>", 0, F_NULL | F_UTF8, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<\"Postmaster\">", 0, F_PM, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<Postmaster1>", 0, F_PM, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<Post.master>", 0, F_PM, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<user>", 0, F_PM, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<postmaster@Example.com>", 0, 0, SMTP_ADDR_OK, "postmaster@example.com", 10, 0, 0, 0, 0},
    /* UTF-8 */
    {"<j\xc3\xb6rg@example.com>", 0, 0, SMTP_ADDR_UTF8, NULL, 0, 0, 0, 0, 0},
    {"<j\xc3\xb6rg@example.com>", 0, F_UTF8, SMTP_ADDR_OK, "j\xc3\xb6rg@example.com", 5, 0, 0, 1,
     0},
    {"<a@B\xc3\xbc"
     "cher.DE>",
     0, F_UTF8, SMTP_ADDR_OK,
     "a@b\xc3\xbc"
     "cher.de",
     1, 0, 0, 1, 0},
    {"<a@b\xc3\xbc"
     "cher.de>",
     0, F_NULL, SMTP_ADDR_UTF8, NULL, 0, 0, 0, 0, 0},
    {"<\"j\xc3\xb6rg\"@x.com>", 0, F_UTF8, SMTP_ADDR_OK, "\"j\xc3\xb6rg\"@x.com", 7, 1, 0, 1, 0},
    {"<\"j\xc3\xb6rg\"@x.com>", 0, 0, SMTP_ADDR_UTF8, NULL, 0, 0, 0, 0, 0},
    {"<\xf0\x9f\x98\x80@\xe4\xbe\x8b.\xe4\xbe\x8b>", 0, F_UTF8, SMTP_ADDR_OK,
     "\xf0\x9f\x98\x80@\xe4\xbe\x8b.\xe4\xbe\x8b", 4, 0, 0, 1, 0},
    {"<\xc0\xaf@x.com>", 0, F_UTF8, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},	/* overlong */
    {"<\xe0\x80\xaf@x.com>", 0, F_UTF8, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0}, /* overlong */
    {"<\xf0\x80\x80\xaf@x.com>", 0, F_UTF8, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<\xed\xa0\x80@x.com>", 0, F_UTF8, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0}, /* surrogate */
    {"<\xf4\x90\x80\x80@x.com>", 0, F_UTF8, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<\xf5\x80\x80\x80@x.com>", 0, F_UTF8, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<\xc3@x.com>", 0, F_UTF8, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},	     /* truncated */
    {"<\xb6@x.com>", 0, F_UTF8, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},	     /* stray */
    {"<a\xc2\x85@x.com>", 0, F_UTF8, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0}, /* C1 NEL */
    {"<a@x\xc3\x28.com>", 0, F_UTF8, SMTP_ADDR_SYNTAX, NULL, 0, 0, 0, 0, 0},
    {"<\xc0\xaf@x.com>", 0, 0, SMTP_ADDR_UTF8, NULL, 0, 0, 0, 0, 0},
    {"<\xef\xbf\xbf@x.com>", 0, F_UTF8, SMTP_ADDR_OK, "\xef\xbf\xbf@x.com", 3, 0, 0, 1, 0},
    {"<\xf4\x8f\xbf\xbf@x.com>", 0, F_UTF8, SMTP_ADDR_OK, "\xf4\x8f\xbf\xbf@x.com", 4, 0, 0, 1, 0},
};

static void check_addr_case(size_t i, const struct addr_case *c)
{
	struct smtp_addr a;
	size_t n = c->n ? c->n : strlen(c->in), end = 99;
	enum smtp_addr_err e = smtp_addr_parse(c->in, n, c->flags, &a, &end);

	if (e != c->err)
		fail_msg("addr case %zu \"%s\" flags %u: err %d, want %d", i, c->in, c->flags,
			 (int)e, (int)c->err);
	if (e != SMTP_ADDR_OK) {
		if (e != SMTP_ADDR_NULL)
			assert_int_equal(end, 0);
		return;
	}
	if (strcmp(a.text, c->text) != 0)
		fail_msg("addr case %zu: text \"%s\", want \"%s\"", i, a.text, c->text);
	assert_int_equal(a.local_len, c->local_len);
	assert_int_equal(a.quoted, c->quoted);
	assert_int_equal(a.domain_literal, c->literal);
	assert_int_equal(a.utf8, c->utf8);
	assert_int_equal(a.is_null, c->text[0] == '\0');
	assert_int_equal(end, c->end ? c->end : n);
}

static void test_addr_table(void **state)
{
	for (size_t i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]); i++)
		check_addr_case(i, &addr_cases[i]);
	print_message("  %zu address cases\n", sizeof(addr_cases) / sizeof(addr_cases[0]));
}

/* Domain of `len` octets: labels of 'b' (at most 50), dots in between. */
static void fill_domain(char *d, size_t len)
{
	for (size_t i = 0; i < len; i++)
		d[i] = (i % 51 == 50) ? '.' : 'b';
	if (len > 0 && d[len - 1] == '.')
		d[len - 1] = 'c';
}

/* "<" local "@" domain ">" + tail into buf; returns its length. */
static size_t mkpath(char *buf, size_t local, size_t domain, const char *tail)
{
	size_t n = 0;

	buf[n++] = '<';
	memset(buf + n, 'a', local);
	n += local;
	buf[n++] = '@';
	fill_domain(buf + n, domain);
	n += domain;
	buf[n++] = '>';
	memcpy(buf + n, tail, strlen(tail));
	return n + strlen(tail);
}

static enum smtp_addr_err parse_len(size_t local, size_t domain, const char *tail, size_t *end,
				    struct smtp_addr *a)
{
	char buf[1200];
	size_t n = mkpath(buf, local, domain, tail);

	return smtp_addr_parse(buf, n, 0, a, end);
}

static void test_addr_lengths(void **state)
{
	struct smtp_addr a;
	size_t end;
	char buf[1200];

	assert_int_equal(parse_len(64, 5, "", &end, &a), SMTP_ADDR_OK);
	assert_int_equal(a.local_len, 64);
	assert_int_equal(parse_len(65, 5, "", &end, &a), SMTP_ADDR_TOOLONG);
	/* The whole path is limited to 256 octets, "<" and ">" included. */
	assert_int_equal(parse_len(1, 252, "", &end, &a), SMTP_ADDR_OK);
	assert_int_equal(end, 256);
	assert_int_equal(strlen(a.text), 254);
	assert_int_equal(parse_len(1, 252, " SIZE=1", &end, &a), SMTP_ADDR_OK);
	assert_int_equal(end, 256);
	assert_int_equal(parse_len(1, 253, "", &end, &a), SMTP_ADDR_TOOLONG);
	assert_int_equal(parse_len(64, 189, "", &end, &a), SMTP_ADDR_OK);
	assert_int_equal(parse_len(64, 190, "", &end, &a), SMTP_ADDR_TOOLONG);
	/* A 255-octet domain is within the domain limit but can never fit a path. */
	assert_int_equal(parse_len(1, 255, "", &end, &a), SMTP_ADDR_TOOLONG);
	assert_int_equal(parse_len(1, 256, "", &end, &a), SMTP_ADDR_TOOLONG);
	assert_int_equal(parse_len(1, 1000, "", &end, &a), SMTP_ADDR_TOOLONG);
	/* Labels: 63 accepted, 64 refused. */
	memcpy(buf, "<a@", 3);
	memset(buf + 3, 'd', 63);
	memcpy(buf + 66, ".com>", 5);
	assert_int_equal(smtp_addr_parse(buf, 71, 0, &a, &end), SMTP_ADDR_OK);
	memset(buf + 3, 'd', 64);
	memcpy(buf + 67, ".com>", 5);
	assert_int_equal(smtp_addr_parse(buf, 72, 0, &a, &end), SMTP_ADDR_SYNTAX);
	/* Quoted local part: 64 octets with the quotes. */
	buf[0] = '<';
	buf[1] = '"';
	memset(buf + 2, 'q', 62);
	memcpy(buf + 64, "\"@x.y>", 6);
	assert_int_equal(smtp_addr_parse(buf, 70, 0, &a, &end), SMTP_ADDR_OK);
	assert_int_equal(a.local_len, 64);
	memset(buf + 2, 'q', 63);
	memcpy(buf + 65, "\"@x.y>", 6);
	assert_int_equal(smtp_addr_parse(buf, 71, 0, &a, &end), SMTP_ADDR_TOOLONG);
	/* A long unterminated path is too long, a short one is a syntax error. */
	memset(buf + 1, 'a', 40);
	assert_int_equal(smtp_addr_parse(buf, 41, 0, &a, &end), SMTP_ADDR_SYNTAX);
	memcpy(buf, "<a@", 3);
	memset(buf + 3, 'b', 400);
	assert_int_equal(smtp_addr_parse(buf, 403, 0, &a, &end), SMTP_ADDR_SYNTAX); /* label */
	fill_domain(buf + 3, 400);
	assert_int_equal(smtp_addr_parse(buf, 403, 0, &a, &end), SMTP_ADDR_TOOLONG);
	/* A UTF-8 character straddling the 256-octet limit. */
	memcpy(buf, "<a@", 3);
	fill_domain(buf + 3, 252);
	memcpy(buf + 255, "\xc3\xb6>", 3);
	assert_int_equal(smtp_addr_parse(buf, 258, F_UTF8, &a, &end), SMTP_ADDR_TOOLONG);
	assert_int_equal(smtp_addr_parse(buf, 258, 0, &a, &end), SMTP_ADDR_UTF8);
	memcpy(buf + 253, "\xc3\xb6>", 3); /* 250 ASCII + 2: fits exactly */
	assert_int_equal(smtp_addr_parse(buf, 256, F_UTF8, &a, &end), SMTP_ADDR_OK);
	assert_int_equal(end, 256);
	assert_int_equal(a.utf8, 1);
	/* The parser never looks past n. */
	assert_int_equal(smtp_addr_parse("<a@b.c>", 6, 0, &a, &end), SMTP_ADDR_SYNTAX);
}

/* ---- parameters ------------------------------------------------------- */

static void test_params(void **state)
{
	struct smtp_params ps;
	const struct smtp_param *p;
	const char *s = "  SIZE=100   BODY=8BITMIME  SMTPUTF8 ";

	assert_int_equal(smtp_params_parse("", 0, 0, &ps), 0);
	assert_int_equal(ps.n, 0);
	assert_int_equal(smtp_params_parse(LIT("   "), 0, &ps), 0);
	assert_int_equal(ps.n, 0);
	assert_int_equal(smtp_params_parse(s, strlen(s), 0, &ps), 0);
	assert_int_equal(ps.n, 3);
	assert_int_equal(ps.p[0].key_len, 4);
	assert_memory_equal(ps.p[0].key, "SIZE", 4);
	assert_int_equal(ps.p[0].val_len, 3);
	assert_memory_equal(ps.p[0].val, "100", 3);
	assert_null(ps.p[2].val);
	assert_int_equal(ps.p[2].val_len, 0);
	p = smtp_params_find(&ps, "body");
	assert_non_null(p);
	assert_memory_equal(p->val, "8BITMIME", 8);
	assert_non_null(smtp_params_find(&ps, "SmtpUtf8"));
	assert_null(smtp_params_find(&ps, "SIZ"));
	assert_null(smtp_params_find(&ps, "RET"));
	assert_int_equal(smtp_params_parse(LIT(" SI-ZE9=1 ENVID=a+2Bb<>"), 0, &ps), 0);
	assert_int_equal(ps.n, 2);
	assert_int_equal(smtp_params_parse(LIT(" 9=x"), 0, &ps), 0);
}

static void test_params_bad(void **state)
{
	static const char *const bad[] = {
	    "SIZE=100",	  " SIZE=",	 " =x",		" -SIZE=1",	" SIZE=1=2", " SIZE==",
	    " SIZE=a\tb", " SIZE=a\x01", " A_B=1",	"\tSIZE=1",	" SIZE=1\t", " SIZE =1",
	    " SIZE= 1",	  " SIZE=\x7f",	 " K=\xc3\xa9", " K\xc3\xa9=1",
	};
	struct smtp_params ps;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (smtp_params_parse(bad[i], strlen(bad[i]), 0, &ps) != -1)
			fail_msg("params \"%s\" accepted", bad[i]);
	assert_int_equal(smtp_params_parse(LIT(" K=\xc3\xa9"), 1, &ps), 0);
	assert_int_equal(ps.p[0].val_len, 2);
	assert_int_equal(smtp_params_parse(LIT(" K=\xc0\xaf"), 1, &ps), -1);
	assert_int_equal(smtp_params_parse(LIT(" K=a\xed\xa0\x80"), 1, &ps), -1);
	assert_int_equal(smtp_params_parse(LIT(" K=a\xc3"), 1, &ps), -1);
	assert_int_equal(smtp_params_parse(LIT(" K=\0"), 1, &ps), -1);
	assert_int_equal(smtp_params_parse(LIT(" A=1 B C=3 D E F G H"), 0, &ps), 0);
	assert_int_equal(ps.n, SMTP_MAX_PARAMS);
	assert_int_equal(smtp_params_parse(LIT(" A=1 B C=3 D E F G H I"), 0, &ps), -1);
	/* Never reads past n. */
	assert_int_equal(smtp_params_parse(" SIZE=1", 6, 0, &ps), -1);
}

/* ---- body: reference model -------------------------------------------- */

struct body_res {
	char *out;
	size_t out_len;
	size_t consumed;
	unsigned flags;
	int done;
	int fin; /* smtp_body_finish() result (BDAT) */
};

/* Flags for in[0..n) where a CR at n-1 is still undecided. In DATA mode
 * (dot) a "." at the start of a line is not counted (RFC 5321 4.5.3.1.6). */
static unsigned ref_flags(const char *in, size_t n, int dot)
{
	unsigned f = 0;
	size_t line = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)in[i];
		int bol = i == 0 || (i >= 2 && in[i - 2] == '\r' && in[i - 1] == '\n');
		if (ch == '\0')
			f |= SMTP_BODY_NUL;
		if (ch >= 0x80)
			f |= SMTP_BODY_8BIT;
		if (ch == '\r' && i + 1 < n && in[i + 1] != '\n')
			f |= SMTP_BODY_BARE_CRLF;
		if (ch == '\n' && (i == 0 || in[i - 1] != '\r'))
			f |= SMTP_BODY_BARE_CRLF;
		if (!(dot && bol && ch == '.') && ++line > SMTP_TEXT_LINE_MAX)
			f |= SMTP_BODY_LONGLINE;
		if (ch == '\n' && i > 0 && in[i - 1] == '\r')
			line = 0;
	}
	return f;
}

/* Offset just after the end-of-data marker, or 0 when there is none. */
static size_t ref_end(const char *in, size_t n)
{
	if (n >= 3 && memcmp(in, ".\r\n", 3) == 0)
		return 3;
	for (size_t i = 0; i + 5 <= n; i++)
		if (memcmp(in + i, "\r\n.\r\n", 5) == 0)
			return i + 5;
	return 0;
}

/* Unstuff in[0..n): lines split on CRLF only; a leading "." is dropped and
 * so is a CR right after it (necessarily bare, or undecided at the end). */
static size_t ref_unstuff(const char *in, size_t n, char *out)
{
	size_t o = 0, i = 0;

	while (i < n) {
		size_t j = i;
		while (j < n && !(in[j] == '\r' && j + 1 < n && in[j + 1] == '\n'))
			j++;
		size_t e = j < n ? j + 2 : n; /* line with its CRLF */
		size_t k = i;
		if (k < j && in[k] == '.') {
			k++;
			if (k < j && in[k] == '\r')
				k++;
		}
		memcpy(out + o, in + k, e - k);
		o += e - k;
		i = e;
	}
	return o;
}

static void ref_body(const char *in, size_t n, int dot, struct body_res *r)
{
	size_t end = dot ? ref_end(in, n) : 0;

	r->done = end > 0;
	r->consumed = end ? end : n;
	r->flags = ref_flags(in, r->consumed, dot);
	r->fin = 0;
	if (!dot) {
		memcpy(r->out, in, n);
		r->out_len = n;
		r->fin = n > 0 && !(n >= 2 && in[n - 2] == '\r' && in[n - 1] == '\n');
		if (n > 0 && in[n - 1] == '\r')
			r->flags |= SMTP_BODY_BARE_CRLF;
		if (r->fin) {
			size_t start = n; /* length of the last partial line */
			while (start >= 2 && !(in[start - 2] == '\r' && in[start - 1] == '\n'))
				start--;
			if (start < 2)
				start = 0;
			if (n - start + 2 > SMTP_TEXT_LINE_MAX)
				r->flags |= SMTP_BODY_LONGLINE;
		}
		return;
	}
	r->out_len = ref_unstuff(in, end ? end - 3 : n, r->out);
}

/* ---- body: the scanner under test ------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* mode 0: one shot; 1: byte by byte; 2: random chunks (some empty). Each
 * call gets an out buffer of exactly the chunk size, so ASan would catch a
 * write beyond "out_cap >= n is enough". */
static void run_body(const char *in, size_t n, int dot, int mode, struct body_res *r)
{
	struct smtp_body b;
	size_t off = 0;

	smtp_body_init(&b, dot);
	r->out_len = 0;
	while (off < n || (mode == 0 && off == 0)) {
		size_t len = mode == 0 ? n : mode == 1 ? 1 : (size_t)(rng() % 9);
		size_t olen = 99, used;
		char *out;
		if (len > n - off)
			len = n - off;
		out = malloc(len ? len : 1);
		assert_non_null(out);
		used = smtp_body_feed(&b, in + off, len, out, len, &olen);
		assert_true(used <= len);
		assert_true(olen <= len);
		memcpy(r->out + r->out_len, out, olen);
		r->out_len += olen;
		free(out);
		off += used;
		if (used < len || (mode == 0 && n == 0)) {
			assert_true(b.done || n == 0);
			break;
		}
	}
	assert_int_equal(b.out_len, r->out_len);
	r->consumed = off;
	r->done = b.done;
	r->fin = dot ? 0 : smtp_body_finish(&b);
	r->flags = b.flags;
}

static void expect_same(const char *in, size_t n, int dot, const struct body_res *a,
			const struct body_res *b, const char *what)
{
	if (a->consumed != b->consumed || a->done != b->done || a->flags != b->flags ||
	    a->fin != b->fin || a->out_len != b->out_len ||
	    memcmp(a->out, b->out, a->out_len) != 0) {
		fprintf(stderr,
			"%s mismatch (dot %d, n %zu): consumed %zu/%zu done %d/%d "
			"flags %u/%u fin %d/%d out_len %zu/%zu\n  input:",
			what, dot, n, a->consumed, b->consumed, a->done, b->done, a->flags,
			b->flags, a->fin, b->fin, a->out_len, b->out_len);
		for (size_t i = 0; i < n && i < 200; i++)
			fprintf(stderr, " %02x", (unsigned char)in[i]);
		fprintf(stderr, "\n");
		fail();
	}
}

/* Check one input both ways against the model, in all three feeding modes. */
static void check_body(const char *in, size_t n)
{
	struct body_res ref, got;

	ref.out = malloc(n + 1);
	got.out = malloc(n + 1);
	assert_non_null(ref.out);
	assert_non_null(got.out);
	for (int dot = 0; dot <= 1; dot++) {
		ref_body(in, n, dot, &ref);
		for (int mode = 0; mode < 3; mode++) {
			run_body(in, n, dot, mode, &got);
			expect_same(in, n, dot, &ref, &got,
				    mode == 0	? "one-shot"
				    : mode == 1 ? "bytewise"
						: "chunked");
		}
	}
	free(ref.out);
	free(got.out);
}

/* DATA mode, one shot: returns flags; out must hold n octets. */
static unsigned data_once(const char *in, size_t n, char *out, size_t *olen, size_t *used,
			  int *done)
{
	struct smtp_body b;

	smtp_body_init(&b, 1);
	*used = smtp_body_feed(&b, in, n, out, n, olen);
	*done = b.done;
	return b.flags;
}

/* ---- body tests ------------------------------------------------------- */

static void test_body_smuggling(void **state)
{
	/* None of these may end the data; each must be flagged BARE_CRLF. */
	static const char *const seq[] = {
	    "\n.\n",  "\r.\r",	   "\n.\r\n",	"\r\n.\n",  "\r.\r\n",	   "\r\n.\rX",
	    ".\n",    ".\r",	   ".\rX",	"\n.\r",    "\r\n.\r\r\n", "\n.\n\n",
	    "\r.\n",  "\r\r\n.\n", "x\n.\r\n",	"x\r.\r\n", "\r\n.\n\r\n", "\n\n.\r\n",
	    ".\n.\r", "\r\n\r.\r", "\r\r.\r\r", ".\r.\r\n", "\r\n.\r\n"};
	static const char *const pre[] = {"", "From: a\r\n", "From: a"};
	char in[128], out[128];

	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		for (size_t p = 0; p < 3; p++) {
			const char *tail = "tail\r\n.\r\nQUIT\r\n";
			size_t n = 0, olen, used;
			int done;
			unsigned f;
			/* The last sequence is a real end: use it only as the control. */
			int real = i == sizeof(seq) / sizeof(seq[0]) - 1;
			n += (size_t)snprintf(in, sizeof(in), "%s%s%s", pre[p], seq[i], tail);
			f = data_once(in, n, out, &olen, &used, &done);
			assert_int_equal(done, 1);
			if (real && p == 1) {
				assert_int_equal(used, strlen(pre[p]) + 5);
				assert_int_equal(f, 0);
				continue;
			}
			if (real)
				continue;
			if (used != n - 6 || !(f & SMTP_BODY_BARE_CRLF))
				fail_msg("seq %zu pre %zu: used %zu of %zu, flags %u", i, p, used,
					 n, f);
			check_body(in, n);
		}
	}
	print_message("  %zu smuggling sequences x 3 prefixes\n", sizeof(seq) / sizeof(seq[0]));
}

struct unstuff_case {
	const char *in;
	const char *out;
	size_t used; /* 0: whole input */
	unsigned flags;
};

static void test_body_unstuff(void **state)
{
	static const struct unstuff_case cases[] = {
	    {".\r\n", "", 0, 0},
	    {".\r\nMAIL FROM:<a@b>\r\n", "", 3, 0},
	    {"a\r\n.\r\n", "a\r\n", 0, 0},
	    {"\r\n.\r\n", "\r\n", 0, 0},
	    {"..\r\n.\r\n", ".\r\n", 0, 0},
	    {"...\r\n.\r\n", "..\r\n", 0, 0},
	    {".a\r\n.\r\n", "a\r\n", 0, 0},
	    {"a.\r\n.b\r\n.\r\n", "a.\r\nb\r\n", 0, 0},
	    {"a\r\n..\r\n.\r\n", "a\r\n.\r\n", 0, 0},
	    {". \r\n.\r\n", " \r\n", 0, 0},
	    {"a\r\n. \r\n.\r\n", "a\r\n \r\n", 0, 0},
	    {"a\r\n.\r\nb\r\n.\r\n", "a\r\n", 6, 0},
	    {"x.\r\n.\r\n", "x.\r\n", 0, 0},
	    {"\r\n\r\n.\r\n", "\r\n\r\n", 0, 0},
	    /* decision: ".\r" + not LF drops the dot and that bare CR */
	    {".\rx\r\n.\r\n", "x\r\n", 0, SMTP_BODY_BARE_CRLF},
	    {".\r\r\n.\r\n", "\r\n", 0, SMTP_BODY_BARE_CRLF},
	    {"a\r\n.\r.\r\n.\r\n", "a\r\n.\r\n", 0, SMTP_BODY_BARE_CRLF},
	    {".\n.\r\n.\r\n", "\n.\r\n", 0, SMTP_BODY_BARE_CRLF},
	    {"a\rb\r\n.\r\n", "a\rb\r\n", 0, SMTP_BODY_BARE_CRLF},
	    {"a\nb\r\n.\r\n", "a\nb\r\n", 0, SMTP_BODY_BARE_CRLF},
	};
	char out[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct unstuff_case *c = &cases[i];
		size_t n = strlen(c->in);
		size_t olen, used, want_used = c->used ? c->used : n;
		size_t want_olen = strlen(c->out);
		int done;
		unsigned f = data_once(c->in, n, out, &olen, &used, &done);
		if (!done || used != want_used || f != c->flags || olen != want_olen ||
		    memcmp(out, c->out, olen) != 0)
			fail_msg("unstuff case %zu: done %d used %zu flags %u olen %zu", i, done,
				 used, f, olen);
		check_body(c->in, n);
	}
	/* NUL and 8-bit octets are flagged and passed through. */
	size_t olen, used;
	int done;
	unsigned f = data_once(LIT("a\0\x80\r\n.\r\n"), out, &olen, &used, &done);
	assert_int_equal(f, SMTP_BODY_NUL | SMTP_BODY_8BIT);
	assert_int_equal(used, 8);
	assert_int_equal(olen, 5);
	assert_memory_equal(out, "a\0\x80\r\n", 5);
}

static void test_body_incomplete(void **state)
{
	char out[16];
	size_t olen, used;
	int done;
	struct smtp_body b;

	/* No terminator: everything consumed, nothing done; held "." / ".\r". */
	data_once(LIT("a\r\n."), out, &olen, &used, &done);
	assert_int_equal(done, 0);
	assert_int_equal(used, 4);
	assert_int_equal(olen, 3);
	data_once(LIT("a\r\n.\r"), out, &olen, &used, &done);
	assert_int_equal(done, 0);
	assert_int_equal(olen, 3);
	/* Held octets are resolved by the next call. */
	smtp_body_init(&b, 1);
	assert_int_equal(smtp_body_feed(&b, LIT("a\r\n.\r"), out, 5, &olen), 5);
	assert_int_equal(b.flags, 0);
	assert_int_equal(smtp_body_feed(&b, LIT("\nNEXT"), out, 5, &olen), 1);
	assert_int_equal(olen, 0);
	assert_int_equal(b.done, 1);
	assert_int_equal(b.out_len, 3);
	/* After done nothing more is consumed; finish is a no-op in DATA mode. */
	assert_int_equal(smtp_body_feed(&b, LIT("NEXT"), out, 4, &olen), 0);
	assert_int_equal(olen, 0);
	assert_int_equal(smtp_body_finish(&b), 0);
	smtp_body_init(&b, 1);
	smtp_body_feed(&b, LIT("abc\r"), out, 4, &olen);
	assert_int_equal(smtp_body_finish(&b), 0);
	assert_int_equal(b.flags, 0);
	/* A final CR is not flagged until the next octet shows what it is. */
	smtp_body_init(&b, 1);
	smtp_body_feed(&b, LIT("a\r"), out, 2, &olen);
	assert_int_equal(b.flags, 0);
	smtp_body_feed(&b, LIT("b"), out, 1, &olen);
	assert_int_equal(b.flags, SMTP_BODY_BARE_CRLF);
	assert_int_equal(olen, 1);
	/* A caller that gives too little room gets partial consumption, no overflow. */
	smtp_body_init(&b, 1);
	assert_int_equal(smtp_body_feed(&b, LIT("abcdef"), out, 2, &olen), 2);
	assert_int_equal(olen, 2);
}

static char *long_line(size_t body, const char *lead, const char *trail, size_t *n)
{
	size_t l = strlen(lead), t = strlen(trail);
	char *s = malloc(l + body + t);

	assert_non_null(s);
	memcpy(s, lead, l);
	memset(s + l, 'z', body);
	memcpy(s + l + body, trail, t);
	*n = l + body + t;
	return s;
}

static void expect_long(size_t body, const char *lead, const char *trail, int dot, int want)
{
	struct smtp_body b;
	size_t n, olen;
	char *s = long_line(body, lead, trail, &n);
	char *out = malloc(n);

	assert_non_null(out);
	smtp_body_init(&b, dot);
	smtp_body_feed(&b, s, n, out, n, &olen);
	if (!dot)
		smtp_body_finish(&b);
	if (!!(b.flags & SMTP_BODY_LONGLINE) != want)
		fail_msg("line of %zu+%zu+%zu (dot %d): LONGLINE %d, want %d", strlen(lead), body,
			 strlen(trail), dot, !want, want);
	check_body(s, n);
	free(s);
	free(out);
}

static void test_body_longline(void **state)
{
	for (int dot = 0; dot <= 1; dot++) {
		expect_long(998, "", "\r\n.\r\n", dot, 0);
		expect_long(999, "", "\r\n.\r\n", dot, 1);
		expect_long(998, "a\r\n", "\r\n.\r\n", dot, 0);
		expect_long(999, "a\r\n", "\r\n.\r\n", dot, 1);
		/* DATA: the stuffing dot does not count (RFC 5321 4.5.3.1.6);
		 * BDAT has no stuffing, so a leading dot is text */
		expect_long(997 + dot, ".", "\r\n.\r\n", dot, 0);
		expect_long(998 + dot, ".", "\r\n.\r\n", dot, 1);
		/* bare CR/LF do not end a line */
		expect_long(997, "\n", "\r\n.\r\n", dot, 0);
		expect_long(998, "\n", "\r\n.\r\n", dot, 1);
		expect_long(600, "", "\r", dot, 0);
		expect_long(500, "", "\r", dot, 0);
	}
	/* over the limit with no CRLF at all */
	expect_long(1001, "", "", 1, 1);
	expect_long(1000, "", "", 1, 0);
	/* BDAT: the CRLF appended by finish counts */
	expect_long(998, "", "", 0, 0);
	expect_long(999, "", "", 0, 1);
	expect_long(997, "", "\r", 0, 0);
	expect_long(998, "", "\r", 0, 1);
	expect_long(5000, "", "\r\n", 0, 1);
}

static void test_bdat(void **state)
{
	struct smtp_body b;
	char out[32];
	size_t olen;
	const char msg[] = "a\r\n.\r\nb\r\n.\r\n";

	smtp_body_init(&b, 0);
	assert_int_equal(smtp_body_finish(&b), 0); /* empty */
	assert_int_equal(b.flags, 0);

	smtp_body_init(&b, 0);
	assert_int_equal(smtp_body_feed(&b, LIT(msg), out, sizeof(out), &olen), sizeof(msg) - 1);
	assert_int_equal(olen, sizeof(msg) - 1);
	assert_memory_equal(out, msg, olen);
	assert_int_equal(b.done, 0);
	assert_int_equal(smtp_body_finish(&b), 0);
	assert_int_equal(b.flags, 0);

	smtp_body_init(&b, 0);
	smtp_body_feed(&b, LIT("abc"), out, sizeof(out), &olen);
	assert_int_equal(smtp_body_finish(&b), 1);
	assert_int_equal(b.flags, 0);

	smtp_body_init(&b, 0);
	smtp_body_feed(&b, LIT("abc\r"), out, sizeof(out), &olen);
	assert_int_equal(smtp_body_finish(&b), 1);
	assert_int_equal(b.flags, SMTP_BODY_BARE_CRLF);

	smtp_body_init(&b, 0);
	smtp_body_feed(&b, LIT("abc\n"), out, sizeof(out), &olen);
	assert_int_equal(smtp_body_finish(&b), 1);
	assert_int_equal(b.flags, SMTP_BODY_BARE_CRLF);

	/* CRLF split across chunks is fine; CR then other octet is not. */
	smtp_body_init(&b, 0);
	smtp_body_feed(&b, LIT("abc\r"), out, sizeof(out), &olen);
	smtp_body_feed(&b, LIT("\n"), out, sizeof(out), &olen);
	assert_int_equal(smtp_body_finish(&b), 0);
	assert_int_equal(b.flags, 0);
	smtp_body_init(&b, 0);
	smtp_body_feed(&b, LIT("abc\r"), out, sizeof(out), &olen);
	smtp_body_feed(&b, LIT("d\r\n"), out, sizeof(out), &olen);
	assert_int_equal(smtp_body_finish(&b), 0);
	assert_int_equal(b.flags, SMTP_BODY_BARE_CRLF);
	smtp_body_init(&b, 0);
	smtp_body_feed(&b, LIT("abc"), out, sizeof(out), &olen);
	smtp_body_feed(&b, LIT("\nd\r\n"), out, sizeof(out), &olen);
	assert_int_equal(b.flags, SMTP_BODY_BARE_CRLF);
	smtp_body_init(&b, 0);
	smtp_body_feed(&b, LIT("\0\xff\r\n"), out, sizeof(out), &olen);
	assert_int_equal(b.flags, SMTP_BODY_NUL | SMTP_BODY_8BIT);
	assert_int_equal(b.out_len, 4);
	assert_int_equal(smtp_body_finish(&b), 0);

	check_body(LIT(msg));
	check_body(LIT("abc\r"));
	check_body("", 0);
}

/* Generated inputs: every split must give the model's answer. */
static void test_body_split_invariance(void **state)
{
	static const char alphabet[] = "\r\r\r\n\n\n...aaaa \0\x80";
	char in[1400];
	size_t total = 0;

	for (int iter = 0; iter < 4000; iter++) {
		size_t n = (size_t)(rng() % 120);
		if (iter % 50 == 0)
			n = 990 + (size_t)(rng() % 30); /* around the line limit */
		for (size_t i = 0; i < n; i++)
			in[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
		if (iter % 50 == 0)
			memset(in + 1, 'a', n > 10 ? n - 10 : 0);
		check_body(in, n);
		total += n;
	}
	print_message("  4000 generated inputs (%zu octets) x 2 modes x 3 splits\n", total);
}

/* Exhaustive over all strings of length <= 7 on {CR, LF, '.', 'a'}. */
static void test_body_exhaustive(void **state)
{
	static const char alpha[4] = {'\r', '\n', '.', 'a'};
	char in[8];
	size_t count = 0;

	for (size_t n = 0; n <= 7; n++) {
		size_t lim = (size_t)1 << (2 * n);
		for (size_t v = 0; v < lim; v++) {
			for (size_t i = 0; i < n; i++)
				in[i] = alpha[(v >> (2 * i)) & 3];
			check_body(in, n);
			count++;
		}
	}
	print_message("  %zu exhaustive short inputs\n", count);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_line_ok),
	    cmocka_unit_test(test_line_more),
	    cmocka_unit_test(test_line_flags),
	    cmocka_unit_test(test_line_boundary),
	    cmocka_unit_test(test_line_skip),
	    cmocka_unit_test(test_cmd_table),
	    cmocka_unit_test(test_cmd_bounds),
	    cmocka_unit_test(test_addr_table),
	    cmocka_unit_test(test_addr_lengths),
	    cmocka_unit_test(test_params),
	    cmocka_unit_test(test_params_bad),
	    cmocka_unit_test(test_body_smuggling),
	    cmocka_unit_test(test_body_unstuff),
	    cmocka_unit_test(test_body_incomplete),
	    cmocka_unit_test(test_body_longline),
	    cmocka_unit_test(test_bdat),
	    cmocka_unit_test(test_body_split_invariance),
	    cmocka_unit_test(test_body_exhaustive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
