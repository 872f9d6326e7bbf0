/*
 * test_dmarc_discover: unit tests for DMARC policy discovery (src/auth/
 * dmarc_discover.c) over a fake dns_query_fn: the From: domain first, the
 * organizational domain only when no DMARC record is at the From: domain,
 * several records or an invalid one meaning no policy, DNS failures as
 * temperror, the callback never inside the start call (even when the
 * query function answers at once), and cancel with a query in flight.
 *
 * Security role: pins down which record governs a message and that a late
 * DNS answer after cancel never touches freed memory (run under ASan by
 * `make san-test`).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "auth/dmarc.h"

#define FAKE_MAX 8

struct fake_rr {
	const char *name;
	enum dns_status status;
	const char *txt[3];
};

static struct {
	const struct fake_rr *zone;
	size_t n_zone;
	int mode; /* 0 answer from the loop, 1 answer inside the call, 2 hold, 3 refuse */
	char asked[FAKE_MAX][DMARC_DOMAIN_MAX];
	size_t n_asked;
	dns_cb held_cb;
	void *held_arg;
	struct event_base *base;
} fake;

struct pending {
	dns_cb cb;
	void *arg;
	const struct fake_rr *rr;
};
static struct pending pend[FAKE_MAX];

static void fake_answer(const struct fake_rr *rr, dns_cb cb, void *arg)
{
	unsigned char buf[3][300];
	struct dns_result r = {.status = rr ? rr->status : DNS_NXDOMAIN};

	for (size_t i = 0; rr && i < 3 && rr->txt[i]; i++) {
		size_t n = strlen(rr->txt[i]);
		buf[i][0] = (unsigned char)n;
		memcpy(buf[i] + 1, rr->txt[i], n);
		r.rr[i] = buf[i];
		r.rr_len[i] = n + 1;
		r.n_rr++;
	}
	cb(arg, &r);
}

static void fake_later(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;

	(void)fd;
	(void)what;
	fake_answer(p->rr, p->cb, p->arg);
}

static int fake_query(const char *name, int rrtype, unsigned ms, dns_cb cb, void *arg)
{
	const struct fake_rr *rr = NULL;
	struct pending *p;

	(void)ms;
	assert_int_equal(rrtype, 16);
	if (fake.mode == 3 || fake.n_asked == FAKE_MAX)
		return -1;
	for (size_t i = 0; i < fake.n_zone; i++)
		if (strcmp(fake.zone[i].name, name) == 0)
			rr = &fake.zone[i];
	p = &pend[fake.n_asked];
	strcpy(fake.asked[fake.n_asked++], name);
	if (fake.mode == 1) {
		fake_answer(rr, cb, arg);
	} else if (fake.mode == 2) {
		fake.held_cb = cb;
		fake.held_arg = arg;
	} else {
		*p = (struct pending){cb, arg, rr};
		assert_int_equal(event_base_once(fake.base, -1, EV_TIMEOUT, fake_later, p, NULL),
				 0);
	}
	return 0;
}

static const char psl_text[] = "example\npub.example\n";

struct got {
	int calls, in_start;
	struct dmarc_policy_found f;
};

static int in_start;

static void found_cb(void *arg, const struct dmarc_policy_found *f)
{
	struct got *g = arg;

	g->calls++;
	g->in_start |= in_start;
	g->f = *f;
}

/* Run discovery for from over zone; the result in *g. */
static void discover(const struct fake_rr *zone, size_t n, int mode, const char *from,
		     struct got *g)
{
	char err[64];
	struct psl *psl = psl_load_mem(psl_text, sizeof psl_text - 1, err, sizeof err);
	struct dmarc_discover *d;

	memset(&fake, 0, sizeof fake);
	memset(g, 0, sizeof *g);
	fake.zone = zone;
	fake.n_zone = n;
	fake.mode = mode;
	fake.base = event_base_new();
	assert_non_null(psl);
	assert_non_null(fake.base);
	in_start = 1;
	d = dmarc_discover_start(psl, from, fake.base, fake_query, 1000, found_cb, g);
	in_start = 0;
	assert_non_null(d);
	assert_int_equal(event_base_dispatch(fake.base), 1); /* 1: nothing left */
	assert_int_equal(g->calls, 1);
	assert_int_equal(g->in_start, 0);
	event_base_free(fake.base);
	psl_free(psl);
}

static const struct fake_rr zone[] = {
    {"_dmarc.corp.example", DNS_OK, {"v=spf1 -all", "v=DMARC1; p=reject; sp=quarantine"}},
    {"_dmarc.sub.corp.example", DNS_OK, {"v=DMARC1; p=none"}},
    {"_dmarc.two.corp.example", DNS_OK, {"v=DMARC1; p=none", "v=DMARC1; p=reject"}},
    {"_dmarc.bad.corp.example", DNS_OK, {"v=DMARC1; p=maybe"}},
    {"_dmarc.tf.corp.example", DNS_TEMPFAIL, {NULL}},
    {"_dmarc.flaky.example", DNS_TEMPFAIL, {NULL}},
    {"_dmarc.x.pub.example", DNS_NODATA, {NULL}},
};
#define NZ (sizeof zone / sizeof zone[0])

static void test_found_at_from(void **state)
{
	struct got g;

	(void)state;
	discover(zone, NZ, 0, "Corp.Example.", &g);
	assert_int_equal(g.f.status, DMARC_PASS);
	assert_int_equal(g.f.rec.p, DMARC_P_REJECT);
	assert_int_equal(g.f.at_org, 0);
	assert_string_equal(g.f.policy_domain, "corp.example");
	assert_int_equal(fake.n_asked, 1);
	discover(zone, NZ, 0, "sub.corp.example", &g); /* the subdomain's own record */
	assert_int_equal(g.f.status, DMARC_PASS);
	assert_int_equal(g.f.rec.p, DMARC_P_NONE);
	assert_string_equal(g.f.policy_domain, "sub.corp.example");
}

static void test_org_fallback(void **state)
{
	struct got g;

	(void)state;
	discover(zone, NZ, 0, "a.b.corp.example", &g);
	assert_int_equal(g.f.status, DMARC_PASS);
	assert_int_equal(g.f.at_org, 1);
	assert_string_equal(g.f.policy_domain, "corp.example");
	assert_int_equal(g.f.rec.sp, DMARC_P_QUARANTINE);
	assert_int_equal(fake.n_asked, 2);
	assert_string_equal(fake.asked[0], "_dmarc.a.b.corp.example");
	assert_string_equal(fake.asked[1], "_dmarc.corp.example");
	/* nothing at either: none */
	discover(zone, NZ, 0, "a.x.pub.example", &g);
	assert_int_equal(g.f.status, DMARC_NONE);
	assert_string_equal(fake.asked[1], "_dmarc.x.pub.example");
	/* the From: domain is the org domain: one query only */
	discover(zone, NZ, 0, "y.pub.example", &g);
	assert_int_equal(g.f.status, DMARC_NONE);
	assert_int_equal(fake.n_asked, 1);
}

static void test_no_fallback(void **state)
{
	struct got g;

	(void)state;
	discover(zone, NZ, 0, "two.corp.example", &g); /* several: none, no fallback */
	assert_int_equal(g.f.status, DMARC_NONE);
	assert_int_equal(fake.n_asked, 1);
	discover(zone, NZ, 0, "bad.corp.example", &g); /* invalid: none, no fallback */
	assert_int_equal(g.f.status, DMARC_NONE);
	assert_int_equal(fake.n_asked, 1);
}

static void test_tempfail(void **state)
{
	struct got g;

	(void)state;
	discover(zone, NZ, 0, "tf.corp.example", &g);
	assert_int_equal(g.f.status, DMARC_TEMPERROR);
	assert_int_equal(fake.n_asked, 1);
	discover(zone, NZ, 0, "a.flaky.example", &g); /* at the org domain */
	assert_int_equal(g.f.status, DMARC_TEMPERROR);
	assert_int_equal(fake.n_asked, 2);
	discover(zone, NZ, 3, "corp.example", &g); /* the query cannot start */
	assert_int_equal(g.f.status, DMARC_TEMPERROR);
}

static void test_never_inside_start(void **state)
{
	struct got g;

	(void)state;
	discover(zone, NZ, 1, "a.b.corp.example", &g); /* answers inside the call */
	assert_int_equal(g.f.status, DMARC_PASS);
	assert_int_equal(g.f.at_org, 1);
	discover(zone, NZ, 0, "bad..name", &g); /* no query at all */
	assert_int_equal(g.f.status, DMARC_NONE);
	assert_int_equal(fake.n_asked, 0);
}

static void test_cancel_in_flight(void **state)
{
	char err[64];
	struct psl *psl = psl_load_mem(psl_text, sizeof psl_text - 1, err, sizeof err);
	struct dmarc_discover *d;
	struct got g = {0};

	(void)state;
	memset(&fake, 0, sizeof fake);
	fake.zone = zone;
	fake.n_zone = NZ;
	fake.mode = 2;
	fake.base = event_base_new();
	d = dmarc_discover_start(psl, "corp.example", fake.base, fake_query, 1000, found_cb, &g);
	assert_non_null(d);
	assert_non_null(fake.held_cb);
	dmarc_discover_cancel(d);
	fake_answer(&zone[0], fake.held_cb, fake.held_arg); /* late: frees, no callback */
	(void)event_base_loop(fake.base, EVLOOP_NONBLOCK);
	assert_int_equal(g.calls, 0);
	/* cancel before the result event ran (answered inside the call) */
	fake.mode = 1;
	d = dmarc_discover_start(psl, "corp.example", fake.base, fake_query, 1000, found_cb, &g);
	dmarc_discover_cancel(d);
	(void)event_base_loop(fake.base, EVLOOP_NONBLOCK);
	assert_int_equal(g.calls, 0);
	dmarc_discover_cancel(NULL);
	event_base_free(fake.base);
	psl_free(psl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_found_at_from),      cmocka_unit_test(test_org_fallback),
	    cmocka_unit_test(test_no_fallback),	       cmocka_unit_test(test_tempfail),
	    cmocka_unit_test(test_never_inside_start), cmocka_unit_test(test_cancel_in_flight),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
