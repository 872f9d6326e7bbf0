/*
 * pool: a small thread pool for blocking file work (fsync, Maildir writes)
 * whose completions run back on the owning event loop.
 *
 * The job function runs on a pool thread and must touch only the job's own
 * data; the done function runs on the event-loop thread. This is how the
 * queue gets group commit (many fsyncs in flight at once, merged by the
 * filesystem journal) without blocking the loop.
 */
#ifndef SEALPOST_POOL_H
#define SEALPOST_POOL_H

#include <event2/event.h>

struct pool;
typedef void (*pool_fn)(void *job);

struct pool *pool_new(struct event_base *base, unsigned threads);
/* Run work(job) on a thread, then done(job) on the loop. 0, or -1 (ENOMEM). */
int pool_submit(struct pool *p, pool_fn work, pool_fn done, void *job);
/* Jobs submitted and not yet done. */
unsigned pool_pending(const struct pool *p);

#endif
