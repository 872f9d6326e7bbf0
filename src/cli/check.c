/*
 * check: `sealpost check [-c FILE] [-n]` validates the config and the users
 * file it names, printing every error as "file:line: reason". With -n it
 * prints the directives that differ from their defaults (like postconf -n),
 * abuse limits (as one-line `limits KEY VALUE`) and outbound settings
 * included.
 *
 * Security role: lets an operator validate a config before serve uses it;
 * read-only, never prints password hashes.
 */
#include "auth/dmarc.h"
#include "cli/cli.h"
#include "cli/cli_common.h"
#include "lookup/users.h"
#include "util/conf.h"
#include "util/conf_limits.h"
#include "util/conf_remote.h"
#include "util/tls.h"
#include "util/str.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char check_usage[] =
    "usage: sealpost check [-c FILE] [-n]\n"
    "\n"
    "Check the configuration (default " CONF_DEFAULT_PATH ") and the users file it\n"
    "names. Prints \"FILE: ok\" and exits 0, or prints every error and exits 1.\n"
    "\n"
    "  -c, --config FILE  configuration file\n"
    "  -n                 print only directives that differ from their defaults\n"
    "  -h, --help         show this help\n";

/* Print "name value..." (n values) with each value quoted as the grammar needs. */
static int print_tokens(const char *name, const char *const *v, int n)
{
	char qv[CONF_PATH_MAX * 2 + 3];

	if (fputs(name, stdout) == EOF)
		return -1;
	for (int i = 0; i < n; i++) {
		if (conf_quote(v[i], qv, sizeof qv) < 0)
			return -1;
		if (printf(" %s", qv) < 0)
			return -1;
	}
	return putchar('\n') == EOF ? -1 : 0;
}

/* print_tokens of up to three values; the first NULL ends them. */
static int print_directive(const char *name, const char *v1, const char *v2, const char *v3)
{
	const char *v[3] = {v1, v2, v3};
	int n = 0;

	while (n < 3 && v[n])
		n++;
	return print_tokens(name, v, n);
}

/* conf_emit_fn for conf_outbound_nondefault. */
static int print_emitted(void *arg, const char *name, const char *const *v, int n)
{
	(void)arg;
	return print_tokens(name, v, n);
}

/* A size in the largest unit that divides it evenly: 25M, 1536K, 100. */
static int size_text(uint64_t v, char *out, size_t cap)
{
	static const char units[] = "GMK";

	for (int i = 0; i < 3; i++) {
		unsigned shift = 10u * (unsigned)(3 - i);
		if (v >= (1ull << shift) && v % (1ull << shift) == 0)
			return str_fmt(out, cap, "%" PRIu64 "%c", v >> shift, units[i]);
	}
	return str_fmt(out, cap, "%" PRIu64, v);
}

/* "name N" for a number. */
static int print_number(const char *name, uint64_t v, int as_size)
{
	char num[32];

	if ((as_size ? size_text(v, num, sizeof num) : str_fmt(num, sizeof num, "%" PRIu64, v)) < 0)
		return -1;
	return print_directive(name, num, NULL, NULL);
}

static int print_optional(const struct conf *c)
{
	int r = 0;

	if (strcmp(c->user, CONF_DEFAULT_USER) != 0)
		r |= print_directive("user", c->user, NULL, NULL);
	if (strcmp(c->queue_user, CONF_DEFAULT_QUSER) != 0)
		r |= print_directive("queue-user", c->queue_user, NULL, NULL);
	if (strcmp(c->socket_path, CONF_DEFAULT_SOCKET) != 0)
		r |= print_directive("socket", c->socket_path, NULL, NULL);
	if (c->postmaster[0])
		r |= print_directive("postmaster", c->postmaster, NULL, NULL);
	if (c->resolver[0])
		r |= print_directive("resolver", c->resolver, NULL, NULL);
	if (c->max_message_size != CONF_DEFAULT_MAXMSG)
		r |= print_number("max-message-size", c->max_message_size, 1);
	if (c->max_rcpt != CONF_DEFAULT_MAXRCPT)
		r |= print_number("max-recipients", c->max_rcpt, 0);
	if (c->workers != 0)
		r |= print_number("workers", c->workers, 0);
	return r;
}

/* "ADDR/LEN" of a trusted-networks entry. */
static int net_text(const struct conf_net *n, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];

	if (!inet_ntop(n->family, n->addr, ip, sizeof ip))
		return -1;
	return str_fmt(out, cap, "%s/%u", ip, n->prefix);
}

static int print_tls(const struct conf_tls *t)
{
	char qc[CONF_PATH_MAX * 2 + 3], qk[CONF_PATH_MAX * 2 + 3];

	if (conf_quote(t->cert, qc, sizeof qc) < 0 || conf_quote(t->key, qk, sizeof qk) < 0)
		return -1;
	return printf("tls cert %s key %s\n", qc, qk) < 0 ? -1 : 0;
}

/* tls, auth limits, trusted-networks, received-auth-user. */
/* The sender-authentication directives that differ from their defaults. */
static int print_mailauth(const struct conf_mailauth *a)
{
	static const char *const modes[] = {"enforce", "quarantine", "mark"};
	int r = 0;

	if (a->authserv_id[0])
		r |= print_directive("authserv-id", a->authserv_id, NULL, NULL);
	if (!a->checks)
		r |= print_directive("inbound-checks", "off", NULL, NULL);
	if (a->spf_fail_reject)
		r |= print_directive("spf-fail", "reject", NULL, NULL);
	if (a->dmarc != DMARC_MODE_ENFORCE)
		r |= print_directive("dmarc-policy", modes[a->dmarc], NULL, NULL);
	if (strcmp(a->psl, PSL_DEFAULT_PATH) != 0)
		r |= print_directive("public-suffix-list", a->psl, NULL, NULL);
	for (size_t i = 0; i < a->n_sign; i++) {
		const char *v[6] = {"sign", a->sign[i].domain, "selector", a->sign[i].selector,
				    "key",  a->sign[i].key};
		r |= print_tokens("dkim", v, 6);
	}
	return r;
}

static int print_security(const struct conf *c)
{
	const struct conf_auth_limits *a = &c->auth;
	char net[INET6_ADDRSTRLEN + 8];
	int r = 0;

	for (size_t i = 0; i < c->n_tls; i++)
		r |= print_tls(&c->tls[i]);
	if (a->delay_after != 3)
		r |= print_number("auth-delay-after", a->delay_after, 0);
	if (a->lock_after != 10)
		r |= print_number("auth-lock-after", a->lock_after, 0);
	if (a->window != 900)
		r |= print_number("auth-window", a->window, 0);
	if (a->lock_time != 900)
		r |= print_number("auth-lock-time", a->lock_time, 0);
	for (size_t i = 0; i < c->n_trusted; i++)
		r |= net_text(&c->trusted[i], net, sizeof net) < 0
			 ? -1
			 : print_directive("trusted-networks", net, NULL, NULL);
	if (c->received_auth_user)
		r |= print_directive("received-auth-user", "yes", NULL, NULL);
	return r | print_mailauth(&c->mailauth);
}

/* `limits KEY VALUE` for each limit that differs from its default, then dnsbl lines. */
static int print_limits(const struct conf_limits *l)
{
	static struct conf_limits def;
	char v[CONF_LIMIT_TEXT_MAX], d[CONF_LIMIT_TEXT_MAX], w[16];
	const char *key;
	int r = 0;

	conf_limits_defaults(&def);
	for (size_t i = 0; (key = conf_limits_key(i)) != NULL; i++) {
		if (conf_limits_value(l, i, v, sizeof v) < 0 ||
		    conf_limits_value(&def, i, d, sizeof d) < 0)
			return -1;
		if (v[0] && strcmp(v, d) != 0)
			r |= print_directive("limits", key, v, NULL);
	}
	for (size_t i = 0; i < l->n_dnsbl; i++) {
		if (conf_dnsbl_text(&l->dnsbl[i], v, sizeof v) < 0 ||
		    str_fmt(w, sizeof w, "%d", l->dnsbl[i].weight) < 0)
			return -1;
		r |= print_directive("dnsbl", v, l->dnsbl[i].weight != 1 ? w : NULL, NULL);
	}
	return r;
}

/* Required directives always differ from (absent) defaults. */
static int print_nondefault(const struct conf *c)
{
	int r = 0;

	r |= print_directive("hostname", c->hostname, NULL, NULL);
	r |= print_directive("spool", c->spool, NULL, NULL);
	r |= print_directive("users", c->users_file, NULL, NULL);
	r |= print_optional(c);
	for (size_t i = 0; i < c->n_listen; i++)
		r |= print_directive("listen", c->listen[i].text,
				     conf_listen_kind_name(c->listen[i].kind), NULL);
	for (size_t i = 0; i < c->n_domains; i++)
		r |=
		    print_directive("domain", c->domains[i].name, "maildir", c->domains[i].maildir);
	r |= print_security(c);
	r |= print_limits(&c->limits);
	r |= conf_outbound_nondefault(&c->out, print_emitted, NULL);
	if (r || fflush(stdout) == EOF) {
		cli_err("check: cannot write the output");
		return -1;
	}
	return 0;
}

/* Users whose mailbox domain is not configured can receive no mail. */
static void warn_users(const struct conf *c, const struct users *u)
{
	for (size_t i = 0; i < u->n; i++) {
		const char *dom = strrchr(u->v[i].addr, '@') + 1;
		if (!conf_find_domain(c, dom, strlen(dom)))
			cli_err("warning: %s:%d: user %s: domain %s is not configured in %s",
				c->users_file, u->v[i].line, u->v[i].addr, dom, c->path);
	}
}

static int check_users(const struct conf *c)
{
	struct users u = USERS_INIT;
	char err[USERS_ERR_MAX];

	if (users_load(c->users_file, &u, err, sizeof err) < 0) {
		cli_err("%s", err);
		return -1;
	}
	warn_users(c, &u);
	users_free(&u);
	return 0;
}

/* The certificates and keys: readable, matching, acceptable to the TLS policy. */
static int check_tls(const struct conf *c)
{
	char err[TLS_ERR_MAX * 2];
	struct tls_pem *pems;

	if (c->n_tls == 0)
		return 0;
	if ((pems = tls_conf_read(c, err, sizeof err)) == NULL) {
		cli_err("%s", err);
		return -1;
	}
	tls_conf_free(pems, c->n_tls);
	return 0;
}

int cli_check(int argc, char **argv)
{
	static const struct cli_opt opts[] = {{"config", 'c', 1}, {NULL, 'n', 0}, {"help", 'h', 0}};
	struct cli_parser p;
	const char *path = CONF_DEFAULT_PATH;
	int only_nondefault = 0, o;

	cli_parser_init(&p, argc, argv);
	while ((o = cli_next(&p, opts, 3)) != CLI_END) {
		if (o == CLI_BAD)
			return 2;
		if (o == CLI_ARG) {
			cli_err("check: unexpected argument '%s' (see --help)", p.arg);
			return 2;
		}
		if (o == 0)
			path = p.arg;
		else if (o == 1)
			only_nondefault = 1;
		else
			return fputs(check_usage, stdout) == EOF ? 1 : 0;
	}
	struct conf *c = cli_conf_load(path);
	if (!c)
		return 1;
	int r = check_users(c);
	if (check_tls(c) < 0)
		r = -1;
	if (cli_check_mailauth(c) < 0)
		r = -1;
	if (r == 0 && only_nondefault)
		r = print_nondefault(c);
	else if (r == 0 && printf("%s: ok\n", path) < 0)
		r = -1;
	cli_conf_free(c);
	return r == 0 ? 0 : 1;
}
