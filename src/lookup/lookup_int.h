/*
 * lookup_int: state shared by the lookup process's files (lookup_proc.c:
 * users file, recipients, IPC dispatch; lookup_auth.c: SMTP AUTH and
 * sender checks; lookup_guard.c: failure counters; lookup_conn.c: connection
 * admission and rate limits).
 */
#ifndef SEALPOST_LOOKUP_INT_H
#define SEALPOST_LOOKUP_INT_H

#include <sys/stat.h>

#include "ipc/ipc.h"
#include "lookup/users.h"
#include "smtp/smtp_parse.h"
#include "util/conf.h"

struct lookup {
	const struct conf *conf;
	struct event_base *base;
	struct users users;
	int loaded;
	struct stat st; /* of the users file as last loaded */
	struct ipc_msg *out;
};

extern struct lookup L;

void lookup_auth_init(const char *spool);
void lookup_on_auth_start(struct ipc_chan *ch, struct ipc_msg *m);
void lookup_on_auth_step(struct ipc_chan *ch, struct ipc_msg *m);
void lookup_on_auth_abort(struct ipc_chan *ch, struct ipc_msg *m);
void lookup_on_sender_check(struct ipc_chan *ch, struct ipc_msg *m);

/* lookup_conn.c: admission and rates */
/* lookup_dns.c: DNS questions of the workers' sender checks */
void lookup_on_dns_query(struct ipc_chan *ch, struct ipc_msg *m);
/* lookup_report.c: per-message DMARC records */
void lookup_on_dmarc_record(struct ipc_chan *ch, struct ipc_msg *m);

void lookup_conn_init(void);
void lookup_on_conn_open(struct ipc_chan *ch, struct ipc_msg *m);
void lookup_on_conn_pass(struct ipc_chan *ch, struct ipc_msg *m);
void lookup_on_conn_close(struct ipc_chan *ch, struct ipc_msg *m);
int lookup_rcpt_over_rate(const char *ip, const char *login, uint32_t flags);
int lookup_msg_over_rate(const char *login);

#endif
