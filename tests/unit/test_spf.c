/*
 * test_spf: unit tests for SPF (RFC 7208): the pure record parser
 * (src/auth/spf_record.c: record choice, terms, qualifiers, dual-cidr,
 * ip4/ip6 networks, duplicate modifiers), the macro expander
 * (src/auth/spf_macro.c: every example of RFC 7208 7.4, URL escaping,
 * syntax errors) and the engine's contract over a fake dns_query_fn (the
 * callback never runs inside spf_check_start; cancel while a query is in
 * flight, then the late answer is dropped; the lookup limit; the timeout).
 *
 * Security role: pins down that malformed records are refused as a whole
 * and that a cancelled or timed-out check never calls back or touches
 * freed memory when its DNS answer arrives late.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "auth/spf.h"
#include "auth/spf_int.h"

/* ---- record parser ------------------------------------------------------ */

static int check(const char *rec)
{
	struct spf_record_info info;
	const char *why = NULL;

	return spf_record_check(rec, strlen(rec), &info, &why);
}

static void test_record_valid(void **state)
{
	static const char *const ok[] = {
	    "v=spf1",
	    "v=spf1 -all",
	    "V=SPF1 +ALL",
	    "v=spf1   a  mx   -all  ",
	    "v=spf1 a/24 mx//64 a:foo.example/24//64 mx:foo.example//0 ~all",
	    "v=spf1 ip4:192.0.2.0/24 ip4:192.0.2.1 ip6:2001:db8::/32 ip6:::1 ?all",
	    "v=spf1 include:_spf.foo.example exists:%{ir}.%{l1r+-}._spf.%{d} -all",
	    "v=spf1 ptr ptr:foo.example -all",
	    "v=spf1 redirect=_spf.foo.example",
	    "v=spf1 -all exp=explain._spf.%{d}",
	    "v=spf1 foo=bar moo.cow-far_out=man:dog/cat -all",
	    "v=spf1 a:foo.example. -all",
	    "v=spf1 a:%{d} -all",
	    "v=spf1 a:foo.e-x -all",
	    "v=spf1 exists:%%.%_.%-.foo.example",
	};

	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		if (check(ok[i]) != 0)
			fail_msg("refused: %s", ok[i]);
	}
}

static void test_record_invalid(void **state)
{
	static const char *const bad[] = {
	    "v=spf10",
	    "spf1 -all",
	    "v=spf1 -all redirect=a.example redirect=b.example",
	    "v=spf1 exp=a.example exp=b.example -all",
	    "v=spf1 foo",
	    "v=spf1 all:foo.example",
	    "v=spf1 all/24",
	    "v=spf1 include",
	    "v=spf1 include:",
	    "v=spf1 exists",
	    "v=spf1 a:",
	    "v=spf1 a/33",
	    "v=spf1 a//129",
	    "v=spf1 a/024",
	    "v=spf1 mx/",
	    "v=spf1 a:foo.example/24/64",
	    "v=spf1 ip4",
	    "v=spf1 ip4:192.0.2",
	    "v=spf1 ip4:192.0.2.0/33",
	    "v=spf1 ip4:2001:db8::1",
	    "v=spf1 ip6:192.0.2.1",
	    "v=spf1 ip6:2001:db8::/129",
	    "v=spf1 ip4:192.0.2.1//32",
	    "v=spf1 a:museum",
	    "v=spf1 a:foo.123",
	    "v=spf1 a:foo.example- -all",
	    "v=spf1 -redirect=foo.example",
	    "v=spf1 redirect=",
	    "v=spf1 exp=",
	    "v=spf1 a:%{x}.foo.example",
	    "v=spf1 a:%{d0}.foo.example",
	    "v=spf1 a:%{d.foo.example",
	    "v=spf1 a:%{c}.foo.example",
	    "v=spf1 exists:%{r}.foo.example",
	    "v=spf1 a:%foo.example",
	    "v=spf1 a:foo.example%",
	    "v=spf1 -all\tmx",
	    "v=spf1 -all \x01",
	    "v=spf1 1abc",
	    "v=spf1 ~=foo",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (check(bad[i]) == 0)
			fail_msg("accepted: %s", bad[i]);
	}
}

static void test_term_fields(void **state)
{
	const char *rec = "v=spf1 -a:foo.example/24//64 ?mx//48 ip4:192.0.2.9/28 ip6:2001:db8::/32 "
			  "redirect=r.example exp=e.example x-y=z";
	struct spf_term t;
	const char *why;
	size_t pos = 6;

	(void)state;
	assert_int_equal(spf_term_next(rec, strlen(rec), &pos, &t, &why), 1);
	assert_int_equal(t.kind, SPF_K_A);
	assert_int_equal(t.qual, '-');
	assert_int_equal(t.spec_len, 11);
	assert_memory_equal(t.spec, "foo.example", 11);
	assert_int_equal(t.cidr4, 24);
	assert_int_equal(t.cidr6, 64);
	assert_int_equal(spf_term_next(rec, strlen(rec), &pos, &t, &why), 1);
	assert_int_equal(t.kind, SPF_K_MX);
	assert_int_equal(t.qual, '?');
	assert_null(t.spec);
	assert_int_equal(t.cidr4, 32);
	assert_int_equal(t.cidr6, 48);
	assert_int_equal(spf_term_next(rec, strlen(rec), &pos, &t, &why), 1);
	assert_int_equal(t.kind, SPF_K_IP4);
	assert_int_equal(t.qual, '+');
	assert_int_equal(t.cidr4, 28);
	assert_memory_equal(t.ip, "\xc0\x00\x02\x09", 4);
	assert_int_equal(spf_term_next(rec, strlen(rec), &pos, &t, &why), 1);
	assert_int_equal(t.kind, SPF_K_IP6);
	assert_int_equal(t.cidr6, 32);
	assert_int_equal(spf_term_next(rec, strlen(rec), &pos, &t, &why), 1);
	assert_int_equal(t.kind, SPF_K_REDIRECT);
	assert_int_equal(spf_term_next(rec, strlen(rec), &pos, &t, &why), 1);
	assert_int_equal(t.kind, SPF_K_EXP);
	assert_int_equal(spf_term_next(rec, strlen(rec), &pos, &t, &why), 1);
	assert_int_equal(t.kind, SPF_K_UNKNOWN_MOD);
	assert_int_equal(spf_term_next(rec, strlen(rec), &pos, &t, &why), 0);
}

static void test_record_info(void **state)
{
	struct spf_record_info info;
	const char *rec = "v=spf1 mx redirect=r.example exp=e.%{d}";
	const char *why;

	(void)state;
	assert_int_equal(spf_record_check(rec, strlen(rec), &info, &why), 0);
	assert_int_equal(info.redirect_len, 9);
	assert_memory_equal(info.redirect, "r.example", 9);
	assert_int_equal(info.exp_len, 6);
	assert_int_equal(info.has_all, 0);
	rec = "v=spf1 redirect=r.example ?all";
	assert_int_equal(spf_record_check(rec, strlen(rec), &info, &why), 0);
	assert_int_equal(info.has_all, 1);
}

/* ---- choosing the record ------------------------------------------------ */

static int select_txt(const char *const *wire, const size_t *lens, size_t n, char *out, size_t cap)
{
	const unsigned char *rr[8];
	size_t len;
	const char *why;

	for (size_t i = 0; i < n; i++)
		rr[i] = (const unsigned char *)wire[i];
	return spf_txt_select(rr, lens, n, out, cap, &len, &why);
}

static void test_txt_select(void **state)
{
	static const char *const one[] = {"\x0bhello world", "\x06v=spf1\x05 -all"};
	static const size_t one_len[] = {12, 13};
	static const char *const two[] = {"\x0av=spf1 -all", "\x08V=SPF1 a"};
	static const size_t two_len[] = {11, 9};
	static const char *const none[] = {"\x07v=spf10", "\x0cv=spf2.0/pra"};
	static const size_t none_len[] = {8, 13};
	static const char *const broken[] = {"\x09v=spf1"};
	static const size_t broken_len[] = {7};
	char out[64];

	(void)state;
	assert_int_equal(select_txt(one, one_len, 2, out, sizeof out), 1);
	assert_string_equal(out, "v=spf1 -all");
	assert_int_equal(select_txt(two, two_len, 2, out, sizeof out), -1);
	assert_int_equal(select_txt(none, none_len, 2, out, sizeof out), 0);
	assert_int_equal(select_txt(broken, broken_len, 1, out, sizeof out), 0);
	assert_int_equal(select_txt(one, one_len, 2, out, 8), -1); /* too long */
}

/* ---- macros (RFC 7208 7.4) --------------------------------------------- */

static const struct spf_macro_vars vars4 = {
    .sender = "strong-bad@email.example.com",
    .local = "strong-bad",
    .sdomain = "email.example.com",
    .domain = "email.example.com",
    .ip = "192.0.2.3",
    .ptr = "unknown",
    .ipver = "in-addr",
    .helo = "mx.example.org",
    .cip = "192.0.2.3",
    .receiver = "mx.example.net",
    .now = 1234567890,
};

static const struct spf_macro_vars vars6 = {
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

static void expect(const struct spf_macro_vars *v, int domain, const char *in, const char *want)
{
	char out[SPF_EXPAND_MAX];

	if (spf_macro_expand(in, strlen(in), domain, v, out, sizeof out) != 0)
		fail_msg("cannot expand %s", in);
	if (strcmp(out, want) != 0)
		fail_msg("%s gave %s, not %s", in, out, want);
}

static void test_macro_rfc_examples(void **state)
{
	static const char *const ex[][2] = {
	    {"%{s}", "strong-bad@email.example.com"},
	    {"%{o}", "email.example.com"},
	    {"%{d}", "email.example.com"},
	    {"%{d4}", "email.example.com"},
	    {"%{d3}", "email.example.com"},
	    {"%{d2}", "example.com"},
	    {"%{d1}", "com"},
	    {"%{dr}", "com.example.email"},
	    {"%{d2r}", "example.email"},
	    {"%{l}", "strong-bad"},
	    {"%{l-}", "strong.bad"},
	    {"%{lr}", "strong-bad"},
	    {"%{lr-}", "bad.strong"},
	    {"%{l1r-}", "strong"},
	    {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
	    {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
	    {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
	    {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
	    {"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++)
		expect(&vars4, 0, ex[i][0], ex[i][1]);
	expect(
	    &vars6, 1, "%{ir}.%{v}._spf.%{d2}",
	    "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
}

static void test_macro_more(void **state)
{
	struct spf_macro_vars v = vars4;

	(void)state;
	expect(&vars4, 0, "%{c} %{r} %{t} %{h} %{p}",
	       "192.0.2.3 mx.example.net 1234567890 mx.example.org unknown");
	expect(&vars6, 0, "%{c}", "2001:db8::cb01");
	expect(&vars4, 0, "a%%b%_c%-d", "a%b c%20d");
	expect(&vars4, 0, "%{S}", "strong-bad%40email.example.com");
	expect(&vars4, 0, "%{L}", "strong-bad");
	v.local = "a+b=c/d";
	expect(&v, 0, "%{L}", "a%2Bb%3Dc%2Fd");
	expect(&v, 0, "%{l+=/}", "a.b.c.d");
	expect(&v, 0, "%{l2r+=/}", "b.a");
	expect(&v, 0, "%{lR+}", "b=c/d.a");
	expect(&vars4, 0, "%{d100}", "email.example.com");
	expect(&vars4, 0, "%{D}", "email.example.com");
	expect(&vars4, 1, "%{d}.foo.example", "email.example.com.foo.example");
}

static void test_macro_errors(void **state)
{
	static const char *const bad[] = {"%",	   "%{", "%{d",	     "%{q}",
					  "%{d0}", "%x", "%{d2r.x}", "a b"};
	char out[SPF_EXPAND_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (spf_macro_expand(bad[i], strlen(bad[i]), 1, &vars4, out, sizeof out) == 0)
			fail_msg("expanded: %s", bad[i]);
	/* c, r, t only in explanations; spaces only there */
	assert_int_equal(spf_macro_expand("%{c}.x.example", 14, 1, &vars4, out, sizeof out), -1);
	assert_int_equal(spf_macro_expand("%{c} x", 6, 0, &vars4, out, sizeof out), 0);
	/* too long for the buffer: an error, not a cut */
	assert_int_equal(spf_macro_expand("%{s}", 4, 0, &vars4, out, 10), -1);
	assert_int_equal(spf_macro_uses_p("%{p}.x", 6), 1);
	assert_int_equal(spf_macro_uses_p("%{P}", 4), 1);
	assert_int_equal(spf_macro_uses_p("%{d}.p", 6), 0);
}

static void test_macro_truncate_left(void **state)
{
	struct spf_macro_vars v = vars4;
	char local[200], out[SPF_EXPAND_MAX];

	(void)state;
	memset(local, 'a', sizeof local - 1);
	local[sizeof local - 1] = '\0';
	for (size_t i = 60; i < sizeof local - 1; i += 61)
		local[i] = '.';
	v.local = local;
	/* 199 + 1 + 17 + 1 + 56 > 253: labels go from the left */
	const char *in = "%{l}.%{d}.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example";
	assert_int_equal(spf_macro_expand(in, strlen(in), 1, &v, out, sizeof out), 0);
	assert_true(strlen(out) <= 253);
	assert_true(strstr(out, "email.example.com.") != NULL);
	assert_true(out[0] != '.');
}

static void test_domain_ok(void **state)
{
	char label64[80];

	(void)state;
	assert_true(spf_domain_ok("foo.example"));
	assert_true(spf_domain_ok("foo.example."));
	assert_false(spf_domain_ok("example"));
	assert_false(spf_domain_ok("foo..example"));
	assert_false(spf_domain_ok(".foo.example"));
	assert_false(spf_domain_ok(""));
	assert_false(spf_domain_ok("a b.example"));
	memset(label64, 'a', 64);
	memcpy(label64 + 64, ".example", 9);
	assert_false(spf_domain_ok(label64));
}

/* ---- the engine over a fake resolver ------------------------------------ */

struct fake_q {
	char name[DNS_NAME_MAX];
	int type;
	dns_cb cb;
	void *arg;
};

static struct fake_q fq[4];
static size_t n_fq;
static int n_answers;
static struct spf_answer last;

static int fake_query(const char *name, int rrtype, unsigned ms, dns_cb cb, void *arg)
{
	(void)ms;
	if (n_fq == 4)
		return -1;
	snprintf(fq[n_fq].name, sizeof fq[n_fq].name, "%s", name);
	fq[n_fq].type = rrtype;
	fq[n_fq].cb = cb;
	fq[n_fq].arg = arg;
	n_fq++;
	return 0;
}

static void on_answer(void *arg, const struct spf_answer *a)
{
	(void)arg;
	n_answers++;
	last = *a;
}

/* Answer the oldest pending query with one TXT string (or status). */
static void answer_txt(enum dns_status st, const char *txt)
{
	unsigned char wire[256];
	struct dns_result r = {.status = st};
	struct fake_q q = fq[0];
	size_t len = txt ? strlen(txt) : 0;

	memmove(fq, fq + 1, (n_fq - 1) * sizeof fq[0]);
	n_fq--;
	if (txt) {
		wire[0] = (unsigned char)len;
		memcpy(wire + 1, txt, len);
		r.rr[0] = wire;
		r.rr_len[0] = len + 1;
		r.n_rr = 1;
	}
	q.cb(q.arg, &r);
}

/* Answer the oldest pending query with n wire names (PTR; MX with a
 * preference in front when mx). */
static void answer_names(size_t n, char prefix, int mx)
{
	unsigned char wire[16][64];
	struct dns_result r = {.status = DNS_OK, .n_rr = n};
	struct fake_q q = fq[0];

	memmove(fq, fq + 1, (n_fq - 1) * sizeof fq[0]);
	n_fq--;
	for (size_t i = 0; i < n; i++) {
		char label[16];
		size_t o = 0, l;
		if (mx) {
			wire[i][o++] = 0;
			wire[i][o++] = (unsigned char)i;
		}
		snprintf(label, sizeof label, "%c%d", prefix, (int)i);
		l = strlen(label);
		wire[i][o++] = (unsigned char)l;
		memcpy(wire[i] + o, label, l);
		o += l;
		memcpy(wire[i] + o,
		       "\x03"
		       "foo"
		       "\x07"
		       "example"
		       "\x00",
		       13);
		r.rr[i] = wire[i];
		r.rr_len[i] = o + 13;
	}
	q.cb(q.arg, &r);
}

static struct spf_check *start(struct event_base *base, const char *ip, unsigned ms)
{
	struct spf_request rq = {
	    .ip = ip, .sender = "user@foo.example", .helo = "mx.foo.example", .timeout_ms = ms};

	n_fq = 0;
	n_answers = 0;
	memset(&last, 0, sizeof last);
	return spf_check_start(&rq, base, fake_query, on_answer, NULL);
}

static void test_engine_deferred_and_pass(void **state)
{
	struct event_base *base = event_base_new();
	struct spf_check *c;

	(void)state;
	assert_non_null(base);
	c = start(base, "192.0.2.1", 0);
	assert_non_null(c);
	assert_int_equal(n_fq, 0); /* nothing asked, nothing answered inside start */
	assert_int_equal(n_answers, 0);
	(void)event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(n_fq, 1);
	assert_string_equal(fq[0].name, "foo.example");
	assert_int_equal(fq[0].type, 16);
	answer_txt(DNS_OK, "v=spf1 ip4:192.0.2.0/24 -all");
	assert_int_equal(n_answers, 1);
	assert_int_equal(last.result, SPF_PASS);
	assert_string_equal(last.mechanism, "ip4:192.0.2.0/24");
	assert_string_equal(last.domain, "foo.example");
	event_base_free(base);
}

static void test_engine_cancel_in_flight(void **state)
{
	struct event_base *base = event_base_new();
	struct spf_check *c;

	(void)state;
	c = start(base, "192.0.2.1", 0);
	(void)event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(n_fq, 1);
	spf_check_cancel(c);
	answer_txt(DNS_OK, "v=spf1 -all"); /* late: dropped, no callback */
	assert_int_equal(n_answers, 0);
	/* cancelled before it started: never asks, never answers */
	c = start(base, "192.0.2.1", 0);
	spf_check_cancel(c);
	(void)event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(n_fq, 0);
	assert_int_equal(n_answers, 0);
	event_base_free(base);
}

static void test_engine_include_and_exp(void **state)
{
	struct event_base *base = event_base_new();

	(void)state;
	(void)start(base, "192.0.2.1", 0);
	(void)event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	answer_txt(DNS_OK, "v=spf1 include:inc.example -all exp=why.%{d}");
	assert_string_equal(fq[0].name, "inc.example");
	answer_txt(DNS_OK, "v=spf1 ip4:198.51.100.1 -all");
	assert_int_equal(n_answers, 0);
	assert_string_equal(fq[0].name, "why.foo.example");
	answer_txt(DNS_OK, "%{i} may not send mail for %{d}");
	assert_int_equal(n_answers, 1);
	assert_int_equal(last.result, SPF_FAIL);
	assert_string_equal(last.explanation, "192.0.2.1 may not send mail for foo.example");
	assert_string_equal(last.mechanism, "-all");
	event_base_free(base);
}

static void test_engine_tempfail_and_timeout(void **state)
{
	struct event_base *base = event_base_new();

	(void)state;
	(void)start(base, "2001:db8::1", 0);
	(void)event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	answer_txt(DNS_TEMPFAIL, NULL);
	assert_int_equal(last.result, SPF_TEMPERROR);
	/* no answer at all: the whole-check timer ends it; the late answer
	 * finds a tombstone */
	(void)start(base, "192.0.2.1", 50);
	(void)event_base_dispatch(base);
	assert_int_equal(n_answers, 1);
	assert_int_equal(last.result, SPF_TEMPERROR);
	answer_txt(DNS_OK, "v=spf1 +all");
	assert_int_equal(n_answers, 1);
	event_base_free(base);
}

static void test_engine_bad_identity(void **state)
{
	struct event_base *base = event_base_new();
	struct spf_request rq = {.ip = "192.0.2.1", .sender = "", .helo = "localhost"};

	(void)state;
	n_fq = 0;
	n_answers = 0;
	assert_non_null(spf_check_start(&rq, base, fake_query, on_answer, NULL));
	(void)event_base_dispatch(base);
	assert_int_equal(n_fq, 0);
	assert_int_equal(n_answers, 1);
	assert_int_equal(last.result, SPF_NONE);
	assert_string_equal(last.domain, "localhost");
	event_base_free(base);
}

/* ptr: at most 10 PTR names are looked at, the rest ignored (RFC 7208
 * 4.6.4); mx: more than 10 MX records is a permerror. */
static void test_engine_ptr_mx_limits(void **state)
{
	struct event_base *base = event_base_new();
	size_t asked = 0;

	(void)state;
	(void)start(base, "192.0.2.1", 0);
	(void)event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	answer_txt(DNS_OK, "v=spf1 ptr ?all");
	assert_string_equal(fq[0].name, "1.2.0.192.in-addr.arpa");
	answer_names(12, 'h', 0);
	while (n_fq > 0 && n_answers == 0) {
		assert_int_equal(fq[0].type, 1);
		asked++;
		answer_txt(DNS_NXDOMAIN, NULL);
	}
	assert_int_equal(asked, 10);
	assert_int_equal(last.result, SPF_NEUTRAL);

	(void)start(base, "192.0.2.1", 0);
	(void)event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	answer_txt(DNS_OK, "v=spf1 mx +all");
	assert_int_equal(fq[0].type, 15);
	answer_names(11, 'm', 1);
	assert_int_equal(n_answers, 1);
	assert_int_equal(last.result, SPF_PERMERROR);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record_valid),
	    cmocka_unit_test(test_record_invalid),
	    cmocka_unit_test(test_term_fields),
	    cmocka_unit_test(test_record_info),
	    cmocka_unit_test(test_txt_select),
	    cmocka_unit_test(test_macro_rfc_examples),
	    cmocka_unit_test(test_macro_more),
	    cmocka_unit_test(test_macro_errors),
	    cmocka_unit_test(test_macro_truncate_left),
	    cmocka_unit_test(test_domain_ok),
	    cmocka_unit_test(test_engine_deferred_and_pass),
	    cmocka_unit_test(test_engine_cancel_in_flight),
	    cmocka_unit_test(test_engine_include_and_exp),
	    cmocka_unit_test(test_engine_tempfail_and_timeout),
	    cmocka_unit_test(test_engine_bad_identity),
	    cmocka_unit_test(test_engine_ptr_mx_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
