/*
 * smtp_limits: the SMTP worker's side of the abuse limits (docs/config.md,
 * "Limits"): admission by the lookup process before the banner, the
 * pregreet (early-talker) test, improper pipelining, the tarpit for
 * refused commands, per-command, data-rate and whole-session deadlines,
 * and the caps on what one connection may buffer.
 *
 * Security role: keeps one client, or many slow ones, from holding the
 * worker's memory or its connection slots. Every refusal is answered with
 * a reply that names the limit and logged with the client address.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtp/smtp_int.h"
#include "util/log.h"

#define SMTP_LIMITS	       (&W.conf->limits)
#define SMTP_CLOSE_GRACE       10 /* seconds a closing session may take to send its goodbye */
#define SMTP_TLS_HANDSHAKE_MAX 30 /* seconds for a TLS handshake (or command-timeout if less) */

/* ---- admission and the banner ------------------------------------------- */

static void smtp_on_limit_timer(evutil_socket_t fd, short what, void *arg);

static int smtp_limit_timer(struct smtp_session *s, unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (!s->limit_ev && !(s->limit_ev = evtimer_new(W.base, smtp_on_limit_timer, s)))
		return -1;
	return evtimer_add(s->limit_ev, &tv);
}

static int smtp_pregreet_possible(const struct smtp_session *s)
{
	return s->lis->kind == SL_SMTP && !s->trusted && SMTP_LIMITS->pregreet &&
	       SMTP_LIMITS->pregreet_wait_ms > 0;
}

void smtp_admit(struct smtp_session *s)
{
	s->started = s->cmd_since = time(NULL);
	if (s->lis->kind == SL_LOCAL) {
		smtp_greet(s);
		return;
	}
	s->conn_flags = (s->lis->kind == SL_SMTP ? IPC_CONN_F_SMTP : 0) |
			(s->trusted ? IPC_CONN_F_TRUSTED : 0) |
			(strchr(s->addr, ':') ? IPC_CONN_F_IPV6 : 0);
	s->wait = SW_GREET;
	if (smtp_pregreet_possible(s)) {
		if (smtp_limit_timer(s, SMTP_LIMITS->pregreet_wait_ms) < 0)
			fatal("cannot arm a timer");
		s->greet_timer = 1;
	}
	if (smtp_send_conn(s, IPC_CONN_OPEN) < 0) {
		smtp_reply(s, "421 4.3.0 %s Service temporarily unavailable", W.conf->hostname);
		smtp_close_now(s);
	}
}

static void smtp_pregreet_fail(struct smtp_session *s)
{
	smtp_reply(s, "554 5.5.0 %s Protocol error: you talked before my greeting",
		   W.conf->hostname);
	log_info("%s: pregreet: client talked before the greeting; disconnecting", s->client);
	smtp_close_now(s);
}

/* Greet when admitted and the pregreet delay (if any) is over. */
static void smtp_try_greet(struct smtp_session *s)
{
	if (s->wait != SW_GREET || !s->admitted || (s->pregreet && s->greet_timer))
		return;
	if (s->pregreet && s->early_talk) {
		smtp_pregreet_fail(s);
		return;
	}
	s->wait = SW_NONE;
	if (s->pregreet)
		(void)smtp_send_conn(s, IPC_CONN_PASS); /* only a memory: losing it is harmless */
	smtp_greet(s);
	smtp_process(s); /* input that came early from a client not under the test */
}

static const char *smtp_refusal(uint32_t verdict)
{
	switch (verdict) {
	case IPC_CONN_MAX:
		return "Too many connections, try again later";
	case IPC_CONN_MAX_IP:
		return "Too many connections from your address";
	case IPC_CONN_MAX_NET:
		return "Too many connections from your network";
	case IPC_CONN_RATE:
		return "Too many connections from your address, slow down";
	default:
		return "Service temporarily unavailable";
	}
}

void smtp_on_conn_verdict(struct smtp_session *s, uint32_t verdict, uint32_t pregreet,
			  const char *detail)
{
	if (verdict == IPC_CONN_DNSBL) {
		smtp_reply(s, "554 5.7.1 %s Service unavailable; client %s blocked using %s",
			   W.conf->hostname, s->client, detail);
		log_info("%s: connection refused: listed in %s", s->client, detail);
		smtp_close_now(s);
		return;
	}
	if (verdict != IPC_CONN_OK) {
		smtp_reply(s, "421 4.7.0 %s %s", W.conf->hostname, smtp_refusal(verdict));
		log_info("%s: connection refused: %s", s->client, detail);
		smtp_close_now(s);
		return;
	}
	s->admitted = 1;
	s->pregreet = pregreet != 0 && smtp_pregreet_possible(s);
	if (!s->pregreet && s->greet_timer) {
		evtimer_del(s->limit_ev);
		s->greet_timer = 0;
	}
	if (s->pregreet && s->early_talk) {
		smtp_pregreet_fail(s);
		return;
	}
	smtp_try_greet(s);
}

void smtp_early_input(struct smtp_session *s)
{
	s->early_talk = 1;
	if (s->admitted && s->pregreet)
		smtp_pregreet_fail(s);
}

/* ---- refused commands: tarpit, then hang up ----------------------------- */

static void smtp_tarpit_end(struct smtp_session *s)
{
	s->wait = SW_NONE;
	smtp_process(s); /* and the held reply goes out */
}

static void smtp_on_limit_timer(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;

	if (s->wait == SW_TARPIT) {
		smtp_tarpit_end(s);
		return;
	}
	s->greet_timer = 0;
	if (s->pregreet && s->early_talk) {
		smtp_pregreet_fail(s);
		return;
	}
	smtp_try_greet(s);
}

void smtp_error(struct smtp_session *s)
{
	const struct conf_limits *l = SMTP_LIMITS;

	if (++s->errors >= l->max_errors) {
		smtp_reply(s, "421 4.7.0 %s Too many errors, closing connection", W.conf->hostname);
		log_info("%s: too many errors (%u, max-errors %u), disconnecting", s->client,
			 s->errors, l->max_errors);
		s->state = SS_CLOSING;
		return;
	}
	if (s->errors <= l->tarpit_after || l->tarpit_max == 0 || s->wait != SW_NONE ||
	    s->lis->kind == SL_LOCAL)
		return;
	unsigned delay = s->errors - l->tarpit_after;
	delay = delay > l->tarpit_max ? l->tarpit_max : delay;
	/* Hold the reply back (smtp_hold): the client waits, we spend one timer. */
	if (smtp_limit_timer(s, delay * 1000) < 0)
		return;
	s->wait = SW_TARPIT;
}

/* ---- improper pipelining ------------------------------------------------ */

/* RFC 2920 3.1: EHLO, DATA (and STARTTLS, RFC 3207) end a group; without
 * PIPELINING (HELO) nothing may follow a command before its reply. */
static int smtp_group_end(const struct smtp_session *s, enum smtp_verb v)
{
	return !s->esmtp || v == SMTP_V_EHLO || v == SMTP_V_HELO || v == SMTP_V_DATA ||
	       v == SMTP_V_STARTTLS;
}

int smtp_pipelining_improper(struct smtp_session *s, enum smtp_verb v)
{
	if (s->lis->kind != SL_SMTP || s->trusted || !SMTP_LIMITS->pipelining_check ||
	    !smtp_group_end(s, v) || v == SMTP_V_QUIT ||
	    evbuffer_get_length(bufferevent_get_input(s->bev)) == 0)
		return 0;
	smtp_reply(s, "554 5.5.0 %s Protocol error: improper use of SMTP command pipelining",
		   W.conf->hostname);
	log_info("%s: improper command pipelining; disconnecting", s->client);
	smtp_close_now(s);
	return 1;
}

/* ---- buffers and deadlines ---------------------------------------------- */

void smtp_limits_bev(struct smtp_session *s, int data)
{
	const struct conf_limits *l = SMTP_LIMITS;
	struct timeval tv = {data ? l->data_timeout : l->cmd_timeout, 0};

	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_setwatermark(s->bev, EV_READ, 0, l->session_memory / 2);
}

/* Replies the client has not read yet: under TLS, the records waiting in
 * the socket-level bufferevent count too (the filter hands them on at once). */
int smtp_output_full(struct smtp_session *s)
{
	size_t n =
	    evbuffer_get_length(s->held) + evbuffer_get_length(bufferevent_get_output(s->bev));

	if (s->raw)
		n += evbuffer_get_length(bufferevent_get_output(s->raw));
	return n > SMTP_LIMITS->session_memory / 2;
}

int smtp_msgs_exceeded(struct smtp_session *s)
{
	unsigned max = SMTP_LIMITS->msgs_per_session;

	if (s->lis->kind == SL_LOCAL || s->n_msgs < max)
		return 0;
	smtp_reply(s, "421 4.7.0 %s Too many messages in one connection (%u), reconnect",
		   W.conf->hostname, max);
	log_info("%s: messages-per-session %u reached; disconnecting", s->client, max);
	s->state = SS_CLOSING;
	return 1;
}

static void smtp_deadline(struct smtp_session *s, const char *text, const char *why)
{
	smtp_reply(s, "421 4.4.2 %s %s", W.conf->hostname, text);
	log_info("%s: %s; disconnecting", s->client, why);
	smtp_close_now(s);
}

/* What the client owes us now, checked once a tick. */
static void smtp_check_deadlines(struct smtp_session *s, time_t now)
{
	const struct conf_limits *l = SMTP_LIMITS;

	if (s->close_ev)
		return;
	if (s->state == SS_CLOSING) { /* a client that does not take our goodbye */
		if (!s->closing_since)
			s->closing_since = now;
		else if (now - s->closing_since > SMTP_CLOSE_GRACE)
			smtp_drop(s);
		return;
	}
	time_t hs_max = l->cmd_timeout < SMTP_TLS_HANDSHAKE_MAX ? (time_t)l->cmd_timeout
								: SMTP_TLS_HANDSHAKE_MAX;
	if (smtp_tls_pending(s) && now - s->tls_since > hs_max) {
		log_info("%s: TLS handshake not completed in time (%ld s); disconnecting",
			 s->client, (long)hs_max);
		smtp_drop(s);
	} else if (s->wait == SW_OUTPUT && now - s->out_since > (time_t)l->cmd_timeout) {
		log_info("%s: command-timeout: replies not read; disconnecting", s->client);
		smtp_drop(s);
	} else if (now - s->started > (time_t)l->session_timeout) {
		smtp_deadline(s, "Session time limit exceeded", "session-timeout");
	} else if (s->wait == SW_NONE && (s->state == SS_DATA || s->state == SS_BDAT)) {
		time_t t = now - s->data_since;
		if (l->min_data_rate && t > (time_t)l->data_rate_grace &&
		    s->msg_size < (uint64_t)t * l->min_data_rate)
			smtp_deadline(s, "Data transfer too slow", "min-data-rate not met");
	} else if ((s->wait == SW_NONE || s->wait == SW_GREET) &&
		   now - s->cmd_since > (time_t)l->cmd_timeout) {
		smtp_deadline(s, "Timeout waiting for a command", "command-timeout");
	}
}

static void smtp_on_tick(evutil_socket_t fd, short what, void *arg)
{
	time_t now = time(NULL);

	for (size_t i = 0; i < SMTP_SESSION_BUCKETS; i++) {
		struct smtp_session *s = W.buckets[i], *next;
		for (; s; s = next) {
			next = s->hnext; /* a session may close (not free) here */
			smtp_check_deadlines(s, now);
		}
	}
}

void smtp_limits_init(void)
{
	struct timeval tv = {SMTP_TICK, 0};

	W.tick = event_new(W.base, -1, EV_PERSIST, smtp_on_tick, NULL);
	if (!W.tick || event_add(W.tick, &tv) < 0)
		fatal("cannot arm the deadline timer");
}

void smtp_limits_free(struct smtp_session *s)
{
	if (s->limit_ev)
		event_free(s->limit_ev);
	s->limit_ev = NULL;
	if (s->admitted && smtp_send_conn(s, IPC_CONN_CLOSE) < 0)
		log_error("%s: its connection slot stays counted", s->client);
	s->admitted = 0;
}
