/*
 * remote_sts_int: what the parts of the MTA-STS module share and nothing
 * else uses: the cache file codec (pure, in remote_sts_parse.c) and the
 * policy fetch (remote_sts_fetch.c: address through dns.h, HTTPS through
 * libcurl's multi interface on the event loop).
 *
 * Security role: the fetch is the one place that talks HTTPS to a
 * recipient domain's web server; its answer is untrusted until
 * sts_policy_parse accepts it.
 */
#ifndef SEALPOST_REMOTE_STS_INT_H
#define SEALPOST_REMOTE_STS_INT_H

#include <stddef.h>

#include <event2/event.h>

#include "deliver/remote_sts.h"

#define STS_HTTPS_PORT	     443	 /* RFC 8461 3.3: the policy host's HTTPS port */
#define STS_FETCH_TIMEOUT_MS 60000	 /* the whole HTTPS fetch (RFC 8461 3.3 suggests 60 s) */
#define STS_DNS_TIMEOUT_MS   10000	 /* each TXT, A or AAAA query */
#define STS_ADDR_MAX	     8		 /* addresses of mta-sts.DOMAIN handed to curl */
#define STS_CACHE_FILE_MAX   (16 * 1024) /* one cache file, at most */

/* Pure: is s[0..n) an RFC 5321 Domain (LDH labels, no trailing dot)? */
int sts_domain_ok(const char *s, size_t n);

/* Pure: the cache file text of p into out[cap] (NUL-terminated); 0 or -1. */
int sts_cache_encode(const struct sts_policy *p, char *out, size_t cap, size_t *len);

/* Pure: parse a cache file; 0, or -1 with a static reason. */
int sts_cache_decode(const char *text, size_t len, struct sts_policy *out, const char **why);

/* The fetch of one policy body. cb gets the body (len octets) or NULL and
 * a reason; it is called once, from the loop, never from inside the
 * start call. */
typedef void (*sts_fetch_cb)(void *arg, const char *body, size_t len, const char *why);

int sts_fetch_init(struct event_base *base, const char *ca_file);
/* Start fetching https://mta-sts.DOMAIN/.well-known/mta-sts.txt (domain
 * lowercase, validated). Returns a handle, or NULL (cb not called). */
struct sts_fetch *sts_fetch_start(const char *domain, sts_fetch_cb cb, void *arg);
/* Stop every fetch (callbacks not called) and free the multi handle. */
void sts_fetch_shutdown(void);

#endif
