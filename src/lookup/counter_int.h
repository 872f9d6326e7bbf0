/*
 * counter_int: the seam between the local counter table (counter.c) and the
 * shared store (counter_redis.c), also used by tests/unit/test_counter.c.
 *
 * The store never touches the table directly: it takes "jobs" (one key and
 * window to send or refresh) and reports each outcome back. A job that
 * carries increments moves them from "unsent" to "in flight"; a failed job
 * puts them back (at-least-once: a count may be applied twice, never lost
 * while its window lasts).
 */
#ifndef SEALPOST_COUNTER_INT_H
#define SEALPOST_COUNTER_INT_H

#include <stdint.h>
#include <time.h>

#include "lookup/counter.h"

#define COUNTER_BATCH_CMDS 1024 /* Redis commands sent per sync at most */

struct counter_job {
	uint32_t slot, gen;	   /* the table entry (gen: not reused since) */
	char key[COUNTER_KEY_MAX]; /* the counter key, as given by the caller */
	uint64_t window;	   /* window id = now / period */
	unsigned period;	   /* seconds */
	uint64_t delta;		   /* increments sent (INCRBY); 0 = refresh (GET) */
};

/* counter.c: keep unsent increments and reads for a store (1) or not (0). */
void counter_track(int on);
/* counter.c: the next entry to sync; 1 with *j filled, 0 when none is due. */
int counter_job_next(struct counter_job *j, time_t now);
/* counter.c: the outcome of a job: ok with the cluster total, or failed. */
void counter_job_done(const struct counter_job *j, int ok, uint64_t total);
/* counter.c: what a read returns: the larger of the local count and the
 * last known cluster total plus the increments it does not include yet. */
uint64_t counter_combine(uint64_t local, uint64_t total, uint64_t pending);
/* counter.c: forget every count (tests). */
void counter_reset(void);

/* counter_redis.c: connect to l's store on base (asynchronously); 0 or -1. */
int counter_store_init(struct event_base *base, const struct conf_limits *l);
/* counter_redis.c: 1 while connected. */
int counter_store_up(void);
/* counter_redis.c: close the connection and stop the timers (tests). */
void counter_store_close(void);

#endif
