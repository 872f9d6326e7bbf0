/*
 * remote_int: what the files of the remote delivery process share (one
 * process: remote_proc jobs and destinations, remote_route DNS routing,
 * remote_smtp the SMTP client, remote_tls the outbound TLS policy).
 *
 * Security role: internal; every value in here that came from the network
 * (DNS answers, replies) was bounded and checked by the code that stored it.
 */
#ifndef SEALPOST_REMOTE_INT_H
#define SEALPOST_REMOTE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "deliver/remote_parse.h"
#include "deliver/remote_sts.h"
#include "queue/queue_spool.h"
#include "util/conf.h"

/* RFC 5321 4.5.3.2 timeouts, seconds. */
#define RT_CONNECT  30	/* not in the RFC: a TCP connect */
#define RT_GREETING 300 /* 4.5.3.2.1 initial 220 */
#define RT_EHLO	    300 /* treated like MAIL */
#define RT_MAIL	    300 /* 4.5.3.2.2 */
#define RT_RCPT	    300 /* 4.5.3.2.3 */
#define RT_DATA	    120 /* 4.5.3.2.4 DATA initiation */
#define RT_BLOCK    180 /* 4.5.3.2.5 each data block */
#define RT_DOT	    600 /* 4.5.3.2.6 final "." */
#define RT_TLS	    120 /* STARTTLS reply and handshake */
#define RT_QUIT	    10	/* QUIT reply: we do not wait long */
#define RT_IDLE	    5	/* an idle connection waits this long for the next message */
#define RT_DNS_MS   30000

#define RM_HOPS_MAX  50		  /* Received: fields before a message is a loop */
#define RM_HOPS_SCAN (256 * 1024) /* header octets looked at for them */
#define RR_HOSTS_MAX 10		  /* MX hosts tried per destination */
#define RR_ADDR_MAX  8		  /* addresses per host */
#define RM_WHY_MAX   256
#define RD_KEY_MAX   (CONF_NAME_MAX + 8)

/* ---- routing (remote_route.c) ---- */

struct raddr {
	struct sockaddr_storage sa;
	socklen_t len;
	int secure; /* from a DNSSEC-validated A/AAAA answer */
	char text[64];
};

struct rhost {
	char name[CONF_NAME_MAX]; /* MX host name (no trailing dot), or the literal */
	unsigned pref;
	struct raddr addr[RR_ADDR_MAX];
	size_t n_addr;
	int dns_fail; /* A/AAAA lookup failed temporarily */
	int pending;  /* A/AAAA queries in flight */
};

struct rroute {
	int status;	      /* 0 ok, 4 temporary, 5 permanent (why says) */
	char why[RM_WHY_MAX]; /* "5.1.10 ..." when status != 0 */
	int mx_secure;	      /* MX (or its NODATA) answer was DNSSEC-validated */
	int implicit;	      /* no MX: the domain itself */
	int literal;	      /* [addr] or relay: no DANE, no MTA-STS */
	struct rhost host[RR_HOSTS_MAX];
	size_t n_host;
};

typedef void (*rroute_cb)(void *arg, struct rroute *r);
/* Resolve a destination: a domain, "[literal]", or (relay) a host name
 * with port ignored. cb is called once, from the loop. */
void route_start(const char *dest, int relay, rroute_cb cb, void *arg);
/* Sort by preference, shuffling equals (exposed for the unit tests). */
void route_sort(struct rhost *h, size_t n);

/* ---- TLS (remote_tls.c) ---- */

enum rtls_level {
	RTLS_NONE = 0, /* plain text */
	RTLS_MAY,      /* STARTTLS when offered, any certificate */
	RTLS_REQUIRE,  /* TLS, any certificate */
	RTLS_VERIFY,   /* TLS, PKIX + MX name (destination ... tls verify) */
	RTLS_STS,      /* MTA-STS enforce: TLS, PKIX + MX name */
	RTLS_DANE,     /* DANE: TLS, certificate matches TLSA */
};

#define RTLS_TLSA_MAX 16
struct rtlsa {
	uint8_t usage, selector, mtype;
	unsigned char data[64];
	size_t len;
};

struct rtls_policy {
	enum rtls_level level;
	char why[96]; /* "(TLSA secure)", "(destination ...)" ... */
	struct rtlsa tlsa[RTLS_TLSA_MAX];
	size_t n_tlsa;
};

int rtls_init(const struct conf *c, char *err, size_t cap);
const char *rtls_level_name(enum rtls_level l);
/* A client SSL for host under policy p (SNI, DANE records, names). NULL on error. */
SSL *rtls_ssl(const char *host, const struct rtls_policy *p);
/* After the handshake: does the peer meet p? 0, or -1 with "4.7.5 ..." in why.
 * *verified says whether the chain verified (PKIX or DANE) for the log. */
int rtls_check(SSL *ssl, const struct rtls_policy *p, const char *host, int *verified, char *why,
	       size_t cap);
/* Parse TLSA rdata; 1 if usable for SMTP (usage 2/3, selector 0/1, mtype 0/1/2). */
int rtls_tlsa_parse(const unsigned char *rd, size_t n, struct rtlsa *out);

/* ---- messages and destinations (remote_proc.c) ---- */

struct rjob;
struct rdest;

/* One queue job's recipients for one destination. */
struct rmsg {
	struct rjob *job;
	struct rdest *dest;
	size_t n;	   /* recipients here */
	uint32_t *k;	   /* indexes into job->idx */
	struct rmsg *next; /* in the destination's waiting list */
};

struct rjob {
	uint64_t job;
	char id[QUEUE_ID_SIZE + 1];
	int fd;
	struct qenv env;
	const char *body; /* mapped: env.body_off to the end */
	size_t body_len;
	void *map;
	size_t map_len;
	uint32_t n;
	uint32_t *idx;
	int *status; /* per recipient: -1 pending, else IPC_DLV_* */
	char (*why)[RM_WHY_MAX];
	size_t pending_msgs;
};

struct rconn;

struct rdest {
	char key[RD_KEY_MAX]; /* domain, "[literal]", or "relay" */
	char domain[CONF_NAME_MAX];
	int relay;
	struct rmsg *wait_head, *wait_tail;
	unsigned n_conn;
	struct rconn *idle; /* connections waiting for a message (list) */
	struct rroute *route;
	int routing; /* route / MTA-STS lookups in flight */
	int sts_done;
	int have_sts;
	struct sts_policy sts;
	struct rdest *next;
};

/* remote_proc.c: a message is finished for its recipients in this dest. */
void rmsg_done(struct rmsg *m);
/* Set the outcome of every still-pending recipient of m. */
void rmsg_set_all(struct rmsg *m, int status, const char *why);
void rmsg_set(struct rmsg *m, size_t i, int status, const char *why);
/* rmsg_set_all with a "to=<...> status=..." log line per recipient. */
void rmsg_fail(struct rmsg *m, int status, const char *why);
/* The address of recipient i of m, and whether it is still pending. */
const char *rmsg_rcpt(const struct rmsg *m, size_t i);
int rmsg_pending(const struct rmsg *m, size_t i);
/* remote_proc.c: a connection of dest ended or went idle. */
void rdest_conn_closed(struct rdest *d);
struct rmsg *rdest_next_msg(struct rdest *d);
enum conf_tls_out rdest_conf_tls(const struct rdest *d);

/* ---- the SMTP client (remote_smtp.c / remote_conn.c) ---- */

struct remote_ctx {
	const struct conf *conf;
	struct event_base *base;
	char auth_login[256];
	char auth_pass[256];
	int have_auth;
	unsigned n_conn; /* all connections */
};
extern struct remote_ctx R;

/* Start a connection for d (its route known) carrying m first. */
void rconn_start(struct rdest *d, struct rmsg *m);
/* Hand an idle connection its next message. */
void rconn_give(struct rconn *c, struct rmsg *m);

enum rconn_state {
	CS_CONNECT = 0,
	CS_TLS_HANDSHAKE, /* implicit TLS or after STARTTLS */
	CS_GREETING,
	CS_EHLO,
	CS_HELO,
	CS_STARTTLS,
	CS_AUTH,
	CS_IDLE, /* set up, no message */
	CS_MAIL, /* MAIL (and pipelined RCPTs) sent */
	CS_RCPT, /* waiting for RCPT replies */
	CS_DATA,
	CS_BODY, /* body being sent, then the final reply */
	CS_RSET,
	CS_QUIT,
	CS_CLOSED,
};

struct rconn {
	struct rdest *d;
	struct rmsg *m; /* the message in hand, NULL when idle */
	size_t hi, ai;	/* the target being tried: host hi, address ai */
	int target_started;
	char host[CONF_NAME_MAX];
	char peer[CONF_NAME_MAX + 80];	/* "host[addr]" for reasons */
	char where[CONF_NAME_MAX + 96]; /* "host[addr]:port" for logs */
	unsigned port;
	struct bufferevent *bev;
	enum rconn_state state;
	int setup_done; /* greeted, EHLO, TLS, AUTH: ready for messages */
	unsigned ext;
	uint64_t size_max;
	int tls, tls_verified;
	char tls_info[128];
	struct rtls_policy pol;
	struct rp_reply rep;
	char last_why[RM_WHY_MAX];
	/* the transaction */
	size_t *sent; /* m indexes sent in RCPT, in order */
	size_t n_sent, n_replied;
	int *acc; /* per m recipient: accepted by RCPT */
	size_t n_acc;
	int mail_code;
	char mail_reply[RM_WHY_MAX];
	size_t body_pos;
	int bol, body_done;
	int starttls_refused; /* a MAY peer refused STARTTLS: go on in clear */
	struct event *timer;  /* idle wait */
	struct rconn *next_idle;
	unsigned msgs; /* messages carried so far */
};

/* remote_conn.c */
void rconn_fail_target(struct rconn *c, const char *why);
void rconn_close(struct rconn *c);
void rconn_idle(struct rconn *c);
void rconn_callbacks(struct rconn *c);
#define RC_FILL (256 * 1024) /* body bytes kept in the output buffer */
void rconn_tls_start(struct rconn *c);
void rconn_set_timeout(struct rconn *c, int secs);
int rconn_send(struct rconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* remote_smtp.c */
void rsmtp_on_reply(struct rconn *c);
void rsmtp_ehlo_line(struct rconn *c, const char *line, size_t len);
void rsmtp_ready(struct rconn *c);
void rsmtp_body_fill(struct rconn *c);
void rsmtp_tls_done(struct rconn *c);
void rsmtp_lost(struct rconn *c, const char *what);

/* ---- signing seam (remote_sign.c) ---- */
/* Load the `dkim sign` keys (before privileges are dropped); fatal on a bad key. */
void remote_sign_init(const struct conf *c);
int remote_sign_headers(const struct qenv *e, const char *msg, size_t len, char *out, size_t cap);

#endif
