/*
 * deliver_maildir: writing one message into one Maildir, durably.
 *
 * Security role: the mailbox name comes from the envelope. Each expanded
 * path component is checked (no '/', no leading '.', no control octets) so
 * no address can steer a write outside the mail root.
 */
#ifndef SEALPOST_DELIVER_MAILDIR_H
#define SEALPOST_DELIVER_MAILDIR_H

#include <stddef.h>

/*
 * Expand pattern (%d domain, %u local part, %% a percent) for the mailbox
 * address mbox ("local@domain"). Pure. Returns 0, or -1 with why set.
 */
int maildir_path(const char *pattern, const char *mbox, char *out, size_t cap, char *why,
		 size_t whycap);

/*
 * The file name of one recipient's copy of one message, the same on every
 * attempt: time.Q<queue id>R<recipient index>.host (the Maildir convention
 * time.unique.host; queue ids are unique). A delivery repeated after a
 * crash or a stop that could not record it replaces its own first copy in
 * new/ instead of adding a second. Pure. 0, or -1 when it does not fit.
 */
int maildir_name(char *out, size_t cap, long long time, const char *id, unsigned idx,
		 const char *hostname);

/*
 * 1 when the copy named name is already in dir/new, or in dir/cur where a
 * reader moved it (adding ":2,flags"); 0 when not; -1 when dir/cur cannot
 * be read. For messages the queue found at start only: cur/ is listed.
 */
int maildir_has(const char *dir, const char *name);

/*
 * Deliver: prefix (our added header lines, LF-terminated) and then msg
 * (CRLF text, converted to LF as every Maildir reader expects) into
 * dir/tmp/name, fsync, rename into dir/new/name, fsync dir/new. Creates
 * the Maildir when missing. Returns 0, or -1 with why set (a temporary
 * failure).
 */
int maildir_deliver(const char *dir, const char *name, const char *prefix, size_t prefix_len,
		    const char *msg, size_t len, char *why, size_t whycap);

#endif
