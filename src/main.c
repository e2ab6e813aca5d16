/*
 * main.c - bin/yubin: one program, many names.
 *
 * Called as "sendmail", "mailq" or "newaliases" (argv[0], as Postfix's and
 * Sendmail's links are) it is that command; otherwise the first argument
 * names a subcommand.
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "cmd/commands.h"
#include "lib/util.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: yubin [-c FILE] COMMAND [ARGS]\n"
            "\n"
            "commands:\n"
            "  serve                 run the mail system (SMTP server, queue, delivery)\n"
            "  queue [list]          show the queue like mailq / postqueue -p\n"
            "  queue flush           retry deferred mail now\n"
            "  queue delete ID|ALL   remove messages from the queue\n"
            "  queue hold ID|ALL     put messages on hold\n"
            "  queue release ID|ALL  release held messages\n"
            "  config [-n|-d] [NAME...]  show the configuration like postconf\n"
            "  sendmail [FLAGS] [RCPT...]  the sendmail command line\n"
            "  version               print the version\n"
            "\n"
            "The same program called as sendmail, mailq or newaliases acts as those commands.\n");
}

int main(int argc, char **argv)
{
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];

    if (strcmp(base, "sendmail") == 0)
        return cmd_sendmail(argc, argv);
    if (strcmp(base, "mailq") == 0)
        return cmd_mailq(argc, argv);
    if (strcmp(base, "newaliases") == 0) {
        char *args[] = {argv[0], "-bi", NULL};
        return cmd_sendmail(2, args);
    }

    /* A global "-c FILE" before the subcommand is passed on as YUBIN_CONFIG. */
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            setenv("YUBIN_CONFIG", argv[i + 1], 1);
            i += 2;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("yubin %s\n", YUBIN_VERSION);
            return 0;
        } else {
            fprintf(stderr, "yubin: unknown option %s\n", argv[i]);
            usage(stderr);
            return 64;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 64;
    }
    const char *cmd = argv[i];
    int sargc = argc - i;
    char **sargv = argv + i;
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(sargc, sargv);
    if (strcmp(cmd, "config") == 0)
        return cmd_config(sargc, sargv);
    if (strcmp(cmd, "queue") == 0)
        return cmd_queue(sargc, sargv);
    if (strcmp(cmd, "sendmail") == 0)
        return cmd_sendmail(sargc, sargv);
    if (strcmp(cmd, "mailq") == 0)
        return cmd_mailq(sargc, sargv);
    if (strcmp(cmd, "version") == 0) {
        printf("yubin %s\n", YUBIN_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "yubin: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 64;
}
