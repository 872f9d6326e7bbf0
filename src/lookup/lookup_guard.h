/*
 * lookup_guard: brute-force resistance for SMTP AUTH. Failed attempts are
 * counted per client address and per login name through counter.h (so
 * instances sharing a counter store count them together), over a sliding
 * estimate of the last `window` seconds. After `delay_after` failures the
 * answers to further failures are delayed, one second more per failure
 * (at most GUARD_DELAY_MAX); once `lock_after` failures from one address
 * are counted within the window, that address is refused for `lock_time`
 * seconds whatever it sends. A success forgets the login's failures on
 * this instance.
 */
#ifndef SEALPOST_LOOKUP_GUARD_H
#define SEALPOST_LOOKUP_GUARD_H

#include <time.h>

#define GUARD_ENTRIES	8192
#define GUARD_KEY_MAX	272
#define GUARD_DELAY_MAX 10 /* seconds */

#include "util/conf.h"

void guard_init(const struct conf_auth_limits *lim);
/* Seconds left of a lockout of ip, 0 when not locked. */
long guard_locked(const char *ip, time_t now);
/* Record a failure; returns the seconds to delay the answer. */
unsigned guard_fail(const char *ip, const char *login, time_t now);
/* A success forgets the login's failures (not the address's). */
void guard_success(const char *login);

#endif
