/*
 * conf_int: what the parts of the sealpost.conf parser share (conf.c, the
 * core directives; conf_limits.c, the `limits` block and `dnsbl` lines).
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

/* ---- conf_limits.c ------------------------------------------------------ */

/* A line while a `limits {` block is open, or a stray `}`: handles it and
 * returns 1; any other line: returns 0 (a plain directive). */
int conf_limits_block_line(struct pctx *p, const struct toks *t);

/* The `limits` directive: `limits {` or `limits KEY VALUE...`. */
void conf_limits_directive(struct pctx *p, const struct toks *t);

/* The `dnsbl ZONE[=A.B.C.D,...] [WEIGHT]` directive. */
void conf_limits_dnsbl(struct pctx *p, const struct toks *t);

/* At end of file: an unclosed block, and checks across keys. */
void conf_limits_finish(struct pctx *p);

#endif
