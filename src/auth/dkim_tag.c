/*
 * dkim_tag: the RFC 6376 3.2 tag=value list parser (DKIM-Signature fields
 * and key records), the strict base64 decoder that skips folding white
 * space (b=, bh=, p=), base64 encoding and domain/selector syntax.
 *
 * Security role: pure parsers of untrusted text (message headers, DNS
 * answers); every index is checked against the length, nothing is
 * allocated, values point into the input. Fuzzed by fuzz/fuzz_dkim.c.
 */
#include <string.h>

#include <openssl/evp.h>

#include "auth/dkim_int.h"

#define DKIM_LABEL_MAX 63

static int is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static size_t skip_fws(const char *s, size_t n, size_t i)
{
	while (i < n && is_fws(s[i]))
		i++;
	return i;
}

/* The value from i up to ';' or the end; trailing FWS trimmed. */
static int tag_value(const char *s, size_t n, size_t *i, struct dkim_tag *t, const char **why)
{
	size_t k = skip_fws(s, n, *i), end;

	t->val = s + k;
	end = k;
	for (; k < n && s[k] != ';'; k++) {
		unsigned char c = (unsigned char)s[k];
		if (is_fws(s[k]))
			continue;
		if (c < 0x21 || c > 0x7e) {
			*why = "bad octet in a tag value";
			return -1;
		}
		end = k + 1;
	}
	t->val_len = (size_t)(s + end - t->val);
	*i = k;
	return 0;
}

/* One tag-spec starting at *i (FWS skipped, not at the end). */
static int tag_spec(const char *s, size_t n, size_t *i, struct dkim_tag *t, const char **why)
{
	size_t k = *i;

	if (!is_alpha(s[k])) {
		*why = "bad tag name";
		return -1;
	}
	t->name = s + k;
	while (k < n && (is_alpha(s[k]) || is_digit(s[k]) || s[k] == '_'))
		k++;
	t->name_len = (size_t)(s + k - t->name);
	k = skip_fws(s, n, k);
	if (k == n || s[k] != '=') {
		*why = "tag without '='";
		return -1;
	}
	t->after_eq = s + k + 1;
	*i = k + 1;
	return tag_value(s, n, i, t, why);
}

static int tag_dup(const struct dkim_tag *t, size_t k, const struct dkim_tag *nt)
{
	for (size_t j = 0; j < k; j++)
		if (t[j].name_len == nt->name_len && memcmp(t[j].name, nt->name, nt->name_len) == 0)
			return 1;
	return 0;
}

int dkim_tags_parse(const char *s, size_t n, struct dkim_tag *t, size_t max, size_t *count,
		    const char **why)
{
	size_t i = 0, k = 0;
	struct dkim_tag nt;

	*count = 0;
	for (;;) {
		i = skip_fws(s, n, i);
		if (i == n)
			break;
		if (tag_spec(s, n, &i, &nt, why) < 0)
			return -1;
		if (tag_dup(t, k, &nt)) {
			*why = "duplicate tag";
			return -1;
		}
		if (k == max) {
			*why = "too many tags";
			return -1;
		}
		t[k++] = nt;
		if (i == n)
			break;
		i++; /* the ';' */
	}
	*count = k;
	return 0;
}

const struct dkim_tag *dkim_tag_find(const struct dkim_tag *t, size_t n, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (t[i].name_len == len && memcmp(t[i].name, name, len) == 0)
			return &t[i];
	return NULL;
}

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

struct b64_state {
	uint32_t acc;
	size_t q, pad, o;
};

/* The octets of a finished quantum of q characters (2, 3 or 4). */
static int b64_emit(struct b64_state *st, unsigned char *out, size_t cap)
{
	size_t nb = st->q - 1;

	if (st->o + nb > cap)
		return -1;
	st->acc <<= 6 * (4 - st->q);
	for (size_t j = 0; j < nb; j++)
		out[st->o++] = (unsigned char)(st->acc >> (16 - 8 * j));
	st->acc = 0;
	st->q = 0;
	return 0;
}

int dkim_b64_decode(const char *s, size_t n, unsigned char *out, size_t cap, size_t *len)
{
	struct b64_state st = {0, 0, 0, 0};

	for (size_t i = 0; i < n; i++) {
		int v;
		if (is_fws(s[i]))
			continue;
		if (s[i] == '=') {
			if (++st.pad > 2 || st.q + st.pad > 4 || st.q < 2)
				return -1;
			continue;
		}
		if (st.pad || (v = b64_val(s[i])) < 0)
			return -1;
		st.acc = (st.acc << 6) | (uint32_t)v;
		if (++st.q == 4 && b64_emit(&st, out, cap) < 0)
			return -1;
	}
	if (st.q != 0 && (st.q + st.pad != 4 || b64_emit(&st, out, cap) < 0))
		return -1;
	*len = st.o;
	return 0;
}

int dkim_b64_encode(const unsigned char *in, size_t n, char *out, size_t cap)
{
	if (n > (size_t)INT32_MAX / 2 || cap < (n + 2) / 3 * 4 + 1)
		return -1;
	(void)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	return 0;
}

int dkim_name_ok(const char *s, size_t n)
{
	size_t label = 0;

	if (n == 0 || n >= DKIM_DOMAIN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '-' || s[i] == '_') {
			if (++label > DKIM_LABEL_MAX)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0;
}
