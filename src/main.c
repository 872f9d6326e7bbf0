/*
 * main: subcommand dispatch only. Installed under the name "sendmail" (or
 * "mailq"), the binary behaves as `sealpost send` (or `sealpost queue list`).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

struct subcommand {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct subcommand subcommands[] = {
    {"init", cli_init, "write a new configuration, spool and certificate into a directory"},
    {"serve", cli_serve, "run the mail server"},
    {"check", cli_check, "validate the configuration"},
    {"send", cli_send, "inject a message (sendmail-compatible)"},
    {"queue", cli_queue, "show the mail queue"},
    {"user", cli_user, "manage users and mailboxes"},
    {"dnsbl", cli_dnsbl, "ask DNS block/allow lists about an address"},
    {"dns", cli_dns, "ask the resolver one DNS question (debugging)"},
    {"mta-sts", cli_mta_sts, "look up a domain's MTA-STS policy (RFC 8461)"},
    {"spf", cli_spf, "check a client address against a sender's SPF record (RFC 7208)"},
    {"dkim", cli_dkim, "verify or sign a message, make a key (DKIM, RFC 6376)"},
    {"dmarc", cli_dmarc, "judge a message's DMARC alignment and policy (RFC 7489)"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: sealpost COMMAND [options]   (sealpost COMMAND --help for more)\n\n");
	for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
		fprintf(f, "  %-7s %s\n", subcommands[i].name, subcommands[i].help);
}

int main(int argc, char **argv)
{
	const char *self = strrchr(argv[0], '/');

	self = self ? self + 1 : argv[0];
	if (strcmp(self, "sendmail") == 0)
		return cli_send(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "sealpost: unknown command '%s' (try sealpost --help)\n", argv[1]);
	return 2;
}
