/*
 * libFuzzer target for the Authentication-Results code (src/auth/
 * authres.c). The first input byte picks:
 *   even  authres_is_ours over the rest (result 0 or 1; never reads past
 *         the length);
 *   odd   authres_build with every string field cut from the input (NUL
 *         separated, so CR, LF, quotes, parens and 8-bit octets all reach
 *         it) and the result enums from input bytes. The output must be
 *         one header field: it starts with "Authentication-Results: ",
 *         ends in CRLF, has no bare CR or LF, every line after the first
 *         starts with WSP, no line passes 998 octets, and every other octet
 *         is printable ASCII or TAB; when the authserv-id is a plain host
 *         name, authres_is_ours recognises the field body as ours.
 * Any violation abort()s.
 *
 * fuzz-sources: src/auth/authres.c src/auth/dmarc_record.c src/util/str.c
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authres.h"

#define FIELDS	   10
#define FIELD_CAP  1024
#define LINE_LIMIT 998

static void check(int ok)
{
	if (!ok)
		abort();
}

static void check_field(const char *h, int len)
{
	size_t col = 0;

	check(len >= 26 && (size_t)len == strlen(h));
	check(memcmp(h, "Authentication-Results: ", 24) == 0);
	check(h[len - 2] == '\r' && h[len - 1] == '\n');
	for (int i = 0; i < len; i++) {
		unsigned char c = (unsigned char)h[i];
		if (c == '\r') {
			check(h[i + 1] == '\n');
			check(i + 2 == len || h[i + 2] == '\t' || h[i + 2] == ' ');
			check(col <= LINE_LIMIT);
			col = 0;
			i++;
			continue;
		}
		check(c != '\n' && (c == '\t' || (c >= ' ' && c < 0x7f)));
		col++;
	}
}

/* "mx.example" style: letters, digits, '.' and '-' only. */
static int plain_host(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '-'))
			return 0;
	return 1;
}

/* Cut up to FIELDS NUL-terminated strings from d. */
static size_t split(const char *d, size_t n, char f[FIELDS][FIELD_CAP])
{
	size_t k = 0;

	memset(f, 0, FIELDS * FIELD_CAP);
	while (k < FIELDS && n > 0) {
		const char *nul = memchr(d, 0, n);
		size_t len = nul ? (size_t)(nul - d) : n;
		memcpy(f[k++], d, len < FIELD_CAP ? len : FIELD_CAP - 1);
		d += len + (nul != NULL);
		n -= len + (nul != NULL);
	}
	return k;
}

static void copy_field(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void fuzz_build(const unsigned char *d, size_t n)
{
	static char f[FIELDS][FIELD_CAP];
	struct dkim_sig_result sig[2];
	struct authres_input in = {0};
	char out[AUTHRES_MAX];
	int len;

	if (n < 4)
		return;
	split((const char *)d + 4, n - 4, f);
	memset(sig, 0, sizeof sig);
	copy_field(sig[0].domain, sizeof sig[0].domain, f[5]);
	copy_field(sig[0].selector, sizeof sig[0].selector, f[6]);
	copy_field(sig[0].algo, sizeof sig[0].algo, f[7]);
	copy_field(sig[0].b8, sizeof sig[0].b8, f[8]);
	copy_field(sig[0].reason, sizeof sig[0].reason, f[9]);
	sig[0].result = (enum dkim_result)(d[1] % 8);
	sig[1] = sig[0];
	sig[1].result = DKIM_FAIL;
	in = (struct authres_input){.authserv_id = f[0],
				    .have_spf = d[0] & 2,
				    .spf = (enum spf_result)(d[2] % 8),
				    .spf_mailfrom = f[1],
				    .spf_helo = f[2],
				    .dkim = sig,
				    .n_dkim = d[0] >> 6,
				    .have_dmarc = d[0] & 4,
				    .dmarc = (enum dmarc_result)(d[3] % 6),
				    .dmarc_policy = (enum dmarc_policy)(d[3] / 6 % 3),
				    .dmarc_from = f[3],
				    .auth_user = (d[0] & 8) ? f[4] : NULL};
	if (in.n_dkim > 2)
		in.n_dkim = 2;
	len = authres_build(&in, out, sizeof out);
	if (len < 0)
		return;
	check_field(out, len);
	if (plain_host(f[0]))
		check(authres_is_ours(out + 23, (size_t)len - 23, f[0]) == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] % 2 == 0) {
		/* a copy of exactly the input, so ASan sees any read past it */
		char *v = malloc(size - 1 ? size - 1 : 1);
		if (!v)
			return 0;
		memcpy(v, data + 1, size - 1);
		check(authres_is_ours(v, size - 1, "mx.example.org") <= 1);
		free(v);
		return 0;
	}
	fuzz_build(data, size);
	return 0;
}
