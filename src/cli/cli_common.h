/*
 * cli_common: helpers shared by the sealpost subcommands: a small option
 * parser (GNU style: options and arguments may be mixed, "--" ends
 * options, --name=value and -cVALUE forms), error printing and config
 * loading.
 *
 * Security role: argv is parsed with explicit bounds and every usage
 * error is reported, never guessed around.
 */
#ifndef SEALPOST_CLI_COMMON_H
#define SEALPOST_CLI_COMMON_H

#include <stddef.h>

#include "util/conf.h"

struct cli_opt {
	const char *name; /* long name without "--", or NULL */
	char short_name;  /* single letter, or 0 */
	int has_arg;	  /* 1: takes a value */
};

struct cli_parser {
	int argc;
	char **argv;
	int i;		 /* next argv index */
	int only_args;	 /* "--" seen */
	const char *cmd; /* subcommand name for messages (argv[0]) */
	const char *arg; /* the value of the option, or the argument, just returned */
};

#define CLI_END (-1) /* no more arguments */
#define CLI_ARG (-2) /* a non-option argument, in p->arg */
#define CLI_BAD (-3) /* usage error, already printed: exit 2 */

/* argv[0] is the subcommand name; parsing starts at argv[1]. */
void cli_parser_init(struct cli_parser *p, int argc, char **argv);

/* The index in opts[0..n) of the next option (value in p->arg), or CLI_*. */
int cli_next(struct cli_parser *p, const struct cli_opt *opts, size_t n);

/* Print "sealpost: " + message + newline to stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Load and check the config at path; print every error. NULL on failure. */
struct conf *cli_conf_load(const char *path);

/* A config holding only the defaults (commands that read no file: dns,
 * dnsbl, spf, dkim ...). NULL after printing why. Free with cli_conf_free. */
struct conf *cli_conf_defaults(void);

/* "CMD: bad WHAT 'ARG' (try sealpost CMD --help)" on stderr; returns -1. */
int cli_bad(const char *cmd, const char *what, const char *arg);

/* Sender authentication's files: the Public Suffix List (when checks are
 * on) and every `dkim sign` key, loadable; a key others can read is
 * warned about. Errors printed as file:line. 0 or -1. */
int cli_check_mailauth(const struct conf *c);

/* Free a config from cli_conf_load (NULL is fine). */
void cli_conf_free(struct conf *c);

/* --resolver ADDR, ADDR:PORT, IPV6, [IPV6] or [IPV6]:PORT (numeric; port 53
 * by default) into c->resolver and c->resolver_addr. 0 or -1. */
int cli_resolver_parse(const char *s, struct conf *c);

#endif
