/*
 * str: bounded string helpers. Every function reports truncation instead of
 * hiding it.
 */
#ifndef SEALPOST_STR_H
#define SEALPOST_STR_H

#include <stddef.h>

/* Copy src into dst[cap]; returns 0, or -1 if it did not fit (dst is then ""). */
int str_copy(char *dst, size_t cap, const char *src);
/* Copy src[0..n) into dst[cap] with a NUL; -1 if it did not fit. */
int str_copyn(char *dst, size_t cap, const char *src, size_t n);
/* snprintf that returns 0, or -1 on truncation or error. */
int str_fmt(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Lowercase ASCII letters in place. */
void str_lower(char *s);
/* ASCII case-insensitive compare of s[0..n) with the NUL-terminated t. */
int str_eqn_nocase(const char *s, size_t n, const char *t);
/*
 * Copy untrusted text for a log line: control octets and non-ASCII become
 * '?', at most cap-1 octets, always NUL-terminated. Returns dst.
 */
char *str_sanitize(char *dst, size_t cap, const char *src, size_t n);

#endif
