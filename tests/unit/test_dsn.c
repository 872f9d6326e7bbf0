/*
 * test_dsn: unit tests for the delivery status notification builder
 * (src/queue/queue_dsn.c): the report's structure, that quoted values
 * cannot forge header lines, that only the original's header section is
 * returned, and that a bounce to <> is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "queue/queue_dsn.h"

static const char ORIG[] = "Received: from x\r\nFrom: <a@example.org>\r\nSubject: hi\r\n\r\n"
			   "secret body\r\n";

static struct dsn_info base(const struct dsn_rcpt *r, size_t n)
{
	struct dsn_info in = {.hostname = "mx.example.test",
			      .id = "0123456789abcdef",
			      .sender = "a@example.org",
			      .arrival = 1764072000,
			      .now = 1764075600,
			      .action = DSN_FAILED,
			      .rcpt = r,
			      .n_rcpt = n,
			      .orig = ORIG,
			      .orig_len = sizeof ORIG - 1,
			      .token = "feedfacefeedface"};
	return in;
}

static char *build(const struct dsn_info *in)
{
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(dsn_build(in, &out, &len), 0);
	assert_non_null(out);
	char *z = malloc(len + 1);
	assert_non_null(z);
	memcpy(z, out, len);
	z[len] = '\0';
	free(out);
	assert_int_equal(strlen(z), len); /* no NUL inside */
	return z;
}

static void test_structure(void **st)
{
	struct dsn_rcpt r[2] = {{"b@remote.example", "5.1.1", "mx.remote.example",
				 "550 5.1.1 no such user"},
				{"c@remote.example", "4.4.7", "", "message expired"}};
	struct dsn_info in = base(r, 2);
	char *t = build(&in);

	assert_non_null(strstr(t, "To: <a@example.org>\r\n"));
	assert_non_null(strstr(t, "report-type=delivery-status"));
	assert_non_null(strstr(t, "Content-Type: message/delivery-status\r\n"));
	assert_non_null(strstr(t, "Final-Recipient: rfc822; b@remote.example\r\nAction: failed\r\n"
				  "Status: 5.1.1\r\nRemote-MTA: dns; mx.remote.example\r\n"
				  "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"));
	assert_non_null(strstr(t, "Final-Recipient: rfc822; c@remote.example\r\n"));
	assert_non_null(strstr(t, "Diagnostic-Code: X-Sealpost; message expired\r\n"));
	assert_non_null(strstr(t, "Content-Type: text/rfc822-headers\r\n\r\nReceived: from x\r\n"));
	assert_null(strstr(t, "secret body"));
	assert_non_null(strstr(t, "--feedfacefeedface/mx.example.test--\r\n"));
	/* Every line ends in CRLF and none is over 998 octets. */
	for (char *p = t, *nl; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		assert_true(nl > p && nl[-1] == '\r');
		assert_true(nl - p <= 999);
	}
	free(t);
}

static void test_reply_cannot_forge_lines(void **st)
{
	struct dsn_rcpt r = {"b@remote.example\r\nBcc: x@y", "5.1.1", "mx\r\nX: y",
			     "550 text\r\nContent-Type: text/html\r\n\r\n<script>"};
	struct dsn_info in = base(&r, 1);
	char *t = build(&in);

	assert_null(strstr(t, "\r\nBcc:"));
	assert_null(strstr(t, "\r\nX: y"));
	assert_null(strstr(t, "\r\nContent-Type: text/html"));
	free(t);
}

static void test_delayed_and_utf8(void **st)
{
	struct dsn_rcpt r = {"jörg@exämple.example", "4.4.1", "", "connection refused"};
	struct dsn_info in = base(&r, 1);
	in.action = DSN_DELAYED;
	in.utf8 = 1;
	char *t = build(&in);

	assert_non_null(strstr(t, "Action: delayed\r\n"));
	assert_non_null(strstr(t, "report-type=global-delivery-status"));
	assert_non_null(strstr(t, "Content-Type: message/global-delivery-status\r\n"));
	assert_non_null(strstr(t, "Final-Recipient: utf-8; jörg@exämple.example\r\n"));
	assert_non_null(strstr(t, "Content-Type: message/global-headers\r\n"));
	free(t);
}

static void test_never_to_null_sender(void **st)
{
	struct dsn_rcpt r = {"b@remote.example", "5.1.1", "", "x"};
	struct dsn_info in = base(&r, 1);
	char *out = NULL;
	size_t len;

	in.sender = "";
	assert_int_equal(dsn_build(&in, &out, &len), -1);
	in = base(&r, 0);
	assert_int_equal(dsn_build(&in, &out, &len), -1);
}

static void test_headers_without_body(void **st)
{
	static const char only[] = "Subject: x\r\nFrom: y"; /* no blank line, no final CRLF */
	struct dsn_rcpt r = {"b@remote.example", "5.1.1", "", "x"};
	struct dsn_info in = base(&r, 1);
	in.orig = only;
	in.orig_len = sizeof only - 1;
	char *t = build(&in);

	assert_non_null(strstr(t, "Subject: x\r\nFrom: y\r\n"));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_structure),
	    cmocka_unit_test(test_reply_cannot_forge_lines),
	    cmocka_unit_test(test_delayed_and_utf8),
	    cmocka_unit_test(test_never_to_null_sender),
	    cmocka_unit_test(test_headers_without_body),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
