/*
 * smtp_int: the SMTP worker's session structure, shared by its files:
 *   smtp_worker.c   process setup, accepting, IPC with lookup and queue
 *   smtp_session.c  the session state machine and command handlers
 *   smtp_data.c     DATA and BDAT: streaming the message into the queue file
 *   smtp_limits.c   admission, pregreet, deadlines, tarpit, buffer caps
 *
 * Security role: this process parses untrusted bytes. It has no access to
 * the spool or mailboxes (chrooted into an empty directory, unprivileged);
 * all it can write is the one queue file whose descriptor the queue hands
 * it for the message being received.
 */
#ifndef SEALPOST_SMTP_INT_H
#define SEALPOST_SMTP_INT_H

#include <stdint.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "ipc/ipc.h"
#include "lookup/dns.h"
#include "queue/queue_spool.h"
#include "smtp/smtp_parse.h"
#include "util/conf.h"
#include "util/tls.h"

#define SMTP_TICK	     1 /* seconds between deadline checks (smtp_limits.c) */
#define SMTP_HELO_MAX	     255
#define SMTP_CLIENT_MAX	     64
#define SMTP_SCRATCH	     (64 * 1024)
#define SMTP_SESSION_BUCKETS 4096
#define SMTP_AUTH_LINE_MAX   4096 /* one SASL response line, CRLF included */

enum smtp_state {
	SS_CMD = 0, /* reading commands */
	SS_DATA,    /* DATA body */
	SS_BDAT,    /* BDAT chunk: bdat_left octets to take */
	SS_SKIP,    /* discarding an over-long command line */
	SS_CLOSING, /* replied 221/421: close once the output drained */
	SS_AUTH,    /* AUTH: reading the client's next SASL response */
};

enum smtp_wait {
	SW_NONE = 0,
	SW_LOOKUP, /* RCPT: waiting for the lookup process */
	SW_OPEN,   /* DATA/BDAT: waiting for the queue file */
	SW_COMMIT, /* end of data: waiting for the queue to make it durable */
	SW_AUTH,   /* AUTH: waiting for lookup's next challenge or verdict */
	SW_SENDER, /* MAIL FROM / From: of an authenticated user: waiting for lookup */
	SW_GREET,  /* not greeted yet: waiting for admission and the pregreet delay */
	SW_TARPIT, /* a refused command's reply is being held back */
	SW_OUTPUT, /* too much output the client has not read: wait for it to drain */
	SW_CHECKS, /* end of data: waiting for SPF/DKIM/DMARC answers */
};

struct smtp_rcpt {
	char addr[SMTP_ADDR_MAX];
	char mbox[SMTP_ADDR_MAX];
};

enum smtp_listener_kind { SL_SMTP, SL_SUBMISSION, SL_SUBMISSIONS, SL_LOCAL };

struct smtp_listener {
	enum smtp_listener_kind kind;
	struct smtp_worker *w;
};

#define SMTP_HEADER_MAX (256 * 1024) /* header section held for A-R removal and DKIM */
#define SMTP_HEADER_MIN (16 * 1024)  /* ... never less, whatever session-memory says */

/* The header section of the message being received (smtp_header.c). */
struct smtp_header {
	char *buf;	  /* octets so far; the header once done */
	size_t len, cap;  /* held octets, buffer size */
	size_t hlen;	  /* header length once done (with its last CRLF) */
	int done;	  /* the header has been written out */
	int blank;	  /* it ended with an empty line */
	int too_big;	  /* over smtp_header_cap(): the message is refused */
	unsigned removed; /* forged Authentication-Results fields dropped */
};

struct smtp_checks;

struct smtp_session {
	uint64_t id;
	struct smtp_session *hnext; /* id hash chain */
	struct bufferevent *bev;
	struct bufferevent *raw; /* under a STARTTLS filter: the plain one, else NULL */
	struct event *close_ev;	 /* set once the session is ending */
	/* direct writes (smtp_session.c): the socket's output is written as
	 * soon as a callback is done with it, without waiting for EPOLLOUT */
	struct event *flush_ev;
	struct evbuffer_cb_entry *out_cb; /* on the socket-level output buffer */
	/* replies not yet handed to the bufferevent: those of a pipelined
	 * group wait here for the step that answers its last command, so the
	 * group leaves in one write (one TLS record); a tarpit holds here too */
	struct evbuffer *held;
	int flushing; /* in smtp_on_flush: our own writes need no new pass */
	const struct smtp_listener *lis;
	enum smtp_state state;
	enum smtp_wait wait;
	char client[SMTP_CLIENT_MAX]; /* "[addr]" or "local uid N" */
	char addr[SMTP_CLIENT_MAX];   /* bare address for the envelope */
	char helo[SMTP_HELO_MAX + 1];
	int esmtp;
	int trusted;	   /* client in trusted-networks: may relay without AUTH */
	int tls;	   /* TLS started (STARTTLS or implicit) */
	char tls_info[96]; /* "TLSv1.3 with cipher ..." once established */
	unsigned errors;
	unsigned n_msgs;
	/* limits (smtp_limits.c) */
	uint32_t conn_flags;	       /* IPC_CONN_F_* as sent to lookup */
	int admitted;		       /* lookup counted us: tell it when we go */
	int pregreet;		       /* the pregreet test applies (lookup said so) */
	int greet_timer;	       /* the pregreet delay is still running */
	int early_talk;		       /* input arrived before the banner */
	struct event *limit_ev;	       /* greeting delay, then tarpit delays */
	time_t started;		       /* connection time */
	time_t cmd_since;	       /* waiting for a command line since */
	time_t data_since;	       /* first DATA/BDAT octet of this message expected since */
	time_t tls_since;	       /* TLS handshake started (implicit or STARTTLS) */
	time_t out_since;	       /* waiting for the client to read its replies since */
	time_t closing_since;	       /* closing (seen by the tick) since */
	char auth_user[SMTP_ADDR_MAX]; /* login after a successful AUTH, else "" */
	char auth_mech[16];
	int auth_active; /* lookup holds an exchange for us */
	enum { SP_MAIL, SP_FROM_HEADER } sender_phase;
	/* transaction */
	int in_mail;
	char from[SMTP_ADDR_MAX];
	uint32_t mail_flags; /* QENV_F_* */
	struct smtp_rcpt *rcpt;
	unsigned n_rcpt;
	char pending_rcpt[SMTP_ADDR_MAX];
	/* message */
	int bdat_used, data_used;
	char qid[QUEUE_ID_SIZE];  /* message being received (aborted if the session ends) */
	char cqid[QUEUE_ID_SIZE]; /* message handed to the queue for commit */
	int qfd;
	char *wbuf;	   /* queue-file octets gathered into one write (smtp_write_q) */
	size_t wlen;	   /* octets in wbuf */
	uint64_t written;  /* octets in the queue file after the envelope */
	uint64_t msg_size; /* message octets (without our Received:) */
	int too_big;
	int write_err; /* errno of a failed queue file write, or 0 */
	struct smtp_body body;
	uint64_t bdat_left;
	int bdat_last;
	const char *bdat_deferred_err; /* a BDAT refused: reply after its chunk */
	/* sender authentication (smtp_check.c) */
	struct smtp_checks *chk; /* this message's SPF/DKIM/DMARC state, or NULL */
	struct smtp_header mh;
	char *late_prefix; /* Authentication-Results to put in front, or NULL */
	int junk;	   /* quarantine: deliver into the Junk folder */
};

struct smtp_worker {
	const struct conf *conf;
	struct event_base *base;
	struct ipc_chan *queue;
	struct ipc_chan *lookup;
	struct ipc_chan *parent;
	struct tls_server *tls; /* NULL when no certificate is configured */
	struct smtp_session *buckets[SMTP_SESSION_BUCKETS];
	struct event *tick; /* deadlines (smtp_limits.c) */
	uint64_t next_id;
	unsigned n_sessions;
	char *scratch; /* SMTP_SCRATCH octets, for unstuffed DATA */
	int stopping;  /* SIGTERM: no new sessions; each open one ends once answered */
	struct evconnlistener *listeners[CONF_MAX_LISTEN + 1];
	size_t n_listeners;
};

extern struct smtp_worker W;

/* smtp_worker.c */
struct smtp_session *smtp_session_find(uint64_t id);
void smtp_send_rcpt_check(struct smtp_session *s, const char *addr, uint32_t flags);
int smtp_send_conn(struct smtp_session *s, uint32_t type);
int smtp_send_open(struct smtp_session *s);
void smtp_send_commit(struct smtp_session *s);
void smtp_send_abort(const char *qid);
/* One DMARC record line for <spool>/dmarc (lookup_report.c). */
void smtp_send_dmarc_record(const char *line);

/* smtp_dns.c: DNS asked of lookup (a dns_query_fn) */
int smtp_dns_query(const char *name, int rrtype, unsigned timeout_ms, dns_cb cb, void *arg);
void smtp_on_dns_answer(struct ipc_msg *m);

/* smtp_session.c */
void smtp_session_start(evutil_socket_t fd, const struct smtp_listener *lis,
			const struct sockaddr *sa, int salen);
void smtp_reply(struct smtp_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void smtp_process(struct smtp_session *s);
void smtp_txn_reset(struct smtp_session *s);
void smtp_on_rcpt_result(struct smtp_session *s, uint32_t status, const char *mbox);
void smtp_greet(struct smtp_session *s);
void smtp_session_callbacks(struct smtp_session *s);

/* smtp_limits.c */
void smtp_limits_init(void);
/* Ask lookup to admit the new session; the banner follows its verdict. */
void smtp_admit(struct smtp_session *s);
void smtp_on_conn_verdict(struct smtp_session *s, uint32_t verdict, uint32_t pregreet,
			  const char *detail);
/* Input arrived before the banner. */
void smtp_early_input(struct smtp_session *s);
/* A command was refused: count it; tarpit or hang up as the limits say. */
void smtp_error(struct smtp_session *s);
/* 1 when a verb arrived with more input behind it where pipelining is not
 * allowed (the session has then been answered 554 and is closing). */
int smtp_pipelining_improper(struct smtp_session *s, enum smtp_verb v);
/* Command/data timeouts and the input cap on the session's bufferevent. */
void smtp_limits_bev(struct smtp_session *s, int data);
/* 1 when output is over the cap (processing pauses until it drains). */
int smtp_output_full(struct smtp_session *s);
/* The session refused at MAIL because of messages-per-session? */
int smtp_msgs_exceeded(struct smtp_session *s);
void smtp_limits_free(struct smtp_session *s);
void smtp_close_now(struct smtp_session *s);
/* Shutdown: a session that waits for nothing owed to it gets 421 and is
 * closed; one waiting for a commit (or another process's answer) is left to
 * get that answer first, and smtp_process ends it then. */
void smtp_stop_session(struct smtp_session *s);
void smtp_stop_all(void);
/* Close at once, without a reply (it could not be delivered). */
void smtp_drop(struct smtp_session *s);
/* TLS started but the handshake has not completed. */
int smtp_tls_pending(const struct smtp_session *s);

/* smtp_tls.c */
int smtp_tls_offered(const struct smtp_session *s);
void smtp_cmd_starttls(struct smtp_session *s, const char *arg, size_t n);
/* Implicit TLS (port 465) on fd: s->raw and s->bev, 0; or -1, fd left open. */
int smtp_tls_accept(struct smtp_session *s, evutil_socket_t fd);
void smtp_tls_established(struct smtp_session *s);
void smtp_tls_log_error(struct smtp_session *s);
void smtp_tls_free(struct smtp_session *s);
void smtp_release(struct smtp_session *s);
void smtp_tls_close_notify(struct smtp_session *s);
void smtp_on_parent(struct ipc_chan *ch, struct ipc_msg *m, void *arg);
void smtp_tls_init(struct tls_pem *pems, size_t n);

/* smtp_auth.c */
int smtp_auth_offered(const struct smtp_session *s);
const char *smtp_auth_mech_list(void);
void smtp_cmd_auth(struct smtp_session *s, const char *arg, size_t n);
int smtp_auth_input(struct smtp_session *s, struct evbuffer *in);
void smtp_on_auth_reply(struct smtp_session *s, uint32_t status, const char *data);
void smtp_send_auth_start(struct smtp_session *s, const char *mech, const char *init, size_t n);
void smtp_send_auth_step(struct smtp_session *s, const char *resp, size_t n);
void smtp_send_auth_abort(struct smtp_session *s);
/* Sender addresses (newline-separated) for the authenticated user; answer in smtp_on_sender_result.
 */
void smtp_send_sender_check(struct smtp_session *s, const char *addrs);
/* ok: 1 allowed, 0 not this user's, 2 lookup failed */
void smtp_on_sender_result(struct smtp_session *s, uint32_t ok);

/* smtp_header.c: the header section, held until complete */
void smtp_msg_feed(struct smtp_session *s, const char *p, size_t n);
void smtp_msg_feed_end(struct smtp_session *s);
void smtp_header_reset(struct smtp_session *s);
/* The most header octets held: SMTP_HEADER_MAX, or limits session-memory
 * when that is lower. */
size_t smtp_header_cap(void);

/* smtp_check.c: SPF at MAIL, DKIM and DMARC over the message */
/* A recipient accepted: start the checks this transaction's mail gets
 * (once; not at MAIL, so MAIL/RSET loops start no DNS work). */
void smtp_checks_mail(struct smtp_session *s);
void smtp_checks_header(struct smtp_session *s, const char *hdr, size_t len);
void smtp_checks_body(struct smtp_session *s, const char *p, size_t n);
/* The message is complete and sound: 1 when the verdict will come later
 * (the session waits, SW_CHECKS), 0 when it may be committed now. */
int smtp_checks_end(struct smtp_session *s);
void smtp_checks_free(struct smtp_session *s);

/* smtp_data.c */
void smtp_write_q(struct smtp_session *s, const char *p, size_t n);
void smtp_write_flush(struct smtp_session *s);
void smtp_commit_message(struct smtp_session *s);
void smtp_refuse_message(struct smtp_session *s, const char *reply);
void smtp_cmd_data(struct smtp_session *s, const char *arg, size_t n);
void smtp_cmd_bdat(struct smtp_session *s, const char *arg, size_t n);
/* BDAT refused before its chunk: read the chunk, then answer reply. */
void smtp_bdat_refuse(struct smtp_session *s, const char *arg, size_t n, const char *reply);
void smtp_on_opened(struct smtp_session *s, int ok, const char *id, int fd);
void smtp_on_committed(struct smtp_session *s, int ok, const char *why);
void smtp_from_header_result(struct smtp_session *s, uint32_t ok);
/* Consume message octets from the input; returns 1 if state changed. */
int smtp_data_input(struct smtp_session *s);
void smtp_data_discard(struct smtp_session *s);

#endif
