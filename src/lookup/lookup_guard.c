/*
 * lookup_guard: the counters behind lookup_guard.h — an open-addressing
 * table keyed by "ip:ADDR" or "user:LOGIN" (FNV-1a hash, linear probing;
 * expired or, when full, the least recently touched entries are reused).
 */
#include "lookup/lookup_guard.h"

#include <stdint.h>
#include <string.h>

#include "util/str.h"

#define GUARD_PROBE 16 /* slots looked at per lookup */

struct guard_entry {
	char key[GUARD_KEY_MAX];
	unsigned failures;
	time_t first, last;
	time_t locked_until;
};

static struct guard_entry G[GUARD_ENTRIES];
static struct conf_auth_limits GL = {3, 10, 900, 900};

void guard_init(const struct conf_auth_limits *lim)
{
	GL = *lim;
	memset(G, 0, sizeof G);
}

static uint32_t guard_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static int guard_expired(const struct guard_entry *e, time_t now)
{
	return e->key[0] && now - e->last > (time_t)GL.window && now >= e->locked_until;
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
	v->first = v->last = now;
	return v;
}

long guard_locked(const char *ip, time_t now)
{
	char key[GUARD_KEY_MAX];
	struct guard_entry *e;

	if (str_fmt(key, sizeof key, "ip:%s", ip) < 0 || (e = guard_get(key, now, 0)) == NULL)
		return 0;
	return e->locked_until > now ? (long)(e->locked_until - now) : 0;
}

static struct guard_entry *guard_count(const char *prefix, const char *name, time_t now)
{
	char key[GUARD_KEY_MAX];
	struct guard_entry *e;

	if (str_fmt(key, sizeof key, "%s:%s", prefix, name) < 0 ||
	    (e = guard_get(key, now, 1)) == NULL)
		return NULL;
	e->failures++;
	e->last = now;
	return e;
}

unsigned guard_fail(const char *ip, const char *login, time_t now)
{
	struct guard_entry *by_ip = guard_count("ip", ip, now);
	struct guard_entry *by_user = login[0] ? guard_count("user", login, now) : NULL;
	unsigned worst = by_ip ? by_ip->failures : 0, delay = 0;

	if (by_user && by_user->failures > worst)
		worst = by_user->failures;
	if (worst >= GL.delay_after) {
		delay = worst - (GL.delay_after - 1);
		delay = delay > GUARD_DELAY_MAX ? GUARD_DELAY_MAX : delay;
	}
	/* The lockout starts when the (delayed) answer is given, so it always
	 * outlasts that answer. */
	if (by_ip && by_ip->failures >= GL.lock_after && by_ip->locked_until <= now)
		by_ip->locked_until = now + (time_t)delay + (time_t)GL.lock_time;
	return delay;
}

void guard_success(const char *login)
{
	char key[GUARD_KEY_MAX];
	struct guard_entry *e;

	if (str_fmt(key, sizeof key, "user:%s", login) == 0 &&
	    (e = guard_get(key, time(NULL), 0)) != NULL)
		memset(e, 0, sizeof *e);
}
