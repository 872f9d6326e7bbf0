/*
 * conf_remote: the outbound-delivery directives of sealpost.conf
 * (queue-lifetime, delay-warning, outbound-*, dnssec-trust-anchor,
 * mta-sts, relay via, destination DOMAIN tls MODE), and their text for
 * `sealpost check -n` (conf_remote.h).
 *
 * Security role: outbound TLS policy. The defaults are the safe ones:
 * STARTTLS whenever offered, DANE and MTA-STS honoured; anything weaker
 * is asked for per destination by name. Relay credentials never appear
 * in the config itself (a URL with '@' is refused): they live in the
 * `auth` file.
 */
#include <string.h>

#include "util/conf.h"
#include "util/conf_int.h"
#include "util/conf_remote.h"
#include "util/str.h"

#define SMTP_PFX     "smtp://"
#define SMTPS_PFX    "smtps://"
#define SMTP_PORT    25
#define SMTPS_PORT   465
#define OUT_CONN_MAX 10000
#define OUT_DEST_MAX 1000
#define DUR_TEXT_MAX 32
#define RELAY_USAGE                                                                                \
	"expected 'relay via smtp://HOST[:PORT]' or 'relay via smtps://HOST[:PORT]', then "        \
	"optionally 'auth FILE'"
#define DEST_USAGE "expected 'destination DOMAIN tls none|may|require|verify'"

void conf_outbound_defaults(struct conf_outbound *o)
{
	memset(o, 0, sizeof *o);
	o->lifetime = 5 * 86400;
	o->delay_warning = 4 * 3600;
	o->max_conn = 100;
	o->max_conn_dest = 10;
	o->port = 25;
	(void)str_copy(o->ca_file, sizeof o->ca_file, "/etc/ssl/certs/ca-certificates.crt");
	(void)str_copy(o->trust_anchor, sizeof o->trust_anchor, "/usr/share/dns/root.key");
	o->mta_sts = 1;
}

static const char *const tls_names[] = {
    [TLSOUT_MAY] = "may",
    [TLSOUT_NONE] = "none",
    [TLSOUT_REQUIRE] = "require",
    [TLSOUT_VERIFY] = "verify",
};

const char *conf_tls_out_name(enum conf_tls_out m)
{
	if ((size_t)m >= sizeof tls_names / sizeof tls_names[0])
		return "?";
	return tls_names[m];
}

/* ---- durations, numbers, files ------------------------------------------ */

static const struct conf_dur_bounds lifetime_bounds = {CONF_MS_HOUR, 30 * CONF_MS_DAY, "1h-30d", 1};
static const struct conf_dur_bounds warning_bounds = {CONF_MS_MIN, 7 * CONF_MS_DAY, "1m-7d", 1};

static void secs_arg(struct pctx *p, const struct toks *t, const struct conf_dur_bounds *b,
		     unsigned *out)
{
	uint64_t ms;

	if (conf_dur_arg(p, t->v[0], t->v[1], b, &ms) == 0)
		*out = (unsigned)(ms / CONF_MS_S);
}

void conf_out_lifetime(struct pctx *p, const struct toks *t)
{
	secs_arg(p, t, &lifetime_bounds, &p->c->out.lifetime);
}

void conf_out_delay_warning(struct pctx *p, const struct toks *t)
{
	if (strcmp(t->v[1], "off") == 0)
		p->c->out.delay_warning = 0;
	else
		secs_arg(p, t, &warning_bounds, &p->c->out.delay_warning);
}

void conf_out_conn(struct pctx *p, const struct toks *t)
{
	conf_uint_arg(p, t, 1, OUT_CONN_MAX, &p->c->out.max_conn);
}

void conf_out_conn_dest(struct pctx *p, const struct toks *t)
{
	conf_uint_arg(p, t, 1, OUT_DEST_MAX, &p->c->out.max_conn_dest);
}

void conf_out_port(struct pctx *p, const struct toks *t)
{
	conf_uint_arg(p, t, 1, 65535, &p->c->out.port);
}

void conf_out_ca_file(struct pctx *p, const struct toks *t)
{
	conf_set_path(p, t, p->c->out.ca_file, sizeof p->c->out.ca_file);
}

void conf_out_trust_anchor(struct pctx *p, const struct toks *t)
{
	if (strcmp(t->v[1], "off") == 0)
		p->c->out.trust_anchor[0] = '\0';
	else
		conf_set_path(p, t, p->c->out.trust_anchor, sizeof p->c->out.trust_anchor);
}

void conf_out_mta_sts(struct pctx *p, const struct toks *t)
{
	static const char *const words[] = {"on", "off"};
	int k = conf_choice(p, t, words, 2);

	if (k >= 0)
		p->c->out.mta_sts = k == 0;
}

/* ---- relay via URL [auth FILE] ------------------------------------------ */

/* A relay line being read; copied into struct conf_outbound when all of it is good. */
struct relay {
	char url[CONF_NAME_MAX];
	char host[CONF_NAME_MAX];
	char auth[CONF_PATH_MAX];
	unsigned port;
	int implicit_tls;
};

/* smtp://HOST[:PORT] or smtps://HOST[:PORT]. */
static int relay_url(struct pctx *p, const char *url, struct relay *r)
{
	char qb[QUOTE_MAX];
	size_t scheme = 0;

	if (strncmp(url, SMTPS_PFX, strlen(SMTPS_PFX)) == 0) {
		scheme = strlen(SMTPS_PFX);
		r->port = SMTPS_PORT;
		r->implicit_tls = 1;
	} else if (strncmp(url, SMTP_PFX, strlen(SMTP_PFX)) == 0) {
		scheme = strlen(SMTP_PFX);
		r->port = SMTP_PORT;
	} else {
		return conf_perr(p, "relay: '%s' is not smtp://HOST[:PORT] or smtps://HOST[:PORT]",
				 conf_q(qb, sizeof qb, url));
	}
	if (strchr(url, '@'))
		return conf_perr(p, "relay: no credentials in the URL: put them in a file and "
				    "add 'auth FILE'");
	if (conf_url_hostport(p, "relay", url, scheme, r->host, sizeof r->host, &r->port) < 0)
		return -1;
	if (str_copy(r->url, sizeof r->url, url) < 0)
		return conf_perr(p, "relay: URL longer than %d octets", CONF_NAME_MAX - 1);
	return 0;
}

static int relay_auth(struct pctx *p, const char *file, struct relay *r)
{
	const char *why;
	char qb[QUOTE_MAX];

	if (conf_path_set(r->auth, sizeof r->auth, file, &why) < 0)
		return conf_perr(p, "relay: auth file '%s' %s", conf_q(qb, sizeof qb, file), why);
	return 0;
}

void conf_out_relay(struct pctx *p, const struct toks *t)
{
	struct conf_outbound *o = &p->c->out;
	struct relay r;

	memset(&r, 0, sizeof r);
	if (strcmp(t->v[1], "via") != 0 || t->n == 4 ||
	    (t->n == 5 && strcmp(t->v[3], "auth") != 0)) {
		conf_perr(p, "relay: " RELAY_USAGE);
		return;
	}
	if (relay_url(p, t->v[2], &r) < 0 || (t->n == 5 && relay_auth(p, t->v[4], &r) < 0))
		return;
	_Static_assert(sizeof o->relay == sizeof r.url && sizeof o->relay_host == sizeof r.host &&
			   sizeof o->relay_auth == sizeof r.auth,
		       "struct relay mirrors struct conf_outbound");
	memcpy(o->relay, r.url, sizeof o->relay);
	memcpy(o->relay_host, r.host, sizeof o->relay_host);
	memcpy(o->relay_auth, r.auth, sizeof o->relay_auth);
	o->relay_port = r.port;
	o->relay_implicit_tls = r.implicit_tls;
}

/* ---- destination DOMAIN tls MODE ---------------------------------------- */

static int tls_mode_parse(const char *s, enum conf_tls_out *m)
{
	for (size_t i = 0; i < sizeof tls_names / sizeof tls_names[0]; i++) {
		if (strcmp(s, tls_names[i]) == 0) {
			*m = (enum conf_tls_out)i;
			return 0;
		}
	}
	return -1;
}

static const struct conf_dest *dest_find(const struct conf_outbound *o, const char *domain)
{
	for (size_t i = 0; i < o->n_dest; i++)
		if (strcmp(o->dest[i].domain, domain) == 0)
			return &o->dest[i];
	return NULL;
}

static int dest_domain(struct pctx *p, const char *s, struct conf_dest *d)
{
	const char *why;
	char qb[QUOTE_MAX];

	if (s[0] == '.')
		return conf_perr(p,
				 "destination: '%s': a destination is one exact domain (write "
				 "each subdomain on its own line)",
				 conf_q(qb, sizeof qb, s));
	if (conf_hostname_check(s, strlen(s), &why) < 0)
		return conf_perr(p, "destination: '%s' is not a valid domain: %s",
				 conf_q(qb, sizeof qb, s), why);
	if (conf_host_normalize(d->domain, sizeof d->domain, s, strlen(s)) < 0)
		return conf_perr(p, "destination: domain too long");
	return 0;
}

static int dest_build(struct pctx *p, const struct toks *t, struct conf_dest *d)
{
	const struct conf_outbound *o = &p->c->out;
	const struct conf_dest *old;
	char qb[QUOTE_MAX];

	memset(d, 0, sizeof *d);
	if (strcmp(t->v[2], "tls") != 0)
		return conf_perr(p, "destination: " DEST_USAGE);
	if (dest_domain(p, t->v[1], d) < 0)
		return -1;
	if (tls_mode_parse(t->v[3], &d->tls) < 0)
		return conf_perr(p,
				 "destination: unknown tls mode '%s' (expected none, may, require "
				 "or verify)",
				 conf_q(qb, sizeof qb, t->v[3]));
	if ((old = dest_find(o, d->domain)) != NULL)
		return conf_perr(p, "destination: duplicate domain '%s' (first on line %d)",
				 d->domain, old->line);
	if (o->n_dest >= CONF_MAX_DEST)
		return conf_perr(p, "destination: too many destinations (at most %d)",
				 CONF_MAX_DEST);
	d->line = p->line;
	return 0;
}

void conf_out_destination(struct pctx *p, const struct toks *t)
{
	struct conf_dest d;
	struct conf_outbound *o = &p->c->out;

	if (dest_build(p, t, &d) == 0)
		o->dest[o->n_dest++] = d;
}

/* ---- whole-file checks -------------------------------------------------- */

static int later(int a, int b)
{
	return a > b ? a : b;
}

static void dur_or_q(unsigned secs, char *out, size_t cap)
{
	if (conf_dur_text((uint64_t)secs * CONF_MS_S, out, cap) < 0)
		(void)str_copy(out, cap, "?");
}

void conf_outbound_finish(struct pctx *p)
{
	const struct conf_outbound *o = &p->c->out;
	const int *at = p->first_line;
	char w[DUR_TEXT_MAX], l[DUR_TEXT_MAX];

	if (o->delay_warning && o->delay_warning >= o->lifetime) {
		dur_or_q(o->delay_warning, w, sizeof w);
		dur_or_q(o->lifetime, l, sizeof l);
		conf_err_add(p->e, p->file, later(at[D_DELAY_WARN], at[D_LIFETIME]),
			     "delay-warning: %s%s must be less than queue-lifetime (%s): shorten "
			     "it or write 'delay-warning off'",
			     w, at[D_DELAY_WARN] ? "" : " (the default)", l);
	}
	if (o->max_conn_dest > o->max_conn)
		conf_err_add(p->e, p->file, later(at[D_OUT_CONN_DEST], at[D_OUT_CONN]),
			     "outbound-connections-per-domain: %u must not exceed "
			     "outbound-connections (%u)",
			     o->max_conn_dest, o->max_conn);
}

/* ---- text for `sealpost check -n` --------------------------------------- */

struct emitter {
	conf_emit_fn fn;
	void *arg;
	int r;
};

static void emit(struct emitter *e, const char *name, const char *v0, const char *v1)
{
	const char *v[2] = {v0, v1};

	if (e->r == 0)
		e->r = e->fn(e->arg, name, v, v1 ? 2 : 1);
}

static void emit_num(struct emitter *e, const char *name, unsigned v)
{
	char num[16];

	if (str_fmt(num, sizeof num, "%u", v) < 0)
		e->r = -1;
	else
		emit(e, name, num, NULL);
}

static void emit_dur(struct emitter *e, const char *name, unsigned secs)
{
	char d[DUR_TEXT_MAX];

	if (secs == 0)
		emit(e, name, "off", NULL);
	else if (conf_dur_text((uint64_t)secs * CONF_MS_S, d, sizeof d) < 0)
		e->r = -1;
	else
		emit(e, name, d, NULL);
}

static void emit_numbers(struct emitter *e, const struct conf_outbound *o,
			 const struct conf_outbound *d)
{
	if (o->lifetime != d->lifetime)
		emit_dur(e, "queue-lifetime", o->lifetime);
	if (o->delay_warning != d->delay_warning)
		emit_dur(e, "delay-warning", o->delay_warning);
	if (o->max_conn != d->max_conn)
		emit_num(e, "outbound-connections", o->max_conn);
	if (o->max_conn_dest != d->max_conn_dest)
		emit_num(e, "outbound-connections-per-domain", o->max_conn_dest);
	if (o->port != d->port)
		emit_num(e, "outbound-port", o->port);
}

static void emit_tls(struct emitter *e, const struct conf_outbound *o,
		     const struct conf_outbound *d)
{
	if (strcmp(o->ca_file, d->ca_file) != 0)
		emit(e, "outbound-ca-file", o->ca_file, NULL);
	if (strcmp(o->trust_anchor, d->trust_anchor) != 0)
		emit(e, "dnssec-trust-anchor", o->trust_anchor[0] ? o->trust_anchor : "off", NULL);
	if (o->mta_sts != d->mta_sts)
		emit(e, "mta-sts", o->mta_sts ? "on" : "off", NULL);
}

static void emit_routes(struct emitter *e, const struct conf_outbound *o)
{
	const char *relay[4] = {"via", o->relay, "auth", o->relay_auth};

	if (o->relay[0] && e->r == 0)
		e->r = e->fn(e->arg, "relay", relay, o->relay_auth[0] ? 4 : 2);
	for (size_t i = 0; i < o->n_dest && e->r == 0; i++) {
		const char *v[3] = {o->dest[i].domain, "tls", conf_tls_out_name(o->dest[i].tls)};
		e->r = e->fn(e->arg, "destination", v, 3);
	}
}

int conf_outbound_nondefault(const struct conf_outbound *o, conf_emit_fn fn, void *arg)
{
	static struct conf_outbound def; /* large: not on the stack */
	struct emitter e = {fn, arg, 0};

	conf_outbound_defaults(&def);
	emit_numbers(&e, o, &def);
	emit_tls(&e, o, &def);
	emit_routes(&e, o);
	return e.r;
}
