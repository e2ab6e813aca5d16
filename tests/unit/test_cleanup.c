/*
 * test_cleanup.c - cleanup's header processing against a real queue in a
 * temporary directory (synchronous commits: no event loop), read back with
 * the queue file reader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <ftw.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/params.h"
#include "lib/util.h"
#include "queue/cleanup.h"
#include "queue/queue.h"
#include "queue/queue_file.h"
#include "receive/smtpd.h"

#define ARRIVAL 1795452738.0

static char tmpdir[256];
static char logpath[300];
static struct queue *q;
static int notified;
static char notified_qid[QID_SIZE];

static void on_notify(void *arg, const char *qid)
{
    (void)arg;
    notified++;
    snprintf(notified_qid, sizeof(notified_qid), "%s", qid);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void load_config(const char *extra)
{
    struct buf text = BUF_INIT, err = BUF_INIT;
    buf_printf(&text,
               "myhostname = mx.example.test\n"
               "mydomain = example.test\n"
               "myorigin = $mydomain\n"
               "queue_directory = %s/queue\n"
               "%s",
               tmpdir, extra ? extra : "");
    if (config_load_string(buf_str(&text), "test", &err) != 0)
        fail_msg("config: %s", buf_str(&err));
    buf_free(&text);
    buf_free(&err);
}

static int setup(void **state)
{
    (void)state;
    /* mkdtemp template: the prefix, then six X characters it replaces. */
    int plen = snprintf(tmpdir, sizeof(tmpdir), "/tmp/yubin-test-cleanup-");
    memset(tmpdir + plen, 'X', 6);
    tmpdir[plen + 6] = 0;
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(logpath, sizeof(logpath), "%s/maillog", tmpdir);
    load_config(NULL);
    log_open("yubin", LOG_TO_FILE, logpath);
    struct buf err = BUF_INIT;
    char *qdir = xasprintf("%s/queue", tmpdir);
    q = queue_open(qdir, false, &err);
    free(qdir);
    if (!q) {
        fprintf(stderr, "queue_open: %s\n", buf_str(&err));
        return -1;
    }
    buf_free(&err);
    notified = 0;
    cleanup_init(q, on_notify, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    queue_close(q);
    q = NULL;
    log_open("yubin", LOG_TO_STDERR, NULL);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

struct result {
    bool done;
    char qid[QID_SIZE];
    char *reply;                /* final reply, NULL = queued */
    char *line_reply;           /* what cleanup_line returned first */
};

static void on_done(void *arg, const char *qid, const char *err)
{
    struct result *r = arg;
    r->done = true;
    snprintf(r->qid, sizeof(r->qid), "%s", qid);
    r->reply = err ? xstrdup(err) : NULL;
}

static void result_free(struct result *r)
{
    free(r->reply);
    free(r->line_reply);
}

static void smtp_env(struct envelope *e, int nrcpt)
{
    envelope_init(e);
    e->sender = xstrdup("sender@client.example");
    envelope_add_rcpt(e, "rcpt@example.test", NULL, 0);
    if (nrcpt > 1)
        envelope_add_rcpt(e, "other@example.org", NULL, 0);
    e->client_name = xstrdup("mail.client.example");
    e->client_addr = xstrdup("192.0.2.1");
    e->client_port = 40000;
    e->helo = xstrdup("client.example");
    e->proto = xstrdup("ESMTP");
    e->origin = xstrdup("smtpd");
    e->arrival = ARRIVAL;
}

static void local_env(struct envelope *e, const char *sender, const char *fullname)
{
    envelope_init(e);
    e->sender = xstrdup(sender);
    envelope_add_rcpt(e, "root", NULL, 0);
    e->uid = 1000;
    e->origin = xstrdup("pickup");
    e->proto = xstrdup("local");
    e->fullname = fullname ? xstrdup(fullname) : NULL;
    e->arrival = ARRIVAL;
}

/* Feed content (CRLF lines) through cleanup. */
static void run(struct envelope *env, unsigned flags, const char *content, struct result *r)
{
    memset(r, 0, sizeof(*r));
    char qid[QID_SIZE];
    qid_new(qid);
    const char *reply = NULL;
    struct cleanup *c = cleanup_open(qid, env, flags, &reply);
    assert_non_null(c);
    const char *p = content;
    while (*p) {
        const char *e = strstr(p, "\r\n");
        size_t len = e ? (size_t)(e - p) + 2 : strlen(p);
        const char *lr = cleanup_line(c, p, len);
        if (lr) {
            r->line_reply = xstrdup(lr);
            break;
        }
        p += len;
    }
    cleanup_close(c, on_done, r);
    assert_true(r->done);         /* no event loop: the commit is synchronous */
    assert_string_equal(r->qid, qid);
}

static int collect(void *arg, const char *p, size_t n)
{
    buf_append(arg, p, n);
    return 0;
}

/* The stored content of a committed message, and its envelope. */
static char *read_back(const char *qid, struct envelope *env)
{
    char *path = xasprintf("%s/queue/messages/%s", tmpdir, qid);
    int fd = open(path, O_RDONLY);
    free(path);
    assert_true(fd >= 0);
    off_t off;
    uint64_t size;
    bool incomplete;
    struct buf err = BUF_INIT, content = BUF_INIT;
    if (qf_read(fd, env, &off, &size, &incomplete, &err) != 0)
        fail_msg("qf_read: %s", buf_str(&err));
    assert_int_equal(qf_read_content(fd, off, collect, &content), 0);
    assert_int_equal(content.len, size);
    close(fd);
    buf_free(&err);
    if (!content.data)
        buf_puts(&content, "");
    return buf_steal(&content);
}

static bool queued(const char *qid)
{
    char *path = xasprintf("%s/queue/messages/%s", tmpdir, qid);
    bool there = access(path, F_OK) == 0;
    free(path);
    return there;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static char *read_log(void)
{
    FILE *f = fopen(logpath, "r");
    struct buf b = BUF_INIT;
    buf_puts(&b, "");
    if (f) {
        char line[4096];
        while (fgets(line, sizeof(line), f))
            buf_puts(&b, line);
        fclose(f);
    }
    return buf_steal(&b);
}

/* ---- tests ---- */

static void test_header_name_len(void **state)
{
    (void)state;
    assert_int_equal(header_name_len("Subject: x\r\n", 12), 7);
    assert_int_equal(header_name_len("X-Weird-Name : x\r\n", 18), 12);
    assert_int_equal(header_name_len("Subject:\r\n", 10), 7);
    assert_int_equal(header_name_len(": x\r\n", 5), 0);
    assert_int_equal(header_name_len(" folded: x\r\n", 12), 0);
    assert_int_equal(header_name_len("From root  Mon Nov 23 16:52:18 2026\r\n", 37), 0);
    assert_int_equal(header_name_len("no colon here\r\n", 15), 0);
    assert_int_equal(header_name_len("Subject", 7), 0);
    assert_int_equal(header_name_len("Sub\x01ject: x\r\n", 13), 0);
}

static void test_smtp_received(void **state)
{
    (void)state;
    struct envelope env;
    smtp_env(&env, 1);
    struct result r;
    const char *msg = "Subject: hello\r\nMessage-Id: <abc@client.example>\r\n\r\nbody line\r\n";
    run(&env, 0, msg, &r);
    assert_null(r.reply);
    assert_int_equal(notified, 1);
    assert_string_equal(notified_qid, r.qid);

    struct envelope back;
    char *content = read_back(r.qid, &back);
    char date[64];
    rfc5322_date(date, ARRIVAL);
    char *want = xasprintf("Received: from client.example (mail.client.example [192.0.2.1])\r\n"
                           "\tby mx.example.test (yubin) with ESMTP id %s\r\n"
                           "\tfor <rcpt@example.test>; %s\r\n%s",
                           r.qid, date, msg);
    assert_string_equal(content, want);
    /* SMTP mail is not completed with local headers. */
    assert_null(strstr(content, "Date:"));
    assert_int_equal(count(content, "Received:"), 1);
    assert_string_equal(back.sender, "sender@client.example");
    assert_int_equal(back.nrcpt, 1);

    char *log = read_log();
    char *line = xasprintf("cleanup[%ld]: %s: message-id=<abc@client.example>", (long)getpid(), r.qid);
    assert_non_null(strstr(log, line));
    free(line);
    free(log);
    free(want);
    free(content);
    envelope_free(&back);
    envelope_free(&env);
    result_free(&r);
}

static void test_smtp_two_rcpts_tls_ipv6(void **state)
{
    (void)state;
    struct envelope env;
    smtp_env(&env, 2);
    envelope_set(&env.client_addr, "2001:db8::1");
    envelope_set(&env.proto, "ESMTPS");
    envelope_set(&env.tls, "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)");
    struct result r;
    run(&env, 0, "Subject: x\r\n\r\nb\r\n", &r);
    assert_null(r.reply);
    struct envelope back;
    char *content = read_back(r.qid, &back);
    char date[64];
    rfc5322_date(date, ARRIVAL);
    char *want = xasprintf("Received: from client.example (mail.client.example [IPv6:2001:db8::1])\r\n"
                           "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"
                           "\tby mx.example.test (yubin) with ESMTPS id %s; %s\r\n"
                           "Subject: x\r\n\r\nb\r\n",
                           r.qid, date);
    assert_string_equal(content, want);
    free(want);
    free(content);
    envelope_free(&back);
    envelope_free(&env);
    result_free(&r);
}

static void test_helo_cannot_inject(void **state)
{
    (void)state;
    struct envelope env;
    smtp_env(&env, 1);
    /* A control character in an envelope value never reaches a header:
     * the queue refuses the envelope as a whole. */
    envelope_set(&env.helo, "evil\r\nX-Injected: yes");
    char qid[QID_SIZE];
    qid_new(qid);
    const char *reply = NULL;
    assert_null(cleanup_open(qid, &env, 0, &reply));
    assert_string_equal(reply, "451 4.3.0 Error: queue file write error");
    assert_false(queued(qid));

    /* An over-long HELO name is cut in the Received: line. */
    char helo[1001];
    memset(helo, 'a', 1000);
    helo[1000] = 0;
    envelope_set(&env.helo, helo);
    struct result r;
    run(&env, 0, "Subject: x\r\n\r\nb\r\n", &r);
    assert_null(r.reply);
    struct envelope back;
    char *content = read_back(r.qid, &back);
    char *want = xasprintf("Received: from %.255s (mail.client.example [192.0.2.1])\r\n", helo);
    assert_true(strncmp(content, want, strlen(want)) == 0);
    free(want);
    free(content);
    envelope_free(&back);
    envelope_free(&env);
    result_free(&r);
}

static void test_local_adds_missing(void **state)
{
    (void)state;
    struct envelope env;
    local_env(&env, "alice", "Alice Example");
    struct result r;
    run(&env, CLEANUP_LOCAL, "To: root\r\nSubject: local\r\n\r\nhi\r\n", &r);
    assert_null(r.reply);
    struct envelope back;
    char *content = read_back(r.qid, &back);
    char date[64];
    rfc5322_date(date, ARRIVAL);
    time_t t = (time_t)ARRIVAL;
    struct tm tm;
    gmtime_r(&t, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
    char *want = xasprintf("Received: by mx.example.test (yubin, from userid 1000)\r\n"
                           "\tid %s; %s\r\n"
                           "To: root\r\nSubject: local\r\n"
                           "Message-Id: <%s.%s@mx.example.test>\r\n"
                           "Date: %s\r\n"
                           "From: Alice Example <alice@example.test>\r\n"
                           "\r\nhi\r\n",
                           r.qid, date, stamp, r.qid, date);
    assert_string_equal(content, want);
    /* Unqualified envelope addresses got @$myorigin. */
    assert_string_equal(back.sender, "alice@example.test");
    assert_string_equal(back.rcpt[0].addr, "root@example.test");
    assert_int_equal(back.uid, 1000);
    free(want);
    free(content);
    envelope_free(&back);
    envelope_free(&env);
    result_free(&r);
}

static void test_local_keeps_present(void **state)
{
    (void)state;
    struct envelope env;
    local_env(&env, "alice@elsewhere.example", "Cron Daemon (x)");
    struct result r;
    const char *msg = "from: someone@example.org\r\nDATE: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
                      "Message-ID: <given@example.org>\r\n\r\nhi\r\n";
    run(&env, CLEANUP_LOCAL, msg, &r);
    assert_null(r.reply);
    struct envelope back;
    char *content = read_back(r.qid, &back);
    assert_int_equal(count(content, "Message-I"), 1);
    assert_null(strstr(content, "\r\nDate:"));
    assert_null(strstr(content, "\r\nFrom:"));
    assert_non_null(strstr(content, msg));
    assert_string_equal(back.sender, "alice@elsewhere.example");
    free(content);
    envelope_free(&back);

    /* A full name with specials is quoted; the null sender is MAILER-DAEMON. */
    run(&env, CLEANUP_LOCAL, "Subject: x\r\n\r\nhi\r\n", &r);
    content = read_back(r.qid, &back);
    assert_non_null(strstr(content, "\r\nFrom: \"Cron Daemon (x)\" <alice@elsewhere.example>\r\n"));
    free(content);
    envelope_free(&back);
    envelope_free(&env);
    result_free(&r);

    local_env(&env, "", NULL);
    run(&env, CLEANUP_LOCAL, "Subject: x\r\n\r\nhi\r\n", &r);
    content = read_back(r.qid, &back);
    assert_non_null(strstr(content, "\r\nFrom: MAILER-DAEMON@example.test\r\n"));
    assert_string_equal(back.sender, "");
    free(content);
    envelope_free(&back);
    envelope_free(&env);
    result_free(&r);
}

static void test_drop_headers(void **state)
{
    (void)state;
    struct envelope env;
    smtp_env(&env, 1);
    struct result r;
    run(&env, 0,
        "Return-Path: <x@y>\r\nTo: a@example.test\r\nBcc: secret@example.test,\r\n"
        "\tsecret2@example.test\r\nResent-Bcc: s3@example.test\r\nContent-Length: 12\r\n"
        "Subject: keep\r\n  folded subject\r\n\r\nBcc: this is body\r\n",
        &r);
    assert_null(r.reply);
    struct envelope back;
    char *content = read_back(r.qid, &back);
    const char *hdr = strstr(content, "To: a@example.test");
    assert_non_null(hdr);
    assert_string_equal(hdr, "To: a@example.test\r\nSubject: keep\r\n  folded subject\r\n\r\nBcc: this is body\r\n");
    assert_null(strstr(content, "secret"));
    assert_null(strstr(content, "Return-Path"));
    free(content);
    envelope_free(&back);
    envelope_free(&env);
    result_free(&r);
}

static char *received_lines(int n)
{
    struct buf b = BUF_INIT;
    for (int i = 0; i < n; i++)
        buf_printf(&b, "Received: from h%d.example by h%d.example;\r\n\tMon, 1 Jan 2024 00:00:00 +0000\r\n", i,
                   i + 1);
    buf_puts(&b, "Subject: loop\r\n\r\nbody\r\n");
    return buf_steal(&b);
}

static void test_hop_limit(void **state)
{
    (void)state;
    struct envelope env;
    smtp_env(&env, 1);
    struct result r;
    /* 49 Received: headers plus ours are 50 = hopcount_limit: refused. */
    char *msg = received_lines(49);
    run(&env, 0, msg, &r);
    assert_string_equal(r.reply, "554 5.4.0 Error: too many hops");
    assert_string_equal(r.line_reply, "554 5.4.0 Error: too many hops");
    assert_false(queued(r.qid));
    assert_int_equal(notified, 0);
    free(msg);
    result_free(&r);

    /* 48 plus ours: accepted, with 49 Received: lines stored. */
    msg = received_lines(48);
    run(&env, 0, msg, &r);
    assert_null(r.reply);
    assert_null(r.line_reply);
    struct envelope back;
    char *content = read_back(r.qid, &back);
    assert_int_equal(count(content, "Received:"), 49);
    assert_true(strncmp(content, "Received: from client.example", 29) == 0);
    free(content);
    envelope_free(&back);
    free(msg);
    result_free(&r);

    /* Notifications we generate do not count our own line. */
    msg = received_lines(49);
    run(&env, CLEANUP_BOUNCE, msg, &r);
    assert_null(r.reply);
    free(msg);
    result_free(&r);
    envelope_free(&env);
}

static void test_size_limit(void **state)
{
    (void)state;
    load_config("message_size_limit = 1000\n");
    struct envelope env;
    smtp_env(&env, 1);
    struct buf msg = BUF_INIT;
    buf_puts(&msg, "Subject: big\r\n\r\n");
    for (int i = 0; i < 40; i++)
        buf_puts(&msg, "0123456789012345678901234567890123456789\r\n");
    struct result r;
    run(&env, 0, buf_str(&msg), &r);
    assert_string_equal(r.line_reply, "552 5.3.4 Error: message file too big");
    assert_string_equal(r.reply, "552 5.3.4 Error: message file too big");
    assert_false(queued(r.qid));
    assert_int_equal(notified, 0);
    result_free(&r);

    /* The header additions count too: content that fits alone does not
     * fit with our Received: line in front. */
    buf_reset(&msg);
    buf_puts(&msg, "Subject: s\r\n\r\n");
    while (msg.len < 900)
        buf_puts(&msg, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n");
    run(&env, 0, buf_str(&msg), &r);
    assert_string_equal(r.reply, "552 5.3.4 Error: message file too big");
    result_free(&r);

    buf_reset(&msg);
    buf_puts(&msg, "Subject: small\r\n\r\nfits\r\n");
    run(&env, 0, buf_str(&msg), &r);
    assert_null(r.reply);
    assert_true(queued(r.qid));
    result_free(&r);
    buf_free(&msg);
    envelope_free(&env);
    load_config(NULL);
}

static void test_header_over_limit(void **state)
{
    (void)state;
    load_config("header_size_limit = 60\n");
    struct envelope env;
    local_env(&env, "alice", NULL);
    struct result r;
    /* The third field does not fit: the header block ends before it and a
     * blank line keeps it in the body; local headers go before the blank. */
    run(&env, CLEANUP_LOCAL,
        "Subject: one\r\nX-Two: two\r\nX-Three: three three three three three\r\nX-Four: 4\r\n\r\nbody\r\n", &r);
    assert_null(r.reply);
    struct envelope back;
    char *content = read_back(r.qid, &back);
    const char *subj = strstr(content, "Subject: one\r\nX-Two: two\r\nMessage-Id: <");
    assert_non_null(subj);
    const char *from = strstr(content, "From: alice@example.test\r\n\r\nX-Three: three");
    assert_non_null(from);
    assert_non_null(strstr(content, "\r\nX-Four: 4\r\n\r\nbody\r\n"));
    free(content);
    envelope_free(&back);
    envelope_free(&env);
    result_free(&r);
    load_config(NULL);
}

static void test_body_only_and_empty(void **state)
{
    (void)state;
    struct envelope env;
    smtp_env(&env, 1);
    struct result r;
    run(&env, 0, "just a body line\r\nanother: looks like a header\r\n", &r);
    assert_null(r.reply);
    struct envelope back;
    char *content = read_back(r.qid, &back);
    const char *rest = strstr(content, "\r\n\r\n");
    assert_non_null(rest);
    assert_string_equal(rest, "\r\n\r\njust a body line\r\nanother: looks like a header\r\n");
    assert_true(strncmp(content, "Received: ", 10) == 0);
    free(content);
    envelope_free(&back);
    result_free(&r);

    /* Empty content: just our Received: line. */
    run(&env, 0, "", &r);
    assert_null(r.reply);
    content = read_back(r.qid, &back);
    assert_true(strncmp(content, "Received: from client.example", 29) == 0);
    assert_int_equal(count(content, "\r\n"), 3);
    free(content);
    envelope_free(&back);
    result_free(&r);

    /* A message that starts with the blank line. */
    run(&env, 0, "\r\nbody\r\n", &r);
    content = read_back(r.qid, &back);
    rest = strstr(content, "\r\n\r\n");
    assert_string_equal(rest, "\r\n\r\nbody\r\n");
    free(content);
    envelope_free(&back);
    result_free(&r);

    char *log = read_log();
    assert_non_null(strstr(log, ": message-id=<>\n"));
    free(log);
    envelope_free(&env);
}

static void test_dedupe_and_qualify(void **state)
{
    (void)state;
    struct envelope env;
    local_env(&env, "alice", NULL);
    envelope_add_rcpt(&env, "root@example.test", NULL, 0);
    envelope_add_rcpt(&env, "bob", NULL, 0);
    envelope_add_rcpt(&env, "root", NULL, 0);
    envelope_add_rcpt(&env, "\"odd@name\"", NULL, 0);
    struct result r;
    run(&env, CLEANUP_LOCAL, "Subject: x\r\n\r\nhi\r\n", &r);
    assert_null(r.reply);
    struct envelope back;
    char *content = read_back(r.qid, &back);
    assert_int_equal(back.nrcpt, 3);
    assert_string_equal(back.rcpt[0].addr, "root@example.test");
    assert_string_equal(back.rcpt[1].addr, "bob@example.test");
    assert_string_equal(back.rcpt[2].addr, "\"odd@name\"@example.test");
    free(content);
    envelope_free(&back);
    envelope_free(&env);
    result_free(&r);
}

static void test_sink(void **state)
{
    (void)state;
    struct msg_sink s;
    cleanup_sink(&s);
    assert_true(s.has_space(s.ctx));
    struct envelope env;
    smtp_env(&env, 1);
    char qid[QID_SIZE];
    qid_new(qid);
    const char *reply = NULL;
    void *h = s.open(s.ctx, qid, &env, &reply);
    assert_non_null(h);
    assert_null(s.line(h, "Subject: sink\r\n", 15));
    assert_null(s.line(h, "\r\n", 2));
    assert_null(s.line(h, "x\r\n", 3));
    struct result r;
    memset(&r, 0, sizeof(r));
    s.close(h, on_done, &r);
    assert_true(r.done);
    assert_null(r.reply);
    assert_true(queued(qid));

    /* Aborted messages leave nothing behind. */
    qid_new(qid);
    h = s.open(s.ctx, qid, &env, &reply);
    assert_non_null(h);
    assert_null(s.line(h, "Subject: gone\r\n", 15));
    s.abort(h);
    assert_false(queued(qid));
    envelope_free(&env);
    result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_name_len),
        cmocka_unit_test_setup_teardown(test_smtp_received, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smtp_two_rcpts_tls_ipv6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_helo_cannot_inject, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_adds_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_keeps_present, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hop_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_over_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_only_and_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe_and_qualify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
