/*
 * ipc: the one typed message format every sealpost process speaks.
 *
 * A message is one SOCK_SEQPACKET record: a fixed header (type, payload
 * length) and a payload of fields (u32, u64, length-prefixed strings),
 * optionally with one file descriptor attached (SCM_RIGHTS).
 *
 * Security role: messages cross privilege boundaries (an SMTP worker that
 * may be compromised talks to the queue). The reader fails closed: any
 * field read past the end, any string with a NUL or over its cap, any
 * trailing garbage marks the message bad, and the receiving process treats
 * a bad message as a broken peer and drops it.
 */
#ifndef SEALPOST_IPC_H
#define SEALPOST_IPC_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#define IPC_MSG_MAX   (64 * 1024) /* one record, header included */
#define IPC_HDR_LEN   8
#define IPC_QUEUE_MAX 32768 /* queued outbound records before the peer is judged stuck */

enum ipc_type {
	IPC_NONE = 0,
	/* smtp -> lookup: is addr a local mailbox, and is the sender within its
	 * recipient rate (by client address, or by user when authenticated)? */
	IPC_RCPT_CHECK, /* u64 req, str addr, str client ip, str login, u32 ipc_rcpt_flags */
	/* lookup -> smtp */
	IPC_RCPT_RESULT, /* u64 req, u32 ipc_rcpt_status, str mailbox */
	/* smtp -> queue */
	IPC_MSG_OPEN,	/* u64 req, str client, str helo, str from, u32 flags, u32 nrcpt */
	IPC_MSG_RCPT,	/* u64 req, str addr, str mailbox (nrcpt of them follow OPEN) */
	IPC_MSG_COMMIT, /* u64 req, str id, u64 size, str late envelope lines, str header prefix */
	IPC_MSG_ABORT,	/* str id */
	/* queue -> smtp */
	IPC_MSG_OPENED,	   /* u64 req, u32 ok, str id | fd */
	IPC_MSG_COMMITTED, /* u64 req, u32 ok, str reason */
	/* queue -> deliver */
	IPC_DELIVER, /* u64 job, str id, u32 n, n x u32 rcpt index | fd (envelope read from the
			file) */
	/* deliver / remote -> queue */
	IPC_DELIVERED_RCPT, /* u64 job, u32 idx, u32 ipc_dlv_status, str reason */
	IPC_DELIVERED_END,  /* u64 job */
	/* smtp -> lookup: SMTP AUTH (SASL responses travel base64 as received) */
	IPC_AUTH_START, /* u64 req, str client ip, str mechanism, u32 has_initial, str initial */
	IPC_AUTH_STEP,	/* u64 req, str base64 response */
	IPC_AUTH_ABORT, /* u64 req */
	/* lookup -> smtp */
	IPC_AUTH_REPLY, /* u64 req, u32 ipc_auth_status, str challenge (base64) or login */
	/* smtp -> lookup: may this user use these sender addresses? */
	IPC_SENDER_CHECK,  /* u64 req, str login, u32 0 envelope / 1 From: header, str addresses
			      (\n-separated) */
	IPC_SENDER_RESULT, /* u64 req, u32 ok (0 not theirs, 1 ok, 2 tempfail, 3 over quota) */
	/* parent -> smtp: new TLS certificates (SIGHUP) */
	IPC_TLS_BEGIN,	/* u32 n */
	IPC_TLS_PAIR,	/* str cert PEM, str key PEM (n of them) */
	IPC_TLS_END,	/* (empty): build and switch, or keep the old ones */
	IPC_TLS_TICKET, /* 10 x u64: the new session ticket key (hourly) */
	/* smtp -> lookup: connection admission (limits, DNS lists, pregreet) */
	IPC_CONN_OPEN,	  /* u64 session, str client ip, u32 ipc_conn_flags */
	IPC_CONN_VERDICT, /* lookup -> smtp: u64 session, u32 ipc_conn_verdict, u32 pregreet test
			     (1: delay the banner), str client ip, u32 ipc_conn_flags (as sent),
			     str detail (the limit that fired, or the lists) */
	IPC_CONN_PASS,	  /* str client ip: passed the pregreet test; remember it */
	IPC_CONN_CLOSE,	  /* str client ip, u32 ipc_conn_flags: an admitted connection ended */
	/* smtp -> lookup: one DNS question for SPF, DKIM keys, DMARC policies
	 * (asked by the worker's checks, answered by lookup's resolver) */
	IPC_DNS_QUERY, /* u64 req, str name, u32 rrtype, u32 timeout ms */
	/* lookup -> smtp */
	IPC_DNS_ANSWER, /* u64 req, u32 dns_status, u32 secure, u32 ttl, u32 n, n x blob rdata */
	/* smtp -> lookup: one judged message's DMARC record (for aggregate
	 * reports), appended to <spool>/dmarc/records-YYYYMMDD */
	IPC_DMARC_RECORD, /* str line */
	IPC_TYPE_MAX
};

/* How one recipient's delivery attempt ended (IPC_DELIVERED_RCPT). The
 * reason of a remote failure reads "HOST[ADDR] said: 550 5.1.1 ..." when a
 * server answered, else it is our own explanation with its status first
 * ("4.4.1 connection refused by ..."). */
enum ipc_dlv_status {
	IPC_DLV_OK = 0,	  /* delivered */
	IPC_DLV_TEMP = 1, /* try again later */
	IPC_DLV_PERM = 2, /* failed for good: bounce */
};

enum ipc_rcpt_status {
	IPC_RCPT_OK = 0,   /* local mailbox, name in mailbox */
	IPC_RCPT_UNKNOWN,  /* no such user */
	IPC_RCPT_TEMPFAIL, /* users file unreadable: try later */
	IPC_RCPT_RATE,	   /* recipient rate of this client (or user) exceeded */
};

enum ipc_rcpt_flags {
	IPC_RCPT_F_REMOTE = 1, /* a relayed recipient: only count it (answer OK, "@remote") */
	IPC_RCPT_F_EXEMPT = 2, /* trusted network / local socket: no per-client rate */
};

enum ipc_conn_flags {
	IPC_CONN_F_SMTP = 1,	/* an smtp (MX) listener: DNS lists and pregreet apply */
	IPC_CONN_F_TRUSTED = 2, /* in trusted-networks: exempt from the per-client limits */
	IPC_CONN_F_IPV6 = 4,	/* the address is IPv6 */
};

enum ipc_conn_verdict {
	IPC_CONN_OK = 0,
	IPC_CONN_MAX,	  /* max-connections: the server is full */
	IPC_CONN_MAX_IP,  /* max-connections-per-ip */
	IPC_CONN_MAX_NET, /* max-connections-per-net */
	IPC_CONN_RATE,	  /* connection-rate */
	IPC_CONN_DNSBL,	  /* listed: score reached dnsbl-threshold */
	IPC_CONN_VERDICT_MAX
};

enum ipc_auth_status {
	IPC_AUTH_CONTINUE = 0, /* send "334 challenge" and pass on the answer */
	IPC_AUTH_OK,	       /* authenticated as the login in the string */
	IPC_AUTH_FAIL,	       /* wrong credentials: 535 5.7.8 */
	IPC_AUTH_MALFORMED,    /* bad base64 or SASL framing: 501 5.5.2 */
	IPC_AUTH_TEMPFAIL,     /* lookup cannot tell now: 454 4.7.0 */
	IPC_AUTH_LOCKED,       /* too many failures from this client: 454 4.7.0 */
};

/* ---- building a message ----------------------------------------------- */

struct ipc_msg {
	uint32_t type;
	size_t len; /* payload bytes used */
	int fd;	    /* -1, or a descriptor to send / that was received */
	int bad;    /* set by a failed put or get: the message must be dropped */
	size_t pos; /* read cursor */
	unsigned char data[IPC_MSG_MAX - IPC_HDR_LEN];
};

void ipc_msg_init(struct ipc_msg *m, uint32_t type);
void ipc_put_u32(struct ipc_msg *m, uint32_t v);
void ipc_put_u64(struct ipc_msg *m, uint64_t v);
void ipc_put_str(struct ipc_msg *m, const char *s);
void ipc_put_strn(struct ipc_msg *m, const char *s, size_t n);

/* ---- reading a message (fail closed: check m->bad after, or ipc_end) -- */

uint32_t ipc_get_u32(struct ipc_msg *m);
uint64_t ipc_get_u64(struct ipc_msg *m);
/* Copies into dst[cap] with NUL; a string with a NUL or >= cap marks bad. */
void ipc_get_str(struct ipc_msg *m, char *dst, size_t cap);
/* A counted byte string (ipc_put_strn; may hold NULs) of at most cap
 * octets, left in place: *p points into m, valid while m is. */
void ipc_get_blob(struct ipc_msg *m, const unsigned char **p, size_t *n, size_t cap);
/* Returns 0 when every byte was read and nothing went wrong, else -1. */
int ipc_end(struct ipc_msg *m);

/* Pure decode of a raw record (header + payload) into m; -1 if malformed. */
int ipc_decode(const unsigned char *buf, size_t n, struct ipc_msg *m);

/* ---- a channel on an event loop --------------------------------------- */

struct ipc_chan;
typedef void (*ipc_handler)(struct ipc_chan *ch, struct ipc_msg *m, void *arg);
/* Called once when the peer closes or breaks the protocol. */
typedef void (*ipc_closed)(struct ipc_chan *ch, void *arg);

struct ipc_chan *ipc_chan_new(struct event_base *base, int fd, const char *peer, ipc_handler h,
			      ipc_closed c, void *arg);
void ipc_chan_free(struct ipc_chan *ch);
/* Queue m for sending (m->fd, if >= 0, is sent and then closed here). 0 or -1. */
int ipc_send(struct ipc_chan *ch, struct ipc_msg *m);
const char *ipc_chan_peer(const struct ipc_chan *ch);

/* Send m on fd now, waiting up to timeout_ms for room (parent side). 0 or -1. */
int ipc_send_now(int fd, struct ipc_msg *m, int timeout_ms);

/* socketpair(AF_UNIX, SOCK_SEQPACKET) with CLOEXEC; fds[0] parent side. */
int ipc_pair(int fds[2]);

#endif
