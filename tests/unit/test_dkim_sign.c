/*
 * test_dkim_sign: unit tests for DKIM signing (src/auth/dkim_sign.c,
 * dkim_key.c): loading PEM keys (RSA under 2048 bits, other types and
 * garbage refused with a reason), signing with RSA and Ed25519 and
 * verifying the result with our verifier, over-signing (a From, To,
 * Subject or Date added after signing breaks the signature; other fields
 * do not), Received not signed, dual signing, folding, empty bodies.
 *
 * Security role: pins down that what we sign cannot be extended with a
 * second From and that our output verifies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>

#include "test_dkim.h"

#define NOW 1700000000

static struct dkim_key *rsa_key, *ed_key;
static char rsa_txt[1024], ed_txt[256];

/* A fresh key of type ("RSA" bits or "ED25519") as PEM, loaded. */
static struct dkim_key *gen_key(const char *type, size_t bits, char *err, size_t cap)
{
	EVP_PKEY *pk =
	    bits ? EVP_PKEY_Q_keygen(NULL, NULL, type, bits) : EVP_PKEY_Q_keygen(NULL, NULL, type);
	BIO *b = BIO_new(BIO_s_mem());
	struct dkim_key *k;
	char *pem;
	long n;

	assert_non_null(pk);
	assert_non_null(b);
	assert_int_equal(PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_get_mem_data(b, &pem);
	k = dkim_key_load_pem(pem, (size_t)n, err, cap);
	BIO_free(b);
	EVP_PKEY_free(pk);
	return k;
}

static int setup(void **state)
{
	char err[128];

	(void)state;
	rsa_key = gen_key("RSA", 2048, err, sizeof err);
	ed_key = gen_key("ED25519", 0, err, sizeof err);
	if (!rsa_key || !ed_key || dkim_key_record(rsa_key, rsa_txt, sizeof rsa_txt) < 0 ||
	    dkim_key_record(ed_key, ed_txt, sizeof ed_txt) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	dkim_key_free(rsa_key);
	dkim_key_free(ed_key);
	return 0;
}

static const char msg[] = "Received: from x by y; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
			  "From: Alice <alice@example.org>\r\n"
			  "To: bob@example.net\r\n"
			  "Subject: a long subject that goes on\r\n and on, folded\r\n"
			  "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
			  "Message-ID: <1@example.org>\r\n"
			  "\r\n"
			  "Hello  Bob. \r\n"
			  "\r\n"
			  "\r\n";

/* sig + m into buf. */
static void signed_msg(const struct dkim_key *k, const char *sel, const char *m, char *buf,
		       size_t cap)
{
	char sig[DKIM_SIG_HDR_MAX];
	int n = dkim_sign(k, "example.org", sel, m, strlen(m), NOW, sig, sizeof sig);

	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(sig));
	assert_true(snprintf(buf, cap, "%s%s", sig, m) < (int)cap);
}

static size_t check(const char *m, struct dkim_sig_result *r)
{
	const struct tkey keys[] = {
	    {"rsa._domainkey.example.org", rsa_txt, DNS_OK},
	    {"ed._domainkey.example.org", ed_txt, DNS_OK},
	};

	return verify_msg(m, NOW + 10, keys, 2, 3, r);
}

static void test_sign_verify(void **state)
{
	struct dkim_sig_result r[DKIM_SIG_LIST_MAX];
	char buf[8192], twice[16384];

	(void)state;
	signed_msg(rsa_key, "rsa", msg, buf, sizeof buf);
	assert_int_equal(check(buf, r), 1);
	assert_int_equal(r[0].result, DKIM_PASS);
	assert_string_equal(r[0].algo, "rsa-sha256");
	signed_msg(ed_key, "ed", buf, twice, sizeof twice);
	assert_int_equal(check(twice, r), 2);
	assert_int_equal(r[0].result, DKIM_PASS);
	assert_string_equal(r[0].algo, "ed25519-sha256");
	assert_int_equal(r[1].result, DKIM_PASS);
}

static void test_sign_fields(void **state)
{
	char sig[DKIM_SIG_HDR_MAX];
	const char *p, *line;

	(void)state;
	assert_true(
	    dkim_sign(rsa_key, "example.org", "rsa", msg, strlen(msg), NOW, sig, sizeof sig) > 0);
	assert_non_null(strstr(sig, "h=from:from:to:to:subject:subject:date:date:"));
	assert_non_null(strstr(sig, "message-id;"));
	assert_null(strstr(sig, "received"));
	assert_non_null(strstr(sig, "t=1700000000;"));
	assert_non_null(strstr(sig, "c=relaxed/relaxed;"));
	assert_null(strstr(sig, " l="));
	assert_null(strstr(sig, " x="));
	for (line = sig; (p = strstr(line, "\r\n")) != NULL; line = p + 2) {
		assert_true(p - line <= 78);
		if (p[2])
			assert_int_equal(p[2], '\t');
	}
	assert_int_equal(*line, '\0');
	/* too small an output buffer */
	assert_int_equal(dkim_sign(rsa_key, "example.org", "rsa", msg, strlen(msg), NOW, sig, 100),
			 -1);
	assert_int_equal(
	    dkim_sign(rsa_key, "exa mple.org", "rsa", msg, strlen(msg), NOW, sig, sizeof sig), -1);
}

/* Insert text before the field starting with at (after the signature). */
static void add(const char *in, const char *at, const char *text, char *out, size_t cap)
{
	const char *p = strstr(in, at);

	assert_non_null(p);
	assert_true(snprintf(out, cap, "%.*s%s%s", (int)(p - in), in, text, p) < (int)cap);
}

static void test_oversign(void **state)
{
	struct dkim_sig_result r[DKIM_SIG_LIST_MAX];
	char buf[8192], bad[8192];
	const char *added[] = {"From: Mallory <m@example.com>\r\n", "To: eve@example.com\r\n",
			       "Subject: other\r\n", "Date: Tue, 2 Jan 2024 00:00:00 +0000\r\n",
			       "Cc: eve@example.com\r\n"};

	(void)state;
	signed_msg(ed_key, "ed", msg, buf, sizeof buf);
	for (size_t i = 0; i < sizeof added / sizeof added[0]; i++) {
		add(buf, "Message-ID:", added[i], bad, sizeof bad);
		check(bad, r);
		assert_int_equal(r[0].result, i < 4 ? DKIM_FAIL : DKIM_PASS); /* Cc: absent */
		add(buf, "Received:", added[i], bad, sizeof bad);	      /* on top */
		check(bad, r);
		assert_int_equal(r[0].result, i < 4 ? DKIM_FAIL : DKIM_PASS);
	}
	add(buf, "Message-ID:", "X-Mailer: any\r\nReceived: from z\r\n", bad, sizeof bad);
	check(bad, r);
	assert_int_equal(r[0].result, DKIM_PASS);
}

static void test_sign_empty_body(void **state)
{
	struct dkim_sig_result r[DKIM_SIG_LIST_MAX];
	char buf[8192];
	const char *m[] = {"From: a@example.org\r\n\r\n", "From: a@example.org\r\n",
			   "From: a@example.org\r\n\r\n\r\n\r\n"};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		signed_msg(rsa_key, "rsa", m[i], buf, sizeof buf);
		check(buf, r);
		assert_int_equal(r[0].result, DKIM_PASS);
		assert_non_null(strstr(buf, "bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="));
	}
}

static const char rsa1024_pem[] =
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIICXQIBAAKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQi\n"
    "Y/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqM\n"
    "KrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB\n"
    "AoGAH0cxOhFZDgzXWhDhnAJDw5s4roOXN4OhjiXa8W7Y3rhX3FJqmJSPuC8N9vQm\n"
    "6SVbaLAE4SG5mLMueHlh4KXffEpuLEiNp9Ss3O4YfLiQpbRqE7Tm5SxKjvvQoZZe\n"
    "zHorimOaChRL2it47iuWxzxSiRMv4c+j70GiWdxXnxe4UoECQQDzJB/0U58W7RZy\n"
    "6enGVj2kWF732CoWFZWzi1FicudrBFoy63QwcowpoCazKtvZGMNlPWnC7x/6o8Gc\n"
    "uSe0ga2xAkEA8C7PipPm1/1fTRQvj1o/dDmZp243044ZNyxjg+/OPN0oWCbXIGxy\n"
    "WvmZbXriOWoSALJTjExEgraHEgnXssuk7QJBALl5ICsYMu6hMxO73gnfNayNgPxd\n"
    "WFV6Z7ULnKyV7HSVYF0hgYOHjeYe9gaMtiJYoo0zGN+L3AAtNP9huqkWlzECQE1a\n"
    "licIeVlo1e+qJ6Mgqr0Q7Aa7falZ448ccbSFYEPD6oFxiOl9Y9se9iYHZKKfIcst\n"
    "o7DUw1/hz2Ck4N5JrgUCQQCyKveNvjzkkd8HjYs0SwM0fPjK16//5qDZ2UiDGnOe\n"
    "uEzxBDAr518Z8VFbR41in3W4Y3yCDgQlLlcETrS+zYcL\n"
    "-----END RSA PRIVATE KEY-----\n";

static void test_key_load_refused(void **state)
{
	char err[128];
	struct dkim_key *k;

	(void)state;
	assert_null(dkim_key_load_pem(rsa1024_pem, strlen(rsa1024_pem), err, sizeof err));
	assert_string_equal(err, "RSA key of 1024 bits (at least 2048 needed)");
	assert_null(dkim_key_load_pem("garbage", 7, err, sizeof err));
	assert_non_null(strstr(err, "no PEM private key"));
	{
		EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		BIO *b = BIO_new(BIO_s_mem());
		char *pem;
		long n;
		assert_int_equal(PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL), 1);
		n = BIO_get_mem_data(b, &pem);
		k = dkim_key_load_pem(pem, (size_t)n, err, sizeof err);
		assert_null(k);
		assert_string_equal(err, "not an RSA or Ed25519 key");
		BIO_free(b);
		EVP_PKEY_free(pk);
	}
}

/* RFC 8463's Ed25519 key (RFC 8032 test 1) signs what its record verifies. */
static void test_rfc8463_ed25519_key(void **state)
{
	static const unsigned char seed[32] = {0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60,
					       0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
					       0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19,
					       0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60};
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof seed);
	BIO *b = BIO_new(BIO_s_mem());
	char err[128], txt[256], *pem;
	struct dkim_key *k;
	long n;

	(void)state;
	assert_non_null(pk);
	assert_int_equal(PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_get_mem_data(b, &pem);
	k = dkim_key_load_pem(pem, (size_t)n, err, sizeof err);
	assert_non_null(k);
	assert_int_equal(dkim_key_record(k, txt, sizeof txt), 0);
	assert_string_equal(txt,
			    "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
	dkim_key_free(k);
	BIO_free(b);
	EVP_PKEY_free(pk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign_verify),	     cmocka_unit_test(test_sign_fields),
	    cmocka_unit_test(test_oversign),	     cmocka_unit_test(test_sign_empty_body),
	    cmocka_unit_test(test_key_load_refused), cmocka_unit_test(test_rfc8463_ed25519_key),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
