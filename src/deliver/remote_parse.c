/*
 * remote_parse: pure parsers for the remote SMTP client (see the header):
 * SMTP replies, EHLO keywords, reply line framing and dot-stuffing.
 *
 * Security role: reads what a remote server sent. Every input is bounded
 * by its length argument (no NUL termination is assumed), every output by
 * its capacity; a reply that breaks the grammar is RP_BAD.
 */
#include <string.h>

#include "deliver/remote_parse.h"
#include "util/str.h"

void rp_reply_init(struct rp_reply *r)
{
	memset(r, 0, sizeof *r);
}

static int rp_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* "C.S.D" with C the class digit, S and D 1-3 digits, then SP or end. */
static size_t rp_enh_len(const char *s, size_t n, char cls)
{
	size_t i = 0, part;

	if (n < 5 || s[0] != cls || s[1] != '.')
		return 0;
	i = 2;
	for (int f = 0; f < 2; f++) {
		for (part = 0; i < n && rp_digit(s[i]) && part < 3; i++, part++)
			;
		if (part == 0 || (i < n && rp_digit(s[i])))
			return 0;
		if (f == 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && s[i] != ' ')
		return 0;
	return i;
}

static void rp_first_line(struct rp_reply *r, const char *t, size_t tn)
{
	size_t el = rp_enh_len(t, tn, (char)('0' + r->code / 100));

	if (el > 0 && el < sizeof r->enh) {
		memcpy(r->enh, t, el);
		r->enh[el] = '\0';
		t += el;
		tn -= el;
		while (tn > 0 && *t == ' ') {
			t++;
			tn--;
		}
	}
	str_sanitize(r->text, sizeof r->text, t, tn);
}

enum rp_status rp_reply_feed(struct rp_reply *r, const char *line, size_t len)
{
	int code;

	if (len < 3 || len > RP_LINE_MAX || r->n_lines >= RP_LINES_MAX)
		return RP_BAD;
	if (line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' || !rp_digit(line[2]))
		return RP_BAD;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return RP_BAD;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->n_lines > 0 && code != r->code)
		return RP_BAD;
	r->code = code;
	if (r->n_lines++ == 0)
		rp_first_line(r, len > 4 ? line + 4 : "", len > 4 ? len - 4 : 0);
	return (len > 3 && line[3] == '-') ? RP_MORE : RP_DONE;
}

int rp_line_text(const char *line, size_t len, const char **text, size_t *text_len)
{
	if (len < 4) {
		*text = line + len;
		*text_len = 0;
		return len == 3 ? 0 : -1;
	}
	*text = line + 4;
	*text_len = len - 4;
	return 0;
}

int rp_reply_str(const struct rp_reply *r, char *out, size_t cap)
{
	return str_fmt(out, cap, "%03d%s%s%s%s", r->code, r->enh[0] ? " " : "", r->enh,
		       r->text[0] ? " " : "", r->text);
}

/* Keyword [SP params]: is text[0..n) keyword kw (case-insensitive)? */
static int rp_kw(const char *t, size_t n, const char *kw, const char **rest, size_t *rest_len)
{
	size_t k = strlen(kw);

	if (n < k || (n > k && t[k] != ' ') || !str_eqn_nocase(t, k, kw))
		return 0;
	*rest = t + k;
	*rest_len = n - k;
	return 1;
}

static uint64_t rp_size_value(const char *s, size_t n)
{
	uint64_t v = 0;
	size_t i = 0;

	while (i < n && s[i] == ' ')
		i++;
	if (i == n || n - i > 19)
		return 0;
	for (; i < n; i++) {
		if (!rp_digit(s[i]))
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return v;
}

/* "AUTH PLAIN LOGIN" or "AUTH=PLAIN": does the list name PLAIN? */
static int rp_auth_plain(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != ' ')
			j++;
		if (j - i == 5 && str_eqn_nocase(s + i, 5, "PLAIN"))
			return 1;
		i = j + 1;
	}
	return 0;
}

unsigned rp_ehlo_keyword(const char *text, size_t len, uint64_t *size)
{
	const char *rest;
	size_t rn;

	if (rp_kw(text, len, "PIPELINING", &rest, &rn))
		return RP_EXT_PIPELINING;
	if (rp_kw(text, len, "8BITMIME", &rest, &rn))
		return RP_EXT_8BITMIME;
	if (rp_kw(text, len, "SMTPUTF8", &rest, &rn))
		return RP_EXT_SMTPUTF8;
	if (rp_kw(text, len, "STARTTLS", &rest, &rn))
		return RP_EXT_STARTTLS;
	if (rp_kw(text, len, "ENHANCEDSTATUSCODES", &rest, &rn))
		return RP_EXT_ENHANCED;
	if (rp_kw(text, len, "SIZE", &rest, &rn)) {
		*size = rp_size_value(rest, rn);
		return RP_EXT_SIZE;
	}
	if (rp_kw(text, len, "AUTH", &rest, &rn) && rp_auth_plain(rest, rn))
		return RP_EXT_AUTH_PLAIN;
	return 0;
}

long rp_line_find(const char *buf, size_t n, size_t max, size_t *used)
{
	const char *lf = memchr(buf, '\n', n > max + 2 ? max + 2 : n);
	size_t len;

	*used = 0;
	if (!lf)
		return n > max + 1 ? -2 : -1;
	len = (size_t)(lf - buf);
	*used = len + 1;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len > max)
		return -2;
	return (long)len;
}

size_t rp_dot_stuff(const char *in, size_t n, int *bol, char *out, size_t cap, size_t *out_len)
{
	size_t i = 0, o = 0;

	while (i < n) {
		if (*bol && in[i] == '.') {
			if (cap - o < 2)
				break;
			out[o++] = '.';
		} else if (cap - o < 1) {
			break;
		}
		out[o++] = in[i];
		*bol = in[i] == '\n';
		i++;
	}
	*out_len = o;
	return i;
}

const char *rp_data_end(int ends_crlf)
{
	return ends_crlf ? ".\r\n" : "\r\n.\r\n";
}

int rp_ends_crlf(const char *body, size_t n)
{
	return n == 0 || (n >= 2 && body[n - 2] == '\r' && body[n - 1] == '\n');
}

size_t rp_count_received(const char *msg, size_t len, size_t max_scan)
{
	size_t n = 0, pos = 0, end = len < max_scan ? len : max_scan;

	while (pos < end) {
		const char *lf = memchr(msg + pos, '\n', end - pos);
		size_t ll = lf ? (size_t)(lf - (msg + pos)) : end - pos;

		if (ll == 0 || (ll == 1 && msg[pos] == '\r'))
			break; /* the empty line: end of the header section */
		if (ll >= 9 && str_eqn_nocase(msg + pos, 9, "received:"))
			n++;
		if (!lf)
			break;
		pos += ll + 1;
	}
	return n;
}
