/*
 * cli_common: option parsing, error printing and config loading shared by
 * the sealpost subcommands (see cli_common.h and cli.h).
 *
 * Security role: the CLI runs as root for init/user/serve, so argv is
 * parsed strictly: unknown options, missing values and values given to
 * flags are usage errors, never ignored.
 */
#include "cli/cli.h"
#include "cli/cli_common.h"

#include "auth/dkim_keyfile.h"
#include "auth/dmarc.h"
#include "util/conf.h"
#include "util/str.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

#define CLI_SHOW_MAX 200 /* octets of a bad argument repeated in an error */

const char *cli_config_path(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0)
			break;
		if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc)
			return argv[i + 1];
		if (strncmp(a, "--config=", 9) == 0)
			return a + 9;
		if (strncmp(a, "-c", 2) == 0 && a[2] != '\0')
			return a + 2;
	}
	return CONF_DEFAULT_PATH;
}

void cli_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("sealpost: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void cli_parser_init(struct cli_parser *p, int argc, char **argv)
{
	memset(p, 0, sizeof *p);
	p->argc = argc;
	p->argv = argv;
	p->i = 1;
	p->cmd = argc > 0 ? argv[0] : "sealpost";
}

/* The value of an option that takes one: inline (after '=' or -c) or next. */
static int opt_value(struct cli_parser *p, const char *inl, const char *shown, int idx)
{
	if (inl) {
		p->arg = inl;
		return idx;
	}
	if (p->i >= p->argc) {
		cli_err("%s: option %s needs a value (see --help)", p->cmd, shown);
		return CLI_BAD;
	}
	p->arg = p->argv[p->i++];
	return idx;
}

static int long_opt(struct cli_parser *p, const char *a, const struct cli_opt *opts, size_t n)
{
	const char *eq = strchr(a + 2, '=');
	size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);

	for (size_t i = 0; i < n; i++) {
		if (!opts[i].name || strlen(opts[i].name) != len ||
		    strncmp(opts[i].name, a + 2, len) != 0)
			continue;
		if (!opts[i].has_arg && eq) {
			cli_err("%s: option --%s takes no value", p->cmd, opts[i].name);
			return CLI_BAD;
		}
		if (!opts[i].has_arg)
			return (int)i;
		return opt_value(p, eq ? eq + 1 : NULL, a, (int)i);
	}
	cli_err("%s: unknown option '%s' (see --help)", p->cmd, a);
	return CLI_BAD;
}

static int short_opt(struct cli_parser *p, const char *a, const struct cli_opt *opts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (opts[i].short_name == 0 || opts[i].short_name != a[1])
			continue;
		if (opts[i].has_arg)
			return opt_value(p, a[2] ? a + 2 : NULL, a, (int)i);
		if (a[2] == '\0')
			return (int)i;
		break;
	}
	cli_err("%s: unknown option '%s' (see --help)", p->cmd, a);
	return CLI_BAD;
}

int cli_next(struct cli_parser *p, const struct cli_opt *opts, size_t n)
{
	while (p->i < p->argc) {
		const char *a = p->argv[p->i++];
		if (!p->only_args && strcmp(a, "--") == 0) {
			p->only_args = 1;
			continue;
		}
		if (p->only_args || a[0] != '-' || a[1] == '\0') {
			p->arg = a;
			return CLI_ARG;
		}
		if (a[1] == '-')
			return long_opt(p, a, opts, n);
		return short_opt(p, a, opts, n);
	}
	return CLI_END;
}

struct conf *cli_conf_load(const char *path)
{
	struct conf *c = calloc(1, sizeof *c);
	struct conf_errors *e = calloc(1, sizeof *e);

	if (!c || !e) {
		cli_err("out of memory");
	} else if (conf_load(path, c, e) < 0) {
		conf_errors_print(e);
	} else {
		free(e);
		return c;
	}
	free(c);
	free(e);
	return NULL;
}

void cli_conf_free(struct conf *c)
{
	free(c);
}

/* A port number 1-65535; 0 or -1. */
static int cli_port(const char *s, unsigned long *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *end || *out < 1 || *out > 65535 ? -1 : 0;
}

/* "ADDR", "ADDR:PORT", "IPV6", "[IPV6]" or "[IPV6]:PORT" into c->resolver_addr. */
int cli_resolver_parse(const char *s, struct conf *c)
{
	char host[INET6_ADDRSTRLEN];
	const char *port = NULL, *colon = strchr(s, ':');
	unsigned long p = 53;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&c->resolver_addr;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&c->resolver_addr;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || str_copyn(host, sizeof host, s + 1, (size_t)(close - s - 1)) < 0)
			return -1;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return -1;
	} else if (colon && !strchr(colon + 1, ':')) { /* one colon: v4:port */
		if (str_copyn(host, sizeof host, s, (size_t)(colon - s)) < 0)
			return -1;
		port = colon + 1;
	} else if (str_copy(host, sizeof host, s) < 0) {
		return -1;
	}
	if (port && cli_port(port, &p) < 0)
		return -1;
	memset(&c->resolver_addr, 0, sizeof c->resolver_addr);
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)p);
		c->resolver_addr_len = sizeof *a4;
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)p);
		c->resolver_addr_len = sizeof *a6;
	} else {
		return -1;
	}
	return str_copy(c->resolver, sizeof c->resolver, s);
}

struct conf *cli_conf_defaults(void)
{
	struct conf *c = calloc(1, sizeof *c);

	if (!c) {
		cli_err("out of memory");
		return NULL;
	}
	conf_defaults(c);
	return c;
}

int cli_bad(const char *cmd, const char *what, const char *arg)
{
	char shown[CLI_SHOW_MAX];

	/* the argument as typed, but never control octets, and not all of a huge one */
	str_sanitize(shown, sizeof shown, arg, strlen(arg));
	cli_err("%s: bad %s '%s%s' (try sealpost %s --help)", cmd, what, shown,
		strlen(arg) >= sizeof shown ? "..." : "", cmd);
	return -1;
}

/* One `dkim sign` key: readable and acceptable for signing. */
static int check_dkim_key(const struct conf *c, const struct conf_dkim_sign *d)
{
	char err[256];
	struct dkim_key *k = dkim_key_read_file(d->key, err, sizeof err);

	struct stat st;

	if (!k) {
		cli_err("%s:%d: dkim key %s: %s", c->path, d->line, d->key, err);
		return -1;
	}
	dkim_key_free(k);
	if (stat(d->key, &st) == 0 && (st.st_mode & 077))
		cli_err("warning: %s:%d: dkim key %s can be read by others (mode %04o); "
			"make it 0600",
			c->path, d->line, d->key, (unsigned)(st.st_mode & 07777));
	return 0;
}

/* The Public Suffix List (when checks are on) and every signing key. */
int cli_check_mailauth(const struct conf *c)
{
	char err[256];
	int r = 0;

	if (c->mailauth.checks) {
		struct psl *p = psl_load(c->mailauth.psl, err, sizeof err);
		if (!p && c->mailauth.psl_line)
			cli_err("%s:%d: public-suffix-list %s: %s", c->path, c->mailauth.psl_line,
				c->mailauth.psl, err);
		else if (!p)
			cli_err("%s: public-suffix-list %s (the default; install Debian's "
				"publicsuffix package or set public-suffix-list): %s",
				c->path, c->mailauth.psl, err);
		if (!p)
			r = -1;
		psl_free(p);
	}
	for (size_t i = 0; i < c->mailauth.n_sign; i++)
		if (check_dkim_key(c, &c->mailauth.sign[i]) < 0)
			r = -1;
	return r;
}
