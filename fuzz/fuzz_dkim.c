/*
 * libFuzzer target for the DKIM parsers (src/auth/dkim_*.c). The first
 * input octet picks: the DKIM-Signature field parser, the key record
 * parser, the tag-list parser, base64 and TXT joining, the body
 * canonicalizer (fed whole and in chunks: same output), or a whole
 * verification of the input as a header section (keys answered with
 * TEMPFAIL). Checks: accepted signatures have a known algorithm, d= and
 * s=, From among h=, spans inside the input and a body hash of the
 * algorithm's size; accepted key records are revoked or have a key;
 * results are within the enum.
 *
 * fuzz-sources: src/auth/dkim_tag.c src/auth/dkim_sig.c src/auth/dkim_key.c src/auth/dkim_canon.c
 * fuzz-sources: src/auth/dkim_verify.c src/util/str.c -lcrypto
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dkim.h"
#include "auth/dkim_int.h"

#define FUZZ_NOW 1700000000

static void fuzz_sig(const char *d, size_t n)
{
	static struct dkim_sig s;
	const char *why = NULL;

	if (dkim_sig_parse(d, n, FUZZ_NOW, &s, &why) < 0) {
		assert(why != NULL);
		return;
	}
	assert(s.alg != DKIM_ALG_UNKNOWN);
	assert(s.d[0] && s.s[0] && s.auid[0]);
	assert(s.n_h > 0 && s.n_h <= DKIM_H_MAX);
	for (size_t i = 0; i < s.n_h; i++)
		assert(s.h[i].len > 0 && s.h[i].off + s.h[i].len <= n);
	assert(s.bdel.off + s.bdel.len <= n);
	assert(s.b_len > 0 && s.b_len <= sizeof s.b);
	assert(s.bh_len == (s.alg == DKIM_ALG_RSA_SHA1 ? 20u : 32u));
}

static void fuzz_keyrec(const char *d, size_t n)
{
	static struct dkim_keyrec k;
	const char *why = NULL;
	EVP_PKEY *pk;

	if (dkim_keyrec_parse(d, n, &k, &why) < 0) {
		assert(why != NULL);
		return;
	}
	assert(k.revoked ? k.p_len == 0 : k.p_len > 0 && k.p_len <= sizeof k.p);
	if (!k.revoked && (pk = dkim_keyrec_pkey(&k, &why)) != NULL)
		EVP_PKEY_free(pk);
}

static void fuzz_tags(const char *d, size_t n)
{
	struct dkim_tag t[DKIM_TAG_MAX];
	unsigned char out[512];
	char txt[512];
	const char *why;
	size_t cnt, len;

	if (dkim_tags_parse(d, n, t, DKIM_TAG_MAX, &cnt, &why) == 0) {
		assert(cnt <= DKIM_TAG_MAX);
		for (size_t i = 0; i < cnt; i++) {
			assert(t[i].name >= d && t[i].name + t[i].name_len <= d + n);
			assert(t[i].val >= t[i].after_eq && t[i].val + t[i].val_len <= d + n);
		}
	}
	if (dkim_b64_decode(d, n, out, sizeof out, &len) == 0)
		assert(len <= sizeof out && len <= n);
	if (dkim_txt_join((const unsigned char *)d, n, txt, sizeof txt, &len) == 0)
		assert(len < sizeof txt && txt[len] == '\0');
}

struct cap {
	char *buf;
	size_t n, cap;
};

static void cap_sink(void *arg, const char *p, size_t n)
{
	struct cap *c = arg;

	assert(c->n + n <= c->cap);
	memcpy(c->buf + c->n, p, n);
	c->n += n;
}

static void canon(const char *d, size_t n, int relaxed, size_t chunk, struct cap *c)
{
	struct dkim_body b;

	dkim_body_init(&b, relaxed, cap_sink, c);
	for (size_t i = 0; i < n; i += chunk)
		dkim_body_feed(&b, d + i, n - i < chunk ? n - i : chunk);
	dkim_body_end(&b);
}

static void fuzz_body(const char *d, size_t n)
{
	struct cap a = {malloc(n + 3), 0, n + 3}, b = {malloc(n + 3), 0, n + 3};
	size_t chunk;

	if (n == 0 || !a.buf || !b.buf)
		goto out;
	chunk = (unsigned char)d[0] % 7 + 1;
	canon(d + 1, n - 1, d[0] & 0x80, n, &a);
	canon(d + 1, n - 1, d[0] & 0x80, chunk, &b);
	assert(a.n == b.n && memcmp(a.buf, b.buf, a.n) == 0);
	assert(a.n >= 2 || (a.n == 0 && (d[0] & 0x80)));
out:
	free(a.buf);
	free(b.buf);
}

static void fuzz_verify(const char *d, size_t n)
{
	const struct dns_result r = {.status = DNS_TEMPFAIL};
	struct dkim_verify *v = dkim_verify_new(d, n, FUZZ_NOW);
	struct dkim_sig_result res;

	if (!v)
		return;
	for (size_t i = 0; i < dkim_verify_count(v); i++)
		if (dkim_verify_key_name(v, i))
			dkim_verify_key(v, i, &r);
	dkim_verify_body(v, d, n);
	dkim_verify_body_end(v);
	for (size_t i = 0; i < dkim_verify_count(v); i++) {
		dkim_verify_result(v, i, &res);
		assert(res.result > DKIM_PASS && res.result <= DKIM_PERMERROR);
	}
	dkim_verify_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data + 1;

	if (size == 0)
		return 0;
	switch (data[0] % 5) {
	case 0:
		fuzz_sig(d, size - 1);
		break;
	case 1:
		fuzz_keyrec(d, size - 1);
		break;
	case 2:
		fuzz_tags(d, size - 1);
		break;
	case 3:
		fuzz_body(d, size - 1);
		break;
	default:
		fuzz_verify(d, size - 1);
		break;
	}
	return 0;
}
