/*
 * counter: the local table behind counter.h. One entry per (key, period,
 * window id = now / period) in a fixed open-addressing table (FNV-1a,
 * linear probing over COUNTER_PROBE slots): a key's count in its current
 * window is one entry, the previous window stays readable (counter_peek
 * with now - period) until the window after it begins, then the slot is
 * free again. When every probed slot is live the least recently used one
 * is reused, so memory never grows.
 *
 * Security role: keys are built from client addresses and logins. A flood
 * of distinct keys can evict old counts (those keys start again from
 * zero, the cluster total still counts when a store is used) but cannot
 * grow memory or slow a lookup beyond COUNTER_PROBE comparisons.
 * A rate with count 0 is a limit that is off: nothing is counted or sent
 * and the functions return 0.
 */
#include "lookup/counter_int.h"

#include <string.h>

#include "util/str.h"

#define COUNTER_PROBE 32 /* slots looked at per lookup */

struct counter_entry {
	char key[COUNTER_KEY_MAX];
	uint64_t window;
	unsigned period; /* 0 = free slot */
	uint32_t gen;	 /* bumped each time the slot takes a new key */
	uint64_t count;	 /* this instance's increments */
	uint64_t unsent; /* ... not yet sent to the store */
	uint64_t flight; /* ... sent, reply not yet received */
	uint64_t total;	 /* the cluster total in the last reply */
	uint64_t used;	 /* CT.tick when last read or written (LRU) */
	uint8_t read;	 /* read since the last sync: refresh it */
	uint8_t queued;	 /* in CT.queue */
};

static struct {
	struct counter_entry e[COUNTER_ENTRIES];
	uint32_t queue[COUNTER_ENTRIES]; /* ring of slots to sync; each at most once */
	uint32_t head, n;
	uint64_t tick;
	int track;
} CT;

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

uint64_t counter_combine(uint64_t local, uint64_t total, uint64_t pending)
{
	uint64_t shared = sat_add(total, pending);
	return shared > local ? shared : local;
}

void counter_track(int on)
{
	CT.track = on;
}

void counter_reset(void)
{
	memset(&CT, 0, sizeof CT);
}

static uint32_t counter_hash(const char *key, unsigned period, uint64_t window)
{
	uint32_t h = 2166136261u;

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	for (unsigned i = 0; i < 8; i++, window >>= 8)
		h = (h ^ (window & 0xff)) * 16777619u;
	return (h ^ period) * 16777619u;
}

/* Past the window after its own: nothing reads it any more. */
static int counter_expired(const struct counter_entry *e, time_t now)
{
	return (uint64_t)now / e->period >= e->window + 2;
}

static int counter_match(const struct counter_entry *e, const char *key, unsigned period,
			 uint64_t window)
{
	return e->period == period && e->window == window && strcmp(e->key, key) == 0;
}

static struct counter_entry *counter_claim(struct counter_entry *e, const char *key,
					   unsigned period, uint64_t window)
{
	uint32_t gen = e->gen + 1;
	uint8_t queued = e->queued;

	memset(e, 0, sizeof *e);
	e->gen = gen;
	e->queued = queued;
	if (str_copy(e->key, sizeof e->key, key) < 0)
		return NULL; /* period stays 0: the slot is free */
	e->period = period;
	e->window = window;
	return e;
}

/* The entry of key in window; created when create != 0 (in a free, expired
 * or else the least recently used probed slot). NULL if absent or the key
 * is too long. Every probed slot is compared, so freeing one never hides a
 * key stored after it. */
static struct counter_entry *counter_get(const char *key, unsigned period, uint64_t window,
					 time_t now, int create)
{
	uint32_t h = counter_hash(key, period, window);
	struct counter_entry *spare = NULL, *lru = NULL;

	for (unsigned i = 0; i < COUNTER_PROBE; i++) {
		struct counter_entry *e = &CT.e[(h + i) % COUNTER_ENTRIES];
		if (e->period == 0 || counter_expired(e, now)) {
			if (!spare)
				spare = e;
		} else if (counter_match(e, key, period, window)) {
			return e;
		} else if (!lru || e->used < lru->used) {
			lru = e;
		}
	}
	if (!create || strlen(key) >= COUNTER_KEY_MAX)
		return NULL;
	return counter_claim(spare ? spare : lru, key, period, window);
}

static void counter_enqueue(struct counter_entry *e)
{
	if (e->queued || CT.n >= COUNTER_ENTRIES)
		return;
	CT.queue[(CT.head + CT.n) % COUNTER_ENTRIES] = (uint32_t)(e - CT.e);
	CT.n++;
	e->queued = 1;
}

static uint64_t counter_value(const struct counter_entry *e)
{
	return counter_combine(e->count, e->total, sat_add(e->unsent, e->flight));
}

static struct counter_entry *counter_touch(const char *key, const struct conf_rate *r, time_t now)
{
	struct counter_entry *e;

	if (r->count == 0 || r->period == 0 || now < 0)
		return NULL;
	e = counter_get(key, r->period, (uint64_t)now / r->period, now, CT.track);
	if (e) {
		e->used = ++CT.tick;
		if (CT.track) {
			e->read = 1;
			counter_enqueue(e);
		}
	}
	return e;
}

uint64_t counter_add(const char *key, const struct conf_rate *r, uint64_t n, time_t now)
{
	struct counter_entry *e;

	if (r->count == 0 || r->period == 0 || now < 0)
		return 0;
	e = counter_get(key, r->period, (uint64_t)now / r->period, now, 1);
	if (!e)
		return 0;
	e->used = ++CT.tick;
	e->count = sat_add(e->count, n);
	if (CT.track) {
		e->unsent = sat_add(e->unsent, n);
		counter_enqueue(e);
	}
	return counter_value(e);
}

uint64_t counter_peek(const char *key, const struct conf_rate *r, time_t now)
{
	struct counter_entry *e = counter_touch(key, r, now);

	return e ? counter_value(e) : 0;
}

/* Turn slot into a job if it has something to send or refresh. */
static int counter_job_fill(struct counter_job *j, uint32_t slot, time_t now)
{
	struct counter_entry *e = &CT.e[slot];

	e->queued = 0;
	if (e->period == 0 || counter_expired(e, now)) {
		e->unsent = 0;
		return 0;
	}
	if (e->unsent == 0 && !e->read)
		return 0;
	if (str_copy(j->key, sizeof j->key, e->key) < 0)
		return 0;
	j->slot = slot;
	j->gen = e->gen;
	j->window = e->window;
	j->period = e->period;
	j->delta = e->unsent;
	e->flight = sat_add(e->flight, e->unsent);
	e->unsent = 0;
	e->read = 0;
	return 1;
}

int counter_job_next(struct counter_job *j, time_t now)
{
	while (CT.n > 0) {
		uint32_t slot = CT.queue[CT.head];
		CT.head = (CT.head + 1) % COUNTER_ENTRIES;
		CT.n--;
		if (counter_job_fill(j, slot, now))
			return 1;
	}
	return 0;
}

void counter_job_done(const struct counter_job *j, int ok, uint64_t total)
{
	struct counter_entry *e;

	if (j->slot >= COUNTER_ENTRIES)
		return;
	e = &CT.e[j->slot];
	if (e->gen != j->gen || e->period == 0)
		return; /* the slot was reused: that key is forgotten anyway */
	e->flight = e->flight > j->delta ? e->flight - j->delta : 0;
	if (ok) {
		e->total = total;
		return;
	}
	if (j->delta > 0) {
		e->unsent = sat_add(e->unsent, j->delta);
		counter_enqueue(e);
	}
}

int counter_init(struct event_base *base, const struct conf_limits *l)
{
	if (!l->store[0]) {
		counter_track(0);
		return 0;
	}
	counter_track(1);
	return counter_store_init(base, l);
}

int counter_shared(void)
{
	return counter_store_up();
}
