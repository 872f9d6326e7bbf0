/*
 * libFuzzer target for src/cli/send_addr.c: the address-list extractor,
 * the header-block helpers and the stdin normalizer of `sealpost send`.
 * Checks the invariants the SMTP client relies on: an extracted address
 * never holds a control octet (so it cannot forge a command line) and fits
 * its buffer; the normalizer only emits CRLF line ends, no line over 998
 * octets, and the same output for any split of the input.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/send_addr.h"

static char store[32][SEND_ADDR_MAX];

static void check_addrs(const struct send_rcpts *r)
{
	assert(r->n <= r->cap);
	for (size_t i = 0; i < r->n; i++) {
		size_t len = strnlen(r->addr[i], SEND_ADDR_MAX);
		assert(len > 0 && len < SEND_ADDR_MAX);
		for (size_t k = 0; k < len; k++) {
			unsigned char c = (unsigned char)r->addr[i][k];
			assert(c >= 0x20 && c != 0x7f);
		}
	}
}

static void fuzz_headers(const char *d, size_t n)
{
	struct send_rcpts r = {.addr = store, .cap = 32};
	const char *why = NULL;
	size_t body_off;
	int sep;
	char *copy = malloc(n ? n : 1);

	size_t hl = send_hdr_len(d, n, &body_off, &sep);
	assert(hl <= n && body_off >= hl && body_off <= n);
	if (send_hdr_rcpts(d, hl, &r, &why) < 0)
		assert(why != NULL && r.n == 0);
	check_addrs(&r);
	(void)send_hdr_present(d, hl);
	if (!copy)
		return;
	memcpy(copy, d, n);
	size_t nl = send_hdr_strip_bcc(copy, n);
	assert(nl <= n);
	assert(send_hdr_strip_bcc(copy, nl) == nl); /* idempotent */
	free(copy);
}

/* Normalize d[0..n) in pieces of step octets into out; returns the length. */
static size_t normalize(const char *d, size_t n, int dots, size_t step, char *out)
{
	struct send_norm st;
	size_t o = 0, off = 0, olen;

	send_norm_init(&st, dots);
	while (off < n && !st.done) {
		size_t len = n - off < step ? n - off : step;
		size_t used =
		    send_norm_feed(&st, d + off, len, out + o, len * SEND_NORM_EXPAND, &olen);
		assert(used == len || st.done);
		off += used;
		o += olen;
	}
	o += send_norm_finish(&st, out + o, SEND_NORM_EXPAND);
	assert(st.out_len == o);
	return o;
}

static void fuzz_norm(const char *d, size_t n)
{
	size_t cap = n * SEND_NORM_EXPAND + SEND_NORM_EXPAND;
	char *a = malloc(cap), *b = malloc(cap);

	if (a && b) {
		int dots = n > 0 && (d[0] & 1);
		size_t la = normalize(d, n, dots, n + 1, a);
		size_t lb = normalize(d, n, dots, n > 0 ? (size_t)(d[n - 1] & 7) + 1 : 1, b);
		assert(la == lb && memcmp(a, b, la) == 0);
		size_t col = 0;
		for (size_t i = 0; i < la; i++) {
			assert(a[i] != '\n' || (i > 0 && a[i - 1] == '\r'));
			assert(a[i] != '\r' || (i + 1 < la && a[i + 1] == '\n'));
			col = (a[i] == '\r' || a[i] == '\n') ? 0 : col + 1;
			assert(col <= SEND_LINE_MAX);
		}
		assert(la == 0 || a[la - 1] == '\n');
	}
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data;
	struct send_rcpts r = {.addr = store, .cap = 32};
	const char *why = NULL;

	if (send_addr_list(d, size, &r, &why) < 0)
		assert(why != NULL && r.n == 0);
	check_addrs(&r);
	fuzz_headers(d, size);
	fuzz_norm(d, size);
	return 0;
}
