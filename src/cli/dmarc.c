/*
 * dmarc: `sealpost dmarc` (issue 5; being written).
 */
#include <stdio.h>

#include "cli/cli.h"

int cli_dmarc(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "sealpost: dmarc: not built yet\n");
	return 1;
}
