/*
 * commands.h - the subcommands of bin/yubin. main.c picks one from argv[0]
 * (sendmail, mailq, newaliases) or from the first argument.
 *
 * Every subcommand accepts "-c FILE" for the configuration file (sendmail
 * also "-C FILE", as Sendmail and Postfix do) and loads it with
 * cmd_load_config().
 */
#ifndef YUBIN_COMMANDS_H
#define YUBIN_COMMANDS_H

#include <stdbool.h>

int cmd_serve(int argc, char **argv);      /* cmd/serve.c: the daemon */
int cmd_config(int argc, char **argv);     /* cmd/config_cmd.c: like postconf */
int cmd_queue(int argc, char **argv);      /* cmd/queue_cmd.c: list/flush/delete/hold/release */
int cmd_mailq(int argc, char **argv);      /* cmd/queue_cmd.c: mailq = yubin queue list */
int cmd_sendmail(int argc, char **argv);   /* cmd/sendmail.c: the sendmail command line */
int cmd_route(int argc, char **argv);      /* cmd/route_cmd.c: explain routing decisions */
int cmd_check(int argc, char **argv);      /* cmd/check_cmd.c: find the field reports' traps */

/* Load the configuration (path NULL: $YUBIN_CONFIG, default file, embedded)
 * and set up logging for a command-line tool (stderr, prefix "yubin:").
 * Exits 78 (EX_CONFIG) with the error on failure. */
void cmd_load_config(const char *path);

#endif
