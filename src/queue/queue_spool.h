/*
 * queue_spool: the on-disk form of a queued message and the spool layout.
 *
 *   <spool>/incoming/ID   being received (created by the queue, written by
 *                         an SMTP worker through a passed descriptor)
 *   <spool>/queue/ID      committed: fsync'd file, renamed here, dir fsync'd
 *   <spool>/queue/ID.state delivery state, appended: "done N" (recipient
 *                         index N delivered), "fail N" (failed for good,
 *                         bounced), "try UNIXTIME TEXT" (an attempt that
 *                         failed, latest last), "hold 1|0" (held by the
 *                         operator or released, last wins), "warned" (the
 *                         delay notice was sent)
 *
 * A queue file is a text envelope ending in an empty line, then the message
 * exactly as received (CRLF line ends, our Received: header first):
 *
 *   sealpost-queue 1
 *   id 0123456789abcdef
 *   time 1764072000
 *   client 127.0.0.1
 *   helo client.example
 *   from alice@example.org          (empty after "from " for <>)
 *   flags 3                         (QENV_F_*)
 *   rcpt bob@example.test
 *   mbox bob@example.test           (the mailbox that rcpt resolved to)
 *   ...
 *   late 00012 00345                (fixed width, rewritten at commit: see below)
 *   <empty line>
 *   <QENV_LATE_SIZE octets: the late region>
 *
 * The late region holds what is only known once the message has been
 * read — the worker's verdicts — while the message itself was already
 * streamed behind it: "late A B" says that its first A octets are more
 * envelope lines ("folder Junk": deliver into the Junk folder) and that
 * its last B octets are header lines to put in front of the message
 * (Authentication-Results). The message starts B octets before the end of
 * the region; the octets between are filler. At commit the queue writes
 * the region and the late line in place, before the file is fsync'd and
 * renamed into queue/. A file without a late line has no region.
 *
 * Security role: the envelope decoder is pure, bounded and fuzzed; every
 * value is checked to hold no control characters, so a value can never
 * forge a line of its own.
 */
#ifndef SEALPOST_QUEUE_SPOOL_H
#define SEALPOST_QUEUE_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "smtp/smtp_parse.h"

#define QUEUE_ID_LEN	16
#define QUEUE_ID_SIZE	(QUEUE_ID_LEN + 1)
#define QENV_RCPT_MAX	1000
#define QENV_CLIENT_MAX 64
#define QENV_HELO_MAX	256
#define QENV_HEADER_MAX (QENV_RCPT_MAX * 2 * (SMTP_ADDR_MAX + 8) + 2048 + QENV_LATE_SIZE + 64)
#define QENV_MAGIC	"sealpost-queue 1\n"
#define QENV_LATE_SIZE	2048		     /* octets of the late region */
#define QENV_LATE_LINE	"late 00000 00000\n" /* as written at open */
#define QENV_FOLDER_MAX 16

/* mbox of a recipient in another domain: waits for remote delivery */
#define QENV_MBOX_REMOTE "@remote"

#define QENV_F_8BIT 0x1 /* BODY=8BITMIME or 8-bit octets seen */
#define QENV_F_UTF8 0x2 /* SMTPUTF8 */

struct qenv_rcpt {
	char addr[SMTP_ADDR_MAX];
	char mbox[SMTP_ADDR_MAX];
	int done; /* 1 delivered, 2 failed for good (bounced) */
};

struct qenv {
	char id[QUEUE_ID_SIZE];
	int64_t time;
	char client[QENV_CLIENT_MAX];
	char helo[QENV_HELO_MAX];
	char from[SMTP_ADDR_MAX];
	uint32_t flags;
	size_t n_rcpt;
	size_t rcpt_cap;
	struct qenv_rcpt *rcpt;	      /* owned; qenv_free() releases */
	size_t body_off;	      /* offset of the message in the file */
	char folder[QENV_FOLDER_MAX]; /* "" = the inbox, or "Junk" */
	/* decoder state for the late line and region */
	int late_set, late_lines;
	size_t late_a, late_b;
};

/* A fresh random queue id (16 lowercase hex digits). 0 or -1. */
int queue_id_new(char id[QUEUE_ID_SIZE]);
/* 1 if s is a well-formed queue id. */
int queue_id_valid(const char *s);

/* 1 if s is safe as an envelope value (no control octets, bounded). */
int qenv_value_ok(const char *s, size_t cap);

/* Encode the header into buf[cap], with a late line and a blank late
 * region; returns its length, or -1 if too big. */
long qenv_encode(const struct qenv *e, char *buf, size_t cap);

/*
 * The late region for a message: lines (envelope lines, "key value\n"
 * each, or "") at its start and the header text prefix (CRLF lines) at its
 * end, filler between, into region[QENV_LATE_SIZE]; the late line's new
 * text into line[sizeof QENV_LATE_LINE]. 0, or -1 when they do not fit.
 */
int qenv_late_fill(const char *lines, const char *prefix, char *region, char *line);
/* Offset of the late line in an encoded header (from qenv_encode), or -1. */
long qenv_late_line_off(const char *hdr, size_t len);
/*
 * Decode a header from buf[0..n) (the start of a queue file). Allocates
 * e->rcpt. Returns 0 (e->body_off set), or -1 on any malformation.
 */
int qenv_decode(const char *buf, size_t n, struct qenv *e);
void qenv_free(struct qenv *e);

struct ipc_msg;
/* The fields of an IPC_DELIVER record (queue -> deliver or remote): job,
 * queue id, flags (QJOB_F_*), the recipient indexes (*n of them, malloc'd
 * into *idx) and the queue file's descriptor (taken from m). The queue is
 * a trusted peer, but a malformed record is still fatal for the reader. */
#define QJOB_F_RECOVERED 1u /* found in the spool at start: copies may exist already */
void qjob_decode(struct ipc_msg *m, uint64_t *job, char id[QUEUE_ID_SIZE + 1], uint32_t *flags,
		 uint32_t **idx, uint32_t *n, int *fd);

struct ipc_chan;
/* The answers to an IPC_DELIVER: one IPC_DELIVERED_RCPT (status is an
 * enum ipc_dlv_status) per recipient, then IPC_DELIVERED_END. m is scratch
 * space. Fatal when the queue cannot be told. */
void qjob_answer_rcpt(struct ipc_chan *ch, struct ipc_msg *m, uint64_t job, uint32_t idx,
		      uint32_t status, const char *why);
void qjob_answer_end(struct ipc_chan *ch, struct ipc_msg *m, uint64_t job);

/* Read and decode the envelope of an open queue file. 0 or -1. */
int qenv_read_fd(int fd, struct qenv *e);

/* What a ".state" file says: recipients done, attempts, the last error. */
struct qstate {
	unsigned tries;
	int64_t last_try;
	char last_error[256];
	int hold;   /* held by the operator (sealpost queue hold) */
	int warned; /* the delay notice went out */
};
/* Apply a ".state" file's text to e (done flags) and st. */
void qstate_apply(struct qenv *e, struct qstate *st, const char *text, size_t n);

#endif
