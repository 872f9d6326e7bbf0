/*
 * dkim_sign: writing one DKIM-Signature field for an outbound message
 * (RFC 6376 5, RFC 8463): relaxed/relaxed, rsa-sha256 or ed25519-sha256,
 * From/To/Subject/Date over-signed (listed once more than they occur, so
 * none can be added later), the other usual fields signed when present,
 * t= now, no l= and no x=. The field is folded before DKIM_FOLD_COL with
 * CRLF TAB; b= comes last, right after "b=" (no FWS before the value), so
 * every reading of "delete the b= value" gives the text we hashed.
 *
 * Security role: runs in the remote process over messages our users
 * wrote; the output is sent verbatim ahead of the message, so it is built
 * only from checked domain/selector text, our digits and base64.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rsa.h>

#include "auth/dkim_int.h"
#include "util/str.h"

/* Listed once more than present (0 present: once). */
static const char *const sign_over[] = {"from", "to", "subject", "date"};
/* Listed as often as present. */
static const char *const sign_present[] = {
    "cc",
    "reply-to",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "list-post",
    "list-help",
    "list-subscribe",
    "list-owner",
    "list-archive",
};

struct sign_h {
	const char *name[DKIM_H_MAX];
	size_t n;
};

struct fold {
	char *out;
	size_t cap, n, col;
	int err;
};

static size_t occurs(const struct dkim_field *f, size_t nf, const char *name)
{
	size_t c = 0;

	for (size_t j = 0; j < nf; j++)
		c += (size_t)dkim_field_is(&f[j], name, strlen(name));
	return c;
}

static int h_add(struct sign_h *h, const char *name, size_t times)
{
	for (size_t i = 0; i < times; i++) {
		if (h->n == DKIM_H_MAX)
			return -1;
		h->name[h->n++] = name;
	}
	return 0;
}

static int h_build(const struct dkim_field *f, size_t nf, struct sign_h *h)
{
	h->n = 0;
	for (size_t i = 0; i < sizeof sign_over / sizeof sign_over[0]; i++)
		if (h_add(h, sign_over[i], occurs(f, nf, sign_over[i]) + 1) < 0)
			return -1;
	for (size_t i = 0; i < sizeof sign_present / sizeof sign_present[0]; i++)
		if (h_add(h, sign_present[i], occurs(f, nf, sign_present[i])) < 0)
			return -1;
	return 0;
}

/* ---- the folded field --------------------------------------------------- */

static void put(struct fold *o, const char *s, size_t n)
{
	if (o->err || n >= o->cap - o->n) {
		o->err = 1;
		return;
	}
	memcpy(o->out + o->n, s, n);
	o->n += n;
	o->out[o->n] = '\0';
	o->col += n;
}

/* An unbreakable piece; sp: a space before it when it stays on the line. */
static void atom(struct fold *o, const char *s, int sp)
{
	size_t n = strlen(s);

	if (o->col + (size_t)sp + n > DKIM_FOLD_COL) {
		put(o, "\r\n\t", 3);
		o->col = 1;
	} else if (sp) {
		put(o, " ", 1);
	}
	put(o, s, n);
}

/* "NAME" VALUE ";" as one atom. */
static void tagv(struct fold *o, const char *name, const char *val)
{
	char t[DKIM_DOMAIN_MAX + 64];

	if (str_fmt(t, sizeof t, "%s%s;", name, val) < 0)
		o->err = 1;
	else
		atom(o, t, 1);
}

/* Everything up to and including "b=". */
static void field_head(struct fold *o, const struct dkim_key *k, const char *domain,
		       const char *selector, int64_t now, const struct sign_h *h, const char *bh)
{
	char t[64];

	put(o, "DKIM-Signature:", 15);
	atom(o, "v=1;", 1);
	tagv(o, "a=", dkim_key_algo(k));
	atom(o, "c=relaxed/relaxed;", 1);
	tagv(o, "d=", domain);
	tagv(o, "s=", selector);
	if (str_fmt(t, sizeof t, "t=%lld;", (long long)now) < 0)
		o->err = 1;
	atom(o, t, 1);
	for (size_t i = 0; i < h->n; i++) {
		if (str_fmt(t, sizeof t, "%s%s%s", i == 0 ? "h=" : "", h->name[i],
			    i + 1 == h->n ? ";" : ":") < 0)
			o->err = 1;
		atom(o, t, i == 0);
	}
	tagv(o, "bh=", bh);
	atom(o, "b=", 1);
}

static void field_b(struct fold *o, const char *b64)
{
	for (size_t i = 0; b64[i]; i++) {
		if (o->col >= DKIM_FOLD_COL) {
			put(o, "\r\n\t", 3);
			o->col = 1;
		}
		put(o, b64 + i, 1);
	}
	put(o, "\r\n", 2);
}

/* ---- hashing and signing ------------------------------------------------ */

static void md_sink(void *arg, const char *p, size_t n)
{
	if (EVP_DigestUpdate(arg, p, n) != 1)
		EVP_MD_CTX_reset(arg); /* makes the final step fail */
}

static int hdr_hash(const struct dkim_field *f, size_t nf, const struct sign_h *h, const char *self,
		    size_t self_len, unsigned char *dig, unsigned *dl)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *used = calloc(nf ? nf : 1, 1);
	struct dkim_out *o = malloc(sizeof *o);
	int rc = -1;

	if (md && used && o && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1) {
		dkim_out_init(o, md_sink, md);
		for (size_t i = 0; i < h->n; i++) {
			long k = dkim_field_pick(f, nf, used, h->name[i], strlen(h->name[i]));
			if (k >= 0)
				dkim_canon_header(o, f[k].p, f[k].len, 1, 1);
		}
		dkim_canon_header(o, self, self_len, 1, 0);
		dkim_out_flush(o);
		rc = EVP_DigestFinal_ex(md, dig, dl) == 1 ? 0 : -1;
	}
	free(o);
	free(used);
	EVP_MD_CTX_free(md);
	return rc;
}

static int body_hash(const char *body, size_t n, char *b64, size_t cap)
{
	struct dkim_bhash *bh = malloc(sizeof *bh);
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dl = 0;
	int rc = -1;

	if (bh && dkim_bhash_init(bh, EVP_sha256(), 1, 0, 0) == 0) {
		dkim_bhash_feed(bh, body, n);
		if (dkim_bhash_end(bh, d, &dl) == 0)
			rc = dkim_b64_encode(d, dl, b64, cap);
	}
	free(bh);
	return rc;
}

static int sign_digest(const struct dkim_key *k, const unsigned char *dig, size_t dl,
		       unsigned char *sig, size_t *sl)
{
	EVP_PKEY *pk = dkim_key_pkey(k);
	int ok;

	if (strcmp(dkim_key_algo(k), "ed25519-sha256") == 0) {
		EVP_MD_CTX *m = EVP_MD_CTX_new();
		ok = m && EVP_DigestSignInit(m, NULL, NULL, NULL, pk) == 1 &&
		     EVP_DigestSign(m, sig, sl, dig, dl) == 1;
		EVP_MD_CTX_free(m);
	} else {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
		ok = c && EVP_PKEY_sign_init(c) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1 &&
		     EVP_PKEY_sign(c, sig, sl, dig, dl) == 1;
		EVP_PKEY_CTX_free(c);
	}
	return ok ? 0 : -1;
}

/* The header section's length and where the body starts. */
static void msg_split(const char *msg, size_t len, size_t *hlen, size_t *body)
{
	const char *e;

	if (len >= 2 && msg[0] == '\r' && msg[1] == '\n') {
		*hlen = 0;
		*body = 2;
	} else if ((e = memmem(msg, len, "\r\n\r\n", 4)) != NULL) {
		*hlen = (size_t)(e - msg) + 2;
		*body = *hlen + 2;
	} else {
		*hlen = len;
		*body = len;
	}
}

static int sign_fields(const struct dkim_key *k, const char *domain, const char *selector,
		       const char *msg, size_t hlen, const char *bh, int64_t now, struct fold *o)
{
	unsigned char dig[EVP_MAX_MD_SIZE], sig[DKIM_SIGBYTES_MAX];
	char b64[DKIM_SIGBYTES_MAX * 4 / 3 + 4];
	struct dkim_field *f;
	struct sign_h h;
	size_t nf, sl = sizeof sig;
	unsigned dl = 0;
	int rc = -1;

	if (dkim_fields_split(msg, hlen, &f, &nf) < 0)
		return -1;
	if (h_build(f, nf, &h) == 0) {
		field_head(o, k, domain, selector, now, &h, bh);
		if (!o->err && hdr_hash(f, nf, &h, o->out, o->n, dig, &dl) == 0 &&
		    sign_digest(k, dig, dl, sig, &sl) == 0 &&
		    dkim_b64_encode(sig, sl, b64, sizeof b64) == 0) {
			field_b(o, b64);
			rc = o->err ? -1 : 0;
		}
	}
	free(f);
	return rc;
}

int dkim_sign(const struct dkim_key *k, const char *domain, const char *selector, const char *msg,
	      size_t len, int64_t now, char *out, size_t cap)
{
	char bh[EVP_MAX_MD_SIZE * 2];
	struct fold o = {out, cap, 0, 0, 0};
	size_t hlen, body;

	if (cap == 0 || !dkim_name_ok(domain, strlen(domain)) ||
	    !dkim_name_ok(selector, strlen(selector)) || strlen(selector) >= DKIM_SEL_MAX)
		return -1;
	out[0] = '\0';
	msg_split(msg, len, &hlen, &body);
	if (hlen > DKIM_HEADER_MAX || body_hash(msg + body, len - body, bh, sizeof bh) < 0 ||
	    sign_fields(k, domain, selector, msg, hlen, bh, now, &o) < 0 || o.n > INT32_MAX) {
		out[0] = '\0';
		return -1;
	}
	return (int)o.n;
}
