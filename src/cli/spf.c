/*
 * spf: `sealpost spf` (issue 5; being written).
 */
#include <stdio.h>

#include "cli/cli.h"

int cli_spf(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "sealpost: spf: not built yet\n");
	return 1;
}
