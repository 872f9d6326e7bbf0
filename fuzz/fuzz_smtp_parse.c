/*
 * libFuzzer target for src/smtp/smtp_parse.c.
 *
 * fuzz-sources: src/smtp/smtp_parse.c src/util/str.c
 *
 * Every parser gets the raw input; parsed lines go on to the command parser
 * and MAIL/RCPT arguments to the address and parameter parsers, with every
 * flag combination. Beyond "no crash, no sanitizer report", the target
 * checks invariants and abort()s when one breaks:
 * - line reader: OK lines end in CRLF with no CRLF inside, fit max, and carry
 *   exactly the flags a direct scan finds; TOOLONG never consumes a CRLF;
 * - addresses: accepted text is short enough, NUL-terminated, control-free,
 *   lowercase in the domain, ASCII unless SMTPUTF8, and *end is at a '>';
 *   more permissive flags never reject what stricter ones accepted;
 * - parameters stay inside the input;
 * - body scanner (DATA and BDAT): one-shot, byte-by-byte and random-split
 *   feeding give identical output, flags and end, all equal to a simple
 *   whole-buffer reference model (end only at the first CRLF.CRLF).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_parse.h"

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)

/* ---- line reader ------------------------------------------------------ */

static unsigned ref_line_flags(const char *s, size_t len)
{
	unsigned f = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r' && i + 1 < len)
			f |= SMTP_LINE_BARE_CR; /* a CRLF would have ended the line */
		if (s[i] == '\r' && i + 1 == len)
			f |= SMTP_LINE_BARE_CR; /* followed by the CR of the CRLF */
		if (s[i] == '\n')
			f |= SMTP_LINE_BARE_LF;
		if (s[i] == '\0')
			f |= SMTP_LINE_NUL;
	}
	return f;
}

/* Offset of the first CRLF in s[0..n), or n. */
static size_t find_crlf(const char *s, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (s[i] == '\r' && s[i + 1] == '\n')
			return i;
	return n;
}

static void fuzz_cmd(const char *line, size_t len);

static int line_step(const char *s, size_t n, size_t max, size_t *consumed)
{
	struct smtp_line l;
	size_t eff = max < 2 ? 2 : max, crlf = find_crlf(s, n);

	switch (smtp_line_next(s, n, max, &l)) {
	case SMTP_LINE_OK:
		CHECK(l.consumed == l.len + 2 && l.consumed <= eff && l.len == crlf);
		CHECK(l.flags == ref_line_flags(s, l.len));
		fuzz_cmd(s, l.len);
		*consumed = l.consumed;
		return 1;
	case SMTP_LINE_MORE:
		CHECK(n < eff && crlf == n && l.consumed == 0);
		return 0;
	case SMTP_LINE_TOOLONG:
		CHECK(n >= eff && crlf + 2 > eff);
		CHECK(l.consumed > 0 && l.consumed <= eff && l.consumed <= crlf);
		*consumed = l.consumed;
		return 2;
	}
	abort();
}

static void fuzz_lines(const char *s, size_t n, size_t max)
{
	size_t off = 0, k = 0;
	int done;

	while (off < n) {
		int r = line_step(s + off, n - off, max, &k);
		if (r == 0)
			return;
		off += k;
		if (r == 1)
			continue;
		/* Over-long: discard up to and including the next CRLF. */
		k = smtp_line_skip(s + off, n - off, &done);
		CHECK(k <= n - off);
		if (!done) {
			CHECK(find_crlf(s + off, n - off) == n - off);
			CHECK(k + 1 >= n - off);
			return;
		}
		CHECK(k >= 2 && find_crlf(s + off, n - off) == k - 2);
		off += k;
	}
}

/* ---- addresses and parameters ----------------------------------------- */

static void check_params(const char *s, size_t n, const struct smtp_params *ps)
{
	CHECK(ps->n <= SMTP_MAX_PARAMS);
	for (size_t i = 0; i < ps->n; i++) {
		const struct smtp_param *p = &ps->p[i];
		char key[64];
		CHECK(p->key > s && p->key + p->key_len <= s + n && p->key_len > 0);
		CHECK(p->key[-1] == ' ');
		if (p->val)
			CHECK(p->val == p->key + p->key_len + 1 && p->val_len > 0 &&
			      p->val + p->val_len <= s + n);
		else
			CHECK(p->val_len == 0);
		if (p->key_len < sizeof(key)) {
			memcpy(key, p->key, p->key_len);
			key[p->key_len] = '\0';
			const struct smtp_param *f = smtp_params_find(ps, key);
			CHECK(f != NULL && f <= p);
		}
	}
}

static void fuzz_params(const char *s, size_t n)
{
	struct smtp_params a, b;
	int ra = smtp_params_parse(s, n, 0, &a);
	int rb = smtp_params_parse(s, n, 1, &b);

	if (ra == 0) {
		check_params(s, n, &a);
		CHECK(rb == 0 && b.n == a.n); /* UTF-8 only widens */
	}
	if (rb == 0)
		check_params(s, n, &b);
	(void)smtp_params_find(&a, "SIZE");
}

static void check_addr(const char *s, size_t n, unsigned flags, const struct smtp_addr *a,
		       size_t end)
{
	size_t tl = strnlen(a->text, sizeof(a->text));

	CHECK(tl < sizeof(a->text) && end >= 2 && end <= n && end <= SMTP_PATH_MAX);
	CHECK(s[0] == '<' && s[end - 1] == '>');
	CHECK(a->local_len <= SMTP_LOCAL_MAX && a->local_len <= tl);
	if (a->is_null) {
		CHECK((flags & SMTP_ADDR_ALLOW_NULL) && tl == 0 && end == 2);
		return;
	}
	if (a->local_len == tl) { /* <Postmaster> */
		CHECK((flags & SMTP_ADDR_POSTMASTER) && strcmp(a->text, "Postmaster") == 0);
		return;
	}
	CHECK(a->text[a->local_len] == '@' && tl - a->local_len - 1 <= SMTP_DOMAIN_MAX);
	CHECK(tl + 2 == end); /* text is the path without "<" ">" */
	for (size_t i = 0; i < tl; i++) {
		unsigned char ch = (unsigned char)a->text[i];
		CHECK(ch >= 0x20 && ch != 0x7f);
		CHECK(ch < 0x80 || ((flags & SMTP_ADDR_ALLOW_UTF8) && a->utf8));
		CHECK(i <= a->local_len || !(ch >= 'A' && ch <= 'Z'));
		CHECK(i <= a->local_len || ch != ' ');
	}
	CHECK(a->quoted == (a->text[0] == '"'));
	CHECK(a->domain_literal == (a->text[a->local_len + 1] == '['));
}

static void fuzz_addr(const char *s, size_t n)
{
	struct smtp_addr a[8];
	enum smtp_addr_err e[8];
	size_t end[8];

	for (unsigned f = 0; f < 8; f++) {
		e[f] = smtp_addr_parse(s, n, f, &a[f], &end[f]);
		CHECK(e[f] <= SMTP_ADDR_NULL);
		if (e[f] == SMTP_ADDR_OK) {
			check_addr(s, n, f, &a[f], end[f]);
			fuzz_params(s + end[f], n - end[f]);
		} else if (e[f] != SMTP_ADDR_NULL) {
			CHECK(end[f] == 0);
		}
	}
	/* More permission never turns an accepted path into a rejected one. */
	for (unsigned f = 0; f < 8; f++)
		for (unsigned g = 0; g < 8; g++)
			if ((f & g) == f && e[f] == SMTP_ADDR_OK)
				CHECK(e[g] == SMTP_ADDR_OK && end[g] == end[f] &&
				      strcmp(a[g].text, a[f].text) == 0);
}

static void fuzz_cmd(const char *line, size_t len)
{
	struct smtp_cmd c;
	int r = smtp_cmd_parse(line, len, &c);

	CHECK(r == 0 || r == -1);
	CHECK(c.verb >= SMTP_V_UNKNOWN && c.verb < SMTP_V_COUNT);
	CHECK(r == -1 || c.verb != SMTP_V_UNKNOWN);
	if (c.arg) {
		CHECK(c.arg > line && c.arg + c.arg_len == line + len && c.arg_len > 0);
	} else {
		CHECK(c.arg_len == 0);
	}
	if (r == 0 && c.arg && (c.verb == SMTP_V_MAIL || c.verb == SMTP_V_RCPT))
		fuzz_addr(c.arg, c.arg_len);
}

/* ---- body: reference model -------------------------------------------- */

struct body_res {
	char *out;
	size_t out_len, consumed;
	unsigned flags;
	int done, fin;
};

/* dot: DATA mode, where a "." starting a line is not counted (RFC 5321 4.5.3.1.6). */
static unsigned ref_body_flags(const char *in, size_t n, int dot)
{
	unsigned f = 0;
	size_t line = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)in[i];
		int bol = i == 0 || (i >= 2 && in[i - 2] == '\r' && in[i - 1] == '\n');
		if (ch == '\0')
			f |= SMTP_BODY_NUL;
		if (ch >= 0x80)
			f |= SMTP_BODY_8BIT;
		if ((ch == '\r' && i + 1 < n && in[i + 1] != '\n') ||
		    (ch == '\n' && (i == 0 || in[i - 1] != '\r')))
			f |= SMTP_BODY_BARE_CRLF;
		if (!(dot && bol && ch == '.') && ++line > SMTP_TEXT_LINE_MAX)
			f |= SMTP_BODY_LONGLINE;
		if (ch == '\n' && i > 0 && in[i - 1] == '\r')
			line = 0;
	}
	return f;
}

static size_t ref_end(const char *in, size_t n)
{
	if (n >= 3 && memcmp(in, ".\r\n", 3) == 0)
		return 3;
	for (size_t i = 0; i + 5 <= n; i++)
		if (memcmp(in + i, "\r\n.\r\n", 5) == 0)
			return i + 5;
	return 0;
}

static size_t ref_unstuff(const char *in, size_t n, char *out)
{
	size_t o = 0, i = 0;

	while (i < n) {
		size_t j = i + find_crlf(in + i, n - i);
		size_t e = j < n ? j + 2 : n, k = i;
		if (k < j && in[k] == '.' && ++k < j && in[k] == '\r')
			k++;
		memcpy(out + o, in + k, e - k);
		o += e - k;
		i = e;
	}
	return o;
}

static size_t last_line_len(const char *in, size_t n)
{
	size_t start = n;

	while (start >= 2 && !(in[start - 2] == '\r' && in[start - 1] == '\n'))
		start--;
	return n - (start < 2 ? 0 : start);
}

static void ref_body(const char *in, size_t n, int dot, struct body_res *r)
{
	size_t end = dot ? ref_end(in, n) : 0;

	r->done = end > 0;
	r->consumed = end ? end : n;
	r->flags = ref_body_flags(in, r->consumed, dot);
	r->fin = 0;
	if (dot) {
		r->out_len = ref_unstuff(in, end ? end - 3 : n, r->out);
		return;
	}
	memcpy(r->out, in, n);
	r->out_len = n;
	r->fin = n > 0 && !(n >= 2 && in[n - 2] == '\r' && in[n - 1] == '\n');
	if (n > 0 && in[n - 1] == '\r')
		r->flags |= SMTP_BODY_BARE_CRLF;
	if (r->fin && last_line_len(in, n) + 2 > SMTP_TEXT_LINE_MAX)
		r->flags |= SMTP_BODY_LONGLINE;
}

/* ---- body: the scanner ------------------------------------------------ */

/* chunk 0: one shot; 1: byte by byte; else sizes from a PRNG seeded so. */
static void run_body(const char *in, size_t n, int dot, uint32_t seed, struct body_res *r)
{
	struct smtp_body b;
	size_t off = 0;
	uint32_t x = seed | 1;

	smtp_body_init(&b, dot);
	r->out_len = 0;
	do {
		size_t len = n - off;
		if (seed == 1)
			len = len ? 1 : 0;
		else if (seed != 0) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			len = x % 17 < len ? x % 17 : len;
		}
		char *out = malloc(len ? len : 1); /* exactly out_cap = n */
		size_t olen = (size_t)-1;
		size_t used = smtp_body_feed(&b, in + off, len, out, len, &olen);
		CHECK(used <= len && olen <= used);
		memcpy(r->out + r->out_len, out, olen);
		free(out);
		r->out_len += olen;
		off += used;
		if (used < len) {
			CHECK(b.done);
			break;
		}
	} while (off < n);
	CHECK(b.out_len == r->out_len);
	CHECK(smtp_body_feed(&b, "", 0, NULL, 0, &(size_t){0}) == 0);
	r->consumed = off;
	r->done = b.done;
	r->fin = dot ? 0 : smtp_body_finish(&b);
	r->flags = b.flags;
	if (!dot)
		CHECK(smtp_body_finish(&b) == 0); /* idempotent */
}

static void same(const struct body_res *a, const struct body_res *b)
{
	CHECK(a->consumed == b->consumed && a->done == b->done && a->flags == b->flags);
	CHECK(a->fin == b->fin && a->out_len == b->out_len);
	CHECK(memcmp(a->out, b->out, a->out_len) == 0);
}

static void fuzz_body(const char *in, size_t n, uint32_t seed)
{
	struct body_res ref, got;

	ref.out = malloc(n + 1);
	got.out = malloc(n + 1);
	CHECK(ref.out && got.out);
	for (int dot = 0; dot <= 1; dot++) {
		ref_body(in, n, dot, &ref);
		run_body(in, n, dot, 0, &got);
		same(&ref, &got);
		run_body(in, n, dot, 1, &got);
		same(&ref, &got);
		run_body(in, n, dot, seed | 2, &got);
		same(&ref, &got);
	}
	free(ref.out);
	free(got.out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	uint32_t seed = 2166136261u;

	for (size_t i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 16777619u;
	fuzz_lines(s, size, SMTP_CMD_LINE_MAX);
	fuzz_lines(s, size, 1 + seed % 24); /* small limits reach TOOLONG often */
	fuzz_cmd(s, size);
	fuzz_addr(s, size);
	fuzz_params(s, size);
	fuzz_body(s, size, seed);
	return 0;
}
