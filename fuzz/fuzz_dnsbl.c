/*
 * libFuzzer target for the pure parts of src/lookup/dnsbl.c: the query
 * name builder and the answer matcher. Checks that a name is never longer
 * than its buffer or than DNS allows, always ends in the zone, is "" on
 * failure, and that without a match list only 127.0.0.0/8 outside
 * 127.255.255.0/24 counts as listed.
 *
 * fuzz-sources: src/lookup/dnsbl.c src/util/str.c
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "lookup/dns.h"
#include "lookup/dnsbl.h"

/* dnsbl_check is not fuzzed here; dnsbl.c only needs the symbol. */
int dns_query(const char *name, int rrtype, unsigned timeout_ms, dns_cb cb, void *arg)
{
	(void)name;
	(void)rrtype;
	(void)timeout_ms;
	(void)cb;
	(void)arg;
	return -1;
}

static void fuzz_name(const uint8_t *d, size_t n)
{
	unsigned char addr[16];
	char zone[DNS_NAME_MAX + 16], out[DNS_NAME_MAX + 64];
	int family = (d[0] & 1) ? AF_INET6 : AF_INET;
	size_t cap = d[1] % sizeof out, zlen = n - 18 < sizeof zone - 1 ? n - 18 : sizeof zone - 1;

	memcpy(addr, d + 2, 16);
	memcpy(zone, d + 18, zlen);
	zone[zlen] = '\0';
	memset(out, 'x', sizeof out);
	if (dnsbl_query_name(family, addr, zone, out, cap) < 0) {
		assert(cap == 0 || out[0] == '\0');
		return;
	}
	size_t olen = strnlen(out, sizeof out), zl = strlen(zone);
	assert(olen < cap && olen < DNS_NAME_MAX);
	assert(olen > zl && memcmp(out + olen - zl, zone, zl) == 0);
	assert(out[olen - zl - 1] == '.');
}

static void fuzz_match(const uint8_t *d, size_t n)
{
	struct conf_dnsbl b;
	uint32_t a;

	memset(&b, 0, sizeof b);
	memcpy(&a, d, 4);
	b.n_match = d[4] % (CONF_DNSBL_MATCH_MAX + 2);
	memcpy(b.match, d + 5, n - 5 < sizeof b.match ? n - 5 : sizeof b.match);
	int m = dnsbl_answer_matches(&b, a);
	if (b.n_match == 0)
		assert(m == ((a >> 24) == 127 && (a >> 8) != 0x7fffff));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= 18)
		fuzz_name(data, size);
	if (size >= 5)
		fuzz_match(data, size);
	return 0;
}
