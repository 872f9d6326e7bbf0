/*
 * test_scram: unit tests for SCRAM-SHA-256 (src/lookup/scram.c): the RFC
 * 7677 known-answer exchange, RFC 5803 secrets (format, strict parse),
 * full round trips against an independent client written here with
 * OpenSSL, and the refusals: wrong proofs, tampered nonce or channel
 * binding, channel-binding requests, bad escapes and base64, mandatory
 * extensions, over-long input, calls out of order.
 *
 * Security role: pins down that only the right proof authenticates, that
 * unknown users get a stable fake salt and always fail, and that the
 * parsers refuse everything outside the grammar.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "lookup/scram.h"

#define RFC_SALT   "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_CNONCE "rOprNGfwEbeRWgbNEkqO"
#define RFC_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SECRET                                                                                 \
	"SCRAM-SHA-256$4096:" RFC_SALT "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"            \
	"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
#define RFC_SFIRST   "r=" RFC_CNONCE RFC_SNONCE ",s=" RFC_SALT ",i=4096"
#define RFC_FINAL_WP "c=biws,r=" RFC_CNONCE RFC_SNONCE
#define RFC_PROOF    "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_VERIFY   "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static const unsigned char fake_key[SCRAM_KEY_LEN] = "0123456789abcdef0123456789abcdef";

static struct scram_state st;
static char out[SCRAM_OUT_MAX], user[SCRAM_USER_MAX];

/* ---- helpers ---------------------------------------------------------- */

static int first(const char *msg)
{
	return scram_client_first(&st, msg, strlen(msg), user, sizeof user);
}

static int final(const char *msg)
{
	return scram_client_final(&st, msg, strlen(msg), out, sizeof out);
}

static void rfc_secret(struct scram_secret *s)
{
	assert_int_equal(scram_secret_parse(RFC_SECRET, strlen(RFC_SECRET), s), 0);
}

/* The RFC 7677 exchange up to server-first. */
static void rfc_start(const struct scram_secret *s)
{
	assert_int_equal(first("n,,n=user,r=" RFC_CNONCE), 0);
	assert_int_equal(scram_server_first_nonce(&st, s, fake_key, RFC_SNONCE, strlen(RFC_SNONCE),
						  out, sizeof out),
			 0);
}

static size_t b64dec(const char *s, unsigned char *buf)
{
	size_t n = strlen(s);
	int r = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)n);
	assert_true(r >= 0);
	return (size_t)r - (n > 0 && s[n - 1] == '=') - (n > 1 && s[n - 2] == '=');
}

static void hmac(const unsigned char *key, const void *d, size_t n, unsigned char *o)
{
	unsigned len;
	assert_non_null(HMAC(EVP_sha256(), key, SCRAM_KEY_LEN, d, n, o, &len));
}

/*
 * An independent client: the proof (base64, into proof) and the expected
 * "v=..." (into verify) for password pw, client-first-bare, the server's
 * first message and the client-final-message without proof.
 */
static void client_proof(const char *pw, const char *bare, const char *sfirst, const char *wp,
			 char *proof, char *verify)
{
	unsigned char salt[128], salted[32], ck[32], sk[32], vk[32], sig[32], ssig[32];
	char saltb64[128], am[4096];
	const char *s = strstr(sfirst, ",s="), *i = strstr(sfirst, ",i=");

	assert_non_null(s);
	assert_non_null(i);
	snprintf(saltb64, sizeof saltb64, "%.*s", (int)(i - s - 3), s + 3);
	size_t saltn = b64dec(saltb64, salt);
	assert_int_equal(PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, (int)saltn, atoi(i + 3),
					   EVP_sha256(), 32, salted),
			 1);
	hmac(salted, "Client Key", 10, ck);
	SHA256(ck, 32, sk);
	hmac(salted, "Server Key", 10, vk);
	snprintf(am, sizeof am, "%s,%s,%s", bare, sfirst, wp);
	hmac(sk, am, strlen(am), sig);
	hmac(vk, am, strlen(am), ssig);
	for (int k = 0; k < 32; k++)
		ck[k] ^= sig[k];
	EVP_EncodeBlock((unsigned char *)proof, ck, 32);
	memcpy(verify, "v=", 2);
	EVP_EncodeBlock((unsigned char *)verify + 2, ssig, 32);
}

/*
 * A whole exchange: client-first gs2+bare, the server's secret (NULL:
 * fake), the client's password, extra text ext before p=. Returns the
 * result of scram_client_final; *verify_ok tells whether out matched the
 * signature the client expected.
 */
static int exchange(const char *gs2, const char *bare, const struct scram_secret *sec,
		    const char *pw, const char *cb, const char *ext, int *verify_ok)
{
	char cf[1024], sfirst[SCRAM_OUT_MAX], wp[1024], proof[64], verify[64], msg[1200];

	snprintf(cf, sizeof cf, "%s%s", gs2, bare);
	assert_int_equal(first(cf), 0);
	assert_int_equal(scram_server_first(&st, sec, fake_key, sfirst, sizeof sfirst), 0);
	const char *s = strstr(sfirst, ",s=");
	assert_non_null(s);
	snprintf(wp, sizeof wp, "c=%s,r=%.*s%s", cb, (int)(s - sfirst - 2), sfirst + 2, ext);
	client_proof(pw, bare, sfirst, wp, proof, verify);
	snprintf(msg, sizeof msg, "%s,p=%s", wp, proof);
	int r = final(msg);
	*verify_ok = strcmp(out, verify) == 0;
	return r;
}

/* ---- known answers ---------------------------------------------------- */

static void test_rfc7677(void **state)
{
	struct scram_secret s, p;
	unsigned char salt[16];
	char text[SCRAM_TEXT_MAX];
	(void)state;

	assert_int_equal(b64dec(RFC_SALT, salt), 16);
	assert_int_equal(scram_secret_derive("pencil", 6, 4096, salt, 16, &s), 0);
	assert_int_equal(scram_secret_format(&s, text, sizeof text), 0);
	assert_string_equal(text, RFC_SECRET);
	rfc_secret(&p);
	assert_memory_equal(&p, &s, sizeof s);

	rfc_start(&p);
	assert_string_equal(user, "user");
	assert_string_equal(out, RFC_SFIRST);
	assert_int_equal(final(RFC_FINAL_WP ",p=" RFC_PROOF), 0);
	assert_string_equal(out, RFC_VERIFY);
	/* the state is spent */
	assert_int_equal(final(RFC_FINAL_WP ",p=" RFC_PROOF), -1);
	assert_string_equal(out, "");
	scram_state_wipe(&st);
	static const struct scram_state zero;
	assert_memory_equal(&st, &zero, sizeof st);
}

/* ---- round trips ------------------------------------------------------ */

static void test_round_trip(void **state)
{
	struct scram_secret a, b, p;
	char text[SCRAM_TEXT_MAX];
	int v;
	(void)state;

	assert_int_equal(scram_secret_make("correct horse", 13, 0, &a), 0);
	assert_int_equal(a.iter, SCRAM_ITER_DEFAULT);
	assert_int_equal(a.salt_len, SCRAM_SALT_LEN);
	assert_int_equal(scram_secret_make("correct horse", 13, 5000, &b), 0);
	assert_int_equal(b.iter, 5000);
	assert_memory_not_equal(a.salt, b.salt, SCRAM_SALT_LEN); /* fresh salt */
	assert_memory_not_equal(a.stored_key, b.stored_key, 32);
	assert_int_equal(scram_secret_format(&a, text, sizeof text), 0);
	assert_int_equal(scram_secret_parse(text, strlen(text), &p), 0);
	assert_memory_equal(&p, &a, sizeof a);
	assert_int_equal(scram_secret_format(&a, text, 100), -1); /* does not fit */
	assert_string_equal(text, "");

	assert_int_equal(
	    exchange("n,,", "n=alice@example.test,r=abc", &a, "correct horse", "biws", "", &v), 0);
	assert_true(v);
	assert_string_equal(user, "alice@example.test");
	assert_int_equal(exchange("y,,", "n=alice,r=x,q=ext", &b, "correct horse", "eSws", "", &v),
			 0);
	assert_true(v);
	/* optional extensions before p= are covered by the proof */
	assert_int_equal(exchange("n,,", "n=alice,r=x", &a, "correct horse", "biws", ",x=opt", &v),
			 0);
	assert_true(v);
	/* authzid equal to the username; c= carries the whole gs2 header */
	assert_int_equal(
	    exchange("n,a=alice,", "n=alice,r=x", &a, "correct horse", "bixhPWFsaWNlLA==", "", &v),
	    0);
	assert_true(v);
	/* UTF-8 password, used as its bytes */
	static const char utf8pw[] = "p\xc3\xa4ss w\xc3\xb6rd";
	assert_int_equal(scram_secret_make(utf8pw, strlen(utf8pw), 0, &a), 0);
	assert_int_equal(exchange("n,,", "n=u,r=x", &a, utf8pw, "biws", "", &v), 0);
	assert_true(v);
	scram_state_wipe(&st);
}

static void test_wrong_proof(void **state)
{
	struct scram_secret s;
	int v;
	(void)state;

	assert_int_equal(scram_secret_make("right", 5, 0, &s), 0);
	assert_int_equal(exchange("n,,", "n=u,r=x", &s, "wrong", "biws", "", &v), 1);
	assert_string_equal(out, "e=invalid-proof");
	assert_int_equal(exchange("n,,", "n=u,r=x", &s, "Right", "biws", "", &v), 1);

	rfc_secret(&s);
	rfc_start(&s);
	/* one bit flipped: dHzb -> dHzc */
	assert_int_equal(final(RFC_FINAL_WP ",p=dHzcZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="), 1);
	assert_string_equal(out, "e=invalid-proof");
	rfc_start(&s);
	assert_int_equal(final(RFC_FINAL_WP ",p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), 1);
	/* a different username changes the AuthMessage: the RFC proof fails */
	assert_int_equal(first("n,,n=User,r=" RFC_CNONCE), 0);
	assert_int_equal(scram_server_first_nonce(&st, &s, fake_key, RFC_SNONCE, strlen(RFC_SNONCE),
						  out, sizeof out),
			 0);
	assert_int_equal(final(RFC_FINAL_WP ",p=" RFC_PROOF), 1);
	scram_state_wipe(&st);
}

/* ---- tampering -------------------------------------------------------- */

static void expect_final(const char *msg, int want)
{
	struct scram_secret s;

	rfc_secret(&s);
	rfc_start(&s);
	if (final(msg) != want) {
		print_message("client-final: %s\n", msg);
		fail();
	}
	if (want < 0)
		assert_string_equal(out, "");
}

static void test_tampered_final(void **state)
{
	(void)state;
	expect_final(RFC_FINAL_WP ",p=" RFC_PROOF, 0);
	/* nonce: changed, shortened, extended, client part only */
	expect_final("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,p=" RFC_PROOF,
		     -1);
	expect_final("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k,p=" RFC_PROOF, -1);
	expect_final(RFC_FINAL_WP "x,p=" RFC_PROOF, -1);
	expect_final("c=biws,r=" RFC_CNONCE ",p=" RFC_PROOF, -1);
	/* channel binding data: "y,," instead of "n,,", wrong, missing, not canonical */
	expect_final("c=eSws,r=" RFC_CNONCE RFC_SNONCE ",p=" RFC_PROOF, -1);
	expect_final("c=,r=" RFC_CNONCE RFC_SNONCE ",p=" RFC_PROOF, -1);
	expect_final("c=biwsAA==,r=" RFC_CNONCE RFC_SNONCE ",p=" RFC_PROOF, -1);
	expect_final("c=biwt,r=" RFC_CNONCE RFC_SNONCE ",p=" RFC_PROOF, -1); /* "n,-" */
	expect_final("r=" RFC_CNONCE RFC_SNONCE ",p=" RFC_PROOF, -1);
	expect_final("r=" RFC_CNONCE RFC_SNONCE ",c=biws,p=" RFC_PROOF, -1);
	/* proof: missing, empty, short, long, not canonical, not last, bad chars */
	expect_final(RFC_FINAL_WP, -1);
	expect_final(RFC_FINAL_WP ",p=", -1);
	expect_final(RFC_FINAL_WP ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndQ==", -1);
	expect_final(RFC_FINAL_WP ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQAAA==", -1);
	expect_final(RFC_FINAL_WP ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVR=", -1);
	expect_final(RFC_FINAL_WP ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ", -1);
	expect_final(RFC_FINAL_WP ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=\n", -1);
	expect_final(RFC_FINAL_WP ",p= dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", -1);
	expect_final(RFC_FINAL_WP ",p=dHzbZapWIk4jUhN-Ute9ytag9zjfMHgsqmmiz7AndVQ=", -1);
	expect_final(RFC_FINAL_WP ",p=" RFC_PROOF ",x=y", -1);
	expect_final(RFC_FINAL_WP ",p=" RFC_PROOF ",", -1);
	/* extensions: mandatory, known letters, empty */
	expect_final(RFC_FINAL_WP ",m=must,p=" RFC_PROOF, -1);
	expect_final(RFC_FINAL_WP ",r=again,p=" RFC_PROOF, -1);
	expect_final(RFC_FINAL_WP ",x=,p=" RFC_PROOF, -1);
	expect_final(RFC_FINAL_WP ",,p=" RFC_PROOF, -1);
	expect_final(RFC_FINAL_WP ",x=y,p=" RFC_PROOF, 1); /* allowed, but not in the proof */
	scram_state_wipe(&st);
}

/* ---- client-first ----------------------------------------------------- */

static void expect_first(const char *msg, int want)
{
	int r = first(msg);
	if (r != want) {
		print_message("client-first: %s -> %d\n", msg, r);
		fail();
	}
	if (r < 0)
		assert_string_equal(user, "");
}

static void test_client_first(void **state)
{
	(void)state;
	expect_first("n,,n=user,r=abc", 0);
	expect_first("y,,n=user,r=abc", 0);
	expect_first("n,a=user,n=user,r=abc", 0);
	expect_first("n,,n=user,r=abc,x=ext,y=more", 0);
	/* channel binding requested: we offer no -PLUS */
	expect_first("p=tls-unique,,n=user,r=abc", -1);
	expect_first("p=tls-exporter,a=user,n=user,r=abc", -1);
	expect_first("p,,n=user,r=abc", -1);
	/* gs2 header */
	expect_first("", -1);
	expect_first("n", -1);
	expect_first("n,", -1);
	expect_first("n,,", -1);
	expect_first("N,,n=user,r=abc", -1);
	expect_first("nn,,n=user,r=abc", -1);
	expect_first(",,n=user,r=abc", -1);
	expect_first("n,a=other,n=user,r=abc", -1);
	expect_first("n,a=,n=user,r=abc", -1);
	expect_first("n,b=user,n=user,r=abc", -1);
	expect_first("n,a=User,n=user,r=abc", -1);
	/* bare */
	expect_first("n,,m=ext,n=user,r=abc", -1);
	expect_first("n,,r=abc,n=user", -1);
	expect_first("n,,n=user", -1);
	expect_first("n,,n=user,", -1);
	expect_first("n,,n=,r=abc", -1);
	expect_first("n,,n=user,r=", -1);
	expect_first("n,,n=user,r=a b", -1);
	expect_first("n,,n=user,r=a\x7f", -1);
	expect_first("n,,n=user,r=a\xc3\xa4", -1);
	expect_first("n,,n=user,r=abc,m=x", -1);
	expect_first("n,,n=user,r=abc,x=", -1);
	expect_first("n,,n=user,r=abc,", -1);
	expect_first("n,,n=user,r=abc,xy=1", -1);
	expect_first("n,,n=user,r=abc,n=again", -1);
	expect_first("n,,n=user,r=abc,1=x", -1);
	expect_first(" n,,n=user,r=abc", -1);
	/* NUL inside */
	assert_int_equal(scram_client_first(&st, "n,,n=u\0x,r=abc", 14, user, sizeof user), -1);
	/* the user buffer must hold the name */
	assert_int_equal(scram_client_first(&st, "n,,n=user,r=abc", 15, user, 4), -1);
	assert_int_equal(scram_client_first(&st, "n,,n=user,r=abc", 15, user, 5), 0);
	assert_string_equal(user, "user");
	scram_state_wipe(&st);
}

static void test_escapes(void **state)
{
	(void)state;
	expect_first("n,,n=a=2Cb=3Dc,r=x", 0);
	assert_string_equal(user, "a,b=c");
	expect_first("n,,n==2c=3d,r=x", 0);
	assert_string_equal(user, ",=");
	expect_first("n,a=a=2Cb,n=a=2Cb,r=x", 0);
	expect_first("n,,n=j\xc3\xbcrgen,r=x", 0);
	assert_string_equal(user, "j\xc3\xbcrgen");
	expect_first("n,,n=a=2G,r=x", -1);
	expect_first("n,,n=a=41,r=x", -1);
	expect_first("n,,n=a=2,r=x", -1);
	expect_first("n,,n=a=,r=x", -1);
	expect_first("n,,n==,r=x", -1);
	expect_first("n,,n=a=3C,r=x", -1);
	expect_first("n,,n=a=00,r=x", -1);
	expect_first("n,,n=a=20,r=x", -1);
	/* control characters, invalid or overlong UTF-8, surrogates, C1 */
	expect_first("n,,n=a\tb,r=x", -1);
	expect_first("n,,n=a\x01,r=x", -1);
	expect_first("n,,n=a\xff,r=x", -1);
	expect_first("n,,n=a\xc3,r=x", -1);
	expect_first("n,,n=\xc0\xaf,r=x", -1);
	expect_first("n,,n=\xe0\x80\xaf,r=x", -1);
	expect_first("n,,n=\xed\xa0\x80,r=x", -1);
	expect_first("n,,n=\xf4\x90\x80\x80,r=x", -1);
	expect_first("n,,n=\xc2\x85,r=x", -1);
	scram_state_wipe(&st);
}

/* ---- unknown users ---------------------------------------------------- */

/* The salt the server announces for name; out keeps the server-first. */
static void fake_salt(const char *name, char *salt, size_t cap)
{
	char msg[256];

	snprintf(msg, sizeof msg, "n,,n=%s,r=abc", name);
	assert_int_equal(first(msg), 0);
	assert_int_equal(scram_server_first(&st, NULL, fake_key, out, sizeof out), 0);
	assert_true(st.fake);
	const char *s = strstr(out, ",s="), *i = strstr(out, ",i=4096");
	assert_non_null(s);
	assert_non_null(i);
	assert_string_equal(i, ",i=4096");
	snprintf(salt, cap, "%.*s", (int)(i - s - 3), s + 3);
	assert_int_equal(strlen(salt), 24); /* 16 bytes */
}

static void test_fake(void **state)
{
	char a[64], b[64], c[64], d[64], sfirst[SCRAM_OUT_MAX], s2[SCRAM_OUT_MAX];
	int v;
	(void)state;

	fake_salt("nobody@example.test", a, sizeof a);
	memcpy(sfirst, out, sizeof out);
	fake_salt("nobody@example.test", b, sizeof b);
	memcpy(s2, out, sizeof out);
	fake_salt("NoBody@Example.TEST", c, sizeof c); /* logins ignore case */
	fake_salt("other@example.test", d, sizeof d);
	assert_string_equal(a, b);
	assert_string_equal(a, c);
	assert_string_not_equal(a, d);
	assert_string_not_equal(sfirst, s2); /* the nonce is fresh each time */

	/* another fake_key, another salt */
	unsigned char k2[SCRAM_KEY_LEN] = {1};
	assert_int_equal(first("n,,n=nobody@example.test,r=abc"), 0);
	assert_int_equal(scram_server_first(&st, NULL, k2, out, sizeof out), 0);
	assert_null(strstr(out, a));

	/* whatever the client does, it fails like a wrong password */
	assert_int_equal(exchange("n,,", "n=nobody,r=x", NULL, "pw", "biws", "", &v), 1);
	assert_string_equal(out, "e=invalid-proof");
	assert_int_equal(exchange("n,,", "n=nobody,r=x", NULL, "", "biws", "", &v), 1);
	/* a secret that fails its own checks counts as no secret */
	struct scram_secret bad;
	memset(&bad, 0, sizeof bad);
	assert_int_equal(exchange("n,,", "n=nobody,r=x", &bad, "pw", "biws", "", &v), 1);
	/* malformed stays malformed */
	assert_int_equal(first("n,,n=nobody,r=abc"), 0);
	assert_int_equal(scram_server_first(&st, NULL, fake_key, out, sizeof out), 0);
	assert_int_equal(final("c=biws,r=abc,p=x"), -1);
	scram_state_wipe(&st);
}

/* ---- order, limits ---------------------------------------------------- */

static void test_order(void **state)
{
	struct scram_secret s;
	char small[40];
	(void)state;

	rfc_secret(&s);
	scram_state_wipe(&st);
	assert_int_equal(scram_server_first(&st, &s, fake_key, out, sizeof out), -1);
	assert_int_equal(final(RFC_FINAL_WP ",p=" RFC_PROOF), -1);
	assert_int_equal(first("n,,n=user,r=" RFC_CNONCE), 0);
	assert_int_equal(final(RFC_FINAL_WP ",p=" RFC_PROOF), -1);
	assert_int_equal(scram_server_first(&st, &s, fake_key, out, sizeof out), -1); /* spent */
	/* a failed client-first leaves nothing to continue */
	assert_int_equal(first("n,,n=user,r=" RFC_CNONCE), 0);
	assert_int_equal(first("p=x,,n=user,r=" RFC_CNONCE), -1);
	assert_int_equal(scram_server_first(&st, &s, fake_key, out, sizeof out), -1);

	/* server nonce: printable, no ',', 1..SCRAM_SNONCE_MAX */
	assert_int_equal(first("n,,n=user,r=abc"), 0);
	assert_int_equal(scram_server_first_nonce(&st, &s, fake_key, "", 0, out, sizeof out), -1);
	assert_int_equal(first("n,,n=user,r=abc"), 0);
	assert_int_equal(scram_server_first_nonce(&st, &s, fake_key, "a,b", 3, out, sizeof out),
			 -1);
	/* out too small */
	assert_int_equal(first("n,,n=user,r=abc"), 0);
	assert_int_equal(scram_server_first(&st, &s, fake_key, small, sizeof small), -1);
	rfc_start(&s);
	assert_int_equal(scram_client_final(&st, RFC_FINAL_WP ",p=" RFC_PROOF,
					    strlen(RFC_FINAL_WP ",p=" RFC_PROOF), small, 20),
			 -1);

	scram_state_wipe(&st);
}

static void test_limits(void **state)
{
	struct scram_secret s;
	char big[SCRAM_MSG_MAX + 64];
	(void)state;

	rfc_secret(&s);
	/* client nonce up to SCRAM_NONCE_MAX */
	int n = snprintf(big, sizeof big, "n,,n=user,r=");
	memset(big + n, 'x', SCRAM_NONCE_MAX);
	big[n + SCRAM_NONCE_MAX] = '\0';
	assert_int_equal(first(big), 0);
	assert_int_equal(scram_server_first(&st, &s, fake_key, out, sizeof out), 0);
	big[n + SCRAM_NONCE_MAX] = 'x';
	big[n + SCRAM_NONCE_MAX + 1] = '\0';
	assert_int_equal(first(big), -1);
	/* username longer than SCRAM_USER_MAX - 1 */
	n = snprintf(big, sizeof big, "n,,n=");
	memset(big + n, 'u', SCRAM_USER_MAX);
	memcpy(big + n + SCRAM_USER_MAX, ",r=abc", 7);
	assert_int_equal(first(big), -1);
	/* messages of SCRAM_MSG_MAX bytes or more */
	n = snprintf(big, sizeof big, "n,,n=user,r=abc,x=");
	memset(big + n, 'v', SCRAM_MSG_MAX - (size_t)n - 1);
	big[SCRAM_MSG_MAX - 1] = '\0';
	assert_int_equal(first(big), 0);
	big[SCRAM_MSG_MAX - 1] = 'v';
	big[SCRAM_MSG_MAX] = '\0';
	assert_int_equal(first(big), -1);
	rfc_start(&s);
	assert_int_equal(scram_client_final(&st, big, SCRAM_MSG_MAX, out, sizeof out), -1);
	scram_state_wipe(&st);
}

/* ---- secrets ---------------------------------------------------------- */

static void expect_parse(const char *text, int want)
{
	struct scram_secret s;
	int r = scram_secret_parse(text, strlen(text), &s);
	if (r != want) {
		print_message("secret: %s -> %d\n", text, r);
		fail();
	}
}

#define K32  "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
#define KEYS "$" K32 ":" K32

static void test_secret_parse(void **state)
{
	(void)state;
	expect_parse(RFC_SECRET, 0);
	expect_parse("SCRAM-SHA-256$1000000:" RFC_SALT KEYS, 0);
	expect_parse("SCRAM-SHA-256$4096:AAAAAAAAAAA=" KEYS, 0);  /* 8-byte salt */
	expect_parse("SCRAM-SHA-256$4096:AAAAAAAAAA==" KEYS, -1); /* 7 bytes */
	expect_parse("SCRAM-SHA-1$4096:" RFC_SALT KEYS, -1);
	expect_parse("scram-sha-256$4096:" RFC_SALT KEYS, -1);
	expect_parse("SCRAM-SHA-256$4095:" RFC_SALT KEYS, -1);
	expect_parse("SCRAM-SHA-256$1000001:" RFC_SALT KEYS, -1);
	expect_parse("SCRAM-SHA-256$04096:" RFC_SALT KEYS, -1);
	expect_parse("SCRAM-SHA-256$+4096:" RFC_SALT KEYS, -1);
	expect_parse("SCRAM-SHA-256$4096 :" RFC_SALT KEYS, -1);
	expect_parse("SCRAM-SHA-256$:" RFC_SALT KEYS, -1);
	expect_parse("SCRAM-SHA-256$99999999999999999999:" RFC_SALT KEYS, -1);
	expect_parse("SCRAM-SHA-256$4096:" RFC_SALT "$" K32, -1);
	expect_parse("SCRAM-SHA-256$4096:" RFC_SALT "$" K32 ":", -1);
	expect_parse("SCRAM-SHA-256$4096:" RFC_SALT "$" K32 ":" K32 "$", -1);
	expect_parse("SCRAM-SHA-256$4096:" RFC_SALT KEYS " ", -1);
	expect_parse("SCRAM-SHA-256$4096:" RFC_SALT KEYS "\n", -1);
	expect_parse(" SCRAM-SHA-256$4096:" RFC_SALT KEYS, -1);
	expect_parse("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ=" KEYS, -1);
	expect_parse("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gR==" KEYS, -1); /* bits */
	expect_parse("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ" KEYS, -1);
	expect_parse("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsU\nEjb6gQ==" KEYS, -1);
	expect_parse("SCRAM-SHA-256$4096:" RFC_SALT "$" K32 ":AAAA" K32, -1);	  /* 36 bytes */
	expect_parse("SCRAM-SHA-256$4096:" RFC_SALT "$" K32 ":AAAAAAAAAAA=", -1); /* 8 bytes */
	expect_parse("SCRAM-SHA-256$4096:" RFC_SALT "$" K32 ":" K32 "====", -1);
	expect_parse("SCRAM-SHA-256$", -1);
	expect_parse("", -1);
	/* a 64-byte salt fits, 65 does not */
	char text[400], salt[100];
	memset(salt, 'A', 86);
	memcpy(salt + 86, "==", 3);
	snprintf(text, sizeof text, "SCRAM-SHA-256$4096:%s" KEYS, salt);
	expect_parse(text, 0);
	memset(salt, 'A', 88);
	memcpy(salt + 88, "AAAA", 5);
	snprintf(text, sizeof text, "SCRAM-SHA-256$4096:%s" KEYS, salt);
	expect_parse(text, -1);
	/* NUL inside, over-long text */
	struct scram_secret s;
	assert_int_equal(scram_secret_parse(RFC_SECRET "\0", sizeof RFC_SECRET, &s), -1);
	assert_int_equal(scram_secret_parse(RFC_SECRET, sizeof RFC_SECRET - 2, &s), -1);
	memset(text, 'A', sizeof text);
	assert_int_equal(scram_secret_parse(text, sizeof text, &s), -1);
}

static void test_secret_make_refusals(void **state)
{
	struct scram_secret s;
	char pw[SCRAM_PW_MAX + 1];
	(void)state;

	assert_int_equal(scram_secret_make("", 0, 0, &s), -1);
	assert_int_equal(scram_secret_make("a\tb", 3, 0, &s), -1);
	assert_int_equal(scram_secret_make("a\0b", 3, 0, &s), -1);
	assert_int_equal(scram_secret_make("a\nb", 3, 0, &s), -1);
	assert_int_equal(scram_secret_make("a\x7f", 2, 0, &s), -1);
	assert_int_equal(scram_secret_make("\xff\xfe", 2, 0, &s), -1);
	assert_int_equal(scram_secret_make("pw", 2, SCRAM_ITER_MIN - 1, &s), -1);
	assert_int_equal(scram_secret_make("pw", 2, SCRAM_ITER_MAX + 1, &s), -1);
	static const struct scram_secret zero;
	assert_memory_equal(&s, &zero, sizeof s);
	memset(pw, 'p', sizeof pw);
	assert_int_equal(scram_secret_make(pw, SCRAM_PW_MAX + 1, 0, &s), -1);
	assert_int_equal(scram_secret_make(pw, SCRAM_PW_MAX, 0, &s), 0);
	assert_int_equal(scram_secret_make(" spaces ok ~!", 13, 0, &s), 0);
	unsigned char salt[SCRAM_SALT_MAX + 1] = {0};
	assert_int_equal(scram_secret_derive("pw", 2, 0, salt, SCRAM_SALT_MIN - 1, &s), -1);
	assert_int_equal(scram_secret_derive("pw", 2, 0, salt, SCRAM_SALT_MAX + 1, &s), -1);
	assert_int_equal(scram_secret_derive("pw", 2, 0, NULL, 16, &s), -1);
	assert_int_equal(scram_secret_derive("pw", 2, 0, salt, SCRAM_SALT_MAX, &s), 0);
	char text[SCRAM_TEXT_MAX];
	assert_int_equal(scram_secret_format(&s, text, sizeof text), 0);
	assert_int_equal(scram_secret_parse(text, strlen(text), &s), 0);
	s.iter = 1;
	assert_int_equal(scram_secret_format(&s, text, sizeof text), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc7677),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_wrong_proof),
	    cmocka_unit_test(test_tampered_final),
	    cmocka_unit_test(test_client_first),
	    cmocka_unit_test(test_escapes),
	    cmocka_unit_test(test_fake),
	    cmocka_unit_test(test_order),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_secret_parse),
	    cmocka_unit_test(test_secret_make_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
