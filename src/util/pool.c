/*
 * pool: worker threads + an eventfd that wakes the event loop when jobs
 * finish (see pool.h). Jobs are FIFO; completions are delivered in the
 * order they finish.
 */
#include "util/pool.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"

#define POOL_THREADS_MAX 64

struct pool_job {
	struct pool_job *next;
	pool_fn work, done;
	void *arg;
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pool_job *todo_head, *todo_tail;
	struct pool_job *done_head, *done_tail;
	unsigned pending;
	int efd;
	struct event *ev;
};

static void pool_push(struct pool_job **head, struct pool_job **tail, struct pool_job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static void *pool_thread(void *arg)
{
	struct pool *p = arg;
	uint64_t one = 1;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->todo_head)
			pthread_cond_wait(&p->cv, &p->mu);
		struct pool_job *j = p->todo_head;
		p->todo_head = j->next;
		if (!p->todo_head)
			p->todo_tail = NULL;
		pthread_mutex_unlock(&p->mu);

		j->work(j->arg);

		pthread_mutex_lock(&p->mu);
		pool_push(&p->done_head, &p->done_tail, j);
		pthread_mutex_unlock(&p->mu);
		if (write(p->efd, &one, sizeof one) != sizeof one)
			fatal("pool: eventfd write failed");
	}
	return NULL;
}

static void pool_on_done(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;
	uint64_t n;
	struct pool_job *list;

	if (read(p->efd, &n, sizeof n) < 0)
		return;
	pthread_mutex_lock(&p->mu);
	list = p->done_head;
	p->done_head = p->done_tail = NULL;
	pthread_mutex_unlock(&p->mu);
	while (list) {
		struct pool_job *j = list;
		list = j->next;
		p->pending--;
		j->done(j->arg);
		free(j);
	}
}

struct pool *pool_new(struct event_base *base, unsigned threads)
{
	struct pool *p = calloc(1, sizeof *p);

	if (!p || threads == 0 || threads > POOL_THREADS_MAX)
		fatal("pool: bad thread count %u", threads);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->efd < 0)
		fatal("pool: eventfd failed");
	p->ev = event_new(base, p->efd, EV_READ | EV_PERSIST, pool_on_done, p);
	if (!p->ev || event_add(p->ev, NULL) < 0)
		fatal("pool: cannot watch eventfd");
	for (unsigned i = 0; i < threads; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, pool_thread, p) != 0)
			fatal("pool: cannot start thread");
		pthread_detach(t);
	}
	return p;
}

int pool_submit(struct pool *p, pool_fn work, pool_fn done, void *job)
{
	struct pool_job *j = malloc(sizeof *j);

	if (!j)
		return -1;
	j->work = work;
	j->done = done;
	j->arg = job;
	pthread_mutex_lock(&p->mu);
	pool_push(&p->todo_head, &p->todo_tail, j);
	pthread_mutex_unlock(&p->mu);
	/* after the unlock: the thread woken does not wait on the lock again */
	pthread_cond_signal(&p->cv);
	p->pending++;
	return 0;
}

unsigned pool_pending(const struct pool *p)
{
	return p->pending;
}
