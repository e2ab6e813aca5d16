/*
 * test_sendmail_args.c - the sendmail command line as real programs use it
 * (conventions.md section 1.1): mutt, cron, mailx, PHP, git, fetchmail,
 * plus the usage errors that must give exit status 64.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cmd/sendmail_args.h"

/* Parse a NULL-terminated argument list (argv[0] is added). */
#define PARSE(a, err, ...) parse_args((a), (err), (const char *[]){"sendmail", __VA_ARGS__, NULL})

static char *saved_argv[64];

static int parse_args(struct sendmail_args *a, struct buf *err, const char **args)
{
    int argc = 0;
    while (args[argc])
        argc++;
    for (int i = 0; i < argc; i++)
        saved_argv[i] = (char *)args[i];
    saved_argv[argc] = NULL;
    buf_reset(err);
    return sendmail_args_parse(argc, saved_argv, a, err);
}

static void test_mutt(void **state)
{
    (void)state;
    struct sendmail_args a;
    struct buf err = BUF_INIT;
    assert_int_equal(PARSE(&a, &err, "-oem", "-oi", "-f", "me@x", "-N", "failure,delay", "-R", "hdrs", "--",
                           "a@x", "b@y"),
                     0);
    assert_int_equal(a.mode, SENDMAIL_DELIVER);
    assert_false(a.dot_ends);
    assert_false(a.extract);
    assert_string_equal(a.sender, "me@x");
    assert_int_equal(a.notify, DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY);
    assert_int_equal(a.ret, DSN_RET_HDRS);
    assert_int_equal(a.nrcpt, 2);
    assert_string_equal(a.rcpt[0], "a@x");
    assert_string_equal(a.rcpt[1], "b@y");
    buf_free(&err);
}

static void test_mutt_8bit(void **state)
{
    (void)state;
    struct sendmail_args a;
    struct buf err = BUF_INIT;
    assert_int_equal(PARSE(&a, &err, "-oem", "-oi", "-B8BITMIME", "-fme@x", "--", "-not-an-option@x"), 0);
    assert_int_equal(a.body, BODY_8BITMIME);
    assert_string_equal(a.sender, "me@x");
    /* After "--" everything is a recipient, even what looks like a flag. */
    assert_int_equal(a.nrcpt, 1);
    assert_string_equal(a.rcpt[0], "-not-an-option@x");
    buf_free(&err);
}

static void test_cron(void **state)
{
    (void)state;
    struct sendmail_args a;
    struct buf err = BUF_INIT;
    assert_int_equal(PARSE(&a, &err, "-FCronDaemon", "-i", "-B8BITMIME", "-oem", "user"), 0);
    assert_string_equal(a.fullname, "CronDaemon");
    assert_false(a.dot_ends);
    assert_int_equal(a.body, BODY_8BITMIME);
    assert_null(a.sender);
    assert_int_equal(a.nrcpt, 1);
    assert_string_equal(a.rcpt[0], "user");
    buf_free(&err);
}

static void test_mailx(void **state)
{
    (void)state;
    struct sendmail_args a;
    struct buf err = BUF_INIT;
    assert_int_equal(PARSE(&a, &err, "-i", "-t", "-f", "s@x"), 0);
    assert_true(a.extract);
    assert_false(a.dot_ends);
    assert_string_equal(a.sender, "s@x");
    assert_int_equal(a.nrcpt, 0);
    buf_free(&err);
}

static void test_php(void **state)
{
    (void)state;
    struct sendmail_args a;
    struct buf err = BUF_INIT;
    assert_int_equal(PARSE(&a, &err, "-t", "-i"), 0);
    assert_true(a.extract);
    assert_false(a.dot_ends);
    assert_int_equal(a.nrcpt, 0);
    /* Clustered flags and PHP's fifth mail() argument. */
    assert_int_equal(PARSE(&a, &err, "-ti", "-fwww@example.com"), 0);
    assert_true(a.extract);
    assert_false(a.dot_ends);
    assert_string_equal(a.sender, "www@example.com");
    buf_free(&err);
}

static void test_git(void **state)
{
    (void)state;
    struct sendmail_args a;
    struct buf err = BUF_INIT;
    assert_int_equal(PARSE(&a, &err, "-i", "-f", "x", "a", "b"), 0);
    assert_string_equal(a.sender, "x");
    assert_int_equal(a.nrcpt, 2);
    assert_string_equal(a.rcpt[0], "a");
    assert_string_equal(a.rcpt[1], "b");
    /* Options end at the first recipient (no GNU permutation). */
    assert_int_equal(PARSE(&a, &err, "a", "-i"), 0);
    assert_true(a.dot_ends);
    assert_int_equal(a.nrcpt, 2);
    assert_string_equal(a.rcpt[1], "-i");
    buf_free(&err);
}

static void test_defaults(void **state)
{
    (void)state;
    struct sendmail_args a;
    struct buf err = BUF_INIT;
    assert_int_equal(PARSE(&a, &err, "root"), 0);
    assert_int_equal(a.mode, SENDMAIL_DELIVER);
    assert_true(a.dot_ends);
    assert_false(a.extract);
    assert_null(a.sender);
    assert_int_equal(a.notify, 0);
    assert_int_equal(a.ret, DSN_RET_NONE);
    assert_int_equal(a.body, BODY_NONE);
    assert_null(a.envid);
    buf_free(&err);
}

static void test_null_sender(void **state)
{
    (void)state;
    struct sendmail_args a;
    struct buf err = BUF_INIT;
    assert_int_equal(PARSE(&a, &err, "-f", "", "root"), 0);
    assert_string_equal(a.sender, "");
    assert_int_equal(PARSE(&a, &err, "-f", "<>", "root"), 0);
    assert_string_equal(a.sender, "");
    assert_int_equal(PARSE(&a, &err, "-r<>", "root"), 0);
    assert_string_equal(a.sender, "");
    buf_free(&err);
}

static void test_modes(void **state)
{
    (void)state;
    struct sendmail_args a;
    struct buf err = BUF_INIT;
    assert_int_equal(PARSE(&a, &err, "-bs"), 0);
    assert_int_equal(a.mode, SENDMAIL_SMTP);
    assert_int_equal(PARSE(&a, &err, "-bp"), 0);
    assert_int_equal(a.mode, SENDMAIL_MAILQ);
    assert_int_equal(PARSE(&a, &err, "-bi"), 0);
    assert_int_equal(a.mode, SENDMAIL_NEWALIASES);
    assert_int_equal(PARSE(&a, &err, "-I", "-oA/tmp/aliases"), 0);
    assert_int_equal(a.mode, SENDMAIL_NEWALIASES);
    assert_string_equal(a.alias_file, "/tmp/aliases");
    assert_int_equal(PARSE(&a, &err, "-bv", "root", "x@y"), 0);
    assert_int_equal(a.mode, SENDMAIL_VERIFY);
    assert_int_equal(a.nrcpt, 2);
    assert_int_equal(PARSE(&a, &err, "-b", "m", "root"), 0);
    assert_int_equal(a.mode, SENDMAIL_DELIVER);
    assert_int_equal(PARSE(&a, &err, "-q"), 0);
    assert_int_equal(a.mode, SENDMAIL_FLUSH);
    assert_int_equal(PARSE(&a, &err, "-qI0123456789AB"), 0);
    assert_int_equal(a.mode, SENDMAIL_FLUSH);
    assert_string_equal(a.flush_arg, "0123456789AB");
    assert_int_equal(PARSE(&a, &err, "-qRexample.com"), 0);
    assert_int_equal(a.mode, SENDMAIL_FLUSH);
    assert_string_equal(a.flush_arg, "example.com");
    assert_int_equal(PARSE(&a, &err, "-q30m"), 0);
    assert_int_equal(a.mode, SENDMAIL_NOTHING);
    assert_int_equal(PARSE(&a, &err, "-bh"), 0);
    assert_int_equal(a.mode, SENDMAIL_NOTHING);
    buf_free(&err);
}

static void test_ignored(void **state)
{
    (void)state;
    struct sendmail_args a;
    struct buf err = BUF_INIT;
    assert_int_equal(PARSE(&a, &err, "-odb", "-oee", "-o7", "-m", "-n", "-U", "-Am", "-Ac", "-h", "5", "-L",
                           "tag", "-X", "/tmp/log", "-O", "DeliveryMode=b", "-G", "-p", "smtp", "-x", "root"),
                     0);
    assert_true(a.dot_ends);
    assert_int_equal(a.nrcpt, 1);
    assert_string_equal(a.rcpt[0], "root");
    assert_int_equal(PARSE(&a, &err, "-C", "/etc/yubin/test.conf", "-v", "-v", "-V", "env-42", "-R", "FULL",
                           "-N", "never", "root"),
                     0);
    assert_string_equal(a.config, "/etc/yubin/test.conf");
    assert_int_equal(a.verbose, 2);
    assert_string_equal(a.envid, "env-42");
    assert_int_equal(a.ret, DSN_RET_FULL);
    assert_int_equal(a.notify, DSN_NOTIFY_NEVER);
    buf_free(&err);
}

static void test_usage_errors(void **state)
{
    (void)state;
    struct sendmail_args a;
    struct buf err = BUF_INIT;
    assert_int_equal(PARSE(&a, &err, "-B", "9BIT", "root"), 64);
    assert_non_null(strstr(buf_str(&err), "9BIT"));
    assert_int_equal(PARSE(&a, &err, "-N", "junk", "root"), 64);
    assert_int_equal(PARSE(&a, &err, "-N", "never,success", "root"), 64);
    assert_int_equal(PARSE(&a, &err, "-N", "failure,", "root"), 64);
    assert_int_equal(PARSE(&a, &err, "-R", "body", "root"), 64);
    assert_int_equal(PARSE(&a, &err, "-V", "has space", "root"), 64);
    assert_int_equal(PARSE(&a, &err, "-f"), 64);
    assert_non_null(strstr(buf_str(&err), "requires an argument"));
    assert_int_equal(PARSE(&a, &err, "-K", "root"), 64);
    assert_int_equal(PARSE(&a, &err, "-bt"), 64);
    assert_int_equal(PARSE(&a, &err, "-bd"), 64);
    assert_int_equal(PARSE(&a, &err, "-bz"), 64);
    assert_int_equal(PARSE(&a, &err, "-qSsender"), 64);
    buf_free(&err);
}

static void test_notify(void **state)
{
    (void)state;
    assert_int_equal(sendmail_parse_notify("SUCCESS"), DSN_NOTIFY_SUCCESS);
    assert_int_equal(sendmail_parse_notify("success,failure,delay"),
                     DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY);
    assert_int_equal(sendmail_parse_notify(""), 0);
    assert_int_equal(sendmail_parse_notify("delay,,failure"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutt),       cmocka_unit_test(test_mutt_8bit),    cmocka_unit_test(test_cron),
        cmocka_unit_test(test_mailx),      cmocka_unit_test(test_php),          cmocka_unit_test(test_git),
        cmocka_unit_test(test_defaults),   cmocka_unit_test(test_null_sender),  cmocka_unit_test(test_modes),
        cmocka_unit_test(test_ignored),    cmocka_unit_test(test_usage_errors), cmocka_unit_test(test_notify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
