/*
 * authres: the Authentication-Results header field (RFC 8601): writing
 * ours (authres_build) and recognising a field that claims our authserv-id
 * (authres_is_ours), so that forged ones can be removed.
 *
 * Output layout: "Authentication-Results: ID;" then one method result per
 * line ("\r\n\tspf=pass smtp.mailfrom=...;"), a property that would pass
 * column 78 goes on a continuation line (CRLF TAB) of its own. Values that
 * are not RFC 2045 tokens (nor local-part@domain, RFC 8601 2.2 pvalue) are
 * written as quoted-strings with '"' and '\' escaped; comments escape '(',
 * ')' and '\'. A value longer than AUTHRES_VALUE_MAX is left out (its
 * property is omitted) so no line can pass 998 octets.
 *
 * Security role: every string written comes from the network (MAIL FROM,
 * HELO, d=, From:, the AUTH user). Control octets (CR and LF included) are
 * dropped and non-ASCII octets become '?', so input can never start a new
 * header line or smuggle a result. The reader is a pure bounded parser
 * over (pointer, length), fuzzed (fuzz/fuzz_authres.c).
 */
#include <string.h>
#include <strings.h>

#include "auth/authres.h"
#include "util/str.h"

#define AUTHRES_COLS	    78	/* fold before a property would pass this */
#define AUTHRES_VALUE_MAX   400 /* longest value written (quoted: < 998) */
#define AUTHRES_COMMENT_MAX 100 /* comment text kept */
#define AUTHRES_ITEM_MAX    (2 * AUTHRES_VALUE_MAX + 64)
#define AUTHRES_DEPTH_MAX   32 /* nested comments when reading */

/* Local name tables (spf.c and dkim.c have their own; this file links
 * without them). */
static const char *const ar_spf_names[] = {"none",     "neutral",   "pass",	"fail",
					   "softfail", "temperror", "permerror"};
static const char *const ar_dkim_names[] = {"none",   "pass",	   "fail",     "neutral",
					    "policy", "temperror", "permerror"};

#define AR_NAME(tab, i)                                                                            \
	((size_t)(i) < sizeof(tab) / sizeof(tab)[0] ? (tab)[(size_t)(i)] : "permerror")

struct ar_out {
	char *p;
	size_t cap, len, col;
	int bad; /* did not fit */
};

static void ar_raw(struct ar_out *w, const char *s, size_t n)
{
	if (w->bad || n >= w->cap - w->len) {
		w->bad = 1;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
	w->p[w->len] = '\0';
	w->col += n;
}

static void ar_fold(struct ar_out *w)
{
	ar_raw(w, "\r\n\t", 3);
	w->col = 1;
}

/* A property or comment: on this line after a space, or folded onto the
 * next when it would pass the limit (one column kept for the ';'). */
static void ar_item(struct ar_out *w, const char *s, size_t n)
{
	if (w->col + 1 + n + 1 > AUTHRES_COLS)
		ar_fold(w);
	else
		ar_raw(w, " ", 1);
	ar_raw(w, s, n);
}

/* ---- value encoding ------------------------------------------------------ */

static int ar_tspecial(char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static int ar_token_char(char c)
{
	return c > ' ' && c < 0x7f && !ar_tspecial(c);
}

/* RFC 5322 atext (dot-atom parts of a local-part). */
static int ar_atext(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int ar_is_token(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!ar_token_char(s[i]))
			return 0;
	return n > 0;
}

/* dot-atom "@" domain: written bare, as RFC 8601's pvalue allows. */
static int ar_is_mailbox(const char *s, size_t n)
{
	const char *at = memchr(s, '@', n);
	size_t ln = at ? (size_t)(at - s) : 0;

	if (!at || ln == 0 || s[0] == '.' || s[ln - 1] == '.' || ln + 1 == n)
		return 0;
	for (size_t i = 0; i < ln; i++)
		if (!(ar_atext(s[i]) || (s[i] == '.' && s[i + 1] != '.')))
			return 0;
	for (size_t i = ln + 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.' || s[i] == '_'))
			return 0;
	return 1;
}

/* Untrusted text into printable ASCII: controls dropped, 8-bit -> '?'. */
static size_t ar_clean(const char *s, size_t n, char *out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80)
			out[k++] = '?';
		else if (c >= ' ' && c != 0x7f)
			out[k++] = (char)c;
	}
	return k;
}

/* s[0..n) (clean) with the characters in esc backslash-escaped. */
static size_t ar_escape(const char *s, size_t n, const char *esc, char *out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (strchr(esc, s[i]))
			out[k++] = '\\';
		out[k++] = s[i];
	}
	return k;
}

/* v as a token, a bare mailbox or a quoted-string into out (at least
 * AUTHRES_ITEM_MAX); its length, 0 when v is NULL, empty or too long. */
static size_t ar_value(const char *v, char *out)
{
	char clean[AUTHRES_VALUE_MAX];
	size_t n = v ? strnlen(v, AUTHRES_VALUE_MAX + 1) : 0, k, len = 0;

	if (n == 0 || n > AUTHRES_VALUE_MAX || (k = ar_clean(v, n, clean)) == 0)
		return 0;
	if (ar_is_token(clean, k) || ar_is_mailbox(clean, k)) {
		memcpy(out, clean, k);
		return k;
	}
	out[len++] = '"';
	len += ar_escape(clean, k, "\"\\", out + len);
	out[len++] = '"';
	return len;
}

/* "name=value" as one item; nothing when the value is not written. */
static void ar_prop(struct ar_out *w, const char *name, const char *v)
{
	char item[AUTHRES_ITEM_MAX + 32];
	size_t len = strlen(name), k;

	if (len + 1 > sizeof item - AUTHRES_ITEM_MAX)
		return;
	memcpy(item, name, len);
	item[len++] = '=';
	if ((k = ar_value(v, item + len)) > 0)
		ar_item(w, item, len + k);
}

/* "(text)" as one item, text cleaned and escaped; nothing when empty. */
static void ar_comment(struct ar_out *w, const char *text)
{
	char clean[AUTHRES_COMMENT_MAX], item[2 * AUTHRES_COMMENT_MAX + 2];
	size_t n = text ? strnlen(text, AUTHRES_COMMENT_MAX) : 0, k, len = 0;

	if ((k = ar_clean(text, n, clean)) == 0)
		return;
	item[len++] = '(';
	len += ar_escape(clean, k, "()\\", item + len);
	item[len++] = ')';
	ar_item(w, item, len);
}

/* ---- the field ----------------------------------------------------------- */

/* ";" CRLF TAB "method=result" */
static void ar_method(struct ar_out *w, const char *method, const char *result)
{
	ar_raw(w, ";", 1);
	ar_fold(w);
	ar_raw(w, method, strlen(method));
	ar_raw(w, "=", 1);
	ar_raw(w, result, strlen(result));
}

static void ar_spf(struct ar_out *w, const struct authres_input *in)
{
	ar_method(w, "spf", AR_NAME(ar_spf_names, in->spf));
	if (in->spf_mailfrom && in->spf_mailfrom[0])
		ar_prop(w, "smtp.mailfrom", in->spf_mailfrom);
	else
		ar_prop(w, "smtp.helo", in->spf_helo);
}

static void ar_dkim_one(struct ar_out *w, const struct dkim_sig_result *d)
{
	char b[sizeof d->b8];

	ar_method(w, "dkim", AR_NAME(ar_dkim_names, d->result));
	if (d->result != DKIM_PASS)
		ar_comment(w, d->reason);
	ar_prop(w, "header.d", d->domain);
	ar_prop(w, "header.s", d->selector);
	ar_prop(w, "header.a", d->algo);
	if (str_copyn(b, sizeof b, d->b8, strnlen(d->b8, sizeof d->b8 - 1)) == 0)
		ar_prop(w, "header.b", b);
}

static void ar_dmarc(struct ar_out *w, const struct authres_input *in)
{
	char pol[32];

	ar_method(w, "dmarc", dmarc_result_name(in->dmarc));
	if ((in->dmarc == DMARC_PASS || in->dmarc == DMARC_FAIL) &&
	    str_fmt(pol, sizeof pol, "p=%s", dmarc_policy_name(in->dmarc_policy)) == 0)
		ar_comment(w, pol);
	ar_prop(w, "header.from", in->dmarc_from);
}

int authres_build(const struct authres_input *in, char *out, size_t cap)
{
	struct ar_out w = {.p = out, .cap = cap};
	char id[AUTHRES_ITEM_MAX];
	size_t n;

	if (cap == 0)
		return -1;
	out[0] = '\0';
	if ((n = ar_value(in->authserv_id, id)) == 0)
		return -1;
	ar_raw(&w, "Authentication-Results: ", 24);
	ar_raw(&w, id, n);
	if (in->auth_user) {
		ar_method(&w, "auth", "pass");
		ar_prop(&w, "smtp.auth", in->auth_user);
	}
	if (in->have_spf)
		ar_spf(&w, in);
	for (size_t i = 0; in->dkim && i < in->n_dkim; i++)
		ar_dkim_one(&w, &in->dkim[i]);
	/* "dkim=none" for checked mail; authenticated submissions only say auth=pass */
	if ((!in->dkim || in->n_dkim == 0) && (in->have_spf || !in->auth_user))
		ar_method(&w, "dkim", "none");
	if (in->have_dmarc)
		ar_dmarc(&w, in);
	ar_raw(&w, "\r\n", 2);
	return w.bad ? -1 : (int)w.len;
}

/* ---- reading: is this field ours? ---------------------------------------- */

struct ar_scan {
	const char *s;
	size_t n, i;
};

/* A comment at s[i] == '(' (nesting, quoted-pairs); 0 or -1. */
static int ar_skip_comment(struct ar_scan *sc)
{
	unsigned depth = 0;

	while (sc->i < sc->n) {
		char c = sc->s[sc->i++];
		if (c == '\\') {
			if (sc->i == sc->n)
				return -1;
			sc->i++;
		} else if (c == '(') {
			if (++depth > AUTHRES_DEPTH_MAX)
				return -1;
		} else if (c == ')' && --depth == 0) {
			return 0;
		}
	}
	return -1;
}

static int ar_skip_cfws(struct ar_scan *sc)
{
	while (sc->i < sc->n) {
		char c = sc->s[sc->i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			sc->i++;
		else if (c != '(')
			break;
		else if (ar_skip_comment(sc) < 0)
			return -1;
	}
	return 0;
}

/* A token or quoted-string into out (unescaped); its length, or -1. */
static long ar_read_value(struct ar_scan *sc, char *out, size_t cap)
{
	size_t k = 0;

	if (sc->i < sc->n && sc->s[sc->i] != '"') {
		while (sc->i < sc->n && ar_token_char(sc->s[sc->i]) && k + 1 < cap)
			out[k++] = sc->s[sc->i++];
		return k > 0 && (sc->i == sc->n || !ar_token_char(sc->s[sc->i])) ? (long)k : -1;
	}
	for (sc->i++; sc->i < sc->n; sc->i++) {
		char c = sc->s[sc->i];
		if (c == '"') {
			sc->i++;
			return (long)k;
		}
		if (c == '\\') {
			if (++sc->i == sc->n)
				return -1;
			c = sc->s[sc->i];
		} else if (c == '\r' || c == '\n') {
			continue; /* folding inside the string */
		}
		if (k + 1 >= cap)
			return -1;
		out[k++] = c;
	}
	return -1;
}

int authres_is_ours(const char *value, size_t len, const char *authserv_id)
{
	struct ar_scan sc = {.s = value, .n = len};
	char id[AUTHRES_VALUE_MAX + 1];
	long k;

	if (!value || !authserv_id || ar_skip_cfws(&sc) < 0 ||
	    (k = ar_read_value(&sc, id, sizeof id)) <= 0)
		return 0;
	if ((size_t)k != strlen(authserv_id) || strncasecmp(id, authserv_id, (size_t)k) != 0)
		return 0;
	if (ar_skip_cfws(&sc) < 0)
		return 0;
	if (sc.i < sc.n && sc.s[sc.i] >= '0' && sc.s[sc.i] <= '9') {
		while (sc.i < sc.n && sc.s[sc.i] >= '0' && sc.s[sc.i] <= '9')
			sc.i++;
		if (ar_skip_cfws(&sc) < 0)
			return 0;
	}
	return sc.i == sc.n || sc.s[sc.i] == ';';
}
