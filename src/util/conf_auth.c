/*
 * conf_auth: the sender-authentication directives of sealpost.conf —
 * authserv-id, inbound-checks, spf-fail, dmarc-policy, public-suffix-list
 * and `dkim sign DOMAIN selector S key FILE` (docs/config.md "Sender
 * authentication").
 *
 * Security role: the defaults are the strict ones (checks on, DMARC
 * policies honoured); anything weaker must be written. DKIM key paths are
 * only recorded here; the files are read by the parent (root) at start.
 */
#include <string.h>

#include "auth/dmarc.h"
#include "util/conf_int.h"
#include "util/str.h"

#define DKIM_SELECTOR_CHARS "abcdefghijklmnopqrstuvwxyz0123456789-_."

void conf_mailauth_defaults(struct conf_mailauth *a)
{
	memset(a, 0, sizeof *a);
	a->checks = 1;
	a->dmarc = DMARC_MODE_ENFORCE;
	str_copy(a->psl, sizeof a->psl, PSL_DEFAULT_PATH);
}

const char *conf_authserv_id(const struct conf *c)
{
	return c->mailauth.authserv_id[0] ? c->mailauth.authserv_id : c->hostname;
}

void conf_auth_authserv(struct pctx *p, const struct toks *t)
{
	const char *why;
	char qb[QUOTE_MAX];
	size_t n = strlen(t->v[1]);

	if (conf_hostname_check(t->v[1], n, &why) < 0 ||
	    conf_host_normalize(p->c->mailauth.authserv_id, sizeof p->c->mailauth.authserv_id,
				t->v[1], n) < 0)
		conf_perr(p, "authserv-id: '%s' is not a host name",
			  conf_q(qb, sizeof qb, t->v[1]));
}

void conf_auth_checks(struct pctx *p, const struct toks *t)
{
	static const char *const words[] = {"on", "off"};
	int k = conf_choice(p, t, words, 2);

	if (k >= 0)
		p->c->mailauth.checks = k == 0;
}

void conf_auth_spf_fail(struct pctx *p, const struct toks *t)
{
	static const char *const words[] = {"dmarc", "reject"};
	int k = conf_choice(p, t, words, 2);

	if (k >= 0)
		p->c->mailauth.spf_fail_reject = k;
}

void conf_auth_dmarc_policy(struct pctx *p, const struct toks *t)
{
	/* in enum conf_dmarc_mode order */
	static const char *const words[] = {"enforce", "quarantine", "mark"};
	int k = conf_choice(p, t, words, 3);

	if (k >= 0)
		p->c->mailauth.dmarc = (enum conf_dmarc_mode)k;
}

void conf_auth_psl(struct pctx *p, const struct toks *t)
{
	conf_set_path(p, t, p->c->mailauth.psl, sizeof p->c->mailauth.psl);
	p->c->mailauth.psl_line = p->line;
}

/* A selector: DNS labels of letters, digits, '-' and '_'. */
static int conf_selector_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < 64 && strspn(s, DKIM_SELECTOR_CHARS) == n && s[0] != '.' &&
	       s[n - 1] != '.' && !strstr(s, "..");
}

/* dkim sign DOMAIN selector S key FILE */
void conf_auth_dkim(struct pctx *p, const struct toks *t)
{
	struct conf_mailauth *a = &p->c->mailauth;
	struct conf_dkim_sign *d;
	const char *why;
	char qb[QUOTE_MAX], sel[64];

	if (strcmp(t->v[1], "sign") != 0 || strcmp(t->v[3], "selector") != 0 ||
	    strcmp(t->v[5], "key") != 0) {
		conf_perr(p, "dkim: expected 'dkim sign DOMAIN selector S key FILE'");
		return;
	}
	if (a->n_sign >= CONF_MAX_DKIM_SIGN) {
		conf_perr(p, "dkim: too many signing keys (at most %d)", CONF_MAX_DKIM_SIGN);
		return;
	}
	d = &a->sign[a->n_sign];
	if (conf_hostname_check(t->v[2], strlen(t->v[2]), &why) < 0 ||
	    conf_host_normalize(d->domain, sizeof d->domain, t->v[2], strlen(t->v[2])) < 0) {
		conf_perr(p, "dkim: '%s' is not a domain name", conf_q(qb, sizeof qb, t->v[2]));
		return;
	}
	if (str_copy(sel, sizeof sel, t->v[4]) < 0 || (str_lower(sel), !conf_selector_ok(sel))) {
		conf_perr(p, "dkim: selector '%s' is not a DNS label sequence",
			  conf_q(qb, sizeof qb, t->v[4]));
		return;
	}
	memcpy(d->selector, sel, sizeof d->selector);
	if (conf_path_set(d->key, sizeof d->key, t->v[6], &why) < 0) {
		conf_perr(p, "dkim: key '%s' %s", conf_q(qb, sizeof qb, t->v[6]), why);
		return;
	}
	d->line = p->line;
	a->n_sign++;
}
