/*
 * dirsync: group commit of directory fsyncs (see dirsync.h).
 *
 * Each directory being synced has a slot with generation counters: a
 * caller needs the generation after the one that was last started (that
 * one may have begun before its rename), runs it itself when no fsync of
 * the directory is running, and otherwise waits for it. One fsync thus
 * serves every caller that arrived while the previous one ran.
 */
#include "util/dirsync.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/file.h"

#define DIRSYNC_SLOTS 64

struct dirsync_slot {
	char *dir;	/* NULL: free */
	unsigned users; /* callers holding the slot */
	int running;	/* an fsync is in progress */
	uint64_t started, done;
	uint64_t failed; /* the last generation whose fsync failed, 0 if none */
	int err;
};

static pthread_mutex_t dirsync_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dirsync_cond = PTHREAD_COND_INITIALIZER;
static struct dirsync_slot dirsync_slots[DIRSYNC_SLOTS];

/* The slot of dir, taken for one more user; NULL when all are busy. Locked. */
static struct dirsync_slot *dirsync_take(const char *dir)
{
	struct dirsync_slot *free_slot = NULL;

	for (size_t i = 0; i < DIRSYNC_SLOTS; i++) {
		struct dirsync_slot *s = &dirsync_slots[i];
		if (s->dir && strcmp(s->dir, dir) == 0) {
			s->users++;
			return s;
		}
		if (!s->dir && !free_slot)
			free_slot = s;
	}
	if (!free_slot || (free_slot->dir = strdup(dir)) == NULL)
		return NULL;
	free_slot->users = 1;
	free_slot->started = free_slot->done = free_slot->failed = 0;
	return free_slot;
}

static void dirsync_release(struct dirsync_slot *s)
{
	if (--s->users == 0) {
		free(s->dir);
		s->dir = NULL;
	}
}

int dirsync_group(const char *dir)
{
	return dirsync_group_with(dir, file_sync_dir);
}

int dirsync_group_with(const char *dir, int (*sync_dir)(const char *dir))
{
	struct dirsync_slot *s;
	uint64_t want;
	int rc = 0, ran = 0;

	pthread_mutex_lock(&dirsync_lock);
	if ((s = dirsync_take(dir)) == NULL) {
		pthread_mutex_unlock(&dirsync_lock);
		return sync_dir(dir);
	}
	want = s->started + 1;
	while (s->done < want) {
		if (s->running) {
			pthread_cond_wait(&dirsync_cond, &dirsync_lock);
			continue;
		}
		uint64_t gen = ++s->started;
		s->running = 1;
		pthread_mutex_unlock(&dirsync_lock);
		int r = sync_dir(dir), err = errno;
		pthread_mutex_lock(&dirsync_lock);
		s->running = 0;
		s->done = gen;
		if (r < 0) {
			s->failed = gen;
			s->err = err;
		}
		ran = 1;
	}
	if (s->failed >= want) {
		rc = -1;
		errno = s->err;
	}
	dirsync_release(s);
	pthread_mutex_unlock(&dirsync_lock);
	/* after the unlock: the threads woken do not wait on the lock again */
	if (ran)
		pthread_cond_broadcast(&dirsync_cond);
	return rc;
}
