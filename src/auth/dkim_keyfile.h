/*
 * dkim_keyfile: reading a DKIM private key file for `dkim sign` lines —
 * shared by the remote process (at start, before dropping privileges)
 * and `sealpost check`.
 *
 * Security role: the file is read with a size bound and the PEM text is
 * wiped from memory once parsed.
 */
#ifndef SEALPOST_DKIM_KEYFILE_H
#define SEALPOST_DKIM_KEYFILE_H

#include <stddef.h>

#include "auth/dkim.h"

#define DKIM_KEY_FILE_MAX (64 * 1024) /* a PEM private key file */

/* The key in path, or NULL with a reason in err[cap]. */
struct dkim_key *dkim_key_read_file(const char *path, char *err, size_t cap);

#endif
