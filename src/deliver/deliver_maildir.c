/*
 * deliver_maildir: Maildir path expansion and durable delivery
 * (see deliver_maildir.h). File names follow the Maildir convention
 * time.unique.host, with the queue id and recipient index as the unique
 * part, so a repeated delivery finds or replaces its first copy.
 */
#include "deliver/deliver_maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/dirsync.h"
#include "util/file.h"
#include "util/str.h"

#define MAILDIR_WBUF (64 * 1024)
#define MAILDIR_PATH 4096

/* A component of a path: non-empty, no '/', not starting with '.', no controls. */
static int maildir_component_ok(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int maildir_append(char *out, size_t cap, size_t *o, const char *s, size_t n)
{
	if (*o + n >= cap)
		return -1;
	memcpy(out + *o, s, n);
	*o += n;
	return 0;
}

int maildir_path(const char *pattern, const char *mbox, char *out, size_t cap, char *why,
		 size_t whycap)
{
	const char *at = strrchr(mbox, '@');
	size_t o = 0;

	if (!at || !maildir_component_ok(mbox, (size_t)(at - mbox)) ||
	    !maildir_component_ok(at + 1, strlen(at + 1))) {
		str_fmt(why, whycap, "mailbox name unusable as a path");
		return -1;
	}
	for (const char *p = pattern; *p; p++) {
		int rc;
		if (*p != '%')
			rc = maildir_append(out, cap, &o, p, 1);
		else if (p[1] == 'u')
			rc = maildir_append(out, cap, &o, mbox, (size_t)(at - mbox));
		else if (p[1] == 'd')
			rc = maildir_append(out, cap, &o, at + 1, strlen(at + 1));
		else if (p[1] == '%')
			rc = maildir_append(out, cap, &o, "%", 1);
		else
			rc = -1;
		if (*p == '%')
			p++;
		if (rc < 0) {
			str_fmt(why, whycap, "maildir pattern does not expand");
			return -1;
		}
	}
	out[o] = '\0';
	return 0;
}

/* mkdir -p for dir and its cur/new/tmp. */
static int maildir_make(const char *dir)
{
	char path[MAILDIR_PATH];
	static const char *sub[] = {"cur", "new", "tmp"};

	if (file_mkdirs(dir, 0700, 0700) < 0)
		return -1;
	for (size_t i = 0; i < 3; i++)
		if (str_fmt(path, sizeof path, "%s/%s", dir, sub[i]) < 0 ||
		    (mkdir(path, 0700) < 0 && errno != EEXIST))
			return -1;
	return 0;
}

/* Write prefix, then msg with CRLF turned into LF, through a bounded
 * buffer: a small message is one write(). */
static int maildir_write_lf(int fd, const char *prefix, size_t prefix_len, const char *msg,
			    size_t len)
{
	char *buf = malloc(MAILDIR_WBUF);
	size_t o = 0;
	int rc = 0;

	if (!buf)
		return -1;
	if (prefix_len < MAILDIR_WBUF) { /* room left for the loop's first octet */
		memcpy(buf, prefix, prefix_len);
		o = prefix_len;
	} else {
		rc = file_write_all(fd, prefix, prefix_len);
	}
	for (size_t i = 0; i < len && rc == 0; i++) {
		if (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n')
			continue;
		buf[o++] = msg[i];
		if (o == MAILDIR_WBUF) {
			rc = file_write_all(fd, buf, o);
			o = 0;
		}
	}
	if (rc == 0 && o)
		rc = file_write_all(fd, buf, o);
	free(buf);
	return rc;
}

int maildir_name(char *out, size_t cap, long long time, const char *id, unsigned idx,
		 const char *hostname)
{
	return str_fmt(out, cap, "%lld.Q%sR%u.%s", time, id, idx, hostname);
}

int maildir_has(const char *dir, const char *name)
{
	char path[MAILDIR_PATH];
	struct stat st;
	size_t n = strlen(name);
	struct dirent *de;
	DIR *d;
	int found = 0;

	if (str_fmt(path, sizeof path, "%s/new/%s", dir, name) < 0)
		return -1;
	if (stat(path, &st) == 0)
		return 1;
	if (str_fmt(path, sizeof path, "%s/cur", dir) < 0)
		return -1;
	if ((d = opendir(path)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while (!found && (de = readdir(d)) != NULL)
		found = strncmp(de->d_name, name, n) == 0 &&
			(de->d_name[n] == '\0' || de->d_name[n] == ':');
	closedir(d);
	return found;
}

int maildir_deliver(const char *dir, const char *name, const char *prefix, size_t prefix_len,
		    const char *msg, size_t len, char *why, size_t whycap)
{
	char tmp[MAILDIR_PATH], dst[MAILDIR_PATH], newdir[MAILDIR_PATH];
	/* O_TRUNC, not O_EXCL: a tmp/ file of this name is an earlier attempt's */
	const int flags = O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC;
	int fd;

	if (str_fmt(tmp, sizeof tmp, "%s/tmp/%s", dir, name) < 0 ||
	    str_fmt(dst, sizeof dst, "%s/new/%s", dir, name) < 0 ||
	    str_fmt(newdir, sizeof newdir, "%s/new", dir) < 0) {
		str_fmt(why, whycap, "maildir path too long");
		return -1;
	}
	fd = open(tmp, flags, 0600);
	if (fd < 0 && errno == ENOENT && maildir_make(dir) == 0)
		fd = open(tmp, flags, 0600);
	if (fd < 0) {
		str_fmt(why, whycap, "cannot create %s: %s", tmp, strerror(errno));
		return -1;
	}
	if (maildir_write_lf(fd, prefix, prefix_len, msg, len) < 0 || fsync(fd) < 0) {
		str_fmt(why, whycap, "cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, dst) < 0 || dirsync_group(newdir) < 0) {
		str_fmt(why, whycap, "cannot move into %s: %s", newdir, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}
