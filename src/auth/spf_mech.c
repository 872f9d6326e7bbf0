/*
 * spf_mech: the SPF mechanisms that ask DNS (RFC 7208 5.2-5.7: include's
 * target, a, mx, ptr, exists) and the p macro's validated name (7.3),
 * one query at a time. Void lookups (4.6.4) are counted once per term:
 * an empty or NXDOMAIN answer to the term's own query (A/AAAA for a and
 * exists, MX for mx, PTR for ptr).
 *
 * Security role: decodes names from DNS answers (MX and PTR rdata,
 * checked host names), asks at most SPF_MX_NAMES address queries per mx
 * (more MX records is a permerror) and SPF_PTR_NAMES per ptr and for p
 * (the rest ignored).
 */
#include <string.h>
#include <strings.h>

#include "auth/spf_check.h"
#include "lookup/dns.h"
#include "util/str.h"

static struct spf_term *term(struct spf_check *c)
{
	return &c->frames[c->depth - 1].term;
}

static int addr_type(const struct spf_check *c)
{
	return c->v6 ? SPF_T_AAAA : SPF_T_A;
}

int spf_rdata_name(const unsigned char *rd, size_t n, char *out, size_t cap)
{
	return dns_rdata_name(rd, n, out, cap) < 0 || !out[0] ? -1 : 0;
}

int spf_name_under(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (d > 0 && domain[d - 1] == '.')
		d--;
	if (d == 0 || n < d || strncasecmp(name + n - d, domain, d) != 0)
		return 0;
	return n == d || name[n - d - 1] == '.';
}

/* A void lookup: -1 (and the check ended) past the limit. */
static int mech_void(struct spf_check *c)
{
	if (++c->voids > SPF_VOID_LIMIT) {
		spf_error(c, SPF_PERMERROR, "more than %d void DNS lookups", SPF_VOID_LIMIT);
		return -1;
	}
	return 0;
}

/* The answer is a DNS failure: end with temperror; 1 if so. */
static int mech_tempfail(struct spf_check *c, const struct dns_result *r)
{
	if (r->status != DNS_TEMPFAIL && r->status != DNS_BOGUS)
		return 0;
	spf_error(c, SPF_TEMPERROR, "DNS failure looking up %s", c->target);
	return 1;
}

/* No answers (NXDOMAIN, NODATA): a void lookup, no match. 1 if so. */
static int mech_empty(struct spf_check *c, const struct dns_result *r)
{
	if (r->status == DNS_OK && r->n_rr > 0)
		return 0;
	if (mech_void(c) == 0)
		spf_term_result(c, 0);
	return 1;
}

static int any_addr(const struct spf_check *c, const struct dns_result *r, int cidr)
{
	if (r->status != DNS_OK)
		return 0;
	for (size_t i = 0; i < r->n_rr; i++)
		if (spf_ip_match(c, r->rr[i], r->rr_len[i], cidr))
			return 1;
	return 0;
}

static int mech_cidr(struct spf_check *c)
{
	return c->v6 ? term(c)->cidr6 : term(c)->cidr4;
}

/* ---- a, exists ---------------------------------------------------------- */

static void on_a(struct spf_check *c, const struct dns_result *r)
{
	if (mech_tempfail(c, r) || mech_empty(c, r))
		return;
	spf_term_result(c, any_addr(c, r, mech_cidr(c)));
}

static void on_exists(struct spf_check *c, const struct dns_result *r)
{
	if (mech_tempfail(c, r) || mech_empty(c, r))
		return;
	spf_term_result(c, 1);
}

/* ---- mx ------------------------------------------------------------------ */

static void mx_next(struct spf_check *c);

static void on_mx_addr(struct spf_check *c, const struct dns_result *r)
{
	if (r->status == DNS_TEMPFAIL || r->status == DNS_BOGUS) {
		spf_error(c, SPF_TEMPERROR, "DNS failure looking up %s", c->mech.name[c->mech.i]);
		return;
	}
	if (any_addr(c, r, mech_cidr(c))) {
		spf_term_result(c, 1);
		return;
	}
	c->mech.i++;
	mx_next(c);
}

static void mx_next(struct spf_check *c)
{
	if (c->mech.i == c->mech.n) {
		spf_term_result(c, 0);
		return;
	}
	spf_ask(c, c->mech.name[c->mech.i], addr_type(c), on_mx_addr);
}

static void on_mx(struct spf_check *c, const struct dns_result *r)
{
	unsigned pref;

	if (mech_tempfail(c, r) || mech_empty(c, r))
		return;
	if (r->n_rr > SPF_MX_NAMES) {
		spf_error(c, SPF_PERMERROR, "%s has more than %d MX records", c->target,
			  SPF_MX_NAMES);
		return;
	}
	memset(&c->mech, 0, sizeof c->mech);
	for (size_t i = 0; i < r->n_rr; i++) {
		char *name = c->mech.name[c->mech.n];
		if (dns_mx_rdata(r->rr[i], r->rr_len[i], &pref, name, SPF_DOMAIN_MAX) == 0 &&
		    name[0])
			c->mech.n++;
	}
	mx_next(c);
}

/* ---- ptr ----------------------------------------------------------------- */

static void ptr_next(struct spf_check *c);

static void on_ptr_addr(struct spf_check *c, const struct dns_result *r)
{
	/* a DNS error here skips the name (RFC 7208 5.5) */
	if (any_addr(c, r, c->v6 ? 128 : 32)) {
		spf_term_result(c, 1);
		return;
	}
	c->mech.i++;
	ptr_next(c);
}

static void ptr_next(struct spf_check *c)
{
	if (c->mech.i == c->mech.n) {
		spf_term_result(c, 0);
		return;
	}
	spf_ask(c, c->mech.name[c->mech.i], addr_type(c), on_ptr_addr);
}

/* Up to SPF_PTR_NAMES PTR names into ns; under: only those in that domain. */
static void ptr_names(const struct dns_result *r, struct spf_names *ns, const char *under)
{
	memset(ns, 0, sizeof *ns);
	for (size_t i = 0; i < r->n_rr && i < SPF_PTR_NAMES; i++) {
		char *name = ns->name[ns->n];
		if (spf_rdata_name(r->rr[i], r->rr_len[i], name, SPF_DOMAIN_MAX) == 0 &&
		    (!under || spf_name_under(name, under)))
			ns->n++;
	}
}

static void on_ptr(struct spf_check *c, const struct dns_result *r)
{
	if (r->status == DNS_TEMPFAIL || r->status == DNS_BOGUS) {
		spf_term_result(c, 0); /* RFC 7208 5.5: a PTR lookup error is no match */
		return;
	}
	if (mech_empty(c, r))
		return;
	ptr_names(r, &c->mech, c->target);
	ptr_next(c);
}

/* ---- starting a DNS mechanism ------------------------------------------- */

static void mech_go(struct spf_check *c)
{
	const struct spf_term *t = term(c);

	switch (t->kind) {
	case SPF_K_INCLUDE:
		spf_eval_include(c, c->target);
		return;
	case SPF_K_A:
		spf_ask(c, c->target, addr_type(c), on_a);
		return;
	case SPF_K_EXISTS:
		spf_ask(c, c->target, SPF_T_A, on_exists);
		return;
	case SPF_K_MX:
		spf_ask(c, c->target, SPF_T_MX, on_mx);
		return;
	default:
		spf_ask(c, c->rev, SPF_T_PTR, on_ptr);
		return;
	}
}

/* The target name: the term's domain-spec expanded, or the current domain. */
static void mech_target(struct spf_check *c)
{
	const struct spf_frame *f = &c->frames[c->depth - 1];
	const struct spf_term *t = &f->term;
	char ptr[SPF_DOMAIN_MAX];
	struct spf_macro_vars v;

	spf_vars(c, f->domain, &v, ptr, sizeof ptr);
	if (t->spec ? spf_macro_expand(t->spec, t->spec_len, 1, &v, c->target, sizeof c->target)
		    : str_copy(c->target, sizeof c->target, f->domain)) {
		spf_error(c, SPF_PERMERROR, "cannot expand the domain of a term of %s", f->domain);
		return;
	}
	if (spf_domain_ok(c->target)) {
		mech_go(c);
		return;
	}
	if (t->kind == SPF_K_INCLUDE)
		spf_error(c, SPF_PERMERROR, "include of an invalid domain");
	else if (mech_void(c) == 0) /* an invalid name has no records */
		spf_term_result(c, 0);
}

void spf_mech_start(struct spf_check *c)
{
	const struct spf_term *t = term(c);

	if (++c->lookups > SPF_LOOKUP_LIMIT) {
		spf_error(c, SPF_PERMERROR, "more than %d DNS lookups", SPF_LOOKUP_LIMIT);
		return;
	}
	if (t->spec && spf_macro_uses_p(t->spec, t->spec_len))
		spf_need_p(c, mech_target);
	else
		mech_target(c);
}

/* ---- the p macro (RFC 7208 7.3) ----------------------------------------- */

static void p_next(struct spf_check *c);

static void on_p_addr(struct spf_check *c, const struct dns_result *r)
{
	c->p.valid[c->p.i] = any_addr(c, r, c->v6 ? 128 : 32);
	c->p.i++;
	p_next(c);
}

static void p_next(struct spf_check *c)
{
	spf_next next = c->p_next;

	if (c->p.i < c->p.n) {
		spf_ask(c, c->p.name[c->p.i], addr_type(c), on_p_addr);
		return;
	}
	c->p_state = 1;
	c->p_next = NULL;
	next(c);
}

static void on_p_ptr(struct spf_check *c, const struct dns_result *r)
{
	if (r->status == DNS_OK)
		ptr_names(r, &c->p, NULL);
	else
		memset(&c->p, 0, sizeof c->p);
	p_next(c);
}

void spf_need_p(struct spf_check *c, spf_next next)
{
	if (c->p_state) {
		next(c);
		return;
	}
	c->p_next = next;
	spf_ask(c, c->rev, SPF_T_PTR, on_p_ptr);
}

void spf_pick_p(const struct spf_check *c, const char *domain, char *out, size_t cap)
{
	const struct spf_names *p = &c->p;
	const char *pick = NULL;

	for (int pass = 0; pass < 3 && !pick && c->p_state; pass++)
		for (size_t i = 0; i < p->n && !pick; i++)
			if (p->valid[i] &&
			    (pass == 2 || (pass == 0 ? strcasecmp(p->name[i], domain) == 0
						     : spf_name_under(p->name[i], domain))))
				pick = p->name[i];
	if (!pick || str_copy(out, cap, pick) < 0)
		(void)str_copy(out, cap, "unknown");
}
