/*
 * log: formatting and sinks for log lines. Lines are bounded (LOG_LINE_MAX);
 * control characters from untrusted text are escaped by callers via
 * str_sanitize() before they get here.
 */
#include "util/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static int log_stderr = 1;
static char log_proc[32] = "sealpost";
static _Atomic int log_pid; /* getpid() once per process (a system call per line otherwise) */

static void log_forked(void)
{
	log_pid = 0;
}

void log_init(int to_stderr, const char *proc)
{
	log_stderr = to_stderr;
	log_setproc(proc);
	if (pthread_atfork(NULL, NULL, log_forked) != 0)
		fprintf(stderr, "sealpost: cannot register a fork handler for logging\n");
	if (!to_stderr)
		openlog("sealpost", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_setproc(const char *proc)
{
	snprintf(log_proc, sizeof log_proc, "%s", proc);
	log_pid = 0;
}

static void log_emit(int prio, const char *tag, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	int n = vsnprintf(line, sizeof line, fmt, ap);

	if (n < 0)
		return;
	if ((size_t)n >= sizeof line)
		memcpy(line + sizeof line - 4, "...", 4); /* marked, never silent */
	if (!log_stderr) {
		syslog(prio, "%s: %s%s", log_proc, tag, line);
		return;
	}
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	if (log_pid == 0)
		log_pid = (int)getpid();
	fprintf(stderr, "%s.%03ldZ sealpost[%d] %s: %s%s\n", stamp, ts.tv_nsec / 1000000, log_pid,
		log_proc, tag, line);
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit(LOG_INFO, "", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit(LOG_WARNING, "warning: ", fmt, ap);
	va_end(ap);
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit(LOG_ERR, "error: ", fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit(LOG_CRIT, "fatal: ", fmt, ap);
	va_end(ap);
	exit(1);
}
