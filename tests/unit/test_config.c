/*
 * test_config.c - yubin.conf parsing, expansion, typed checks, file
 * selection (including the embedded default) and 'yubin config' output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "lib/buf.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/params.h"
#include "lib/util.h"

static char tmpdir[64];
static char logpath[PATH_MAX];

/* ---------------------------------------------------------------- helpers */

static char *path_in_tmp(const char *name)
{
    return xasprintf("%s/%s", tmpdir, name);
}

static char *write_file(const char *name, const char *text, size_t len)
{
    char *p = path_in_tmp(name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write_all(fd, text, len), 0);
    close(fd);
    return p;
}

static char *write_text(const char *name, const char *text)
{
    return write_file(name, text, strlen(text));
}

static char *read_all(const char *path)
{
    struct buf err = BUF_INIT;
    size_t len;
    char *t = config_read_file(path, 1 << 24, &len, &err);
    buf_free(&err);
    return t ? t : xstrdup("");
}

/* Warnings go to a log file the test can read. */
static void log_reset(void)
{
    log_open("test", LOG_TO_FILE, logpath);
    int fd = open(logpath, O_WRONLY | O_TRUNC);
    if (fd >= 0)
        close(fd);
}

static char *log_text(void)
{
    return read_all(logpath);
}

/* Load text; assert success. */
static void load_ok(const char *text)
{
    struct buf err = BUF_INIT;
    int rc = config_load_string(text, "test.conf", &err);
    if (rc != 0)
        print_error("unexpected error: %s\n", buf_str(&err));
    assert_int_equal(rc, 0);
    buf_free(&err);
}

/* Load text; assert failure; return the error text (caller frees). */
static char *load_fail(const char *text)
{
    struct buf err = BUF_INIT;
    int rc = config_load_string(text, "test.conf", &err);
    assert_int_equal(rc, -1);
    assert_true(err.len > 0);
    return buf_steal(&err);
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) {
        print_error("\"%s\" not found in \"%s\"\n", needle, hay);
        fail();
    }
}

static int setup(void **state)
{
    (void)state;
    log_reset();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    config_unload();
    return 0;
}

/* -------------------------------------------------------------- expansion */

static void test_expand_forms(void **state)
{
    (void)state;
    load_ok("a = A\n"
            "e =\n"
            "t1 = $a ${a} $(a)\n"
            "t2 = ${a?yes} ${e?yes}|\n"
            "t3 = ${a?{ yes }} ${e?{yes}}|\n"
            "t4 = ${a:no} ${e:no}\n"
            "t5 = ${a:{no}}|${e:{ no }}\n"
            "t6 = ${a?{v1}:{v2}} ${e?{v1}:{v2}}\n"
            "t7 = $$a costs $$5 and $$$a\n"
            "t8 = ${a?${a}${a}} $(a?x)\n"
            "x = $t1 $t6 $a\n");
    assert_string_equal(config_get("t1"), "A A A");
    assert_string_equal(config_get("t2"), "yes |");
    assert_string_equal(config_get("t3"), "yes |");
    assert_string_equal(config_get("t4"), " no");
    assert_string_equal(config_get("t5"), "|no");
    assert_string_equal(config_get("t6"), "v1 v2");
    assert_string_equal(config_get("t7"), "$a costs $5 and $A");
    assert_string_equal(config_get("t8"), "AA x");
}

static void test_expand_bad_space_in_braces(void **state)
{
    (void)state;
    char *err = load_fail("a = A\nt = ${a ? {x}}\n");
    assert_contains(err, "test.conf, line 2: cannot expand t:");
    free(err);
}

static void test_expand_lazy_and_recursive(void **state)
{
    (void)state;
    /* Used before it is defined, and through a chain. */
    load_ok("myorigin = $mydomain\n"
            "relay_domains = $c1\n"
            "c1 = ${c2}\n"
            "c2 = $(c3).example\n"
            "c3 = deep\n"
            "mydomain = example.org\n");
    assert_string_equal(var_myorigin, "example.org");
    assert_string_equal(var_relay_domains, "deep.example");
    assert_string_equal(config_raw("myorigin"), "$mydomain");
    assert_null(config_raw("myhostname"));
}

static void test_expand_only_chosen_branch(void **state)
{
    (void)state;
    /* The unchosen branch names an unknown parameter: no warning for it. */
    load_ok("e =\n"
            "smtpd_banner = ${e?{$nonexistent_thing}:{fine}}\n");
    assert_string_equal(var_smtpd_banner, "fine");
    char *log = log_text();
    assert_null(strstr(log, "nonexistent_thing"));
    free(log);
}

static void test_expand_loop(void **state)
{
    (void)state;
    char *err = load_fail("# loop\n"
                          "myhostname = $myorigin\n"
                          "myorigin = ${myhostname}\n");
    assert_contains(err, "test.conf, line 2: expansion loop in parameter myhostname: "
                         "myhostname -> myorigin -> myhostname");
    /* One report per loop, not one per parameter in it. */
    assert_null(strstr(err, "\n"));
    free(err);

    err = load_fail("x = $x\n");
    assert_string_equal(err, "test.conf, line 1: expansion loop in parameter x: x -> x");
    free(err);
}

static void test_expand_loop_keeps_previous(void **state)
{
    (void)state;
    load_ok("mail_name = first\n");
    char *err = load_fail("mail_name = $mail_name\n");
    free(err);
    assert_string_equal(var_mail_name, "first");
    assert_string_equal(config_get("mail_name"), "first");
}

static void test_expand_syntax_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "mail_name = ${mail\n",
        "mail_name = $(mail\n",
        "mail_name = cost $\n",
        "mail_name = $-x\n",
        "mail_name = ${}\n",
        "mail_name = ${x?{a}:b}\n",
        "mail_name = ${x?{a}junk}\n",
        "mail_name = ${x!y}\n",
        "mail_name = ${{$a} == {$b} ? {x} : {y}}\n",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        char *err = load_fail(bad[i]);
        assert_contains(err, "test.conf, line 1: cannot expand mail_name: ");
        free(err);
    }
}

static void test_expand_depth_and_size_limits(void **state)
{
    (void)state;
    struct buf text = BUF_INIT;
    for (int i = 0; i < 150; i++)
        buf_printf(&text, "p%d = $p%d\n", i, i + 1);
    buf_puts(&text, "p150 = end\n");
    char *err = load_fail(buf_str(&text));
    assert_contains(err, "more than 100 deep");
    free(err);

    /* Doubling 23 times from 1 KiB passes 4 MiB. */
    buf_reset(&text);
    buf_puts(&text, "d0 = ");
    for (int i = 0; i < 1024; i++)
        buf_putc(&text, 'x');
    buf_putc(&text, '\n');
    for (int i = 1; i <= 23; i++)
        buf_printf(&text, "d%d = $d%d$d%d\n", i, i - 1, i - 1);
    err = load_fail(buf_str(&text));
    assert_contains(err, "longer than 4194304 bytes after expansion");
    free(err);
    buf_free(&text);
}

static void test_config_expand_api(void **state)
{
    (void)state;
    load_ok("mydomain = example.net\n");
    struct buf err = BUF_INIT;
    char *v = config_expand("postmaster@$mydomain ${relay_domains:{none}}", &err);
    assert_non_null(v);
    assert_string_equal(v, "postmaster@example.net none");
    free(v);
    assert_null(config_expand("bad ${", &err));
    assert_contains(buf_str(&err), "cannot expand \"bad ${\"");
    buf_free(&err);
}

/* ------------------------------------------------------------------ syntax */

static void test_continuation_and_comments(void **state)
{
    (void)state;
    load_ok("# comment at the start\n"
            "\n"
            "mydestination = a.example,\n"
            "    b.example,\n"
            "# a comment between continued lines\n"
            "\n"
            "  # an indented comment too\n"
            "\tc.example   \r\n"
            "smtpd_banner = hello # this is not a comment\n"
            "   mail_name=  tight  \n");
    assert_string_equal(var_mydestination, "a.example,    b.example,\tc.example");
    /* The last line continued smtpd_banner; mail_name stays default. */
    assert_string_equal(var_smtpd_banner, "hello # this is not a comment   mail_name=  tight");
    assert_string_equal(var_mail_name, "yubin");
    const char *file;
    int line;
    assert_true(config_origin("mydestination", &file, &line));
    assert_string_equal(file, "test.conf");
    assert_int_equal(line, 3);
}

static void test_last_assignment_wins(void **state)
{
    (void)state;
    load_ok("mail_name = one\n"
            "myorigin = x\n"
            "mail_name = two\n");
    assert_string_equal(var_mail_name, "two");
    const char *file;
    int line;
    assert_true(config_origin("mail_name", &file, &line));
    assert_int_equal(line, 3);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    char *err = load_fail("  mail_name = x\n");
    assert_string_equal(err, "test.conf, line 1: text starts with whitespace but there is no line before it to continue");
    free(err);

    err = load_fail("mail_name = ok\njust words\nbad-name = 1\n= 2\n");
    assert_contains(err, "test.conf, line 2: missing '=' in \"just words\"");
    assert_contains(err, "test.conf, line 3: bad parameter name \"bad-name\"");
    assert_contains(err, "test.conf, line 4: missing parameter name before '='");
    free(err);

    /* Every problem at once, in file order, whatever phase found it. */
    err = load_fail("smtpd_timeout = 1x\nx = $x\nbad line\nmessage_size_limit = 10M\n");
    assert_string_equal(err, "test.conf, line 1: bad value for smtpd_timeout: \"1x\" (expected a number with an "
                             "optional unit s, m, h, d or w; without a unit it is in s)\n"
                             "test.conf, line 2: expansion loop in parameter x: x -> x\n"
                             "test.conf, line 3: missing '=' in \"bad line\"\n"
                             "test.conf, line 4: bad value for message_size_limit: \"10M\" (expected a number of bytes)");
    free(err);
}

static void test_line_and_file_limits(void **state)
{
    (void)state;
    size_t n = CONFIG_MAX_LINE + 20;
    char *text = xmalloc(n + 64);
    size_t len = (size_t)snprintf(text, 64, "mail_name = ");
    memset(text + len, 'x', n - len);
    len = n;
    len += (size_t)snprintf(text + len, 64, "\nmyorigin = fine\n");
    char *p = write_file("long.conf", text, len);
    struct buf err = BUF_INIT;
    assert_int_equal(config_load(p, &err), -1);
    char *want = xasprintf("%s, line 1: line is longer than 65536 bytes", p);
    assert_string_equal(buf_str(&err), want);
    free(want);
    free(text);
    free(p);
    buf_reset(&err);

    /* A NUL byte. */
    static const char nul[] = "myorigin = a\0b\nmail_name = x\n";
    p = write_file("nul.conf", nul, sizeof(nul) - 1);
    assert_int_equal(config_load(p, &err), -1);
    want = xasprintf("%s, line 1: NUL byte in line", p);
    assert_string_equal(buf_str(&err), want);
    free(want);
    free(p);
    buf_reset(&err);

    /* A file over 4 MiB, made of valid short lines. */
    struct buf big = BUF_INIT;
    while (big.len <= CONFIG_MAX_FILE)
        buf_puts(&big, "# padding padding padding padding padding padding padding\n");
    p = write_file("big.conf", big.data, big.len);
    assert_int_equal(config_load(p, &err), -1);
    assert_contains(buf_str(&err), "file is larger than 4194304 bytes");
    free(p);
    buf_free(&big);
    buf_free(&err);
}

/* ------------------------------------------------------------------ lists */

static void test_strlist(void **state)
{
    (void)state;
    struct strlist l;
    strlist_split(&l, " a, b c,,d ,\n\te ");
    assert_int_equal(l.n, 5);
    assert_string_equal(l.v[0], "a");
    assert_string_equal(l.v[3], "d");
    assert_string_equal(l.v[4], "e");
    assert_null(l.v[5]);
    strlist_free(&l);

    strlist_split(&l, "{ name = value with spaces }, plain {x,y}");
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[0], "name = value with spaces");
    assert_string_equal(l.v[1], "plain");
    assert_string_equal(l.v[2], "x,y");
    strlist_free(&l);

    strlist_split(&l, "inline:{ a=b, c=d } hash:/etc/x {a}{b} { { nested } }");
    assert_int_equal(l.n, 4);
    assert_string_equal(l.v[0], "inline:{ a=b, c=d }");
    assert_string_equal(l.v[1], "hash:/etc/x");
    assert_string_equal(l.v[2], "{a}{b}");
    assert_string_equal(l.v[3], "{ nested }");
    strlist_free(&l);

    strlist_split(&l, " ,, ");
    assert_int_equal(l.n, 0);
    strlist_free(&l);
    strlist_split(&l, "{ unclosed, still one");
    assert_int_equal(l.n, 1);
    strlist_free(&l);

    /* mydestination's default, expanded. */
    load_ok("myhostname = mx.example.com\n");
    strlist_split(&l, var_mydestination);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[0], "mx.example.com");
    assert_string_equal(l.v[1], "localhost.example.com");
    assert_string_equal(l.v[2], "localhost");
    strlist_free(&l);
}

/* ----------------------------------------------------------- typed values */

static void test_bad_value_messages(void **state)
{
    (void)state;
    char *err = load_fail("# sizes\nmessage_size_limit = 10M\n");
    assert_string_equal(err, "test.conf, line 2: bad value for message_size_limit: \"10M\" (expected a number of bytes)");
    free(err);

    err = load_fail("n = 10M\nmessage_size_limit = $n\n");
    assert_string_equal(err, "test.conf, line 2: bad value for message_size_limit: \"$n\" = \"10M\" "
                             "(expected a number of bytes)");
    free(err);

    err = load_fail("smtpd_recipient_limit = 0\nhopcount_limit = many\nsmtputf8_enable = maybe\n");
    assert_contains(err, "test.conf, line 1: bad value for smtpd_recipient_limit: \"0\" (must be between 1 and 1000000)");
    assert_contains(err, "test.conf, line 2: bad value for hopcount_limit: \"many\" (expected a whole number)");
    assert_contains(err, "test.conf, line 3: bad value for smtputf8_enable: \"maybe\" (expected yes or no)");
    free(err);

    err = load_fail("message_size_limit = 0\nheader_size_limit = -5\n");
    assert_contains(err, "line 1: bad value for message_size_limit: \"0\" (must be at least 1)");
    assert_contains(err, "line 2: bad value for header_size_limit: \"-5\" (expected a number of bytes)");
    free(err);

    err = load_fail("message_size_limit = 99999999999999999999999\n");
    assert_contains(err, "expected a number of bytes");
    free(err);
}

static void test_time_units(void **state)
{
    (void)state;
    load_ok("smtpd_timeout = 5m\n"
            "maximal_queue_lifetime = 3\n"      /* default unit d */
            "delay_warning_time = 4\n"          /* default unit h */
            "bounce_queue_lifetime = 1w\n"
            "minimal_backoff_time = 120\n"      /* default unit s */
            "maximal_backoff_time = 2h\n"
            "smtpd_error_sleep_time = 0\n");
    assert_int_equal(var_smtpd_timeout, 300);
    assert_int_equal(var_maximal_queue_lifetime, 3 * 86400);
    assert_int_equal(var_delay_warning_time, 4 * 3600);
    assert_int_equal(var_bounce_queue_lifetime, 7 * 86400);
    assert_int_equal(var_minimal_backoff_time, 120);
    assert_int_equal(var_maximal_backoff_time, 7200);
    assert_int_equal(var_smtpd_error_sleep_time, 0);

    static const char *const bad[] = {"5x", "-1", "s", "", "5 m", "1.5h", "99999999999999999999w"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        char *text = xasprintf("smtpd_timeout = %s\n", bad[i]);
        char *err = load_fail(text);
        assert_contains(err, "bad value for smtpd_timeout");
        assert_contains(err, "expected a number with an optional unit s, m, h, d or w; without a unit it is in s");
        free(err);
        free(text);
    }
    char *err = load_fail("maximal_queue_lifetime = 101d\n");
    assert_contains(err, "(must be between 0s and 100d)");
    free(err);
    err = load_fail("smtpd_timeout = 0\n");
    assert_contains(err, "(must be between 1s and 1d)");
    free(err);
}

static void test_defaults_and_types(void **state)
{
    (void)state;
    load_ok("");
    assert_int_equal(var_message_size_limit, 10240000);
    assert_int_equal(var_smtpd_recipient_limit, 1000);
    assert_int_equal(var_smtpd_timeout, 300);
    assert_int_equal(var_smtpd_session_deadline, 1800);
    assert_int_equal(var_smtpd_client_connection_count_limit, 50);
    assert_int_equal(var_smtpd_session_limit, 1000);
    assert_int_equal(var_smtpd_hard_error_limit, 20);
    assert_int_equal(var_smtpd_soft_error_limit, 10);
    assert_int_equal(var_smtpd_junk_command_limit, 100);
    assert_int_equal(var_smtpd_error_sleep_time, 1);
    assert_int_equal(var_header_size_limit, 102400);
    assert_int_equal(var_hopcount_limit, 50);
    assert_int_equal(var_queue_minfree, 0);
    assert_true(var_smtputf8_enable);
    assert_int_equal(var_maximal_queue_lifetime, 5 * 86400);
    assert_int_equal(var_bounce_queue_lifetime, 5 * 86400);
    assert_int_equal(var_minimal_backoff_time, 300);
    assert_int_equal(var_maximal_backoff_time, 4000);
    assert_int_equal(var_queue_run_delay, 300);
    assert_int_equal(var_delay_warning_time, 0);
    assert_string_equal(var_mynetworks, "127.0.0.0/8 [::1]/128");
    assert_string_equal(var_relay_domains, "");
    assert_string_equal(var_inet_interfaces, "all");
    assert_string_equal(var_queue_directory, "/var/spool/yubin");
    assert_string_equal(var_maillog_file, "");
    assert_string_equal(var_mail_owner, "yubin");
    assert_string_equal(var_default_privs, "nobody");
    assert_string_equal(var_smtpd_listen, "0.0.0.0:25 [::]:25");
    assert_string_equal(var_smtpd_tls_security_level, "");
    assert_string_equal(var_alias_maps, "hash:/etc/aliases");
    assert_string_equal(var_alias_database, "hash:/etc/aliases");
    assert_string_equal(var_myorigin, var_myhostname);
    char *banner = xasprintf("%s ESMTP yubin", var_myhostname);
    assert_string_equal(var_smtpd_banner, banner);
    free(banner);
    char *dest = xasprintf("%s, localhost.%s, localhost", var_myhostname, var_mydomain);
    assert_string_equal(var_mydestination, dest);
    free(dest);

    /* Booleans in every spelling. */
    load_ok("smtputf8_enable = No\n");
    assert_false(var_smtputf8_enable);
    load_ok("smtputf8_enable = TRUE\n");
    assert_true(var_smtputf8_enable);
    load_ok("smtputf8_enable = false\n");
    assert_false(var_smtputf8_enable);
}

static void test_choices(void **state)
{
    (void)state;
    load_ok("smtpd_tls_security_level = encrypt\n");
    assert_string_equal(var_smtpd_tls_security_level, "encrypt");
    load_ok("smtpd_tls_security_level =\n");
    assert_string_equal(var_smtpd_tls_security_level, "");
    char *err = load_fail("smtpd_tls_security_level = secure\n");
    assert_string_equal(err, "test.conf, line 1: bad value for smtpd_tls_security_level: \"secure\" "
                             "(expected one of: none, may, encrypt)");
    free(err);
}

static void test_relations(void **state)
{
    (void)state;
    char *err = load_fail("minimal_backoff_time = 2h\nmaximal_backoff_time = 1h\n");
    assert_string_equal(err, "test.conf, line 2: minimal_backoff_time (2h) is larger than maximal_backoff_time (1h)");
    free(err);
}

static void test_computed_identity(void **state)
{
    (void)state;
    load_ok("myhostname = mx.example.com\n");
    assert_string_equal(var_mydomain, "example.com");
    load_ok("myhostname = localhost\n");
    assert_string_equal(var_mydomain, "localdomain");

    /* Without myhostname: gethostname(), completed by mydomain when short. */
    load_ok("mydomain = example.org\n");
    const char *h = host_name();
    char *want = strchr(h, '.') ? xstrdup(h) : xasprintf("%s.example.org", h);
    assert_string_equal(var_myhostname, want);
    free(want);
    load_ok("");
    want = strchr(h, '.') ? xstrdup(h) : xasprintf("%s.localdomain", h);
    assert_string_equal(var_myhostname, want);
    free(want);
    assert_non_null(strchr(var_myhostname, '.'));
    assert_string_equal(var_mydomain, strchr(var_myhostname, '.') + 1);
}

/* --------------------------------------------------------- unknown names */

static void test_unknown_parameter_warning(void **state)
{
    (void)state;
    unsigned long before = log_warning_count();
    load_ok("# typo\n"
            "mydestinaton = example.com\n"
            "completely_unrelated_name = 1\n"
            "my_extra_nets = 10.0.0.0/8\n"
            "mynetworks = 127.0.0.0/8 $my_extra_nets\n");
    char *log = log_text();
    assert_contains(log, "test.conf, line 2: unknown parameter \"mydestinaton\" (did you mean \"mydestination\"?)");
    assert_contains(log, "test.conf, line 3: unknown parameter \"completely_unrelated_name\"\n");
    /* A user-defined parameter that another value uses is fine. */
    assert_null(strstr(log, "my_extra_nets\""));
    assert_int_equal(log_warning_count() - before, 2);
    free(log);
    assert_string_equal(var_mynetworks, "127.0.0.0/8 10.0.0.0/8");
    assert_string_equal(config_get("mydestinaton"), "example.com");

    log_reset();
    load_ok("myorigin = $mydomian\n");
    log = log_text();
    assert_contains(log, "test.conf, line 1: myorigin refers to $mydomian, which is not set and not a known "
                         "parameter (did you mean \"mydomain\"?)");
    free(log);
    assert_string_equal(var_myorigin, "");

    /* A file full of unknown names does not flood the log. */
    log_reset();
    struct buf text = BUF_INIT;
    for (int i = 0; i < 150; i++)
        buf_printf(&text, "unknown_%d = x\n", i);
    before = log_warning_count();
    load_ok(buf_str(&text));
    buf_free(&text);
    assert_int_equal(log_warning_count() - before, 101);
    log = log_text();
    assert_contains(log, "test.conf: 50 more warnings not shown");
    free(log);
}

static void test_suggest(void **state)
{
    (void)state;
    assert_string_equal(config_suggest("mydestinaton"), "mydestination");
    assert_string_equal(config_suggest("mydomian"), "mydomain");
    assert_string_equal(config_suggest("MyHostName"), "myhostname");
    assert_string_equal(config_suggest("message_size_limt"), "message_size_limit");
    assert_null(config_suggest("zz"));
    assert_null(config_suggest("relayhost_something_else"));
    assert_null(config_suggest(""));
}

/* ------------------------------------------------------- file selection */

static void test_embedded_default(void **state)
{
    (void)state;
    unsetenv("YUBIN_CONFIG");
    char *missing = path_in_tmp("no-such-dir/yubin.conf");
    setenv("YUBIN_DEFAULT_CONFIG", missing, 1);
    struct buf err = BUF_INIT;
    assert_int_equal(config_load(NULL, &err), 0);
    assert_true(config_embedded());
    assert_string_equal(config_source(), CONFIG_EMBEDDED_NAME);

    char *cwd = getcwd(NULL, 0);
    char *queue = xasprintf("%s/yubin-state/queue", strcmp(cwd, "/") == 0 ? "" : cwd);
    assert_string_equal(var_queue_directory, queue);
    assert_string_equal(var_smtpd_listen, "127.0.0.1:2525");
    assert_string_equal(var_maillog_file, "/dev/stderr");
    struct passwd *pw = getpwuid(getuid());
    if (pw)
        assert_string_equal(var_mail_owner, pw->pw_name);
    const char *file;
    int line;
    assert_true(config_origin("smtpd_listen", &file, &line));
    assert_string_equal(file, CONFIG_EMBEDDED_NAME);
    assert_int_equal(line, 0);
    assert_true(config_origin("mail_name", &file, &line));
    assert_null(file);
    assert_false(config_origin("no_such_parameter", &file, &line));
    free(queue);
    free(cwd);

    /* A directory name with '$' survives expansion. */
    char *odd = path_in_tmp("cost$5");
    assert_int_equal(mkdir(odd, 0700), 0);
    char *old = getcwd(NULL, 0);
    assert_int_equal(chdir(odd), 0);
    assert_int_equal(config_load(NULL, &err), 0);
    char *oddcwd = getcwd(NULL, 0);
    queue = xasprintf("%s/yubin-state/queue", oddcwd);
    assert_string_equal(var_queue_directory, queue);
    assert_int_equal(chdir(old), 0);
    free(queue);
    free(oddcwd);
    free(old);
    free(odd);

    /* The default file exists: it is read, no embedded default. */
    char *def = write_text("default.conf", "mail_name = fromdefault\n");
    setenv("YUBIN_DEFAULT_CONFIG", def, 1);
    assert_int_equal(config_load(NULL, &err), 0);
    assert_false(config_embedded());
    assert_string_equal(config_source(), def);
    assert_string_equal(var_mail_name, "fromdefault");
    assert_string_equal(var_smtpd_listen, "0.0.0.0:25 [::]:25");

    /* $YUBIN_CONFIG comes first. */
    char *named = write_text("named.conf", "mail_name = fromenv\n");
    setenv("YUBIN_CONFIG", named, 1);
    assert_int_equal(config_load(NULL, &err), 0);
    assert_string_equal(var_mail_name, "fromenv");
    /* An explicit path comes before both. */
    assert_int_equal(config_load(def, &err), 0);
    assert_string_equal(var_mail_name, "fromdefault");
    /* A directory, as Postfix's -c takes, means DIR/yubin.conf. */
    char *indir = write_text("yubin.conf", "mail_name = indir\n");
    assert_int_equal(config_load(tmpdir, &err), 0);
    assert_string_equal(var_mail_name, "indir");
    assert_string_equal(config_source(), indir);
    free(indir);

    /* A named file that does not exist is an error, never the embedded default. */
    setenv("YUBIN_CONFIG", missing, 1);
    assert_int_equal(config_load(NULL, &err), -1);
    char *want = xasprintf("cannot open %s: No such file or directory", missing);
    assert_string_equal(buf_str(&err), want);
    free(want);
    assert_string_equal(var_mail_name, "indir");     /* kept */
    buf_reset(&err);
    unsetenv("YUBIN_CONFIG");
    assert_int_equal(config_load(missing, &err), -1);
    assert_false(config_embedded());
    buf_reset(&err);

    /* A default path that exists but cannot be read is an error too. */
    setenv("YUBIN_DEFAULT_CONFIG", tmpdir, 1);
    assert_int_equal(config_load(NULL, &err), -1);
    assert_contains(buf_str(&err), tmpdir);
    buf_reset(&err);
    assert_int_equal(config_load("", &err), -1);

    unsetenv("YUBIN_DEFAULT_CONFIG");
    buf_free(&err);
    free(named);
    free(def);
    free(missing);
}

static void test_reload(void **state)
{
    (void)state;
    load_ok("mail_name = one\nmessage_size_limit = 1000\nuser_thing = a\nmyorigin = $user_thing\n");
    assert_string_equal(var_mail_name, "one");
    assert_int_equal(var_message_size_limit, 1000);
    assert_string_equal(config_raw("user_thing"), "a");
    load_ok("mail_name = two\n");
    assert_string_equal(var_mail_name, "two");
    assert_int_equal(var_message_size_limit, 10240000);
    assert_null(config_raw("user_thing"));
    assert_null(config_get("user_thing"));
    config_unload();
    assert_null(var_mail_name);
    assert_null(config_get("mail_name"));
    assert_null(config_source());
}

/* --------------------------------------------------------------- printing */

static char *print_to_string(enum config_print mode, struct config_print_opts *o)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    config_fprint(f, mode, o);
    fclose(f);
    return text;
}

static void test_print(void **state)
{
    (void)state;
    load_ok("myorigin = $mydomain\n"
            "mydomain = example.org\n"
            "mail_name = yubin\n"                 /* same as the default: not shown */
            "relay_domains =\n"
            "zz_user = $myorigin\n"
            "mynetworks = 127.0.0.1/32 $zz_user\n");
    struct config_print_opts o = {0};
    char *out = print_to_string(CONFIG_PRINT_NONDEFAULT, &o);
    assert_string_equal(out, "mydomain = example.org\n"
                             "mynetworks = 127.0.0.1/32 $zz_user\n"
                             "myorigin = $mydomain\n"
                             "zz_user = $myorigin\n");
    free(out);
    o.expand = true;
    out = print_to_string(CONFIG_PRINT_NONDEFAULT, &o);
    assert_string_equal(out, "mydomain = example.org\n"
                             "mynetworks = 127.0.0.1/32 example.org\n"
                             "myorigin = example.org\n"
                             "zz_user = example.org\n");
    free(out);

    o.expand = false;
    out = print_to_string(CONFIG_PRINT_ALL, &o);
    assert_contains(out, "\nmail_name = yubin\n");
    assert_contains(out, "\nrelay_domains =\n");
    assert_contains(out, "\nmessage_size_limit = 10240000\n");
    assert_contains(out, "\nzz_user = $myorigin\n");
    free(out);

    o.doc = true;
    out = print_to_string(CONFIG_PRINT_DEFAULTS, &o);
    assert_contains(out, "# The largest message accepted, in bytes, including the envelope (advertised with SIZE)\n"
                         "message_size_limit = 10240000\n");
    assert_contains(out, "\nmyorigin = $myhostname\n");
    assert_contains(out, "# yubin only: the addresses and ports");
    assert_null(strstr(out, "zz_user"));
    free(out);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    char *names[] = {"myorigin", "mydestinaton", "zz_user"};
    struct config_print_opts x = {.expand = true};
    assert_int_equal(config_fprint_names(f, names, 3, false, &x), 1);
    struct config_print_opts h = {.value_only = true};
    char *one[] = {"myorigin"};
    assert_int_equal(config_fprint_names(f, one, 1, false, &h), 0);
    assert_int_equal(config_fprint_names(f, one, 1, true, &h), 0);
    fclose(f);
    assert_string_equal(text, "myorigin = example.org\nzz_user = example.org\n$mydomain\n$myhostname\n");
    free(text);
    char *log = log_text();
    assert_contains(log, "mydestinaton: unknown parameter (did you mean \"mydestination\"?)");
    free(log);

    assert_string_equal(config_default("myorigin"), "$myhostname");
    assert_string_equal(config_default("message_size_limit"), "10240000");
    assert_null(config_default("zz_user"));
}

/* The command: run it with stdout and stderr in files. */
static int run_cmd(char **argv, int argc, char **out, char **errtext)
{
    char *outp = path_in_tmp("cmd.out"), *errp = path_in_tmp("cmd.err");
    fflush(stdout);
    int save_out = dup(1), save_err = dup(2);
    int fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644), fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fo, 1);
    dup2(fe, 2);
    close(fo);
    close(fe);
    int rc = cmd_config(argc, argv);
    fflush(stdout);
    dup2(save_out, 1);
    dup2(save_err, 2);
    close(save_out);
    close(save_err);
    *out = read_all(outp);
    *errtext = read_all(errp);
    free(outp);
    free(errp);
    return rc;
}

static void test_cmd_config(void **state)
{
    (void)state;
    char *conf = write_text("cmd.conf", "myorigin = $mydomain\nmydomain = example.org\nmydestinaton = x\n");
    char *out, *err;

    char *a1[] = {"config", "-c", conf};
    assert_int_equal(run_cmd(a1, 3, &out, &err), 0);
    assert_string_equal(out, "mydestinaton = x\nmydomain = example.org\nmyorigin = $mydomain\n");
    assert_contains(err, "yubin: warning: ");
    assert_contains(err, "unknown parameter \"mydestinaton\" (did you mean \"mydestination\"?)");
    free(out);
    free(err);

    char *a2[] = {"config", "-xc", conf, "myorigin", "bogus_param"};
    assert_int_equal(run_cmd(a2, 5, &out, &err), 0);
    assert_string_equal(out, "myorigin = example.org\n");
    assert_contains(err, "yubin: warning: bogus_param: unknown parameter");
    free(out);
    free(err);

    char *a3[] = {"config", "-dv", "hopcount_limit"};
    assert_int_equal(run_cmd(a3, 3, &out, &err), 0);
    assert_string_equal(out, "# The most Received: headers a message may have before it is refused as a loop\n"
                             "hopcount_limit = 50\n");
    free(out);
    free(err);

    char *a4[] = {"config", "-n", "-d"};
    assert_int_equal(run_cmd(a4, 3, &out, &err), 64);
    free(out);
    free(err);
    char *a5[] = {"config", "-q"};
    assert_int_equal(run_cmd(a5, 2, &out, &err), 64);
    free(out);
    free(err);
    free(conf);
    log_reset();    /* cmd_load_config switched logging to the terminal */
}

static void test_cmd_config_error_exit(void **state)
{
    (void)state;
    /* Exit 78 happens in cmd_load_config(); run it in a child. */
    char *conf = write_text("broken.conf", "message_size_limit = 10M\n");
    char *errp = path_in_tmp("child.err");
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fe, 2);
        char *argv[] = {"config", "-c", conf};
        _exit(cmd_config(3, argv));
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 78);
    char *err = read_all(errp);
    char *want = xasprintf("yubin: fatal: %s, line 1: bad value for message_size_limit: \"10M\" "
                           "(expected a number of bytes)\n", conf);
    assert_string_equal(err, want);
    free(want);
    free(err);
    free(errp);
    free(conf);
}

/* ------------------------------------------------------------ line reader */

struct collected {
    struct buf out;
};

static void collect(void *arg, const struct config_line *l)
{
    struct collected *c = arg;
    buf_printf(&c->out, "[%d-%d:%s]", l->first, l->last, l->text);
    for (size_t i = 0; i < l->nparts; i++)
        buf_printf(&c->out, "{%zu@%d}", l->part_start[i], l->part_line[i]);
}

static void test_split_lines(void **state)
{
    (void)state;
    static const char text[] = "a = 1\n"
                               "  \n"
                               "b = 2\n"
                               "# x\n"
                               "  3  \n"
                               "c\0d\n"
                               "   lost continuation of a bad line\n"
                               "e = 5";
    struct collected c = {BUF_INIT};
    struct buf err = BUF_INIT;
    int n = config_split_lines(text, sizeof(text) - 1, "f", collect, &c, &err);
    assert_int_equal(n, 1);
    assert_string_equal(buf_str(&err), "f, line 6: NUL byte in line");
    assert_string_equal(buf_str(&c.out), "[1-1:a = 1]{0@1}[3-5:b = 2  3]{0@3}{5@5}[8-8:e = 5]{0@8}");
    buf_free(&c.out);
    buf_free(&err);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* ---------------------------------------------------------------- table */

static void test_table_sane(void **state)
{
    (void)state;
    for (size_t i = 0; i < param_count; i++) {
        const struct param *p = &param_table[i];
        assert_non_null(p->var);
        assert_true(p->doc && strlen(p->doc) > 10);
        assert_true(p->def != NULL || p->compute != NULL);
        assert_ptr_equal(param_find(p->name), p);
        if (p->type == P_TIME)
            assert_non_null(strchr("smhdw", p->unit));
        if (p->choices)
            assert_true(p->type == P_STR);
        if (p->type == P_INT || p->type == P_TIME || p->type == P_SIZE)
            assert_true(p->min <= p->max);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(param_table[j].name, p->name);
    }
    assert_null(param_find("no_such_parameter"));
}

/* Like Postfix's build check: every parameter is in the manual. */
static void test_man_page_lists_every_parameter(void **state)
{
    (void)state;
    FILE *f = fopen("man/yubin.conf.5", "r");
    if (!f)
        skip();     /* not run from the source tree */
    fclose(f);
    char *man = read_all("man/yubin.conf.5");
    for (size_t i = 0; i < param_count; i++) {
        char *entry = xasprintf("\n.BR %s ", param_table[i].name);
        assert_contains(man, entry);
        free(entry);
    }
    free(man);
}

int main(void)
{
    /* mkdtemp's template: the name plus six 'X' */
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/%s.", "test_config");
    memset(tmpdir + strlen(tmpdir), 'X', 6);
    assert_non_null(mkdtemp(tmpdir));
    snprintf(logpath, sizeof(logpath), "%s/log", tmpdir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_expand_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expand_bad_space_in_braces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expand_lazy_and_recursive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expand_only_chosen_branch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expand_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expand_loop_keeps_previous, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expand_syntax_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expand_depth_and_size_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_expand_api, setup, teardown),
        cmocka_unit_test_setup_teardown(test_continuation_and_comments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_assignment_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_and_file_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strlist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_value_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_units, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults_and_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_choices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_computed_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_parameter_warning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suggest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_embedded_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_print, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cmd_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cmd_config_error_exit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_lines, setup, teardown),
        cmocka_unit_test(test_table_sane),
        cmocka_unit_test(test_man_page_lists_every_parameter),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return failed;
}
