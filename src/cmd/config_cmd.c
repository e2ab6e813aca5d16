/*
 * config_cmd.c - 'yubin config', the postconf of yubin, and the
 * configuration loading every subcommand shares (cmd_load_config).
 *
 *   yubin config              parameters set in the file that differ from the default (postconf -n)
 *   yubin config -n           the same
 *   yubin config -d [-v]      built-in defaults (-v: with the one-line doc as a comment)
 *   yubin config -a           every parameter's current value
 *   yubin config NAME...      the named parameters (-d: their defaults; -h: values only)
 *   -x                        expand $names in what is printed
 *   -c FILE                   read FILE instead of the default configuration
 *
 * Exit status: 0 (also when a NAME is unknown: a warning, as postconf),
 * 64 for bad usage, 78 (EX_CONFIG) when the configuration has errors.
 *
 * Trusts: its command line (the invoking user's own) and the configuration.
 */
#include "cmd/commands.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/params.h"
#include "lib/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#define EX_USAGE_ 64
#define EX_CONFIG_ 78

static void PRINTF_LIKE(1, 2) config_cmd_fatal_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmail(NULL, LOG_CRIT, "fatal: ", fmt, ap);
    va_end(ap);
}

void cmd_load_config(const char *path)
{
    /* Warnings while loading already go to the terminal in short form. */
    log_open("yubin", LOG_TO_TERMINAL, NULL);
    struct buf err = BUF_INIT;
    if (config_load(path, &err) < 0) {
        char *text = buf_steal(&err);
        for (char *line = text, *next; line; line = next) {
            next = strchr(line, '\n');
            if (next)
                *next++ = 0;
            if (*line)
                config_cmd_fatal_line("%s", line);
        }
        free(text);
        exit(EX_CONFIG_);
    }
    buf_free(&err);
    log_open(var_syslog_name, LOG_TO_TERMINAL, NULL);
}

static int config_cmd_usage(void)
{
    fprintf(stderr,
            "usage: yubin config [-c FILE] [-n | -a | -d] [-x] [-v] [-h] [NAME...]\n"
            "  (no option), -n  parameters set in the file that differ from the default\n"
            "  -a               every parameter's current value\n"
            "  -d               built-in defaults (-v adds each parameter's description)\n"
            "  -x               expand $names\n"
            "  -h               print values only (with NAME...)\n"
            "  -c FILE          read FILE instead of the default configuration\n");
    return EX_USAGE_;
}

int cmd_config(int argc, char **argv)
{
    bool opt_n = false, opt_a = false, opt_d = false;
    struct config_print_opts o = {0};
    const char *file = NULL;
    char **names = xcalloc((size_t)argc + 1, sizeof(*names));
    int nnames = 0;
    bool options_done = false;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (options_done || arg[0] != '-' || arg[1] == 0) {
            names[nnames++] = argv[i];
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        bool took_value = false;    /* -c FILE ends the option cluster */
        for (const char *c = arg + 1; *c && !took_value; c++) {
            switch (*c) {
            case 'n': opt_n = true; break;
            case 'a': opt_a = true; break;
            case 'd': opt_d = true; break;
            case 'x': o.expand = true; break;
            case 'v': o.doc = true; break;
            case 'h': o.value_only = true; break;
            case 'c':
                if (c[1]) {
                    file = c + 1;
                } else if (i + 1 < argc) {
                    file = argv[++i];
                } else {
                    fprintf(stderr, "yubin config: -c needs a file name\n");
                    free(names);
                    return config_cmd_usage();
                }
                took_value = true;
                break;
            default:
                fprintf(stderr, "yubin config: unknown option -%c\n", *c);
                free(names);
                return config_cmd_usage();
            }
        }
    }
    if ((int)opt_n + (int)opt_a + (int)opt_d > 1 || (nnames > 0 && (opt_n || opt_a))) {
        fprintf(stderr, "yubin config: use only one of -n, -a, -d, NAME...\n");
        free(names);
        return config_cmd_usage();
    }

    if (opt_d)
        log_open("yubin", LOG_TO_TERMINAL, NULL);   /* defaults need no file */
    else
        cmd_load_config(file);

    if (nnames > 0)
        (void)config_fprint_names(stdout, names, nnames, opt_d, &o);
    else
        config_fprint(stdout, opt_d ? CONFIG_PRINT_DEFAULTS : opt_a ? CONFIG_PRINT_ALL : CONFIG_PRINT_NONDEFAULT, &o);
    free(names);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        msg_error("cannot write the output");
        return 1;
    }
    return 0;
}
