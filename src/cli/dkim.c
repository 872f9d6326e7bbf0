/*
 * dkim: `sealpost dkim` (issue 5; being written).
 */
#include <stdio.h>

#include "cli/cli.h"

int cli_dkim(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "sealpost: dkim: not built yet\n");
	return 1;
}
