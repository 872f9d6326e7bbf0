/* clang-format off */
/*
 * fuzz_conf: libFuzzer target for the two config-file parsers,
 * conf_parse() (sealpost.conf) and users_parse() (the users file).
 *
 * Security role: both parsers are pure and bounded; this target checks
 * under ASan/UBSan that no input makes them read or write out of bounds,
 * leak, or produce a result that breaks their own invariants.
 *
 * (clang-format is off for this comment: scripts/fuzz.sh reads the
 * fuzz-sources line below only when it stays one line.)
 * fuzz-sources: src/util/conf.c src/util/conf_limits.c src/util/conf_remote.c src/util/conf_auth.c src/util/str.c src/util/file.c src/lookup/users.c src/lookup/scram.c -lcrypt -lcrypto
 */
/* clang-format on */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lookup/users.h"
#include "util/conf.h"

/* What conf_limits.c promises about an accepted limits block. */
static void check_limits(const struct conf_limits *l)
{
	if (l->tarpit_after >= l->max_errors || l->session_timeout < l->cmd_timeout ||
	    l->dnsbl_threshold < 1 || l->n_dnsbl > CONF_MAX_DNSBL)
		abort();
	if ((l->store[0] == '\0') != (l->store_port == 0))
		abort();
	for (size_t i = 0; i < l->n_dnsbl; i++) {
		const struct conf_dnsbl *b = &l->dnsbl[i];
		if (b->n_match > CONF_DNSBL_MATCH_MAX || b->weight == 0 || b->weight < -100 ||
		    b->weight > 100 || b->zone[0] == '\0')
			abort();
		for (size_t j = 0; j < b->n_match; j++)
			if (b->match[j] >> 24 != 127)
				abort();
	}
}

static void check_conf(const char *text, size_t len)
{
	static struct conf c;
	static struct conf_errors e;
	int r = conf_parse(text, len, "fuzz.conf", &c, &e);

	if ((r == 0) != (e.n == 0 && e.dropped == 0))
		abort();
	if (e.n > CONF_MAX_ERRORS)
		abort();
	for (size_t i = 0; i < e.n; i++)
		if (strnlen(e.msg[i], CONF_ERR_MAX) >= CONF_ERR_MAX)
			abort();
	if (r != 0)
		return;
	if (c.n_listen == 0 || c.n_listen > CONF_MAX_LISTEN || c.n_domains == 0 ||
	    c.n_domains > CONF_MAX_DOMAINS || c.spool[0] != '/' || c.users_file[0] != '/')
		abort();
	for (size_t i = 0; i < c.n_domains; i++)
		if (conf_find_domain(&c, c.domains[i].name, strlen(c.domains[i].name)) !=
		    &c.domains[i])
			abort();
	check_limits(&c.limits);
}

static void check_users(const char *text, size_t len)
{
	struct users u = USERS_INIT;
	char err[USERS_ERR_MAX];

	if (users_parse(text, len, "fuzz.users", &u, err, sizeof err) < 0) {
		if (u.n != 0 || u.v != NULL)
			abort();
		return;
	}
	for (size_t i = 0; i < u.n; i++) {
		if (users_find(&u, u.v[i].addr) != &u.v[i] || !users_hash_valid(u.v[i].hash))
			abort();
		for (size_t j = 0; j < u.v[i].n_extra; j++)
			if (users_find(&u, u.v[i].extra[j]) != &u.v[i])
				abort();
	}
	users_free(&u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_conf((const char *)data, size);
	check_users((const char *)data, size);
	return 0;
}
