/*
 * test_authres: unit tests for the Authentication-Results field (src/auth/
 * authres.c): the exact layout we write (one method per line, folding at
 * 78 columns, quoting of non-token values, escaped comments, dkim=none,
 * auth=), header injection attempts through every input string, the size
 * limit, and recognising our authserv-id in a field body (comments, quoted
 * ids, case, versions, garbage).
 *
 * Security role: the field is built from network input; these tests show
 * input can never end the field or start another one, and that a forged
 * field claiming our name is recognised.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "auth/authres.h"

static struct dkim_sig_result sig(enum dkim_result r, const char *d, const char *reason)
{
	struct dkim_sig_result s;

	memset(&s, 0, sizeof s);
	s.result = r;
	strcpy(s.domain, d);
	strcpy(s.selector, "sel");
	strcpy(s.algo, "rsa-sha256");
	strcpy(s.b8, "AbCdEfGh");
	strcpy(s.reason, reason);
	return s;
}

/* Every line ends in CRLF, no bare CR or LF, continuation lines start with
 * WSP, no line passes limit, only printable ASCII or TAB inside. */
static void check_shape(const char *h, int len, size_t limit)
{
	size_t col = 0;

	assert_int_equal((size_t)len, strlen(h));
	assert_memory_equal(h, "Authentication-Results: ", 24);
	assert_memory_equal(h + len - 2, "\r\n", 2);
	for (int i = 0; i < len; i++) {
		unsigned char c = (unsigned char)h[i];
		if (c == '\r') {
			assert_int_equal(h[i + 1], '\n');
			assert_true(i + 2 == len || h[i + 2] == '\t' || h[i + 2] == ' ');
			if (col > limit)
				fail_msg("line of %zu columns in:\n%s", col, h);
			col = 0;
			i++;
			continue;
		}
		assert_true(c != '\n');
		assert_true(c == '\t' || (c >= ' ' && c < 0x7f));
		col++;
	}
}

static void test_layout(void **state)
{
	struct dkim_sig_result s[2] = {sig(DKIM_PASS, "example.com", "ok"),
				       sig(DKIM_FAIL, "other.example", "body hash mismatch")};
	struct authres_input in = {.authserv_id = "mx.example.org",
				   .have_spf = 1,
				   .spf = SPF_PASS,
				   .spf_mailfrom = "alice@example.com",
				   .dkim = s,
				   .n_dkim = 2,
				   .have_dmarc = 1,
				   .dmarc = DMARC_PASS,
				   .dmarc_policy = DMARC_P_REJECT,
				   .dmarc_from = "example.com"};
	char out[AUTHRES_MAX];
	int n = authres_build(&in, out, sizeof out);

	(void)state;
	assert_string_equal(
	    out, "Authentication-Results: mx.example.org;\r\n"
		 "\tspf=pass smtp.mailfrom=alice@example.com;\r\n"
		 "\tdkim=pass header.d=example.com header.s=sel header.a=rsa-sha256\r\n"
		 "\theader.b=AbCdEfGh;\r\n"
		 "\tdkim=fail (body hash mismatch) header.d=other.example header.s=sel\r\n"
		 "\theader.a=rsa-sha256 header.b=AbCdEfGh;\r\n"
		 "\tdmarc=pass (p=reject) header.from=example.com\r\n");
	check_shape(out, n, 78);
}

static void test_auth_helo_none(void **state)
{
	struct authres_input in = {.authserv_id = "MX.example.org",
				   .have_spf = 1,
				   .spf = SPF_SOFTFAIL,
				   .spf_mailfrom = "",
				   .spf_helo = "client.example",
				   .have_dmarc = 1,
				   .dmarc = DMARC_NONE,
				   .dmarc_from = "example.com",
				   .auth_user = "bob@example.org"};
	char out[AUTHRES_MAX];
	int n = authres_build(&in, out, sizeof out);

	(void)state;
	assert_string_equal(out, "Authentication-Results: MX.example.org;\r\n"
				 "\tauth=pass smtp.auth=bob@example.org;\r\n"
				 "\tspf=softfail smtp.helo=client.example;\r\n"
				 "\tdkim=none;\r\n"
				 "\tdmarc=none header.from=example.com\r\n");
	check_shape(out, n, 78);
	in.have_spf = in.have_dmarc = 0;
	in.auth_user = NULL;
	assert_true(authres_build(&in, out, sizeof out) > 0);
	assert_string_equal(out, "Authentication-Results: MX.example.org;\r\n\tdkim=none\r\n");
	in.auth_user = "bob@example.org"; /* a submission: who, nothing checked */
	assert_true(authres_build(&in, out, sizeof out) > 0);
	assert_string_equal(out, "Authentication-Results: MX.example.org;\r\n"
				 "\tauth=pass smtp.auth=bob@example.org\r\n");
}

static void test_quoting(void **state)
{
	struct dkim_sig_result s = sig(DKIM_NEUTRAL, "example.com", "bad (tag) \\ here");
	struct authres_input in = {.authserv_id = "mx.example.org",
				   .have_spf = 1,
				   .spf = SPF_FAIL,
				   .spf_mailfrom = "\"odd user\"@example.com",
				   .dkim = &s,
				   .n_dkim = 1,
				   .auth_user = "me;dkim=pass"};
	char out[AUTHRES_MAX];
	int n;

	(void)state;
	strcpy(s.b8, "ab/+c=d");
	n = authres_build(&in, out, sizeof out);
	check_shape(out, n, 78);
	assert_non_null(strstr(out, "smtp.auth=\"me;dkim=pass\";"));
	assert_non_null(strstr(out, "smtp.mailfrom=\"\\\"odd user\\\"@example.com\";"));
	assert_non_null(strstr(out, "dkim=neutral (bad \\(tag\\) \\\\ here)"));
	assert_non_null(strstr(out, "header.b=\"ab/+c=d\""));
}

static void test_injection(void **state)
{
	struct dkim_sig_result s = sig(DKIM_FAIL, "example.com", "x\r\nBcc: victim@example.com");
	struct authres_input in = {.authserv_id = "mx.example.org",
				   .have_spf = 1,
				   .spf = SPF_PASS,
				   .spf_mailfrom = "a@example.com\r\nX-Evil: yes",
				   .dkim = &s,
				   .n_dkim = 1,
				   .have_dmarc = 1,
				   .dmarc = DMARC_FAIL,
				   .dmarc_from = "example.com\nSubject: hi\x01\x7f\xc3\xa9",
				   .auth_user = "u\rser"};
	char out[AUTHRES_MAX];
	int n;

	(void)state;
	n = authres_build(&in, out, sizeof out);
	check_shape(out, n, 998);
	assert_null(strstr(out, "\r\nX-Evil"));
	assert_null(strstr(out, "\r\nBcc"));
	assert_null(strstr(out, "\nSubject"));
	assert_non_null(strstr(out, "smtp.auth=user"));
	assert_non_null(strstr(out, "header.from=\"example.comSubject: hi??\""));
	/* a CR/LF-only value writes nothing rather than an empty value */
	in.spf_mailfrom = "\r\n";
	in.spf_helo = NULL;
	n = authres_build(&in, out, sizeof out);
	check_shape(out, n, 998);
	assert_non_null(strstr(out, "\tspf=pass;\r\n"));
	/* a bad authserv id is quoted, an empty one refused */
	in.authserv_id = "mx\r\n.example";
	assert_true(authres_build(&in, out, sizeof out) > 0);
	assert_memory_equal(out, "Authentication-Results: mx.example;", 35);
	in.authserv_id = "\r\n";
	assert_int_equal(authres_build(&in, out, sizeof out), -1);
}

static void test_long_values(void **state)
{
	char big[600], out[AUTHRES_MAX];
	struct authres_input in = {
	    .authserv_id = "mx.example.org", .have_spf = 1, .spf = SPF_PASS, .spf_mailfrom = big};
	int n;

	(void)state;
	memset(big, '"', 400);
	big[400] = '\0'; /* quoted: 802 octets on a line of its own */
	n = authres_build(&in, out, sizeof out);
	check_shape(out, n, 998);
	assert_non_null(strstr(out, "\tspf=pass\r\n\tsmtp.mailfrom=\"\\\"\\\""));
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0'; /* too long: left out */
	n = authres_build(&in, out, sizeof out);
	assert_non_null(strstr(out, "\tspf=pass;\r\n"));
	/* too small a buffer */
	assert_int_equal(authres_build(&in, out, 40), -1);
	assert_int_equal(authres_build(&in, out, 0), -1);
}

static int ours(const char *v)
{
	return authres_is_ours(v, strlen(v), "mx.example.org");
}

static void test_is_ours(void **state)
{
	(void)state;
	assert_int_equal(ours(" mx.example.org; spf=pass smtp.mailfrom=a@b"), 1);
	assert_int_equal(ours("MX.Example.ORG;spf=pass"), 1);
	assert_int_equal(ours("\r\n\tmx.example.org\r\n\t;\r\n\tdkim=none"), 1);
	assert_int_equal(ours("(comment (nested \\) x) y) mx.example.org (c) ; none"), 1);
	assert_int_equal(ours("\"mx.example.org\"; none"), 1);
	assert_int_equal(ours("\"mx.exa\\mple.org\"; none"), 1);
	assert_int_equal(ours("mx.example.org 1; spf=pass"), 1);
	assert_int_equal(ours("mx.example.org (v) 1 (x); spf=pass"), 1);
	assert_int_equal(ours("mx.example.org"), 1);
	assert_int_equal(ours("mx.example.org(c);none"), 1);
	/* not ours */
	assert_int_equal(ours("mx.example.org.evil; spf=pass"), 0);
	assert_int_equal(ours("example.org; spf=pass"), 0);
	assert_int_equal(ours("other.example; mx.example.org; spf=pass"), 0);
	/* unparseable */
	assert_int_equal(ours(""), 0);
	assert_int_equal(ours("   "), 0);
	assert_int_equal(ours("(unclosed mx.example.org; spf=pass"), 0);
	assert_int_equal(ours("\"mx.example.org; spf=pass"), 0);
	assert_int_equal(ours("mx.example.org 1 2; spf=pass"), 0);
	assert_int_equal(ours("mx.example.org x; spf=pass"), 0);
	assert_int_equal(ours("mx.example.org/1; spf=pass"), 0);
	assert_int_equal(ours("; spf=pass"), 0);
	assert_int_equal(ours("\xc3\xa9mx.example.org; none"), 0);
	assert_int_equal(ours("(\\"), 0);
	assert_int_equal(authres_is_ours("mx.example.org;", 10, "mx.example.org"), 0);
	assert_int_equal(authres_is_ours(NULL, 0, "mx.example.org"), 0);
}

static void test_is_ours_depth(void **state)
{
	char v[200];
	size_t k = 0;

	(void)state;
	for (int i = 0; i < 40; i++)
		v[k++] = '(';
	for (int i = 0; i < 40; i++)
		v[k++] = ')';
	strcpy(v + k, " mx.example.org; none");
	assert_int_equal(ours(v), 0); /* deeper than we read */
	memmove(v + 10, v + 20, strlen(v + 20) + 1);
	memmove(v + 30, v + 40, strlen(v + 40) + 1); /* 30 deep: fine */
	assert_int_equal(ours(v), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout),	  cmocka_unit_test(test_auth_helo_none),
	    cmocka_unit_test(test_quoting),	  cmocka_unit_test(test_injection),
	    cmocka_unit_test(test_long_values),	  cmocka_unit_test(test_is_ours),
	    cmocka_unit_test(test_is_ours_depth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
