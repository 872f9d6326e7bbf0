/*
 * serve: `sealpost serve [-c FILE] [-f]` — load the configuration and run
 * the server (parent.c). -f stays in the foreground and logs to stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "parent/parent.h"
#include "util/conf.h"

static void serve_usage(FILE *f)
{
	fprintf(f, "usage: sealpost serve [-c FILE] [-f]\n"
		   "  -c FILE  configuration (default " CONF_DEFAULT_PATH ")\n"
		   "  -f       stay in the foreground and log to stderr\n");
}

int cli_serve(int argc, char **argv)
{
	static struct conf c;
	struct conf_errors errs;
	const char *path = CONF_DEFAULT_PATH;
	int fg = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			serve_usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "-f") == 0) {
			fg = 1;
		} else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else {
			fprintf(stderr, "sealpost serve: unknown argument '%s'\n", argv[i]);
			serve_usage(stderr);
			return 2;
		}
	}
	if (conf_load(path, &c, &errs) < 0) {
		conf_errors_print(&errs);
		return 1;
	}
	if (cli_check_mailauth(&c) < 0) /* before forking: a bad key stops here */
		return 1;
	return parent_run(&c, fg);
}
