/*
 * test_psl: unit tests for the Public Suffix List (src/auth/psl.c): the
 * publicsuffix.org algorithm (normal, wildcard and exception rules, the
 * default rule "*", both sections of the list), Unicode rules turned into
 * A-labels, name checks (case, final dot, empty labels, lengths) and the
 * cost of loading Debian's list.
 *
 * Security role: pins down the organizational domain, which decides
 * whether two registrants' domains "align" for DMARC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/dmarc.h"

static const char small_list[] = "// comment line\n"
				 "// ===BEGIN ICANN DOMAINS===\n"
				 "com\n"
				 "uk\n"
				 "co.uk\n"
				 "*.ck\n"
				 "!www.ck\n"
				 "jp\n"
				 "*.kobe.jp\n"
				 "!city.kobe.jp\n"
				 "公司.cn\n"
				 "cn\n"
				 "aéroport.ci\n"
				 "\xff\xfe.bad\n" /* malformed UTF-8: skipped */
				 "bad..rule\n"
				 "\n"
				 "// ===BEGIN PRIVATE DOMAINS===\n"
				 "blogspot.com   trailing text is ignored\r\n"
				 "CAPS.Example\n";

static struct psl *small(void)
{
	char err[128];
	struct psl *p = psl_load_mem(small_list, sizeof small_list - 1, err, sizeof err);

	assert_non_null(p);
	return p;
}

static void org_is(const struct psl *p, const char *in, const char *want)
{
	char out[DMARC_DOMAIN_MAX];

	if (psl_org_domain(p, in, out, sizeof out) != 0)
		fail_msg("psl_org_domain(%s) failed", in);
	if (strcmp(out, want) != 0)
		fail_msg("psl_org_domain(%s) = %s, want %s", in, out, want);
}

static void org_bad(const struct psl *p, const char *in)
{
	char out[DMARC_DOMAIN_MAX];

	if (psl_org_domain(p, in, out, sizeof out) != -1)
		fail_msg("psl_org_domain(%s) should fail, gave %s", in, out);
}

static void test_small_list_rules(void **state)
{
	struct psl *p = small();
	size_t rules, bytes;

	(void)state;
	org_is(p, "com", "com");
	org_is(p, "example.com", "example.com");
	org_is(p, "www.example.com", "example.com");
	org_is(p, "a.b.example.co.uk", "example.co.uk");
	org_is(p, "co.uk", "co.uk");
	/* wildcard and exception */
	org_is(p, "ck", "ck");
	org_is(p, "foo.ck", "foo.ck"); /* a public suffix itself */
	org_is(p, "a.foo.ck", "a.foo.ck");
	org_is(p, "b.a.foo.ck", "a.foo.ck");
	org_is(p, "www.ck", "www.ck");
	org_is(p, "x.www.ck", "www.ck");
	org_is(p, "a.b.city.kobe.jp", "city.kobe.jp");
	org_is(p, "a.b.other.kobe.jp", "b.other.kobe.jp");
	/* private section, and rules lowercased at load */
	org_is(p, "x.foo.blogspot.com", "foo.blogspot.com");
	org_is(p, "a.b.caps.example", "b.caps.example");
	/* default rule "*" for an unknown TLD */
	org_is(p, "a.b.example.zz", "example.zz");
	org_is(p, "zz", "zz");
	/* Unicode rules match their A-label form */
	org_is(p, "a.b.xn--55qx5d.cn", "b.xn--55qx5d.cn");
	org_is(p, "a.b.xn--aroport-bya.ci", "b.xn--aroport-bya.ci");
	org_is(p, "a.b.bad", "b.bad");
	psl_stats(p, &rules, &bytes);
	assert_int_equal(rules, 13);
	assert_true(bytes > 0);
	psl_free(p);
}

static void test_names(void **state)
{
	struct psl *p = small();
	char big[300];

	(void)state;
	org_is(p, "WWW.Example.COM", "example.com");
	org_is(p, "www.example.com.", "example.com");
	org_is(p, "_dmarc.mail-1.example.com", "example.com");
	org_bad(p, "");
	org_bad(p, ".");
	org_bad(p, "a..example.com");
	org_bad(p, ".example.com");
	org_bad(p, "example.com..");
	org_bad(p, "exa mple.com");
	org_bad(p, "ex\xc3\xa9.com");
	org_bad(p, "a\r\n.com");
	memset(big, 'a', 64);
	strcpy(big + 64, ".com");
	org_bad(p, big); /* a 64-octet label */
	for (int i = 0; i < 127; i++)
		memcpy(big + 2 * i, "a.", 2);
	strcpy(big + 254, "a"); /* 255 octets */
	org_bad(p, big);
	big[252] = '\0'; /* 252 octets ending in '.': fine */
	org_is(p, big, "a.a");
	assert_int_equal(psl_org_domain(NULL, "example.com", big, sizeof big), -1);
	assert_int_equal(psl_org_domain(p, "www.example.com", big, 5), -1);
	psl_free(p);
}

static void test_load_errors(void **state)
{
	char err[256];

	(void)state;
	assert_null(psl_load("/nonexistent/psl.dat", err, sizeof err));
	assert_non_null(strstr(err, "/nonexistent/psl.dat"));
	assert_null(psl_load("/dev/null", err, sizeof err)); /* not a regular file */
}

static void test_debian_list(void **state)
{
	struct timespec t0, t1;
	struct psl *p;
	char err[256];
	size_t rules, bytes;

	(void)state;
	if (access(PSL_DEFAULT_PATH, R_OK) != 0)
		skip();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	p = psl_load(PSL_DEFAULT_PATH, err, sizeof err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_non_null(p);
	psl_stats(p, &rules, &bytes);
	printf("# PSL: %zu rules, %zu bytes, loaded in %.1f ms\n", rules, bytes,
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	assert_true(rules > 5000);
	org_is(p, "com", "com");
	org_is(p, "www.example.com", "example.com");
	org_is(p, "a.b.example.co.uk", "example.co.uk");
	org_is(p, "a.foo.blogspot.com", "foo.blogspot.com");
	org_is(p, "x.www.ck", "www.ck");
	org_is(p, "x.y.foo.ck", "y.foo.ck");
	org_is(p, "a.b.xn--55qx5d.cn", "b.xn--55qx5d.cn");
	org_is(p, "mail.example.unknowntld", "example.unknowntld");
	psl_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_small_list_rules),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_debian_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
