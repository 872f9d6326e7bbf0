/*
 * log: one line per event, to stderr (foreground) or syslog (mail facility).
 * Every line about a message carries its queue id; every line about a
 * session carries the client address (callers put them in the text).
 */
#ifndef SEALPOST_LOG_H
#define SEALPOST_LOG_H

#include <stdarg.h>

/* proc: the process name shown in each line ("parent", "smtp", "queue"...). */
void log_init(int to_stderr, const char *proc);
void log_setproc(const char *proc);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A broken invariant: log and exit(1). The parent notices. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
