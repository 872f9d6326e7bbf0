/*
 * lookup_report: the per-message DMARC records (IPC_DMARC_RECORD from the
 * SMTP workers) that a later feature turns into DMARC aggregate reports
 * (RFC 7489 7.2). Each judged message — delivered, quarantined or refused
 * — is one line in <spool>/dmarc/records-YYYYMMDD (UTC):
 *
 *   TIME ip=ADDR from=DOMAIN policy-domain=D p=P sp=P adkim=r aspf=r pct=N
 *     disposition=P dmarc=RESULT spf=DOMAIN/RESULT spf-aligned=yes|no
 *     dkim=DOMAIN/SELECTOR/RESULT,... dkim-aligned=yes|no
 *
 * The records are statistics, not mail: they are appended without fsync.
 *
 * Security role: the line comes from an untrusted worker; it must be one
 * printable line (no control octets) or the worker is judged broken, so a
 * worker cannot forge a second record.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lookup/lookup_int.h"
#include "util/file.h"
#include "util/log.h"
#include "util/str.h"

#define REPORT_LINE_MAX 2048

static int report_fd = -1;
static char report_day[16]; /* YYYYMMDD of the open file */

/* The open records file of today (UTC), reopened when the day changes. */
static int lookup_report_file(time_t now)
{
	char day[16], path[CONF_PATH_MAX + 64];
	struct tm tm;

	gmtime_r(&now, &tm);
	if (strftime(day, sizeof day, "%Y%m%d", &tm) == 0)
		return -1;
	if (report_fd >= 0 && strcmp(day, report_day) == 0)
		return report_fd;
	if (report_fd >= 0)
		close(report_fd);
	report_fd = -1;
	if (str_fmt(path, sizeof path, "%s/dmarc/records-%s", L.conf->spool, day) < 0)
		return -1;
	report_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (report_fd < 0)
		log_error("cannot open %s: %s", path, strerror(errno));
	else
		memcpy(report_day, day, sizeof report_day);
	return report_fd;
}

void lookup_on_dmarc_record(struct ipc_chan *ch, struct ipc_msg *m)
{
	char line[REPORT_LINE_MAX], out[REPORT_LINE_MAX + 32];
	time_t now = time(NULL);
	int fd;

	ipc_get_str(m, line, sizeof line);
	if (ipc_end(m) < 0)
		fatal("%s sent a malformed DMARC record", ipc_chan_peer(ch));
	for (const char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			fatal("%s sent a DMARC record with a control octet", ipc_chan_peer(ch));
	if ((fd = lookup_report_file(now)) < 0 ||
	    str_fmt(out, sizeof out, "%lld %s\n", (long long)now, line) < 0)
		return;
	if (file_write_all(fd, out, strlen(out)) < 0)
		log_error("cannot append a DMARC record: %s", strerror(errno));
}
