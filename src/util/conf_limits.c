/*
 * conf_limits: the `limits` block and `dnsbl` lines of sealpost.conf.
 *
 *     limits {                      limits KEY VALUE    (one line)
 *         KEY VALUE                 dnsbl ZONE[=A.B.C.D,...] [WEIGHT]
 *     }
 *
 * Security role: these are the server's abuse defences, so every one has a
 * safe default that holds with no config at all; a value can be loosened
 * only by naming it, within bounds that keep the server standing. Each key
 * is set at most once (block and one-line forms together), and every
 * problem is a "file:line: limits: KEY: reason" error, never a guess.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/conf.h"
#include "util/conf_int.h"
#include "util/conf_limits.h"
#include "util/str.h"

#define MS_S	    CONF_MS_S
#define MS_MIN	    CONF_MS_MIN
#define MS_HOUR	    CONF_MS_HOUR
#define MS_DAY	    CONF_MS_DAY
#define RATE_MAX    100000000ull
#define REDIS_PORT  6379
#define REDIS_PFX   "redis://"
#define V6_QNAME    64 /* "b.a.9.8....": 32 nibbles and their dots before the zone */
#define ZONE_MAX    (253 - V6_QNAME)
#define DUR_SYNTAX  "is not a duration (N followed by ms, s, m, h or d, e.g. 30s)"
#define RATE_SYNTAX "expected N/DURATION like 60/1m, or off"

void conf_limits_defaults(struct conf_limits *l)
{
	memset(l, 0, sizeof *l);
	l->max_conn = 2000;
	l->max_conn_ip = 20;
	l->max_conn_net = 100;
	l->conn_rate = (struct conf_rate){60, 60};
	l->msgs_per_session = 100;
	l->rcpt_rate = (struct conf_rate){1000, 3600};
	l->user_msg_rate = (struct conf_rate){200, 3600};
	l->user_rcpt_rate = (struct conf_rate){1000, 3600};
	l->max_errors = 10;
	l->tarpit_after = 3;
	l->tarpit_max = 10;
	l->cmd_timeout = 300;
	l->data_timeout = 600;
	l->session_timeout = 1800;
	l->min_data_rate = 500;
	l->data_rate_grace = 30;
	l->session_memory = 256 * 1024;
	l->pregreet = 1;
	l->pregreet_wait_ms = 3000;
	l->pregreet_remember = 86400;
	l->pipelining_check = 1;
	l->store_sync_ms = 200;
	l->dnsbl_threshold = 1;
	l->dns_timeout_ms = 5000;
}

/* ---- the keys ----------------------------------------------------------- */

enum lkind {
	LK_COUNT,     /* unsigned N */
	LK_COUNT_OFF, /* unsigned N, or off = 0 */
	LK_RATE,      /* struct conf_rate: N/DURATION or off */
	LK_SECS,      /* unsigned seconds, written as a DURATION */
	LK_MSECS,     /* unsigned milliseconds, written as a DURATION */
	LK_SWITCH,    /* int: on or off */
	LK_SIZE,      /* size_t octets: N, NK or NM */
	LK_SCORE,     /* int, may be negative */
	LK_STORE,     /* local or redis://HOST[:PORT] */
	LK_RCPT,      /* conf->max_rcpt (the max-recipients directive) */
};

struct lkey {
	const char *name;
	const char *usage; /* the value's syntax */
	enum lkind kind;
	size_t off;	   /* of the field in struct conf_limits */
	int64_t lo, hi;	   /* numbers as they are, durations in ms, sizes in octets */
	const char *range; /* lo-hi as an operator writes them */
};

enum {
	L_MAXCONN,
	L_MAXCONN_IP,
	L_MAXCONN_NET,
	L_CONN_RATE,
	L_RCPT_RATE,
	L_USER_MSG_RATE,
	L_USER_RCPT_RATE,
	L_MSGS,
	L_RCPTS,
	L_MAX_ERRORS,
	L_TARPIT_AFTER,
	L_TARPIT_MAX,
	L_CMD_TIMEOUT,
	L_DATA_TIMEOUT,
	L_SESSION_TIMEOUT,
	L_MIN_DATA_RATE,
	L_DATA_RATE_GRACE,
	L_SESSION_MEMORY,
	L_PREGREET,
	L_PREGREET_WAIT,
	L_PREGREET_REMEMBER,
	L_PIPELINING,
	L_STORE,
	L_STORE_SYNC,
	L_DNSBL_THRESHOLD,
	L_DNS_TIMEOUT,
	L_COUNT
};

_Static_assert(L_COUNT <= CONF_LIMIT_KEYS_MAX, "pctx.limit_line is too small");

#define F(field) offsetof(struct conf_limits, field)

static const struct lkey keys[L_COUNT] = {
    [L_MAXCONN] = {"max-connections", "N", LK_COUNT, F(max_conn), 1, 1000000, "1-1000000"},
    [L_MAXCONN_IP] = {"max-connections-per-ip", "N", LK_COUNT, F(max_conn_ip), 1, 1000000,
		      "1-1000000"},
    [L_MAXCONN_NET] = {"max-connections-per-net", "N", LK_COUNT, F(max_conn_net), 1, 1000000,
		       "1-1000000"},
    [L_CONN_RATE] = {"connection-rate", "N/DURATION|off", LK_RATE, F(conn_rate), 0, 0, ""},
    [L_RCPT_RATE] = {"recipient-rate", "N/DURATION|off", LK_RATE, F(rcpt_rate), 0, 0, ""},
    [L_USER_MSG_RATE] = {"user-message-rate", "N/DURATION|off", LK_RATE, F(user_msg_rate), 0, 0,
			 ""},
    [L_USER_RCPT_RATE] = {"user-recipient-rate", "N/DURATION|off", LK_RATE, F(user_rcpt_rate), 0, 0,
			  ""},
    [L_MSGS] = {"messages-per-session", "N", LK_COUNT, F(msgs_per_session), 1, 100000, "1-100000"},
    [L_RCPTS] = {"recipients-per-message", "N", LK_RCPT, 0, CONF_MIN_MAXRCPT, CONF_MAX_MAXRCPT,
		 "100-1000"},
    [L_MAX_ERRORS] = {"max-errors", "N", LK_COUNT, F(max_errors), 1, 1000, "1-1000"},
    [L_TARPIT_AFTER] = {"tarpit-after", "N", LK_COUNT, F(tarpit_after), 0, 1000, "0-1000"},
    [L_TARPIT_MAX] = {"tarpit-max", "DURATION", LK_SECS, F(tarpit_max), 0, 60 * MS_S, "0-60s"},
    [L_CMD_TIMEOUT] = {"command-timeout", "DURATION", LK_SECS, F(cmd_timeout), MS_S, MS_HOUR,
		       "1s-1h"},
    [L_DATA_TIMEOUT] = {"data-timeout", "DURATION", LK_SECS, F(data_timeout), MS_S, MS_HOUR,
			"1s-1h"},
    [L_SESSION_TIMEOUT] = {"session-timeout", "DURATION", LK_SECS, F(session_timeout), 10 * MS_S,
			   MS_DAY, "10s-1d"},
    [L_MIN_DATA_RATE] = {"min-data-rate", "N|off", LK_COUNT_OFF, F(min_data_rate), 1, 10000000,
			 "1-10000000"},
    [L_DATA_RATE_GRACE] = {"data-rate-grace", "DURATION", LK_SECS, F(data_rate_grace), 0, MS_HOUR,
			   "0-1h"},
    [L_SESSION_MEMORY] = {"session-memory", "SIZE", LK_SIZE, F(session_memory), 16 * 1024,
			  64 * 1024 * 1024, "16K-64M"},
    [L_PREGREET] = {"pregreet", "on|off", LK_SWITCH, F(pregreet), 0, 1, ""},
    [L_PREGREET_WAIT] = {"pregreet-wait", "DURATION", LK_MSECS, F(pregreet_wait_ms), 0, 30 * MS_S,
			 "0-30s"},
    [L_PREGREET_REMEMBER] = {"pregreet-remember", "DURATION", LK_SECS, F(pregreet_remember), 0,
			     30 * MS_DAY, "0-30d"},
    [L_PIPELINING] = {"pipelining-check", "on|off", LK_SWITCH, F(pipelining_check), 0, 1, ""},
    [L_STORE] = {"store", "local|redis://HOST[:PORT]", LK_STORE, 0, 0, 0, ""},
    [L_STORE_SYNC] = {"store-sync", "DURATION", LK_MSECS, F(store_sync_ms), 10, 10 * MS_S,
		      "10ms-10s"},
    [L_DNSBL_THRESHOLD] = {"dnsbl-threshold", "N", LK_SCORE, F(dnsbl_threshold), -1000, 1000,
			   "-1000-1000"},
    [L_DNS_TIMEOUT] = {"dns-timeout", "DURATION", LK_MSECS, F(dns_timeout_ms), 100, 60 * MS_S,
		       "100ms-60s"},
};

#undef F

static unsigned *u_field(struct conf_limits *l, const struct lkey *k)
{
	return (unsigned *)(void *)((char *)l + k->off);
}

static const unsigned *u_cfield(const struct conf_limits *l, const struct lkey *k)
{
	return (const unsigned *)(const void *)((const char *)l + k->off);
}

static int *i_field(struct conf_limits *l, const struct lkey *k)
{
	return (int *)(void *)((char *)l + k->off);
}

static const int *i_cfield(const struct conf_limits *l, const struct lkey *k)
{
	return (const int *)(const void *)((const char *)l + k->off);
}

/* ---- numbers, durations, sizes ------------------------------------------ */

/* Milliseconds per unit of a duration suffix; 0 when it is not one. */
static uint64_t unit_ms(const char *u)
{
	static const struct {
		const char *name;
		uint64_t ms;
	} units[] = {{"", MS_S},    {"ms", 1},	    {"s", MS_S},
		     {"m", MS_MIN}, {"h", MS_HOUR}, {"d", MS_DAY}};

	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(u, units[i].name) == 0)
			return units[i].ms;
	return 0;
}

int conf_dur_parse(const char *s, uint64_t *ms)
{
	size_t n = strspn(s, "0123456789");
	uint64_t v, mul = unit_ms(s + n);
	int r;

	if (n == 0 || mul == 0)
		return -1;
	if ((r = conf_parse_u64(s, n, &v)) < 0)
		return r;
	if (v > UINT64_MAX / mul)
		return -2;
	*ms = v * mul;
	return 0;
}

/* An optional '-' and decimal digits. 0, -1 when not a number, -2 when huge. */
static int int_parse(const char *s, int64_t *out)
{
	int neg = s[0] == '-';
	uint64_t v;
	int r = conf_parse_u64(s + neg, strlen(s + neg), &v);

	if (r < 0)
		return r;
	if (v > INT64_MAX)
		return -2;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

int conf_dur_arg(struct pctx *p, const char *what, const char *s, const struct conf_dur_bounds *b,
		 uint64_t *ms)
{
	char qb[QUOTE_MAX];
	int r = conf_dur_parse(s, ms);

	if (r == -1)
		return conf_perr(p, "%s: '%s' " DUR_SYNTAX, what, conf_q(qb, sizeof qb, s));
	if (r == 0 && b->secs && *ms % MS_S != 0)
		return conf_perr(p, "%s: %s must be whole seconds", what, conf_q(qb, sizeof qb, s));
	if (r == -2 || *ms < b->lo || *ms > b->hi)
		return conf_perr(p, "%s: %s is out of range %s", what, conf_q(qb, sizeof qb, s),
				 b->range);
	return 0;
}

/* A duration of key k checked against its bounds; secs: must be whole seconds. */
static int dur_arg(struct pctx *p, const struct lkey *k, const char *s, int secs, uint64_t *ms)
{
	const struct conf_dur_bounds b = {(uint64_t)k->lo, (uint64_t)k->hi, k->range, secs};
	char what[QUOTE_MAX];

	if (str_fmt(what, sizeof what, "limits: %s", k->name) < 0)
		return conf_perr(p, "limits: key name too long");
	return conf_dur_arg(p, what, s, &b, ms);
}

/* A number of key k in its bounds (signed keys: lo may be negative). */
static int num_arg(struct pctx *p, const struct lkey *k, const char *s, int64_t *v)
{
	char qb[QUOTE_MAX];
	uint64_t u = 0;
	int r;

	if (k->lo < 0) {
		r = int_parse(s, v);
	} else {
		r = conf_parse_u64(s, strlen(s), &u);
		*v = (int64_t)(u > INT64_MAX ? INT64_MAX : u);
	}
	if (r == -1)
		return conf_perr(p, "limits: %s: '%s' is not a number", k->name,
				 conf_q(qb, sizeof qb, s));
	if (r == -2 || *v < k->lo || *v > k->hi)
		return conf_perr(p, "limits: %s: %s is out of range %s", k->name,
				 conf_q(qb, sizeof qb, s), k->range);
	return 0;
}

/* ---- one value per kind ------------------------------------------------- */

static void set_count(struct pctx *p, const struct lkey *k, const char *s)
{
	int64_t v;

	if (k->kind == LK_COUNT_OFF && strcmp(s, "off") == 0)
		*u_field(&p->c->limits, k) = 0;
	else if (num_arg(p, k, s, &v) == 0)
		*u_field(&p->c->limits, k) = (unsigned)v;
}

static void set_rcpt(struct pctx *p, const struct lkey *k, const char *s)
{
	int64_t v;

	if (num_arg(p, k, s, &v) == 0)
		p->c->max_rcpt = (unsigned)v;
}

static void set_score(struct pctx *p, const struct lkey *k, const char *s)
{
	int64_t v;

	if (num_arg(p, k, s, &v) < 0)
		return;
	if (v <= 0)
		conf_perr(p,
			  "limits: %s: must be at least 1 (a client on no list scores 0, so %d "
			  "would refuse every client)",
			  k->name, (int)v);
	else
		*i_field(&p->c->limits, k) = (int)v;
}

static void set_duration(struct pctx *p, const struct lkey *k, const char *s)
{
	int secs = k->kind == LK_SECS;
	uint64_t ms;

	if (dur_arg(p, k, s, secs, &ms) == 0)
		*u_field(&p->c->limits, k) = (unsigned)(secs ? ms / MS_S : ms);
}

static void set_switch(struct pctx *p, const struct lkey *k, const char *s)
{
	if (strcmp(s, "on") == 0)
		*i_field(&p->c->limits, k) = 1;
	else if (strcmp(s, "off") == 0)
		*i_field(&p->c->limits, k) = 0;
	else
		conf_perr(p, "limits: %s: expected on or off", k->name);
}

static void set_size(struct pctx *p, const struct lkey *k, const char *s)
{
	char qb[QUOTE_MAX];
	uint64_t v = 0;

	if (conf_size_parse(s, &v) < 0 || strpbrk(s, "gG"))
		conf_perr(p, "limits: %s: '%s' is not a size (N, NK or NM)", k->name,
			  conf_q(qb, sizeof qb, s));
	else if (v < (uint64_t)k->lo || v > (uint64_t)k->hi)
		conf_perr(p, "limits: %s: %s is out of range %s", k->name, conf_q(qb, sizeof qb, s),
			  k->range);
	else
		p->c->limits.session_memory = (size_t)v;
}

/* "N/DURATION": N 1-100000000, a period of whole seconds from 1s to 1d. */
static int rate_parse(struct pctx *p, const struct lkey *k, const char *s, struct conf_rate *r)
{
	char qb[QUOTE_MAX], num[24];
	const char *slash = strchr(s, '/');
	uint64_t n = 0, ms;
	int e;

	if (!slash || str_copyn(num, sizeof num, s, (size_t)(slash - s)) < 0 ||
	    (e = conf_parse_u64(num, strlen(num), &n)) == -1)
		return conf_perr(p, "limits: %s: " RATE_SYNTAX, k->name);
	if (e == -2 || n < 1 || n > RATE_MAX)
		return conf_perr(p, "limits: %s: count %s is out of range 1-100000000", k->name,
				 conf_q(qb, sizeof qb, num));
	if ((e = conf_dur_parse(slash + 1, &ms)) == -1)
		return conf_perr(p, "limits: %s: period '%s' " DUR_SYNTAX, k->name,
				 conf_q(qb, sizeof qb, slash + 1));
	if (e == 0 && ms % MS_S != 0)
		return conf_perr(p, "limits: %s: period %s must be whole seconds", k->name,
				 conf_q(qb, sizeof qb, slash + 1));
	if (e == -2 || ms < MS_S || ms > MS_DAY)
		return conf_perr(p, "limits: %s: period %s is out of range 1s-1d", k->name,
				 conf_q(qb, sizeof qb, slash + 1));
	r->count = (unsigned)n;
	r->period = (unsigned)(ms / MS_S);
	return 0;
}

static void set_rate(struct pctx *p, const struct lkey *k, const char *s)
{
	struct conf_rate *r = (struct conf_rate *)(void *)((char *)&p->c->limits + k->off);
	struct conf_rate v;

	if (strcmp(s, "off") == 0)
		r->count = 0; /* the period stays >= 1 */
	else if (rate_parse(p, k, s, &v) == 0)
		*r = v;
}

/* ---- URL hosts: store redis://HOST[:PORT], relay via smtp://HOST[:PORT] -- */

/* Set a static reason and fail. */
static int fail(const char **why, const char *reason)
{
	*why = reason;
	return -1;
}

/* Split "[V6]:P", "[V6]", "H:P" or "H": the host into host[cap], the port
 * text (NULL when there is none) into *port, and whether it was [V6]. */
static int url_split(const char *s, char *host, size_t cap, const char **port, int *v6,
		     const char **why)
{
	const char *h = s, *rest;

	*v6 = s[0] == '[';
	if (*v6) {
		if (!(rest = strchr(s, ']')))
			return fail(why, "missing ']' after the IPv6 address");
		h = s + 1;
		if (rest[1] != '\0' && rest[1] != ':')
			return fail(why, "unexpected text after ']'");
	} else if (!(rest = strchr(s, ':'))) {
		rest = s + strlen(s);
	}
	if (str_copyn(host, cap, h, (size_t)(rest - h)) < 0)
		return fail(why, "host too long");
	rest += *v6;
	*port = *rest == ':' ? rest + 1 : NULL;
	return 0;
}

/* The host part: an IPv6 literal, an IPv4 address or a hostname (lowercased). */
static int url_host(struct pctx *p, const char *what, const char *h, int v6, char *out, size_t cap)
{
	unsigned char a[16];
	const char *why;
	char qb[QUOTE_MAX];

	if (v6 && inet_pton(AF_INET6, h, a) != 1)
		return conf_perr(p, "%s: '%s' is not an IPv6 address", what,
				 conf_q(qb, sizeof qb, h));
	if (!v6 && inet_pton(AF_INET, h, a) != 1 && conf_hostname_check(h, strlen(h), &why) < 0)
		return conf_perr(p, "%s: '%s' is neither an IPv4 address nor a hostname: %s", what,
				 conf_q(qb, sizeof qb, h), why);
	if (conf_host_normalize(out, cap, h, strlen(h)) < 0)
		return conf_perr(p, "%s: host too long", what);
	return 0;
}

static int url_port(struct pctx *p, const char *what, const char *s, unsigned *port)
{
	char qb[QUOTE_MAX];
	uint64_t v = 0;
	int r = conf_parse_u64(s, strlen(s), &v);

	if (s[0] == '\0')
		return conf_perr(p, "%s: missing port after ':'", what);
	if (r == -1)
		return conf_perr(p, "%s: port '%s' is not a number", what,
				 conf_q(qb, sizeof qb, s));
	if (r == -2 || v < 1 || v > 65535)
		return conf_perr(p, "%s: port %s is out of range 1-65535", what,
				 conf_q(qb, sizeof qb, s));
	*port = (unsigned)v;
	return 0;
}

int conf_url_hostport(struct pctx *p, const char *what, const char *url, size_t scheme_len,
		      char *host, size_t cap, unsigned *port)
{
	char raw[CONF_NAME_MAX];
	const char *s = url + scheme_len, *c = strchr(s, ':'), *ptext, *why;
	int v6;

	if (s[0] != '[' && c && strchr(c + 1, ':'))
		return conf_perr(p, "%s: IPv6 addresses must be in brackets, e.g. %.*s[::1]:%u",
				 what, (int)scheme_len, url, *port);
	if (url_split(s, raw, sizeof raw, &ptext, &v6, &why) < 0)
		return conf_perr(p, "%s: %s", what, why);
	if (url_host(p, what, raw, v6, host, cap) < 0 ||
	    (ptext && url_port(p, what, ptext, port) < 0))
		return -1;
	return 0;
}

static void set_store(struct pctx *p, const struct lkey *k, const char *s)
{
	struct conf_limits *l = &p->c->limits;
	char norm[CONF_NAME_MAX];
	unsigned portnum = REDIS_PORT;

	if (strcmp(s, "local") == 0) {
		l->store[0] = l->store_host[0] = '\0';
		l->store_port = 0;
		return;
	}
	if (strncmp(s, REDIS_PFX, strlen(REDIS_PFX)) != 0) {
		conf_perr(p, "limits: %s: expected local or redis://HOST[:PORT]", k->name);
		return;
	}
	if (conf_url_hostport(p, "limits: store", s, strlen(REDIS_PFX), norm, sizeof norm,
			      &portnum) < 0)
		return;
	if (str_copy(l->store, sizeof l->store, s) < 0 ||
	    str_copy(l->store_host, sizeof l->store_host, norm) < 0) {
		conf_perr(p, "limits: %s: too long", k->name);
		return;
	}
	l->store_port = portnum;
}

/* ---- lines -------------------------------------------------------------- */

static const struct lkey *key_find(const char *name, size_t *idx)
{
	for (size_t i = 0; i < L_COUNT; i++) {
		if (strcmp(keys[i].name, name) == 0) {
			*idx = i;
			return &keys[i];
		}
	}
	return NULL;
}

static void key_set(struct pctx *p, const struct lkey *k, const char *v)
{
	switch (k->kind) {
	case LK_COUNT:
	case LK_COUNT_OFF:
		set_count(p, k, v);
		break;
	case LK_RATE:
		set_rate(p, k, v);
		break;
	case LK_SECS:
	case LK_MSECS:
		set_duration(p, k, v);
		break;
	case LK_SWITCH:
		set_switch(p, k, v);
		break;
	case LK_SIZE:
		set_size(p, k, v);
		break;
	case LK_SCORE:
		set_score(p, k, v);
		break;
	case LK_STORE:
		set_store(p, k, v);
		break;
	case LK_RCPT:
		set_rcpt(p, k, v);
		break;
	}
}

/* Is this the first setting of key idx? Records the line; reports a repeat. */
static int key_first(struct pctx *p, const struct lkey *k, size_t idx)
{
	int *seen = k->kind == LK_RCPT ? &p->first_line[D_MAXRCPT] : &p->limit_line[idx];

	if (*seen) {
		if (k->kind == LK_RCPT && !p->limit_line[idx])
			return conf_perr(p, "limits: %s: max-recipients is already set (line %d)",
					 k->name, *seen);
		return conf_perr(p, "limits: %s: duplicate (first on line %d)", k->name, *seen);
	}
	*seen = p->line;
	p->limit_line[idx] = p->line;
	return 0;
}

/* The key t->v[at] with its value t->v[at + 1]; in_block: inside `limits {`. */
static void key_line(struct pctx *p, const struct toks *t, int at, int in_block)
{
	char qb[QUOTE_MAX];
	size_t idx;
	const char *name = t->v[at];
	const struct lkey *k = key_find(name, &idx);

	if (!k && conf_directive_known(name))
		conf_perr(p, "limits: '%s' is a directive, not a limit%s",
			  conf_q(qb, sizeof qb, name),
			  in_block ? " (close the block with '}' first)" : "");
	else if (!k)
		conf_perr(p, "limits: unknown key '%s'", conf_q(qb, sizeof qb, name));
	else if (t->n - at != 2)
		conf_perr(p, "limits: %s: expected one value (usage: %s %s)", k->name, k->name,
			  k->usage);
	else if (key_first(p, k, idx) == 0)
		key_set(p, k, t->v[at + 1]);
}

static void block_close(struct pctx *p, const struct toks *t)
{
	if (!p->limits_block) {
		conf_perr(p, "'}' without an open limits block");
		return;
	}
	if (t->n != 1)
		conf_perr(p, "limits: '}' must be alone on its line");
	p->limits_block = 0;
}

int conf_limits_block_line(struct pctx *p, const struct toks *t)
{
	if (strcmp(t->v[0], "}") == 0) {
		block_close(p, t);
		return 1;
	}
	if (!p->limits_block)
		return 0;
	if (strcmp(t->v[0], "limits") == 0)
		conf_perr(p, "limits: blocks do not nest (this one was opened on line %d)",
			  p->limits_block);
	else
		key_line(p, t, 0, 1);
	return 1;
}

void conf_limits_directive(struct pctx *p, const struct toks *t)
{
	if (strcmp(t->v[1], "{") != 0) {
		key_line(p, t, 1, 0);
		return;
	}
	if (t->n != 2)
		conf_perr(p, "limits: '{' must be the last token on the line");
	p->limits_block = p->line; /* opened even so: the lines that follow are limits */
}

/* ---- dnsbl ZONE[=A.B.C.D,...] [WEIGHT] ---------------------------------- */

/* One answer of a match list: an IPv4 address in 127.0.0.0/8. */
static int dnsbl_answer(struct pctx *p, const char *s, size_t n, uint32_t *out)
{
	char a[CONF_PATH_MAX], qb[QUOTE_MAX];
	struct in_addr in;

	if (n == 0)
		return conf_perr(p, "dnsbl: empty answer in the list after '='");
	(void)str_copyn(a, sizeof a, s, n); /* n < the token's size */
	if (inet_pton(AF_INET, a, &in) != 1)
		return conf_perr(p, "dnsbl: answer '%s' is not an IPv4 address",
				 conf_q(qb, sizeof qb, a));
	*out = ntohl(in.s_addr);
	if (*out >> 24 != 127)
		return conf_perr(p, "dnsbl: answer %s is not in 127.0.0.0/8", a);
	if (*out >> 8 == 0x7fffffu)
		return conf_perr(p, "dnsbl: answer %s is a list's error code, never a listing", a);
	return 0;
}

static int dnsbl_matches(struct pctx *p, const char *s, struct conf_dnsbl *b)
{
	for (;;) {
		size_t n = strcspn(s, ",");
		if (b->n_match >= CONF_DNSBL_MATCH_MAX)
			return conf_perr(p, "dnsbl: too many answers (at most %d)",
					 CONF_DNSBL_MATCH_MAX);
		if (dnsbl_answer(p, s, n, &b->match[b->n_match]) < 0)
			return -1;
		b->n_match++;
		if (s[n] == '\0')
			return 0;
		s += n + 1;
	}
}

static int dnsbl_zone(struct pctx *p, const char *s, size_t n, struct conf_dnsbl *b)
{
	char qb[QUOTE_MAX], zone[CONF_PATH_MAX];
	const char *why;

	(void)str_copyn(zone, sizeof zone, s, n); /* n < the token's size */
	if (conf_hostname_check(s, n, &why) < 0)
		return conf_perr(p, "dnsbl: '%s' is not a valid zone: %s",
				 conf_q(qb, sizeof qb, zone), why);
	if (conf_host_normalize(b->zone, sizeof b->zone, s, n) < 0 || strlen(b->zone) > ZONE_MAX)
		return conf_perr(p,
				 "dnsbl: zone '%s' is too long (at most %d octets, so that "
				 "IPv6 queries fit)",
				 conf_q(qb, sizeof qb, zone), ZONE_MAX);
	for (size_t i = 0; i < p->c->limits.n_dnsbl; i++)
		if (strcmp(p->c->limits.dnsbl[i].zone, b->zone) == 0)
			return conf_perr(p, "dnsbl: duplicate zone '%s' (first on line %d)",
					 b->zone, p->c->limits.dnsbl[i].line);
	return 0;
}

static int dnsbl_weight(struct pctx *p, const char *s, int *w)
{
	char qb[QUOTE_MAX];
	int64_t v = 0;
	int r = int_parse(s, &v);

	if (r == -1)
		return conf_perr(p, "dnsbl: weight '%s' is not a number", conf_q(qb, sizeof qb, s));
	if (r == -2 || v < -100 || v > 100 || v == 0)
		return conf_perr(p,
				 "dnsbl: weight %s is out of range (-100 to -1 for an allow "
				 "list, 1 to 100 for a block list)",
				 conf_q(qb, sizeof qb, s));
	*w = (int)v;
	return 0;
}

void conf_limits_dnsbl(struct pctx *p, const struct toks *t)
{
	struct conf_limits *l = &p->c->limits;
	struct conf_dnsbl b;
	const char *eq = strchr(t->v[1], '=');
	size_t zlen = eq ? (size_t)(eq - t->v[1]) : strlen(t->v[1]);

	memset(&b, 0, sizeof b);
	b.weight = 1;
	b.line = p->line;
	if (l->n_dnsbl >= CONF_MAX_DNSBL) {
		conf_perr(p, "dnsbl: too many lists (at most %d)", CONF_MAX_DNSBL);
		return;
	}
	if (dnsbl_zone(p, t->v[1], zlen, &b) < 0 || (eq && dnsbl_matches(p, eq + 1, &b) < 0) ||
	    (t->n == 3 && dnsbl_weight(p, t->v[2], &b.weight) < 0))
		return;
	l->dnsbl[l->n_dnsbl++] = b;
}

/* ---- whole-file checks -------------------------------------------------- */

static int later(int a, int b)
{
	return a > b ? a : b;
}

void conf_limits_finish(struct pctx *p)
{
	const struct conf_limits *l = &p->c->limits;
	const int *at = p->limit_line;

	if (p->limits_block)
		conf_err_add(p->e, p->file, p->limits_block,
			     "limits: block is not closed (a line with '}' is missing)");
	if (l->tarpit_after >= l->max_errors)
		conf_err_add(p->e, p->file, later(at[L_TARPIT_AFTER], at[L_MAX_ERRORS]),
			     "limits: tarpit-after (%u) must be less than max-errors (%u)",
			     l->tarpit_after, l->max_errors);
	if (l->session_timeout < l->cmd_timeout)
		conf_err_add(p->e, p->file, later(at[L_SESSION_TIMEOUT], at[L_CMD_TIMEOUT]),
			     "limits: session-timeout (%us) must be at least command-timeout (%us)",
			     l->session_timeout, l->cmd_timeout);
}

/* ---- text for `sealpost check -n` --------------------------------------- */

int conf_dur_text(uint64_t ms, char *out, size_t cap)
{
	static const struct {
		char name[3];
		uint64_t ms;
	} units[] = {{"d", MS_DAY}, {"h", MS_HOUR}, {"m", MS_MIN}, {"s", MS_S}, {"ms", 1}};

	if (ms == 0)
		return str_fmt(out, cap, "0s");
	for (size_t i = 0;; i++)
		if (ms % units[i].ms == 0)
			return str_fmt(out, cap, "%llu%s", (unsigned long long)(ms / units[i].ms),
				       units[i].name);
}

static int size_text(uint64_t v, char *out, size_t cap)
{
	if (v >= 1024 * 1024 && v % (1024 * 1024) == 0)
		return str_fmt(out, cap, "%lluM", (unsigned long long)(v >> 20));
	if (v >= 1024 && v % 1024 == 0)
		return str_fmt(out, cap, "%lluK", (unsigned long long)(v >> 10));
	return str_fmt(out, cap, "%llu", (unsigned long long)v);
}

static int rate_text(const struct conf_rate *r, char *out, size_t cap)
{
	char d[32];

	if (r->count == 0)
		return str_fmt(out, cap, "off");
	if (conf_dur_text((uint64_t)r->period * MS_S, d, sizeof d) < 0)
		return -1;
	return str_fmt(out, cap, "%u/%s", r->count, d);
}

const char *conf_limits_key(size_t i)
{
	return i < L_COUNT ? keys[i].name : NULL;
}

static int value_text(const struct conf_limits *l, const struct lkey *k, char *val, size_t cap)
{
	switch (k->kind) {
	case LK_COUNT_OFF:
		if (*u_cfield(l, k) == 0)
			return str_fmt(val, cap, "off");
		/* fall through */
	case LK_COUNT:
		return str_fmt(val, cap, "%u", *u_cfield(l, k));
	case LK_RATE:
		return rate_text((const void *)((const char *)l + k->off), val, cap);
	case LK_SECS:
		return conf_dur_text((uint64_t)*u_cfield(l, k) * MS_S, val, cap);
	case LK_MSECS:
		return conf_dur_text(*u_cfield(l, k), val, cap);
	case LK_SWITCH:
		return str_fmt(val, cap, "%s", *i_cfield(l, k) ? "on" : "off");
	case LK_SIZE:
		return size_text(l->session_memory, val, cap);
	case LK_SCORE:
		return str_fmt(val, cap, "%d", *i_cfield(l, k));
	case LK_STORE:
		return str_fmt(val, cap, "%s", l->store[0] ? l->store : "local");
	case LK_RCPT:
		break;
	}
	return str_fmt(val, cap, "%s", "");
}

int conf_limits_value(const struct conf_limits *l, size_t i, char *val, size_t cap)
{
	if (i >= L_COUNT) {
		if (cap)
			val[0] = '\0';
		return -1;
	}
	return value_text(l, &keys[i], val, cap);
}

int conf_dnsbl_text(const struct conf_dnsbl *b, char *out, size_t cap)
{
	size_t o = strlen(b->zone);

	if (str_copy(out, cap, b->zone) < 0)
		return -1;
	for (size_t i = 0; i < b->n_match; i++) {
		uint32_t a = b->match[i];
		if (str_fmt(out + o, cap - o, "%c%u.%u.%u.%u", i ? ',' : '=', a >> 24,
			    (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff) < 0) {
			out[0] = '\0';
			return -1;
		}
		o += strlen(out + o);
	}
	return 0;
}
