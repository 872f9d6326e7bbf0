/*
 * conf_remote: reading back the outbound-delivery directives of a parsed
 * config in the grammar's own words (for `sealpost check -n`), and the
 * names of the outbound TLS modes. The parser side lives in conf_remote.c
 * behind conf_parse(); the struct is in conf.h.
 *
 * Security role: lets an operator see exactly which outbound TLS policy
 * and relay are in force; what is emitted here is read back by
 * conf_parse() unchanged. It never holds a secret (relay credentials live
 * in the `auth` file, whose path alone is shown).
 */
#ifndef SEALPOST_CONF_REMOTE_H
#define SEALPOST_CONF_REMOTE_H

#include "util/conf.h"

#define CONF_OUT_TOKENS_MAX 4 /* values of one line: "relay via URL auth FILE" */

/* The name of a TLS mode as `destination DOMAIN tls MODE` writes it. */
const char *conf_tls_out_name(enum conf_tls_out m);

/* Called once per directive line: name and its n values (unquoted). A
 * nonzero return is passed on by conf_outbound_nondefault. */
typedef int (*conf_emit_fn)(void *arg, const char *name, const char *const *v, int n);

/* emit() each outbound directive of o that differs from its default, in
 * grammar order; destination lines last. 0, or the first nonzero result of
 * emit, or -1 when a value cannot be written. */
int conf_outbound_nondefault(const struct conf_outbound *o, conf_emit_fn emit, void *arg);

#endif
