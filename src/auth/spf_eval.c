/*
 * spf_eval: check_host() over records (RFC 7208 4): fetching and choosing
 * a domain's record (4.4, 4.5), walking its terms left to right (4.6),
 * the immediate mechanisms all, ip4 and ip6 (5.1, 5.6), include (5.2) as
 * a nested frame with its result mapping, redirect= (6.1) as a frame
 * replaced in place, and the lookup limit (4.6.4).
 *
 * Security role: a record's syntax is checked as a whole before any of
 * its terms is evaluated (4.6); nesting is bounded by the lookup limit
 * and by SPF_DEPTH_MAX frames.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/spf_check.h"
#include "util/str.h"

#define SPF_VERSION_LEN 6 /* "v=spf1" */

static struct spf_frame *top(struct spf_check *c)
{
	return &c->frames[c->depth - 1];
}

void spf_free_frames(struct spf_check *c)
{
	for (size_t i = 0; i < SPF_DEPTH_MAX; i++) {
		free(c->frames[i].rec);
		c->frames[i].rec = NULL;
	}
}

static void spf_terms(struct spf_check *c);

static void on_record(struct spf_check *c, const struct dns_result *r)
{
	struct spf_frame *f = top(c);
	char rec[SPF_RECORD_MAX];
	const char *why = "malformed";
	size_t len;
	int rc;

	if (r->status == DNS_TEMPFAIL || r->status == DNS_BOGUS) {
		spf_error(c, SPF_TEMPERROR, "DNS failure looking up the SPF record of %s",
			  f->domain);
		return;
	}
	rc = r->status == DNS_OK
		 ? spf_txt_select(r->rr, r->rr_len, r->n_rr, rec, sizeof rec, &len, &why)
		 : 0;
	if (rc == 0) {
		(void)str_fmt(c->why, sizeof c->why, "%s has no SPF record", f->domain);
		spf_frame_done(c, SPF_NONE);
		return;
	}
	if (rc > 0 && !(f->rec = malloc(len + 1))) {
		spf_error(c, SPF_TEMPERROR, "out of memory");
		return;
	}
	if (rc > 0) {
		memcpy(f->rec, rec, len + 1); /* kept: info and terms point into it */
		f->rec_len = len;
		f->pos = SPF_VERSION_LEN;
	}
	if (rc < 0 || spf_record_check(f->rec, f->rec_len, &f->info, &why) < 0) {
		spf_error(c, SPF_PERMERROR, "the SPF record of %s: %s", f->domain, why);
		return;
	}
	spf_terms(c);
}

static int frame_push(struct spf_check *c, const char *domain, int include)
{
	struct spf_frame *f;

	if (c->depth == SPF_DEPTH_MAX)
		return -1;
	f = &c->frames[c->depth++];
	free(f->rec);
	memset(f, 0, sizeof *f);
	f->include = include;
	return str_copy(f->domain, sizeof f->domain, domain);
}

void spf_eval_begin(struct spf_check *c, const char *domain)
{
	if (frame_push(c, domain, 0) < 0) {
		spf_error(c, SPF_PERMERROR, "the domain is too long");
		return;
	}
	spf_ask(c, domain, SPF_T_TXT, on_record);
}

void spf_eval_include(struct spf_check *c, const char *target)
{
	if (frame_push(c, target, 1) < 0) {
		spf_error(c, SPF_PERMERROR, "includes nested too deeply");
		return;
	}
	spf_ask(c, target, SPF_T_TXT, on_record);
}

/* ---- redirect= ---------------------------------------------------------- */

static void redirect_go(struct spf_check *c)
{
	struct spf_frame *f = top(c);
	char ptr[SPF_DOMAIN_MAX];
	struct spf_macro_vars v;

	spf_vars(c, f->domain, &v, ptr, sizeof ptr);
	if (spf_macro_expand(f->info.redirect, f->info.redirect_len, 1, &v, c->target,
			     sizeof c->target) < 0 ||
	    !spf_domain_ok(c->target)) {
		spf_error(c, SPF_PERMERROR, "redirect= of %s is not a valid domain", f->domain);
		return;
	}
	free(f->rec);
	f->rec = NULL;
	memset(&f->info, 0, sizeof f->info);
	f->redirected = 1;
	if (str_copy(f->domain, sizeof f->domain, c->target) < 0) {
		spf_error(c, SPF_PERMERROR, "redirect= target too long");
		return;
	}
	spf_ask(c, f->domain, SPF_T_TXT, on_record);
}

/* No mechanism matched: redirect= when there is one and no "all" (6.1),
 * else neutral (4.7). */
static void end_of_record(struct spf_check *c)
{
	struct spf_frame *f = top(c);

	if (!f->info.redirect || f->info.has_all) {
		if (c->depth == 1)
			(void)str_copy(c->ans.mechanism, sizeof c->ans.mechanism, "default");
		spf_frame_done(c, SPF_NEUTRAL);
		return;
	}
	if (++c->lookups > SPF_LOOKUP_LIMIT) {
		spf_error(c, SPF_PERMERROR, "more than %d DNS lookups", SPF_LOOKUP_LIMIT);
		return;
	}
	if (spf_macro_uses_p(f->info.redirect, f->info.redirect_len))
		spf_need_p(c, redirect_go);
	else
		redirect_go(c);
}

/* ---- terms -------------------------------------------------------------- */

static enum spf_result qual_result(char q)
{
	switch (q) {
	case '-':
		return SPF_FAIL;
	case '~':
		return SPF_SOFTFAIL;
	case '?':
		return SPF_NEUTRAL;
	default:
		return SPF_PASS;
	}
}

void spf_term_result(struct spf_check *c, int match)
{
	struct spf_frame *f = top(c);

	if (!match) {
		spf_terms(c);
		return;
	}
	if (c->depth == 1)
		(void)str_sanitize(c->ans.mechanism, sizeof c->ans.mechanism, f->term.text,
				   f->term.text_len);
	spf_frame_done(c, qual_result(f->term.qual));
}

/* Evaluate terms until one needs DNS, one matches or the record ends. */
static void spf_terms(struct spf_check *c)
{
	struct spf_frame *f = top(c);
	struct spf_term *t = &f->term;
	const char *why = "malformed";
	int rc;

	while ((rc = spf_term_next(f->rec, f->rec_len, &f->pos, t, &why)) > 0) {
		if (t->kind == SPF_K_ALL ||
		    (t->kind == SPF_K_IP4 && !c->v6 && spf_ip_match(c, t->ip, 4, t->cidr4)) ||
		    (t->kind == SPF_K_IP6 && c->v6 && spf_ip_match(c, t->ip, 16, t->cidr6))) {
			spf_term_result(c, 1);
			return;
		}
		if (t->kind != SPF_K_IP4 && t->kind != SPF_K_IP6 && t->kind < SPF_K_REDIRECT) {
			spf_mech_start(c);
			return;
		}
	}
	if (rc < 0)
		spf_error(c, SPF_PERMERROR, "the SPF record of %s: %s", f->domain, why);
	else
		end_of_record(c);
}

/* A frame's result: the check's for the top one, else mapped into the
 * include term of the frame below (RFC 7208 5.2). */
void spf_frame_done(struct spf_check *c, enum spf_result r)
{
	struct spf_frame *f = top(c);

	if (f->redirected && r == SPF_NONE) {
		spf_error(c, SPF_PERMERROR, "redirect=%s has no SPF record", f->domain);
		return;
	}
	if (!f->include) {
		spf_finish(c, r);
		return;
	}
	if (r == SPF_NONE) {
		spf_error(c, SPF_PERMERROR, "include:%s has no SPF record", f->domain);
		return;
	}
	if (r == SPF_TEMPERROR || r == SPF_PERMERROR) {
		spf_finish(c, r);
		return;
	}
	free(f->rec);
	f->rec = NULL;
	c->depth--;
	spf_term_result(c, r == SPF_PASS);
}
