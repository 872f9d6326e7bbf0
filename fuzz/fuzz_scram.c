/*
 * fuzz_scram: libFuzzer target for src/lookup/scram.c (SCRAM-SHA-256).
 *
 * fuzz-sources: src/lookup/scram.c src/util/str.c -lcrypto
 *
 * The input is split at its first '\n' into a client-first and a
 * client-final message (no valid message contains a newline) and run
 * through whole exchanges: with a known secret (the RFC 7677 user,
 * password "pencil") and with the fake secret of an unknown user. When
 * the client-first parses, a correct client-final is also built here,
 * independently, with OpenSSL, and must verify. The whole input is also
 * fed to scram_secret_parse.
 *
 * Security role: these parsers face unauthenticated clients. Beyond "no
 * crash, no sanitizer report", the target abort()s when an invariant
 * breaks: outputs always NUL-terminated and shaped as documented, a fake
 * user never authenticates, a correct proof always does with the right
 * ServerSignature, a spent state refuses more calls, and an accepted
 * secret text formats back to exactly itself (one text per secret).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "lookup/scram.h"

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)

static const char rfc_secret[] =
    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
static const unsigned char fake_key[SCRAM_KEY_LEN] = "fuzz-fake-key-fuzz-fake-key-0123";
static const char snonce[] = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

/* The RFC 7677 secret and the client's keys for "pencil", made once. */
static struct scram_secret sec;
static unsigned char client_key[SCRAM_KEY_LEN];

static void setup(void)
{
	static int done;
	unsigned char salt[16], salted[SCRAM_KEY_LEN];
	unsigned len;

	if (done)
		return;
	CHECK(scram_secret_parse(rfc_secret, sizeof rfc_secret - 1, &sec) == 0);
	memcpy(salt, sec.salt, sizeof salt);
	CHECK(PKCS5_PBKDF2_HMAC("pencil", 6, salt, 16, 4096, EVP_sha256(), 32, salted) == 1);
	CHECK(HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Client Key", 10, client_key,
		   &len));
	done = 1;
}

/* The answer of scram_client_final is shaped as its result says. */
static void check_final_out(int r, const char *out, int fake)
{
	CHECK(r >= -1 && r <= 1);
	CHECK(memchr(out, '\0', SCRAM_OUT_MAX));
	if (r == -1)
		CHECK(out[0] == '\0');
	if (r == 1)
		CHECK(strcmp(out, "e=invalid-proof") == 0);
	if (r == 0)
		CHECK(!fake && strncmp(out, "v=", 2) == 0 && strlen(out) == 46);
}

/* Server-first for the parsed client-first st, with sec or the fake. */
static void server_first(struct scram_state *st, const struct scram_secret *s, char *out)
{
	int r = s ? scram_server_first_nonce(st, s, fake_key, snonce, sizeof snonce - 1, out,
					     SCRAM_OUT_MAX)
		  : scram_server_first(st, NULL, fake_key, out, SCRAM_OUT_MAX);

	CHECK(r == 0);
	CHECK(st->fake == !s);
	CHECK(strncmp(out, "r=", 2) == 0);
	CHECK(memcmp(out + 2, st->cfirst + st->cnonce_off, st->cnonce_len) == 0);
	CHECK(strstr(out, s ? ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096" : ",i=4096"));
}

/* A correct client-final for st (server-first done); its length, or 0. */
static size_t good_final(const struct scram_state *st, char *msg, size_t cap,
			 unsigned char ssig[SCRAM_KEY_LEN])
{
	unsigned char stored[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN], proof[SCRAM_KEY_LEN];
	char cb[4 * SCRAM_MSG_MAX], p64[64];
	static char am[4 * SCRAM_MSG_MAX + 16];
	unsigned len;

	EVP_EncodeBlock((unsigned char *)cb, (const unsigned char *)st->cfirst, (int)st->gs2_len);
	int n = snprintf(msg, cap, "c=%s,r=%.*s", cb, (int)st->nonce_len, st->sfirst + 2);
	if (n < 0 || (size_t)n >= cap)
		return 0;
	int an = snprintf(am, sizeof am, "%s,%s,%s", st->cfirst + st->gs2_len, st->sfirst, msg);
	CHECK(an > 0 && (size_t)an < sizeof am);
	SHA256(client_key, SCRAM_KEY_LEN, stored);
	CHECK(HMAC(EVP_sha256(), stored, 32, (unsigned char *)am, (size_t)an, sig, &len));
	CHECK(HMAC(EVP_sha256(), sec.server_key, 32, (unsigned char *)am, (size_t)an, ssig, &len));
	for (int i = 0; i < SCRAM_KEY_LEN; i++)
		proof[i] = client_key[i] ^ sig[i];
	EVP_EncodeBlock((unsigned char *)p64, proof, SCRAM_KEY_LEN);
	int m = snprintf(msg + n, cap - (size_t)n, ",p=%s", p64);
	return m < 0 || (size_t)m >= cap - (size_t)n ? 0 : (size_t)(n + m);
}

/* The fuzzed exchange, then the correct one, for one client-first. */
static void exchanges(const char *cf, size_t cfn, const char *fin, size_t finn)
{
	static struct scram_state st;
	static char msg[4 * SCRAM_MSG_MAX];
	char user[SCRAM_USER_MAX], out[SCRAM_OUT_MAX], v[64];
	unsigned char ssig[SCRAM_KEY_LEN];

	for (int fake = 0; fake <= 1; fake++) {
		int r = scram_client_first(&st, cf, cfn, user, sizeof user);
		CHECK(r == 0 || r == -1);
		if (r < 0) {
			CHECK(user[0] == '\0');
			CHECK(scram_server_first(&st, &sec, fake_key, out, sizeof out) == -1);
			return;
		}
		CHECK(user[0] != '\0' && strcmp(user, st.user) == 0);
		server_first(&st, fake ? NULL : &sec, out);
		r = scram_client_final(&st, fin, finn, out, sizeof out);
		check_final_out(r, out, fake);
		CHECK(scram_client_final(&st, fin, finn, out, sizeof out) == -1);

		CHECK(scram_client_first(&st, cf, cfn, user, sizeof user) == 0);
		server_first(&st, fake ? NULL : &sec, out);
		size_t n = good_final(&st, msg, sizeof msg, ssig);
		r = scram_client_final(&st, msg, n, out, sizeof out);
		check_final_out(r, out, fake);
		if (n == 0 || n >= SCRAM_MSG_MAX)
			CHECK(r == -1);
		else
			CHECK(r == (fake ? 1 : 0));
		if (r == 0) {
			memcpy(v, "v=", 2);
			EVP_EncodeBlock((unsigned char *)v + 2, ssig, SCRAM_KEY_LEN);
			CHECK(strcmp(out, v) == 0);
		}
	}
	scram_state_wipe(&st);
}

static void check_secret(const char *text, size_t n)
{
	struct scram_secret s;
	char back[SCRAM_TEXT_MAX];

	if (scram_secret_parse(text, n, &s) < 0)
		return;
	CHECK(s.iter >= SCRAM_ITER_MIN && s.iter <= SCRAM_ITER_MAX);
	CHECK(s.salt_len >= SCRAM_SALT_MIN && s.salt_len <= SCRAM_SALT_MAX);
	CHECK(scram_secret_format(&s, back, sizeof back) == 0);
	CHECK(strlen(back) == n && memcmp(back, text, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *nl = memchr(s, '\n', size);
	size_t cfn = nl ? (size_t)(nl - s) : size;

	setup();
	exchanges(s, cfn, nl ? nl + 1 : s + size, nl ? size - cfn - 1 : 0);
	check_secret(s, size);
	return 0;
}
