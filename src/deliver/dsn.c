/*
 * dsn.c - compose delivery status notifications (see dsn.h): the message
 * a sender gets back when mail bounces, is delayed, or was delivered with
 * NOTIFY=SUCCESS, shaped like Postfix's so users and tools recognise it.
 *
 * Trusts: the envelope values it is given (validated where they entered:
 * addr.c, xtext.c, the queue file reader). It does not trust the texts:
 * diagnostics, reasons and hints may carry a remote server's words, so each
 * is bounded to DSN_TEXT_MAX octets, cleaned (controls out, 8-bit octets
 * replaced) and wrapped before it is written, and no line can pass RFC
 * 5322's 998 octets. The original message is copied verbatim into its MIME
 * part under a boundary that is checked not to occur in it.
 */
#include "deliver/dsn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/params.h"
#include "lib/util.h"

#define DSN_HUMAN_WIDTH 76      /* the human-readable part, as Postfix wraps it */
#define DSN_FIELD_WIDTH 78      /* fields of the message/delivery-status part */
#define DSN_INDENT 4            /* continuation lines */
#define DSN_WORD_MAX 900        /* a longer "word" is cut so every line stays under 998 */
#define DSN_TOKEN_MAX 255       /* host names, status codes, types */

/*
 * Text for the report is US-ASCII. CR, LF and TAB become spaces so the
 * words on either side stay apart (wrapping collapses the runs); every
 * other control goes, so a hostile reply cannot inject header lines or a
 * MIME boundary; 8-bit octets become '?'. Reads at most max octets.
 */
static char *dsn_clean_text(const char *s, size_t max)
{
    struct buf b = BUF_INIT;
    size_t len = s ? strnlen(s, max) : 0;

    buf_reserve(&b, len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r' || c == '\n' || c == '\t')
            buf_putc(&b, ' ');
        else if (c < 0x20 || c == 0x7f)
            continue;
        else if (c >= 0x80)
            buf_putc(&b, '?');
        else
            buf_putc(&b, (char)c);
    }
    return buf_steal(&b);
}

/*
 * Addresses and the envelope ID in the report part must stay
 * machine-readable, so '?' would lose information: octets that cannot
 * appear in a US-ASCII field (UTF-8 of an SMTPUTF8 address) are written
 * as xtext "+XX" instead. Controls cannot reach here (addr.c and xtext.c
 * reject them) but are encoded the same way rather than trusted.
 */
static char *dsn_clean_addr(const char *s)
{
    struct buf b = BUF_INIT;
    size_t len = s ? strnlen(s, DSN_TEXT_MAX) : 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f)
            buf_printf(&b, "+%02X", c);
        else
            buf_putc(&b, (char)c);
    }
    return buf_steal(&b);
}

/*
 * Append s (cleaned text: words separated by spaces) wrapped at width
 * columns, breaking only between words, continuation lines starting with
 * indent spaces, ending with CRLF. A word wider than a line stays whole up
 * to DSN_WORD_MAX octets; beyond that it is cut.
 */
static void dsn_wrap(struct buf *out, const char *s, size_t width, size_t indent)
{
    size_t col = 0;
    bool line_empty = true;
    const char *p = s;

    for (;;) {
        while (*p == ' ')
            p++;
        if (*p == 0)
            break;
        size_t w = strcspn(p, " ");
        if (w > DSN_WORD_MAX)
            w = DSN_WORD_MAX;
        if (!line_empty && col + 1 + w > width) {
            buf_puts(out, "\r\n");
            for (size_t i = 0; i < indent; i++)
                buf_putc(out, ' ');
            col = indent;
            line_empty = true;
        }
        if (!line_empty) {
            buf_putc(out, ' ');
            col++;
        }
        buf_append(out, p, w);
        col += w;
        line_empty = false;
        p += w;
    }
    buf_puts(out, "\r\n");
}

/* One report field "Name: value", folded; value must already be clean. */
static void dsn_field(struct buf *out, const char *name, const char *value)
{
    char *line = xasprintf("%s: %s", name, value);
    dsn_wrap(out, line, DSN_FIELD_WIDTH, DSN_INDENT);
    free(line);
}

/* A human-readable paragraph preceded by an empty line; text must be clean. */
static void dsn_paragraph(struct buf *out, const char *text, size_t indent)
{
    buf_puts(out, "\r\n");
    dsn_wrap(out, text, DSN_HUMAN_WIDTH, indent);
}

static const char *dsn_myhostname(void)
{
    return var_myhostname && *var_myhostname ? var_myhostname : host_name();
}

static const char *dsn_myorigin(void)
{
    return var_myorigin && *var_myorigin ? var_myorigin : dsn_myhostname();
}

static const char *dsn_subject(const struct dsn_report *r)
{
    switch (r->kind) {
    case DSN_DELAY:
        return r->postmaster_copy ? "Postmaster Warning: Delayed Mail" : "Delayed Mail (still being retried)";
    case DSN_SUCCESS:
        return r->postmaster_copy ? "Postmaster Copy: Successful Mail Delivery Report"
                                  : "Successful Mail Delivery Report";
    case DSN_FAILURE:
        break;
    }
    return r->postmaster_copy ? "Postmaster Copy: Undelivered Mail" : "Undelivered Mail Returned to Sender";
}

static const char *dsn_default_action(enum dsn_kind kind)
{
    return kind == DSN_FAILURE ? "failed" : kind == DSN_DELAY ? "delayed" : "delivered";
}

static const char *dsn_default_status(enum dsn_kind kind)
{
    return kind == DSN_FAILURE ? "5.0.0" : kind == DSN_DELAY ? "4.0.0" : "2.0.0";
}

/* "3 hours", "1 hour", "10 minutes": how long the message has waited. */
static void dsn_put_duration(struct buf *out, double hours)
{
    double m = hours * 60.0 + 0.5;
    long minutes = m > 1e9 ? 1000000000L : (long)m;

    if (minutes >= 60 && minutes % 60 == 0)
        buf_printf(out, "%ld hour%s", minutes / 60, minutes == 60 ? "" : "s");
    else
        buf_printf(out, "%ld minute%s", minutes, minutes == 1 ? "" : "s");
}

/*
 * The explanation above "The mail system": what happened and what the
 * sender can do, in plain words, per kind of notice.
 */
static void dsn_explain(struct buf *out, const struct dsn_report *r, bool full_message, bool has_original)
{
    struct buf p = BUF_INIT;

    switch (r->kind) {
    case DSN_FAILURE:
        dsn_paragraph(out,
                      "Your message could not be delivered to one or more of its recipients. "
                      "The reason for each is given below. These are permanent errors: this "
                      "mail system has given up on those recipients and will not try again.", 0);
        buf_puts(&p, "What you can do: check each address for typing mistakes and send the "
                     "message again. If the reason was given by the receiving server "
                     "(\"host ... said\"), its postmaster can help; for problems with this "
                     "system, write to postmaster and include this report.");
        if (has_original)
            buf_puts(&p, full_message ? " Your message is attached below."
                                      : " The headers of your message are attached below.");
        dsn_paragraph(out, buf_str(&p), 0);
        break;
    case DSN_DELAY:
        buf_puts(out, "\r\n"
                      "####################################################################\r\n"
                      "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\r\n"
                      "####################################################################\r\n");
        buf_puts(&p, "Your message could not be delivered ");
        if (r->delay_hours > 0) {
            buf_puts(&p, "for more than ");
            dsn_put_duration(&p, r->delay_hours);
        } else {
            buf_puts(&p, "yet");
        }
        buf_puts(&p, " to the recipients listed below, for the reasons given there. The "
                     "message is still in the queue and will be retried");
        if (r->retry_until > 0) {
            char date[64];
            rfc5322_date(date, r->retry_until);
            buf_printf(&p, " until %s", date);
        }
        buf_puts(&p, "; if it still cannot be delivered by then, it will be returned to "
                     "you.");
        dsn_paragraph(out, buf_str(&p), 0);
        dsn_paragraph(out,
                      "Nothing needs to be done now. If a reason below shows a mistake in an "
                      "address, send the message again to the right address; for problems "
                      "with this system, write to postmaster and include this report.", 0);
        break;
    case DSN_SUCCESS:
        dsn_paragraph(out,
                      "Your message was delivered to the recipients listed below. If it was "
                      "delivered to a mailbox, you will get no further notices about it. If it "
                      "was passed on to another system, or to the members of an alias or "
                      "mailing list, you may still get notices of delivery problems from "
                      "there.", 0);
        break;
    }
    buf_free(&p);
}

/* Part 1: text/plain for people. */
static void dsn_human_part(struct buf *out, const struct dsn_report *r, const struct dsn_rcpt *rcpt,
                           size_t n, bool full_message, bool has_original)
{
    buf_printf(out, "This is the mail system at host %s.\r\n", dsn_myhostname());
    dsn_explain(out, r, full_message, has_original);
    buf_puts(out, "\r\n                   The mail system\r\n");

    struct buf line = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        const struct dsn_rcpt *d = &rcpt[i];
        const char *why = d->reason ? d->reason : d->diag_text ? d->diag_text : "";

        /* Each piece is bounded on its own so a long reason cannot push the
         * address out, and cleaned here because the address goes into the
         * line unescaped. */
        char *final = dsn_clean_text(d->final_rcpt, DSN_TEXT_MAX);
        char *orig = d->orig_rcpt ? dsn_clean_text(d->orig_rcpt, DSN_TEXT_MAX) : NULL;
        char *text = dsn_clean_text(why, DSN_TEXT_MAX);
        buf_reset(&line);
        buf_printf(&line, "<%s>", final);
        if (orig && strcmp(orig, final) != 0)
            buf_printf(&line, " (expanded from <%s>)", orig);
        buf_printf(&line, ": %s", text);
        dsn_paragraph(out, buf_str(&line), DSN_INDENT);
        free(final);
        free(orig);
        free(text);
        if (d->hint && *d->hint) {
            char *hint = dsn_clean_text(d->hint, DSN_TEXT_MAX);
            dsn_paragraph(out, hint, 0);
            free(hint);
        }
    }
    buf_free(&line);
}

/* "rfc822;addr" from ORCPT: the address after the type, or the whole value
 * under its own type when it is not rfc822 (RFC 3464 2.3.1). */
static void dsn_original_recipient(struct buf *out, const struct dsn_rcpt *d)
{
    char *value;

    if (d->orcpt && *d->orcpt) {
        const char *semi = strchr(d->orcpt, ';');
        if (semi && (size_t)(semi - d->orcpt) == 6 && ascii_strncasecmp(d->orcpt, "rfc822", 6) == 0) {
            const char *a = semi + 1;
            while (*a == ' ')
                a++;
            char *addr = dsn_clean_addr(a);
            value = xasprintf("rfc822;%s", addr);
            free(addr);
        } else if (semi && semi > d->orcpt) {
            char *raw = xstrndup(d->orcpt, (size_t)(semi - d->orcpt));
            char *type = dsn_clean_addr(raw);
            char *addr = dsn_clean_addr(semi + 1);
            value = xasprintf("%s;%s", type, addr);
            free(raw);
            free(type);
            free(addr);
        } else {
            char *addr = dsn_clean_addr(d->orcpt);
            value = xasprintf("rfc822;%s", addr);
            free(addr);
        }
    } else {
        /* Without ORCPT, Postfix reports the address as received. */
        char *addr = dsn_clean_addr(d->orig_rcpt ? d->orig_rcpt : d->final_rcpt);
        value = xasprintf("rfc822;%s", addr);
        free(addr);
    }
    dsn_field(out, "Original-Recipient", value);
    free(value);
}

/* Part 2: message/delivery-status for programs (RFC 3464). */
static void dsn_report_part(struct buf *out, const struct dsn_report *r, const struct dsn_rcpt *rcpt, size_t n)
{
    char date[64];
    char *v;

    if (r->envid && *r->envid) {
        v = dsn_clean_addr(r->envid);
        dsn_field(out, "Original-Envelope-Id", v);
        free(v);
    }
    buf_printf(out, "Reporting-MTA: dns; %s\r\n", dsn_myhostname());
    v = dsn_clean_text(r->qid && *r->qid ? r->qid : "NOQUEUE", DSN_TOKEN_MAX);
    dsn_field(out, "X-Yubin-Queue-ID", v);
    free(v);
    char *addr = dsn_clean_addr(r->sender);
    v = *addr ? xasprintf("rfc822; %s", addr) : xstrdup("rfc822;");
    dsn_field(out, "X-Yubin-Sender", v);
    free(v);
    free(addr);
    if (r->arrival > 0) {
        rfc5322_date(date, r->arrival);
        buf_printf(out, "Arrival-Date: %s\r\n", date);
    }

    for (size_t i = 0; i < n; i++) {
        const struct dsn_rcpt *d = &rcpt[i];

        buf_puts(out, "\r\n");
        addr = dsn_clean_addr(d->final_rcpt);
        v = xasprintf("rfc822; %s", addr);
        dsn_field(out, "Final-Recipient", v);
        free(v);
        free(addr);
        dsn_original_recipient(out, d);
        v = dsn_clean_text(d->action ? d->action : dsn_default_action(r->kind), DSN_TOKEN_MAX);
        dsn_field(out, "Action", v);
        free(v);
        v = dsn_clean_text(d->status ? d->status : dsn_default_status(r->kind), DSN_TOKEN_MAX);
        dsn_field(out, "Status", v);
        free(v);
        if (d->remote_mta && *d->remote_mta) {
            char *host = dsn_clean_text(d->remote_mta, DSN_TOKEN_MAX);
            v = xasprintf("dns; %s", host);
            dsn_field(out, "Remote-MTA", v);
            free(v);
            free(host);
        }
        if (d->diag_text && *d->diag_text) {
            char *type = dsn_clean_text(d->diag_type ? d->diag_type : "X-Yubin", DSN_TOKEN_MAX);
            char *text = dsn_clean_text(d->diag_text, DSN_TEXT_MAX);
            v = xasprintf("%s; %s", type, text);
            dsn_field(out, "Diagnostic-Code", v);
            free(v);
            free(type);
            free(text);
        }
        if (r->kind == DSN_DELAY && r->retry_until > 0) {
            rfc5322_date(date, r->retry_until);
            buf_printf(out, "Will-Retry-Until: %s\r\n", date);
        }
    }
}

/* Length of the original's header block: up to and including the line end
 * of its last header line, without the empty line that ends it. A message
 * without a body is all header. */
static size_t dsn_header_len(const char *m, size_t len)
{
    size_t i = 0;

    while (i < len) {
        if (m[i] == '\n' || (m[i] == '\r' && i + 1 < len && m[i + 1] == '\n'))
            return i;
        const char *nl = memchr(m + i, '\n', len - i);
        if (nl == NULL)
            return len;
        i = (size_t)(nl - m) + 1;
    }
    return len;
}

static bool dsn_has_8bit(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)p[i] >= 0x80)
            return true;
    return false;
}

static bool dsn_contains(const struct buf *b, const char *needle)
{
    return b->len > 0 && memmem(b->data, b->len, needle, strlen(needle)) != NULL;
}

void dsn_compose(struct buf *out, const struct dsn_report *r, const struct dsn_rcpt *rcpt, size_t n,
                 const char *original, size_t original_len, const char *new_qid)
{
    const char *sender = r->sender ? r->sender : "";
    if (*sender == 0 && !r->postmaster_copy)
        msg_panic("dsn_compose: notification to the null sender (queue ID %s)", r->qid ? r->qid : "?");

    double now = time_now();
    const char *qid = r->qid && *r->qid ? r->qid : "NOQUEUE";
    bool has_original = original != NULL;
    bool full_message = has_original && r->kind == DSN_FAILURE && r->ret != DSN_RET_HDRS
                        && !r->postmaster_copy
                        && (r->size_limit <= 0 || original_len <= (size_t)r->size_limit);
    size_t incl_len = !has_original ? 0 : full_message ? original_len : dsn_header_len(original, original_len);
    bool eight_bit = has_original && dsn_has_8bit(original, incl_len);

    /* The parts are built first so the boundary can be checked against
     * everything it must not occur in. */
    struct buf human = BUF_INIT, report = BUF_INIT, incl = BUF_INIT;
    dsn_human_part(&human, r, rcpt, n, full_message, has_original);
    dsn_report_part(&report, r, rcpt, n);
    if (has_original) {
        buf_append(&incl, original, incl_len);
        if (incl_len > 0 && original[incl_len - 1] != '\n')
            buf_puts(&incl, "\r\n");
    }

    /* QID.EPOCH/myhostname as Postfix does; a suffix in the unlikely case
     * that the original already contains it. */
    char *base = xasprintf("%s.%lld/%s", qid, (long long)now, dsn_myhostname());
    char *boundary = xstrdup(base);
    for (unsigned k = 1; dsn_contains(&incl, boundary) || dsn_contains(&human, boundary)
                         || dsn_contains(&report, boundary); k++) {
        free(boundary);
        boundary = xasprintf("%s.%u", base, k);
    }
    free(base);

    char date[64];
    rfc5322_date(date, now);
    buf_printf(out, "Date: %s\r\n", date);
    buf_printf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", dsn_myorigin());
    buf_printf(out, "Subject: %s\r\n", dsn_subject(r));
    if (r->postmaster_copy) {
        if (r->notify_to && *r->notify_to)
            buf_printf(out, "To: %s\r\n", r->notify_to);
        else
            buf_printf(out, "To: postmaster@%s\r\n", dsn_myorigin());
    } else {
        buf_printf(out, "To: %s\r\n", sender);
    }
    buf_puts(out, "Auto-Submitted: auto-replied\r\n");
    buf_puts(out, "MIME-Version: 1.0\r\n");
    buf_printf(out, "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n",
               boundary);
    if (eight_bit)
        buf_puts(out, "Content-Transfer-Encoding: 8bit\r\n");
    if (new_qid && *new_qid) {
        time_t t = (time_t)now;
        struct tm tm;
        char stamp[32];
        gmtime_r(&t, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
        buf_printf(out, "Message-Id: <%s.%s@%s>\r\n", stamp, new_qid, dsn_myhostname());
    }
    buf_puts(out, "\r\nThis is a MIME-encapsulated message.\r\n");

    buf_printf(out, "\r\n--%s\r\n", boundary);
    buf_puts(out, "Content-Description: Notification\r\n"
                  "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
    buf_append(out, human.data, human.len);

    buf_printf(out, "\r\n--%s\r\n", boundary);
    buf_puts(out, "Content-Description: Delivery report\r\n"
                  "Content-Type: message/delivery-status\r\n\r\n");
    buf_append(out, report.data, report.len);

    if (has_original) {
        buf_printf(out, "\r\n--%s\r\n", boundary);
        if (full_message)
            buf_puts(out, "Content-Description: Undelivered Message\r\n"
                          "Content-Type: message/rfc822\r\n");
        else
            buf_printf(out, "Content-Description: %s\r\n"
                            "Content-Type: text/rfc822-headers\r\n",
                       r->kind == DSN_FAILURE ? "Undelivered Message Headers" : "Message Headers");
        if (eight_bit)
            buf_puts(out, "Content-Transfer-Encoding: 8bit\r\n");
        buf_puts(out, "\r\n");
        buf_append(out, incl.data, incl.len);
    }
    buf_printf(out, "\r\n--%s--\r\n", boundary);

    free(boundary);
    buf_free(&human);
    buf_free(&report);
    buf_free(&incl);
}

char *dsn_loop_hint(const char *addr)
{
    return xasprintf("This message already has a \"Delivered-To: %s\" header, so this system "
                     "took it for mail that has already been delivered here and is looping. "
                     "When the message was fetched from a mailbox on another server (fetchmail "
                     "or yubin's fetcher), that server added the header: have the fetcher drop "
                     "Delivered-To headers (fetchmail: \"dropdelivered\"), or deliver fetched "
                     "mail to a different local address.",
                     addr);
}
