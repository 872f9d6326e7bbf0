/*
 * queue_int: state shared by the queue process's own files
 * (queue_proc.c: setup and IPC dispatch; queue_commit.c: receiving and
 * committing messages; queue_sched.c: scheduling local delivery).
 */
#ifndef SEALPOST_QUEUE_INT_H
#define SEALPOST_QUEUE_INT_H

#include <stdint.h>
#include <time.h>

#include "ipc/ipc.h"
#include "queue/queue_spool.h"
#include "util/pool.h"

#define QUEUE_FSYNC_THREADS  16
#define QUEUE_INFLIGHT_MAX   256  /* messages handed to deliver at once */
#define QUEUE_INFLIGHT_RCPTS 8192 /* and their recipients (each answered by one record) */
#define QUEUE_INCOMING_MAX   8192 /* open messages per worker */
#define QUEUE_RETRY_MIN	     60
#define QUEUE_RETRY_MAX	     3600

struct qincoming;

struct qworker {
	struct ipc_chan *ch;
	unsigned idx;
	struct qenv open; /* envelope being assembled from OPEN + RCPTs */
	uint64_t open_req;
	size_t open_want; /* recipients still expected; 0 = none open */
	struct qincoming *incoming;
	size_t n_incoming;
};

struct qmsg {
	char id[QUEUE_ID_SIZE];
	uint32_t n_rcpt;
	unsigned char *done;	/* per recipient: delivered */
	unsigned char *newdone; /* delivered in the attempt in flight */
	unsigned char *remote;	/* per recipient: another domain, for remote delivery */
	unsigned tries;
	char last_error[256];
	int slot;      /* index in the in-flight table, or -1 */
	uint32_t sent; /* recipients handed to deliver in that attempt */
	struct event *timer;
	struct qmsg *next; /* ready list */
};

struct queue {
	struct event_base *base;
	struct pool *pool;
	struct qworker *workers;
	unsigned n_workers;
	struct ipc_chan *deliver;
	int queue_dirfd;
	struct qincoming *sync_batch;	/* renamed, waiting for a dir fsync */
	struct qincoming *sync_running; /* the batch whose dir fsync is in flight */
	struct qmsg *ready_head, *ready_tail;
	struct qmsg *parked; /* only remote recipients left: for the outbound process */
	struct qmsg *inflight[QUEUE_INFLIGHT_MAX];
	unsigned n_inflight;
	unsigned inflight_rcpts;
	uint64_t stat_committed, stat_delivered;
};

extern struct queue Q;

/* queue_commit.c */
void queue_on_open(struct qworker *w, struct ipc_msg *m);
void queue_on_rcpt(struct qworker *w, struct ipc_msg *m);
void queue_on_commit(struct qworker *w, struct ipc_msg *m);
void queue_on_abort(struct qworker *w, struct ipc_msg *m);
void queue_clear_incoming(void);

/* queue_sched.c */
struct qmsg *queue_msg_new(const char *id, uint32_t n_rcpt);
void queue_ready(struct qmsg *q);
void queue_dispatch(void);
void queue_retry_later(struct qmsg *q);
void queue_scan(void);
void queue_on_delivered(struct ipc_msg *m);
void queue_on_delivered_end(struct ipc_msg *m);

#endif
