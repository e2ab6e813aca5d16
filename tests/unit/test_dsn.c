/*
 * test_dsn.c - delivery status notifications (src/deliver/dsn.c): the
 * layout Postfix users know, RET/size rules for the third part, ORCPT and
 * ENVID, folding, hostile diagnostic text, and a cross-check of each kind
 * of notice with Python's email parser (tests/unit/dsn_check.py).
 *
 * Trusts: nothing; it sets var_myhostname/var_myorigin itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "deliver/dsn.h"
#include "lib/buf.h"
#include "lib/params.h"
#include "lib/util.h"

#define PYTHON "/usr/bin/python3"
#define ARRIVAL 1795452752.0            /* Mon, 23 Nov 2026 16:52:32 UTC */

static char test_myhostname[] = "mx.example.test";
static char test_myorigin[] = "example.test";

static const char original[] =
    "Received: from client.example.test (client.example.test [127.0.0.1])\r\n"
    "\tby mx.example.test (yubin) with ESMTP id 6F219A769B8\r\n"
    "From: Root <root@example.test>\r\n"
    "To: nosuchuser2@example.test, d-reject@sink.test\r\n"
    "Subject: quarterly numbers\r\n"
    "Message-Id: <orig.1@example.test>\r\n"
    "\r\n"
    "Body line one.\r\n"
    "The secret body text.\r\n";

static int setup(void **state)
{
    (void)state;
    var_myhostname = test_myhostname;
    var_myorigin = test_myorigin;
    return 0;
}

/* ---- helpers ---------------------------------------------------------- */

static bool has(const struct buf *b, const char *s)
{
    return memmem(b->data, b->len, s, strlen(s)) != NULL;
}

static size_t count(const struct buf *b, const char *s)
{
    size_t n = 0, sl = strlen(s);
    const char *p = b->data, *end = b->data + b->len;
    while ((p = memmem(p, (size_t)(end - p), s, sl)) != NULL) {
        n++;
        p += sl;
    }
    return n;
}

/* Does text contain needle once line breaks (CRLF and the indent after
 * them) are read as single spaces? For prose whose wrapping may move. */
static bool flat_has(const char *text, const char *needle)
{
    struct buf flat = BUF_INIT;
    for (const char *c = text; *c; c++) {
        if (c[0] == '\r' && c[1] == '\n') {
            c++;
            while (c[1] == ' ')
                c++;
            buf_putc(&flat, ' ');
            continue;
        }
        buf_putc(&flat, *c);
    }
    bool found = strstr(buf_str(&flat), needle) != NULL;
    buf_free(&flat);
    return found;
}

/* Every line ends in CRLF and is at most max octets; no NUL anywhere;
 * with ascii, no control (except TAB in folds) and no 8-bit octet. */
static void assert_lines(const struct buf *b, size_t max, bool ascii)
{
    size_t start = 0;
    assert_true(b->len >= 2);
    assert_memory_equal(b->data + b->len - 2, "\r\n", 2);
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)b->data[i];
        assert_int_not_equal(c, 0);
        if (c == '\n') {
            assert_true(i > 0 && b->data[i - 1] == '\r');
            assert_true(i - 1 - start <= max);
            start = i + 1;
        } else if (c == '\r') {
            assert_true(i + 1 < b->len && b->data[i + 1] == '\n');
        } else if (ascii) {
            assert_true(c == '\t' || (c >= 0x20 && c < 0x7f));
        }
    }
}

/* The boundary from the top-level Content-Type (caller frees). */
static char *boundary_of(const struct buf *b)
{
    const char *p = strstr(b->data, "boundary=\"");
    assert_non_null(p);
    p += strlen("boundary=\"");
    const char *q = strchr(p, '"');
    assert_non_null(q);
    return xstrndup(p, (size_t)(q - p));
}

/* Part n (1-based) as "part headers CRLF CRLF body", without the CRLF that
 * belongs to the next delimiter. Caller frees. */
static char *part(const struct buf *b, int n)
{
    char *bd = boundary_of(b);
    char *delim = xasprintf("\r\n--%s", bd);
    const char *p = b->data, *end = b->data + b->len;
    for (int i = 0; i < n; i++) {
        p = memmem(p, (size_t)(end - p), delim, strlen(delim));
        assert_non_null(p);
        p += strlen(delim);
        assert_memory_equal(p, "\r\n", 2);
        p += 2;
    }
    const char *q = memmem(p, (size_t)(end - p), delim, strlen(delim));
    assert_non_null(q);
    free(bd);
    free(delim);
    return xstrndup(p, (size_t)(q - p));
}

static void compose(struct buf *out, const struct dsn_report *r, const struct dsn_rcpt *rc, size_t n,
                    const char *orig, size_t orig_len)
{
    buf_init(out);
    dsn_compose(out, r, rc, n, orig, orig_len, "850C4A769E2");
    assert_lines(out, 998, false);
}

static const struct dsn_rcpt rcpt_local = {
    .final_rcpt = "nosuchuser2@example.test",
    .orig_rcpt = "alias2@example.test",
    .action = "failed",
    .status = "5.1.1",
    .diag_type = "X-Yubin",
    .diag_text = "unknown user: \"nosuchuser2\"",
    .reason = "unknown user: \"nosuchuser2\"",
};

static const struct dsn_rcpt rcpt_remote = {
    .final_rcpt = "d-reject@sink.test",
    .action = "failed",
    .status = "5.1.1",
    .remote_mta = "127.0.0.1",
    .diag_type = "smtp",
    .diag_text = "550 5.1.1 <d-reject@sink.test>: Recipient address rejected: User unknown in virtual "
                 "mailbox table",
    .reason = "host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <d-reject@sink.test>: Recipient address "
              "rejected: User unknown in virtual mailbox table (in reply to end of DATA command)",
};

static struct dsn_report failure_report(void)
{
    struct dsn_report r = {
        .kind = DSN_FAILURE,
        .qid = "6F219A769B8",
        .sender = "root@example.test",
        .arrival = ARRIVAL,
        .ret = DSN_RET_NONE,
        .size_limit = 50000,
    };
    return r;
}

/* ---- layout ----------------------------------------------------------- */

static void test_failure_two_recipients(void **state)
{
    (void)state;
    struct dsn_report r = failure_report();
    struct dsn_rcpt rc[2] = {rcpt_local, rcpt_remote};
    struct buf out;
    double before = time_now();
    compose(&out, &r, rc, 2, original, strlen(original));
    double after = time_now();

    /* Header block, in Postfix's order, without Return-Path/Received. */
    assert_memory_equal(out.data, "Date: ", 6);
    const char *hdr_end = strstr(out.data, "\r\n\r\n");
    assert_non_null(hdr_end);
    char *hdr = xstrndup(out.data, (size_t)(hdr_end - out.data) + 2);
    const char *order[] = {"Date: ", "\r\nFrom: Mail Delivery System <MAILER-DAEMON@example.test>\r\n",
                           "\r\nSubject: Undelivered Mail Returned to Sender\r\n",
                           "\r\nTo: root@example.test\r\n", "\r\nAuto-Submitted: auto-replied\r\n",
                           "\r\nMIME-Version: 1.0\r\n",
                           ("\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n"
                            "\tboundary=\"6F219A769B8."),
                           "\r\nMessage-Id: <"};
    const char *at = hdr;
    for (size_t i = 0; i < ARRAY_LEN(order); i++) {
        const char *f = strstr(at, order[i]);
        assert_non_null(f);
        at = f + 1;
    }
    assert_null(strstr(hdr, "Return-Path"));
    assert_null(strstr(hdr, "Received"));
    assert_null(strstr(hdr, "Content-Transfer-Encoding"));

    /* Boundary QID.EPOCH/myhostname, epoch of composing. */
    char *bd = boundary_of(&out);
    long long epoch = 0;
    char host[64] = "";
    assert_int_equal(sscanf(bd, "6F219A769B8.%lld/%63s", &epoch, host), 2);
    assert_string_equal(host, "mx.example.test");
    assert_true(epoch >= (long long)before && epoch <= (long long)after);
    char *end_delim = xasprintf("\r\n--%s--\r\n", bd);
    assert_true(out.len > strlen(end_delim));
    assert_string_equal(out.data + out.len - strlen(end_delim), end_delim);

    /* Message-Id <YYYYMMDDhhmmss.NEWQID@myhostname> in UTC. */
    char stamp[32];
    unsigned long long digits = 0;
    const char *mid = strstr(hdr, "Message-Id: <");
    assert_int_equal(sscanf(mid, "Message-Id: <%14llu.850C4A769E2@mx.example.test>", &digits), 1);
    time_t t = (time_t)epoch;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "Message-Id: <%Y%m%d%H%M%S.850C4A769E2@mx.example.test>\r\n", &tm);
    assert_non_null(strstr(hdr, stamp));

    assert_true(has(&out, "\r\n\r\nThis is a MIME-encapsulated message.\r\n"));

    /* Part 1: the paragraph layout Postfix users know, wrapped at 76. */
    char *p1 = part(&out, 1);
    assert_non_null(strstr(p1, "Content-Description: Notification\r\n"
                               "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
                               "This is the mail system at host mx.example.test.\r\n\r\n"));
    assert_true(flat_has(p1, "could not be delivered to one or more of its recipients."));
    assert_true(flat_has(p1, "will not try again."));
    assert_true(flat_has(p1, "Your message is attached below."));
    assert_non_null(strstr(p1, "\r\n\r\n                   The mail system\r\n\r\n"
                               "<nosuchuser2@example.test> (expanded from <alias2@example.test>): unknown\r\n"
                               "    user: \"nosuchuser2\"\r\n\r\n"
                               "<d-reject@sink.test>: host 127.0.0.1[127.0.0.1] said: 550 5.1.1\r\n"
                               "    <d-reject@sink.test>: Recipient address rejected: User unknown in\r\n"
                               "    virtual mailbox table (in reply to end of DATA command)\r\n"));
    struct buf b1 = {p1, strlen(p1), 0};
    assert_lines(&b1, 76, true);

    /* Part 2: the fields of RFC 3464 as Postfix writes them. */
    char *p2 = part(&out, 2);
    char arrival[64];
    rfc5322_date(arrival, ARRIVAL);
    char *want = xasprintf("Content-Description: Delivery report\r\n"
                           "Content-Type: message/delivery-status\r\n\r\n"
                           "Reporting-MTA: dns; mx.example.test\r\n"
                           "X-Yubin-Queue-ID: 6F219A769B8\r\n"
                           "X-Yubin-Sender: rfc822; root@example.test\r\n"
                           "Arrival-Date: %s\r\n"
                           "\r\n"
                           "Final-Recipient: rfc822; nosuchuser2@example.test\r\n"
                           "Original-Recipient: rfc822;alias2@example.test\r\n"
                           "Action: failed\r\n"
                           "Status: 5.1.1\r\n"
                           "Diagnostic-Code: X-Yubin; unknown user: \"nosuchuser2\"\r\n"
                           "\r\n"
                           "Final-Recipient: rfc822; d-reject@sink.test\r\n"
                           "Original-Recipient: rfc822;d-reject@sink.test\r\n"
                           "Action: failed\r\n"
                           "Status: 5.1.1\r\n"
                           "Remote-MTA: dns; 127.0.0.1\r\n"
                           "Diagnostic-Code: smtp; 550 5.1.1 <d-reject@sink.test>: Recipient address\r\n"
                           "    rejected: User unknown in virtual mailbox table\r\n",
                           arrival);
    assert_string_equal(p2, want);
    assert_false(has(&out, "Will-Retry-Until"));

    /* Part 3: the original, byte for byte. */
    char *p3 = part(&out, 3);
    char *want3 = xasprintf("Content-Description: Undelivered Message\r\n"
                            "Content-Type: message/rfc822\r\n\r\n%s",
                            original);
    assert_string_equal(p3, want3);

    free(hdr);
    free(bd);
    free(end_delim);
    free(p1);
    free(p2);
    free(want);
    free(p3);
    free(want3);
    buf_free(&out);
}

static void test_delay_notice(void **state)
{
    (void)state;
    struct dsn_report r = failure_report();
    r.kind = DSN_DELAY;
    r.delay_hours = 4;
    r.retry_until = ARRIVAL + 5 * 86400;
    struct dsn_rcpt rc = {
        .final_rcpt = "user@dead.test",
        .action = "delayed",
        .status = "4.4.1",
        .diag_type = "X-Yubin",
        .diag_text = "connect to 127.0.0.1[127.0.0.1]:2699: Connection refused",
        .reason = "connect to 127.0.0.1[127.0.0.1]:2699: Connection refused",
    };
    struct buf out;
    compose(&out, &r, &rc, 1, original, strlen(original));

    char until[64];
    rfc5322_date(until, r.retry_until);
    assert_true(has(&out, "\r\nSubject: Delayed Mail (still being retried)\r\n"));
    char *p1 = part(&out, 1);
    assert_non_null(strstr(p1, "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #"));
    assert_true(flat_has(p1, "for more than 4 hours"));
    char *until_text = xasprintf("will be retried until %s;", until);
    assert_true(flat_has(p1, until_text));
    assert_non_null(strstr(p1, "\r\n\r\n<user@dead.test>: connect to 127.0.0.1[127.0.0.1]:2699: Connection "
                               "refused\r\n"));

    char *p2 = part(&out, 2);
    char *will = xasprintf("Action: delayed\r\nStatus: 4.4.1\r\n"
                           "Diagnostic-Code: X-Yubin; connect to 127.0.0.1[127.0.0.1]:2699: Connection\r\n"
                           "    refused\r\n"
                           "Will-Retry-Until: %s\r\n",
                           until);
    assert_non_null(strstr(p2, will));

    /* Delay notices carry the headers only. */
    char *p3 = part(&out, 3);
    assert_non_null(strstr(p3, "Content-Description: Message Headers\r\n"
                               "Content-Type: text/rfc822-headers\r\n\r\n"
                               "Received: from"));
    assert_non_null(strstr(p3, "Subject: quarterly numbers\r\n"));
    assert_null(strstr(p3, "secret body"));
    assert_false(has(&out, "secret body"));

    free(p1);
    free(until_text);
    free(p2);
    free(will);
    free(p3);
    buf_free(&out);
}

static void test_success_notice(void **state)
{
    (void)state;
    struct dsn_report r = failure_report();
    r.kind = DSN_SUCCESS;
    r.retry_until = ARRIVAL + 86400;        /* must be ignored */
    struct dsn_rcpt rc[2] = {
        {.final_rcpt = "joe@example.test", .action = "delivered", .status = "2.0.0",
         .diag_type = "X-Yubin", .diag_text = "delivered to mailbox", .reason = "delivered to mailbox"},
        {.final_rcpt = "list@example.test", .action = "expanded", .status = "2.0.0",
         .diag_type = "X-Yubin", .diag_text = "delivery via local: alias expanded",
         .reason = "delivery via local: alias expanded"},
    };
    struct buf out;
    compose(&out, &r, rc, 2, original, strlen(original));

    assert_true(has(&out, "\r\nSubject: Successful Mail Delivery Report\r\n"));
    assert_true(flat_has(out.data, "Your message was delivered to the recipients listed below."));
    assert_true(has(&out, "\r\n<joe@example.test>: delivered to mailbox\r\n"));
    assert_true(has(&out, "Final-Recipient: rfc822; joe@example.test\r\n"
                          "Original-Recipient: rfc822;joe@example.test\r\n"
                          "Action: delivered\r\nStatus: 2.0.0\r\n"));
    assert_true(has(&out, "Action: expanded\r\nStatus: 2.0.0\r\n"
                          "Diagnostic-Code: X-Yubin; delivery via local: alias expanded\r\n"));
    assert_false(has(&out, "Will-Retry-Until"));
    assert_true(has(&out, "Content-Description: Message Headers\r\nContent-Type: text/rfc822-headers\r\n"));
    assert_false(has(&out, "secret body"));
    buf_free(&out);
}

static void test_defaults_for_action_and_status(void **state)
{
    (void)state;
    struct dsn_report r = failure_report();
    struct dsn_rcpt rc = {.final_rcpt = "x@example.test", .reason = "went wrong"};
    struct buf out;
    compose(&out, &r, &rc, 1, original, strlen(original));
    assert_true(has(&out, "Action: failed\r\nStatus: 5.0.0\r\n"));
    assert_false(has(&out, "Diagnostic-Code"));
    assert_false(has(&out, "Remote-MTA"));
    buf_free(&out);

    r.kind = DSN_DELAY;
    compose(&out, &r, &rc, 1, original, strlen(original));
    assert_true(has(&out, "Action: delayed\r\nStatus: 4.0.0\r\n"));
    assert_true(flat_has(out.data, "could not be delivered yet"));
    assert_false(has(&out, "Will-Retry-Until"));
    buf_free(&out);
}

/* ---- the third part --------------------------------------------------- */

static void test_ret_hdrs(void **state)
{
    (void)state;
    struct dsn_report r = failure_report();
    r.ret = DSN_RET_HDRS;
    struct buf out;
    compose(&out, &r, &rcpt_remote, 1, original, strlen(original));

    char *p3 = part(&out, 3);
    const char *hdr_end = strstr(original, "\r\n\r\n");
    char *want = xasprintf("Content-Description: Undelivered Message Headers\r\n"
                           "Content-Type: text/rfc822-headers\r\n\r\n%.*s",
                           (int)(hdr_end - original + 2), original);
    assert_string_equal(p3, want);
    assert_false(has(&out, "secret body"));
    assert_true(flat_has(out.data, "The headers of your message are attached below."));
    free(p3);
    free(want);
    buf_free(&out);

    /* RET=FULL behaves as unspecified. */
    r.ret = DSN_RET_FULL;
    compose(&out, &r, &rcpt_remote, 1, original, strlen(original));
    assert_true(has(&out, "Content-Type: message/rfc822\r\n"));
    assert_true(has(&out, "secret body"));
    buf_free(&out);
}

static void test_size_limit(void **state)
{
    (void)state;
    struct dsn_report r = failure_report();
    struct buf out;

    r.size_limit = (long)strlen(original) - 1;
    compose(&out, &r, &rcpt_remote, 1, original, strlen(original));
    assert_true(has(&out, "Content-Description: Undelivered Message Headers\r\n"
                          "Content-Type: text/rfc822-headers\r\n"));
    assert_false(has(&out, "message/rfc822"));
    assert_false(has(&out, "secret body"));
    buf_free(&out);

    r.size_limit = (long)strlen(original);
    compose(&out, &r, &rcpt_remote, 1, original, strlen(original));
    assert_true(has(&out, "Content-Description: Undelivered Message\r\nContent-Type: message/rfc822\r\n"));
    assert_true(has(&out, "secret body"));
    buf_free(&out);

    r.size_limit = 0;       /* no limit */
    compose(&out, &r, &rcpt_remote, 1, original, strlen(original));
    assert_true(has(&out, "Content-Type: message/rfc822\r\n"));
    buf_free(&out);
}

static void test_original_edge_cases(void **state)
{
    (void)state;
    struct dsn_report r = failure_report();
    struct buf out;

    /* No original: two parts, no promise of an attachment. */
    compose(&out, &r, &rcpt_remote, 1, NULL, 0);
    assert_false(has(&out, "attached"));
    assert_int_equal(count(&out, "Content-Description: "), 2);
    buf_free(&out);

    /* Header-only message without a final line end gets one before the
     * delimiter, so the delimiter stays on a line of its own. */
    static const char bare[] = "Subject: no body\r\nX-Last: yes";
    r.ret = DSN_RET_HDRS;
    compose(&out, &r, &rcpt_remote, 1, bare, strlen(bare));
    char *p3 = part(&out, 3);
    assert_non_null(strstr(p3, "\r\n\r\nSubject: no body\r\nX-Last: yes\r\n"));
    free(p3);
    buf_free(&out);

    /* 8-bit original: declared 8bit at the top and on the part. */
    static const char eight[] = "Subject: caf\xc3\xa9\r\n\r\nna\xc3\xafve body\r\n";
    r.ret = DSN_RET_NONE;
    compose(&out, &r, &rcpt_remote, 1, eight, strlen(eight));
    assert_int_equal(count(&out, "Content-Transfer-Encoding: 8bit\r\n"), 2);
    assert_true(has(&out, "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                          "Subject: caf\xc3\xa9\r\n\r\nna\xc3\xafve body\r\n"));
    buf_free(&out);
}

static void test_boundary_not_in_original(void **state)
{
    (void)state;
    /* An original that quotes every boundary this test could produce. */
    struct buf orig = BUF_INIT;
    long long now = (long long)time_now();
    buf_puts(&orig, "Subject: boundary trap\r\n\r\n");
    for (long long t = now - 2; t <= now + 30; t++)
        buf_printf(&orig, "--6F219A769B8.%lld/mx.example.test\r\n", t);

    struct dsn_report r = failure_report();
    struct buf out;
    compose(&out, &r, &rcpt_remote, 1, orig.data, orig.len);
    char *bd = boundary_of(&out);
    assert_null(memmem(orig.data, orig.len, bd, strlen(bd)));
    assert_memory_equal(bd, "6F219A769B8.", 12);
    char *delim = xasprintf("\r\n--%s", bd);
    assert_int_equal(count(&out, delim), 4);     /* three parts and the end */
    char *p3 = part(&out, 3);
    assert_non_null(strstr(p3, orig.data));
    free(p3);
    free(delim);
    free(bd);
    buf_free(&out);
    buf_free(&orig);
}

/* ---- ORCPT and ENVID -------------------------------------------------- */

static void test_orcpt(void **state)
{
    (void)state;
    struct dsn_report r = failure_report();
    struct dsn_rcpt rc[4] = {rcpt_remote, rcpt_remote, rcpt_remote, rcpt_local};
    rc[0].orcpt = "rfc822;Joe.Original@Example.Test";
    rc[1].orcpt = "RFC822; spaced@example.test";
    rc[2].orcpt = "utf-8;j\xc3\xb6rg@example.test";
    rc[3].orcpt = NULL;     /* falls back to the address as received */
    struct buf out;
    compose(&out, &r, rc, 4, original, strlen(original));
    assert_true(has(&out, "Final-Recipient: rfc822; d-reject@sink.test\r\n"
                          "Original-Recipient: rfc822;Joe.Original@Example.Test\r\n"));
    assert_true(has(&out, "Original-Recipient: rfc822;spaced@example.test\r\n"));
    assert_true(has(&out, "Original-Recipient: utf-8;j+C3+B6rg@example.test\r\n"));
    assert_true(has(&out, "Final-Recipient: rfc822; nosuchuser2@example.test\r\n"
                          "Original-Recipient: rfc822;alias2@example.test\r\n"));
    /* ORCPT is for programs; the human text keeps the addresses we used. */
    assert_false(has(&out, "(expanded from <Joe.Original"));
    buf_free(&out);
}

static void test_envid(void **state)
{
    (void)state;
    struct dsn_report r = failure_report();
    r.envid = "QQ314159@client.example.test";
    struct buf out;
    compose(&out, &r, &rcpt_local, 1, original, strlen(original));
    assert_true(has(&out, "Content-Type: message/delivery-status\r\n\r\n"
                          "Original-Envelope-Id: QQ314159@client.example.test\r\n"
                          "Reporting-MTA: dns; mx.example.test\r\n"));
    buf_free(&out);

    r.envid = NULL;
    compose(&out, &r, &rcpt_local, 1, original, strlen(original));
    assert_false(has(&out, "Original-Envelope-Id"));
    buf_free(&out);

    /* A decoded ENVID with a space or 8-bit octet stays one US-ASCII token. */
    r.envid = "a b\xff";
    compose(&out, &r, &rcpt_local, 1, original, strlen(original));
    assert_true(has(&out, "Original-Envelope-Id: a+20b+FF\r\n"));
    buf_free(&out);
}

/* ---- folding and hostile text ----------------------------------------- */

static void test_long_diagnostic_folding(void **state)
{
    (void)state;
    struct buf diag = BUF_INIT;
    buf_puts(&diag, "550-5.1.1");
    /* Uneven words, chosen so that folding at 78 (the field) and wrapping
     * at 76 (the human part) each fill some line exactly, and any other
     * width from 70 to 85 would give other lines. */
    for (int i = 0; i < 40; i++)
        buf_printf(&diag, " %.*s", 1 + i * 2 % 5, "abcde");
    struct dsn_report r = failure_report();
    struct dsn_rcpt rc = rcpt_remote;
    rc.diag_text = diag.data;
    rc.reason = diag.data;
    struct buf out;
    compose(&out, &r, &rc, 1, original, strlen(original));

    char *p2 = part(&out, 2);
    const char *f = strstr(p2, "Diagnostic-Code: smtp; 550-5.1.1 a abc abcde ab abcd a");
    assert_non_null(f);
    /* Folded: several lines, each at most 78 columns, continuations
     * indented by four; unfolding gives back the text. */
    struct buf unfolded = BUF_INIT;
    int lines = 0;
    size_t widest = 0;
    const char *line = f;
    for (;;) {
        const char *eol = strstr(line, "\r\n");
        assert_non_null(eol);
        assert_true(eol - line <= 78);
        if (lines > 0) {
            assert_memory_equal(line, "    ", 4);
            assert_true(line[4] != ' ');
            buf_putc(&unfolded, ' ');
            buf_append(&unfolded, line + 4, (size_t)(eol - line - 4));
        } else {
            buf_append(&unfolded, line, (size_t)(eol - line));
        }
        lines++;
        size_t len = (size_t)(eol - line);
        if (len > widest)
            widest = len;
        line = eol + 2;
        if (*line != ' ')
            break;
        /* Greedy: the next line's first word would not have fitted. */
        assert_true(len + 1 + strcspn(line + 4, " \r") > 78);
    }
    assert_int_equal(lines, 3);
    assert_int_equal(widest, 78);
    char *want = xasprintf("Diagnostic-Code: smtp; %s", diag.data);
    assert_string_equal(unfolded.data, want);

    /* The human part wraps the same text at 76. */
    char *p1 = part(&out, 1);
    struct buf b1 = {p1, strlen(p1), 0};
    assert_lines(&b1, 76, true);
    const char *para = strstr(p1, "\r\n<d-reject@sink.test>: 550-5.1.1 a abc abcde ab abcd a");
    assert_non_null(para);
    size_t widest_human = 0;
    for (const char *l = para + 2; *l && strncmp(l, "\r\n", 2) != 0;) {
        const char *eol = strstr(l, "\r\n");
        if ((size_t)(eol - l) > widest_human)
            widest_human = (size_t)(eol - l);
        l = eol + 2;
    }
    assert_int_equal(widest_human, 76);
    free(p1);
    free(want);
    free(p2);
    buf_free(&unfolded);
    buf_free(&out);
    buf_free(&diag);
}

static void test_long_diagnostic_bounded(void **state)
{
    (void)state;
    /* One 5000-octet "word": cut to DSN_TEXT_MAX, no line over 998. */
    char *diag = xmalloc(5001);
    memset(diag, 'A', 5000);
    memcpy(diag, "550 ", 4);
    diag[5000] = 0;
    struct dsn_report r = failure_report();
    struct dsn_rcpt rc = rcpt_remote;
    rc.diag_text = diag;
    rc.reason = diag;
    struct buf out;
    compose(&out, &r, &rc, 1, original, strlen(original));
    assert_lines(&out, 998, true);
    /* Count from where the text starts: field names also contain 'A'. */
    char *p2 = part(&out, 2);
    size_t as = 0;
    for (const char *c = strstr(p2, "Diagnostic-Code: smtp; 550"); c && *c; c++)
        as += *c == 'A';
    assert_int_equal(as, DSN_TEXT_MAX - 4);
    free(p2);
    char *p1 = part(&out, 1);
    as = 0;
    for (const char *c = strstr(p1, "<d-reject@sink.test>: 550"); c && *c; c++)
        as += *c == 'A';
    assert_int_equal(as, DSN_TEXT_MAX - 4);
    free(p1);
    buf_free(&out);
    free(diag);
}

static void test_hostile_diagnostic(void **state)
{
    (void)state;
    /* A remote reply trying to inject a header, a MIME boundary, terminal
     * escapes and 8-bit text; the NUL ends the C string, so what follows
     * it can never be written. */
    static const char evil[] = "550 5.7.1 bad\r\nX-Injected: yes\r\n\r\n--6F219A769B8.1/mx.example.test--"
                               "\x01\x1b[31mred\x7f caf\xc3\xa9 \tend\0hidden";
    struct dsn_report r = failure_report();
    struct dsn_rcpt rc = rcpt_remote;
    rc.diag_text = evil;
    rc.reason = evil;
    rc.remote_mta = "mx\r\nX-Evil: 1.example";
    rc.hint = "hint\r\nX-Hint-Injected: 1";
    struct buf out;
    compose(&out, &r, &rc, 1, original, strlen(original));
    assert_lines(&out, 998, true);

    assert_false(has(&out, "\nX-Injected"));
    assert_false(has(&out, "\nX-Evil"));
    assert_false(has(&out, "\nX-Hint-Injected"));
    assert_false(has(&out, "\n--6F219A769B8.1/"));
    assert_false(has(&out, "hidden"));
    assert_false(has(&out, "\x1b"));
    /* The words survive, cleaned, in both parts. */
    assert_true(has(&out, "Diagnostic-Code: smtp; 550 5.7.1 bad X-Injected: yes"));
    assert_true(has(&out, "[31mred caf?? end\r\n"));
    assert_true(has(&out, "Remote-MTA: dns; mx X-Evil: 1.example\r\n"));
    char *p1 = part(&out, 1);
    assert_non_null(strstr(p1, "<d-reject@sink.test>: 550 5.7.1 bad X-Injected: yes"));
    assert_non_null(strstr(p1, "caf?? end\r\n"));
    assert_non_null(strstr(p1, "\r\n\r\nhint X-Hint-Injected: 1\r\n"));
    free(p1);
    buf_free(&out);
}

static void test_8bit_addresses(void **state)
{
    (void)state;
    struct dsn_report r = failure_report();
    struct dsn_rcpt rc = rcpt_local;
    rc.final_rcpt = "j\xc3\xb6rg@example.test";
    rc.orig_rcpt = NULL;
    struct buf out;
    compose(&out, &r, &rc, 1, original, strlen(original));
    assert_lines(&out, 998, true);
    assert_true(has(&out, "\r\n<j??rg@example.test>: unknown user"));
    assert_true(has(&out, "Final-Recipient: rfc822; j+C3+B6rg@example.test\r\n"));
    buf_free(&out);
}

/* ---- postmaster copies and hints -------------------------------------- */

static void test_postmaster_copy(void **state)
{
    (void)state;
    struct dsn_report r = failure_report();
    r.postmaster_copy = true;
    struct buf out;
    compose(&out, &r, &rcpt_remote, 1, original, strlen(original));
    assert_true(has(&out, "\r\nSubject: Postmaster Copy: Undelivered Mail\r\n"));
    assert_true(has(&out, "\r\nTo: postmaster@example.test\r\n"));
    assert_true(has(&out, "X-Yubin-Sender: rfc822; root@example.test\r\n"));
    /* The postmaster sees headers, not the sender's text. */
    assert_true(has(&out, "Content-Type: text/rfc822-headers\r\n"));
    assert_false(has(&out, "secret body"));
    buf_free(&out);

    r.notify_to = "hostmaster@example.test";
    r.kind = DSN_DELAY;
    compose(&out, &r, &rcpt_remote, 1, original, strlen(original));
    assert_true(has(&out, "\r\nSubject: Postmaster Warning: Delayed Mail\r\n"));
    assert_true(has(&out, "\r\nTo: hostmaster@example.test\r\n"));
    buf_free(&out);

    r.kind = DSN_SUCCESS;
    compose(&out, &r, &rcpt_remote, 1, original, strlen(original));
    assert_true(has(&out, "\r\nSubject: Postmaster Copy: Successful Mail Delivery Report\r\n"));
    buf_free(&out);

    /* A bounce of a bounce goes to the postmaster only; the null sender is
     * then reported as such. */
    r.kind = DSN_FAILURE;
    r.sender = "";
    compose(&out, &r, &rcpt_remote, 1, original, strlen(original));
    assert_true(has(&out, "X-Yubin-Sender: rfc822;\r\n"));
    assert_true(has(&out, "\r\nTo: hostmaster@example.test\r\n"));
    buf_free(&out);
}

/* A notice to the null sender is a caller's bug (it could loop between
 * two servers forever): it must stop the process, not produce mail. */
static void test_null_sender_is_a_bug(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 2);
        struct dsn_report r = failure_report();
        r.sender = "";
        struct buf out = BUF_INIT;
        dsn_compose(&out, &r, &rcpt_remote, 1, original, strlen(original), "850C4A769E2");
        _exit(0);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        assert_int_equal(errno, EINTR);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void test_loop_hint(void **state)
{
    (void)state;
    struct dsn_report r = failure_report();
    char *hint = dsn_loop_hint("receiver@example1.jp");
    struct dsn_rcpt rc = {
        .final_rcpt = "receiver@example1.jp",
        .action = "failed",
        .status = "5.4.6",
        .diag_type = "X-Yubin",
        .diag_text = "mail forwarding loop for receiver@example1.jp",
        .reason = "mail forwarding loop for receiver@example1.jp",
        .hint = hint,
    };
    struct buf out;
    compose(&out, &r, &rc, 1, original, strlen(original));
    char *p1 = part(&out, 1);
    struct buf b1 = {p1, strlen(p1), 0};
    assert_lines(&b1, 76, true);
    /* Its own paragraph after the recipient's, not indented. */
    assert_non_null(strstr(p1, "\r\n\r\n<receiver@example1.jp>: mail forwarding loop for receiver@example1.jp\r\n"
                               "\r\n"
                               "This message already has a \"Delivered-To: receiver@example1.jp\" header, so\r\n"
                               "this system"));
    assert_true(flat_has(p1, "(fetchmail: \"dropdelivered\")"));
    assert_true(flat_has(p1, "or deliver fetched mail to a different local address."));
    assert_non_null(strstr(p1, " local address.\r\n"));
    assert_true(has(&out, "Status: 5.4.6\r\n"
                          "Diagnostic-Code: X-Yubin; mail forwarding loop for receiver@example1.jp\r\n"));
    /* The hint is for people; the report part does not carry it. */
    char *p2 = part(&out, 2);
    assert_null(strstr(p2, "dropdelivered"));
    free(p2);
    free(p1);
    free(hint);
    buf_free(&out);
}

/* ---- independent check with Python's email package -------------------- */

static char *check_script(void)
{
    /* The script sits next to this file; __FILE__ is relative to the
     * directory make runs in. */
    const char *slash = strrchr(__FILE__, '/');
    if (slash == NULL)
        return xstrdup("dsn_check.py");
    return xasprintf("%.*s/dsn_check.py", (int)(slash - __FILE__), __FILE__);
}

/* Write msg to a temp file and run dsn_check.py on it; its exit status.
 * quiet: the check is expected to fail, keep its complaints off stderr. */
static int run_check(const struct buf *msg, const char *expect_json, bool quiet)
{
    /* mkstemp's template: six 'X' replaced by a unique suffix. */
    char path[] = "/tmp/test_dsn.------";
    memset(strrchr(path, '.') + 1, 'X', 6);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write_all(fd, msg->data, msg->len), 0);
    assert_int_equal(close(fd), 0);

    char *script = check_script();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (quiet) {
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0)
                dup2(null, 2);
        }
        char *argv[] = {(char *)PYTHON, script, path, (char *)expect_json, NULL};
        execv(PYTHON, argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        assert_int_equal(errno, EINTR);
    unlink(path);
    free(script);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_python_parses_every_kind(void **state)
{
    (void)state;
    if (access(PYTHON, X_OK) != 0)
        skip();
    char *script = check_script();
    if (access(script, R_OK) != 0)
        fail_msg("%s not found (run the test from the top of the source tree)", script);
    free(script);

    struct buf out;
    struct dsn_report r = failure_report();
    r.envid = "QQ314159";
    struct dsn_rcpt rc[2] = {rcpt_local, rcpt_remote};
    rc[1].orcpt = "rfc822;D-Reject@Sink.Test";
    compose(&out, &r, rc, 2, original, strlen(original));
    assert_int_equal(run_check(&out,
        "{\"subject\": \"Undelivered Mail Returned to Sender\","
        " \"third\": \"message/rfc822\", \"third_description\": \"Undelivered Message\","
        " \"inner_subject\": \"quarterly numbers\","
        " \"message\": {\"Reporting-MTA\": \"dns; mx.example.test\", \"Original-Envelope-Id\": \"QQ314159\","
        "  \"X-Yubin-Queue-ID\": \"6F219A769B8\", \"X-Yubin-Sender\": \"rfc822; root@example.test\"},"
        " \"rcpts\": [{\"Final-Recipient\": \"rfc822; nosuchuser2@example.test\", \"Action\": \"failed\","
        "   \"Status\": \"5.1.1\", \"Original-Recipient\": \"rfc822;alias2@example.test\"},"
        "  {\"Final-Recipient\": \"rfc822; d-reject@sink.test\", \"Action\": \"failed\", \"Status\": \"5.1.1\","
        "   \"Original-Recipient\": \"rfc822;D-Reject@Sink.Test\", \"Remote-MTA\": \"dns; 127.0.0.1\","
        "   \"Diagnostic-Code\": \"smtp; 550 5.1.1 <d-reject@sink.test>: Recipient address rejected:"
        " User unknown in virtual mailbox table\"}],"
        " \"absent\": [\"Will-Retry-Until\"],"
        " \"human\": [\"This is the mail system at host mx.example.test.\","
        "  \"<nosuchuser2@example.test> (expanded from <alias2@example.test>): unknown user\"]}", false), 0);
    /* The checker can fail: a wrong expectation is caught. */
    assert_int_not_equal(run_check(&out,
        "{\"third\": \"message/rfc822\", \"rcpts\": [{\"Final-Recipient\": \"rfc822; nosuchuser2@example.test\","
        " \"Action\": \"failed\", \"Status\": \"5.1.1\"}, {\"Final-Recipient\": \"rfc822; d-reject@sink.test\","
        " \"Action\": \"delivered\", \"Status\": \"5.1.1\"}]}", true), 0);
    assert_int_not_equal(run_check(&out,
        "{\"third\": \"text/rfc822-headers\", \"rcpts\": [{\"Action\": \"failed\"}, {\"Action\": \"failed\"}]}", true),
        0);
    buf_free(&out);

    /* Over-size original with a hostile diagnostic: headers only. */
    r = failure_report();
    r.size_limit = 100;
    struct dsn_rcpt bad = rcpt_remote;
    bad.diag_text = "550 5.7.1 no\r\nX-Injected: yes \xc3\xa9";
    compose(&out, &r, &bad, 1, original, strlen(original));
    assert_int_equal(run_check(&out,
        "{\"third\": \"text/rfc822-headers\", \"third_description\": \"Undelivered Message Headers\","
        " \"rcpts\": [{\"Final-Recipient\": \"rfc822; d-reject@sink.test\", \"Action\": \"failed\","
        "  \"Status\": \"5.1.1\", \"Diagnostic-Code\": \"smtp; 550 5.7.1 no X-Injected: yes ??\"}],"
        " \"absent\": [\"X-Injected\"]}", false), 0);
    buf_free(&out);

    r = failure_report();
    r.kind = DSN_DELAY;
    r.delay_hours = 4;
    r.retry_until = ARRIVAL + 5 * 86400;
    struct dsn_rcpt d = {.final_rcpt = "user@dead.test", .action = "delayed", .status = "4.4.1",
                         .diag_type = "X-Yubin", .diag_text = "connect to 127.0.0.1[127.0.0.1]:2699: refused"};
    compose(&out, &r, &d, 1, original, strlen(original));
    char until[64], *json;
    rfc5322_date(until, r.retry_until);
    json = xasprintf("{\"subject\": \"Delayed Mail (still being retried)\", \"third\": \"text/rfc822-headers\","
                     " \"third_description\": \"Message Headers\","
                     " \"rcpts\": [{\"Final-Recipient\": \"rfc822; user@dead.test\", \"Action\": \"delayed\","
                     "  \"Status\": \"4.4.1\", \"Will-Retry-Until\": \"%s\"}],"
                     " \"human\": [\"THIS IS A WARNING ONLY\", \"for more than 4 hours\"]}",
                     until);
    assert_int_equal(run_check(&out, json, false), 0);
    free(json);
    buf_free(&out);

    r = failure_report();
    r.kind = DSN_SUCCESS;
    struct dsn_rcpt s = {.final_rcpt = "joe@example.test", .action = "delivered", .status = "2.0.0",
                         .diag_type = "X-Yubin", .diag_text = "delivered to mailbox"};
    compose(&out, &r, &s, 1, original, strlen(original));
    assert_int_equal(run_check(&out,
        "{\"subject\": \"Successful Mail Delivery Report\", \"third\": \"text/rfc822-headers\","
        " \"third_description\": \"Message Headers\","
        " \"rcpts\": [{\"Final-Recipient\": \"rfc822; joe@example.test\", \"Action\": \"delivered\","
        "  \"Status\": \"2.0.0\"}], \"absent\": [\"Will-Retry-Until\"]}", false), 0);
    buf_free(&out);

    /* 8-bit original inside message/rfc822. */
    static const char eight[] = "Subject: caf\xc3\xa9\r\nFrom: a@example.test\r\n\r\nna\xc3\xafve\r\n";
    r = failure_report();
    compose(&out, &r, &rcpt_local, 1, eight, strlen(eight));
    assert_int_equal(run_check(&out,
        "{\"third\": \"message/rfc822\", \"inner_subject\": \"caf\\u00e9\","
        " \"rcpts\": [{\"Final-Recipient\": \"rfc822; nosuchuser2@example.test\", \"Action\": \"failed\","
        "  \"Status\": \"5.1.1\"}]}", false), 0);
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_failure_two_recipients, setup),
        cmocka_unit_test_setup(test_delay_notice, setup),
        cmocka_unit_test_setup(test_success_notice, setup),
        cmocka_unit_test_setup(test_defaults_for_action_and_status, setup),
        cmocka_unit_test_setup(test_ret_hdrs, setup),
        cmocka_unit_test_setup(test_size_limit, setup),
        cmocka_unit_test_setup(test_original_edge_cases, setup),
        cmocka_unit_test_setup(test_boundary_not_in_original, setup),
        cmocka_unit_test_setup(test_orcpt, setup),
        cmocka_unit_test_setup(test_envid, setup),
        cmocka_unit_test_setup(test_long_diagnostic_folding, setup),
        cmocka_unit_test_setup(test_long_diagnostic_bounded, setup),
        cmocka_unit_test_setup(test_hostile_diagnostic, setup),
        cmocka_unit_test_setup(test_8bit_addresses, setup),
        cmocka_unit_test_setup(test_postmaster_copy, setup),
        cmocka_unit_test_setup(test_null_sender_is_a_bug, setup),
        cmocka_unit_test_setup(test_loop_hint, setup),
        cmocka_unit_test_setup(test_python_parses_every_kind, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
