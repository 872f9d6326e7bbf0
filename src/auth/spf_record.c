/*
 * spf_record: the pure SPF record parser (RFC 7208 4.5, 4.6, 5, 6, 12):
 * picking the one "v=spf1" TXT record, splitting it into terms and
 * checking each term's syntax (qualifiers, mechanism names, domain-specs,
 * ip4/ip6 networks, dual-cidr lengths, modifiers).
 *
 * Security role: parses text from a DNS server the sender controls. Works
 * on (pointer, length) pairs, never reads past them, never allocates;
 * fuzzed by fuzz/fuzz_spf.c.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "auth/spf_int.h"
#include "util/str.h"

#define SPF_VERSION	"v=spf1"
#define SPF_VERSION_LEN 6
#define SPF_IPTEXT_MAX	64 /* longest ip4/ip6 network text */

static int bad(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return -1;
}

/* ---- choosing the record ------------------------------------------------ */

/* Concatenate the strings of one TXT rdata into out[cap] (up to cap-1
 * octets); the full length in *full. -1 when the rdata is malformed. */
static int txt_concat(const unsigned char *rd, size_t n, char *out, size_t cap, size_t *full)
{
	size_t i = 0, o = 0;

	while (i < n) {
		size_t l = rd[i++];
		if (l > n - i)
			return -1;
		for (size_t k = 0; k < l; k++, o++)
			if (o + 1 < cap)
				out[o] = (char)rd[i + k];
		i += l;
	}
	if (cap > 0)
		out[o < cap ? o : cap - 1] = '\0';
	*full = o;
	return 0;
}

int spf_txt_text(const unsigned char *rd, size_t n, char *out, size_t cap, size_t *len)
{
	if (txt_concat(rd, n, out, cap, len) < 0 || *len >= cap)
		return -1;
	return 0;
}

/* Does text (of full length n) begin with the version "v=spf1" alone? */
static int is_spf1(const char *text, size_t n)
{
	if (n < SPF_VERSION_LEN || strncasecmp(text, SPF_VERSION, SPF_VERSION_LEN) != 0)
		return 0;
	return n == SPF_VERSION_LEN || text[SPF_VERSION_LEN] == ' ';
}

int spf_txt_select(const unsigned char *const *rr, const size_t *rr_len, size_t n, char *out,
		   size_t cap, size_t *len, const char **why)
{
	char head[SPF_VERSION_LEN + 2];
	size_t full, found = n;

	for (size_t i = 0; i < n; i++) {
		if (txt_concat(rr[i], rr_len[i], head, sizeof head, &full) < 0 ||
		    !is_spf1(head, full))
			continue;
		if (found != n)
			return bad(why, "more than one v=spf1 record");
		found = i;
	}
	if (found == n)
		return 0;
	if (spf_txt_text(rr[found], rr_len[found], out, cap, len) < 0)
		return bad(why, "the SPF record is too long");
	return 1;
}

/* ---- terms -------------------------------------------------------------- */

struct spf_name {
	const char *name;
	enum spf_kind kind;
};

static const struct spf_name spf_mechs[] = {
    {"all", SPF_K_ALL}, {"include", SPF_K_INCLUDE}, {"a", SPF_K_A},	{"mx", SPF_K_MX},
    {"ptr", SPF_K_PTR}, {"ip4", SPF_K_IP4},	    {"ip6", SPF_K_IP6}, {"exists", SPF_K_EXISTS},
};

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Length of name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) at s. */
static size_t name_len(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !is_alpha(s[0]))
		return 0;
	while (++i < n)
		if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			break;
	return i;
}

/* A CIDR length: "0" or 1-3 digits without a leading zero, at most max. */
static int cidr_value(const char *s, size_t n, int max, int *out)
{
	int v = 0;

	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* If s[0..*n) ends in "/N" (dbl: "//N") take it off into *out: 1 taken,
 * 0 not there, -1 there but out of range. */
static int cidr_tail(const char *s, size_t *n, int dbl, int max, int *out)
{
	size_t d = *n;

	while (d > 0 && is_digit(s[d - 1]))
		d--;
	if (d == *n || d == 0 || s[d - 1] != '/')
		return 0;
	if (dbl != (d >= 2 && s[d - 2] == '/'))
		return 0;
	if (cidr_value(s + d, *n - d, max, out) < 0)
		return -1;
	*n = d - 1 - (dbl ? 1 : 0);
	return 1;
}

/* ":" domain-spec (required: 1, optional: 0) at s[0..n) into t. */
static int arg_spec(const char *s, size_t n, int required, struct spf_term *t, const char **why)
{
	if (n == 0)
		return required ? bad(why, "a mechanism needs a domain") : 0;
	if (s[0] != ':')
		return bad(why, "unexpected text after a mechanism name");
	if (n == 1 || spf_macro_check(s + 1, n - 1, 1) < 0)
		return bad(why, "malformed domain-spec");
	t->spec = s + 1;
	t->spec_len = n - 1;
	return 0;
}

/* a and mx: [ ":" domain-spec ] [ ip4-cidr ] [ "/" ip6-cidr ]. */
static int arg_dual(const char *s, size_t n, struct spf_term *t, const char **why)
{
	if (cidr_tail(s, &n, 1, 128, &t->cidr6) < 0 || cidr_tail(s, &n, 0, 32, &t->cidr4) < 0)
		return bad(why, "bad CIDR length");
	return arg_spec(s, n, 0, t, why);
}

/* ip4 and ip6: ":" network [ "/" length ]. */
static int arg_ip(const char *s, size_t n, int v6, struct spf_term *t, const char **why)
{
	char text[SPF_IPTEXT_MAX];
	const char *slash;
	size_t alen;

	if (n < 2 || s[0] != ':')
		return bad(why, "ip4/ip6 needs a network");
	s++;
	n--;
	slash = memchr(s, '/', n);
	alen = slash ? (size_t)(slash - s) : n;
	if (str_copyn(text, sizeof text, s, alen) < 0 ||
	    inet_pton(v6 ? AF_INET6 : AF_INET, text, t->ip) != 1)
		return bad(why, "malformed ip4/ip6 address");
	if (slash &&
	    cidr_value(slash + 1, n - alen - 1, v6 ? 128 : 32, v6 ? &t->cidr6 : &t->cidr4) < 0)
		return bad(why, "bad CIDR length");
	return 0;
}

static int term_mech(const char *s, size_t n, struct spf_term *t, const char **why)
{
	switch (t->kind) {
	case SPF_K_ALL:
		return n == 0 ? 0 : bad(why, "unexpected text after all");
	case SPF_K_INCLUDE:
	case SPF_K_EXISTS:
		return arg_spec(s, n, 1, t, why);
	case SPF_K_A:
	case SPF_K_MX:
		return arg_dual(s, n, t, why);
	case SPF_K_PTR:
		return arg_spec(s, n, 0, t, why);
	case SPF_K_IP4:
	case SPF_K_IP6:
		return arg_ip(s, n, t->kind == SPF_K_IP6, t, why);
	default:
		return bad(why, "unknown mechanism");
	}
}

/* name "=" macro-string. */
static int term_modifier(const char *name, size_t nlen, const char *v, size_t vn,
			 struct spf_term *t, const char **why)
{
	t->spec = v;
	t->spec_len = vn;
	if (nlen == 8 && strncasecmp(name, "redirect", 8) == 0)
		t->kind = SPF_K_REDIRECT;
	else if (nlen == 3 && strncasecmp(name, "exp", 3) == 0)
		t->kind = SPF_K_EXP;
	else
		return spf_macro_check(v, vn, 0) < 0 ? bad(why, "malformed modifier value") : 0;
	if (vn == 0 || spf_macro_check(v, vn, 1) < 0)
		return bad(why, "malformed domain-spec");
	return 0;
}

static int term_parse(const char *s, size_t n, struct spf_term *t, const char **why)
{
	size_t i = 0, nl;

	memset(t, 0, sizeof *t);
	t->text = s;
	t->text_len = n;
	t->qual = '+';
	t->cidr4 = SPF_CIDR4_NONE;
	t->cidr6 = SPF_CIDR6_NONE;
	if (s[0] != '\0' && strchr("+-~?", s[0])) {
		t->qual = s[0];
		i = 1;
	}
	if ((nl = name_len(s + i, n - i)) == 0)
		return bad(why, "a term must start with a name");
	if (i + nl < n && s[i + nl] == '=') {
		t->kind = SPF_K_UNKNOWN_MOD;
		if (i > 0)
			return bad(why, "a modifier cannot have a qualifier");
		return term_modifier(s, nl, s + nl + 1, n - nl - 1, t, why);
	}
	for (size_t k = 0; k < sizeof spf_mechs / sizeof spf_mechs[0]; k++) {
		if (strlen(spf_mechs[k].name) == nl &&
		    strncasecmp(s + i, spf_mechs[k].name, nl) == 0) {
			t->kind = spf_mechs[k].kind;
			return term_mech(s + i + nl, n - i - nl, t, why);
		}
	}
	return bad(why, "unknown mechanism");
}

int spf_term_next(const char *rec, size_t len, size_t *pos, struct spf_term *t, const char **why)
{
	size_t i = *pos, start;

	while (i < len && rec[i] == ' ')
		i++;
	if (i == len) {
		*pos = i;
		return 0;
	}
	if (i == *pos)
		return bad(why, "terms must be separated by spaces");
	start = i;
	for (; i < len && rec[i] != ' '; i++)
		if ((unsigned char)rec[i] < 0x21 || (unsigned char)rec[i] > 0x7e)
			return bad(why, "a control or non-ASCII character in the record");
	*pos = i;
	return term_parse(rec + start, i - start, t, why) < 0 ? -1 : 1;
}

int spf_record_check(const char *rec, size_t len, struct spf_record_info *info, const char **why)
{
	struct spf_term t;
	size_t pos = SPF_VERSION_LEN;
	int rc;

	memset(info, 0, sizeof *info);
	if (!is_spf1(rec, len))
		return bad(why, "not a v=spf1 record");
	while ((rc = spf_term_next(rec, len, &pos, &t, why)) > 0) {
		if (t.kind == SPF_K_ALL)
			info->has_all = 1;
		if (t.kind == SPF_K_REDIRECT) {
			if (info->redirect)
				return bad(why, "redirect given twice");
			info->redirect = t.spec;
			info->redirect_len = t.spec_len;
		}
		if (t.kind == SPF_K_EXP) {
			if (info->exp)
				return bad(why, "exp given twice");
			info->exp = t.spec;
			info->exp_len = t.spec_len;
		}
	}
	return rc;
}
