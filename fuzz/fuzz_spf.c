/*
 * libFuzzer target for the pure SPF parsers (src/auth/spf_record.c and
 * spf_macro.c): choosing the v=spf1 TXT record among wire-form rdatas,
 * the whole-record check and term walk, and macro expansion in domain and
 * explanation mode. Checks that an accepted record's terms are
 * well-formed (known kind and qualifier, CIDR lengths in range, spec and
 * text inside the record), that the term walk agrees with the record
 * check, that expansion succeeds exactly when the syntax check does, and
 * that an expanded domain is at most 253 octets and NUL-terminated inside
 * its buffer.
 *
 * fuzz-sources: src/auth/spf_record.c src/auth/spf_macro.c src/util/str.c
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "auth/spf_int.h"

#define FUZZ_TXT_MAX 8

static const struct spf_macro_vars fuzz_vars = {
    .sender = "strong-bad@email.example.com",
    .local = "strong-bad",
    .sdomain = "email.example.com",
    .domain = "email.example.com",
    .ip = "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1",
    .ptr = "unknown",
    .ipver = "ip6",
    .helo = "mx.example.org",
    .cip = "2001:db8::cb01",
    .receiver = "mx.example.net",
    .now = 1234567890,
};

static void check_term(const char *rec, size_t len, const struct spf_term *t)
{
	assert(t->kind <= SPF_K_UNKNOWN_MOD);
	assert(t->qual == '+' || t->qual == '-' || t->qual == '~' || t->qual == '?');
	assert(t->cidr4 >= 0 && t->cidr4 <= 32 && t->cidr6 >= 0 && t->cidr6 <= 128);
	assert(t->text >= rec && t->text + t->text_len <= rec + len && t->text_len > 0);
	if (t->spec)
		assert(t->spec >= t->text && t->spec + t->spec_len <= t->text + t->text_len);
	if (t->kind == SPF_K_INCLUDE || t->kind == SPF_K_EXISTS || t->kind == SPF_K_REDIRECT ||
	    t->kind == SPF_K_EXP)
		assert(t->spec && t->spec_len > 0 && spf_macro_check(t->spec, t->spec_len, 1) == 0);
}

static void fuzz_record(const char *rec, size_t len)
{
	struct spf_record_info info;
	struct spf_term t;
	const char *why = NULL;
	size_t pos = 6, n = 0;
	int rc;

	if (spf_record_check(rec, len, &info, &why) < 0) {
		assert(why != NULL);
		return;
	}
	while ((rc = spf_term_next(rec, len, &pos, &t, &why)) > 0) {
		check_term(rec, len, &t);
		assert(pos <= len);
		n++;
	}
	assert(rc == 0 && pos == len);
	if (info.redirect)
		assert(info.redirect >= rec && info.redirect + info.redirect_len <= rec + len);
	(void)n;
}

static void fuzz_txt(const uint8_t *d, size_t n)
{
	const unsigned char *rr[FUZZ_TXT_MAX];
	size_t lens[FUZZ_TXT_MAX], k = 0, len = 0;
	char out[SPF_RECORD_MAX];
	const char *why = NULL;
	int rc;

	/* rdatas separated by 0xff octets */
	while (n > 0 && k < FUZZ_TXT_MAX) {
		const uint8_t *sep = memchr(d, 0xff, n);
		size_t l = sep ? (size_t)(sep - d) : n;
		rr[k] = d;
		lens[k++] = l;
		d += l + (sep ? 1 : 0);
		n -= l + (sep ? 1 : 0);
	}
	rc = spf_txt_select(rr, lens, k, out, sizeof out, &len, &why);
	if (rc == 1) {
		assert(len < sizeof out && out[len] == '\0');
		fuzz_record(out, len);
	}
}

static void fuzz_macro(const char *s, size_t n, int domain)
{
	char out[SPF_EXPAND_MAX];
	int ok = spf_macro_check(s, n, domain) == 0;
	int rc = spf_macro_expand(s, n, domain, &fuzz_vars, out, sizeof out);

	(void)spf_macro_uses_p(s, n);
	if (!ok)
		assert(rc < 0);
	if (rc == 0) {
		assert(ok);
		assert(memchr(out, '\0', sizeof out) != NULL);
		if (domain)
			assert(strlen(out) <= 253);
		(void)spf_domain_ok(out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char rec[SPF_RECORD_MAX];

	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fuzz_txt(data + 1, size - 1);
		break;
	case 1:
		if (size - 1 + 7 <= sizeof rec) {
			memcpy(rec, "v=spf1 ", 7);
			memcpy(rec + 7, data + 1, size - 1);
			fuzz_record(rec, size - 1 + 7);
		}
		break;
	default:
		fuzz_macro((const char *)data + 1, size - 1, data[0] % 4 == 2);
		break;
	}
	return 0;
}
