/*
 * conf_limits: reading back the `limits` keys and `dnsbl` lines of a parsed
 * config in the grammar's own words (for `sealpost check -n`). The parser
 * side lives in conf_limits.c behind conf_parse(); the struct is in conf.h.
 *
 * Security role: lets an operator see exactly which abuse limits are in
 * force; the text written here is read back by conf_parse() unchanged.
 */
#ifndef SEALPOST_CONF_LIMITS_H
#define SEALPOST_CONF_LIMITS_H

#include <stddef.h>

#include "util/conf.h"

#define CONF_LIMIT_TEXT_MAX (CONF_NAME_MAX + 16) /* the longest value text, NUL included */

/* The name of limits key i (grammar order), or NULL when i is past the last. */
const char *conf_limits_key(size_t i);

/*
 * Write the value of key i in l to val[cap] as the grammar reads it ("60/1m",
 * "off", "256K", "redis://[::1]:6379"), or "" for a key that is not a field
 * of l (recipients-per-message: that is max-recipients). 0, or -1 when i is
 * past the last key or val is too small.
 */
int conf_limits_value(const struct conf_limits *l, size_t i, char *val, size_t cap);

/* Write "ZONE" or "ZONE=A.B.C.D,..." of a dnsbl line to out[cap]; 0 or -1. */
int conf_dnsbl_text(const struct conf_dnsbl *b, char *out, size_t cap);

#endif
