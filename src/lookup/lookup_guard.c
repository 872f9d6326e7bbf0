/*
 * lookup_guard: the state behind lookup_guard.h. Failures are counted
 * with counter_add (counter.h) under "authfail-ip:ADDR" and
 * "authfail-user:LOGIN" (a login too long for a counter key is replaced by
 * its SHA-256), in fixed windows of auth-window seconds, so with a shared
 * store every instance sees the failures of all. The count used is a
 * sliding estimate: this window's failures plus the previous window's,
 * scaled (rounded up) by how much of it lies within the last auth-window
 * seconds, so a burst across a window boundary is not forgotten.
 *
 * Lockouts and forgiven logins are local: a small open-addressing table
 * keyed "ip:ADDR" / "user:LOGIN" (FNV-1a, linear probing; expired or,
 * when full, least recently touched entries are reused). Another instance
 * locks an address at the first failure it sees once the shared count
 * has reached auth-lock-after.
 *
 * Security role: slows down and then stops password guessing; every key
 * is bounded and the tables never grow.
 */
#include "lookup/lookup_guard.h"

#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "lookup/counter.h"
#include "util/str.h"

#define GUARD_PROBE 16 /* slots looked at per lookup */

struct guard_entry {
	char key[GUARD_KEY_MAX];
	time_t last;
	time_t locked_until;
	/* user entries: failures forgiven by a success, per window */
	uint64_t base_window, base_cur, base_prev;
};

static struct guard_entry G[GUARD_ENTRIES];
static struct conf_auth_limits GL = {3, 10, 900, 900};

void guard_init(const struct conf_auth_limits *lim)
{
	GL = *lim;
	memset(G, 0, sizeof G);
}

static struct conf_rate guard_rate(void)
{
	struct conf_rate r = {GL.lock_after ? GL.lock_after : 1, GL.window ? GL.window : 1};
	return r;
}

static uint32_t guard_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Forgiven failures matter for the window of the success and the next. */
static int guard_expired(const struct guard_entry *e, time_t now)
{
	return e->key[0] && now - e->last > 2 * (time_t)GL.window && now >= e->locked_until;
}

/* The entry for key; created when create != 0 (reusing a free, expired or the
 * least recently touched slot). All GUARD_PROBE slots are always scanned, so
 * clearing a slot never hides a key stored after it. NULL if absent. */
static struct guard_entry *guard_get(const char *key, time_t now, int create)
{
	uint32_t h = guard_hash(key);
	struct guard_entry *free_slot = NULL, *oldest = NULL;

	for (unsigned i = 0; i < GUARD_PROBE; i++) {
		struct guard_entry *e = &G[(h + i) % GUARD_ENTRIES];
		if (e->key[0] && strcmp(e->key, key) == 0 && !guard_expired(e, now))
			return e;
		if (!e->key[0] || guard_expired(e, now)) {
			if (!free_slot)
				free_slot = e;
		} else if (!oldest || e->last < oldest->last) {
			oldest = e;
		}
	}
	if (!create)
		return NULL;
	struct guard_entry *v = free_slot ? free_slot : oldest;
	memset(v, 0, sizeof *v);
	if (str_copy(v->key, sizeof v->key, key) < 0)
		return NULL;
	v->last = now;
	return v;
}

static struct guard_entry *guard_find(const char *kind, const char *name, time_t now, int create)
{
	char key[GUARD_KEY_MAX];

	if (str_fmt(key, sizeof key, "%s:%s", kind, name) < 0)
		return NULL;
	return guard_get(key, now, create);
}

/* "authfail-KIND:NAME", or "authfail-KIND:sha256:HEX" when NAME is too long. */
static int guard_counter_key(char *key, size_t cap, const char *kind, const char *name)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned n = 0;

	if (str_fmt(key, cap, "authfail-%s:%s", kind, name) == 0)
		return 0;
	if (EVP_Digest(name, strlen(name), md, &n, EVP_sha256(), NULL) != 1)
		return -1;
	for (unsigned i = 0; i < n; i++)
		if (str_fmt(hex + 2 * i, 3, "%02x", md[i]) < 0)
			return -1;
	hex[2 * n] = '\0';
	return str_fmt(key, cap, "authfail-%s:sha256:%s", kind, hex);
}

/* Failures forgiven in window w by a success (user entries only). */
static uint64_t guard_forgiven(const struct guard_entry *e, uint64_t w)
{
	if (!e || e->base_window == 0)
		return 0;
	if (w == e->base_window)
		return e->base_cur;
	return w + 1 == e->base_window ? e->base_prev : 0;
}

static uint64_t guard_minus(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* The sliding-window count of kind:name, after adding add failures. */
static uint64_t guard_count(const char *kind, const char *name, unsigned add, time_t now)
{
	char key[COUNTER_KEY_MAX];
	struct conf_rate r = guard_rate();
	const struct guard_entry *e =
	    strcmp(kind, "user") == 0 ? guard_find(kind, name, now, 0) : NULL;
	uint64_t w = (uint64_t)now / r.period, cur, prev,
		 left = r.period - (uint64_t)now % r.period;

	if (guard_counter_key(key, sizeof key, kind, name) < 0)
		return 0;
	cur = add ? counter_add(key, &r, add, now) : counter_peek(key, &r, now);
	prev = w > 0 ? counter_peek(key, &r, now - (time_t)r.period) : 0;
	cur = guard_minus(cur, guard_forgiven(e, w));
	prev = w > 0 ? guard_minus(prev, guard_forgiven(e, w - 1)) : 0;
	return cur + (prev * left + r.period - 1) / r.period;
}

long guard_locked(const char *ip, time_t now)
{
	struct guard_entry *e = guard_find("ip", ip, now, 0);

	return e && e->locked_until > now ? (long)(e->locked_until - now) : 0;
}

static void guard_lock(const char *ip, unsigned delay, time_t now)
{
	struct guard_entry *e = guard_find("ip", ip, now, 1);

	if (!e)
		return;
	e->last = now;
	/* The lockout starts when the (delayed) answer is given, so it always
	 * outlasts that answer. */
	if (e->locked_until <= now)
		e->locked_until = now + (time_t)delay + (time_t)GL.lock_time;
}

unsigned guard_fail(const char *ip, const char *login, time_t now)
{
	uint64_t by_ip = guard_count("ip", ip, 1, now);
	uint64_t by_user = login[0] ? guard_count("user", login, 1, now) : 0;
	uint64_t worst = by_user > by_ip ? by_user : by_ip, delay = 0;

	if (worst >= GL.delay_after) {
		delay = worst - (GL.delay_after - 1);
		delay = delay > GUARD_DELAY_MAX ? GUARD_DELAY_MAX : delay;
	}
	if (by_ip >= GL.lock_after)
		guard_lock(ip, (unsigned)delay, now);
	return (unsigned)delay;
}

/* Remember the login's failures counted so far (this window and the one
 * before), so they no longer count here. */
void guard_success(const char *login)
{
	char key[COUNTER_KEY_MAX];
	time_t now = time(NULL);
	struct conf_rate r = guard_rate();
	struct guard_entry *e;
	uint64_t w = (uint64_t)now / r.period;

	uint64_t cur, prev;

	if (guard_counter_key(key, sizeof key, "user", login) < 0)
		return;
	cur = counter_peek(key, &r, now);
	prev = w > 0 ? counter_peek(key, &r, now - (time_t)r.period) : 0;
	e = guard_find("user", login, now, cur > 0 || prev > 0);
	if (!e)
		return;
	e->last = now;
	e->base_window = w;
	e->base_cur = cur;
	e->base_prev = prev;
}
