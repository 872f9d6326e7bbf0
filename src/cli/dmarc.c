/*
 * dmarc: `sealpost dmarc --from-domain D [--spf-domain D --spf RESULT]
 * [--dkim-domain D --dkim RESULT]... [--resolver ADDR[:PORT]] [--psl FILE]
 * [--pct-roll N] [--timeout MS]` finds the DMARC policy of D the way the
 * server does (TXT _dmarc.D, else at its organizational domain), judges
 * the given SPF and DKIM results against it and prints two lines:
 *
 *   pass|fail|none|temperror
 *   policy=<none|quarantine|reject> disposition=<none|quarantine|reject>
 *     domain=<where the record was found, or -> spf-aligned=<yes|no>
 *     dkim-aligned=<yes|no>                          (all on one line)
 *
 * RESULT is an SPF or DKIM result word (pass, fail, softfail, none,
 * neutral, temperror, permerror, policy); only pass counts for DMARC.
 * --dkim-domain/--dkim come in pairs, in order (up to 16 signatures). The
 * pct roll (0..99; the policy applies when roll < pct) is random unless
 * --pct-roll fixes it. Exit 0 with a verdict, 1 when the lookup cannot run
 * (no list, no resolver), 2 on a usage error (one line on stderr).
 *
 * Security role: an operator tool; every argument is checked and refused
 * (exit 2) when malformed; nothing from DNS is printed but the policy
 * domain, which is a name we checked ourselves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <event2/event.h>

#include "auth/dmarc.h"
#include "cli/cli.h"
#include "cli/cli_common.h"
#include "lookup/dns.h"
#include "util/conf.h"

#define DMARC_CLI_DKIM_MAX    16
#define DMARC_CLI_TIMEOUT_MS  5000u
#define DMARC_CLI_TIMEOUT_MAX 600000ul
#define DMARC_CLI_ROLL_RANDOM (-1)

struct dmarc_cli {
	char from[DMARC_DOMAIN_MAX];
	char spf_domain[DMARC_DOMAIN_MAX];
	int spf_result_set;
	char dkim_domain[DMARC_CLI_DKIM_MAX][DMARC_DOMAIN_MAX];
	struct dmarc_auth dkim[DMARC_CLI_DKIM_MAX];
	int dkim_result_set[DMARC_CLI_DKIM_MAX];
	size_t n_dkim;
	struct dmarc_input in;
	const char *psl_path;
	int roll;
	unsigned timeout_ms;
	/* while running */
	struct event_base *base;
	const struct psl *psl;
	int done;
};

static const char *const dmarc_cli_words[] = {"pass",	 "fail",      "softfail",  "none",
					      "neutral", "temperror", "permerror", "policy"};

static void dmarc_usage(FILE *f)
{
	fprintf(f,
		"usage: sealpost dmarc --from-domain D [--spf-domain D --spf RESULT]\n"
		"         [--dkim-domain D --dkim RESULT]... [--resolver ADDR[:PORT]]\n"
		"         [--psl FILE] [--pct-roll N] [--timeout MS]\n"
		"  --from-domain D   the RFC5322.From domain\n"
		"  --spf-domain D    the domain SPF checked (MAIL FROM or HELO)\n"
		"  --spf RESULT      its SPF result\n"
		"  --dkim-domain D   a signature's d= (repeat, each with --dkim)\n"
		"  --dkim RESULT     that signature's result\n"
		"  --resolver A      DNS server to ask (default: /etc/resolv.conf)\n"
		"  --psl FILE        Public Suffix List (default %s)\n"
		"  --pct-roll N      0..99, the policy applies when N < pct (default random)\n"
		"  --timeout MS      longest wait for each DNS answer (default %u)\n"
		"  RESULT: pass fail softfail none neutral temperror permerror policy\n"
		"output: the verdict (pass, fail, none, temperror), then\n"
		"  policy=P disposition=P domain=D|- spf-aligned=yes|no dkim-aligned=yes|no\n",
		PSL_DEFAULT_PATH, DMARC_CLI_TIMEOUT_MS);
}

static int dmarc_bad(const char *what, const char *arg)
{
	return cli_bad("dmarc", what, arg);
}

/* A result word; 1 for pass, 0 for another known word, -1 unknown. */
static int dmarc_cli_result(const char *s)
{
	for (size_t i = 0; i < sizeof dmarc_cli_words / sizeof dmarc_cli_words[0]; i++)
		if (strcmp(s, dmarc_cli_words[i]) == 0)
			return i == 0;
	return -1;
}

static int dmarc_cli_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *end || *out > max ? -1 : 0;
}

/* One option k (index in the table below) with value v; 0 or -1. */
static int dmarc_cli_opt(struct dmarc_cli *d, struct conf *c, int k, const char *v)
{
	unsigned long n;
	int r;

	switch (k) {
	case 0:
		return psl_domain_norm(v, d->from, sizeof d->from);
	case 1:
		return psl_domain_norm(v, d->spf_domain, sizeof d->spf_domain);
	case 2:
		if ((r = dmarc_cli_result(v)) < 0)
			return -1;
		d->in.spf.pass = r;
		d->spf_result_set = 1;
		return 0;
	case 3:
		if (d->n_dkim == DMARC_CLI_DKIM_MAX ||
		    psl_domain_norm(v, d->dkim_domain[d->n_dkim], DMARC_DOMAIN_MAX) < 0)
			return -1;
		d->dkim[d->n_dkim].domain = d->dkim_domain[d->n_dkim];
		d->n_dkim++;
		return 0;
	case 4:
		if (d->n_dkim == 0 || d->dkim_result_set[d->n_dkim - 1] ||
		    (r = dmarc_cli_result(v)) < 0)
			return -1;
		d->dkim[d->n_dkim - 1].pass = r;
		d->dkim_result_set[d->n_dkim - 1] = 1;
		return 0;
	case 5:
		return cli_resolver_parse(v, c);
	case 6:
		d->psl_path = v;
		return 0;
	case 7:
		if (dmarc_cli_uint(v, 99, &n) < 0)
			return -1;
		d->roll = (int)n;
		return 0;
	case 8:
		if (dmarc_cli_uint(v, DMARC_CLI_TIMEOUT_MAX, &n) < 0 || n == 0)
			return -1;
		d->timeout_ms = (unsigned)n;
		return 0;
	}
	return -1;
}

/* Are the pairs complete? 0 or -1 (message printed). */
static int dmarc_cli_complete(const struct dmarc_cli *d)
{
	if (!d->from[0])
		return dmarc_bad("usage", "--from-domain is required");
	if (!d->spf_domain[0] != !d->spf_result_set)
		return dmarc_bad("usage", "--spf-domain and --spf go together");
	for (size_t i = 0; i < d->n_dkim; i++)
		if (!d->dkim_result_set[i])
			return dmarc_bad("usage", "each --dkim-domain needs a --dkim after it");
	return 0;
}

/* Options of `sealpost dmarc`; 0, 1 (--help) or -1. */
static int dmarc_cli_args(int argc, char **argv, struct dmarc_cli *d, struct conf *c)
{
	static const struct cli_opt opts[] = {
	    {"from-domain", 0, 1}, {"spf-domain", 0, 1}, {"spf", 0, 1}, {"dkim-domain", 0, 1},
	    {"dkim", 0, 1},	   {"resolver", 0, 1},	 {"psl", 0, 1}, {"pct-roll", 0, 1},
	    {"timeout", 0, 1},	   {"help", 'h', 0}};
	struct cli_parser p;
	int k;

	cli_parser_init(&p, argc, argv);
	while ((k = cli_next(&p, opts, sizeof opts / sizeof opts[0])) != CLI_END) {
		if (k == CLI_BAD)
			return -1;
		if (k == 9)
			return 1;
		if (k == CLI_ARG)
			return dmarc_bad("argument", p.arg);
		if (dmarc_cli_opt(d, c, k, p.arg) < 0)
			return dmarc_bad(opts[k].name, p.arg);
	}
	return dmarc_cli_complete(d);
}

/* ---- running ------------------------------------------------------------- */

/* A uniform number in 0..99 from the kernel's generator; -1 on failure. */
static int dmarc_cli_random_roll(void)
{
	unsigned char b;

	for (int tries = 0; tries < 64; tries++) {
		if (getrandom(&b, 1, 0) != 1)
			return -1;
		if (b < 200)
			return b % 100;
	}
	return -1;
}

static const char *yes_no(int v)
{
	return v ? "yes" : "no";
}

static void dmarc_cli_found(void *arg, const struct dmarc_policy_found *f)
{
	struct dmarc_cli *d = arg;
	struct dmarc_verdict v;

	dmarc_evaluate(d->psl, f, &d->in, (unsigned)d->roll, &v);
	printf("%s\n", dmarc_result_name(v.result));
	printf("policy=%s disposition=%s domain=%s spf-aligned=%s dkim-aligned=%s\n",
	       dmarc_policy_name(v.policy), dmarc_policy_name(v.disposition),
	       v.policy_domain[0] ? v.policy_domain : "-", yes_no(v.spf_aligned),
	       yes_no(v.dkim_aligned));
	d->done = 1;
	(void)event_base_loopbreak(d->base);
}

/* Resolver, discovery, loop; the exit status. */
static int dmarc_cli_run(struct dmarc_cli *d, const struct conf *c)
{
	char err[256];
	int rc = 1;

	if (!(d->base = event_base_new())) {
		cli_err("dmarc: cannot create an event loop");
		return 1;
	}
	if (dns_init(d->base, c, err, sizeof err) < 0) {
		cli_err("dmarc: %s", err);
		event_base_free(d->base);
		return 1;
	}
	if (dmarc_discover_start(d->psl, d->from, d->base, dns_query, d->timeout_ms,
				 dmarc_cli_found, d)) {
		(void)event_base_dispatch(d->base);
		rc = d->done ? 0 : 1;
	} else {
		cli_err("dmarc: out of memory");
	}
	dns_shutdown();
	event_base_free(d->base);
	return rc;
}

/* The list, the roll, then the lookup; the exit status. */
static int dmarc_cli_main(struct dmarc_cli *d, const struct conf *c)
{
	char err[256];
	struct psl *psl;
	int rc;

	if (d->roll == DMARC_CLI_ROLL_RANDOM && (d->roll = dmarc_cli_random_roll()) < 0) {
		cli_err("dmarc: no random numbers");
		return 1;
	}
	if (!(psl = psl_load(d->psl_path, err, sizeof err))) {
		cli_err("dmarc: %s", err);
		return 1;
	}
	d->psl = psl;
	d->in.from_domain = d->from;
	d->in.spf.domain = d->spf_domain;
	d->in.dkim = d->dkim;
	d->in.n_dkim = d->n_dkim;
	rc = dmarc_cli_run(d, c);
	psl_free(psl);
	return rc;
}

int cli_dmarc(int argc, char **argv)
{
	struct dmarc_cli *d = calloc(1, sizeof *d);
	struct conf *c = calloc(1, sizeof *c);
	int rc;

	if (!d || !c) {
		cli_err("out of memory");
		free(d);
		free(c);
		return 1;
	}
	conf_defaults(c);
	d->psl_path = PSL_DEFAULT_PATH;
	d->roll = DMARC_CLI_ROLL_RANDOM;
	d->timeout_ms = DMARC_CLI_TIMEOUT_MS;
	rc = dmarc_cli_args(argc, argv, d, c);
	if (rc > 0) {
		dmarc_usage(stdout);
		rc = 0;
	} else if (rc == 0) {
		rc = dmarc_cli_main(d, c);
	} else {
		rc = 2;
	}
	free(d);
	free(c);
	return rc;
}
