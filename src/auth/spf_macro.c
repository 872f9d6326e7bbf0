/*
 * spf_macro: SPF macro-strings (RFC 7208 7): their syntax (domain-spec
 * and explain-string) and their expansion with the letters s l o d i p v
 * h c r t, the digit and "r" transformers, the delimiters .-+,/_= and the
 * escapes %% %_ %-; upper-case letters are URL-escaped (RFC 3986
 * unreserved kept). Also the check of an expanded domain name.
 *
 * Security role: the macro-strings come from DNS and the values partly
 * from the SMTP client; expansion is bounded by the caller's buffer and
 * fails instead of truncating (except the RFC's left-side truncation of
 * a domain past 253 octets). Pure; fuzzed by fuzz/fuzz_spf.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "auth/spf_int.h"

#define SPF_MACRO_DIGITS_MAX 1000 /* more parts than any value has */
#define SPF_VALUE_MAX	     1024 /* longest value split into parts */
#define SPF_DELIMS	     ".-+,/_="
#define SPF_DOMAIN_LEN_MAX   253
#define SPF_LABEL_MAX	     63

enum mitem_kind { MI_LIT, MI_MACRO };

struct mitem {
	enum mitem_kind kind;
	const char *lit; /* MI_LIT: text to copy */
	size_t lit_len;
	char letter; /* MI_MACRO: lower-case letter */
	int upper, reverse;
	int digits; /* 0: all parts */
	const char *delims;
	size_t n_delims;
};

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* "%{" letter *DIGIT [r] *delim "}" from s[i] (just after "%{"). */
static int mscan_macro(const char *s, size_t n, size_t *i, int domain, struct mitem *it)
{
	size_t k = *i;

	if (k >= n || !strchr("slodiphcrtv", lower((unsigned char)s[k])) || s[k] == '\0')
		return -1;
	it->kind = MI_MACRO;
	it->letter = (char)lower((unsigned char)s[k]);
	it->upper = s[k] != it->letter;
	if (domain && strchr("crt", it->letter))
		return -1; /* c, r and t only in explanations (RFC 7208 7.3) */
	for (k++; k < n && s[k] >= '0' && s[k] <= '9'; k++)
		if ((it->digits = it->digits * 10 + (s[k] - '0')) > SPF_MACRO_DIGITS_MAX)
			it->digits = SPF_MACRO_DIGITS_MAX;
	if (k > *i + 1 && it->digits == 0)
		return -1; /* a digit transformer must not be zero */
	if (k < n && lower((unsigned char)s[k]) == 'r') {
		it->reverse = 1;
		k++;
	}
	it->delims = s + k;
	while (k < n && s[k] != '\0' && strchr(SPF_DELIMS, s[k]))
		k++;
	it->n_delims = (size_t)(s + k - it->delims);
	if (k >= n || s[k] != '}')
		return -1;
	*i = k + 1;
	return 0;
}

/* The next item of a macro-string at s[*i]; 1, 0 at the end, -1 bad. */
static int mscan_next(const char *s, size_t n, size_t *i, int domain, struct mitem *it)
{
	unsigned char c;

	memset(it, 0, sizeof *it);
	if (*i >= n)
		return 0;
	c = (unsigned char)s[*i];
	it->kind = MI_LIT;
	it->lit = s + *i;
	it->lit_len = 1;
	if (c != '%') {
		if (c < 0x20 || c > 0x7e || (c == ' ' && domain))
			return -1;
		(*i)++;
		return 1;
	}
	if (*i + 1 >= n)
		return -1;
	c = (unsigned char)s[*i + 1];
	*i += 2;
	if (c == '{')
		return mscan_macro(s, n, i, domain, it) < 0 ? -1 : 1;
	if (c == '%')
		it->lit = "%";
	else if (c == '_')
		it->lit = " ";
	else if (c == '-') {
		it->lit = "%20";
		it->lit_len = 3;
	} else
		return -1;
	return 1;
}

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static int is_toplabel(const char *s, size_t n)
{
	int alpha = 0, dash = 0;

	if (n == 0 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = (char)lower((unsigned char)s[i]);
		if (c >= 'a' && c <= 'z')
			alpha = 1;
		else if (c == '-')
			dash = 1;
		else if (c < '0' || c > '9')
			return 0;
	}
	return alpha || dash;
}

/* domain-end: the literal tail s[0..n) after the last macro must be
 * "." toplabel [ "." ] (n == 0: the spec ends with a macro). */
static int domain_end_ok(const char *s, size_t n)
{
	const char *dot;

	if (n == 0)
		return 1;
	if (s[n - 1] == '.')
		n--;
	if (n == 0 || !(dot = memrchr(s, '.', n)))
		return 0;
	return is_toplabel(dot + 1, n - (size_t)(dot + 1 - s));
}

int spf_macro_check(const char *s, size_t n, int domain)
{
	struct mitem it;
	size_t i = 0, tail = 0;
	int rc;

	while ((rc = mscan_next(s, n, &i, domain, &it)) > 0)
		if (it.kind == MI_MACRO || it.lit != s + i - 1)
			tail = i; /* after a macro-expand, "%%", "%_" or "%-" */
	if (rc < 0)
		return -1;
	if (domain && (n == 0 || !domain_end_ok(s + tail, n - tail)))
		return -1;
	return 0;
}

int spf_macro_uses_p(const char *s, size_t n)
{
	struct mitem it;
	size_t i = 0;

	while (mscan_next(s, n, &i, 0, &it) > 0)
		if (it.kind == MI_MACRO && it.letter == 'p')
			return 1;
	return 0;
}

/* ---- expansion ---------------------------------------------------------- */

struct obuf {
	char *p;
	size_t cap, len;
};

static int out_put(struct obuf *o, const char *s, size_t n)
{
	if (n >= o->cap - o->len)
		return -1;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
	return 0;
}

static int is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* Copy s[0..n), URL-escaped when esc. */
static int out_part(struct obuf *o, const char *s, size_t n, int esc)
{
	char hex[4];

	if (!esc)
		return out_put(o, s, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (is_unreserved(c)) {
			if (out_put(o, s + i, 1) < 0)
				return -1;
		} else if (snprintf(hex, sizeof hex, "%%%02X", c) != 3 || out_put(o, hex, 3) < 0) {
			return -1;
		}
	}
	return 0;
}

static const char *macro_var(const struct spf_macro_vars *v, char letter)
{
	switch (letter) {
	case 's':
		return v->sender;
	case 'l':
		return v->local;
	case 'o':
		return v->sdomain;
	case 'd':
		return v->domain;
	case 'i':
		return v->ip;
	case 'p':
		return v->ptr;
	case 'v':
		return v->ipver;
	case 'h':
		return v->helo;
	case 'c':
		return v->cip;
	case 'r':
		return v->receiver;
	default:
		return NULL;
	}
}

/* Split val on the item's delimiters (default "."), reverse when asked,
 * keep the rightmost digits parts, join them with ".". */
static int macro_parts(const struct mitem *it, const char *val, struct obuf *o)
{
	uint16_t off[SPF_VALUE_MAX + 1], len[SPF_VALUE_MAX + 1];
	const char *delims = it->n_delims ? it->delims : ".";
	size_t dn = it->n_delims ? it->n_delims : 1, n = strlen(val), np = 0, start = 0, first;

	if (n > SPF_VALUE_MAX)
		return -1;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && !memchr(delims, val[i], dn))
			continue;
		off[np] = (uint16_t)start;
		len[np++] = (uint16_t)(i - start);
		start = i + 1;
	}
	first = it->digits > 0 && (size_t)it->digits < np ? np - (size_t)it->digits : 0;
	for (size_t k = first; k < np; k++) {
		size_t j = it->reverse ? np - 1 - k : k;
		if ((k > first && out_put(o, ".", 1) < 0) ||
		    out_part(o, val + off[j], len[j], it->upper) < 0)
			return -1;
	}
	return 0;
}

static int macro_one(const struct mitem *it, const struct spf_macro_vars *v, struct obuf *o)
{
	char now[24];
	const char *val = macro_var(v, it->letter);

	if (it->letter == 't') {
		if (snprintf(now, sizeof now, "%lld", v->now) <= 0)
			return -1;
		val = now;
	}
	if (!val)
		val = "";
	return macro_parts(it, val, o);
}

/* RFC 7208 4.8: drop labels on the left until at most 253 octets remain. */
static int domain_trim(struct obuf *o)
{
	size_t skip = 0;

	while (o->len - skip > SPF_DOMAIN_LEN_MAX) {
		const char *dot = memchr(o->p + skip, '.', o->len - skip);
		if (!dot)
			return -1;
		skip = (size_t)(dot - o->p) + 1;
	}
	memmove(o->p, o->p + skip, o->len - skip + 1);
	o->len -= skip;
	return 0;
}

int spf_macro_expand(const char *s, size_t n, int domain, const struct spf_macro_vars *v, char *out,
		     size_t cap)
{
	char big[SPF_EXPAND_MAX + 1]; /* a domain-spec may expand past 253 before trimming */
	struct obuf o = {domain ? big : out, domain ? sizeof big : cap, 0};
	struct mitem it;
	size_t i = 0;
	int rc;

	if (cap == 0)
		return -1;
	out[0] = '\0';
	o.p[0] = '\0';
	if (spf_macro_check(s, n, domain) < 0)
		return -1;
	while ((rc = mscan_next(s, n, &i, domain, &it)) > 0) {
		if (it.kind == MI_LIT ? out_put(&o, it.lit, it.lit_len) < 0
				      : macro_one(&it, v, &o) < 0)
			return -1;
	}
	if (rc < 0 || (domain && domain_trim(&o) < 0))
		return -1;
	if (domain) {
		if (o.len >= cap)
			return -1;
		memcpy(out, big, o.len + 1);
	}
	return 0;
}

int spf_domain_ok(const char *name)
{
	size_t n = strnlen(name, SPF_DOMAIN_LEN_MAX + 2), lab = 0, labels = 0;

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > SPF_DOMAIN_LEN_MAX)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && name[i] != '.') {
			if ((unsigned char)name[i] <= 0x20 || (unsigned char)name[i] >= 0x7f ||
			    ++lab > SPF_LABEL_MAX)
				return 0;
			continue;
		}
		if (lab == 0)
			return 0;
		lab = 0;
		labels++;
	}
	return labels >= 2;
}
