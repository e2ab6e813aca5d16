/*
 * test_smtp_cmd.c - the SMTP command parser (smtp_cmd.c): every verb, MAIL
 * and RCPT with their ESMTP parameters, DSN xtext edge cases, SIZE
 * overflow, BODY values, BDAT arguments and the non-SMTP commands that end
 * a session.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "receive/smtp_cmd.h"

/* Parse a C string; the reply (or NULL) is returned, c is left for checks. */
static const char *parse(const char *line, unsigned flags, struct smtp_cmd *c)
{
    return smtp_cmd_parse(line, strlen(line), flags, c);
}

static void expect_ok(const char *line, unsigned flags, enum smtp_verb verb)
{
    struct smtp_cmd c;
    const char *err = parse(line, flags, &c);
    if (err)
        fail_msg("\"%s\": unexpected error \"%s\"", line, err);
    assert_int_equal(c.verb, verb);
    smtp_cmd_free(&c);
}

static void expect_err(const char *line, unsigned flags, const char *reply)
{
    struct smtp_cmd c;
    const char *err = parse(line, flags, &c);
    if (!err)
        fail_msg("\"%s\": accepted, expected \"%s\"", line, reply);
    if (strcmp(err, reply) != 0)
        fail_msg("\"%s\": got \"%s\", expected \"%s\"", line, err, reply);
    smtp_cmd_free(&c);
}

static void test_verbs(void **state)
{
    (void)state;
    expect_ok("HELO client.example", 0, SMTP_HELO);
    expect_ok("ehlo client.example", 0, SMTP_EHLO);
    expect_ok("MAIL FROM:<a@example.org>", 0, SMTP_MAIL);
    expect_ok("Rcpt To:<b@example.org>", 0, SMTP_RCPT);
    expect_ok("DATA", 0, SMTP_DATA);
    expect_ok("BDAT 10", 0, SMTP_BDAT);
    expect_ok("RSET", 0, SMTP_RSET);
    expect_ok("NOOP", 0, SMTP_NOOP);
    expect_ok("NOOP anything at all", 0, SMTP_NOOP);
    expect_ok("QUIT", 0, SMTP_QUIT);
    expect_ok("VRFY postmaster", 0, SMTP_VRFY);
    expect_ok("EXPN staff", 0, SMTP_EXPN);
    expect_ok("HELP", 0, SMTP_HELP);
    expect_ok("HELP MAIL", 0, SMTP_HELP);
    expect_ok("STARTTLS", 0, SMTP_STARTTLS);
    expect_ok("AUTH PLAIN AGZvbwBiYXI=", 0, SMTP_AUTH);
    expect_ok("ETRN example.org", 0, SMTP_ETRN);
    /* trailing blanks are not arguments */
    expect_ok("DATA  ", 0, SMTP_DATA);
    expect_ok("quit\t", 0, SMTP_QUIT);
}

static void test_verb_args(void **state)
{
    (void)state;
    expect_err("HELO", 0, "501 5.5.4 Syntax: HELO hostname");
    expect_err("EHLO   ", 0, "501 5.5.4 Syntax: EHLO hostname");
    expect_err("DATA now", 0, "501 5.5.4 Syntax: DATA");
    expect_err("RSET x", 0, "501 5.5.4 Syntax: RSET");
    expect_err("QUIT now", 0, "501 5.5.4 Syntax: QUIT");
    expect_err("STARTTLS x", 0, "501 5.5.4 Syntax: STARTTLS");
    expect_err("VRFY", 0, "501 5.5.4 Syntax: VRFY address");

    struct smtp_cmd c;
    assert_null(parse("EHLO  mx.example.org  ", 0, &c));
    assert_int_equal(c.arg_len, strlen("mx.example.org"));
    assert_memory_equal(c.arg, "mx.example.org", c.arg_len);
    smtp_cmd_free(&c);
}

static void test_unknown_and_forbidden(void **state)
{
    (void)state;
    expect_err("XYZZY", 0, "500 5.5.2 Error: command not recognized");
    expect_err("MAILFROM:<a@b.example>", 0, "500 5.5.2 Error: command not recognized");
    expect_err("", 0, "500 5.5.2 Error: bad syntax");
    expect_err("   ", 0, "500 5.5.2 Error: bad syntax");

    static const char *const web[] = {
        "GET / HTTP/1.1", "POST /cgi-bin/x HTTP/1.0", "CONNECT mx.example:25 HTTP/1.1", "get /",
        "Host: mx.example.org", "User-Agent: curl/8", "Content-Type: text/plain",
        "\x16\x03\x01\x02", "<html>", "123 hello",
    };
    for (size_t i = 0; i < sizeof(web) / sizeof(web[0]); i++) {
        struct smtp_cmd c;
        const char *err = parse(web[i], 0, &c);
        assert_non_null(err);
        assert_string_equal(err, "221 2.7.0 Error: I can break rules, too. Goodbye.");
        assert_int_equal(c.verb, SMTP_FORBIDDEN);
        smtp_cmd_free(&c);
    }
}

static void test_mail_paths(void **state)
{
    (void)state;
    struct smtp_cmd c;
    assert_null(parse("MAIL FROM:<Alice@Example.ORG>", 0, &c));
    assert_string_equal(c.addr.addr, "Alice@example.org");
    assert_false(c.has_size);
    assert_int_equal(c.body, BODY_NONE);
    smtp_cmd_free(&c);

    /* a space after the colon is common and accepted */
    assert_null(parse("MAIL FROM: <a@example.org>", 0, &c));
    assert_string_equal(c.addr.addr, "a@example.org");
    smtp_cmd_free(&c);

    assert_null(parse("mail from:<>", 0, &c));
    assert_true(c.addr.is_null);
    assert_string_equal(c.addr.addr, "");
    smtp_cmd_free(&c);

    /* source routes are stripped and mark the address */
    assert_null(parse("MAIL FROM:<@relay.example:a@example.org>", 0, &c));
    assert_string_equal(c.addr.addr, "a@example.org");
    assert_true(c.addr.routed);
    smtp_cmd_free(&c);

    expect_err("MAIL <a@example.org>", 0, "501 5.5.4 Syntax: MAIL FROM:<address>");
    expect_err("MAIL TO:<a@example.org>", 0, "501 5.5.4 Syntax: MAIL FROM:<address>");
    expect_err("MAIL FROM:", 0, "501 5.5.4 Syntax: MAIL FROM:<address>");
    expect_err("MAIL", 0, "501 5.5.4 Syntax: MAIL FROM:<address>");
    expect_err("MAIL FROM:<a@@example.org>", 0, "501 5.1.7 Bad sender address syntax");
    expect_err("MAIL FROM:<a@example.org", 0, "501 5.1.7 Bad sender address syntax");
    expect_err("MAIL FROM:<a b@example.org>", 0, "501 5.1.7 Bad sender address syntax");
    expect_err("MAIL FROM:<a@example.org>junk", 0, "501 5.1.7 Bad sender address syntax");
}

static void test_mail_size(void **state)
{
    (void)state;
    struct smtp_cmd c;
    assert_null(parse("MAIL FROM:<a@example.org> SIZE=10240000", 0, &c));
    assert_true(c.has_size);
    assert_int_equal(c.size, 10240000);
    smtp_cmd_free(&c);

    assert_null(parse("MAIL FROM:<a@example.org> size=0", 0, &c));
    assert_true(c.has_size);
    assert_int_equal(c.size, 0);
    smtp_cmd_free(&c);

    assert_null(parse("MAIL FROM:<a@example.org> SIZE=18446744073709551615", 0, &c));
    assert_true(c.size == UINT64_MAX);
    smtp_cmd_free(&c);

    expect_err("MAIL FROM:<a@example.org> SIZE=18446744073709551616", 0,
               "552 5.3.4 Message size exceeds fixed limit");
    expect_err("MAIL FROM:<a@example.org> SIZE=99999999999999999999", 0,
               "552 5.3.4 Message size exceeds fixed limit");
    expect_err("MAIL FROM:<a@example.org> SIZE=000000000000000000000000000001", 0,
               "552 5.3.4 Message size exceeds fixed limit");
    expect_err("MAIL FROM:<a@example.org> SIZE=12k", 0, "501 5.5.4 Error: Bad SIZE parameter syntax");
    expect_err("MAIL FROM:<a@example.org> SIZE=-1", 0, "501 5.5.4 Error: Bad SIZE parameter syntax");
    expect_err("MAIL FROM:<a@example.org> SIZE", 0, "501 5.5.4 Error: Bad SIZE parameter syntax");
    expect_err("MAIL FROM:<a@example.org> SIZE=", 0, "501 5.5.4 Error: Bad parameter syntax");
    expect_err("MAIL FROM:<a@example.org> SIZE=1 SIZE=2", 0, "501 5.5.4 Error: duplicate SIZE parameter");
}

static void test_mail_body_and_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        enum body_type body;
    } ok[] = {
        {"MAIL FROM:<a@example.org> BODY=7BIT", BODY_7BIT},
        {"MAIL FROM:<a@example.org> BODY=8bitmime", BODY_8BITMIME},
        {"MAIL FROM:<a@example.org> BODY=BINARYMIME", BODY_BINARYMIME},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct smtp_cmd c;
        assert_null(parse(ok[i].line, 0, &c));
        assert_int_equal(c.body, ok[i].body);
        smtp_cmd_free(&c);
    }
    expect_err("MAIL FROM:<a@example.org> BODY=8BIT", 0, "501 5.5.4 Error: Bad BODY parameter syntax");
    expect_err("MAIL FROM:<a@example.org> BODY", 0, "501 5.5.4 Error: Bad BODY parameter syntax");

    struct smtp_cmd c;
    assert_null(parse("MAIL FROM:<a@example.org> SMTPUTF8", SMTP_CMD_ALLOW_UTF8, &c));
    assert_true(c.smtputf8);
    smtp_cmd_free(&c);
    expect_err("MAIL FROM:<a@example.org> SMTPUTF8", 0, "555 5.5.4 Unsupported option: SMTPUTF8");
    expect_err("MAIL FROM:<a@example.org> SMTPUTF8=yes", SMTP_CMD_ALLOW_UTF8,
               "555 5.5.4 Unsupported option: SMTPUTF8=yes");

    /* UTF-8 in the sender needs the SMTPUTF8 parameter on the same command */
    assert_null(parse("MAIL FROM:<j\xc3\xb6rg@example.org> SMTPUTF8", SMTP_CMD_ALLOW_UTF8, &c));
    assert_true(c.addr.utf8);
    smtp_cmd_free(&c);
    expect_err("MAIL FROM:<j\xc3\xb6rg@example.org>", SMTP_CMD_ALLOW_UTF8,
               "553 5.6.7 Must declare SMTPUTF8 to send unicode address");
    /* and for RCPT the session passes the transaction's SMTPUTF8 as the flag */
    expect_ok("RCPT TO:<j\xc3\xb6rg@example.org>", SMTP_CMD_ALLOW_UTF8, SMTP_RCPT);
    expect_err("RCPT TO:<j\xc3\xb6rg@example.org>", 0,
               "553 5.6.7 Must declare SMTPUTF8 to send unicode address");
}

static void test_mail_dsn(void **state)
{
    (void)state;
    struct smtp_cmd c;
    assert_null(parse("MAIL FROM:<a@example.org> RET=HDRS ENVID=QQ314159+2Bx  BODY=8BITMIME", 0, &c));
    assert_int_equal(c.ret, DSN_RET_HDRS);
    assert_string_equal(c.envid, "QQ314159+x");
    assert_int_equal(c.body, BODY_8BITMIME);
    smtp_cmd_free(&c);
    assert_null(c.envid);

    assert_null(parse("MAIL FROM:<a@example.org> ret=full", 0, &c));
    assert_int_equal(c.ret, DSN_RET_FULL);
    smtp_cmd_free(&c);

    expect_err("MAIL FROM:<a@example.org> RET=ALL", 0, "501 5.5.4 Error: Bad RET parameter syntax");
    /* a decoded newline, NUL or CR is an injection attempt (Exim 21Nails) */
    expect_err("MAIL FROM:<a@example.org> ENVID=a+0Ab", 0, "501 5.5.4 Error: Bad ENVID parameter syntax");
    expect_err("MAIL FROM:<a@example.org> ENVID=a+00b", 0, "501 5.5.4 Error: Bad ENVID parameter syntax");
    expect_err("MAIL FROM:<a@example.org> ENVID=a+0db", 0, "501 5.5.4 Error: Bad ENVID parameter syntax");
    expect_err("MAIL FROM:<a@example.org> ENVID=a+ZZ", 0, "501 5.5.4 Error: Bad ENVID parameter syntax");
    expect_err("MAIL FROM:<a@example.org> ENVID=a+2", 0, "501 5.5.4 Error: Bad ENVID parameter syntax");
    expect_err("MAIL FROM:<a@example.org> ENVID=a+", 0, "501 5.5.4 Error: Bad ENVID parameter syntax");
    expect_err("MAIL FROM:<a@example.org> ENVID=x ENVID=y", 0, "501 5.5.4 Error: duplicate ENVID parameter");

    /* ENVID is at most 100 characters (RFC 3461 4.4) */
    char line[300];
    char id[120];
    memset(id, 'e', 100);
    id[100] = 0;
    snprintf(line, sizeof(line), "MAIL FROM:<a@example.org> ENVID=%s", id);
    assert_null(parse(line, 0, &c));
    assert_int_equal(strlen(c.envid), 100);
    smtp_cmd_free(&c);
    memset(id, 'e', 101);
    id[101] = 0;
    snprintf(line, sizeof(line), "MAIL FROM:<a@example.org> ENVID=%s", id);
    expect_err(line, 0, "501 5.5.4 Error: Bad ENVID parameter syntax");

    expect_err("MAIL FROM:<a@example.org> FOO=bar", 0, "555 5.5.4 Unsupported option: FOO=bar");
    expect_err("MAIL FROM:<a@example.org> NOTIFY=NEVER", 0, "555 5.5.4 Unsupported option: NOTIFY=NEVER");
    expect_err("MAIL FROM:<a@example.org> AUTH=<>", 0, "555 5.5.4 Unsupported option: AUTH=<>");
    expect_err("MAIL FROM:<a@example.org> =x", 0, "501 5.5.4 Error: Bad parameter syntax");
    expect_err("MAIL FROM:<a@example.org> -X=1", 0, "501 5.5.4 Error: Bad parameter syntax");
    expect_err("MAIL FROM:<a@example.org> BODY=7BIT=x", 0, "501 5.5.4 Error: Bad parameter syntax");
}

static void test_rcpt(void **state)
{
    (void)state;
    struct smtp_cmd c;
    assert_null(parse("RCPT TO:<b@Example.Org>", 0, &c));
    assert_string_equal(c.addr.addr, "b@example.org");
    assert_int_equal(c.notify, 0);
    assert_null(c.orcpt);
    smtp_cmd_free(&c);

    /* RFC 5321 4.5.1: bare "postmaster" must be accepted; the parser lets
     * unqualified addresses through and the session decides */
    assert_null(parse("RCPT TO:<Postmaster>", 0, &c));
    assert_string_equal(c.addr.domain, "");
    smtp_cmd_free(&c);

    expect_err("RCPT <b@example.org>", 0, "501 5.5.4 Syntax: RCPT TO:<address>");
    expect_err("RCPT FROM:<b@example.org>", 0, "501 5.5.4 Syntax: RCPT TO:<address>");
    expect_err("RCPT TO:<>", 0, "501 5.1.3 Bad recipient address syntax");
    expect_err("RCPT TO:<b@example..org>", 0, "501 5.1.3 Bad recipient address syntax");
    expect_err("RCPT TO:<b@example.org> SIZE=10", 0, "555 5.5.4 Unsupported option: SIZE=10");

    /* local part 64 octets at most */
    char line[400];
    char local[80];
    memset(local, 'l', 65);
    local[65] = 0;
    snprintf(line, sizeof(line), "RCPT TO:<%s@example.org>", local);
    expect_err(line, 0, "501 5.1.3 Bad recipient address syntax");
}

static void test_rcpt_notify(void **state)
{
    (void)state;
    struct smtp_cmd c;
    assert_null(parse("RCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE,DELAY", 0, &c));
    assert_int_equal(c.notify, DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY);
    smtp_cmd_free(&c);
    assert_null(parse("RCPT TO:<b@example.org> notify=never", 0, &c));
    assert_int_equal(c.notify, DSN_NOTIFY_NEVER);
    smtp_cmd_free(&c);
    assert_null(parse("RCPT TO:<b@example.org> NOTIFY=FAILURE,FAILURE", 0, &c));
    assert_int_equal(c.notify, DSN_NOTIFY_FAILURE);
    smtp_cmd_free(&c);

    static const char *const bad[] = {
        "RCPT TO:<b@example.org> NOTIFY=NEVER,SUCCESS",
        "RCPT TO:<b@example.org> NOTIFY=FAILURE,NEVER",
        "RCPT TO:<b@example.org> NOTIFY=SOMETIMES",
        "RCPT TO:<b@example.org> NOTIFY=SUCCESS,",
        "RCPT TO:<b@example.org> NOTIFY=,SUCCESS",
        "RCPT TO:<b@example.org> NOTIFY=SUCCESS,,FAILURE",
        "RCPT TO:<b@example.org> NOTIFY",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_err(bad[i], 0, "501 5.5.4 Error: Bad NOTIFY parameter syntax");
    expect_err("RCPT TO:<b@example.org> NOTIFY=NEVER NOTIFY=NEVER", 0,
               "501 5.5.4 Error: duplicate NOTIFY parameter");
}

static void test_rcpt_orcpt(void **state)
{
    (void)state;
    struct smtp_cmd c;
    assert_null(parse("RCPT TO:<b@example.org> ORCPT=rfc822;Bob+2Btag@example.org", 0, &c));
    assert_string_equal(c.orcpt, "rfc822;Bob+tag@example.org");
    smtp_cmd_free(&c);
    assert_null(c.orcpt);

    /* the address type is case-insensitive and stored lower-case */
    assert_null(parse("RCPT TO:<b@example.org> ORCPT=RFC822;b@example.org NOTIFY=NEVER", 0, &c));
    assert_string_equal(c.orcpt, "rfc822;b@example.org");
    assert_int_equal(c.notify, DSN_NOTIFY_NEVER);
    smtp_cmd_free(&c);

    /* other address types (RFC 6533 utf-8) are kept as decoded text */
    assert_null(parse("RCPT TO:<b@example.org> ORCPT=utf-8;b@example.org", 0, &c));
    assert_string_equal(c.orcpt, "utf-8;b@example.org");
    smtp_cmd_free(&c);

    static const char *const bad[] = {
        "RCPT TO:<b@example.org> ORCPT=b@example.org",             /* no type */
        "RCPT TO:<b@example.org> ORCPT=;b@example.org",            /* empty type */
        "RCPT TO:<b@example.org> ORCPT=rfc822;",                   /* empty address */
        "RCPT TO:<b@example.org> ORCPT=rfc822;b+0A@example.org",   /* decoded LF */
        "RCPT TO:<b@example.org> ORCPT=rfc822;b+0D+0AX-Evil:+20y", /* CRLF injection */
        "RCPT TO:<b@example.org> ORCPT=rfc822;b+00@example.org",   /* decoded NUL */
        "RCPT TO:<b@example.org> ORCPT=rfc822;b+G1@example.org",   /* bad hex */
        "RCPT TO:<b@example.org> ORCPT=rfc822;not+20an+20address", /* not an address */
        "RCPT TO:<b@example.org> ORCPT=rfc$822;b@example.org",     /* bad type */
        "RCPT TO:<b@example.org> ORCPT",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_err(bad[i], 0, "501 5.5.4 Error: Bad ORCPT parameter syntax");

    /* 500 decoded characters at most (RFC 3461 4.2) */
    char line[1200];
    char addr[700];
    memset(addr, 'x', 600);
    addr[600] = 0;
    snprintf(line, sizeof(line), "RCPT TO:<b@example.org> ORCPT=rfc822;%s", addr);
    expect_err(line, 0, "501 5.5.4 Error: Bad ORCPT parameter syntax");
}

static void test_bdat(void **state)
{
    (void)state;
    struct smtp_cmd c;
    assert_null(parse("BDAT 1000", 0, &c));
    assert_int_equal(c.chunk_size, 1000);
    assert_false(c.last);
    smtp_cmd_free(&c);
    assert_null(parse("BDAT 0 LAST", 0, &c));
    assert_int_equal(c.chunk_size, 0);
    assert_true(c.last);
    smtp_cmd_free(&c);
    assert_null(parse("bdat 12  last", 0, &c));
    assert_int_equal(c.chunk_size, 12);
    assert_true(c.last);
    smtp_cmd_free(&c);
    assert_null(parse("BDAT 18446744073709551615", 0, &c));
    assert_true(c.chunk_size == UINT64_MAX);
    smtp_cmd_free(&c);

    static const char *const bad[] = {
        "BDAT", "BDAT LAST", "BDAT -1", "BDAT 1x", "BDAT 10 LASTX", "BDAT 10 LAST x", "BDAT 10 FIRST",
        "BDAT 18446744073709551616", "BDAT 99999999999999999999", "BDAT 0x10", "BDAT 1,000",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct smtp_cmd b;
        const char *err = parse(bad[i], 0, &b);
        if (!err || strcmp(err, "501 5.5.4 Syntax: BDAT count [LAST]") != 0)
            fail_msg("\"%s\": %s", bad[i], err ? err : "accepted");
        /* the session needs to know it was a BDAT: the stream is lost */
        assert_int_equal(b.verb, SMTP_BDAT);
        smtp_cmd_free(&b);
    }
}

static void test_verb_names(void **state)
{
    (void)state;
    assert_string_equal(smtp_verb_name(SMTP_EHLO), "ehlo");
    assert_string_equal(smtp_verb_name(SMTP_STARTTLS), "starttls");
    assert_string_equal(smtp_verb_name(SMTP_BDAT), "bdat");
    assert_string_equal(smtp_verb_name(SMTP_QUIT), "quit");
    assert_string_equal(smtp_verb_name(SMTP_UNKNOWN), "unknown");
    assert_string_equal(smtp_verb_name(SMTP_FORBIDDEN), "unknown");
}

/* Every prefix of a tricky line parses without crashing or reading past
 * the given length (ASan watches the copies). */
static void test_prefixes(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "MAIL FROM:<\"quoted local\"@example.org> SIZE=100 BODY=8BITMIME RET=FULL ENVID=a+2Bb SMTPUTF8",
        "RCPT TO:<@a.example,@b.example:c@d.example> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;c+40d.example",
        "BDAT 123456 LAST",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        size_t n = strlen(lines[i]);
        for (size_t len = 0; len <= n; len++) {
            char *copy = test_malloc(len ? len : 1);
            memcpy(copy, lines[i], len);
            struct smtp_cmd c;
            (void)smtp_cmd_parse(copy, len, SMTP_CMD_ALLOW_UTF8, &c);
            smtp_cmd_free(&c);
            test_free(copy);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verbs),
        cmocka_unit_test(test_verb_args),
        cmocka_unit_test(test_unknown_and_forbidden),
        cmocka_unit_test(test_mail_paths),
        cmocka_unit_test(test_mail_size),
        cmocka_unit_test(test_mail_body_and_utf8),
        cmocka_unit_test(test_mail_dsn),
        cmocka_unit_test(test_rcpt),
        cmocka_unit_test(test_rcpt_notify),
        cmocka_unit_test(test_rcpt_orcpt),
        cmocka_unit_test(test_bdat),
        cmocka_unit_test(test_verb_names),
        cmocka_unit_test(test_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
