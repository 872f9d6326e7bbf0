/*
 * send_addr: RFC 5322 address-list extraction, header-block helpers and
 * the stdin normalizer for `sealpost send` (see send_addr.h).
 *
 * Security role: parses text piped in by any local user. Every function is
 * pure and bounded by the lengths it is given; addresses are collected in
 * fixed-size buffers and an over-long one is an error, never truncated.
 * Control characters are refused in addresses, so an extracted address
 * can be put into "RCPT TO:<...>" without forging a second command.
 */
#include "cli/send_addr.h"

#include <string.h>

#include "util/str.h"

/* ---- address lists ---------------------------------------------------- */

int send_rcpts_add(struct send_rcpts *out, const char *addr)
{
	for (size_t i = 0; i < out->n; i++)
		if (strcmp(out->addr[i], addr) == 0)
			return 0;
	if (out->n >= out->cap)
		return -1;
	if (str_copy(out->addr[out->n], SEND_ADDR_MAX, addr) < 0)
		return -1;
	out->n++;
	return 0;
}

enum tok_kind { TK_NONE = 0, TK_WORD, TK_DOT, TK_AT };

/* Parser state for one address-list. */
struct alp {
	const char *s;
	size_t n, i;
	char cur[SEND_ADDR_MAX]; /* the addr-spec (or display name) being collected */
	size_t len;
	enum tok_kind last; /* kind of the last token in cur */
	int phrase;	    /* two words met without '.' or '@' between them */
	int in_angle;	    /* between '<' and '>' */
	int have_angle;	    /* this mailbox already had its <address> */
	int in_group;
	struct send_rcpts *out;
	const char *why;
};

static int alp_fail(struct alp *p, const char *why)
{
	if (!p->why)
		p->why = why;
	return -1;
}

static int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_special(unsigned char c)
{
	return c != '\0' && strchr("()<>[]:;@\\,.\"", c) != NULL;
}

static int is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static int alp_put(struct alp *p, char c)
{
	if (p->len + 1 >= sizeof p->cur)
		return alp_fail(p, "address too long");
	p->cur[p->len++] = c;
	p->cur[p->len] = '\0';
	return 0;
}

static void alp_reset(struct alp *p)
{
	p->len = 0;
	p->cur[0] = '\0';
	p->last = TK_NONE;
	p->phrase = 0;
}

/* Skip a (possibly nested) comment starting at p->s[p->i] == '('. */
static int alp_comment(struct alp *p)
{
	size_t depth = 0;

	for (; p->i < p->n; p->i++) {
		char c = p->s[p->i];
		if (c == '\\') {
			p->i++;
		} else if (c == '(') {
			depth++;
		} else if (c == ')' && --depth == 0) {
			p->i++;
			return 0;
		}
	}
	return alp_fail(p, "unterminated comment");
}

/*
 * Copy a quoted string (open == '"', close '"') or a domain literal
 * (open '[', close ']') starting at p->s[p->i], unfolding line breaks.
 */
static int alp_quoted(struct alp *p, char close)
{
	if (alp_put(p, p->s[p->i++]) < 0)
		return -1;
	while (p->i < p->n) {
		unsigned char c = (unsigned char)p->s[p->i++];
		if (c == '\r' || c == '\n')
			continue;
		if (c == '\t')
			c = ' ';
		if (is_ctl(c))
			return alp_fail(p, "control character in address");
		if (alp_put(p, (char)c) < 0)
			return -1;
		if (c == (unsigned char)close)
			return 0;
		if (c == '\\' && close == '"') {
			if (p->i >= p->n || is_ctl((unsigned char)p->s[p->i]))
				return alp_fail(p, "bad quoted pair");
			if (alp_put(p, p->s[p->i++]) < 0)
				return -1;
		}
	}
	return alp_fail(p, close == '"' ? "unterminated quoted string" : "unterminated [literal]");
}

/* An atom: a run of printable non-special octets (UTF-8 allowed). */
static int alp_atom(struct alp *p)
{
	while (p->i < p->n) {
		unsigned char c = (unsigned char)p->s[p->i];
		if (is_ws(c) || is_special(c))
			break;
		if (is_ctl(c))
			return alp_fail(p, "control character in address");
		if (alp_put(p, (char)c) < 0)
			return -1;
		p->i++;
	}
	return 0;
}

/* A word (atom, quoted string or domain literal) at p->s[p->i]. */
static int alp_word(struct alp *p)
{
	char c = p->s[p->i];
	int rc;

	if (p->have_angle)
		return alp_fail(p, "text after <address>");
	if (p->last == TK_WORD)
		p->phrase = 1;
	if (c == '"')
		rc = alp_quoted(p, '"');
	else if (c == '[')
		rc = alp_quoted(p, ']');
	else
		rc = alp_atom(p);
	p->last = TK_WORD;
	return rc;
}

static int alp_store(struct alp *p)
{
	if (p->len == 0)
		return 0;
	if (send_rcpts_add(p->out, p->cur) < 0)
		return alp_fail(p, "too many addresses");
	return 0;
}

/* ',' or ';' or the end: the current mailbox is complete. */
static int alp_end_mailbox(struct alp *p)
{
	if (p->in_angle)
		return alp_fail(p, "missing '>'");
	if (!p->have_angle) {
		if (p->phrase)
			return alp_fail(p, "display name without <address>");
		if (p->len > 0 && p->last != TK_WORD)
			return alp_fail(p, "address ends with '.' or '@'");
		if (alp_store(p) < 0)
			return -1;
	}
	alp_reset(p);
	p->have_angle = 0;
	return 0;
}

static int alp_open_angle(struct alp *p)
{
	if (p->in_angle || p->have_angle)
		return alp_fail(p, "unexpected '<'");
	alp_reset(p); /* what came before was the display name */
	p->in_angle = 1;
	p->i++;
	return 0;
}

static int alp_close_angle(struct alp *p)
{
	if (!p->in_angle)
		return alp_fail(p, "unexpected '>'");
	if (p->phrase || (p->len > 0 && p->last != TK_WORD) || p->cur[0] == '@')
		return alp_fail(p, "bad <address>");
	if (alp_store(p) < 0)
		return -1;
	alp_reset(p);
	p->in_angle = 0;
	p->have_angle = 1;
	p->i++;
	return 0;
}

/* ':' starts a group outside <>, or ends an obsolete route inside. */
static int alp_colon(struct alp *p)
{
	p->i++;
	if (p->in_angle) {
		if (p->cur[0] != '@')
			return alp_fail(p, "unexpected ':' in <address>");
		alp_reset(p);
		return 0;
	}
	if (p->in_group || p->have_angle)
		return alp_fail(p, "unexpected ':'");
	alp_reset(p); /* the group's display name */
	p->in_group = 1;
	return 0;
}

static int alp_separator(struct alp *p, char c)
{
	p->i++;
	if (c == ',' && p->in_angle) {
		if (p->cur[0] != '@') /* a comma is only allowed in a route */
			return alp_fail(p, "unexpected ',' in <address>");
		return alp_put(p, ',');
	}
	if (alp_end_mailbox(p) < 0)
		return -1;
	if (c == ';')
		p->in_group = 0;
	return 0;
}

static int alp_dot_at(struct alp *p, char c)
{
	if (p->have_angle)
		return alp_fail(p, "text after <address>");
	p->i++;
	p->last = c == '.' ? TK_DOT : TK_AT;
	return alp_put(p, c);
}

static int alp_step(struct alp *p)
{
	unsigned char c = (unsigned char)p->s[p->i];

	if (is_ws(c)) {
		p->i++;
		return 0;
	}
	switch (c) {
	case '(':
		return alp_comment(p);
	case '<':
		return alp_open_angle(p);
	case '>':
		return alp_close_angle(p);
	case ':':
		return alp_colon(p);
	case ',':
	case ';':
		return alp_separator(p, (char)c);
	case '.':
	case '@':
		return alp_dot_at(p, (char)c);
	case ')':
	case ']':
	case '\\':
		return alp_fail(p, "unexpected special character");
	default:
		if (is_ctl(c))
			return alp_fail(p, "control character in address");
		return alp_word(p);
	}
}

int send_addr_list(const char *s, size_t n, struct send_rcpts *out, const char **why)
{
	static const char none[] = "";
	struct alp p = {.s = s ? s : none, .n = s ? n : 0, .out = out};
	size_t n0 = out->n;

	while (p.i < p.n)
		if (alp_step(&p) < 0)
			break;
	if (!p.why)
		(void)alp_end_mailbox(&p);
	if (p.why) {
		out->n = n0;
		if (why)
			*why = p.why;
		return -1;
	}
	return 0;
}

/* ---- header block ----------------------------------------------------- */

/* Offset just after the line starting at pos (after its LF, or n). */
static size_t line_end(const char *m, size_t n, size_t pos)
{
	const char *lf = memchr(m + pos, '\n', n - pos);

	return lf ? (size_t)(lf - m) + 1 : n;
}

/* Length of the text of the line m[pos..end) without its CRLF / LF. */
static size_t line_text(const char *m, size_t pos, size_t end)
{
	size_t l = end - pos;

	if (l > 0 && m[pos + l - 1] == '\n')
		l--;
	if (l > 0 && m[pos + l - 1] == '\r')
		l--;
	return l;
}

/*
 * If line[0..len) starts a header field ("Name:" or obsolete "Name :"),
 * return the length of the name, else 0.
 */
static size_t field_name(const char *line, size_t len)
{
	size_t i = 0, name;

	while (i < len && (unsigned char)line[i] > 32 && (unsigned char)line[i] < 127 &&
	       line[i] != ':')
		i++;
	name = i;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return name > 0 && i < len && line[i] == ':' ? name : 0;
}

size_t send_hdr_len(const char *msg, size_t n, size_t *body_off, int *has_sep)
{
	size_t pos = 0;

	*has_sep = 0;
	while (pos < n) {
		size_t end = line_end(msg, n, pos), l = line_text(msg, pos, end);
		if (l == 0 && end > pos && msg[end - 1] == '\n') {
			*has_sep = 1;
			*body_off = end;
			return pos;
		}
		int cont = pos > 0 && (msg[pos] == ' ' || msg[pos] == '\t');
		if (!cont && field_name(msg + pos, l) == 0)
			break;
		pos = end;
	}
	*body_off = pos;
	return pos;
}

/* One field of a header block: name at start, value up to end. */
struct hfield {
	size_t start, name_len, val, end;
};

/* The next field at or after *pos; 0 at the end. Stray lines are skipped. */
static int hfield_next(const char *h, size_t n, size_t *pos, struct hfield *f)
{
	while (*pos < n) {
		size_t end = line_end(h, n, *pos);
		size_t nl = field_name(h + *pos, line_text(h, *pos, end));
		if (nl == 0 || h[*pos] == ' ' || h[*pos] == '\t') {
			*pos = end;
			continue;
		}
		f->start = *pos;
		f->name_len = nl;
		f->val = (size_t)((const char *)memchr(h + *pos, ':', end - *pos) - h) + 1;
		while (end < n && (h[end] == ' ' || h[end] == '\t'))
			end = line_end(h, n, end);
		f->end = end;
		*pos = end;
		return 1;
	}
	return 0;
}

unsigned send_hdr_present(const char *hdr, size_t n)
{
	struct hfield f;
	size_t pos = 0;
	unsigned have = 0;

	while (hfield_next(hdr, n, &pos, &f)) {
		const char *name = hdr + f.start;
		if (str_eqn_nocase(name, f.name_len, "From"))
			have |= SEND_HDR_FROM;
		else if (str_eqn_nocase(name, f.name_len, "Date"))
			have |= SEND_HDR_DATE;
		else if (str_eqn_nocase(name, f.name_len, "Message-ID"))
			have |= SEND_HDR_MSGID;
	}
	return have;
}

static int send_field_wanted(const char *name, size_t len, const char *const *fields, size_t nf)
{
	for (size_t i = 0; i < nf; i++)
		if (str_eqn_nocase(name, len, fields[i]))
			return 1;
	return 0;
}

int send_hdr_addrs(const char *hdr, size_t n, const char *const *fields, size_t nf,
		   struct send_rcpts *out, const char **why)
{
	struct hfield f;
	size_t pos = 0, n0 = out->n;

	while (hfield_next(hdr, n, &pos, &f)) {
		if (!send_field_wanted(hdr + f.start, f.name_len, fields, nf))
			continue;
		if (send_addr_list(hdr + f.val, f.end - f.val, out, why) < 0) {
			out->n = n0;
			return -1;
		}
	}
	return 0;
}

int send_hdr_rcpts(const char *hdr, size_t n, struct send_rcpts *out, const char **why)
{
	static const char *const fields[] = {"To", "Cc", "Bcc"};

	return send_hdr_addrs(hdr, n, fields, 3, out, why);
}

size_t send_hdr_strip_bcc(char *hdr, size_t n)
{
	struct hfield f;
	size_t pos = 0;

	while (hfield_next(hdr, n, &pos, &f)) {
		if (!str_eqn_nocase(hdr + f.start, f.name_len, "Bcc"))
			continue;
		memmove(hdr + f.start, hdr + f.end, n - f.end);
		n -= f.end - f.start;
		pos = f.start;
	}
	return n;
}

/* ---- stdin normalizer ------------------------------------------------- */

void send_norm_init(struct send_norm *st, int ignore_dots)
{
	memset(st, 0, sizeof *st);
	st->ignore_dots = ignore_dots;
}

static void norm_put(struct send_norm *st, char *out, size_t *o, char c)
{
	out[(*o)++] = c;
	st->out_len++;
}

/* An input line ended (LF, CRLF or lone CR). */
static void norm_eol(struct send_norm *st, char *out, size_t *o)
{
	if (st->dot) { /* the line was exactly "." */
		st->dot = 0;
		st->done = 1;
		return;
	}
	norm_put(st, out, o, '\r');
	norm_put(st, out, o, '\n');
	st->col = 0;
}

static void norm_char(struct send_norm *st, char *out, size_t *o, unsigned char c)
{
	if (st->dot) { /* the held "." is ordinary text after all */
		st->dot = 0;
		norm_put(st, out, o, '.');
		st->col = 1;
	} else if (c == '.' && !st->ignore_dots && st->col == 0) {
		st->dot = 1; /* col 0 is always the start of an input line: hold it */
		return;
	}
	if (st->col >= SEND_LINE_MAX) {
		norm_put(st, out, o, '\r');
		norm_put(st, out, o, '\n');
		st->col = 0;
		st->flags |= SEND_NORM_SPLIT;
	}
	if (c >= 0x80)
		st->flags |= SEND_NORM_8BIT;
	if (c == 0)
		st->flags |= SEND_NORM_NUL;
	norm_put(st, out, o, (char)c);
	st->col++;
}

size_t send_norm_feed(struct send_norm *st, const char *in, size_t n, char *out, size_t cap,
		      size_t *out_len)
{
	size_t i = 0, o = 0;

	while (i < n && !st->done && cap - o >= SEND_NORM_EXPAND) {
		unsigned char c = (unsigned char)in[i];
		if (st->cr) {
			st->cr = 0;
			norm_eol(st, out, &o);
			if (st->done)
				break;
			if (c == '\n') {
				i++;
				continue;
			}
		}
		i++;
		if (c == '\r')
			st->cr = 1;
		else if (c == '\n')
			norm_eol(st, out, &o);
		else
			norm_char(st, out, &o, c);
	}
	*out_len = o;
	return i;
}

size_t send_norm_finish(struct send_norm *st, char *out, size_t cap)
{
	size_t o = 0;

	if (st->done || cap < SEND_NORM_EXPAND)
		return 0;
	if (st->cr) {
		st->cr = 0;
		norm_eol(st, out, &o);
	} else if (st->dot || st->col > 0) {
		norm_eol(st, out, &o);
	}
	return o;
}
