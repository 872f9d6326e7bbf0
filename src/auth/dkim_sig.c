/*
 * dkim_sig: parsing one DKIM-Signature field (RFC 6376 3.5) into a struct
 * dkim_sig: the required tags v=1 a b bh d h s, the optional c i l q t x
 * (z and unknown tags ignored), with the checks of RFC 6376 6.1.1: i= in
 * d=, From among h=, x= not passed, t= not far in the future.
 *
 * Security role: a pure parser of untrusted header text; any doubt makes
 * the signature unusable (neutral), never half-parsed. Fuzzed by
 * fuzz/fuzz_dkim.c.
 */
#include <string.h>
#include <strings.h>

#include "auth/dkim_int.h"
#include "util/str.h"

#define DKIM_NUM_DIGITS_MAX 18 /* fits int64 */

struct sig_ctx {
	const char *f; /* the field text */
	const struct dkim_tag *t;
	size_t n;
	struct dkim_sig *sig;
	const char **why;
};

static int fail(struct sig_ctx *c, const char *why)
{
	*c->why = why;
	return -1;
}

static const struct dkim_tag *tag(const struct sig_ctx *c, const char *name)
{
	return dkim_tag_find(c->t, c->n, name);
}

static int val_is(const struct dkim_tag *t, const char *s)
{
	return t->val_len == strlen(s) && memcmp(t->val, s, t->val_len) == 0;
}

/* Decimal digits only, at most DKIM_NUM_DIGITS_MAX of them. */
static int num(const struct dkim_tag *t, uint64_t *out)
{
	uint64_t v = 0;

	if (t->val_len == 0 || t->val_len > DKIM_NUM_DIGITS_MAX)
		return -1;
	for (size_t i = 0; i < t->val_len; i++) {
		if (t->val[i] < '0' || t->val[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(t->val[i] - '0');
	}
	*out = v;
	return 0;
}

/* d= and s=: domain and selector syntax, lowercased copies. */
static int sig_ds(struct sig_ctx *c)
{
	const struct dkim_tag *d = tag(c, "d"), *s = tag(c, "s");

	if (d && dkim_name_ok(d->val, d->val_len) &&
	    str_copyn(c->sig->d, sizeof c->sig->d, d->val, d->val_len) == 0)
		str_lower(c->sig->d);
	if (s && dkim_name_ok(s->val, s->val_len) &&
	    str_copyn(c->sig->s, sizeof c->sig->s, s->val, s->val_len) == 0)
		str_lower(c->sig->s);
	if (!d || !s)
		return fail(c, "d= or s= missing");
	if (!c->sig->d[0])
		return fail(c, "bad d=");
	if (!c->sig->s[0])
		return fail(c, "bad s=");
	return 0;
}

static int sig_alg(struct sig_ctx *c)
{
	const struct dkim_tag *a = tag(c, "a");
	struct dkim_sig *sig = c->sig;

	if (!a)
		return fail(c, "a= missing");
	(void)str_sanitize(sig->algo, sizeof sig->algo, a->val, a->val_len);
	if (val_is(a, "rsa-sha256"))
		sig->alg = DKIM_ALG_RSA_SHA256;
	else if (val_is(a, "rsa-sha1"))
		sig->alg = DKIM_ALG_RSA_SHA1;
	else if (val_is(a, "ed25519-sha256"))
		sig->alg = DKIM_ALG_ED25519_SHA256;
	else
		return fail(c, "unknown algorithm");
	return 0;
}

/* b= and bh=; b8 is the first 8 characters of b= (RFC 6008). */
static int sig_b(struct sig_ctx *c)
{
	const struct dkim_tag *b = tag(c, "b"), *bh = tag(c, "bh");
	struct dkim_sig *sig = c->sig;
	size_t k = 0;

	if (!b || !bh)
		return fail(c, "b= or bh= missing");
	for (size_t i = 0; i < b->val_len && k < sizeof sig->b8 - 1; i++)
		if (b->val[i] != ' ' && b->val[i] != '\t' && b->val[i] != '\r' && b->val[i] != '\n')
			sig->b8[k++] = b->val[i];
	sig->b8[k] = '\0';
	sig->bdel.off = (size_t)(b->after_eq - c->f);
	sig->bdel.len = (size_t)(b->val + b->val_len - b->after_eq);
	if (dkim_b64_decode(b->val, b->val_len, sig->b, sizeof sig->b, &sig->b_len) < 0 ||
	    sig->b_len == 0)
		return fail(c, "bad b=");
	if (dkim_b64_decode(bh->val, bh->val_len, sig->bh, sizeof sig->bh, &sig->bh_len) < 0 ||
	    sig->bh_len != (size_t)EVP_MD_get_size(dkim_alg_md(sig->alg)))
		return fail(c, "bad bh=");
	return 0;
}

/* c=: header[/body], each simple or relaxed; simple/simple by default. */
static int sig_c(struct sig_ctx *c)
{
	const struct dkim_tag *t = tag(c, "c");
	const char *slash;
	size_t hl;

	if (!t)
		return 0;
	slash = memchr(t->val, '/', t->val_len);
	hl = slash ? (size_t)(slash - t->val) : t->val_len;
	if (str_eqn_nocase(t->val, hl, "relaxed"))
		c->sig->hdr_relaxed = 1;
	else if (!str_eqn_nocase(t->val, hl, "simple"))
		return fail(c, "bad c=");
	if (!slash)
		return 0;
	hl = t->val_len - hl - 1;
	if (str_eqn_nocase(slash + 1, hl, "relaxed"))
		c->sig->body_relaxed = 1;
	else if (!str_eqn_nocase(slash + 1, hl, "simple"))
		return fail(c, "bad c=");
	return 0;
}

static int is_ftext(char ch)
{
	return ch >= 0x21 && ch <= 0x7e && ch != ':';
}

/* h=: names separated by ':' (FWS around them allowed); From required. */
static int sig_h(struct sig_ctx *c)
{
	const struct dkim_tag *t = tag(c, "h");
	struct dkim_sig *sig = c->sig;
	size_t i = 0, n, from = 0;

	if (!t)
		return fail(c, "h= missing");
	n = t->val_len;
	for (;;) {
		size_t s;
		while (i < n && !is_ftext(t->val[i]) && t->val[i] != ':')
			i++;
		s = i;
		while (i < n && is_ftext(t->val[i]))
			i++;
		if (i == s || sig->n_h == DKIM_H_MAX)
			return fail(c, i == s ? "bad h=" : "too many names in h=");
		sig->h[sig->n_h].off = (size_t)(t->val + s - c->f);
		sig->h[sig->n_h++].len = i - s;
		from |= str_eqn_nocase(t->val + s, i - s, "from");
		while (i < n && !is_ftext(t->val[i]) && t->val[i] != ':')
			i++;
		if (i == n)
			break;
		if (t->val[i++] != ':')
			return fail(c, "bad h=");
	}
	return from ? 0 : fail(c, "From not signed");
}

/* i=: [local-part]@domain, the domain d= or below it. */
static int sig_i(struct sig_ctx *c)
{
	const struct dkim_tag *t = tag(c, "i");
	struct dkim_sig *sig = c->sig;
	const char *at;
	size_t dl, sl;

	if (!t)
		return str_fmt(sig->auid, sizeof sig->auid, "@%s", sig->d) < 0 ? fail(c, "bad d=")
									       : 0;
	at = memrchr(t->val, '@', t->val_len);
	if (!at)
		return fail(c, "bad i=");
	dl = t->val_len - (size_t)(at + 1 - t->val);
	sl = strlen(sig->d);
	if (!dkim_name_ok(at + 1, dl) || dl < sl ||
	    strncasecmp(at + 1 + dl - sl, sig->d, sl) != 0 || (dl > sl && at[dl - sl] != '.'))
		return fail(c, "i= not within d=");
	(void)str_sanitize(sig->auid, sizeof sig->auid, t->val, t->val_len);
	if (t->val_len >= sizeof sig->auid)
		return fail(c, "i= too long");
	return 0;
}

/* q=, l=, t=, x= and their time checks. */
static int sig_misc(struct sig_ctx *c, int64_t now)
{
	const struct dkim_tag *q = tag(c, "q"), *l = tag(c, "l"), *t = tag(c, "t"),
			      *x = tag(c, "x");
	struct dkim_sig *sig = c->sig;
	uint64_t v;

	if (q && !val_is(q, "dns/txt"))
		return fail(c, "unknown q=");
	if (l) {
		if (num(l, &sig->l) < 0)
			return fail(c, "bad l=");
		sig->has_l = 1;
	}
	if (t) {
		if (num(t, &v) < 0)
			return fail(c, "bad t=");
		sig->t = (int64_t)v;
	}
	if (x) {
		if (num(x, &v) < 0)
			return fail(c, "bad x=");
		sig->x = (int64_t)v;
	}
	if (sig->x >= 0 && sig->t >= 0 && sig->x < sig->t)
		return fail(c, "x= before t=");
	if (sig->x >= 0 && now > sig->x)
		return fail(c, "signature expired");
	if (sig->t > now + DKIM_FUTURE_SLOP)
		return fail(c, "t= in the future");
	return 0;
}

/* Fetched once: with OpenSSL 3, EVP_sha256() makes every init fetch (and
 * lock) the implementation again. */
const EVP_MD *dkim_alg_md(enum dkim_alg a)
{
	static EVP_MD *sha1, *sha256;

	if (a == DKIM_ALG_RSA_SHA1) {
		if (!sha1)
			sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
		return sha1 ? sha1 : EVP_sha1();
	}
	if (!sha256)
		sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	return sha256 ? sha256 : EVP_sha256();
}

int dkim_sig_parse(const char *f, size_t len, int64_t now, struct dkim_sig *sig, const char **why)
{
	struct dkim_tag tags[DKIM_TAG_MAX];
	const char *colon = memchr(f, ':', len);
	struct sig_ctx c = {f, tags, 0, sig, why};
	const struct dkim_tag *v;
	size_t vo;

	memset(sig, 0, sizeof *sig);
	sig->t = sig->x = -1;
	if (!colon)
		return fail(&c, "no ':'");
	vo = (size_t)(colon - f) + 1;
	if (len >= vo + 2 && f[len - 2] == '\r' && f[len - 1] == '\n')
		len -= 2;
	if (dkim_tags_parse(f + vo, len - vo, tags, DKIM_TAG_MAX, &c.n, why) < 0)
		return -1;
	if (sig_ds(&c) < 0 || sig_alg(&c) < 0)
		return -1;
	if (!(v = tag(&c, "v")) || !val_is(v, "1"))
		return fail(&c, "v= missing or not 1");
	if (sig_b(&c) < 0 || sig_c(&c) < 0 || sig_h(&c) < 0 || sig_i(&c) < 0)
		return -1;
	return sig_misc(&c, now);
}
