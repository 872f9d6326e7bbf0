/*
 * file: the few blocking file helpers several processes need — write a
 * whole buffer, create a directory path, make a directory entry durable.
 */
#ifndef SEALPOST_FILE_H
#define SEALPOST_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* write() all of p[0..n), retrying on EINTR and short writes. 0 or -1 (errno). */
int file_write_all(int fd, const void *p, size_t n);
/* mkdir -p: parents with mode parents, the last component with mode last. 0 or -1. */
int file_mkdirs(const char *path, mode_t parents, mode_t last);
/* Read the whole of a small file (a key, a policy) into buf[cap]. Returns
 * its length, or -1 with errno set (EFBIG when it does not fit). */
ssize_t file_read_small(const char *path, char *buf, size_t cap);
/* fsync the directory dir (after a create or rename in it). 0 or -1 (errno). */
int file_sync_dir(const char *dir);

#endif
