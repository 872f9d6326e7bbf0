/*
 * addr_domain: the domain of one mail address as DMARC (the From: domain)
 * and DKIM signing judge it — shared by the SMTP worker's checks and the
 * remote process's signer, so both read an address the same way.
 *
 * Security role: an address an attacker writes must map to one domain or
 * to none: "a@b.example@c.example", "a@[b.example]", "a@.b.example",
 * "a@b..example" are refused rather than judged by some part of them.
 */
#ifndef SEALPOST_ADDR_DOMAIN_H
#define SEALPOST_ADDR_DOMAIN_H

#include <stddef.h>

/* addr ("local@domain", as send_hdr_addrs gives it): exactly one '@'
 * outside a quoted local part; the domain with a trailing dot dropped,
 * U-labels turned into A-labels (RFC 8616), lowercased, then checked as a
 * host name, into out[cap]. 0, or -1 when it is not one readable domain. */
int addr_domain(const char *addr, char *out, size_t cap);

#endif
