/*
 * libFuzzer target for the pure MTA-STS parsers (src/deliver/
 * remote_sts_parse.c): the policy body, the cache file codec, the
 * _mta-sts TXT record chooser and MX pattern matching. Checks that an
 * accepted policy is well-formed (known mode, 0..STS_MX_MAX lowercase
 * patterns, an mx for enforce/testing, max_age within the limit), that a
 * refused one comes back zeroed with a reason, that encoding a policy and
 * decoding it again gives the same policy, and that an accepted TXT id is
 * 1-32 letters and digits.
 *
 * fuzz-sources: src/deliver/remote_sts_parse.c src/util/str.c
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "deliver/remote_sts.h"
#include "deliver/remote_sts_int.h"

static void check_policy(const struct sts_policy *p)
{
	assert(p->mode == STS_NONE || p->mode == STS_TESTING || p->mode == STS_ENFORCE);
	assert(p->n_mx <= STS_MX_MAX);
	assert(p->mode == STS_NONE || p->n_mx > 0);
	assert(p->max_age <= STS_MAX_AGE_LIMIT);
	for (size_t i = 0; i < p->n_mx; i++) {
		size_t n = strnlen(p->mx[i], sizeof p->mx[i]);
		assert(n > 0 && n < sizeof p->mx[i]);
		for (size_t k = 0; k < n; k++)
			assert(p->mx[i][k] < 'A' || p->mx[i][k] > 'Z');
		/* a pattern matches itself (a wildcard: any one label in its place) */
		assert(p->mx[i][0] == '*' || sts_mx_match(p->mx[i], p->mx[i]));
	}
}

static void fuzz_policy(const char *d, size_t n)
{
	struct sts_policy p, q;
	const char *why = NULL;
	char text[STS_CACHE_FILE_MAX];
	size_t len;

	if (sts_policy_parse(d, n, &p, &why) < 0) {
		assert(why && p.n_mx == 0 && p.mode == STS_NONE);
		(void)sts_cache_decode(d, n, &q, &why);
		return;
	}
	check_policy(&p);
	memcpy(p.id, "fuzz1", 6);
	p.fetched = 1700000000;
	assert(sts_cache_encode(&p, text, sizeof text, &len) == 0);
	assert(sts_cache_decode(text, len, &q, &why) == 0);
	assert(q.mode == p.mode && q.n_mx == p.n_mx && q.max_age == p.max_age);
	assert(q.fetched == p.fetched && strcmp(q.id, p.id) == 0);
	for (size_t i = 0; i < p.n_mx; i++)
		assert(strcmp(q.mx[i], p.mx[i]) == 0);
}

/* The input cut into up to 4 TXT rdatas at bytes d[0], d[1], d[2]. */
static void fuzz_txt(const uint8_t *d, size_t n)
{
	const unsigned char *rr[4];
	size_t len[4], k = 0, pos = 3;
	char id[33];
	const char *why;

	for (size_t i = 0; i < 3 && pos < n; i++) {
		size_t take = d[i] < n - pos ? d[i] : n - pos;
		rr[k] = d + pos;
		len[k++] = take;
		pos += take;
	}
	if (pos < n) {
		rr[k] = d + pos;
		len[k++] = n - pos;
	}
	if (sts_txt_select(rr, len, k, id, &why) == 0) {
		size_t idl = strlen(id);
		assert(idl > 0 && idl <= 32);
	} else {
		assert(id[0] == '\0' && why);
	}
}

static void fuzz_match(const char *d, size_t n)
{
	char a[300], b[300];
	const char *bar = memchr(d, '|', n);
	size_t al = bar ? (size_t)(bar - d) : n, bl = bar ? n - al - 1 : 0;

	if (al >= sizeof a || bl >= sizeof b)
		return;
	memcpy(a, d, al);
	a[al] = '\0';
	memcpy(b, bar ? bar + 1 : d, bl);
	b[bl] = '\0';
	(void)sts_mx_match(a, b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_policy((const char *)data, size);
	if (size >= 3)
		fuzz_txt(data, size);
	fuzz_match((const char *)data, size);
	return 0;
}
