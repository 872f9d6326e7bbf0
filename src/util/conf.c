/*
 * conf: parser for sealpost.conf, grammar version 1 (see conf.h and
 * docs/config.md).
 *
 * Security role: the config decides which addresses we listen on, which
 * users we drop privileges to and where mail is written, so every value is
 * validated strictly (no "..", no control characters, no silent
 * truncation) and every problem is reported as "file:line: reason". The
 * parser is pure (no I/O, no name resolution: addresses go through
 * inet_pton only) and is fuzzed by fuzz/fuzz_conf.c.
 */
#include "util/conf.h"
#include "util/conf_int.h"
#include "util/str.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct directive {
	const char *name;
	const char *usage;
	int min_args, max_args; /* not counting the directive name */
	int once;		/* single-valued: a second occurrence is an error */
	int required;
	void (*fn)(struct pctx *p, const struct toks *t);
};

/* ---- error collection ------------------------------------------------- */

/* A truncated message is marked with "...", never cut silently. */
static void mark_truncated(char *s, size_t cap)
{
	if (cap >= 4)
		memcpy(s + cap - 4, "...", 4);
}

static void __attribute__((format(printf, 4, 0)))
err_vadd(struct conf_errors *e, const char *file, int line, const char *fmt, va_list ap)
{
	char reason[CONF_ERR_MAX];
	int n;

	if (e->n >= CONF_MAX_ERRORS) {
		e->dropped++;
		return;
	}
	n = vsnprintf(reason, sizeof reason, fmt, ap);
	if (n < 0 && str_copy(reason, sizeof reason, "(error message unavailable)") < 0)
		return;
	if (n >= 0 && (size_t)n >= sizeof reason)
		mark_truncated(reason, sizeof reason);
	char *dst = e->msg[e->n++];
	if (line > 0)
		n = snprintf(dst, CONF_ERR_MAX, "%s:%d: %s", file, line, reason);
	else
		n = snprintf(dst, CONF_ERR_MAX, "%s: %s", file, reason);
	if (n < 0 || (size_t)n >= CONF_ERR_MAX)
		mark_truncated(dst, CONF_ERR_MAX);
}

void conf_err_add(struct conf_errors *e, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vadd(e, file, line, fmt, ap);
	va_end(ap);
}

int conf_perr(struct pctx *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vadd(p->e, p->file, p->line, fmt, ap);
	va_end(ap);
	return -1;
}

const char *conf_q(char *buf, size_t cap, const char *tok)
{
	size_t n = strlen(tok);
	str_sanitize(buf, cap, tok, n);
	if (n >= cap && cap >= 4)
		memcpy(buf + cap - 4, "...", 4);
	return buf;
}

/* Set a static reason and fail. */
static int fail(const char **why, const char *reason)
{
	*why = reason;
	return -1;
}

/* Format a reason into why[cap] (marked when cut) and fail. */
static int __attribute__((format(printf, 3, 4))) failf(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	if (n < 0 && str_copy(why, cap, "invalid") < 0)
		return -1;
	if (n >= 0 && (size_t)n >= cap)
		mark_truncated(why, cap);
	return -1;
}

/* ---- small validators ------------------------------------------------- */

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_space(int c)
{
	return c == ' ' || c == '\t';
}

/* Checks one character of a hostname label; updates the label state. */
static int host_char(char c, size_t *lab, int *alldigit, const char **why)
{
	if (c == '.') {
		if (*lab == 0)
			return fail(why, "empty label");
		*lab = 0;
		*alldigit = 1;
		return 0;
	}
	if (!is_alpha(c) && !is_digit(c) && c != '-')
		return fail(why, "invalid character (only letters, digits, '-' and '.')");
	if (*lab == 0 && c == '-')
		return fail(why, "a label starts with '-'");
	if (++*lab > 63)
		return fail(why, "a label is longer than 63 octets");
	if (!is_digit(c))
		*alldigit = 0;
	return 0;
}

int conf_hostname_check(const char *s, size_t n, const char **why)
{
	size_t lab = 0;
	int alldigit = 1;

	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0)
		return fail(why, "empty hostname");
	if (n > 253)
		return fail(why, "longer than 253 octets");
	for (size_t i = 0; i < n; i++) {
		if (host_char(s[i], &lab, &alldigit, why) < 0)
			return -1;
		if (s[i] == '-' && (i + 1 == n || s[i + 1] == '.'))
			return fail(why, "a label ends with '-'");
	}
	if (lab == 0)
		return fail(why, "empty label");
	if (alldigit)
		return fail(why, "the last label is all digits (an IP address is not a hostname)");
	return 0;
}

int conf_host_normalize(char *dst, size_t cap, const char *s, size_t n)
{
	if (n > 0 && s[n - 1] == '.')
		n--;
	if (str_copyn(dst, cap, s, n) < 0)
		return -1;
	str_lower(dst);
	return 0;
}

static int local_check(const char *s, size_t n, const char **why)
{
	if (n == 0)
		return fail(why, "empty local part");
	if (n > 64)
		return fail(why, "local part longer than 64 octets");
	if (s[0] == '.' || s[n - 1] == '.')
		return fail(why, "local part starts or ends with '.'");
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.' && s[i + 1] == '.')
			return fail(why, "local part contains '..'");
		if (!is_alpha(c) && !is_digit(c) && !strchr("._-+=", c))
			return fail(why, "invalid character in local part (letters, digits and "
					 "\". _ - + =\" are allowed)");
	}
	return 0;
}

int conf_addr_normalize(const char *in, char *out, size_t cap, const char **why)
{
	const char *at = strrchr(in, '@');
	char tmp[CONF_ADDR_MAX];

	if (!at)
		return fail(why, "missing '@'");
	size_t llen = (size_t)(at - in), dlen = strlen(at + 1);
	if (local_check(in, llen, why) < 0)
		return -1;
	if (conf_hostname_check(at + 1, dlen, why) < 0)
		return -1;
	if (at[dlen] == '.')
		dlen--;
	if (llen + 1 + dlen > CONF_ADDR_MAX - 1)
		return fail(why, "address longer than 254 octets");
	memcpy(tmp, in, llen + 1);
	if (conf_host_normalize(tmp + llen + 1, sizeof tmp - llen - 1, at + 1, dlen) < 0 ||
	    str_copy(out, cap, tmp) < 0)
		return fail(why, "address too long");
	return 0;
}

/* Absolute, no ".." component, trailing slashes dropped. */
static int path_check(const char *s, const char **why)
{
	if (s[0] != '/')
		return fail(why, "must be an absolute path");
	for (const char *c = s; (c = strstr(c, "..")) != NULL; c += 2)
		if (c[-1] == '/' && (c[2] == '/' || c[2] == '\0'))
			return fail(why, "must not contain '..' components");
	return 0;
}

int conf_path_set(char *dst, size_t cap, const char *s, const char **why)
{
	size_t n = strlen(s);

	if (path_check(s, why) < 0)
		return -1;
	while (n > 1 && s[n - 1] == '/')
		n--;
	if (str_copyn(dst, cap, s, n) < 0)
		return fail(why, "path too long");
	return 0;
}

/* A system user name: [A-Za-z_][A-Za-z0-9_.-]*, at most 32 octets, not root. */
static int username_check(const char *s, const char **why)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32)
		return fail(why, "must be 1-32 characters");
	if (!is_alpha(s[0]) && s[0] != '_')
		return fail(why, "must start with a letter or '_'");
	for (size_t i = 1; i < n; i++)
		if (!is_alpha(s[i]) && !is_digit(s[i]) && !strchr("_.-", s[i]))
			return fail(why, "invalid character (letters, digits, '_', '.', '-')");
	if (strcmp(s, "root") == 0)
		return fail(why, "must not be root: sealpost processes run unprivileged");
	return 0;
}

int conf_parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		if (v > (UINT64_MAX - 9) / 10)
			return -2;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* ---- addresses -------------------------------------------------------- */

static int port_parse(const char *s, uint16_t *port, char *why, size_t whycap)
{
	char qb[QUOTE_MAX];
	uint64_t v = 0;
	int r = conf_parse_u64(s, strlen(s), &v);

	if (r == -1)
		return failf(why, whycap, "port '%s' is not a number", conf_q(qb, sizeof qb, s));
	if (r == -2 || v < 1 || v > 65535)
		return failf(why, whycap, "port %s is out of range 1-65535",
			     conf_q(qb, sizeof qb, s));
	*port = (uint16_t)v;
	return 0;
}

/* Split "A:P", "[A]:P", "[A]" or "A" into host, port (NULL if none), family. */
static int hostport_split(const char *s, char *host, size_t hcap, const char **port, int *family,
			  char *why, size_t whycap)
{
	const char *colon, *h = s;
	size_t hlen;

	*family = AF_INET;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb)
			return failf(why, whycap, "missing ']' after IPv6 address");
		if (rb[1] != '\0' && rb[1] != ':')
			return failf(why, whycap, "unexpected text after ']'");
		*family = AF_INET6;
		h = s + 1;
		hlen = (size_t)(rb - h);
		*port = rb[1] == ':' ? rb + 2 : NULL;
	} else {
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':'))
			return failf(why, whycap,
				     "IPv6 addresses must be in brackets, e.g. "
				     "[::1]:25");
		hlen = colon ? (size_t)(colon - s) : strlen(s);
		*port = colon ? colon + 1 : NULL;
	}
	if (str_copyn(host, hcap, h, hlen) < 0)
		return failf(why, whycap, "address too long");
	return 0;
}

/*
 * Parse an address with port into ss. allow_star: "*" means every IPv4
 * address. defport: used when no port is given; 0 = a port is required.
 */
static int hostport_parse(const char *s, int allow_star, uint16_t defport,
			  struct sockaddr_storage *ss, socklen_t *sslen, char *why, size_t whycap)
{
	char host[INET6_ADDRSTRLEN + 8], qb[QUOTE_MAX];
	const char *pstr = NULL;
	uint16_t port = defport;
	int family;

	if (hostport_split(s, host, sizeof host, &pstr, &family, why, whycap) < 0)
		return -1;
	if ((!pstr && defport == 0) || (pstr && *pstr == '\0'))
		return failf(why, whycap, "missing port in '%s' (expected ADDR:PORT)",
			     conf_q(qb, sizeof qb, s));
	if (pstr && port_parse(pstr, &port, why, whycap) < 0)
		return -1;
	memset(ss, 0, sizeof *ss);
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		*sslen = sizeof *a;
		if (inet_pton(AF_INET6, host, &a->sin6_addr) == 1)
			return 0;
		return failf(why, whycap, "'%s' is not an IPv6 address",
			     conf_q(qb, sizeof qb, host));
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	*sslen = sizeof *a;
	if (allow_star && strcmp(host, "*") == 0) {
		a->sin_addr.s_addr = htonl(INADDR_ANY);
		return 0;
	}
	if (inet_pton(AF_INET, host, &a->sin_addr) == 1)
		return 0;
	return failf(why, whycap, "'%s' is not an IPv4 address", conf_q(qb, sizeof qb, host));
}

/* 0 = different, 1 = same address and port, 2 = same port, one is a wildcard. */
static int sockaddr_clash(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		if (x->sin_port != y->sin_port)
			return 0;
		if (x->sin_addr.s_addr == y->sin_addr.s_addr)
			return 1;
		if (x->sin_addr.s_addr == htonl(INADDR_ANY) ||
		    y->sin_addr.s_addr == htonl(INADDR_ANY))
			return 2;
		return 0;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	if (x->sin6_port != y->sin6_port)
		return 0;
	if (memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0)
		return 1;
	if (IN6_IS_ADDR_UNSPECIFIED(&x->sin6_addr) || IN6_IS_ADDR_UNSPECIFIED(&y->sin6_addr))
		return 2;
	return 0;
}

/* ---- directive handlers ----------------------------------------------- */

static void d_version(struct pctx *p, const struct toks *t)
{
	char qb[QUOTE_MAX];

	if (p->n_directives > 0)
		conf_perr(p, "version: must be the first directive");
	else if (strcmp(t->v[1], "1") != 0)
		conf_perr(p, "version: unsupported version '%s' (this sealpost reads version 1)",
			  conf_q(qb, sizeof qb, t->v[1]));
}

static void d_hostname(struct pctx *p, const struct toks *t)
{
	const char *why;
	char qb[QUOTE_MAX];

	if (conf_hostname_check(t->v[1], strlen(t->v[1]), &why) < 0) {
		conf_perr(p, "hostname: '%s' is not a valid hostname: %s",
			  conf_q(qb, sizeof qb, t->v[1]), why);
		return;
	}
	if (conf_host_normalize(p->c->hostname, sizeof p->c->hostname, t->v[1], strlen(t->v[1])) <
	    0)
		conf_perr(p, "hostname: too long");
}

void conf_set_path(struct pctx *p, const struct toks *t, char *dst, size_t cap)
{
	const char *why;
	char qb[QUOTE_MAX];

	if (conf_path_set(dst, cap, t->v[1], &why) < 0)
		conf_perr(p, "%s: '%s' %s", t->v[0], conf_q(qb, sizeof qb, t->v[1]), why);
}

static void d_spool(struct pctx *p, const struct toks *t)
{
	conf_set_path(p, t, p->c->spool, sizeof p->c->spool);
}

static void d_users(struct pctx *p, const struct toks *t)
{
	conf_set_path(p, t, p->c->users_file, sizeof p->c->users_file);
}

static void d_socket(struct pctx *p, const struct toks *t)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);
	size_t n = strlen(t->v[1]);

	if (n >= max) {
		conf_perr(p,
			  "socket: path is %zu bytes; a unix socket path must be shorter than %zu",
			  n, max);
		return;
	}
	conf_set_path(p, t, p->c->socket_path, sizeof p->c->socket_path);
}

static void set_user(struct pctx *p, const struct toks *t, char *dst, size_t cap)
{
	const char *why;
	char qb[QUOTE_MAX];

	if (username_check(t->v[1], &why) < 0)
		conf_perr(p, "%s: '%s' is not a valid user name: %s", t->v[0],
			  conf_q(qb, sizeof qb, t->v[1]), why);
	else if (str_copy(dst, cap, t->v[1]) < 0)
		conf_perr(p, "%s: name too long", t->v[0]);
}

static void d_user(struct pctx *p, const struct toks *t)
{
	set_user(p, t, p->c->user, sizeof p->c->user);
}

static void d_quser(struct pctx *p, const struct toks *t)
{
	set_user(p, t, p->c->queue_user, sizeof p->c->queue_user);
}

static int listen_kind_parse(const char *s, enum listen_kind *k)
{
	static const enum listen_kind all[] = {LISTEN_SMTP, LISTEN_SUBMISSION, LISTEN_SUBMISSIONS};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		if (strcmp(s, conf_listen_kind_name(all[i])) == 0) {
			*k = all[i];
			return 0;
		}
	}
	return -1;
}

/* Reports a listener that clashes with an earlier one; returns 1 if so. */
static int listen_clash(struct pctx *p, const struct conf_listen *l, const char *text)
{
	char qb[QUOTE_MAX];

	for (size_t i = 0; i < p->c->n_listen; i++) {
		int r = sockaddr_clash(&l->addr, &p->c->listen[i].addr);
		if (r == 1)
			conf_perr(p, "listen: duplicate listener %s (first on line %d)",
				  conf_q(qb, sizeof qb, text), p->c->listen[i].line);
		else if (r == 2)
			conf_perr(
			    p,
			    "listen: %s overlaps %s on line %d (a wildcard covers every address)",
			    conf_q(qb, sizeof qb, text), p->c->listen[i].text,
			    p->c->listen[i].line);
		if (r)
			return 1;
	}
	return 0;
}

static int listen_build(struct pctx *p, const struct toks *t, struct conf_listen *l)
{
	char why[WHY_MAX], qb[QUOTE_MAX];

	memset(l, 0, sizeof *l);
	if (p->c->n_listen >= CONF_MAX_LISTEN)
		return conf_perr(p, "listen: too many listeners (at most %d)", CONF_MAX_LISTEN);
	if (hostport_parse(t->v[1], 1, 0, &l->addr, &l->addr_len, why, sizeof why) < 0)
		return conf_perr(p, "listen: %s", why);
	if (listen_kind_parse(t->v[2], &l->kind) < 0)
		return conf_perr(
		    p, "listen: unknown kind '%s' (expected smtp, submission or submissions)",
		    conf_q(qb, sizeof qb, t->v[2]));
	if (str_copy(l->text, sizeof l->text, t->v[1]) < 0)
		return conf_perr(p, "listen: address too long");
	l->line = p->line;
	return 0;
}

static void d_listen(struct pctx *p, const struct toks *t)
{
	struct conf_listen l;

	if (listen_build(p, t, &l) == 0 && !listen_clash(p, &l, t->v[1]))
		p->c->listen[p->c->n_listen++] = l;
}

/* An absolute maildir pattern with %u, and %d %u %% as its only escapes. */
static int pattern_check(const char *s, const char **why)
{
	int has_u = 0;

	if (path_check(s, why) < 0)
		return -1;
	for (const char *c = s; *c; c++) {
		if (*c != '%')
			continue;
		c++;
		if (*c == 'u')
			has_u = 1;
		else if (*c != 'd' && *c != '%')
			return fail(why, "only %d, %u and %% may follow '%'");
	}
	if (!has_u)
		return fail(why, "must contain %u (the mailbox owner's local part)");
	return 0;
}

static int domain_build(struct pctx *p, const struct toks *t, struct conf_domain *d)
{
	const char *why, *name = t->v[1];
	char qb[QUOTE_MAX];

	memset(d, 0, sizeof *d);
	if (conf_hostname_check(name, strlen(name), &why) < 0)
		return conf_perr(p, "domain: '%s' is not a valid domain: %s",
				 conf_q(qb, sizeof qb, name), why);
	if (conf_host_normalize(d->name, sizeof d->name, name, strlen(name)) < 0)
		return conf_perr(p, "domain: name too long");
	if (strcmp(t->v[2], "maildir") != 0)
		return conf_perr(p, "domain: unknown delivery '%s' (expected 'maildir')",
				 conf_q(qb, sizeof qb, t->v[2]));
	if (pattern_check(t->v[3], &why) < 0)
		return conf_perr(p, "domain: maildir pattern '%s' %s",
				 conf_q(qb, sizeof qb, t->v[3]), why);
	if (str_copy(d->maildir, sizeof d->maildir, t->v[3]) < 0)
		return conf_perr(p, "domain: maildir pattern too long");
	const struct conf_domain *old = conf_find_domain(p->c, d->name, strlen(d->name));
	if (old)
		return conf_perr(p, "domain: duplicate domain '%s' (first on line %d)", d->name,
				 old->line);
	if (p->c->n_domains >= CONF_MAX_DOMAINS)
		return conf_perr(p, "domain: too many domains (at most %d)", CONF_MAX_DOMAINS);
	d->line = p->line;
	return 0;
}

static void d_domain(struct pctx *p, const struct toks *t)
{
	struct conf_domain d;

	if (domain_build(p, t, &d) == 0)
		p->c->domains[p->c->n_domains++] = d;
}

static void d_postmaster(struct pctx *p, const struct toks *t)
{
	const char *why;
	char qb[QUOTE_MAX];

	if (conf_addr_normalize(t->v[1], p->c->postmaster, sizeof p->c->postmaster, &why) < 0)
		conf_perr(p, "postmaster: '%s' is not a valid address: %s",
			  conf_q(qb, sizeof qb, t->v[1]), why);
}

static void d_resolver(struct pctx *p, const struct toks *t)
{
	char why[WHY_MAX];
	struct conf *c = p->c;

	if (hostport_parse(t->v[1], 0, 53, &c->resolver_addr, &c->resolver_addr_len, why,
			   sizeof why) < 0) {
		c->resolver_addr_len = 0;
		conf_perr(p, "resolver: %s", why);
	} else if (str_copy(c->resolver, sizeof c->resolver, t->v[1]) < 0) {
		c->resolver_addr_len = 0;
		conf_perr(p, "resolver: address too long");
	}
}

int conf_size_parse(const char *s, uint64_t *out)
{
	size_t n = strlen(s);
	unsigned shift = 0;

	static const char sfx[] = "kKmMgG";
	const char *f = n > 0 ? strchr(sfx, s[n - 1]) : NULL;

	if (f) { /* K = 2^10, M = 2^20, G = 2^30 */
		shift = 10u * (unsigned)(1 + (f - sfx) / 2);
		n--;
	}
	if (conf_parse_u64(s, n, out) < 0 || *out > (UINT64_MAX >> shift))
		return -1;
	*out <<= shift;
	return 0;
}

static void d_maxmsg(struct pctx *p, const struct toks *t)
{
	char qb[QUOTE_MAX];
	uint64_t v = 0;

	if (conf_size_parse(t->v[1], &v) < 0)
		conf_perr(p, "max-message-size: '%s' is not a size (N, NK, NM or NG)",
			  conf_q(qb, sizeof qb, t->v[1]));
	else if (v < CONF_MIN_MAXMSG || v > CONF_MAX_MAXMSG)
		conf_perr(p, "max-message-size: %s is out of range 1K-2G",
			  conf_q(qb, sizeof qb, t->v[1]));
	else
		p->c->max_message_size = v;
}

void conf_uint_arg(struct pctx *p, const struct toks *t, unsigned lo, unsigned hi, unsigned *out)
{
	char qb[QUOTE_MAX];
	uint64_t v = 0;
	int r = conf_parse_u64(t->v[1], strlen(t->v[1]), &v);

	if (r == -1)
		conf_perr(p, "%s: '%s' is not a number", t->v[0], conf_q(qb, sizeof qb, t->v[1]));
	else if (r == -2 || v < lo || v > hi)
		conf_perr(p, "%s: %s is out of range %u-%u", t->v[0],
			  conf_q(qb, sizeof qb, t->v[1]), lo, hi);
	else
		*out = (unsigned)v;
}

static void d_maxrcpt(struct pctx *p, const struct toks *t)
{
	conf_uint_arg(p, t, CONF_MIN_MAXRCPT, CONF_MAX_MAXRCPT, &p->c->max_rcpt);
}

static void d_workers(struct pctx *p, const struct toks *t)
{
	conf_uint_arg(p, t, 0, CONF_MAX_WORKERS, &p->c->workers);
}

static void d_auth_delay(struct pctx *p, const struct toks *t)
{
	conf_uint_arg(p, t, 1, 1000, &p->c->auth.delay_after);
}

static void d_auth_lock(struct pctx *p, const struct toks *t)
{
	conf_uint_arg(p, t, 1, 1000, &p->c->auth.lock_after);
}

static void d_auth_window(struct pctx *p, const struct toks *t)
{
	conf_uint_arg(p, t, 1, 86400, &p->c->auth.window);
}

static void d_auth_locktime(struct pctx *p, const struct toks *t)
{
	conf_uint_arg(p, t, 1, 86400, &p->c->auth.lock_time);
}

/* "ADDR/LEN" (IPv4 or IPv6, LEN optional = a single host). */
static int net_parse(const char *s, struct conf_net *n)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t hl = slash ? (size_t)(slash - s) : strlen(s);
	uint64_t len;

	if (str_copyn(host, sizeof host, s, hl) < 0)
		return -1;
	memset(n, 0, sizeof *n);
	if (inet_pton(AF_INET, host, n->addr) == 1)
		n->family = AF_INET;
	else if (inet_pton(AF_INET6, host, n->addr) == 1)
		n->family = AF_INET6;
	else
		return -1;
	n->prefix = n->family == AF_INET ? 32 : 128;
	if (slash) {
		if (conf_parse_u64(slash + 1, strlen(slash + 1), &len) < 0 || len > n->prefix)
			return -1;
		n->prefix = (unsigned)len;
	}
	return 0;
}

static void d_trusted(struct pctx *p, const struct toks *t)
{
	char qb[QUOTE_MAX];

	for (int i = 1; i < t->n; i++) {
		if (p->c->n_trusted >= CONF_MAX_NETS) {
			conf_perr(p, "trusted-networks: too many networks (at most %d)",
				  CONF_MAX_NETS);
			return;
		}
		if (net_parse(t->v[i], &p->c->trusted[p->c->n_trusted]) < 0) {
			conf_perr(p, "trusted-networks: '%s' is not ADDR or ADDR/LEN",
				  conf_q(qb, sizeof qb, t->v[i]));
			return;
		}
		p->c->n_trusted++;
	}
}

static void d_rcvd_auth(struct pctx *p, const struct toks *t)
{
	static const char *const words[] = {"yes", "no"};
	int k = conf_choice(p, t, words, 2);

	if (k >= 0)
		p->c->received_auth_user = k == 0;
}

int conf_trusted(const struct conf *c, int family, const void *addr)
{
	const unsigned char *a = addr;

	for (size_t i = 0; i < c->n_trusted; i++) {
		const struct conf_net *n = &c->trusted[i];
		unsigned full = n->prefix / 8, rest = n->prefix % 8;
		if (n->family != family || memcmp(n->addr, a, full) != 0)
			continue;
		if (rest == 0 || ((n->addr[full] ^ a[full]) & (0xff00u >> rest)) == 0)
			return 1;
	}
	return 0;
}

int conf_choice(struct pctx *p, const struct toks *t, const char *const *words, size_t n)
{
	char list[WHY_MAX];
	size_t o = 0;

	for (size_t i = 0; i < n; i++)
		if (strcmp(t->v[1], words[i]) == 0)
			return (int)i;
	for (size_t i = 0; i < n && o < sizeof list; i++) {
		const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
		if (str_fmt(list + o, sizeof list - o, "%s%s", sep, words[i]) < 0)
			break;
		o += strlen(list + o);
	}
	conf_perr(p, "%s: expected %s", t->v[0], list);
	return -1;
}

/* tls cert FILE key FILE: one certificate (with chain) and its key. */
static void d_tls(struct pctx *p, const struct toks *t)
{
	struct conf_tls *tl;
	const char *why;
	char qb[QUOTE_MAX];

	if (strcmp(t->v[1], "cert") != 0 || strcmp(t->v[3], "key") != 0) {
		conf_perr(p, "tls: expected 'tls cert FILE key FILE'");
		return;
	}
	if (p->c->n_tls >= CONF_MAX_TLS) {
		conf_perr(p, "tls: too many certificates (at most %d)", CONF_MAX_TLS);
		return;
	}
	tl = &p->c->tls[p->c->n_tls];
	if (conf_path_set(tl->cert, sizeof tl->cert, t->v[2], &why) < 0) {
		conf_perr(p, "tls: cert '%s' %s", conf_q(qb, sizeof qb, t->v[2]), why);
		return;
	}
	if (conf_path_set(tl->key, sizeof tl->key, t->v[4], &why) < 0) {
		conf_perr(p, "tls: key '%s' %s", conf_q(qb, sizeof qb, t->v[4]), why);
		return;
	}
	tl->line = p->line;
	p->c->n_tls++;
}

static const struct directive directives[D_COUNT] = {
    [D_VERSION] = {"version", "version 1", 1, 1, 1, 0, d_version},
    [D_HOSTNAME] = {"hostname", "hostname NAME", 1, 1, 1, 1, d_hostname},
    [D_SPOOL] = {"spool", "spool DIR", 1, 1, 1, 1, d_spool},
    [D_USER] = {"user", "user NAME", 1, 1, 1, 0, d_user},
    [D_QUSER] = {"queue-user", "queue-user NAME", 1, 1, 1, 0, d_quser},
    [D_LISTEN] = {"listen", "listen ADDR:PORT KIND", 2, 2, 0, 1, d_listen},
    [D_DOMAIN] = {"domain", "domain NAME maildir PATTERN", 3, 3, 0, 1, d_domain},
    [D_USERS] = {"users", "users FILE", 1, 1, 1, 1, d_users},
    [D_SOCKET] = {"socket", "socket PATH", 1, 1, 1, 0, d_socket},
    [D_POSTMASTER] = {"postmaster", "postmaster ADDRESS", 1, 1, 1, 0, d_postmaster},
    [D_RESOLVER] = {"resolver", "resolver ADDR[:PORT]", 1, 1, 1, 0, d_resolver},
    [D_MAXMSG] = {"max-message-size", "max-message-size N[K|M|G]", 1, 1, 1, 0, d_maxmsg},
    [D_MAXRCPT] = {"max-recipients", "max-recipients N", 1, 1, 1, 0, d_maxrcpt},
    [D_WORKERS] = {"workers", "workers N", 1, 1, 1, 0, d_workers},
    [D_TLS] = {"tls", "tls cert FILE key FILE", 4, 4, 0, 0, d_tls},
    [D_AUTH_DELAY] = {"auth-delay-after", "auth-delay-after N", 1, 1, 1, 0, d_auth_delay},
    [D_AUTH_LOCK] = {"auth-lock-after", "auth-lock-after N", 1, 1, 1, 0, d_auth_lock},
    [D_AUTH_WINDOW] = {"auth-window", "auth-window SECONDS", 1, 1, 1, 0, d_auth_window},
    [D_AUTH_LOCKTIME] = {"auth-lock-time", "auth-lock-time SECONDS", 1, 1, 1, 0, d_auth_locktime},
    [D_TRUSTED] = {"trusted-networks", "trusted-networks CIDR...", 1, CONF_MAX_ARGS - 1, 0, 0,
		   d_trusted},
    [D_RCVD_AUTH] = {"received-auth-user", "received-auth-user yes|no", 1, 1, 1, 0, d_rcvd_auth},
    [D_LIMITS] = {"limits", "limits { or limits KEY VALUE", 1, CONF_MAX_ARGS - 1, 0, 0,
		  conf_limits_directive},
    [D_DNSBL] = {"dnsbl", "dnsbl ZONE[=A.B.C.D,...] [WEIGHT]", 1, 2, 0, 0, conf_limits_dnsbl},
    [D_LIFETIME] = {"queue-lifetime", "queue-lifetime DURATION", 1, 1, 1, 0, conf_out_lifetime},
    [D_DELAY_WARN] = {"delay-warning", "delay-warning DURATION|off", 1, 1, 1, 0,
		      conf_out_delay_warning},
    [D_OUT_CONN] = {"outbound-connections", "outbound-connections N", 1, 1, 1, 0, conf_out_conn},
    [D_OUT_CONN_DEST] = {"outbound-connections-per-domain", "outbound-connections-per-domain N", 1,
			 1, 1, 0, conf_out_conn_dest},
    [D_OUT_PORT] = {"outbound-port", "outbound-port N", 1, 1, 1, 0, conf_out_port},
    [D_OUT_CA] = {"outbound-ca-file", "outbound-ca-file FILE", 1, 1, 1, 0, conf_out_ca_file},
    [D_TRUST_ANCHOR] = {"dnssec-trust-anchor", "dnssec-trust-anchor FILE|off", 1, 1, 1, 0,
			conf_out_trust_anchor},
    [D_MTA_STS] = {"mta-sts", "mta-sts on|off", 1, 1, 1, 0, conf_out_mta_sts},
    [D_RELAY] = {"relay", "relay via URL [auth FILE]", 2, 4, 1, 0, conf_out_relay},
    [D_DEST] = {"destination", "destination DOMAIN tls none|may|require|verify", 3, 3, 0, 0,
		conf_out_destination},
    [D_AUTHSERV] = {"authserv-id", "authserv-id NAME", 1, 1, 1, 0, conf_auth_authserv},
    [D_CHECKS] = {"inbound-checks", "inbound-checks on|off", 1, 1, 1, 0, conf_auth_checks},
    [D_SPF_FAIL] = {"spf-fail", "spf-fail dmarc|reject", 1, 1, 1, 0, conf_auth_spf_fail},
    [D_DMARC_POLICY] = {"dmarc-policy", "dmarc-policy enforce|quarantine|mark", 1, 1, 1, 0,
			conf_auth_dmarc_policy},
    [D_PSL] = {"public-suffix-list", "public-suffix-list FILE", 1, 1, 1, 0, conf_auth_psl},
    [D_DKIM] = {"dkim", "dkim sign DOMAIN selector S key FILE", 6, 6, 0, 0, conf_auth_dkim},
};

/* ---- tokenizer -------------------------------------------------------- */

static int tok_quoted(const char *s, size_t n, size_t *pos, char *out, const char **why)
{
	size_t i = *pos + 1, o = 0;

	for (;;) {
		if (i >= n)
			return fail(why, "unterminated quoted string");
		char c = s[i++];
		if (c == '"')
			break;
		if (c == '\\') {
			if (i >= n || (s[i] != '"' && s[i] != '\\'))
				return fail(why,
					    "bad escape in quoted string (only \\\" and \\\\)");
			c = s[i++];
		}
		if (o + 1 >= CONF_PATH_MAX)
			return fail(why, "token longer than 1023 bytes");
		out[o++] = c;
	}
	out[o] = '\0';
	if (i < n && !is_space(s[i]) && s[i] != '#')
		return fail(why, "a closing quote must be followed by a space");
	*pos = i;
	return 0;
}

static int tok_plain(const char *s, size_t n, size_t *pos, char *out, const char **why)
{
	size_t i = *pos, o = 0;

	for (; i < n && !is_space(s[i]) && s[i] != '#'; i++) {
		if (s[i] == '"')
			return fail(why, "a quote inside a token (quote the whole token)");
		if (o + 1 >= CONF_PATH_MAX)
			return fail(why, "token longer than 1023 bytes");
		out[o++] = s[i];
	}
	out[o] = '\0';
	*pos = i;
	return 0;
}

static int tokenize(const char *s, size_t n, struct toks *t, const char **why)
{
	size_t i = 0;

	t->n = 0;
	for (;;) {
		while (i < n && is_space(s[i]))
			i++;
		if (i >= n || s[i] == '#')
			return 0;
		if (t->n >= CONF_MAX_ARGS)
			return fail(why, "too many tokens on one line");
		char *out = t->v[t->n++];
		if ((s[i] == '"' ? tok_quoted : tok_plain)(s, n, &i, out, why) < 0)
			return -1;
	}
}

/* ---- lines and the whole file ----------------------------------------- */

static int line_ctl_check(struct pctx *p, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return conf_perr(p, "control character 0x%02x", c);
	}
	return 0;
}

static const struct directive *directive_find(const char *name, size_t *idx)
{
	for (size_t i = 0; i < D_COUNT; i++) {
		if (strcmp(directives[i].name, name) == 0) {
			*idx = i;
			return &directives[i];
		}
	}
	return NULL;
}

int conf_directive_known(const char *name)
{
	size_t idx;
	return directive_find(name, &idx) != NULL;
}

/* The directive of a tokenized line when its shape is right, else NULL. */
static const struct directive *directive_check(struct pctx *p, const struct toks *t)
{
	char qb[QUOTE_MAX];
	size_t idx;
	const struct directive *d = directive_find(t->v[0], &idx);

	if (!d) {
		conf_perr(p, "unknown directive '%s'", conf_q(qb, sizeof qb, t->v[0]));
		return NULL;
	}
	if (t->n - 1 < d->min_args || t->n - 1 > d->max_args) {
		conf_perr(p, "%s: wrong number of arguments (usage: %s)", d->name, d->usage);
		return NULL;
	}
	if (d->once && p->first_line[idx]) {
		conf_perr(p, "%s: duplicate directive (first on line %d)", d->name,
			  p->first_line[idx]);
		return NULL;
	}
	if (!p->first_line[idx])
		p->first_line[idx] = p->line;
	return d;
}

/* Parses one line; problems are recorded in p->e. */
static void parse_line(struct pctx *p, const char *s, size_t n)
{
	struct toks t;
	const char *why;

	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (line_ctl_check(p, s, n) < 0)
		return;
	if (tokenize(s, n, &t, &why) < 0) {
		conf_perr(p, "%s", why);
		return;
	}
	if (t.n == 0)
		return;
	if (conf_limits_block_line(p, &t)) {
		p->n_directives++;
		return;
	}
	const struct directive *d = directive_check(p, &t);
	if (d)
		d->fn(p, &t);
	p->n_directives++;
}

/* Checks that need the whole file: required directives, cross-references. */
static void parse_finish(struct pctx *p)
{
	struct conf *c = p->c;

	conf_limits_finish(p);
	conf_outbound_finish(p);
	for (size_t i = 0; i < D_COUNT; i++)
		if (directives[i].required && !p->first_line[i])
			conf_err_add(p->e, p->file, 0, "missing required directive '%s'",
				     directives[i].name);
	if (c->postmaster[0] && c->n_domains > 0) {
		const char *dom = strrchr(c->postmaster, '@') + 1;
		if (!conf_find_domain(c, dom, strlen(dom)))
			conf_err_add(p->e, p->file, p->first_line[D_POSTMASTER],
				     "postmaster: domain '%s' of %s is not a configured domain",
				     dom, c->postmaster);
	}
	for (size_t i = 0; i < c->n_listen; i++)
		if (c->listen[i].kind != LISTEN_SMTP && c->n_tls == 0)
			conf_err_add(
			    p->e, p->file, c->listen[i].line,
			    "listen: a %s listener needs TLS: add a 'tls cert FILE key FILE' line",
			    c->listen[i].kind == LISTEN_SUBMISSION ? "submission" : "submissions");
	if (strcmp(c->user, c->queue_user) == 0) {
		int l = p->first_line[D_USER] > p->first_line[D_QUSER] ? p->first_line[D_USER]
								       : p->first_line[D_QUSER];
		conf_err_add(p->e, p->file, l, "user and queue-user must differ (both are '%s')",
			     c->user);
	}
}

void conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof *c);
	(void)str_copy(c->user, sizeof c->user, CONF_DEFAULT_USER);
	(void)str_copy(c->queue_user, sizeof c->queue_user, CONF_DEFAULT_QUSER);
	(void)str_copy(c->socket_path, sizeof c->socket_path, CONF_DEFAULT_SOCKET);
	c->max_message_size = CONF_DEFAULT_MAXMSG;
	c->max_rcpt = CONF_DEFAULT_MAXRCPT;
	c->workers = 0;
	c->auth.delay_after = 3;
	c->auth.lock_after = 10;
	c->auth.window = 900;
	c->auth.lock_time = 900;
	conf_limits_defaults(&c->limits);
	conf_outbound_defaults(&c->out);
	conf_mailauth_defaults(&c->mailauth);
}

int conf_parse(const char *text, size_t len, const char *filename, struct conf *out,
	       struct conf_errors *errs)
{
	struct pctx p;
	size_t off = 0;

	memset(&p, 0, sizeof p);
	memset(errs, 0, sizeof *errs);
	p.c = out;
	p.e = errs;
	p.file = filename;
	conf_defaults(out);
	if (str_copy(out->path, sizeof out->path, filename) < 0)
		conf_err_add(errs, filename, 0, "file name too long");
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t end = nl ? (size_t)(nl - text) : len;
		if (p.line == INT_MAX) {
			conf_err_add(errs, filename, 0, "too many lines");
			break;
		}
		p.line++;
		parse_line(&p, text + off, end - off);
		off = end + 1;
	}
	parse_finish(&p);
	return errs->n == 0 && errs->dropped == 0 ? 0 : -1;
}

/* ---- I/O and lookups -------------------------------------------------- */

static int read_all(int fd, char *buf, size_t cap, size_t *len)
{
	size_t got = 0;

	while (got < cap) {
		ssize_t r = read(fd, buf + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	*len = got;
	return 0;
}

/* Opens path and checks it is a regular file of at most max bytes. */
static int open_bounded(const char *path, size_t max, int *errnum)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		*errnum = errno;
		return -1;
	}
	if (fstat(fd, &st) < 0)
		*errnum = errno;
	else if (!S_ISREG(st.st_mode))
		*errnum = EINVAL;
	else if ((uint64_t)st.st_size > max)
		*errnum = EFBIG;
	else
		return fd;
	(void)close(fd); /* read-only descriptor: nothing to lose */
	return -1;
}

int conf_read_file(const char *path, size_t max, char **buf, size_t *len, int *errnum)
{
	int fd = open_bounded(path, max, errnum);

	*buf = NULL;
	if (fd < 0)
		return -1;
	*buf = malloc(max + 1);
	if (!*buf) {
		*errnum = ENOMEM;
	} else if (read_all(fd, *buf, max + 1, len) < 0) {
		*errnum = errno;
	} else if (*len > max) { /* grew after fstat */
		*errnum = EFBIG;
	} else {
		(void)close(fd);
		(*buf)[*len] = '\0';
		return 0;
	}
	free(*buf);
	*buf = NULL;
	(void)close(fd);
	return -1;
}

int conf_load(const char *path, struct conf *out, struct conf_errors *errs)
{
	char *buf;
	size_t len;
	int errnum;

	memset(errs, 0, sizeof *errs);
	conf_defaults(out);
	if (conf_read_file(path, CONF_FILE_MAX, &buf, &len, &errnum) < 0) {
		if (errnum == EFBIG)
			conf_err_add(errs, path, 0, "file is larger than 1 MiB");
		else if (errnum == EINVAL)
			conf_err_add(errs, path, 0, "not a regular file");
		else
			conf_err_add(errs, path, 0, "cannot open: %s", strerror(errnum));
		return -1;
	}
	int r = conf_parse(buf, len, path, out, errs);
	free(buf);
	return r;
}

void conf_errors_print(const struct conf_errors *errs)
{
	for (size_t i = 0; i < errs->n && i < CONF_MAX_ERRORS; i++)
		fprintf(stderr, "sealpost: %s\n", errs->msg[i]);
	if (errs->dropped)
		fprintf(stderr, "sealpost: ... and %zu more errors\n", errs->dropped);
}

const struct conf_domain *conf_find_domain(const struct conf *c, const char *name, size_t len)
{
	if (len > 0 && name[len - 1] == '.')
		len--;
	for (size_t i = 0; i < c->n_domains; i++)
		if (str_eqn_nocase(name, len, c->domains[i].name))
			return &c->domains[i];
	return NULL;
}

const char *conf_listen_kind_name(enum listen_kind k)
{
	switch (k) {
	case LISTEN_SMTP:
		return "smtp";
	case LISTEN_SUBMISSION:
		return "submission";
	case LISTEN_SUBMISSIONS:
		return "submissions";
	}
	return "?";
}

static int needs_quotes(const char *tok)
{
	return tok[0] == '\0' || strpbrk(tok, " \t#\"") != NULL;
}

int conf_quote(const char *tok, char *out, size_t cap)
{
	size_t o = 0;
	int quote = needs_quotes(tok);

	for (const char *c = tok; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return -1;
	if (!quote)
		return str_copy(out, cap, tok);
	if (cap < 3)
		return -1;
	out[o++] = '"';
	for (const char *c = tok; *c; c++) {
		if (o + 4 > cap) { /* room for an escape pair, the quote and the NUL */
			out[0] = '\0';
			return -1;
		}
		if (*c == '"' || *c == '\\')
			out[o++] = '\\';
		out[o++] = *c;
	}
	out[o++] = '"';
	out[o] = '\0';
	return 0;
}
