/*
 * sendmail_args.c - parse the sendmail command line (see sendmail_args.h).
 *
 * Trusts: nothing; argv comes from any local user or from a program
 * passing user data after "--". Values are only checked and pointed to;
 * addresses are parsed later by addr.c.
 */
#include "cmd/sendmail_args.h"

#include <string.h>

#include "lib/util.h"

/* Option letters that take a value (attached or as the next argument). */
static const char sendmail_with_value[] = "ABCFLNORVXbcefhopr";
/* Option letters without a value. */
static const char sendmail_flags[] = "GIUimntvx";

unsigned sendmail_parse_notify(const char *s)
{
    if (ascii_strcasecmp(s, "never") == 0)
        return DSN_NOTIFY_NEVER;
    unsigned bits = 0;
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 7 && ascii_strncasecmp(p, "success", 7) == 0)
            bits |= DSN_NOTIFY_SUCCESS;
        else if (n == 7 && ascii_strncasecmp(p, "failure", 7) == 0)
            bits |= DSN_NOTIFY_FAILURE;
        else if (n == 5 && ascii_strncasecmp(p, "delay", 5) == 0)
            bits |= DSN_NOTIFY_DELAY;
        else
            return 0;
        if (!comma)
            return bits;
        p = comma + 1;
    }
}

/* RFC 3461 ENVID: printable ASCII, at most 100 characters. */
static bool sendmail_envid_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 100)
        return false;
    for (; *s; s++)
        if (*s < 33 || *s > 126)
            return false;
    return true;
}

static int sendmail_mode_b(struct sendmail_args *a, const char *v, struct buf *err)
{
    switch (v[0]) {
    case 'm':
        a->mode = SENDMAIL_DELIVER;
        return 0;
    case 's':
        a->mode = SENDMAIL_SMTP;
        return 0;
    case 'p':
        a->mode = SENDMAIL_MAILQ;
        return 0;
    case 'i':
        a->mode = SENDMAIL_NEWALIASES;
        return 0;
    case 'v':
        a->mode = SENDMAIL_VERIFY;
        return 0;
    case 'h':
    case 'H':
        a->mode = SENDMAIL_NOTHING;
        return 0;
    case 'd':
    case 'D':
    case 'l':
        buf_printf(err, "-b%s is not supported: start the mail system with \"yubin serve\"", v);
        return 64;
    case 't':
        buf_puts(err, "-bt (address test mode) is not supported: use \"yubin sendmail -bv ADDRESS\" "
                      "to see how an address is classified");
        return 64;
    default:
        buf_printf(err, "unsupported option: -b%s", v);
        return 64;
    }
}

/* -q with what follows it in the same argument. */
static int sendmail_mode_q(struct sendmail_args *a, const char *v, struct buf *err)
{
    if (v[0] == 0) {
        a->mode = SENDMAIL_FLUSH;
    } else if (v[0] == 'I' || v[0] == 'R') {
        /* There is no selective run: a flush retries every deferred message,
         * which includes the one asked for. */
        a->mode = SENDMAIL_FLUSH;
        a->flush_arg = v + 1;
    } else if (v[0] >= '0' && v[0] <= '9') {
        /* "-q30m": queue runs happen every queue_run_delay anyway. */
        a->mode = SENDMAIL_NOTHING;
    } else {
        buf_printf(err, "unsupported option: -q%s", v);
        return 64;
    }
    return 0;
}

static int sendmail_option(struct sendmail_args *a, char opt, const char *v, struct buf *err)
{
    switch (opt) {
    case 'b':
        return sendmail_mode_b(a, v, err);
    case 'B':
        if (ascii_strcasecmp(v, "8BITMIME") == 0)
            a->body = BODY_8BITMIME;
        else if (ascii_strcasecmp(v, "7BIT") == 0)
            a->body = BODY_7BIT;
        else {
            buf_printf(err, "-B option needs 7BIT or 8BITMIME, not \"%s\"", v);
            return 64;
        }
        return 0;
    case 'C':
    case 'c':
        a->config = v;
        return 0;
    case 'f':
    case 'r':
        a->sender = strcmp(v, "<>") == 0 ? "" : v;
        return 0;
    case 'F':
        a->fullname = v;
        return 0;
    case 'N':
        if ((a->notify = sendmail_parse_notify(v)) == 0) {
            buf_printf(err, "-N option needs \"never\" or a list of success, failure, delay, not \"%s\"", v);
            return 64;
        }
        return 0;
    case 'R':
        if (ascii_strcasecmp(v, "hdrs") == 0)
            a->ret = DSN_RET_HDRS;
        else if (ascii_strcasecmp(v, "full") == 0)
            a->ret = DSN_RET_FULL;
        else {
            buf_printf(err, "-R option needs hdrs or full, not \"%s\"", v);
            return 64;
        }
        return 0;
    case 'V':
        if (!sendmail_envid_ok(v)) {
            buf_puts(err, "-V option needs an envelope ID of 1 to 100 printable characters");
            return 64;
        }
        a->envid = v;
        return 0;
    case 'o':
        /* Sendmail options: only -oi (and -oA for -bi) mean something here;
         * -oem, -oee, -odb, -odi, -o7, -o8, -om ... are accepted and ignored. */
        if (v[0] == 'i')
            a->dot_ends = false;
        else if (v[0] == 'A' && v[1])
            a->alias_file = v + 1;
        return 0;
    case 'i':
        a->dot_ends = false;
        return 0;
    case 'I':
        a->mode = SENDMAIL_NEWALIASES;
        return 0;
    case 't':
        a->extract = true;
        return 0;
    case 'v':
        a->verbose++;
        return 0;
    default:
        /* -A -L -O -X -e -h -p take a value; -G -U -m -n -x do not: all
         * accepted for compatibility and ignored. */
        return 0;
    }
}

int sendmail_args_parse(int argc, char **argv, struct sendmail_args *a, struct buf *err)
{
    memset(a, 0, sizeof(*a));
    a->mode = SENDMAIL_DELIVER;
    a->dot_ends = true;
    a->ret = DSN_RET_NONE;
    a->body = BODY_NONE;

    int i = 1;
    for (; i < argc; i++) {
        const char *s = argv[i];
        if (s[0] != '-' || s[1] == 0)
            break;
        if (strcmp(s, "--") == 0) {
            i++;
            break;
        }
        for (size_t k = 1; s[k]; k++) {
            char opt = s[k];
            if (opt == 'q') {
                int r = sendmail_mode_q(a, s + k + 1, err);
                if (r)
                    return r;
                break;
            }
            if (strchr(sendmail_with_value, opt)) {
                const char *v;
                if (s[k + 1])
                    v = s + k + 1;
                else if (i + 1 < argc)
                    v = argv[++i];
                else {
                    buf_printf(err, "option requires an argument -- '%c'", opt);
                    return 64;
                }
                int r = sendmail_option(a, opt, v, err);
                if (r)
                    return r;
                break;
            }
            if (!strchr(sendmail_flags, opt)) {
                if ((unsigned char)opt >= 32 && (unsigned char)opt < 127)
                    buf_printf(err, "invalid option -- '%c'", opt);
                else
                    buf_printf(err, "invalid option -- 0x%02x", (unsigned char)opt);
                return 64;
            }
            int r = sendmail_option(a, opt, "", err);
            if (r)
                return r;
        }
    }
    a->rcpt = argv + i;
    a->nrcpt = argc - i;
    return 0;
}
