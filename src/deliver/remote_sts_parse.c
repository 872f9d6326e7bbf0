/*
 * remote_sts_parse: the pure parsers of MTA-STS (RFC 8461): the policy
 * body (3.2), the _mta-sts TXT record (3.1), MX pattern matching (4.1)
 * and the codec of sealpost's own cache files.
 *
 * Grammar notes: field names and the values STSv1/enforce/testing/none
 * are case-sensitive (%s in the RFC's ABNF); lines end in LF or CRLF;
 * blank lines are skipped; unknown fields are ignored but must still be
 * "name: value" with printable values; of a repeated field other than mx
 * the first counts. A policy with more than STS_MX_MAX mx lines, or a
 * max_age above STS_MAX_AGE_LIMIT, is refused rather than cut.
 *
 * Security role: every byte parsed here comes from the network (a web
 * server, a DNS answer) or from our cache directory; nothing is trusted,
 * every length is bounded, and the functions have a fuzz target
 * (fuzz/fuzz_sts.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "deliver/remote_sts.h"
#include "deliver/remote_sts_int.h"
#include "util/str.h"

#define STS_TXT_MAX	    2048 /* one TXT record, concatenated */
#define STS_NAME_MAX	    32	 /* field names: 1 + *31 (RFC 8461 3.1, 3.2) */
#define STS_ID_MAX	    32
#define STS_MAX_AGE_DIGITS  10
#define STS_CACHE_MAGIC	    "sealpost-mta-sts 1 "
#define STS_DOMAIN_TEXT_MAX 253

/* One "name: value" line, split. */
struct sts_line {
	const char *name, *val;
	size_t nlen, vlen;
};

static int sts_alnum(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

static int sts_wsp(int ch)
{
	return ch == ' ' || ch == '\t';
}

/* (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".") */
static int sts_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > STS_NAME_MAX || !sts_alnum((unsigned char)s[0]))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!sts_alnum((unsigned char)s[i]) && !strchr("_-.", s[i]))
			return 0;
	return 1;
}

/* One LDH label of a domain: Let-dig [Ldh-str], 1-63 octets. */
static int sts_label_ok(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !sts_alnum((unsigned char)s[0]) ||
	    !sts_alnum((unsigned char)s[n - 1]))
		return 0;
	for (size_t i = 1; i + 1 < n; i++)
		if (!sts_alnum((unsigned char)s[i]) && s[i] != '-')
			return 0;
	return 1;
}

int sts_domain_ok(const char *s, size_t n)
{
	size_t start = 0;

	if (n == 0 || n > STS_DOMAIN_TEXT_MAX)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (!sts_label_ok(s + start, i - start))
			return 0;
		start = i + 1;
	}
	return 1;
}

/* "name:" *WSP value *WSP, value printable (VCHAR, no space inside). */
static int sts_line_split(const char *s, size_t n, struct sts_line *l, const char **why)
{
	const char *colon = memchr(s, ':', n);
	size_t i;

	if (!colon || !sts_name_ok(s, (size_t)(colon - s))) {
		*why = "a line is not \"name: value\"";
		return -1;
	}
	l->name = s;
	l->nlen = (size_t)(colon - s);
	i = l->nlen + 1;
	while (i < n && sts_wsp(s[i]))
		i++;
	while (n > i && sts_wsp(s[n - 1]))
		n--;
	l->val = s + i;
	l->vlen = n - i;
	for (size_t k = 0; k < l->vlen; k++)
		if ((unsigned char)l->val[k] < 0x21 || (unsigned char)l->val[k] > 0x7e) {
			*why = "a field value holds a space or a control character";
			return -1;
		}
	if (l->vlen == 0) {
		*why = "a field has no value";
		return -1;
	}
	return 0;
}

static int sts_is(const struct sts_line *l, const char *name)
{
	return l->nlen == strlen(name) && memcmp(l->name, name, l->nlen) == 0;
}

static int sts_val_is(const struct sts_line *l, const char *v)
{
	return l->vlen == strlen(v) && memcmp(l->val, v, l->vlen) == 0;
}

static int sts_mode_set(struct sts_policy *p, const struct sts_line *l, const char **why)
{
	if (sts_val_is(l, "enforce"))
		p->mode = STS_ENFORCE;
	else if (sts_val_is(l, "testing"))
		p->mode = STS_TESTING;
	else if (sts_val_is(l, "none"))
		p->mode = STS_NONE;
	else {
		*why = "mode is not enforce, testing or none";
		return -1;
	}
	return 0;
}

static int sts_max_age_set(struct sts_policy *p, const struct sts_line *l, const char **why)
{
	uint64_t v = 0;

	if (l->vlen > STS_MAX_AGE_DIGITS) {
		*why = "max_age is not 1 to 10 digits";
		return -1;
	}
	for (size_t i = 0; i < l->vlen; i++) {
		if (l->val[i] < '0' || l->val[i] > '9') {
			*why = "max_age is not a number";
			return -1;
		}
		v = v * 10 + (uint64_t)(l->val[i] - '0');
	}
	if (v > STS_MAX_AGE_LIMIT) {
		*why = "max_age is above 31557600";
		return -1;
	}
	p->max_age = (uint32_t)v;
	return 0;
}

static int sts_mx_add(struct sts_policy *p, const struct sts_line *l, const char **why)
{
	size_t skip = (l->vlen > 2 && l->val[0] == '*' && l->val[1] == '.') ? 2 : 0;

	if (!sts_domain_ok(l->val + skip, l->vlen - skip)) {
		*why = "an mx pattern is not a domain or *.domain";
		return -1;
	}
	if (p->n_mx == STS_MX_MAX) {
		*why = "more than 16 mx patterns";
		return -1;
	}
	if (str_copyn(p->mx[p->n_mx], sizeof p->mx[0], l->val, l->vlen) < 0) {
		*why = "an mx pattern is too long";
		return -1;
	}
	str_lower(p->mx[p->n_mx++]);
	return 0;
}

enum { SEEN_VERSION = 1, SEEN_MODE = 2, SEEN_MAX_AGE = 4 };

/* Apply one line; a repeated field other than mx keeps its first value. */
static int sts_field(struct sts_policy *p, const struct sts_line *l, unsigned *seen,
		     const char **why)
{
	if (sts_is(l, "mx"))
		return sts_mx_add(p, l, why);
	if (sts_is(l, "version") && !(*seen & SEEN_VERSION)) {
		*seen |= SEEN_VERSION;
		if (!sts_val_is(l, "STSv1")) {
			*why = "version is not STSv1";
			return -1;
		}
	} else if (sts_is(l, "mode") && !(*seen & SEEN_MODE)) {
		*seen |= SEEN_MODE;
		return sts_mode_set(p, l, why);
	} else if (sts_is(l, "max_age") && !(*seen & SEEN_MAX_AGE)) {
		*seen |= SEEN_MAX_AGE;
		return sts_max_age_set(p, l, why);
	}
	return 0;
}

static int sts_policy_check(const struct sts_policy *p, unsigned seen, const char **why)
{
	if (!(seen & SEEN_VERSION))
		*why = "no version field";
	else if (!(seen & SEEN_MODE))
		*why = "no mode field";
	else if (!(seen & SEEN_MAX_AGE))
		*why = "no max_age field";
	else if (p->mode != STS_NONE && p->n_mx == 0)
		*why = "mode enforce or testing without an mx field";
	else
		return 0;
	return -1;
}

int sts_policy_parse(const char *body, size_t len, struct sts_policy *out, const char **why)
{
	unsigned seen = 0;
	size_t pos = 0;

	memset(out, 0, sizeof *out);
	while (pos < len) {
		const char *lf = memchr(body + pos, '\n', len - pos);
		size_t end = lf ? (size_t)(lf - body) : len, n = end - pos;
		struct sts_line l;

		if (n > 0 && body[pos + n - 1] == '\r')
			n--;
		if (n > 0 && (sts_line_split(body + pos, n, &l, why) < 0 ||
			      sts_field(out, &l, &seen, why) < 0)) {
			memset(out, 0, sizeof *out);
			return -1;
		}
		pos = end + 1;
	}
	if (sts_policy_check(out, seen, why) < 0) {
		memset(out, 0, sizeof *out);
		return -1;
	}
	return 0;
}

/* ---- MX patterns (RFC 8461 4.1) ----------------------------------------- */

int sts_mx_match(const char *pattern, const char *mx)
{
	size_t mlen = strlen(mx), plen = strlen(pattern);

	if (mlen > 0 && mx[mlen - 1] == '.')
		mlen--;
	if (mlen == 0 || plen == 0)
		return 0;
	if (plen > 2 && pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = memchr(mx, '.', mlen);
		size_t rest;
		if (!dot || dot == mx)
			return 0;
		rest = mlen - (size_t)(dot + 1 - mx);
		return rest == plen - 2 && strncasecmp(dot + 1, pattern + 2, rest) == 0;
	}
	return mlen == plen && strncasecmp(mx, pattern, mlen) == 0;
}

int sts_policy_mx_ok(const struct sts_policy *p, const char *mx)
{
	for (size_t i = 0; i < p->n_mx && i < STS_MX_MAX; i++)
		if (sts_mx_match(p->mx[i], mx))
			return 1;
	return 0;
}

/* ---- the TXT record (RFC 8461 3.1) -------------------------------------- */

/* Concatenate the character-strings of one TXT rdata; -1 if malformed or
 * longer than cap - 1 (*len is then how much was there, capped). */
static int sts_txt_join(const unsigned char *rr, size_t rlen, char *out, size_t cap, size_t *len)
{
	size_t pos = 0;

	*len = 0;
	while (pos < rlen) {
		size_t n = rr[pos++];
		if (n > rlen - pos)
			return -1;
		if (n > cap - 1 - *len) {
			memcpy(out + *len, rr + pos, cap - 1 - *len);
			*len = cap - 1;
			return -1;
		}
		memcpy(out + *len, rr + pos, n);
		*len += n;
		pos += n;
	}
	out[*len] = '\0';
	return 0;
}

/* Does a record begin with "v=STSv1" *WSP ";"? */
static int sts_txt_is_sts(const char *s, size_t n)
{
	size_t i = 7;

	if (n < 8 || memcmp(s, "v=STSv1", 7) != 0)
		return 0;
	while (i < n && sts_wsp(s[i]))
		i++;
	return i < n && s[i] == ';';
}

/* One "name=value" of the record; id= values must be 1*32(ALPHA / DIGIT). */
static int sts_txt_field(const char *s, size_t n, char id[33])
{
	const char *eq = memchr(s, '=', n);
	size_t nlen, vlen;

	if (!eq || !sts_name_ok(s, (size_t)(eq - s)))
		return -1;
	nlen = (size_t)(eq - s);
	vlen = n - nlen - 1;
	if (vlen == 0)
		return -1;
	for (size_t i = 0; i < vlen; i++) {
		unsigned char ch = (unsigned char)eq[1 + i];
		if (ch < 0x21 || ch > 0x7e || ch == '=' || ch == ';')
			return -1;
	}
	if (nlen != 2 || memcmp(s, "id", 2) != 0 || id[0] != '\0')
		return 0; /* an extension, or a repeated id: the first counts */
	if (vlen > STS_ID_MAX)
		return -1;
	for (size_t i = 0; i < vlen; i++)
		if (!sts_alnum((unsigned char)eq[1 + i]))
			return -1;
	memcpy(id, eq + 1, vlen);
	id[vlen] = '\0';
	return 0;
}

/* The fields after "v=STSv1": 1*(delim field) [delim], delim *WSP ";" *WSP. */
static int sts_txt_fields(const char *s, size_t n, char id[33])
{
	size_t i = 7, fields = 0;

	id[0] = '\0';
	while (i < n) {
		size_t start;
		while (i < n && sts_wsp(s[i]))
			i++;
		if (i == n || s[i] != ';')
			return -1;
		i++;
		while (i < n && sts_wsp(s[i]))
			i++;
		if (i == n)
			break;
		start = i;
		while (i < n && s[i] != ';' && !sts_wsp(s[i]))
			i++;
		if (sts_txt_field(s + start, i - start, id) < 0)
			return -1;
		fields++;
	}
	return fields > 0 && id[0] ? 0 : -1;
}

int sts_txt_select(const unsigned char *const *rr, const size_t *rr_len, size_t n, char id[33],
		   const char **why)
{
	char text[STS_TXT_MAX];
	size_t found = 0, len;
	int valid = 0;

	id[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int whole = sts_txt_join(rr[i], rr_len[i], text, sizeof text, &len) == 0;
		if (!sts_txt_is_sts(text, len))
			continue;
		found++;
		valid = whole && sts_txt_fields(text, len, id) == 0;
	}
	if (found == 1 && valid)
		return 0;
	id[0] = '\0';
	*why = found == 0  ? "no v=STSv1 TXT record"
	       : found > 1 ? "several v=STSv1 TXT records"
			   : "malformed v=STSv1 TXT record";
	return -1;
}

/* ---- cache files ---------------------------------------------------------- */

static const char *sts_mode_word(enum sts_mode m)
{
	return m == STS_ENFORCE ? "enforce" : m == STS_TESTING ? "testing" : "none";
}

/* "sealpost-mta-sts 1 FETCHED ID\n" then the policy as RFC 8461 text. */
int sts_cache_encode(const struct sts_policy *p, char *out, size_t cap, size_t *len)
{
	size_t n;

	if (str_fmt(out, cap, STS_CACHE_MAGIC "%lld %s\nversion: STSv1\nmode: %s\n",
		    (long long)p->fetched, p->id, sts_mode_word(p->mode)) < 0)
		return -1;
	for (size_t i = 0; i < p->n_mx && i < STS_MX_MAX; i++) {
		n = strlen(out);
		if (str_fmt(out + n, cap - n, "mx: %s\n", p->mx[i]) < 0)
			return -1;
	}
	n = strlen(out);
	if (str_fmt(out + n, cap - n, "max_age: %u\n", (unsigned)p->max_age) < 0)
		return -1;
	*len = strlen(out);
	return 0;
}

/* The head line's "FETCHED ID"; returns the offset after its LF, or 0. */
static size_t sts_cache_head(const char *t, size_t len, struct sts_policy *p)
{
	size_t i = sizeof STS_CACHE_MAGIC - 1, idl = 0;
	int64_t v = 0;

	if (len < i || memcmp(t, STS_CACHE_MAGIC, i) != 0)
		return 0;
	for (; i < len && t[i] >= '0' && t[i] <= '9'; i++) {
		if (v > (INT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (t[i] - '0');
	}
	if (i == sizeof STS_CACHE_MAGIC - 1 || i == len || t[i++] != ' ')
		return 0;
	for (; i < len && sts_alnum((unsigned char)t[i]) && idl < STS_ID_MAX; i++)
		p->id[idl++] = t[i];
	if (idl == 0 || i == len || t[i] != '\n')
		return 0;
	p->id[idl] = '\0';
	p->fetched = (time_t)v;
	return i + 1;
}

int sts_cache_decode(const char *text, size_t len, struct sts_policy *out, const char **why)
{
	struct sts_policy head;
	size_t off;

	memset(&head, 0, sizeof head);
	if ((off = sts_cache_head(text, len, &head)) == 0) {
		memset(out, 0, sizeof *out);
		*why = "bad cache file head";
		return -1;
	}
	if (sts_policy_parse(text + off, len - off, out, why) < 0)
		return -1;
	memcpy(out->id, head.id, sizeof out->id);
	out->fetched = head.fetched;
	return 0;
}
