/*
 * test_dkim.h: helpers shared by the DKIM unit tests: run the whole
 * verification of a message against a table of key records (as DNS TXT
 * answers in wire form), feeding the body in chunks of a given size.
 */
#ifndef SEALPOST_TEST_DKIM_H
#define SEALPOST_TEST_DKIM_H

#include <stdlib.h>
#include <string.h>

#include "auth/dkim.h"
#include "auth/dkim_int.h"

struct tkey {
	const char *name;	/* selector._domainkey.domain */
	const char *txt;	/* the record; NULL: the answer is status */
	enum dns_status status; /* when txt is NULL */
};

/* txt in <len><bytes> strings of at most 255. */
static inline size_t txt_wire(const char *txt, unsigned char *out, size_t cap)
{
	size_t n = strlen(txt), o = 0;

	for (size_t i = 0; i < n || i == 0;) {
		size_t c = n - i > 255 ? 255 : n - i;
		if (o + 1 + c > cap)
			abort();
		out[o++] = (unsigned char)c;
		memcpy(out + o, txt + i, c);
		o += c;
		i += c;
		if (n == 0)
			break;
	}
	return o;
}

static inline void answer_key(struct dkim_verify *v, size_t i, const struct tkey *keys, size_t nk)
{
	static unsigned char wire[8192];
	const char *name = dkim_verify_key_name(v, i);
	struct dns_result r;

	if (!name)
		return;
	memset(&r, 0, sizeof r);
	r.status = DNS_NXDOMAIN;
	for (size_t k = 0; k < nk; k++) {
		if (strcmp(keys[k].name, name) != 0)
			continue;
		if (!keys[k].txt) {
			r.status = keys[k].status;
			break;
		}
		r.status = DNS_OK;
		r.rr[r.n_rr] = wire;
		r.rr_len[r.n_rr++] = txt_wire(keys[k].txt, wire, sizeof wire);
		break;
	}
	dkim_verify_key(v, i, &r);
}

/* Verify msg (CRLF) with the body fed chunk octets at a time; results in
 * out[DKIM_SIG_LIST_MAX]; returns the signature count. */
static inline size_t verify_msg(const char *msg, int64_t now, const struct tkey *keys, size_t nk,
				size_t chunk, struct dkim_sig_result *out)
{
	size_t len = strlen(msg), hlen, body, n;
	const char *e = strstr(msg, "\r\n\r\n");
	struct dkim_verify *v;

	hlen = e ? (size_t)(e - msg) + 2 : len;
	body = e ? hlen + 2 : len;
	v = dkim_verify_new(msg, hlen, now);
	if (!v)
		abort();
	n = dkim_verify_count(v);
	for (size_t i = 0; i < n; i++)
		answer_key(v, i, keys, nk);
	for (size_t i = body; i < len; i += chunk)
		dkim_verify_body(v, msg + i, len - i < chunk ? len - i : chunk);
	dkim_verify_body_end(v);
	for (size_t i = 0; i < n; i++)
		dkim_verify_result(v, i, &out[i]);
	dkim_verify_free(v);
	return n;
}

#endif
