/*
 * users: the users file. One user per line:
 *
 *     ADDRESS:HASH[:EXTRAS[:FLAGS[:SCRAM]]]
 *
 * ADDRESS is the login and primary mailbox ("local@domain"), HASH a
 * crypt(3) string ($y$ yescrypt, $2b$ bcrypt, $6$ sha512-crypt) or "*" for
 * a receive-only user, EXTRAS a comma list (may be empty) of further
 * addresses that deliver to this mailbox and that the user may send as,
 * FLAGS a comma list of known words ("any-from": the user may put any
 * address in the From: header), SCRAM the RFC 5803 SCRAM-SHA-256 secret
 * (everything after the fourth ':', as the secret contains ':' itself;
 * never with HASH "*"). Trailing empty fields may be left out, so old
 * 2- and 3-field lines stay valid. '#' starts a comment line.
 *
 * Security role: this file holds password hashes and SCRAM secrets. It is
 * parsed strictly (every address validated with conf_addr_normalize, no
 * address owned twice, unknown flags and malformed secrets refused),
 * written atomically with mode 0640, and passwords are only ever compared
 * in constant time and wiped after use, as are hashes and secrets.
 */
#ifndef SEALPOST_USERS_H
#define SEALPOST_USERS_H

#include <stddef.h>
#include <sys/types.h>

#include "lookup/scram.h"
#include "util/conf.h"

#define USERS_ADDR_MAX	CONF_ADDR_MAX	    /* "local@domain" + NUL */
#define USERS_HASH_MAX	256		    /* crypt(3) output + NUL */
#define USERS_EXTRA_MAX 256		    /* extra addresses per user */
#define USERS_MAX	1000000		    /* users per file */
#define USERS_LINE_MAX	(128 * 1024)	    /* one line of the file */
#define USERS_FILE_MAX	(256 * 1024 * 1024) /* users_load refuses larger files */
#define USERS_PW_MAX	1024		    /* longest password accepted */
#define USERS_ERR_MAX	512		    /* a good size for err buffers */
#define USERS_SCRAM_MAX SCRAM_TEXT_MAX	    /* RFC 5803 secret text + NUL */
#define USERS_FLAGS_MAX 64		    /* users_flags_format output + NUL */

/* struct user flags (FLAGS field words). */
#define USER_F_ANY_FROM 0x1u /* "any-from": any address in From: (list servers) */
#define USER_F_ALL	0x1u /* every known flag */

struct user {
	char addr[USERS_ADDR_MAX]; /* primary address, domain lowercased */
	char hash[USERS_HASH_MAX]; /* crypt(3) string or "*" (no login) */
	char **extra;		   /* n_extra malloc'd addresses, domain lowercased */
	size_t n_extra;
	unsigned flags;		     /* USER_F_* */
	char scram[USERS_SCRAM_MAX]; /* RFC 5803 SCRAM-SHA-256 secret, "" when none */
	int line;		     /* line in the file it came from; 0 when added at run time */
};

struct users {
	struct user *v; /* in file order */
	size_t n, cap;
};

/* An empty set; users_free() returns a set to this state. */
#define USERS_INIT                                                                                 \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

/*
 * Parse text[0..len) named file into out (which must be empty, e.g.
 * USERS_INIT). Pure: no I/O. Returns 0, or -1 with "FILE:LINE: reason" in
 * err[errcap] and out emptied. The first error stops the parse.
 */
int users_parse(const char *text, size_t len, const char *file, struct users *out, char *err,
		size_t errcap);

/* Read and parse path ("PATH: cannot open: ..." on failure). */
int users_load(const char *path, struct users *out, char *err, size_t errcap);

/* Free everything (hashes are wiped first) and leave u empty. */
void users_free(struct users *u);

/*
 * The user owning addr, as primary or extra address; the local part is
 * compared case-insensitively, the domain too (and a trailing dot on it is
 * ignored). NULL when nobody owns it. A linear scan: fine for the
 * thousands of users this server is meant for; an index can come later
 * without changing the interface.
 */
const struct user *users_find(const struct users *u, const char *addr);

/*
 * The user whose primary address is login (AUTH logins are primary
 * addresses), compared case-insensitively as a whole and nothing else: no
 * extra addresses, no trailing-dot folding (so each spelling that finds a
 * user is a plain case variant, which the fake SCRAM salt of an unknown
 * name follows too). NULL when none.
 */
const struct user *users_find_login(const struct users *u, const char *login);

/*
 * 1 when addr is usr's primary or one of its extra addresses (local part
 * and domain case-insensitive, a trailing dot on the domain ignored, as in
 * users_find), else 0 (also for NULL). USER_F_ANY_FROM is not looked at:
 * the caller decides where that flag applies (the From: header).
 */
int users_may_send_as(const struct user *usr, const char *addr);

/*
 * usr's SCRAM-SHA-256 secret into *out: 0 when usr may log in with SCRAM
 * (a password hash, not "*", and a valid secret), else -1 with *out
 * zeroed; pass NULL to scram_server_first then (fake exchange).
 */
int users_scram(const struct user *usr, struct scram_secret *out);

/*
 * Add a user. addr and every extra[i] are validated and normalized; none
 * may already belong to a user (or repeat). hash is a crypt(3) string of a
 * supported kind or "*". Returns 0, or -1 with a reason in err.
 */
int users_add(struct users *u, const char *addr, const char *hash, const char *const *extra,
	      size_t n_extra, char *err, size_t errcap);

/* Remove the user whose primary address is addr. -1 with a reason if none. */
int users_del(struct users *u, const char *addr, char *err, size_t errcap);

/*
 * Replace the hash of the user whose primary address is addr. This also
 * removes the SCRAM secret, which belongs to the old password (a changed
 * password must lock out the old one for SCRAM too): set the new secret
 * with users_set_scram afterwards.
 */
int users_set_hash(struct users *u, const char *addr, const char *hash, char *err, size_t errcap);

/*
 * Replace the SCRAM secret ("" removes it) of the user whose primary
 * address is addr. The secret must pass scram_secret_parse, and a user
 * with hash "*" cannot have one.
 */
int users_set_scram(struct users *u, const char *addr, const char *scram, char *err, size_t errcap);

/* Replace the flags (USER_F_*, nothing else) of the user whose primary address is addr. */
int users_set_flags(struct users *u, const char *addr, unsigned flags, char *err, size_t errcap);

/* The FLAGS field words for flags ("any-from", comma-separated; "" for none). */
int users_flags_format(unsigned flags, char *out, size_t cap);

/*
 * Write u to path atomically: path.tmp (mode 0640, owner uid:gid unless
 * they are (uid_t)-1 / (gid_t)-1), fsync, rename over path, fsync the
 * directory. Comments of a hand-edited file are not kept. Callers that
 * read-modify-write must serialize themselves (sealpost user locks the
 * directory).
 */
int users_save_as(const char *path, const struct users *u, uid_t uid, gid_t gid, char *err,
		  size_t errcap);

/* users_save_as() without changing the owner. */
int users_save(const char *path, const struct users *u, char *err, size_t errcap);

/*
 * Hash pw with yescrypt and a fresh random salt into out[cap]. Returns 0,
 * or -1 (pw longer than USERS_PW_MAX, or libcrypt failed). Scratch space
 * is wiped; the caller wipes pw.
 */
int users_hash_password(const char *pw, char *out, size_t cap);

/*
 * Returns 1 when pw matches the user's hash, else 0 (wrong password, user
 * NULL, receive-only user "*", or any error). The comparison is constant
 * time, and a NULL or "*" user still costs one yescrypt computation so
 * that timing does not reveal which users exist.
 */
int users_verify_password(const struct user *usr, const char *pw);

/* Is hash a crypt(3) string of a supported kind, or "*"? */
int users_hash_valid(const char *hash);

#endif
