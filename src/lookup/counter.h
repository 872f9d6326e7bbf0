/*
 * counter: rate counters for the lookup process (connection rates,
 * recipient rates, user quotas, auth failures), in fixed time windows.
 *
 * In-process by default. With `limits store redis://HOST:PORT` the counts
 * are shared by every instance using that Redis: local increments are sent
 * in one pipelined batch every store_sync_ms (INCRBY + EXPIRE per key and
 * window), and each reply tells the cluster-wide total, which later reads
 * combine with the local increments not yet sent. Redis is never waited
 * for: when it is unreachable the counts are local only (logged once, and
 * once again when it is back), and mail keeps flowing.
 */
#ifndef SEALPOST_COUNTER_H
#define SEALPOST_COUNTER_H

#include <stdint.h>
#include <time.h>

#include <event2/event.h>

#include "util/conf.h"

#define COUNTER_KEY_MAX 160	 /* "kind:subject", e.g. "conn:192.0.2.1" */
#define COUNTER_ENTRIES 65536 /* keys remembered at once (oldest reused when full) */

/* Set up the table; connect to the store of l (if any) on base. 0 or -1. */
int counter_init(struct event_base *base, const struct conf_limits *l);

/* Add n to key in the current window of rate r; returns the count in that
 * window afterwards (the cluster-wide count as far as known). */
uint64_t counter_add(const char *key, const struct conf_rate *r, uint64_t n, time_t now);

/* The count of key in the current window of r, without adding. */
uint64_t counter_peek(const char *key, const struct conf_rate *r, time_t now);

/* 1 while the shared store is in use, 0 when counting locally only. */
int counter_shared(void);

#endif
