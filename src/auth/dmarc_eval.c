/*
 * dmarc_eval: identifier alignment and the DMARC verdict (RFC 7489 3.1,
 * 6.6.2, 6.6.4) for a policy already found.
 *
 * Relaxed alignment means the two domains have the same organizational
 * domain (Public Suffix List on both sides); strict means they are equal
 * (case-insensitively, a final dot ignored). Without a list (psl NULL),
 * relaxed alignment is judged as strict: the default rule alone would put
 * foo.co.uk and bar.co.uk under one "organization".
 *
 * Security role: decides whether mail claiming a From: domain is backed by
 * that domain's SPF or DKIM; a pure function, so every branch is tested.
 */
#include <string.h>

#include "auth/dmarc.h"
#include "util/str.h"

/* Do a and b (normalised) align? strict: equal; relaxed: same org domain. */
static int dmarc_aligned(const struct psl *psl, const char *from, const char *other, int strict)
{
	char b[DMARC_DOMAIN_MAX], org_a[DMARC_DOMAIN_MAX], org_b[DMARC_DOMAIN_MAX];

	if (!other || psl_domain_norm(other, b, sizeof b) < 0)
		return 0;
	if (strcmp(from, b) == 0)
		return 1;
	if (strict || !psl)
		return 0;
	if (psl_org_domain(psl, from, org_a, sizeof org_a) < 0 ||
	    psl_org_domain(psl, b, org_b, sizeof org_b) < 0)
		return 0;
	return strcmp(org_a, org_b) == 0;
}

/* The first passing DKIM signature whose d= aligns, or -1. */
static long dmarc_dkim_aligned(const struct psl *psl, const char *from,
			       const struct dmarc_input *in, int strict)
{
	for (size_t i = 0; in->dkim && i < in->n_dkim; i++)
		if (in->dkim[i].pass && dmarc_aligned(psl, from, in->dkim[i].domain, strict))
			return (long)i;
	return -1;
}

/* pct sampling (RFC 7489 6.6.4): outside the sample a policy falls a step. */
static enum dmarc_policy dmarc_sample(enum dmarc_policy p, unsigned pct, unsigned roll)
{
	if (roll < pct)
		return p;
	return p == DMARC_P_REJECT ? DMARC_P_QUARANTINE : DMARC_P_NONE;
}

static void dmarc_judge(const struct psl *psl, const struct dmarc_policy_found *f, const char *from,
			const struct dmarc_input *in, unsigned roll, struct dmarc_verdict *out)
{
	char pd[DMARC_DOMAIN_MAX];
	long k;

	if (psl_domain_norm(f->policy_domain, pd, sizeof pd) < 0)
		pd[0] = '\0';
	out->policy = f->at_org && strcmp(from, pd) != 0 ? f->rec.sp : f->rec.p;
	(void)str_copy(out->policy_domain, sizeof out->policy_domain, pd);
	out->spf_aligned =
	    in->spf.pass && dmarc_aligned(psl, from, in->spf.domain, f->rec.aspf_strict);
	k = dmarc_dkim_aligned(psl, from, in, f->rec.adkim_strict);
	if (k >= 0) {
		out->dkim_aligned = 1;
		(void)psl_domain_norm(in->dkim[k].domain, out->aligned_dkim_domain,
				      sizeof out->aligned_dkim_domain);
	}
	if (out->spf_aligned || out->dkim_aligned) {
		out->result = DMARC_PASS;
		out->disposition = DMARC_P_NONE;
	} else {
		out->result = DMARC_FAIL;
		out->disposition = dmarc_sample(out->policy, f->rec.pct, roll);
	}
}

void dmarc_evaluate(const struct psl *psl, const struct dmarc_policy_found *found,
		    const struct dmarc_input *in, unsigned pct_roll, struct dmarc_verdict *out)
{
	char from[DMARC_DOMAIN_MAX];

	memset(out, 0, sizeof *out);
	out->result = DMARC_NONE;
	if (found->status == DMARC_TEMPERROR) {
		out->result = DMARC_TEMPERROR;
		return;
	}
	if (found->status != DMARC_PASS || psl_domain_norm(in->from_domain, from, sizeof from) < 0)
		return;
	dmarc_judge(psl, found, from, in, pct_roll, out);
}
