/* str: bounded string helpers (see str.h). */
#include "util/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int str_copy(char *dst, size_t cap, const char *src)
{
	return str_copyn(dst, cap, src, strlen(src));
}

int str_copyn(char *dst, size_t cap, const char *src, size_t n)
{
	if (cap == 0)
		return -1;
	if (n >= cap) {
		dst[0] = '\0';
		return -1;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

int str_fmt(char *dst, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(dst, cap, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap) {
		if (cap)
			dst[0] = '\0';
		return -1;
	}
	return 0;
}

void str_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

int str_eqn_nocase(const char *s, size_t n, const char *t)
{
	return strlen(t) == n && strncasecmp(s, t, n) == 0;
}

char *str_sanitize(char *dst, size_t cap, const char *src, size_t n)
{
	size_t o = 0;
	if (cap == 0)
		return dst;
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[o++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	dst[o] = '\0';
	return dst;
}
