/*
 * test_dmarc: unit tests for the DMARC record parser (src/auth/
 * dmarc_record.c) and the verdict (src/auth/dmarc_eval.c): a table of
 * records (version first, p= rules of RFC 7489 6.6.3, optional tags and
 * their bounds, whitespace and case) and a table of evaluations (strict
 * and relaxed alignment, subdomains, sp= at the org domain, pct rolls,
 * the public-suffix boundary).
 *
 * Security role: pins down when a forged From: domain fails and what
 * disposition the policy then asks for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "auth/dmarc.h"

/* ---- records -------------------------------------------------------------- */

struct rec_case {
	const char *txt;
	int rc;
	enum dmarc_policy p, sp;
	int adkim_s, aspf_s;
	unsigned pct;
};

#define N DMARC_P_NONE
#define Q DMARC_P_QUARANTINE
#define R DMARC_P_REJECT

static const struct rec_case rec_cases[] = {
    {"v=DMARC1; p=reject", 1, R, R, 0, 0, 100},
    {"v=DMARC1;p=none", 1, N, N, 0, 0, 100},
    {"v=DMARC1; p=quarantine; sp=reject; adkim=s; aspf=s; pct=20", 1, Q, R, 1, 1, 20},
    {"  v = DMARC1 ;\tP = Reject ; SP=None ; ADKIM = s ;", 1, R, N, 1, 0, 100},
    {"v=DMARC1; p=reject; pct=0", 1, R, R, 0, 0, 0},
    {"v=DMARC1; p=reject; pct=101", 1, R, R, 0, 0, 100}, /* bad pct: default */
    {"v=DMARC1; p=reject; pct=-1", 1, R, R, 0, 0, 100},
    {"v=DMARC1; p=reject; pct=99999999999999", 1, R, R, 0, 0, 100},
    {"v=DMARC1; p=reject; adkim=x; aspf=", 1, R, R, 0, 0, 100},
    {"v=DMARC1; p=reject; p=none", 1, R, R, 0, 0, 100}, /* first counts */
    {"v=DMARC1; p=reject; x-unknown=1; garbage; =; ;;", 1, R, R, 0, 0, 100},
    /* not DMARC at all */
    {"v=spf1 -all", 0, N, N, 0, 0, 100},
    {"p=reject; v=DMARC1", 0, N, N, 0, 0, 100},
    {"v=dmarc1; p=reject", 0, N, N, 0, 0, 100}, /* the value is exact */
    {"v=DMARC10; p=reject", 0, N, N, 0, 0, 100},
    {"", 0, N, N, 0, 0, 100},
    {"; v=DMARC1; p=reject", 0, N, N, 0, 0, 100},
    /* DMARC, but invalid (RFC 7489 6.6.3) */
    {"v=DMARC1", -1, N, N, 0, 0, 100},
    {"v=DMARC1; p=bogus", -1, N, N, 0, 0, 100},
    {"v=DMARC1; sp=reject", -1, N, N, 0, 0, 100},
    {"v=DMARC1; p=reject; sp=bogus", -1, N, N, 0, 0, 100},
    {"v=DMARC1; p=bogus; rua=not a uri", -1, N, N, 0, 0, 100},
    /* ... unless rua= has a usable URI: then p=none */
    {"v=DMARC1; rua=mailto:d@example.com", 1, N, N, 0, 0, 100},
    {"v=DMARC1; p=bogus; rua=mailto:a@example.com,mailto:b@example.com!10m", 1, N, N, 0, 0, 100},
    {"v=DMARC1; p=reject; sp=bogus; rua=mailto:d@example.com", 1, N, N, 0, 0, 100},
};

static void test_record_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rec_cases / sizeof rec_cases[0]; i++) {
		const struct rec_case *c = &rec_cases[i];
		struct dmarc_record r;
		int rc = dmarc_record_parse(c->txt, strlen(c->txt), &r);
		if (rc != c->rc)
			fail_msg("'%s': rc %d, want %d", c->txt, rc, c->rc);
		if (rc != 1)
			continue;
		if (r.p != c->p || r.sp != c->sp || r.adkim_strict != c->adkim_s ||
		    r.aspf_strict != c->aspf_s || r.pct != c->pct)
			fail_msg("'%s': p %d sp %d adkim %d aspf %d pct %u", c->txt, r.p, r.sp,
				 r.adkim_strict, r.aspf_strict, r.pct);
	}
}

static void test_record_reporting_tags(void **state)
{
	struct dmarc_record r;
	char txt[2 * DMARC_URI_MAX];
	const char *t = "v=DMARC1; p=none; rua=mailto:agg@example.com; "
			"ruf = mailto:f@example.com ; fo=1:D; rf=AFRF; ri=3600";

	(void)state;
	assert_int_equal(dmarc_record_parse(t, strlen(t), &r), 1);
	assert_string_equal(r.rua, "mailto:agg@example.com");
	assert_string_equal(r.ruf, "mailto:f@example.com");
	assert_string_equal(r.fo, "1:d");
	assert_string_equal(r.rf, "afrf");
	assert_int_equal(r.ri, 3600);
	t = "v=DMARC1; p=none; fo=1:x; rf=9x; ri=4294967296; ruf=bad uri";
	assert_int_equal(dmarc_record_parse(t, strlen(t), &r), 1);
	assert_string_equal(r.fo, "0");
	assert_string_equal(r.rf, "afrf");
	assert_int_equal(r.ri, 86400);
	assert_string_equal(r.ruf, "");
	/* a usable rua too long to keep: not kept, but still makes p=none */
	memcpy(txt, "v=DMARC1; rua=mailto:", 21);
	memset(txt + 21, 'a', DMARC_URI_MAX);
	txt[21 + DMARC_URI_MAX] = '\0';
	assert_int_equal(dmarc_record_parse(txt, strlen(txt), &r), 1);
	assert_string_equal(r.rua, "");
	assert_int_equal(r.p, DMARC_P_NONE);
	/* NUL inside the text: the length counts, not the NUL; a NUL makes a
	 * value invalid */
	assert_int_equal(dmarc_record_parse("v=DMARC1; p=reject\0; p=none", 27, &r), -1);
	assert_int_equal(dmarc_record_parse("v=DMARC1; x=\0; p=reject", 23, &r), 1);
	assert_int_equal(r.p, DMARC_P_REJECT);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(dmarc_policy_name(DMARC_P_QUARANTINE), "quarantine");
	assert_string_equal(dmarc_result_name(DMARC_TEMPERROR), "temperror");
	assert_string_equal(dmarc_result_name(DMARC_NONE), "none");
}

/* ---- choosing among TXT answers -------------------------------------------- */

/* rdata in wire form: each string as <len><bytes>, split every 255. */
static size_t wire(const char *s, unsigned char *out)
{
	size_t n = strlen(s), k = 0;

	for (size_t i = 0; i < n; i += 255) {
		size_t part = n - i > 255 ? 255 : n - i;
		out[k++] = (unsigned char)part;
		memcpy(out + k, s + i, part);
		k += part;
	}
	return k;
}

static int choose(const char **txts, size_t n, struct dmarc_record *r)
{
	static unsigned char buf[8][1024];
	struct dns_result res = {.status = DNS_OK, .n_rr = n};

	for (size_t i = 0; i < n; i++) {
		res.rr_len[i] = wire(txts[i], buf[i]);
		res.rr[i] = buf[i];
	}
	return dmarc_txt_choose(&res, r);
}

static void test_txt_choose(void **state)
{
	struct dmarc_record r;
	const char *one[] = {"v=spf1 -all", "v=DMARC1; p=quarantine", "hello"};
	const char *two[] = {"v=DMARC1; p=reject", "v=DMARC1; p=none"};
	const char *bad[] = {"v=DMARC1; p=nope", "other"};
	const char *none[] = {"v=spf1 -all"};
	static const unsigned char split[] = "\x0av=DMARC1; \x08p=reject";
	static const unsigned char broken[] = "\x20v=DMARC1; p=reject";
	struct dns_result res = {
	    .status = DNS_OK, .n_rr = 1, .rr = {split}, .rr_len = {sizeof split - 1}};

	(void)state;
	assert_int_equal(choose(one, 3, &r), 1);
	assert_int_equal(r.p, DMARC_P_QUARANTINE);
	assert_int_equal(choose(two, 2, &r), -1);
	assert_int_equal(choose(bad, 2, &r), -1);
	assert_int_equal(choose(none, 1, &r), 0);
	assert_int_equal(choose(none, 0, &r), 0);
	assert_int_equal(dmarc_txt_choose(&res, &r), 1); /* strings are joined */
	assert_int_equal(r.p, DMARC_P_REJECT);
	res.rr[0] = broken; /* a length past the end: not a TXT record */
	res.rr_len[0] = sizeof broken - 1;
	assert_int_equal(dmarc_txt_choose(&res, &r), 0);
	res.status = DNS_NXDOMAIN;
	assert_int_equal(dmarc_txt_choose(&res, &r), 0);
}

/* ---- evaluation -------------------------------------------------------------- */

static const char eval_list[] = "com\nuk\nco.uk\nexample\n";

struct eval_case {
	const char *name;
	const char *from, *policy_domain;
	int at_org;
	const char *rec;
	const char *spf_domain;
	int spf_pass;
	const char *dkim_domain;
	int dkim_pass;
	unsigned roll;
	enum dmarc_result result;
	enum dmarc_policy policy, disposition;
	int spf_al, dkim_al;
};

static const struct eval_case eval_cases[] = {
    {"fail reject", "example.com", "example.com", 0, "v=DMARC1; p=reject", "evil.com", 1,
     "evil.com", 1, 0, DMARC_FAIL, R, R, 0, 0},
    {"spf aligned", "example.com", "example.com", 0, "v=DMARC1; p=reject", "EXAMPLE.com.", 1, NULL,
     0, 0, DMARC_PASS, R, N, 1, 0},
    {"spf aligned but not pass", "example.com", "example.com", 0, "v=DMARC1; p=reject",
     "example.com", 0, NULL, 0, 0, DMARC_FAIL, R, R, 0, 0},
    {"dkim aligned only", "example.com", "example.com", 0, "v=DMARC1; p=reject", "evil.com", 1,
     "example.com", 1, 0, DMARC_PASS, R, N, 0, 1},
    {"dkim aligned not pass", "example.com", "example.com", 0, "v=DMARC1; p=quarantine", NULL, 0,
     "example.com", 0, 0, DMARC_FAIL, Q, Q, 0, 0},
    {"relaxed subdomain", "news.example.com", "example.com", 1, "v=DMARC1; p=reject",
     "bounce.example.com", 1, NULL, 0, 0, DMARC_PASS, R, N, 1, 0},
    {"relaxed parent d=", "a.b.example.com", "example.com", 1, "v=DMARC1; p=reject", NULL, 0,
     "example.com", 1, 0, DMARC_PASS, R, N, 0, 1},
    {"strict spf subdomain", "example.com", "example.com", 0, "v=DMARC1; p=reject; aspf=s",
     "bounce.example.com", 1, NULL, 0, 0, DMARC_FAIL, R, R, 0, 0},
    {"strict dkim subdomain", "example.com", "example.com", 0, "v=DMARC1; p=reject; adkim=s", NULL,
     0, "mail.example.com", 1, 0, DMARC_FAIL, R, R, 0, 0},
    {"strict exact", "Example.com", "example.com", 0, "v=DMARC1; p=reject; adkim=s", NULL, 0,
     "example.COM", 1, 0, DMARC_PASS, R, N, 0, 1},
    {"sp at org", "news.example.com", "example.com", 1, "v=DMARC1; p=reject; sp=quarantine", NULL,
     0, NULL, 0, 0, DMARC_FAIL, Q, Q, 0, 0},
    {"p at from itself", "example.com", "example.com", 0, "v=DMARC1; p=reject; sp=none", NULL, 0,
     NULL, 0, 0, DMARC_FAIL, R, R, 0, 0},
    {"record at subdomain", "news.example.com", "news.example.com", 0,
     "v=DMARC1; p=none; sp=reject", NULL, 0, NULL, 0, 0, DMARC_FAIL, N, N, 0, 0},
    {"pct in sample", "example.com", "example.com", 0, "v=DMARC1; p=reject; pct=50", NULL, 0, NULL,
     0, 49, DMARC_FAIL, R, R, 0, 0},
    {"pct out of sample", "example.com", "example.com", 0, "v=DMARC1; p=reject; pct=50", NULL, 0,
     NULL, 0, 50, DMARC_FAIL, R, Q, 0, 0},
    {"pct 0 quarantine", "example.com", "example.com", 0, "v=DMARC1; p=quarantine; pct=0", NULL, 0,
     NULL, 0, 0, DMARC_FAIL, Q, N, 0, 0},
    {"pct 100 roll 99", "example.com", "example.com", 0, "v=DMARC1; p=reject", NULL, 0, NULL, 0, 99,
     DMARC_FAIL, R, R, 0, 0},
    {"ps boundary", "foo.co.uk", "foo.co.uk", 0, "v=DMARC1; p=reject", "bar.co.uk", 1, "bar.co.uk",
     1, 0, DMARC_FAIL, R, R, 0, 0},
    {"ps boundary 2", "a.foo.co.uk", "foo.co.uk", 1, "v=DMARC1; p=reject", "co.uk", 1, "uk", 1, 0,
     DMARC_FAIL, R, R, 0, 0},
    {"unknown tld default rule", "a.corp.zz", "corp.zz", 1, "v=DMARC1; p=reject", NULL, 0,
     "b.corp.zz", 1, 0, DMARC_PASS, R, N, 0, 1},
    {"bad auth domain", "example.com", "example.com", 0, "v=DMARC1; p=reject", "exa mple.com", 1,
     "", 1, 0, DMARC_FAIL, R, R, 0, 0},
};

static void eval_one(const struct psl *psl, const struct eval_case *c)
{
	struct dmarc_policy_found f = {.status = DMARC_PASS, .at_org = c->at_org};
	struct dmarc_auth dk = {.domain = c->dkim_domain, .pass = c->dkim_pass};
	struct dmarc_input in = {.from_domain = c->from,
				 .spf = {.domain = c->spf_domain, .pass = c->spf_pass},
				 .dkim = c->dkim_domain ? &dk : NULL,
				 .n_dkim = c->dkim_domain ? 1 : 0};
	struct dmarc_verdict v;

	assert_int_equal(dmarc_record_parse(c->rec, strlen(c->rec), &f.rec), 1);
	strcpy(f.policy_domain, c->policy_domain);
	dmarc_evaluate(psl, &f, &in, c->roll, &v);
	if (v.result != c->result || v.policy != c->policy || v.disposition != c->disposition ||
	    v.spf_aligned != c->spf_al || v.dkim_aligned != c->dkim_al)
		fail_msg("%s: result %s policy %s disposition %s spf %d dkim %d", c->name,
			 dmarc_result_name(v.result), dmarc_policy_name(v.policy),
			 dmarc_policy_name(v.disposition), v.spf_aligned, v.dkim_aligned);
	assert_string_equal(v.policy_domain, c->policy_domain);
}

static void test_evaluate_table(void **state)
{
	char err[64];
	struct psl *psl = psl_load_mem(eval_list, sizeof eval_list - 1, err, sizeof err);

	(void)state;
	assert_non_null(psl);
	for (size_t i = 0; i < sizeof eval_cases / sizeof eval_cases[0]; i++)
		eval_one(psl, &eval_cases[i]);
	psl_free(psl);
}

static void test_evaluate_states(void **state)
{
	struct dmarc_policy_found f = {.status = DMARC_TEMPERROR};
	struct dmarc_auth dk[3] = {{"evil.example", 1}, {"corp.example", 0}, {"x.corp.example", 1}};
	struct dmarc_input in = {.from_domain = "corp.example", .dkim = dk, .n_dkim = 3};
	struct dmarc_verdict v;
	char err[64];
	struct psl *psl = psl_load_mem(eval_list, sizeof eval_list - 1, err, sizeof err);

	(void)state;
	dmarc_evaluate(psl, &f, &in, 0, &v);
	assert_int_equal(v.result, DMARC_TEMPERROR);
	assert_int_equal(v.disposition, DMARC_P_NONE);
	f.status = DMARC_NONE;
	dmarc_evaluate(psl, &f, &in, 0, &v);
	assert_int_equal(v.result, DMARC_NONE);
	/* the third signature is the aligned one */
	f.status = DMARC_PASS;
	assert_int_equal(dmarc_record_parse("v=DMARC1; p=reject", 18, &f.rec), 1);
	strcpy(f.policy_domain, "corp.example");
	dmarc_evaluate(psl, &f, &in, 0, &v);
	assert_int_equal(v.result, DMARC_PASS);
	assert_string_equal(v.aligned_dkim_domain, "x.corp.example");
	/* without a list relaxed alignment is exact */
	dmarc_evaluate(NULL, &f, &in, 0, &v);
	assert_int_equal(v.result, DMARC_FAIL);
	/* an unusable From: domain: none */
	in.from_domain = "corp..example";
	dmarc_evaluate(psl, &f, &in, 0, &v);
	assert_int_equal(v.result, DMARC_NONE);
	psl_free(psl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record_table),   cmocka_unit_test(test_record_reporting_tags),
	    cmocka_unit_test(test_names),	   cmocka_unit_test(test_txt_choose),
	    cmocka_unit_test(test_evaluate_table), cmocka_unit_test(test_evaluate_states),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
