/*
 * conf_limits: the `limits` block and `dnsbl` lines of sealpost.conf.
 *
 * Security role: these are the server's abuse defences, so every one has a
 * safe default that holds with no config at all; a value can be loosened
 * only by naming it.
 */
#include <string.h>

#include "util/conf.h"

void conf_limits_defaults(struct conf_limits *l)
{
	memset(l, 0, sizeof *l);
	l->max_conn = 2000;
	l->max_conn_ip = 20;
	l->max_conn_net = 100;
	l->conn_rate = (struct conf_rate){60, 60};
	l->msgs_per_session = 100;
	l->rcpt_rate = (struct conf_rate){1000, 3600};
	l->user_msg_rate = (struct conf_rate){200, 3600};
	l->user_rcpt_rate = (struct conf_rate){1000, 3600};
	l->max_errors = 10;
	l->tarpit_after = 3;
	l->tarpit_max = 10;
	l->cmd_timeout = 300;
	l->data_timeout = 600;
	l->session_timeout = 1800;
	l->min_data_rate = 500;
	l->data_rate_grace = 30;
	l->session_memory = 256 * 1024;
	l->pregreet = 1;
	l->pregreet_wait_ms = 3000;
	l->pregreet_remember = 86400;
	l->pipelining_check = 1;
	l->store_sync_ms = 200;
	l->dnsbl_threshold = 1;
	l->dns_timeout_ms = 5000;
}
