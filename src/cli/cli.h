/*
 * cli: one entry point per subcommand. Each takes the arguments after the
 * subcommand name (argv[0] is the subcommand), prints --help, returns the
 * process exit status (0 ok, 1 error with one line on stderr, 2 usage).
 */
#ifndef SEALPOST_CLI_H
#define SEALPOST_CLI_H

int cli_init(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_send(int argc, char **argv);
int cli_queue(int argc, char **argv);
int cli_user(int argc, char **argv);
int cli_dnsbl(int argc, char **argv);
int cli_dns(int argc, char **argv);
int cli_mta_sts(int argc, char **argv);
int cli_spf(int argc, char **argv);
int cli_dkim(int argc, char **argv);
int cli_dmarc(int argc, char **argv);

/* Shared helper: pick "-c FILE" out of argv; default CONF_DEFAULT_PATH. */
const char *cli_config_path(int argc, char **argv);

#endif
