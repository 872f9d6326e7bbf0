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
 * Deliver: prefix (our added header lines, LF-terminated) and then msg
 * (CRLF text, converted to LF as every Maildir reader expects) into
 * dir/tmp, fsync, rename into dir/new, fsync dir/new. Creates the Maildir
 * when missing. Returns 0, or -1 with why set (a temporary failure).
 */
int maildir_deliver(const char *dir, const char *hostname, const char *prefix, size_t prefix_len,
		    const char *msg, size_t len, char *why, size_t whycap);

#endif
