/*
 * smtp_parse: pure parsers for the bytes an SMTP client sends (see
 * smtp_parse.h for the contract of each function).
 *
 * Security role: this is the first code that touches untrusted input. It
 * decides where a command line ends, what a mail address is and where a
 * message body ends, so every SMTP-smuggling or address-confusion bug would
 * live here. Rules kept throughout: no I/O, no allocation, no globals; every
 * read is bounded by a length we were given and every write by a capacity we
 * were given; only CRLF ends a line; anything unusual is reported, never
 * silently repaired or truncated.
 */
#include "smtp/smtp_parse.h"

#include <arpa/inet.h>
#include <string.h>

#include "util/str.h"

/* ---- character classes (ASCII only, locale-independent) --------------- */

static int is_alpha(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int is_digit(unsigned char ch)
{
	return ch >= '0' && ch <= '9';
}

static int is_alnum(unsigned char ch)
{
	return is_alpha(ch) || is_digit(ch);
}

static unsigned char to_lower(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (unsigned char)(ch - 'A' + 'a') : ch;
}

/* ASCII case-insensitive comparison of a[0..n) with b[0..n). */
static int ascii_ieq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (to_lower((unsigned char)a[i]) != to_lower((unsigned char)b[i]))
			return 0;
	return 1;
}

/* RFC 5322 atext. */
static int is_atext(unsigned char ch)
{
	static const char specials[] = "!#$%&'*+-/=?^_`{|}~";

	if (is_alnum(ch))
		return 1;
	return ch != '\0' && memchr(specials, ch, sizeof(specials) - 1) != NULL;
}

/*
 * Length (2..4) of the well-formed UTF-8 encoding of one non-ASCII character
 * at p[0..n), or 0 when it is not one: stray continuation octets, overlong
 * forms, surrogates, code points above U+10FFFF and truncated sequences are
 * all refused. C1 controls (U+0080..U+009F) are refused too: they have no
 * business in addresses or parameters and confuse terminals and logs.
 */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (p[0] == 0xc2 || p[0] == 0xe0)
		lo = 0xa0; /* C1 controls; overlong 3-octet forms */
	else if (p[0] == 0xed)
		hi = 0x9f; /* UTF-16 surrogates */
	else if (p[0] == 0xf0)
		lo = 0x90; /* overlong 4-octet forms */
	else if (p[0] == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (len > n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* ---- line reader ------------------------------------------------------ */

enum smtp_line_status smtp_line_next(const char *buf, size_t n, size_t max, struct smtp_line *out)
{
	size_t lim;
	unsigned flags = 0;

	memset(out, 0, sizeof(*out));
	if (max < 2)
		max = 2;
	lim = n < max ? n : max;
	for (size_t i = 0; i < lim; i++) {
		if (buf[i] == '\r' && i + 1 < lim) {
			if (buf[i + 1] == '\n') {
				out->len = i;
				out->consumed = i + 2;
				out->flags = flags;
				return SMTP_LINE_OK;
			}
			flags |= SMTP_LINE_BARE_CR;
		} else if (buf[i] == '\n') {
			flags |= SMTP_LINE_BARE_LF; /* a CRLF returned above */
		} else if (buf[i] == '\0') {
			flags |= SMTP_LINE_NUL;
		}
	}
	if (n < max)
		return SMTP_LINE_MORE;
	/* Keep a final CR: with the next octet it may be the CRLF that ends it. */
	out->consumed = buf[max - 1] == '\r' ? max - 1 : max;
	out->flags = flags;
	return SMTP_LINE_TOOLONG;
}

size_t smtp_line_skip(const char *buf, size_t n, int *done)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (buf[i] == '\r' && buf[i + 1] == '\n') {
			*done = 1;
			return i + 2;
		}
	}
	*done = 0;
	return (n > 0 && buf[n - 1] == '\r') ? n - 1 : n;
}

/* ---- commands --------------------------------------------------------- */

static const char *const verb_names[SMTP_V_COUNT] = {
    [SMTP_V_HELO] = "HELO", [SMTP_V_EHLO] = "EHLO",	    [SMTP_V_MAIL] = "MAIL",
    [SMTP_V_RCPT] = "RCPT", [SMTP_V_DATA] = "DATA",	    [SMTP_V_BDAT] = "BDAT",
    [SMTP_V_RSET] = "RSET", [SMTP_V_NOOP] = "NOOP",	    [SMTP_V_QUIT] = "QUIT",
    [SMTP_V_VRFY] = "VRFY", [SMTP_V_EXPN] = "EXPN",	    [SMTP_V_HELP] = "HELP",
    [SMTP_V_AUTH] = "AUTH", [SMTP_V_STARTTLS] = "STARTTLS",
};

static enum smtp_verb verb_lookup(const char *s, size_t n)
{
	for (int v = SMTP_V_UNKNOWN + 1; v < SMTP_V_COUNT; v++)
		if (str_eqn_nocase(s, n, verb_names[v]))
			return (enum smtp_verb)v;
	return SMTP_V_UNKNOWN;
}

/* "FROM:" / "TO:" after "MAIL " / "RCPT ", then optional spaces, then arg. */
static int path_arg(const char *line, size_t len, size_t k, const char *kw, struct smtp_cmd *out)
{
	size_t kwlen = strlen(kw);

	if (len - k < kwlen || !ascii_ieq(line + k, kw, kwlen))
		return -1;
	k += kwlen;
	while (k < len && line[k] == ' ')
		k++;
	if (k < len) {
		out->arg = line + k;
		out->arg_len = len - k;
	}
	return 0;
}

int smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *out)
{
	size_t k = 0;

	out->arg = NULL;
	out->arg_len = 0;
	while (k < len && is_alpha((unsigned char)line[k]))
		k++;
	out->verb = verb_lookup(line, k);
	if (out->verb == SMTP_V_UNKNOWN)
		return -1;
	if (out->verb == SMTP_V_MAIL || out->verb == SMTP_V_RCPT) {
		if (k == len || line[k] != ' ')
			return -1;
		return path_arg(line, len, k + 1, out->verb == SMTP_V_MAIL ? "FROM:" : "TO:", out);
	}
	if (k == len)
		return 0;
	/* Exactly one SP, then a non-empty argument that does not start with SP. */
	if (line[k] != ' ' || k + 1 == len || line[k + 1] == ' ')
		return -1;
	out->arg = line + k + 1;
	out->arg_len = len - k - 1;
	return 0;
}

/* ---- addresses -------------------------------------------------------- */

/* Parsing cursor over a path. Nothing past lim (<= SMTP_PATH_MAX) is used. */
struct cur {
	const char *s;
	size_t n;	/* input length */
	size_t lim;	/* min(n, SMTP_PATH_MAX) */
	size_t i;	/* current offset */
	unsigned flags; /* SMTP_ADDR_ALLOW_* */
	int utf8;	/* a non-ASCII character was accepted */
};

static int at(const struct cur *c, char ch)
{
	return c->i < c->lim && c->s[c->i] == ch;
}

/* The error for an unexpected octet or end at c->i. */
static enum smtp_addr_err stop(const struct cur *c)
{
	return (c->i >= c->lim && c->n > c->lim) ? SMTP_ADDR_TOOLONG : SMTP_ADDR_SYNTAX;
}

/* Accept one non-ASCII character at c->i (only with SMTPUTF8). */
static enum smtp_addr_err take_utf8(struct cur *c)
{
	size_t k;

	if (!(c->flags & SMTP_ADDR_ALLOW_UTF8))
		return SMTP_ADDR_UTF8;
	k = utf8_len((const unsigned char *)c->s + c->i, c->n - c->i);
	if (k == 0)
		return SMTP_ADDR_SYNTAX;
	if (c->i + k > c->lim)
		return SMTP_ADDR_TOOLONG;
	c->i += k;
	c->utf8 = 1;
	return SMTP_ADDR_OK;
}

/* Dot-string = Atom *("." Atom); Atom = 1*atext (plus UTF-8 with SMTPUTF8). */
static enum smtp_addr_err local_dot(struct cur *c)
{
	size_t start = c->i;
	int want = 1; /* an atext character must come next */
	enum smtp_addr_err err;

	while (c->i < c->lim && c->i - start <= SMTP_LOCAL_MAX) {
		unsigned char ch = (unsigned char)c->s[c->i];
		if (ch == '.' && !want) {
			want = 1;
			c->i++;
			continue;
		}
		if (ch >= 0x80) {
			if ((err = take_utf8(c)) != SMTP_ADDR_OK)
				return err;
		} else if (is_atext(ch)) {
			c->i++;
		} else {
			break;
		}
		want = 0;
	}
	if (c->i - start > SMTP_LOCAL_MAX)
		return SMTP_ADDR_TOOLONG;
	return want ? stop(c) : SMTP_ADDR_OK;
}

/* Quoted-string = DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE (RFC 5321). */
static enum smtp_addr_err local_quoted(struct cur *c)
{
	size_t start = c->i++;
	enum smtp_addr_err err;

	while (c->i < c->lim && c->i - start <= SMTP_LOCAL_MAX) {
		unsigned char ch = (unsigned char)c->s[c->i];
		if (ch == '"') {
			c->i++;
			return c->i - start > SMTP_LOCAL_MAX ? SMTP_ADDR_TOOLONG : SMTP_ADDR_OK;
		}
		if (ch >= 0x80) {
			if ((err = take_utf8(c)) != SMTP_ADDR_OK)
				return err;
			continue;
		}
		if (ch == '\\') { /* quoted-pairSMTP = "\" %d32-126 */
			if (++c->i >= c->lim)
				break;
			ch = (unsigned char)c->s[c->i];
		}
		if (ch < 32 || ch > 126)
			return SMTP_ADDR_SYNTAX;
		c->i++;
	}
	return c->i - start > SMTP_LOCAL_MAX ? SMTP_ADDR_TOOLONG : stop(c);
}

/*
 * Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str], at
 * most 63 octets, or a U-label (well-formed UTF-8) with SMTPUTF8. No empty
 * label, no leading or trailing hyphen, no trailing dot.
 */
static enum smtp_addr_err domain_name(struct cur *c)
{
	size_t start = c->i, label = 0, before;
	unsigned char last = '.';
	enum smtp_addr_err err;

	while (c->i < c->lim && c->i - start <= SMTP_DOMAIN_MAX) {
		unsigned char ch = (unsigned char)c->s[c->i];
		before = c->i;
		if (ch == '.' && label > 0 && last != '-') {
			label = 0;
			c->i++;
		} else if (ch >= 0x80) {
			if ((err = take_utf8(c)) != SMTP_ADDR_OK)
				return err;
		} else if (is_alnum(ch) || (ch == '-' && label > 0)) {
			c->i++;
		} else {
			break;
		}
		label = ch == '.' ? 0 : label + (c->i - before);
		last = ch;
		if (label > 63)
			return SMTP_ADDR_SYNTAX;
	}
	if (c->i - start > SMTP_DOMAIN_MAX)
		return SMTP_ADDR_TOOLONG;
	return (label == 0 || last == '-') ? stop(c) : SMTP_ADDR_OK;
}

/* "1.2.3.4" or "IPv6:..." (the text between the brackets, NUL-terminated). */
static int literal_ok(const char *lit)
{
	unsigned char a[16];

	if (ascii_ieq(lit, "IPv6:", 5))
		return inet_pton(AF_INET6, lit + 5, a) == 1;
	return inet_pton(AF_INET, lit, a) == 1;
}

/* address-literal = "[" ( IPv4-address-literal / IPv6-address-literal ) "]" */
static enum smtp_addr_err domain_literal(struct cur *c)
{
	char lit[64];
	size_t k = 0;

	c->i++;
	while (c->i < c->lim && c->s[c->i] != ']') {
		unsigned char ch = (unsigned char)c->s[c->i];
		/* dcontent = %d33-90 / %d94-126; also bounds what inet_pton sees */
		if (ch < 33 || ch > 126 || ch == '[' || ch == '\\' || k + 1 >= sizeof(lit))
			return SMTP_ADDR_SYNTAX;
		lit[k++] = (char)ch;
		c->i++;
	}
	if (c->i >= c->lim)
		return stop(c);
	lit[k] = '\0';
	c->i++;
	return literal_ok(lit) ? SMTP_ADDR_OK : SMTP_ADDR_SYNTAX;
}

static enum smtp_addr_err null_path(unsigned flags, struct smtp_addr *out, size_t *end)
{
	*end = 2;
	if (!(flags & SMTP_ADDR_ALLOW_NULL))
		return SMTP_ADDR_NULL;
	out->is_null = 1;
	return SMTP_ADDR_OK;
}

/* "<Postmaster>" (any case, unquoted, no domain): RFC 5321 section 4.5.1. */
static enum smtp_addr_err postmaster(const struct cur *c, struct smtp_addr *out, size_t *end)
{
	if (!(c->flags & SMTP_ADDR_POSTMASTER) || out->quoted || c->i - 1 != 10 ||
	    !ascii_ieq(c->s + 1, "postmaster", 10))
		return SMTP_ADDR_SYNTAX;
	memcpy(out->text, "Postmaster", 11);
	out->local_len = 10;
	*end = c->i + 1;
	return SMTP_ADDR_OK;
}

/* text = local "@" lowercase(domain). Sizes are bounded by lim already. */
static enum smtp_addr_err build_text(const struct cur *c, size_t dom, size_t dom_len,
				     struct smtp_addr *out)
{
	size_t local_len = dom - 2; /* s[1 .. dom-1) */
	char *t = out->text;

	if (local_len + 1 + dom_len >= sizeof(out->text))
		return SMTP_ADDR_TOOLONG;
	memcpy(t, c->s + 1, local_len);
	t[local_len] = '@';
	for (size_t i = 0; i < dom_len; i++)
		t[local_len + 1 + i] = (char)to_lower((unsigned char)c->s[dom + i]);
	t[local_len + 1 + dom_len] = '\0';
	out->local_len = local_len;
	return SMTP_ADDR_OK;
}

enum smtp_addr_err smtp_addr_parse(const char *s, size_t n, unsigned flags, struct smtp_addr *out,
				   size_t *end)
{
	struct cur c = {s, n, n < SMTP_PATH_MAX ? n : SMTP_PATH_MAX, 1, flags, 0};
	enum smtp_addr_err err;
	size_t dom;

	memset(out, 0, sizeof(*out));
	*end = 0;
	if (n < 2 || s[0] != '<')
		return SMTP_ADDR_SYNTAX;
	if (at(&c, '>'))
		return null_path(flags, out, end);
	if (at(&c, '@'))
		return SMTP_ADDR_ROUTE;
	out->quoted = at(&c, '"');
	err = out->quoted ? local_quoted(&c) : local_dot(&c);
	if (err != SMTP_ADDR_OK)
		return err;
	if (at(&c, '>'))
		return postmaster(&c, out, end);
	if (!at(&c, '@'))
		return stop(&c);
	dom = ++c.i;
	out->domain_literal = at(&c, '[');
	err = out->domain_literal ? domain_literal(&c) : domain_name(&c);
	if (err == SMTP_ADDR_OK && !at(&c, '>'))
		err = stop(&c);
	if (err == SMTP_ADDR_OK)
		err = build_text(&c, dom, c.i - dom, out);
	if (err != SMTP_ADDR_OK)
		return err;
	out->utf8 = c.utf8;
	*end = c.i + 1;
	return SMTP_ADDR_OK;
}

/* ---- MAIL/RCPT parameters --------------------------------------------- */

/* Length of one esmtp-value character at p[0..n), 0 if none. */
static size_t value_char(const char *p, size_t n, int utf8)
{
	unsigned char ch = (unsigned char)p[0];

	if (ch >= 33 && ch <= 126 && ch != '=')
		return 1;
	if (ch >= 0x80 && utf8)
		return utf8_len((const unsigned char *)p, n);
	return 0;
}

/* One esmtp-param at s[*ip..n); on success *ip is at the end or at a SP. */
static int param_one(const char *s, size_t n, size_t *ip, int utf8, struct smtp_param *p)
{
	size_t i = *ip, k;

	if (!is_alnum((unsigned char)s[i]))
		return -1;
	while (i < n && (is_alnum((unsigned char)s[i]) || s[i] == '-'))
		i++;
	p->key = s + *ip;
	p->key_len = i - *ip;
	p->val = NULL;
	p->val_len = 0;
	if (i < n && s[i] == '=') {
		p->val = s + ++i;
		while (i < n && (k = value_char(s + i, n - i, utf8)) > 0)
			i += k;
		p->val_len = (size_t)(s + i - p->val);
		if (p->val_len == 0)
			return -1;
	}
	if (i < n && s[i] != ' ')
		return -1;
	*ip = i;
	return 0;
}

int smtp_params_parse(const char *s, size_t n, int utf8, struct smtp_params *out)
{
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	while (i < n) {
		if (s[i] != ' ')
			return -1;
		while (i < n && s[i] == ' ')
			i++;
		if (i == n)
			break;
		if (out->n == SMTP_MAX_PARAMS)
			return -1;
		if (param_one(s, n, &i, utf8, &out->p[out->n]) < 0)
			return -1;
		out->n++;
	}
	return 0;
}

const struct smtp_param *smtp_params_find(const struct smtp_params *ps, const char *key)
{
	for (size_t i = 0; i < ps->n && i < SMTP_MAX_PARAMS; i++)
		if (str_eqn_nocase(ps->p[i].key, ps->p[i].key_len, key))
			return &ps->p[i];
	return NULL;
}

/* ---- DATA / BDAT body ------------------------------------------------- */

/*
 * States. Only "." and ".\r" at the start of a line are ever held back:
 * they are never message content (the dot is stuffing or the end marker,
 * and a CR right after it is either part of ".\r\n" or a bare CR). Every
 * other octet is emitted when it arrives, so one input octet produces at
 * most one output octet and out_cap >= n is always enough. A CR inside a
 * line is emitted at once (it is content whether or not LF follows) but
 * remembered in B_CR so the next octet, whenever it comes, decides between
 * CRLF and bare CR: flags and output do not depend on how input is split.
 */
enum {
	B_BOL = 0, /* at the start of a line */
	B_MID,	   /* inside a line */
	B_CR,	   /* inside a line, the last octet was CR */
	B_DOT,	   /* DATA: the line so far is "." (held) */
	B_DOT_CR,  /* DATA: the line so far is ".\r" (held) */
};

void smtp_body_init(struct smtp_body *b, int dot_mode)
{
	memset(b, 0, sizeof(*b));
	b->state = B_BOL;
	b->dot_mode = dot_mode ? 1 : 0;
}

/* Flags and line length of one octet (a stuffing dot is not counted). */
static void body_count(struct smtp_body *b, unsigned char ch)
{
	if (ch == '\0')
		b->flags |= SMTP_BODY_NUL;
	if (ch >= 0x80)
		b->flags |= SMTP_BODY_8BIT;
	if (b->line_len <= SMTP_TEXT_LINE_MAX)
		b->line_len++; /* saturates at MAX + 1 */
	if (b->line_len > SMTP_TEXT_LINE_MAX)
		b->flags |= SMTP_BODY_LONGLINE;
}

/* An octet inside a line; returns it (it is always emitted). */
static int body_mid(struct smtp_body *b, unsigned char ch)
{
	if (ch == '\n')
		b->flags |= SMTP_BODY_BARE_CRLF;
	b->state = ch == '\r' ? B_CR : B_MID;
	return ch;
}

/* DATA mode, start of a line: dot-unstuffing and the end marker. */
static int body_dot(struct smtp_body *b, unsigned char ch)
{
	if (b->state == B_BOL && ch == '.') {
		b->state = B_DOT;
		return -1;
	}
	if (b->state == B_DOT && ch == '\r') {
		b->state = B_DOT_CR;
		return -1;
	}
	if (b->state == B_DOT_CR) {
		if (ch == '\n') {
			b->done = 1;
			return -1;
		}
		/* ".\r" + other: the dot is stuffing, the CR is bare; drop both. */
		b->flags |= SMTP_BODY_BARE_CRLF;
	}
	return body_mid(b, ch); /* B_DOT + other: the dot is dropped */
}

/* One octet; returns the octet to emit, or -1 for none. */
static int body_step(struct smtp_body *b, unsigned char ch)
{
	if (b->dot_mode && (b->state == B_BOL || b->state == B_DOT || b->state == B_DOT_CR))
		return body_dot(b, ch);
	if (b->state == B_CR) {
		if (ch == '\n') {
			b->state = B_BOL;
			b->line_len = 0;
			return ch;
		}
		b->flags |= SMTP_BODY_BARE_CRLF;
	}
	return body_mid(b, ch);
}

size_t smtp_body_feed(struct smtp_body *b, const char *in, size_t n, char *out, size_t out_cap,
		      size_t *out_len)
{
	size_t i, o = 0;

	if (n > out_cap) /* broken caller: consume only what surely fits */
		n = out_cap;
	for (i = 0; i < n && !b->done; i++) {
		unsigned char ch = (unsigned char)in[i];
		int e;
		/* RFC 5321 4.5.3.1.6: the dot added for transparency does not count. */
		if (!(b->dot_mode && b->state == B_BOL && ch == '.'))
			body_count(b, ch);
		e = body_step(b, ch);
		if (e >= 0 && o < out_cap)
			out[o++] = (char)e;
	}
	*out_len = o;
	b->out_len += o;
	return i;
}

int smtp_body_finish(struct smtp_body *b)
{
	if (b->dot_mode || b->state == B_BOL)
		return 0;
	if (b->state == B_CR)
		b->flags |= SMTP_BODY_BARE_CRLF;
	if (b->line_len + 2 > SMTP_TEXT_LINE_MAX)
		b->flags |= SMTP_BODY_LONGLINE;
	b->state = B_BOL;
	b->line_len = 0;
	return 1;
}
