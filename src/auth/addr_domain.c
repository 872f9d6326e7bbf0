/* addr_domain: the domain of one mail address (see addr_domain.h). */
#include "auth/addr_domain.h"

#include <string.h>

#include "auth/dmarc.h"
#include "util/conf.h"
#include "util/str.h"

/* Where the local part of addr ends (at its '@'), or NULL. */
static const char *addr_at(const char *addr)
{
	const char *p = addr;

	if (*p != '"') {
		const char *at = strchr(p, '@');
		return at && strchr(at + 1, '@') == NULL ? at : NULL;
	}
	for (p++; *p && *p != '"'; p++)
		if (*p == '\\' && p[1])
			p++;
	if (*p != '"' || p[1] != '@' || strchr(p + 2, '@'))
		return NULL;
	return p + 1;
}

int addr_domain(const char *addr, char *out, size_t cap)
{
	const char *at = addr_at(addr), *why;
	size_t n;

	if (!at || cap == 0)
		return -1;
	n = strlen(at + 1);
	while (n > 0 && at[n] == '.')
		n--; /* "example.org." is example.org */
	if (n == 0 || psl_name_ascii(at + 1, n, out, cap) < 0)
		return -1;
	str_lower(out);
	return conf_hostname_check(out, strlen(out), &why) < 0 ? -1 : 0;
}
