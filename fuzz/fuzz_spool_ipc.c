/*
 * Fuzz target: the decoders that read what another process wrote — the
 * queue envelope (qenv_decode, qstate_apply) and IPC records (ipc_decode
 * plus typed field reads) — and the Maildir path expansion.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/deliver_maildir.h"
#include "ipc/ipc.h"
#include "queue/queue_spool.h"

static void fuzz_qenv(const char *p, size_t n)
{
	struct qenv e;
	struct qstate st = {0};

	if (qenv_decode(p, n, &e) < 0)
		return;
	if (e.body_off > n)
		abort();
	qstate_apply(&e, &st, p, n);
	char *buf = malloc(QENV_HEADER_MAX);
	if (buf && qenv_encode(&e, buf, QENV_HEADER_MAX) < 0 && e.n_rcpt < 100)
		abort(); /* anything decoded must encode again */
	free(buf);
	qenv_free(&e);
}

static void fuzz_ipc(const unsigned char *p, size_t n)
{
	static struct ipc_msg m;
	char s[300];

	if (ipc_decode(p, n, &m) < 0)
		return;
	while (!m.bad && m.pos < m.len) {
		switch (m.data[m.pos] % 3) {
		case 0:
			ipc_get_u32(&m);
			break;
		case 1:
			ipc_get_u64(&m);
			break;
		default:
			ipc_get_str(&m, s, sizeof s);
		}
	}
	ipc_end(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[4096], why[256], mbox[600];

	fuzz_qenv((const char *)data, size);
	fuzz_ipc(data, size);
	if (size < sizeof mbox) {
		memcpy(mbox, data, size);
		mbox[size] = '\0';
		maildir_path("/var/mail/%d/%u/Maildir", mbox, path, sizeof path, why, sizeof why);
	}
	return 0;
}
