/*
 * dnsbl: `sealpost dnsbl --ip IP [--resolver ADDR[:PORT]] [--timeout MS]
 * ZONE[=A,B][:WEIGHT]...` asks DNS block/allow lists about one address the
 * way the server does at connect (src/lookup/dnsbl.c) and prints one line
 * per list, "ZONE listed|not-listed|timeout", then "score N".
 * Its debugging sibling `sealpost dns [--resolver ADDR[:PORT]] [--timeout
 * MS] NAME TYPE` prints the status of one query and its answers (A and
 * AAAA as addresses, other types as hex).
 *
 * Security role: an operator tool; every argument is parsed with bounds and
 * refused (exit 2) when malformed. Answers are printed as addresses or hex,
 * never as raw bytes, so a hostile DNS server cannot write to the terminal.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "lookup/dns.h"
#include "lookup/dnsbl.h"
#include "util/conf.h"
#include "util/str.h"

#define DNSBL_CLI_WEIGHT_MAX  1000000
#define DNSBL_CLI_TIMEOUT_MAX 600000u

struct dns_type_name {
	const char *name;
	int type;
};

static const struct dns_type_name dns_types[] = {
    {"A", 1},	{"NS", 2},   {"CNAME", 5}, {"PTR", 12},
    {"MX", 15}, {"TXT", 16}, {"AAAA", 28}, {"TLSA", 52},
};

static void dnsbl_usage(FILE *f)
{
	fprintf(f, "usage: sealpost dnsbl --ip IP [--resolver ADDR[:PORT]] [--timeout MS]\n"
		   "                      ZONE[=A.B.C.D,...][:WEIGHT]...\n"
		   "  --ip IP        the client address to look up (IPv4 or IPv6)\n"
		   "  --resolver A   DNS server to ask (default: /etc/resolv.conf)\n"
		   "  --timeout MS   longest wait for the answers (default 5000)\n"
		   "  ZONE           a list; =A,B only those answers count; :WEIGHT\n"
		   "                 (default 1, negative for an allow list)\n");
}

static void dns_usage(FILE *f)
{
	fprintf(f, "usage: sealpost dns [--resolver ADDR[:PORT]] [--timeout MS] NAME TYPE\n"
		   "  TYPE  A, AAAA, MX, TXT, TLSA, PTR, CNAME, NS or a number\n");
}

/* Unsigned decimal in [lo, hi]; 0 or -1. */
static int cli_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno || *end || *out < lo || *out > hi)
		return -1;
	return 0;
}

/* "A.B.C.D,A.B.C.D" into b->match. */
static int dnsbl_arg_matches(const char *s, size_t n, struct conf_dnsbl *b)
{
	char one[INET_ADDRSTRLEN];
	struct in_addr in;

	while (n > 0) {
		const char *comma = memchr(s, ',', n);
		size_t len = comma ? (size_t)(comma - s) : n;
		if (b->n_match == CONF_DNSBL_MATCH_MAX || str_copyn(one, sizeof one, s, len) < 0 ||
		    inet_pton(AF_INET, one, &in) != 1)
			return -1;
		b->match[b->n_match++] = ntohl(in.s_addr);
		s += len;
		n -= len;
		if (comma) {
			s++;
			n--;
			if (n == 0)
				return -1;
		}
	}
	return 0;
}

/* ZONE[=A,B][:WEIGHT] into b. */
static int dnsbl_arg(const char *s, struct conf_dnsbl *b)
{
	const char *colon = strchr(s, ':'), *eq = strchr(s, '=');
	size_t zend = strcspn(s, "=:");
	const char *why;
	long w = 1;

	memset(b, 0, sizeof *b);
	if (eq && colon && eq > colon)
		return -1;
	if (colon) {
		char *end;
		errno = 0;
		w = strtol(colon + 1, &end, 10);
		if (errno || end == colon + 1 || *end || w < -DNSBL_CLI_WEIGHT_MAX ||
		    w > DNSBL_CLI_WEIGHT_MAX)
			return -1;
	}
	b->weight = (int)w;
	if (conf_hostname_check(s, zend, &why) < 0)
		return -1;
	if (zend > 0 && s[zend - 1] == '.')
		zend--;
	if (str_copyn(b->zone, sizeof b->zone, s, zend) < 0)
		return -1;
	str_lower(b->zone);
	if (eq) {
		size_t mlen = colon ? (size_t)(colon - eq - 1) : strlen(eq + 1);
		if (mlen == 0 || dnsbl_arg_matches(eq + 1, mlen, b) < 0)
			return -1;
	}
	return 0;
}

/* --ip: family and 4 or 16 octets. */
static int cli_ip(const char *s, int *family, unsigned char *addr)
{
	if (inet_pton(AF_INET, s, addr) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, s, addr) == 1)
		*family = AF_INET6;
	else
		return -1;
	return 0;
}

/* ---- running a query on a fresh event loop ------------------------------ */

struct cli_run {
	struct event_base *base;
	int done;
	const struct conf_limits *l;
	int rrtype;
};

static int cli_dns_start(struct cli_run *run, const struct conf *c)
{
	char err[256];

	if (!(run->base = event_base_new())) {
		cli_err("cannot create an event loop");
		return -1;
	}
	if (dns_init(run->base, c, err, sizeof err) < 0) {
		cli_err("%s", err);
		event_base_free(run->base);
		return -1;
	}
	return 0;
}

/* Run the loop until the callback has set run->done, then clean up. */
static void cli_dns_run(struct cli_run *run)
{
	if (!run->done)
		(void)event_base_dispatch(run->base);
	dns_shutdown();
	event_base_free(run->base);
}

static const char *dnsbl_state_name(enum dnsbl_state s)
{
	return s == DNSBL_LISTED ? "listed" : s == DNSBL_TIMEOUT ? "timeout" : "not-listed";
}

static void dnsbl_print(void *arg, const struct dnsbl_verdict *v)
{
	struct cli_run *run = arg;

	for (size_t i = 0; i < run->l->n_dnsbl; i++)
		printf("%s %s\n", run->l->dnsbl[i].zone, dnsbl_state_name(v->state[i]));
	printf("score %d\n", v->score);
	run->done = 1;
	(void)event_base_loopbreak(run->base);
}

/* The one-line usage error; returns -1. */
static int dnsbl_bad(const char *what, const char *arg)
{
	return cli_bad("dnsbl", what, arg);
}

/* Options and arguments of `sealpost dnsbl` into c; 0, 1 (--help) or -1. */
static int dnsbl_args(int argc, char **argv, struct conf *c, int *family, unsigned char *addr)
{
	static const struct cli_opt opts[] = {
	    {"ip", 0, 1}, {"resolver", 0, 1}, {"timeout", 0, 1}, {"help", 'h', 0}};
	struct conf_limits *l = &c->limits;
	struct cli_parser p;
	unsigned long ms;
	int k, have_ip = 0;

	cli_parser_init(&p, argc, argv);
	while ((k = cli_next(&p, opts, sizeof opts / sizeof opts[0])) != CLI_END) {
		if (k == CLI_BAD)
			return -1;
		if (k == 3)
			return 1;
		if (k == 0 && cli_ip(p.arg, family, addr) == 0)
			have_ip = 1;
		else if (k == 1 && cli_resolver_parse(p.arg, c) == 0)
			continue;
		else if (k == 2 && cli_uint(p.arg, 1, DNSBL_CLI_TIMEOUT_MAX, &ms) == 0)
			l->dns_timeout_ms = (unsigned)ms;
		else if (k == CLI_ARG && l->n_dnsbl < CONF_MAX_DNSBL &&
			 dnsbl_arg(p.arg, &l->dnsbl[l->n_dnsbl]) == 0)
			l->n_dnsbl++;
		else
			return dnsbl_bad(k == CLI_ARG ? "ZONE" : opts[k].name, p.arg);
	}
	if (!have_ip || l->n_dnsbl == 0)
		return dnsbl_bad("usage", "--ip and at least one ZONE are required");
	return 0;
}

int cli_dnsbl(int argc, char **argv)
{
	struct cli_run run = {0};
	unsigned char addr[16];
	int family = 0, rc;
	struct conf *c = cli_conf_defaults();

	if (!c)
		return 1;
	conf_limits_defaults(&c->limits);
	rc = dnsbl_args(argc, argv, c, &family, addr);
	if (rc != 0) {
		if (rc > 0)
			dnsbl_usage(stdout);
		free(c);
		return rc > 0 ? 0 : 2;
	}
	run.l = &c->limits;
	rc = 1;
	if (cli_dns_start(&run, c) == 0) {
		if (dnsbl_check(&c->limits, family, addr, dnsbl_print, &run) == 0) {
			rc = 0;
		} else {
			cli_err("dnsbl: out of memory");
			run.done = 1;
		}
		cli_dns_run(&run);
	}
	free(c);
	return rc;
}

/* ---- sealpost dns ------------------------------------------------------- */

static int dns_type_parse(const char *s)
{
	unsigned long t;

	for (size_t i = 0; i < sizeof dns_types / sizeof dns_types[0]; i++)
		if (strcasecmp(s, dns_types[i].name) == 0)
			return dns_types[i].type;
	if (cli_uint(s, 1, 65535, &t) == 0)
		return (int)t;
	return -1;
}

static const char *dns_status_name(enum dns_status s)
{
	switch (s) {
	case DNS_OK:
		return "ok";
	case DNS_NXDOMAIN:
		return "nxdomain";
	case DNS_NODATA:
		return "nodata";
	case DNS_BOGUS:
		return "bogus";
	case DNS_TEMPFAIL:
		break;
	}
	return "tempfail";
}

static void dns_print_rr(int rrtype, const unsigned char *d, size_t len)
{
	char text[INET6_ADDRSTRLEN];

	if ((rrtype == 1 && len == 4 && inet_ntop(AF_INET, d, text, sizeof text)) ||
	    (rrtype == 28 && len == 16 && inet_ntop(AF_INET6, d, text, sizeof text))) {
		printf("%s\n", text);
		return;
	}
	for (size_t i = 0; i < len; i++)
		printf("%02x", d[i]);
	printf("\n");
}

static void dns_print(void *arg, const struct dns_result *r)
{
	struct cli_run *run = arg;

	printf("status %s%s\n", dns_status_name(r->status), r->secure ? " secure" : "");
	for (size_t i = 0; i < r->n_rr; i++)
		dns_print_rr(run->rrtype, r->rr[i], r->rr_len[i]);
	run->done = 1;
	(void)event_base_loopbreak(run->base);
}

static int dns_bad(const char *what, const char *arg)
{
	return cli_bad("dns", what, arg);
}

/* Options and arguments of `sealpost dns`; 0, 1 (--help) or -1. */
static int dns_args(int argc, char **argv, struct conf *c, const char **name, int *rrtype,
		    unsigned *ms)
{
	static const struct cli_opt opts[] = {
	    {"resolver", 0, 1}, {"timeout", 0, 1}, {"help", 'h', 0}};
	struct cli_parser p;
	unsigned long v;
	int k, n_args = 0;

	cli_parser_init(&p, argc, argv);
	while ((k = cli_next(&p, opts, sizeof opts / sizeof opts[0])) != CLI_END) {
		if (k == CLI_BAD)
			return -1;
		if (k == 2)
			return 1;
		if (k == 0 && cli_resolver_parse(p.arg, c) == 0)
			continue;
		if (k == 1 && cli_uint(p.arg, 1, DNSBL_CLI_TIMEOUT_MAX, &v) == 0)
			*ms = (unsigned)v;
		else if (k == CLI_ARG && n_args == 0 && strlen(p.arg) < DNS_NAME_MAX) {
			*name = p.arg;
			n_args++;
		} else if (k == CLI_ARG && n_args == 1 && (*rrtype = dns_type_parse(p.arg)) > 0) {
			n_args++;
		} else {
			return dns_bad(k >= 0 ? opts[k].name : "argument", p.arg);
		}
	}
	if (n_args != 2)
		return dns_bad("usage", "NAME and TYPE are required");
	return 0;
}

int cli_dns(int argc, char **argv)
{
	struct cli_run run = {0};
	const char *name = NULL;
	unsigned ms = 5000;
	int rc;
	struct conf *c = cli_conf_defaults();

	if (!c)
		return 1;
	rc = dns_args(argc, argv, c, &name, &run.rrtype, &ms);
	if (rc != 0) {
		if (rc > 0)
			dns_usage(stdout);
		free(c);
		return rc > 0 ? 0 : 2;
	}
	rc = 1;
	if (cli_dns_start(&run, c) == 0) {
		if (dns_query(name, run.rrtype, ms, dns_print, &run) == 0) {
			rc = 0;
		} else {
			cli_err("dns: cannot ask for '%s'", name);
			run.done = 1;
		}
		cli_dns_run(&run);
	}
	free(c);
	return rc;
}
