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
#include "util/conf.h"
#include "util/pool.h"

#define QUEUE_FSYNC_THREADS  16
#define QUEUE_INFLIGHT_MAX   256   /* messages handed to deliver (and as many to remote) at once */
#define QUEUE_INFLIGHT_RCPTS 8192  /* and their recipients (each answered by one record) */
#define QUEUE_INCOMING_MAX   8192  /* open messages per worker */
#define QUEUE_DIRECT_RCPTS   32	   /* at most this many recipients are delivered before the 250 */
#define QUEUE_DIRECT_WAIT    5	   /* seconds such a delivery may hold the 250, then it is queued */
#define QUEUE_SPARE_MAX	     16	   /* queue files kept per worker for its next messages ... */
#define QUEUE_SPARE_SIZE     65536 /* ... when no larger than this */
#define QUEUE_STOP_WAIT	     10	   /* seconds a stopping queue waits for deliveries in flight */
#define QUEUE_RETRY_MIN	     60	   /* first retry after a minute, doubling ... */
#define QUEUE_RETRY_MAX	     7200  /* ... up to two hours */

struct qincoming;

struct qworker {
	struct ipc_chan *ch;
	unsigned idx;
	struct qenv open; /* envelope being assembled from OPEN + RCPTs */
	uint64_t open_req;
	size_t open_want; /* recipients still expected; 0 = none open */
	struct qincoming *incoming;
	size_t n_incoming;
	unsigned char spare[QUEUE_SPARE_MAX]; /* 1: incoming/sIDX.K is a spare file */
};

int queue_spare_is(const char *name);

/* Which process an attempt goes to. */
enum qkind { QK_LOCAL = 0, QK_REMOTE = 1, QK_COUNT };

struct qmsg {
	char id[QUEUE_ID_SIZE];
	uint32_t n_rcpt;
	int64_t arrival;	/* accepted at (unix time) */
	unsigned char *done;	/* per recipient: 1 delivered, 2 failed for good (bounced) */
	unsigned char *newdone; /* delivered in the attempt in flight */
	unsigned char *newfail; /* failed for good in the attempt in flight */
	unsigned char *remote;	/* per recipient: another domain, for remote delivery */
	char **why;		/* per recipient: the last failure (for DSNs); lazily */
	unsigned tries;
	char last_error[256];
	int hold;	  /* held by the operator */
	unsigned bounces; /* DSNs about it not yet queued: it stays until they are */
	int finished;	  /* every recipient done: remove once bounces == 0 */
	int warned;	  /* the delay notice went out */
	int waiting;	  /* its retry timer is armed */
	int queued;	  /* on a ready list */
	int slot;	  /* index in the in-flight table, or -1 */
	enum qkind kind;  /* of the attempt in flight */
	uint32_t sent;	  /* recipients handed over in that attempt */
	struct event *timer;
	struct qincoming *direct; /* delivered before its 250: not committed yet */
	int orphan;		  /* its commit failed mid-delivery: freed when deliver answers */
	int recovered;		  /* found in the spool at start: copies may exist from before */
	struct qmsg *next;	  /* ready list */
	struct qmsg *all_next, *all_prev; /* every message the queue holds */
};

struct queue {
	struct event_base *base;
	struct pool *pool;
	struct qworker *workers;
	unsigned n_workers;
	struct ipc_chan *deliver;
	struct ipc_chan *remote; /* delivery to other domains */
	struct ipc_chan *lookup; /* resolves the local recipients of bounces */
	int queue_dirfd;
	struct qincoming *sync_batch;	/* renamed, waiting for a dir fsync */
	struct qincoming *sync_running; /* the batch whose dir fsync is in flight */
	const struct conf *conf;
	struct qmsg *ready_head[QK_COUNT], *ready_tail[QK_COUNT];
	struct qmsg *all; /* every message held, for the control socket */
	struct qmsg *inflight[QK_COUNT * QUEUE_INFLIGHT_MAX];
	unsigned n_inflight[QK_COUNT];
	unsigned inflight_rcpts[QK_COUNT];
	uint64_t stat_committed, stat_delivered;
	int stopping; /* SIGTERM: start nothing, record what is in flight, exit */
};

extern struct queue Q;

/* queue_commit.c */
void queue_on_open(struct qworker *w, struct ipc_msg *m);
void queue_on_rcpt(struct qworker *w, struct ipc_msg *m);
void queue_on_commit(struct qworker *w, struct ipc_msg *m);
void queue_on_abort(struct qworker *w, struct ipc_msg *m);
void queue_clear_incoming(void);

/* queue_sched.c: for the control socket (queue_ctl.c). Each returns 0 and
 * writes a one-line answer to msg[cap], or -1 with the reason there. */
#define QUEUE_CTL_ALL NULL
int queue_ctl_flush(const char *id_or_all, char *msg, size_t cap);   /* retry now */
int queue_ctl_hold(const char *id, int hold, char *msg, size_t cap); /* hold / release */
int queue_ctl_delete(const char *id, char *msg, size_t cap);	     /* remove, no bounce */

/* queue_ctl.c: the control socket <spool>/control.sock */
void queue_ctl_init(void);

/* queue_bounce.c */
void queue_on_lookup(struct ipc_chan *ch, struct ipc_msg *m, void *arg);

/* queue_commit.c: deliver's answer to a message delivered before its 250
 * (every recipient done: the worker may reply; else it is committed). */
void queue_direct_end(struct qmsg *q);

/* queue_sched.c */
struct qmsg *queue_msg_new(const char *id, uint32_t n_rcpt, int64_t arrival);
void queue_msg_free(struct qmsg *q);
void queue_ready(struct qmsg *q);
/* A free local delivery slot for a message of n_rcpt recipients that may
 * go ahead of the ready list (none waits, the bounds allow), or -1. */
int queue_local_slot(uint32_t n_rcpt);
/* Hand q to the delivery process of kind k in slot; 0 or -1. */
int queue_start(struct qmsg *q, int slot, enum qkind k);
/* What an attempt's answers mean: bounces, state, retries, removal. */
void queue_attempt_end(struct qmsg *q);
void queue_dispatch(void);
void queue_retry_later(struct qmsg *q);
void queue_scan(void);
void queue_on_delivered(struct ipc_chan *ch, struct ipc_msg *m);
void queue_on_delivered_end(struct ipc_chan *ch, struct ipc_msg *m);

/* queue_bounce.c: a DSN (queue_dsn.h) to q's sender about the recipients
 * marked in which[] (their reasons in q->why); none for a <> sender. Once
 * the DSN is durably queued (a local sender's mailbox is asked of lookup
 * first), "fail N" (or "warned") is recorded in q's state and
 * queue_bounce_done(q) is called. */
void queue_bounce(struct qmsg *q, int delayed, const unsigned char *which);
void queue_bounce_done(struct qmsg *q);
/* queue_sched.c: append text to queue/ID.state and fsync it. */
void queue_state_append(struct qmsg *q, const char *text, size_t len);
/* Write a new message (envelope + text) into the queue, durably; it is
 * readied for delivery. 0 or -1. */
int queue_inject(const char *from, const char *rcpt, const char *mbox, const char *text,
		 size_t len);

#endif
