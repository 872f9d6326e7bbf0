/*
 * conf_int: what the parts of the sealpost.conf parser share (conf.c, the
 * core directives; conf_limits.c, the `limits` block and `dnsbl` lines;
 * conf_remote.c, the outbound-delivery directives).
 * Private to src/util/conf*.c: nothing else includes it.
 *
 * Security role: one tokenizer, one error collector and one set of number
 * and name validators for the whole grammar, so every part reports errors
 * the same way and refuses the same malformed input.
 */
#ifndef SEALPOST_CONF_INT_H
#define SEALPOST_CONF_INT_H

#include <stddef.h>
#include <stdint.h>

#include "util/conf.h"

#define QUOTE_MAX	    80	/* how much of a token an error message repeats */
#define WHY_MAX		    256 /* detail text built by helpers */
#define CONF_LIMIT_KEYS_MAX 32	/* keys of the limits block (conf_limits.c) */

/* The tokens of one line; v[0] is the directive name. */
struct toks {
	char v[CONF_MAX_ARGS][CONF_PATH_MAX];
	int n;
};

enum {
	D_VERSION,
	D_HOSTNAME,
	D_SPOOL,
	D_USER,
	D_QUSER,
	D_LISTEN,
	D_DOMAIN,
	D_USERS,
	D_SOCKET,
	D_POSTMASTER,
	D_RESOLVER,
	D_MAXMSG,
	D_MAXRCPT,
	D_WORKERS,
	D_TLS,
	D_AUTH_DELAY,
	D_AUTH_LOCK,
	D_AUTH_WINDOW,
	D_AUTH_LOCKTIME,
	D_TRUSTED,
	D_RCVD_AUTH,
	D_LIMITS,
	D_DNSBL,
	D_LIFETIME,
	D_DELAY_WARN,
	D_OUT_CONN,
	D_OUT_CONN_DEST,
	D_OUT_PORT,
	D_OUT_CA,
	D_TRUST_ANCHOR,
	D_MTA_STS,
	D_RELAY,
	D_DEST,
	D_AUTHSERV,
	D_CHECKS,
	D_SPF_FAIL,
	D_DMARC_POLICY,
	D_PSL,
	D_DKIM,
	D_COUNT
};

struct pctx {
	struct conf *c;
	struct conf_errors *e;
	const char *file;
	int line;
	int n_directives;		     /* directives seen so far ("version" must be first) */
	int first_line[D_COUNT];	     /* line a directive was first seen on, 0 = never */
	int limits_block;		     /* line of the open `limits {`, 0 = none open */
	int limit_line[CONF_LIMIT_KEYS_MAX]; /* line a limit key was set on, 0 = never */
};

/* Records an error about the current line; always returns -1. */
int conf_perr(struct pctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records an error about line (0 = the file as a whole). */
void conf_err_add(struct conf_errors *e, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A token made safe and short for an error message ("..." when cut). */
const char *conf_q(char *buf, size_t cap, const char *tok);

/* Decimal digits only. Returns 0, -1 when not a number, -2 on overflow. */
int conf_parse_u64(const char *s, size_t n, uint64_t *out);

/* N with an optional K, M or G suffix (powers of 1024); 0 or -1. */
int conf_size_parse(const char *s, uint64_t *out);

/* Copy a checked hostname, lowercased, without its trailing dot; 0 or -1. */
int conf_host_normalize(char *dst, size_t cap, const char *s, size_t n);

/* 1 if name is a top-level directive of the grammar. */
int conf_directive_known(const char *name);

/* Stores t->v[1], a number in lo..hi, into *out, or reports why it cannot
 * as "DIRECTIVE: reason". */
void conf_uint_arg(struct pctx *p, const struct toks *t, unsigned lo, unsigned hi, unsigned *out);

/* An absolute path without ".." components, trailing slashes dropped, into
 * dst[cap]; 0, or -1 with a static reason in *why. */
int conf_path_set(char *dst, size_t cap, const char *s, const char **why);

/* conf_path_set of t->v[1], errors reported as "DIRECTIVE: 'PATH' reason". */
void conf_set_path(struct pctx *p, const struct toks *t, char *dst, size_t cap);

/* t->v[1] as one of words[0..n): its index, or -1 after reporting
 * "DIRECTIVE: expected W1, W2 or W3". */
int conf_choice(struct pctx *p, const struct toks *t, const char *const *words, size_t n);

/* ---- conf_limits.c: durations and URL hosts (also used by conf_remote.c) - */

#define CONF_MS_S    1000ull
#define CONF_MS_MIN  (60 * CONF_MS_S)
#define CONF_MS_HOUR (60 * CONF_MS_MIN)
#define CONF_MS_DAY  (24 * CONF_MS_HOUR)

/* "N" (seconds) or N with ms, s, m, h or d, in milliseconds.
 * 0, -1 when not a duration, -2 when too large to count. */
int conf_dur_parse(const char *s, uint64_t *ms);

struct conf_dur_bounds {
	uint64_t lo, hi;   /* milliseconds */
	const char *range; /* lo-hi as an operator writes them: "1h-30d" */
	int secs;	   /* must be whole seconds */
};

/* A duration in its bounds into *ms; errors as "WHAT: reason". 0 or -1. */
int conf_dur_arg(struct pctx *p, const char *what, const char *s, const struct conf_dur_bounds *b,
		 uint64_t *ms);

/* A duration in the largest unit that divides it: 1d, 90m, 1500ms, 0s. */
int conf_dur_text(uint64_t ms, char *out, size_t cap);

/*
 * The "HOST[:PORT]" that follows the scheme of url (scheme_len octets, e.g.
 * "smtp://"): HOST an IPv4 address, an [IPv6] address or a hostname, copied
 * lowercased into host[cap]; *port is the default on entry and the written
 * port, if any, on return. Errors as "WHAT: reason". 0 or -1.
 */
int conf_url_hostport(struct pctx *p, const char *what, const char *url, size_t scheme_len,
		      char *host, size_t cap, unsigned *port);

/* ---- conf_limits.c: the limits block ------------------------------------ */

/* A line while a `limits {` block is open, or a stray `}`: handles it and
 * returns 1; any other line: returns 0 (a plain directive). */
int conf_limits_block_line(struct pctx *p, const struct toks *t);

/* The `limits` directive: `limits {` or `limits KEY VALUE...`. */
void conf_limits_directive(struct pctx *p, const struct toks *t);

/* The `dnsbl ZONE[=A.B.C.D,...] [WEIGHT]` directive. */
void conf_limits_dnsbl(struct pctx *p, const struct toks *t);

/* At end of file: an unclosed block, and checks across keys. */
void conf_limits_finish(struct pctx *p);

/* ---- conf_remote.c: outbound delivery ----------------------------------- */

void conf_out_lifetime(struct pctx *p, const struct toks *t);	   /* queue-lifetime */
void conf_out_delay_warning(struct pctx *p, const struct toks *t); /* delay-warning */
void conf_out_conn(struct pctx *p, const struct toks *t);	   /* outbound-connections */
void conf_out_conn_dest(struct pctx *p, const struct toks *t);	   /* ...-per-domain */
void conf_out_port(struct pctx *p, const struct toks *t);	   /* outbound-port */
void conf_out_ca_file(struct pctx *p, const struct toks *t);	   /* outbound-ca-file */
void conf_out_trust_anchor(struct pctx *p, const struct toks *t);  /* dnssec-trust-anchor */
void conf_out_mta_sts(struct pctx *p, const struct toks *t);	   /* mta-sts */
void conf_out_relay(struct pctx *p, const struct toks *t);	   /* relay via URL [auth F] */
void conf_out_destination(struct pctx *p, const struct toks *t);   /* destination D tls M */

/* At end of file: checks across outbound directives. */
void conf_outbound_finish(struct pctx *p);

/* ---- conf_auth.c: sender authentication --------------------------------- */

void conf_auth_authserv(struct pctx *p, const struct toks *t);
void conf_auth_checks(struct pctx *p, const struct toks *t);
void conf_auth_spf_fail(struct pctx *p, const struct toks *t);
void conf_auth_dmarc_policy(struct pctx *p, const struct toks *t);
void conf_auth_psl(struct pctx *p, const struct toks *t);
void conf_auth_dkim(struct pctx *p, const struct toks *t);

#endif
