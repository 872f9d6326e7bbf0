/*
 * test_dkim: unit tests for the DKIM parsers and verifier (src/auth/
 * dkim_*.c): the tag-list parser, strict base64, the RFC 6376 3.4.6
 * canonicalization example, the body canonicalizer fed one octet at a
 * time against whole, key records, signature field checks, and the RFC
 * 8463 Appendix A message (both signatures) verifying, tampered or not.
 *
 * Security role: pins down that a malformed or tampered signature never
 * passes and that results for DNS failures are the documented ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "test_dkim.h"

/* ---- RFC 8463 Appendix A ------------------------------------------------ */

#define RFC8463_NOW 1528637909

static const char rfc8463_msg[] = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
				  " d=football.example.com; i=@football.example.com;\r\n"
				  " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
				  " subject : date : message-id : from : subject : date;\r\n"
				  " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
				  " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
				  " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
				  "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
				  " d=football.example.com; i=@football.example.com;\r\n"
				  " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
				  " date : message-id : from : subject : date;\r\n"
				  " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
				  " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
				  " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
				  " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
				  "From: Joe SixPack <joe@football.example.com>\r\n"
				  "To: Suzie Q <suzie@shopping.example.net>\r\n"
				  "Subject: Is dinner ready?\r\n"
				  "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
				  "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
				  "\r\n"
				  "Hi.\r\n"
				  "\r\n"
				  "We lost the game.  Are you hungry yet?\r\n"
				  "\r\n"
				  "Joe.\r\n";

static const struct tkey rfc8463_keys[] = {
    {"brisbane._domainkey.football.example.com",
     "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", DNS_OK},
    {"test._domainkey.football.example.com",
     "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"
     "iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC"
     "DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3"
     "Ip3G+2kryOTIKT+l/K4w3QIDAQAB",
     DNS_OK},
};

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

static void test_rfc8463_verifies(void **state)
{
	struct dkim_sig_result r[DKIM_SIG_LIST_MAX];
	size_t chunks[] = {1, 7, 64, 65536};

	(void)state;
	for (size_t c = 0; c < NKEYS(chunks); c++) {
		assert_int_equal(verify_msg(rfc8463_msg, RFC8463_NOW, rfc8463_keys,
					    NKEYS(rfc8463_keys), chunks[c], r),
				 2);
		assert_string_equal(dkim_result_name(r[0].result), "pass");
		assert_string_equal(dkim_result_name(r[1].result), "pass");
	}
	assert_string_equal(r[0].domain, "football.example.com");
	assert_string_equal(r[0].selector, "brisbane");
	assert_string_equal(r[0].algo, "ed25519-sha256");
	assert_string_equal(r[0].auid, "@football.example.com");
	assert_string_equal(r[0].b8, "/gCrinpc");
	assert_string_equal(r[1].selector, "test");
	assert_string_equal(r[1].b8, "F45dVWDf");
}

/* Replace the first "from" with "to" in a copy of rfc8463_msg. */
static void tamper(char *buf, size_t cap, const char *from, const char *to)
{
	const char *p = strstr(rfc8463_msg, from);
	size_t pre;

	assert_non_null(p);
	pre = (size_t)(p - rfc8463_msg);
	assert_true(snprintf(buf, cap, "%.*s%s%s", (int)pre, rfc8463_msg, to, p + strlen(from)) <
		    (int)cap);
}

static void test_rfc8463_tampered(void **state)
{
	struct dkim_sig_result r[DKIM_SIG_LIST_MAX];
	char buf[4096];

	(void)state;
	tamper(buf, sizeof buf, "We lost", "We won");
	assert_int_equal(verify_msg(buf, RFC8463_NOW, rfc8463_keys, 2, 100, r), 2);
	assert_int_equal(r[0].result, DKIM_FAIL);
	assert_string_equal(r[0].reason, "body hash did not verify");
	assert_int_equal(r[1].result, DKIM_FAIL);
	tamper(buf, sizeof buf, "dinner ready", "dinner  ready"); /* relaxed: same */
	verify_msg(buf, RFC8463_NOW, rfc8463_keys, 2, 100, r);
	assert_int_equal(r[0].result, DKIM_PASS);
	tamper(buf, sizeof buf, "dinner ready", "lunch ready");
	verify_msg(buf, RFC8463_NOW, rfc8463_keys, 2, 100, r);
	assert_int_equal(r[0].result, DKIM_FAIL);
	assert_string_equal(r[0].reason, "signature did not verify");
	assert_int_equal(r[1].result, DKIM_FAIL);
	/* an unsigned field added: still pass */
	tamper(buf, sizeof buf, "Message-ID:", "X-Added: yes\r\nMessage-ID:");
	verify_msg(buf, RFC8463_NOW, rfc8463_keys, 2, 100, r);
	assert_int_equal(r[0].result, DKIM_PASS);
	assert_int_equal(r[1].result, DKIM_PASS);
	/* a second From (over-signed: the null field was signed) */
	tamper(buf, sizeof buf, "Message-ID:", "From: evil@example.org\r\nMessage-ID:");
	verify_msg(buf, RFC8463_NOW, rfc8463_keys, 2, 100, r);
	assert_int_equal(r[0].result, DKIM_FAIL);
	assert_int_equal(r[1].result, DKIM_FAIL);
}

static void test_dns_results(void **state)
{
	struct dkim_sig_result r[DKIM_SIG_LIST_MAX];
	struct tkey k[] = {
	    {"brisbane._domainkey.football.example.com", NULL, DNS_TEMPFAIL},
	    {"test._domainkey.football.example.com", NULL, DNS_BOGUS},
	};

	(void)state;
	verify_msg(rfc8463_msg, RFC8463_NOW, k, 2, 100, r);
	assert_int_equal(r[0].result, DKIM_TEMPERROR);
	assert_int_equal(r[1].result, DKIM_TEMPERROR);
	k[0].status = DNS_NXDOMAIN;
	k[1].status = DNS_NODATA;
	verify_msg(rfc8463_msg, RFC8463_NOW, k, 2, 100, r);
	assert_int_equal(r[0].result, DKIM_PERMERROR);
	assert_string_equal(r[0].reason, "no key");
	assert_int_equal(r[1].result, DKIM_PERMERROR);
	k[0].txt = "v=DKIM1; k=ed25519; p=";
	k[1].txt = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
	verify_msg(rfc8463_msg, RFC8463_NOW, k, 2, 100, r);
	assert_int_equal(r[0].result, DKIM_PERMERROR);
	assert_string_equal(r[0].reason, "key revoked");
	assert_int_equal(r[1].result, DKIM_PERMERROR); /* ed25519 key for rsa-sha256 */
	k[0].txt = "v=DKIM1; k=ed25519; t=y; s=email; h=sha256; "
		   "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
	verify_msg(rfc8463_msg, RFC8463_NOW, k, 2, 100, r);
	assert_int_equal(r[0].result, DKIM_PASS);
	assert_int_equal(r[0].testing, 1);
	k[0].txt = "v=DKIM1; k=ed25519; s=tlsrpt; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
	verify_msg(rfc8463_msg, RFC8463_NOW, k, 2, 100, r);
	assert_int_equal(r[0].result, DKIM_PERMERROR);
	k[0].txt = "k=ed25519; h=sha1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
	verify_msg(rfc8463_msg, RFC8463_NOW, k, 2, 100, r);
	assert_int_equal(r[0].result, DKIM_PERMERROR);
}

static void test_sig_time_and_count(void **state)
{
	struct dkim_sig_result r[DKIM_SIG_LIST_MAX];
	char buf[4096];

	(void)state;
	/* t= far in the future */
	verify_msg(rfc8463_msg, RFC8463_NOW - 86400, rfc8463_keys, 2, 100, r);
	assert_int_equal(r[0].result, DKIM_NEUTRAL);
	assert_string_equal(r[0].reason, "t= in the future");
	tamper(buf, sizeof buf, "t=1528637909;", "t=1528637909; x=1528637999;");
	verify_msg(buf, RFC8463_NOW + 100, rfc8463_keys, 2, 100, r);
	assert_int_equal(r[0].result, DKIM_NEUTRAL);
	assert_string_equal(r[0].reason, "signature expired");
	assert_int_equal(r[1].result, DKIM_PASS);
	/* a signature that is verified before the keys are in */
	{
		struct dkim_verify *v = dkim_verify_new(rfc8463_msg, 100, RFC8463_NOW);
		assert_non_null(v);
		assert_int_equal(dkim_verify_count(v), 1);
		dkim_verify_body_end(v);
		dkim_verify_result(v, 0, &r[0]);
		assert_int_equal(r[0].result, DKIM_NEUTRAL); /* the field was cut */
		dkim_verify_free(v);
	}
}

static void test_no_signature(void **state)
{
	struct dkim_sig_result r[DKIM_SIG_LIST_MAX];

	(void)state;
	assert_int_equal(verify_msg("From: a@b.example\r\n\r\nhi\r\n", 0, NULL, 0, 10, r), 0);
	assert_int_equal(verify_msg("", 0, NULL, 0, 10, r), 0);
}

/* ---- tag lists and base64 ----------------------------------------------- */

static void test_tags(void **state)
{
	struct dkim_tag t[DKIM_TAG_MAX];
	const char *why;
	size_t n;
	const char *s = " v = 1 ;a=rsa-sha256;\r\n\tb = ab\r\n cd \t; x_y=;";

	(void)state;
	assert_int_equal(dkim_tags_parse(s, strlen(s), t, DKIM_TAG_MAX, &n, &why), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(t[0].val, "1", 1);
	assert_int_equal(t[0].val_len, 1);
	assert_int_equal(t[2].val_len, 7);
	assert_memory_equal(t[2].val, "ab\r\n cd", 7);
	assert_ptr_equal(t[2].after_eq, strstr(s, "= ab") + 1);
	assert_int_equal(t[3].val_len, 0);
	assert_non_null(dkim_tag_find(t, n, "x_y"));
	assert_null(dkim_tag_find(t, n, "V"));
	assert_int_equal(dkim_tags_parse("", 0, t, DKIM_TAG_MAX, &n, &why), 0);
	assert_int_equal(n, 0);
	const char *bad[] = {"a=1;a=2",	 "a=1;;b=2", "1a=2",  "a",
			     "a=b\001c", "=x",	     "a=1;b", "a=\xc3\xa9"};
	for (size_t i = 0; i < NKEYS(bad); i++)
		assert_int_equal(dkim_tags_parse(bad[i], strlen(bad[i]), t, DKIM_TAG_MAX, &n, &why),
				 -1);
	assert_int_equal(dkim_tags_parse("a=1;b=2", 7, t, 1, &n, &why), -1);
}

static void test_base64(void **state)
{
	unsigned char out[16];
	size_t n;

	(void)state;
	assert_int_equal(dkim_b64_decode("aGVs bG8=", 9, out, sizeof out, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "hello", 5);
	assert_int_equal(dkim_b64_decode("aG\r\n\tVs", 7, out, sizeof out, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(dkim_b64_decode("aGk=", 4, out, sizeof out, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(dkim_b64_decode("", 0, out, sizeof out, &n), 0);
	assert_int_equal(n, 0);
	const char *bad[] = {"aGVsbG8", "aGk", "a===", "aGk=a", "aG!k", "=aGk", "aGk==="};
	for (size_t i = 0; i < NKEYS(bad); i++)
		assert_int_equal(dkim_b64_decode(bad[i], strlen(bad[i]), out, sizeof out, &n), -1);
	assert_int_equal(dkim_b64_decode("aGVsbG8=", 8, out, 4, &n), -1);
}

/* ---- canonicalization --------------------------------------------------- */

struct cap {
	char buf[4096];
	size_t n;
};

static void cap_sink(void *arg, const char *p, size_t n)
{
	struct cap *c = arg;

	assert_true(c->n + n < sizeof c->buf);
	memcpy(c->buf + c->n, p, n);
	c->n += n;
	c->buf[c->n] = '\0';
}

static void canon_body(const char *in, size_t n, int relaxed, size_t chunk, struct cap *c)
{
	struct dkim_body b;

	memset(c, 0, sizeof *c);
	dkim_body_init(&b, relaxed, cap_sink, c);
	for (size_t i = 0; i < n; i += chunk)
		dkim_body_feed(&b, in + i, n - i < chunk ? n - i : chunk);
	dkim_body_end(&b);
}

static void canon_hdr(const char *hdr, int relaxed, struct cap *c)
{
	struct dkim_field *f;
	struct dkim_out o;
	size_t nf;

	memset(c, 0, sizeof *c);
	dkim_out_init(&o, cap_sink, c);
	assert_int_equal(dkim_fields_split(hdr, strlen(hdr), &f, &nf), 0);
	for (size_t i = 0; i < nf; i++)
		dkim_canon_header(&o, f[i].p, f[i].len, relaxed, 1);
	dkim_out_flush(&o);
	free(f);
}

/* RFC 6376 3.4.6 */
static void test_canon_rfc6376_example(void **state)
{
	const char *hdr = "A: X\r\nB : Y\t\r\n\tZ  \r\n";
	const char *body = " C \r\nD \t E\r\n\r\n\r\n";
	struct cap c;

	(void)state;
	canon_hdr(hdr, 1, &c);
	assert_string_equal(c.buf, "a:X\r\nb:Y Z\r\n");
	canon_hdr(hdr, 0, &c);
	assert_string_equal(c.buf, hdr);
	canon_body(body, strlen(body), 1, 1000, &c);
	assert_string_equal(c.buf, " C\r\nD E\r\n");
	canon_body(body, strlen(body), 0, 1000, &c);
	assert_string_equal(c.buf, " C \r\nD \t E\r\n");
}

static void test_canon_body_edges(void **state)
{
	struct cap c;

	(void)state;
	canon_body("", 0, 0, 1, &c);
	assert_string_equal(c.buf, "\r\n");
	canon_body("", 0, 1, 1, &c);
	assert_string_equal(c.buf, "");
	canon_body("\r\n\r\n", 4, 0, 1, &c);
	assert_string_equal(c.buf, "\r\n");
	canon_body(" \t\r\n \r\n", 7, 1, 1, &c);
	assert_string_equal(c.buf, "");
	canon_body("abc", 3, 0, 1, &c);
	assert_string_equal(c.buf, "abc\r\n");
	canon_body("abc \t", 5, 1, 1, &c);
	assert_string_equal(c.buf, "abc\r\n");
	canon_body("a\rb\r", 4, 0, 1, &c);
	assert_string_equal(c.buf, "a\rb\r\r\n");
	canon_body("x\r\n\r\n \r\ny", 9, 1, 1, &c);
	assert_string_equal(c.buf, "x\r\n\r\n\r\ny\r\n");
}

/* Fed one octet at a time or in other chunks: the same output. */
static void test_canon_body_chunks(void **state)
{
	const char *bodies[] = {
	    " C \r\nD \t E\r\n\r\n\r\n",    "a\r",
	    "\r\r\n\r\n x \t\r\n\t\r\n",    "no end  ",
	    "l1\r\n\r\n\r\nl2 \r\n \r\n\r", "\n\n\r\n a  b\tc \r\n",
	};
	struct cap whole, part;

	(void)state;
	for (size_t i = 0; i < NKEYS(bodies); i++) {
		size_t n = strlen(bodies[i]);
		for (int relaxed = 0; relaxed < 2; relaxed++) {
			canon_body(bodies[i], n, relaxed, n + 1, &whole);
			for (size_t ch = 1; ch <= 3; ch++) {
				canon_body(bodies[i], n, relaxed, ch, &part);
				assert_int_equal(part.n, whole.n);
				assert_memory_equal(part.buf, whole.buf, whole.n);
			}
		}
	}
}

static void test_fields_pick(void **state)
{
	const char *hdr = "From: a\r\nTo: b\r\n c\r\nfrom : d\r\nbogus\r\n";
	unsigned char used[8] = {0};
	struct dkim_field *f;
	size_t nf;

	(void)state;
	assert_int_equal(dkim_fields_split(hdr, strlen(hdr), &f, &nf), 0);
	assert_int_equal(nf, 4);
	assert_int_equal(f[1].len, strlen("To: b\r\n c\r\n"));
	assert_int_equal(f[2].name_len, 4);
	assert_int_equal(f[3].name_len, 0);
	assert_int_equal(dkim_field_pick(f, nf, used, "FROM", 4), 2);
	assert_int_equal(dkim_field_pick(f, nf, used, "from", 4), 0);
	assert_int_equal(dkim_field_pick(f, nf, used, "from", 4), -1);
	free(f);
}

/* ---- key records and signature fields ----------------------------------- */

static void test_keyrec(void **state)
{
	struct dkim_keyrec k;
	const char *why;
	const char *s;

	(void)state;
	s = "v=DKIM1; k=ed25519; t=y:s; s=*; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
	assert_int_equal(dkim_keyrec_parse(s, strlen(s), &k, &why), 0);
	assert_int_equal(k.type, DKIM_KEY_ED25519);
	assert_true(k.testing && k.strict && k.sha1_ok && k.sha256_ok);
	assert_int_equal(k.p_len, 32);
	s = "p=";
	assert_int_equal(dkim_keyrec_parse(s, strlen(s), &k, &why), 0);
	assert_true(k.revoked);
	const char *bad[] = {"k=rsa; v=DKIM1; p=", "v=DKIM2; p=", "k=dsa; p=", "v=DKIM1", "p=!!!!",
			     "p=; s=tlsrpt",	   "p=; p="};
	for (size_t i = 0; i < NKEYS(bad); i++)
		assert_int_equal(dkim_keyrec_parse(bad[i], strlen(bad[i]), &k, &why), -1);
	s = "p=; h=sha1 : sha512";
	assert_int_equal(dkim_keyrec_parse(s, strlen(s), &k, &why), 0);
	assert_true(k.sha1_ok && !k.sha256_ok);
}

static void test_txt_join(void **state)
{
	const unsigned char rd[] = "\003abc\000\002de";
	char out[16];
	size_t n;

	(void)state;
	assert_int_equal(dkim_txt_join(rd, sizeof rd - 1, out, sizeof out, &n), 0);
	assert_string_equal(out, "abcde");
	assert_int_equal(dkim_txt_join(rd, 3, out, sizeof out, &n), -1);
	assert_int_equal(dkim_txt_join(rd, sizeof rd - 1, out, 5, &n), -1);
}

static int sig(const char *tags, const char **why)
{
	static struct dkim_sig s;
	char f[1024];

	assert_true(snprintf(f, sizeof f, "DKIM-Signature: %s\r\n", tags) < (int)sizeof f);
	return dkim_sig_parse(f, strlen(f), 1000, &s, why);
}

static void test_sig_parse(void **state)
{
	const char *why;
	const char *base = "bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA; ";
	char t[512];
	struct {
		const char *tags, *why;
	} cases[] = {
	    {"v=1; a=rsa-sha256; d=x.example; s=s; h=from", NULL},
	    {"v=1; a=rsa-sha256; d=x.example; s=s; h=From:to; i=u@sub.x.example; c=relaxed", NULL},
	    {"v=1; a=rsa-sha256; d=x.example; s=s; h=to", "From not signed"},
	    {"v=1; a=rsa-sha512; d=x.example; s=s; h=from", "unknown algorithm"},
	    {"v=2; a=rsa-sha256; d=x.example; s=s; h=from", "v= missing or not 1"},
	    {"v=1; a=rsa-sha256; d=x.example; s=s; h=from; i=@y.example", "i= not within d="},
	    {"v=1; a=rsa-sha256; d=x.example; s=s; h=from; i=@xx.example", "i= not within d="},
	    {"v=1; a=rsa-sha256; d=x.example; s=s; h=from; c=odd/simple", "bad c="},
	    {"v=1; a=rsa-sha256; d=x.example; s=s; h=from; x=999", "signature expired"},
	    {"v=1; a=rsa-sha256; d=x.example; s=s; h=from; t=900; x=800", "x= before t="},
	    {"v=1; a=rsa-sha256; d=x.example; s=s; h=from; l=1x", "bad l="},
	    {"v=1; a=rsa-sha256; d=x.example; s=s; h=from; q=http", "unknown q="},
	    {"v=1; a=rsa-sha256; d=x..example; s=s; h=from", "bad d="},
	    {"v=1; a=rsa-sha256; d=x.example; h=from", "d= or s= missing"},
	    {"v=1; a=rsa-sha256; d=x.example; s=s; h=from; d=y.example", "duplicate tag"},
	    {"v=1; a=rsa-sha256; d=x.example; s=s; h=from::to", "bad h="},
	};

	(void)state;
	for (size_t i = 0; i < NKEYS(cases); i++) {
		assert_true(snprintf(t, sizeof t, "%s%s", base, cases[i].tags) < (int)sizeof t);
		why = NULL;
		if (cases[i].why) {
			assert_int_equal(sig(t, &why), -1);
			assert_string_equal(why, cases[i].why);
		} else {
			assert_int_equal(sig(t, &why), 0);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc8463_verifies), cmocka_unit_test(test_rfc8463_tampered),
	    cmocka_unit_test(test_dns_results),	     cmocka_unit_test(test_sig_time_and_count),
	    cmocka_unit_test(test_no_signature),     cmocka_unit_test(test_tags),
	    cmocka_unit_test(test_base64),	     cmocka_unit_test(test_canon_rfc6376_example),
	    cmocka_unit_test(test_canon_body_edges), cmocka_unit_test(test_canon_body_chunks),
	    cmocka_unit_test(test_fields_pick),	     cmocka_unit_test(test_keyrec),
	    cmocka_unit_test(test_txt_join),	     cmocka_unit_test(test_sig_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
