/*
 * spf: `sealpost spf --ip IP --sender ADDR --helo NAME [--resolver
 * ADDR[:PORT]] [--receiver NAME] [--helo-identity] [--timeout MS]` runs
 * the SPF check the server runs (src/auth/spf.c) and prints the result
 * word on line 1 ("pass", "fail", ...) and the explanation on line 2.
 * --sender "" (or none) is <>, checked as postmaster@HELO.
 *
 * Security role: an operator tool; arguments are parsed with bounds and
 * refused (exit 2) when malformed. The explanation comes from DNS and is
 * printable ASCII only (the engine sanitizes it).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/spf.h"
#include "cli/cli.h"
#include "cli/cli_common.h"
#include "lookup/dns.h"
#include "util/conf.h"

#define SPF_CLI_TIMEOUT_MAX 600000ul

struct spf_run {
	struct event_base *base;
	int done;
};

static void spf_usage(FILE *f)
{
	fprintf(f,
		"usage: sealpost spf --ip IP [--sender ADDR] --helo NAME [--resolver ADDR[:PORT]]\n"
		"                    [--receiver NAME] [--helo-identity] [--timeout MS]\n"
		"  --ip IP          the client address (IPv4 or IPv6)\n"
		"  --sender ADDR    MAIL FROM address; \"\" or none for <>\n"
		"  --helo NAME      the HELO/EHLO name\n"
		"  --resolver A     DNS server to ask (default: /etc/resolv.conf)\n"
		"  --receiver NAME  our host name (the %%{r} macro)\n"
		"  --helo-identity  check the HELO identity (postmaster@NAME)\n"
		"  --timeout MS     longest the whole check may take (default 20000)\n"
		"Prints the result on line 1 and the explanation on line 2.\n");
}

static int spf_bad(const char *what, const char *arg)
{
	return cli_bad("spf", what, arg);
}

static int spf_ip_ok(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

static int spf_ms(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > SPF_CLI_TIMEOUT_MAX)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* Options into rq and c; 0, 1 (--help) or -1 (usage error, printed). */
static int spf_args(int argc, char **argv, struct spf_request *rq, struct conf *c)
{
	static const struct cli_opt opts[] = {
	    {"ip", 0, 1},	{"sender", 0, 1},	 {"helo", 0, 1},    {"resolver", 0, 1},
	    {"receiver", 0, 1}, {"helo-identity", 0, 0}, {"timeout", 0, 1}, {"help", 'h', 0}};
	struct cli_parser p;
	int k;

	cli_parser_init(&p, argc, argv);
	while ((k = cli_next(&p, opts, sizeof opts / sizeof opts[0])) != CLI_END) {
		if (k == CLI_BAD)
			return -1;
		if (k == 7)
			return 1;
		if (k == 0 && spf_ip_ok(p.arg))
			rq->ip = p.arg;
		else if (k == 1 && strlen(p.arg) < SPF_SENDER_MAX)
			rq->sender = p.arg;
		else if (k == 2 && strlen(p.arg) < SPF_DOMAIN_MAX)
			rq->helo = p.arg;
		else if (k == 3 && cli_resolver_parse(p.arg, c) == 0)
			continue;
		else if (k == 4 && strlen(p.arg) < SPF_DOMAIN_MAX)
			rq->receiver = p.arg;
		else if (k == 5)
			rq->helo_identity = 1;
		else if (k == 6 && spf_ms(p.arg, &rq->timeout_ms) == 0)
			continue;
		else
			return spf_bad(k >= 0 ? opts[k].name : "argument", p.arg);
	}
	if (!rq->ip || !rq->helo)
		return spf_bad("usage", "--ip and --helo are required");
	return 0;
}

static void spf_print(void *arg, const struct spf_answer *a)
{
	struct spf_run *run = arg;

	printf("%s\n%s\n", spf_result_name(a->result), a->explanation);
	run->done = 1;
	(void)event_base_loopbreak(run->base);
}

/* Run the check on a fresh loop; 0, or 1 when it could not run. */
static int spf_run_check(const struct spf_request *rq, const struct conf *c)
{
	struct spf_run run = {0};
	char err[256];
	int rc = 1;

	if (!(run.base = event_base_new())) {
		cli_err("cannot create an event loop");
		return 1;
	}
	if (dns_init(run.base, c, err, sizeof err) < 0) {
		cli_err("%s", err);
		event_base_free(run.base);
		return 1;
	}
	if (spf_check_start(rq, run.base, dns_query, spf_print, &run)) {
		(void)event_base_dispatch(run.base);
		rc = run.done ? 0 : 1;
	} else {
		cli_err("spf: out of memory");
	}
	dns_shutdown();
	event_base_free(run.base);
	return rc;
}

int cli_spf(int argc, char **argv)
{
	struct spf_request rq = {.sender = ""};
	int rc;
	struct conf *c = cli_conf_defaults();

	if (!c)
		return 1;
	rc = spf_args(argc, argv, &rq, c);
	if (rc != 0) {
		if (rc > 0)
			spf_usage(stdout);
		free(c);
		return rc > 0 ? 0 : 2;
	}
	rc = spf_run_check(&rq, c);
	if (fflush(stdout) != 0)
		rc = 1;
	free(c);
	return rc;
}
