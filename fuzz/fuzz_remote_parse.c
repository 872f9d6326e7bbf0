/*
 * libFuzzer target for src/deliver/remote_parse.c: what a remote SMTP
 * server sends us (reply lines split by rp_line_find, fed to the reply
 * parser, EHLO keywords) and the dot-stuffing of what we send. Checks that
 * a reply never reports a code outside 200..599, that its texts stay
 * NUL-terminated within their buffers, that line lengths respect the
 * limit, and that the stuffed body un-stuffs to the input exactly with no
 * line "." inside it.
 *
 * fuzz-sources: src/deliver/remote_parse.c src/util/str.c
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/remote_parse.h"

static void fuzz_replies(const char *d, size_t n)
{
	struct rp_reply r;
	size_t pos = 0, used;
	long len;
	uint64_t size;
	char s[RP_TEXT_MAX + 64];

	rp_reply_init(&r);
	while (pos < n && (len = rp_line_find(d + pos, n - pos, RP_LINE_MAX, &used)) >= 0) {
		assert((size_t)len <= RP_LINE_MAX && used > (size_t)len && used <= n - pos);
		const char *t;
		size_t tn;
		if (rp_line_text(d + pos, (size_t)len, &t, &tn) == 0)
			(void)rp_ehlo_keyword(t, tn, &size);
		enum rp_status st = rp_reply_feed(&r, d + pos, (size_t)len);
		pos += used;
		if (st == RP_BAD) {
			rp_reply_init(&r);
			continue;
		}
		assert(r.code >= 200 && r.code <= 599);
		assert(strlen(r.text) < sizeof r.text && strlen(r.enh) < sizeof r.enh);
		if (st == RP_DONE) {
			(void)rp_reply_str(&r, s, sizeof s);
			rp_reply_init(&r);
		}
	}
}

/* Un-stuff out (drop the first "." of lines starting with one). */
static size_t unstuff(const char *o, size_t n, char *back)
{
	size_t b = 0;
	int bol = 1;

	for (size_t i = 0; i < n; i++) {
		if (bol && o[i] == '.') {
			assert(i + 1 < n && o[i + 1] == '.');
			i++;
		}
		back[b++] = o[i];
		bol = o[i] == '\n';
	}
	return b;
}

static void fuzz_stuff(const char *d, size_t n)
{
	char *out = malloc(2 * n + 2), *back = malloc(n + 1), buf[7];
	size_t pos = 0, o = 0, made;
	int bol = 1;

	assert(out && back);
	while (pos < n) {
		size_t used = rp_dot_stuff(d + pos, n - pos, &bol, buf, sizeof buf, &made);
		assert(used > 0 && made <= sizeof buf && made >= used);
		memcpy(out + o, buf, made);
		o += made;
		pos += used;
	}
	assert(unstuff(out, o, back) == n && memcmp(back, d, n) == 0);
	free(out);
	free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_replies((const char *)data, size);
	assert(rp_count_received((const char *)data, size, 4096) <= size / 9);
	fuzz_stuff((const char *)data, size);
	return 0;
}
