/*
 * dmarc_record: the DMARC policy record parser (RFC 7489 6.3, 6.4) and the
 * names of DMARC's enums.
 *
 * A record is "tag=value" pairs separated by ';'. "v=DMARC1" must be the
 * first tag (else the TXT record is not DMARC at all); tag names are
 * case-insensitive, whitespace around tags and values is ignored, unknown
 * or malformed tags are ignored (RFC 7489 6.3: MUST be ignored), a repeated
 * tag counts once (the first). A record without a valid p= (or with an
 * invalid sp=) is treated as "p=none" when it has at least one usable rua=
 * URI, and is invalid otherwise (RFC 7489 6.6.3 step 6). A bad value of an
 * optional tag (adkim, aspf, pct, fo, rf, ri) leaves that tag's default:
 * the stricter reading keeps a sloppy record's policy in force rather than
 * dropping DMARC for the domain.
 *
 * dmarc_txt_choose picks the policy among the TXT answers for one _dmarc
 * name: TXT rdata strings are joined (at most DMARC_TXT_MAX octets; a
 * longer DMARC record counts as invalid), records that are not DMARC are
 * ignored, several DMARC records mean none (RFC 7489 6.6.3).
 *
 * Security role: parses text from DNS (attacker-controlled); pure
 * functions over (pointer, length), every copy bounded, fuzzed
 * (fuzz/fuzz_dmarc.c).
 */
#include <string.h>

#include "auth/dmarc.h"
#include "util/str.h"

#define DMARC_RI_MAX	 4294967295ul
#define DMARC_RI_DEFAULT 86400ul
#define DMARC_NUM_DIGITS 10

/* Which tags were seen (a repeated tag counts once). */
enum {
	SEEN_P = 1 << 0,
	SEEN_SP = 1 << 1,
	SEEN_ADKIM = 1 << 2,
	SEEN_ASPF = 1 << 3,
	SEEN_PCT = 1 << 4,
	SEEN_RUA = 1 << 5,
	SEEN_RUF = 1 << 6,
	SEEN_FO = 1 << 7,
	SEEN_RF = 1 << 8,
	SEEN_RI = 1 << 9,
};

struct dmarc_parse {
	struct dmarc_record *r;
	unsigned seen;
	int p_ok, sp_bad, rua_ok;
};

const char *dmarc_policy_name(enum dmarc_policy p)
{
	return p == DMARC_P_REJECT ? "reject" : p == DMARC_P_QUARANTINE ? "quarantine" : "none";
}

const char *dmarc_result_name(enum dmarc_result r)
{
	switch (r) {
	case DMARC_PASS:
		return "pass";
	case DMARC_FAIL:
		return "fail";
	case DMARC_TEMPERROR:
		return "temperror";
	case DMARC_PERMERROR:
		return "permerror";
	case DMARC_NONE:
		break;
	}
	return "none";
}

static int is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void trim(const char **s, size_t *n)
{
	while (*n > 0 && is_wsp(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_wsp((*s)[*n - 1]))
		(*n)--;
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int policy_word(const char *s, size_t n, enum dmarc_policy *p)
{
	if (str_eqn_nocase(s, n, "none"))
		*p = DMARC_P_NONE;
	else if (str_eqn_nocase(s, n, "quarantine"))
		*p = DMARC_P_QUARANTINE;
	else if (str_eqn_nocase(s, n, "reject"))
		*p = DMARC_P_REJECT;
	else
		return -1;
	return 0;
}

/* Decimal digits only, at most max; 0 or -1. */
static int num_value(const char *s, size_t n, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (n == 0 || n > DMARC_NUM_DIGITS)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* One reporting URI: scheme ":" then printable non-space ASCII. */
static int uri_valid(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !is_alpha(s[0]))
		return 0;
	while (i < n &&
	       (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
		i++;
	if (i == n || s[i] != ':' || i + 1 == n)
		return 0;
	for (i++; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

/* A comma-separated URI list: 1 if every element is usable, else 0. */
static int uri_list_valid(const char *s, size_t n)
{
	while (n > 0) {
		const char *comma = memchr(s, ',', n);
		size_t len = comma ? (size_t)(comma - s) : n;
		const char *e = s;
		size_t en = len;
		trim(&e, &en);
		if (!uri_valid(e, en))
			return 0;
		s += len;
		n -= len;
		if (comma) {
			s++;
			n--;
			if (n == 0)
				return 0;
		}
	}
	return 1;
}

/* A colon-separated list whose items satisfy ok(); 1 or 0. */
static int colon_list_valid(const char *s, size_t n, int (*ok)(const char *, size_t))
{
	size_t start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != ':')
			continue;
		if (!ok(s + start, i - start))
			return 0;
		start = i + 1;
	}
	return n > 0;
}

static int fo_item(const char *s, size_t n)
{
	return n == 1 && strchr("01dsDS", s[0]) != NULL;
}

static int rf_item(const char *s, size_t n)
{
	if (n == 0 || !is_alpha(s[0]))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '-')
			return 0;
	return 1;
}

/* ---- one handler per tag ------------------------------------------------- */

static void tag_p(struct dmarc_parse *ps, const char *v, size_t n)
{
	ps->p_ok = policy_word(v, n, &ps->r->p) == 0;
}

static void tag_sp(struct dmarc_parse *ps, const char *v, size_t n)
{
	ps->sp_bad = policy_word(v, n, &ps->r->sp) < 0;
}

static void tag_align(int *strict, const char *v, size_t n)
{
	if (str_eqn_nocase(v, n, "s"))
		*strict = 1;
	else if (str_eqn_nocase(v, n, "r"))
		*strict = 0;
}

static void tag_adkim(struct dmarc_parse *ps, const char *v, size_t n)
{
	tag_align(&ps->r->adkim_strict, v, n);
}

static void tag_aspf(struct dmarc_parse *ps, const char *v, size_t n)
{
	tag_align(&ps->r->aspf_strict, v, n);
}

static void tag_pct(struct dmarc_parse *ps, const char *v, size_t n)
{
	unsigned long pct;

	if (num_value(v, n, 100, &pct) == 0)
		ps->r->pct = (unsigned)pct;
}

static void tag_rua(struct dmarc_parse *ps, const char *v, size_t n)
{
	ps->rua_ok = uri_list_valid(v, n);
	if (!ps->rua_ok || str_copyn(ps->r->rua, sizeof ps->r->rua, v, n) < 0)
		ps->r->rua[0] = '\0'; /* usable but too long to keep: not kept */
}

static void tag_ruf(struct dmarc_parse *ps, const char *v, size_t n)
{
	if (!uri_list_valid(v, n) || str_copyn(ps->r->ruf, sizeof ps->r->ruf, v, n) < 0)
		ps->r->ruf[0] = '\0';
}

static void tag_fo(struct dmarc_parse *ps, const char *v, size_t n)
{
	if (colon_list_valid(v, n, fo_item) && str_copyn(ps->r->fo, sizeof ps->r->fo, v, n) == 0)
		str_lower(ps->r->fo);
	else
		(void)str_copy(ps->r->fo, sizeof ps->r->fo, "0");
}

static void tag_rf(struct dmarc_parse *ps, const char *v, size_t n)
{
	if (colon_list_valid(v, n, rf_item) && str_copyn(ps->r->rf, sizeof ps->r->rf, v, n) == 0)
		str_lower(ps->r->rf);
	else
		(void)str_copy(ps->r->rf, sizeof ps->r->rf, "afrf");
}

static void tag_ri(struct dmarc_parse *ps, const char *v, size_t n)
{
	unsigned long ri;

	if (num_value(v, n, DMARC_RI_MAX, &ri) == 0)
		ps->r->ri = ri;
}

struct dmarc_tag {
	const char *name;
	unsigned bit;
	void (*fn)(struct dmarc_parse *, const char *, size_t);
};

static const struct dmarc_tag dmarc_tags[] = {
    {"p", SEEN_P, tag_p},	   {"sp", SEEN_SP, tag_sp},    {"adkim", SEEN_ADKIM, tag_adkim},
    {"aspf", SEEN_ASPF, tag_aspf}, {"pct", SEEN_PCT, tag_pct}, {"rua", SEEN_RUA, tag_rua},
    {"ruf", SEEN_RUF, tag_ruf},	   {"fo", SEEN_FO, tag_fo},    {"rf", SEEN_RF, tag_rf},
    {"ri", SEEN_RI, tag_ri},
};

/* One "name=value" piece (already split at ';'). */
static void dmarc_tag(struct dmarc_parse *ps, const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n), *name = s, *v;
	size_t nn, vn;

	if (!eq)
		return; /* malformed: ignored like an unknown tag */
	nn = (size_t)(eq - s);
	v = eq + 1;
	vn = n - nn - 1;
	trim(&name, &nn);
	trim(&v, &vn);
	for (size_t i = 0; i < sizeof dmarc_tags / sizeof dmarc_tags[0]; i++) {
		const struct dmarc_tag *t = &dmarc_tags[i];
		if (str_eqn_nocase(name, nn, t->name) && !(ps->seen & t->bit)) {
			ps->seen |= t->bit;
			t->fn(ps, v, vn);
		}
	}
}

/* Is s[0..n) exactly "v=DMARC1" (whitespace around the parts allowed)? */
static int dmarc_version_tag(const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n), *v;
	size_t nn, vn;

	if (!eq)
		return 0;
	nn = (size_t)(eq - s);
	v = eq + 1;
	vn = n - nn - 1;
	trim(&s, &nn);
	trim(&v, &vn);
	return str_eqn_nocase(s, nn, "v") && vn == 6 && memcmp(v, "DMARC1", 6) == 0;
}

static void dmarc_record_defaults(struct dmarc_record *r)
{
	memset(r, 0, sizeof *r);
	r->pct = 100;
	r->ri = DMARC_RI_DEFAULT;
	(void)str_copy(r->fo, sizeof r->fo, "0");
	(void)str_copy(r->rf, sizeof r->rf, "afrf");
}

int dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *r)
{
	struct dmarc_parse ps = {.r = r};
	size_t i = 0, k = 0;

	dmarc_record_defaults(r);
	while (i <= len) {
		const char *s = txt + i, *semi = memchr(s, ';', len - i);
		size_t n = semi ? (size_t)(semi - s) : len - i;
		if (k++ == 0 && !dmarc_version_tag(s, n))
			return 0;
		if (k > 1)
			dmarc_tag(&ps, s, n);
		i += n + 1;
	}
	if (!(ps.seen & SEEN_SP))
		r->sp = r->p;
	if (ps.p_ok && !ps.sp_bad)
		return 1;
	if (!ps.rua_ok)
		return -1;
	r->p = r->sp = DMARC_P_NONE; /* RFC 7489 6.6.3: as if "p=none" */
	return 1;
}

/* ---- choosing among the TXT answers for one name -------------------- */

/* The text of one TXT rdata (wire: <len><bytes>...) joined; 0, or -1 when
 * malformed; *trunc set when it did not fit. */
static int dmarc_txt_join(const unsigned char *rr, size_t len, char *out, size_t cap, size_t *n,
			  int *trunc)
{
	size_t i = 0;

	*n = 0;
	*trunc = 0;
	while (i < len) {
		size_t k = rr[i++];
		if (k > len - i)
			return -1;
		if (*n + k >= cap) {
			k = cap - 1 - *n;
			*trunc = 1;
		}
		memcpy(out + *n, rr + i, k);
		*n += k;
		i += rr[i - 1];
		if (*trunc)
			break;
	}
	out[*n] = '\0';
	return 0;
}

int dmarc_txt_choose(const struct dns_result *r, struct dmarc_record *rec)
{
	char txt[DMARC_TXT_MAX];
	struct dmarc_record one;
	int found = 0, valid = 0;

	for (size_t i = 0; r->status == DNS_OK && i < r->n_rr && i < DNS_MAX_RR; i++) {
		size_t n;
		int trunc, rc;
		if (dmarc_txt_join(r->rr[i], r->rr_len[i], txt, sizeof txt, &n, &trunc) < 0)
			continue; /* not even a TXT record: not DMARC */
		rc = dmarc_record_parse(txt, n, &one);
		if (rc == 0)
			continue;
		found++;
		valid = rc > 0 && !trunc;
		if (valid)
			*rec = one;
	}
	if (found == 0)
		return 0;
	return found == 1 && valid ? 1 : -1;
}
