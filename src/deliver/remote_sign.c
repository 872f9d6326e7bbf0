/*
 * remote_sign: the signing seam. Every message the remote process sends
 * passes remote_sign_headers() once, just before its body goes out; the
 * header lines it returns are sent in front of the message. This is where
 * DKIM signing plugs in (the DKIM issue): it gets the envelope and the
 * whole message as queued (CRLF line ends, our Received: first, not
 * dot-stuffed) and returns e.g. "DKIM-Signature: ...\r\n". For now it
 * signs nothing.
 *
 * Security role: whatever is returned is sent verbatim ahead of the
 * message (dot-stuffing does not apply to it): it must be well-formed
 * header lines ending in CRLF, none starting with ".".
 */
#include "deliver/remote_int.h"

int remote_sign_headers(const struct qenv *e, const char *msg, size_t len, char *out, size_t cap)
{
	(void)e;
	(void)msg;
	(void)len;
	if (cap > 0)
		out[0] = '\0';
	return 0; /* bytes of header text in out; -1 would defer the message */
}
