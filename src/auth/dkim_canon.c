/*
 * dkim_canon: DKIM canonicalization (RFC 6376 3.4): simple and relaxed for
 * header fields and for the body, the body canonicalizer incremental (the
 * body streams in chunks of any size; the output does not depend on where
 * they break); the body hash with l=; splitting a header section into
 * fields and picking signed fields from the bottom up (RFC 6376 5.4.2).
 *
 * Security role: runs over every byte of untrusted messages; no per-byte
 * allocation, fixed buffers, every index checked against its length.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/dkim_int.h"

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

void dkim_out_init(struct dkim_out *o, dkim_sink sink, void *arg)
{
	o->sink = sink;
	o->arg = arg;
	o->n = 0;
}

void dkim_out_flush(struct dkim_out *o)
{
	if (o->n > 0)
		o->sink(o->arg, o->buf, o->n);
	o->n = 0;
}

static void out_byte(struct dkim_out *o, char c)
{
	if (o->n == sizeof o->buf)
		dkim_out_flush(o);
	o->buf[o->n++] = c;
}

static void out_crlf(struct dkim_out *o)
{
	out_byte(o, '\r');
	out_byte(o, '\n');
}

static void out_lower(struct dkim_out *o, char c)
{
	out_byte(o, (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c);
}

/* ---- header fields ------------------------------------------------------ */

/* Relaxed (RFC 6376 3.4.2): lowercase name, no WSP around ':', unfolded,
 * WSP runs as one SP, none at the end. */
static void canon_relaxed(struct dkim_out *o, const char *p, size_t len)
{
	const char *colon = memchr(p, ':', len);
	size_t name_end = colon ? (size_t)(colon - p) : len, i;
	int wsp = 0, started = 0;

	while (name_end > 0 && is_wsp(p[name_end - 1]))
		name_end--;
	for (i = 0; i < name_end; i++)
		out_lower(o, p[i]);
	if (!colon)
		return;
	out_byte(o, ':');
	for (i = (size_t)(colon - p) + 1; i < len; i++) {
		if (is_wsp(p[i]) || p[i] == '\r' || p[i] == '\n') {
			wsp = 1;
			continue;
		}
		if (wsp && started)
			out_byte(o, ' ');
		wsp = 0;
		started = 1;
		out_byte(o, p[i]);
	}
}

void dkim_canon_header(struct dkim_out *o, const char *p, size_t len, int relaxed, int crlf)
{
	if (len >= 2 && p[len - 2] == '\r' && p[len - 1] == '\n')
		len -= 2;
	if (relaxed) {
		canon_relaxed(o, p, len);
	} else {
		for (size_t i = 0; i < len; i++)
			out_byte(o, p[i]);
	}
	if (crlf)
		out_crlf(o);
}

/* ---- body --------------------------------------------------------------- */

void dkim_body_init(struct dkim_body *b, int relaxed, dkim_sink sink, void *arg)
{
	dkim_out_init(&b->o, sink, arg);
	b->relaxed = relaxed;
	b->cr = b->wsp = b->any = 0;
	b->crlf = 0;
}

/* Line content c (not part of a CRLF): pending line ends and space first. */
static void body_content(struct dkim_body *b, char c)
{
	if (b->relaxed && is_wsp(c)) {
		b->wsp = 1;
		return;
	}
	for (; b->crlf > 0; b->crlf--)
		out_crlf(&b->o);
	if (b->wsp)
		out_byte(&b->o, ' ');
	b->wsp = 0;
	b->any = 1;
	out_byte(&b->o, c);
}

static void body_byte(struct dkim_body *b, char c)
{
	if (b->cr) {
		b->cr = 0;
		if (c == '\n') {
			b->crlf++;
			b->wsp = 0; /* relaxed: white space at the end of a line goes */
			return;
		}
		body_content(b, '\r');
	}
	if (c == '\r')
		b->cr = 1;
	else
		body_content(b, c);
}

void dkim_body_feed(struct dkim_body *b, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		body_byte(b, p[i]);
}

/* Trailing empty lines go; one CRLF ends a non-empty body; the empty body
 * is CRLF (simple) or nothing (relaxed). */
void dkim_body_end(struct dkim_body *b)
{
	if (b->cr) {
		b->cr = 0;
		body_content(b, '\r');
	}
	b->wsp = 0;
	if (b->any || !b->relaxed)
		out_crlf(&b->o);
	b->crlf = 0;
	dkim_out_flush(&b->o);
}

/* ---- body hash ---------------------------------------------------------- */

static void bhash_sink(void *arg, const char *p, size_t n)
{
	struct dkim_bhash *h = arg;
	size_t take = n;

	if (h->limited) {
		uint64_t left = h->total >= h->limit ? 0 : h->limit - h->total;
		if (take > left)
			take = (size_t)left;
	}
	h->total += n;
	if (take > 0 && EVP_DigestUpdate(h->md, p, take) != 1)
		h->err = 1;
}

int dkim_bhash_init(struct dkim_bhash *h, const EVP_MD *md, int relaxed, int limited,
		    uint64_t limit)
{
	h->err = 0;
	h->limited = limited;
	h->limit = limit;
	h->total = 0;
	dkim_body_init(&h->canon, relaxed, bhash_sink, h);
	if (!(h->md = EVP_MD_CTX_new()))
		return -1;
	if (EVP_DigestInit_ex(h->md, md, NULL) != 1) {
		dkim_bhash_free(h);
		return -1;
	}
	return 0;
}

void dkim_bhash_feed(struct dkim_bhash *h, const char *p, size_t n)
{
	if (h->md)
		dkim_body_feed(&h->canon, p, n);
}

int dkim_bhash_end(struct dkim_bhash *h, unsigned char *out, unsigned *len)
{
	int rc = -1;

	if (!h->md)
		return -1;
	dkim_body_end(&h->canon);
	if (!h->err && EVP_DigestFinal_ex(h->md, out, len) == 1)
		rc = 0;
	dkim_bhash_free(h);
	return rc;
}

void dkim_bhash_free(struct dkim_bhash *h)
{
	EVP_MD_CTX_free(h->md);
	h->md = NULL;
}

/* ---- the header section as fields --------------------------------------- */

/* The end of the line starting at i (after its LF, or len). */
static size_t line_end(const char *h, size_t len, size_t i)
{
	const char *lf = memchr(h + i, '\n', len - i);

	return lf ? (size_t)(lf - h) + 1 : len;
}

static size_t field_name_len(const char *p, size_t len)
{
	const char *colon = memchr(p, ':', len);
	size_t n;

	if (!colon)
		return 0;
	n = (size_t)(colon - p);
	while (n > 0 && is_wsp(p[n - 1]))
		n--;
	return n;
}

static size_t count_fields(const char *h, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i = line_end(h, len, i))
		if (!is_wsp(h[i]))
			n++;
	return n;
}

int dkim_fields_split(const char *hdr, size_t len, struct dkim_field **out, size_t *n)
{
	size_t cap = count_fields(hdr, len), k = 0;
	struct dkim_field *f = calloc(cap ? cap : 1, sizeof *f);

	*out = NULL;
	*n = 0;
	if (!f)
		return -1;
	for (size_t i = 0; i < len;) {
		size_t e = line_end(hdr, len, i);
		if (is_wsp(hdr[i])) { /* continuation (ignored at the very top) */
			if (k > 0)
				f[k - 1].len = (size_t)(hdr + e - f[k - 1].p);
		} else if (k < cap) {
			f[k].p = hdr + i;
			f[k].len = e - i;
			k++;
		}
		i = e;
	}
	for (size_t j = 0; j < k; j++) {
		const char *lf = memchr(f[j].p, '\n', f[j].len);
		f[j].name_len = field_name_len(f[j].p, lf ? (size_t)(lf - f[j].p) : f[j].len);
	}
	*out = f;
	*n = k;
	return 0;
}

int dkim_field_is(const struct dkim_field *f, const char *name, size_t name_len)
{
	return f->name_len > 0 && f->name_len == name_len && strncasecmp(f->p, name, name_len) == 0;
}

long dkim_field_pick(const struct dkim_field *f, size_t nf, unsigned char *used, const char *name,
		     size_t name_len)
{
	for (size_t j = nf; j > 0; j--) {
		if (!used[j - 1] && dkim_field_is(&f[j - 1], name, name_len)) {
			used[j - 1] = 1;
			return (long)(j - 1);
		}
	}
	return -1;
}
