/*
 * sendmail_args.h - the sendmail command line (Sendmail 8 / Postfix
 * compatible, conventions.md section 1.2), parsed into one structure so
 * that it can be tested without running anything.
 *
 * Parsing stops at the first argument that is not an option, or after
 * "--" (as Postfix's getopt does on Linux); the rest are recipients.
 * Options may be clustered ("-ti") and option values attached or separate
 * ("-fme@x" or "-f me@x"). Options other MTAs know but that mean nothing
 * here (-oem, -odb, -m, -n, -U, -Am, -h N, -L tag, -O x=y, -X file ...)
 * are accepted and ignored; an option letter nobody knows is a usage error.
 */
#ifndef YUBIN_SENDMAIL_ARGS_H
#define YUBIN_SENDMAIL_ARGS_H

#include <stdbool.h>
#include "lib/buf.h"
#include "queue/envelope.h"

enum sendmail_mode {
    SENDMAIL_DELIVER,       /* -bm (default): read a message from stdin */
    SENDMAIL_SMTP,          /* -bs: SMTP on stdin/stdout */
    SENDMAIL_MAILQ,         /* -bp */
    SENDMAIL_NEWALIASES,    /* -bi, -I */
    SENDMAIL_VERIFY,        /* -bv */
    SENDMAIL_FLUSH,         /* -q, -qIqueueid, -qRsite */
    SENDMAIL_NOTHING,       /* -bh, -bH, -qINTERVAL: accepted, nothing to do */
};

struct sendmail_args {
    enum sendmail_mode mode;
    bool extract;           /* -t */
    bool dot_ends;          /* a "." line ends input (no -i / -oi) */
    const char *sender;     /* -f / -r; NULL = the login name; "" = null sender */
    const char *fullname;   /* -F */
    unsigned notify;        /* -N: DSN_NOTIFY_* bits, 0 = not given */
    enum dsn_ret ret;       /* -R */
    const char *envid;      /* -V */
    enum body_type body;    /* -B */
    int verbose;            /* -v count */
    const char *config;     /* -C / -c */
    const char *alias_file; /* -oAfile (for -bi) */
    const char *flush_arg;  /* queue ID of -qI or site of -qR */
    char **rcpt;            /* points into argv */
    int nrcpt;
};

/* Parse argv (argv[0] is the program). Returns 0, or 64 (EX_USAGE) with a
 * one-line reason in err. */
int sendmail_args_parse(int argc, char **argv, struct sendmail_args *a, struct buf *err);

/* -N value: "never" or a comma list of success, failure, delay. 0 on bad
 * syntax. */
unsigned sendmail_parse_notify(const char *s);

#endif
