/*
 * fuzz_smtp_cmd.c - libFuzzer harness for the SMTP command parser
 * (smtp_cmd.c).
 *
 * The first input byte selects the flags; the rest is one command line as
 * the session hands it over (at most 510 octets, no CR, LF or NUL: inputs
 * outside that contract are skipped). Besides ASan/UBSan, the parser's
 * promises are checked with abort(): a reply is a complete SMTP reply with
 * an enhanced code; the argument points inside the line; accepted paths and
 * decoded DSN values carry no control characters; NOTIFY=NEVER stands alone.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "receive/smtp_cmd.h"

static void fuzz_no_controls(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            abort();
    }
}

static void fuzz_check_reply(const char *r)
{
    /* "ddd d.d.d text": every reply carries an RFC 3463 code */
    size_t n = strlen(r);
    if (n < 10 || r[3] != ' ' || r[5] != '.')
        abort();
    if (r[0] < '2' || r[0] > '5' || r[1] < '0' || r[1] > '9' || r[2] < '0' || r[2] > '9')
        abort();
    if (r[4] != r[0])
        abort();
    fuzz_no_controls(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 511)
        return 0;
    unsigned flags = data[0] & 1 ? SMTP_CMD_ALLOW_UTF8 : 0;
    const char *line = (const char *)data + 1;
    size_t len = size - 1;
    if (memchr(line, '\r', len) || memchr(line, '\n', len) || memchr(line, 0, len))
        return 0;
    /* An exact-size copy, so ASan sees any read past the end. */
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return 0;
    memcpy(copy, line, len);

    struct smtp_cmd c;
    const char *err = smtp_cmd_parse(copy, len, flags, &c);
    if (err) {
        fuzz_check_reply(err);
    } else {
        if (c.verb == SMTP_UNKNOWN || c.verb == SMTP_FORBIDDEN)
            abort();
        if (c.arg < copy || c.arg + c.arg_len > copy + len)
            abort();
        if (c.verb == SMTP_MAIL || c.verb == SMTP_RCPT) {
            fuzz_no_controls(c.addr.addr);
            if (strlen(c.addr.addr) > ADDR_PATH_MAX)
                abort();
            if (c.addr.utf8 && !(c.verb == SMTP_MAIL ? c.smtputf8 : (flags & SMTP_CMD_ALLOW_UTF8)))
                abort();
        }
        if (c.envid) {
            fuzz_no_controls(c.envid);
            if (strlen(c.envid) > 100)
                abort();
        }
        if (c.orcpt) {
            fuzz_no_controls(c.orcpt);
            if (!strchr(c.orcpt, ';'))
                abort();
        }
        if ((c.notify & 1) && c.notify != 1)     /* DSN_NOTIFY_NEVER is exclusive */
            abort();
        if (c.smtputf8 && !(flags & SMTP_CMD_ALLOW_UTF8))
            abort();
    }
    smtp_cmd_free(&c);
    free(copy);
    return 0;
}
