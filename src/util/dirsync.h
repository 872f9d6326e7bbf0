/*
 * dirsync: fsync of a directory shared by the threads of a process that
 * renamed files into it at about the same time (group commit). On a disk
 * where every fsync is a flush, N deliveries into one busy Maildir then
 * cost far fewer than N directory fsyncs.
 */
#ifndef SEALPOST_UTIL_DIRSYNC_H
#define SEALPOST_UTIL_DIRSYNC_H

/*
 * Return once an fsync of dir that began after this call began has
 * completed: 0, or -1 with errno set when that fsync (or one run for a
 * later caller while this one waited) failed. Thread-safe. Up to
 * DIRSYNC_SLOTS directories share syncs at once; callers beyond that
 * fsync on their own.
 */
int dirsync_group(const char *dir);

/* The same with the fsync of a directory done by sync_dir (0, or -1 with
 * errno set), for the tests. */
int dirsync_group_with(const char *dir, int (*sync_dir)(const char *dir));

#endif
