/*
 * mta_sts: `sealpost mta-sts [--resolver ADDR[:PORT]] [--ca-file FILE]
 * [--cache-dir DIR] DOMAIN...` looks up each DOMAIN's MTA-STS policy exactly the
 * way the remote delivery process does (src/deliver/remote_sts.c: the
 * _mta-sts TXT record through the server's resolver, the HTTPS fetch
 * through libcurl, PKIX-checked against FILE) and prints it:
 *
 *     mode: enforce
 *     mx: mx1.example.org
 *     mx: *.example.org
 *     max_age: 86400
 *     id: 20240101
 *     source: fetched
 *
 * or one line "none (REASON)". Several domains are looked up at once
 * (like the server's concurrent deliveries: one fetch per domain however
 * often it is named) and each answer follows a line "== DOMAIN". With --cache-dir the policy is
 * read from and stored in DIR like the server's <spool>/mta-sts; without it nothing is kept. Exit 0
 * either way, 1 when the lookup cannot run, 2 on usage.
 *
 * Security role: an operator tool; arguments are parsed with bounds. The
 * policy printed went through the same parser as the server's, so it
 * holds only printable text; reasons are sanitized where they are made.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "deliver/remote_sts.h"
#include "lookup/dns.h"
#include "util/conf.h"
#include "util/str.h"

#define STS_CLI_DOMAINS 16
#define STS_CLI_OUT	4096

struct sts_run {
	struct event_base *base;
	size_t pending;
};

/* One DOMAIN's answer, printed once every lookup is done. */
struct sts_one {
	struct sts_run *run;
	const char *domain;
	char out[STS_CLI_OUT];
	int done;
};

static void sts_usage(FILE *f)
{
	fprintf(f, "usage: sealpost mta-sts [--resolver ADDR[:PORT]] [--ca-file FILE]\n"
		   "                        [--cache-dir DIR] DOMAIN...\n"
		   "  --resolver A   DNS server to ask (default: /etc/resolv.conf)\n"
		   "  --ca-file F    PKIX roots for the policy host (default: the system's)\n"
		   "  --cache-dir D  read and keep policies in D (default: none kept)\n");
}

static int sts_bad(const char *what, const char *arg)
{
	return cli_bad("mta-sts", what, arg);
}

/* Options and the DOMAINs; 0, 1 (--help) or -1. */
static int sts_args(int argc, char **argv, struct conf *c, struct sts_one *one, size_t *n,
		    const char **dir)
{
	static const struct cli_opt opts[] = {
	    {"resolver", 0, 1}, {"ca-file", 0, 1}, {"cache-dir", 0, 1}, {"help", 'h', 0}};
	struct cli_parser p;
	int k;

	cli_parser_init(&p, argc, argv);
	while ((k = cli_next(&p, opts, sizeof opts / sizeof opts[0])) != CLI_END) {
		if (k == CLI_BAD)
			return -1;
		if (k == 3)
			return 1;
		if (k == 0 && cli_resolver_parse(p.arg, c) == 0)
			continue;
		if (k == 1 && p.arg[0] &&
		    str_copy(c->out.ca_file, sizeof c->out.ca_file, p.arg) == 0)
			continue;
		if (k == 2 && p.arg[0]) {
			*dir = p.arg;
			continue;
		}
		if (k == CLI_ARG && *n < STS_CLI_DOMAINS && strlen(p.arg) < DNS_NAME_MAX) {
			one[(*n)++].domain = p.arg;
			continue;
		}
		return sts_bad(k >= 0 ? opts[k].name : "argument", p.arg);
	}
	if (*n == 0)
		return sts_bad("usage", "DOMAIN is required");
	return 0;
}

static const char *sts_mode_name(enum sts_mode m)
{
	return m == STS_ENFORCE ? "enforce" : m == STS_TESTING ? "testing" : "none";
}

/* Append to o->out; a full buffer is marked, never cut silently. */
static void sts_out(struct sts_one *o, const char *a, const char *b)
{
	size_t n = strlen(o->out);

	if (str_fmt(o->out + n, sizeof o->out - n, "%s%s\n", a, b) < 0)
		(void)str_copy(o->out, sizeof o->out, "(answer too long)\n");
}

static void sts_print(void *arg, const struct sts_policy *p, const char *why)
{
	struct sts_one *o = arg;
	char num[16];

	if (!p) {
		(void)str_fmt(o->out, sizeof o->out, "none (%s)\n", why);
	} else {
		sts_out(o, "mode: ", sts_mode_name(p->mode));
		for (size_t i = 0; i < p->n_mx && i < STS_MX_MAX; i++)
			sts_out(o, "mx: ", p->mx[i]);
		(void)str_fmt(num, sizeof num, "%u", (unsigned)p->max_age);
		sts_out(o, "max_age: ", num);
		sts_out(o, "id: ", p->id);
		sts_out(o, "source: ", why);
	}
	o->done = 1;
	if (--o->run->pending == 0)
		(void)event_base_loopbreak(o->run->base);
}

/* Set up DNS and MTA-STS on a fresh loop, look every domain up. 0 or 1. */
static int sts_run_lookups(const struct conf *c, struct sts_one *one, size_t n, const char *dir)
{
	struct sts_run run = {0};
	char err[256];
	int rc = 1;

	if (!(run.base = event_base_new())) {
		cli_err("cannot create an event loop");
		return 1;
	}
	if (dns_init(run.base, c, err, sizeof err) < 0) {
		cli_err("%s", err);
	} else {
		if (sts_init_dir(run.base, c, dir) < 0) {
			cli_err("mta-sts: cannot set up the policy fetcher");
		} else {
			run.pending = n;
			for (size_t i = 0; i < n; i++) {
				one[i].run = &run;
				sts_lookup_why(one[i].domain, sts_print, &one[i]);
			}
			(void)event_base_dispatch(run.base);
			rc = run.pending == 0 ? 0 : 1;
			sts_shutdown();
		}
		dns_shutdown();
	}
	event_base_free(run.base);
	return rc;
}

static void sts_print_all(const struct sts_one *one, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (n > 1)
			printf("== %s\n", one[i].domain);
		fputs(one[i].out, stdout);
	}
}

int cli_mta_sts(int argc, char **argv)
{
	const char *dir = NULL;
	size_t n = 0;
	int rc;
	struct conf *c = calloc(1, sizeof *c);
	struct sts_one *one = calloc(STS_CLI_DOMAINS, sizeof *one);

	if (!c || !one) {
		cli_err("out of memory");
		free(c);
		free(one);
		return 1;
	}
	conf_defaults(c);
	rc = sts_args(argc, argv, c, one, &n, &dir);
	if (rc != 0) {
		if (rc > 0)
			sts_usage(stdout);
		free(c);
		free(one);
		return rc > 0 ? 0 : 2;
	}
	c->out.mta_sts = 1;
	rc = sts_run_lookups(c, one, n, dir);
	if (rc == 0)
		sts_print_all(one, n);
	free(c);
	free(one);
	return rc;
}
