/*
 * libFuzzer target for the pure DMARC parsers (src/auth/dmarc_record.c,
 * src/auth/psl.c, src/auth/dmarc_eval.c). The first input byte picks:
 *   0  dmarc_record_parse: result -1/0/1; an accepted record has known
 *      policies, pct <= 100 and NUL-terminated text fields;
 *   1  psl_org_domain over a small built-in list: an accepted name's org
 *      domain is a lowercase suffix of it, on a label boundary, usable, and
 *      its own org domain;
 *   2  dmarc_txt_choose over TXT rdata cut from the input (wire form);
 *   3  psl_load_mem over the input as a list (Unicode rules included),
 *      then a few lookups;
 *   4  dmarc_evaluate with the From: and DKIM d= domains from the input:
 *      strict alignment passes only for equal names, relaxed only for the
 *      same org domain.
 *
 * fuzz-sources: src/auth/dmarc_record.c src/auth/psl.c src/auth/dmarc_eval.c src/util/str.c
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dmarc.h"

#define NAME_CAP 300

static const char list_text[] = "com\nuk\nco.uk\n*.ck\n!www.ck\njp\n*.kobe.jp\n!city.kobe.jp\n"
				"公司.cn\ncn\nexample\npub.example\nblogspot.com\n";
static struct psl *list;

static void check(int ok)
{
	if (!ok)
		abort();
}

static void fuzz_record(const char *d, size_t n)
{
	struct dmarc_record r;
	int rc = dmarc_record_parse(d, n, &r);

	check(rc >= -1 && rc <= 1);
	if (rc != 1)
		return;
	check(r.p <= DMARC_P_REJECT && r.sp <= DMARC_P_REJECT && r.pct <= 100);
	check(memchr(r.rua, 0, sizeof r.rua) && memchr(r.ruf, 0, sizeof r.ruf));
	check(memchr(r.fo, 0, sizeof r.fo) && memchr(r.rf, 0, sizeof r.rf));
}

/* Copy the input into a NUL-terminated name (cut at the first NUL). */
static void name_of(const char *d, size_t n, char *out)
{
	if (n >= NAME_CAP)
		n = NAME_CAP - 1;
	memcpy(out, d, n);
	out[n] = '\0';
}

static void fuzz_org(const struct psl *p, const char *name)
{
	char norm[NAME_CAP], org[DMARC_DOMAIN_MAX], again[DMARC_DOMAIN_MAX];
	size_t nl, ol;

	if (psl_org_domain(p, name, org, sizeof org) < 0) {
		check(psl_domain_norm(name, norm, sizeof norm) < 0 || p == NULL);
		return;
	}
	check(psl_domain_norm(name, norm, sizeof norm) == 0);
	nl = strlen(norm);
	ol = strlen(org);
	check(ol > 0 && ol <= nl && strcmp(norm + nl - ol, org) == 0);
	check(ol == nl || norm[nl - ol - 1] == '.');
	check(psl_org_domain(p, org, again, sizeof again) == 0 && strcmp(again, org) == 0);
}

static void fuzz_choose(const unsigned char *d, size_t n)
{
	struct dns_result r = {.status = DNS_OK};
	struct dmarc_record rec;

	/* each rdata: a 2-byte length then that many octets */
	while (n >= 2 && r.n_rr < DNS_MAX_RR) {
		size_t len = (size_t)d[0] << 8 | d[1];
		d += 2;
		n -= 2;
		if (len > n)
			len = n;
		r.rr[r.n_rr] = d;
		r.rr_len[r.n_rr++] = len;
		d += len;
		n -= len;
	}
	check(dmarc_txt_choose(&r, &rec) >= -1);
}

static void fuzz_list(const char *d, size_t n)
{
	char err[128];
	struct psl *p = psl_load_mem(d, n, err, sizeof err);

	if (!p)
		return;
	fuzz_org(p, "a.b.example.com");
	fuzz_org(p, "x.y.xn--55qx5d.cn");
	fuzz_org(p, "www.ck");
	psl_free(p);
}

static void fuzz_eval(const char *d, size_t n)
{
	const char *nul = memchr(d, 0, n);
	char from[NAME_CAP], dk[NAME_CAP], a[DMARC_DOMAIN_MAX], b[DMARC_DOMAIN_MAX];
	struct dmarc_policy_found f = {.status = DMARC_PASS};
	struct dmarc_auth auth = {.domain = dk, .pass = 1};
	struct dmarc_input in = {.from_domain = from, .dkim = &auth, .n_dkim = 1};
	struct dmarc_verdict v;

	if (!nul)
		return;
	name_of(d, (size_t)(nul - d), from);
	name_of(nul + 1, n - (size_t)(nul - d) - 1, dk);
	check(dmarc_record_parse("v=DMARC1; p=reject; adkim=s", 27, &f.rec) == 1);
	dmarc_evaluate(list, &f, &in, 0, &v);
	check(!v.dkim_aligned || (psl_domain_norm(from, a, sizeof a) == 0 &&
				  psl_domain_norm(dk, b, sizeof b) == 0 && strcmp(a, b) == 0));
	f.rec.adkim_strict = 0;
	dmarc_evaluate(list, &f, &in, 0, &v);
	check(!v.dkim_aligned || (psl_org_domain(list, from, a, sizeof a) == 0 &&
				  psl_org_domain(list, dk, b, sizeof b) == 0 && strcmp(a, b) == 0));
	check(v.result == (v.dkim_aligned ? DMARC_PASS : DMARC_FAIL) || v.result == DMARC_NONE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[NAME_CAP], err[64];

	if (!list && !(list = psl_load_mem(list_text, sizeof list_text - 1, err, sizeof err)))
		abort();
	if (size == 0)
		return 0;
	switch (data[0] % 5) {
	case 0:
		fuzz_record((const char *)data + 1, size - 1);
		break;
	case 1:
		name_of((const char *)data + 1, size - 1, name);
		fuzz_org(list, name);
		break;
	case 2:
		fuzz_choose(data + 1, size - 1);
		break;
	case 3:
		fuzz_list((const char *)data + 1, size - 1);
		break;
	default:
		fuzz_eval((const char *)data + 1, size - 1);
	}
	return 0;
}
