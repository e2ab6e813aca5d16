/*
 * test_map.c - lookup tables (map.c): text table syntax (comments,
 * continuation lines, quoted keys, case folding), errors that name the file
 * and line, static and inline tables, and reload on change that keeps the
 * old contents when the new file is bad.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/map.h"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/yubin-test-map.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *write_file(const char *name, const char *text)
{
    char *path = xasprintf("%s/%s", tmpdir, name);
    char *tmp = xasprintf("%s.tmp", path);
    FILE *fp = fopen(tmp, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
    /* rename: a new inode, as an editor or a deploy tool would leave */
    assert_int_equal(rename(tmp, path), 0);
    free(tmp);
    return path;
}

static void test_text_syntax(void **state)
{
    (void)state;
    char *path = write_file("transport",
                            "# transport table\n"
                            "\n"
                            "Sink.Test   smtp:[127.0.0.1]:2626\n"
                            "   # an indented comment is still a comment\n"
                            "relay.test\trelay:[127.0.0.1]:2626   \r\n"
                            "multi   first part,\n"
                            "        second part\n"
                            "\"key with spaces\" quoted value\n"
                            "\"esc\\\"aped\" v\n"
                            "dead.test smtp:[127.0.0.1]:2699\n");
    char *spec = xasprintf("texthash:%s", path);
    struct buf err = BUF_INIT;
    struct map *m = map_open(spec, &err);
    if (!m)
        fail_msg("%s", buf_str(&err));
    assert_string_equal(map_name(m), spec);
    assert_string_equal(map_file(m), path);

    int line = -1;
    assert_string_equal(map_lookup(m, "sink.test", &line), "smtp:[127.0.0.1]:2626");
    assert_int_equal(line, 3);
    /* keys are folded on both sides */
    assert_string_equal(map_lookup(m, "SINK.TEST", NULL), "smtp:[127.0.0.1]:2626");
    assert_string_equal(map_lookup(m, "relay.test", &line), "relay:[127.0.0.1]:2626");
    assert_int_equal(line, 5);
    /* a continuation line joins the previous one (whitespace kept) */
    assert_string_equal(map_lookup(m, "multi", &line), "first part,        second part");
    assert_int_equal(line, 6);
    assert_string_equal(map_lookup(m, "key with spaces", NULL), "quoted value");
    assert_string_equal(map_lookup(m, "esc\"aped", NULL), "v");
    assert_string_equal(map_lookup(m, "dead.test", &line), "smtp:[127.0.0.1]:2699");
    assert_int_equal(line, 10);
    assert_null(map_lookup(m, "missing.test", NULL));
    assert_null(map_lookup(m, "# transport table", NULL));
    assert_null(map_lookup(m, "", NULL));
    map_close(m);
    free(spec);

    /* hash: reads the same text file (there is no compile step) */
    spec = xasprintf("hash:%s", path);
    m = map_open(spec, &err);
    assert_non_null(m);
    assert_string_equal(map_lookup(m, "relay.test", NULL), "relay:[127.0.0.1]:2626");
    map_close(m);
    free(spec);
    free(path);
    buf_free(&err);
}

struct walk {
    struct buf b;
};

static void walk_fn(void *arg, const char *key, const char *value, int line)
{
    struct walk *w = arg;
    buf_printf(&w->b, "%s=%s@%d;", key, value, line);
}

static void test_walk_and_duplicates(void **state)
{
    (void)state;
    char *path = write_file("dups", "b 1\nA 2\nb 3\na 4\n");
    char *spec = xasprintf("hash:%s", path);
    struct buf err = BUF_INIT;
    unsigned long warnings = log_warning_count();
    struct map *m = map_open(spec, &err);
    assert_non_null(m);
    /* the first of two duplicates wins, with a warning naming the line */
    assert_int_equal(log_warning_count(), warnings + 2);
    assert_string_equal(map_lookup(m, "b", NULL), "1");
    assert_string_equal(map_lookup(m, "a", NULL), "2");
    struct walk w = {BUF_INIT};
    map_walk(m, walk_fn, &w);
    assert_string_equal(buf_str(&w.b), "b=1@1;a=2@2;");
    buf_free(&w.b);
    map_close(m);
    free(spec);
    free(path);
    buf_free(&err);
}

static void test_big_table(void **state)
{
    (void)state;
    struct buf text = BUF_INIT;
    for (int i = 0; i < 20000; i++)
        buf_printf(&text, "Key%d value%d\n", i, i);
    char *path = write_file("big", text.data);
    char *spec = xasprintf("texthash:%s", path);
    struct buf err = BUF_INIT;
    struct map *m = map_open(spec, &err);
    assert_non_null(m);
    for (int i = 0; i < 20000; i += 7) {
        char key[32], want[32];
        snprintf(key, sizeof(key), "KEY%d", i);
        snprintf(want, sizeof(want), "value%d", i);
        int line;
        assert_string_equal(map_lookup(m, key, &line), want);
        assert_int_equal(line, i + 1);
    }
    assert_null(map_lookup(m, "key20000", NULL));
    map_close(m);
    free(spec);
    free(path);
    buf_free(&err);
    buf_free(&text);
}

struct err_case {
    const char *text;
    const char *want;       /* substring of the error, after the file name */
};

static void test_text_errors(void **state)
{
    (void)state;
    static const struct err_case cases[] = {
        {"good value\nlonely\n", ", line 2: expected format: key whitespace value"},
        {"  continued value\n", ", line 1: continuation line without a preceding entry"},
        {"# c\n\"open key value\n", ", line 2: unterminated quoted key"},
        {"\"key\"value\n", ", line 1: expected whitespace after quoted key"},
        {"a b\n\"\" empty\n", ", line 2: expected format: key whitespace value"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *path = write_file("bad", cases[i].text);
        char *spec = xasprintf("hash:%s", path);
        struct buf err = BUF_INIT;
        assert_null(map_open(spec, &err));
        char *want = xasprintf("%s%s", path, cases[i].want);
        if (!strstr(buf_str(&err), want))
            fail_msg("case %zu: error \"%s\", want \"%s\"", i, buf_str(&err), want);
        free(want);
        free(spec);
        free(path);
        buf_free(&err);
    }

    /* several bad lines: each is reported */
    char *path = write_file("bad", "a\nb\nc d\ne\n");
    char *spec = xasprintf("hash:%s", path);
    struct buf err = BUF_INIT;
    assert_null(map_open(spec, &err));
    assert_non_null(strstr(buf_str(&err), ", line 1:"));
    assert_non_null(strstr(buf_str(&err), ", line 2:"));
    assert_null(strstr(buf_str(&err), ", line 3:"));
    assert_non_null(strstr(buf_str(&err), ", line 4:"));
    buf_free(&err);
    free(spec);

    spec = xasprintf("hash:%s/does-not-exist", tmpdir);
    assert_null(map_open(spec, &err));
    assert_non_null(strstr(buf_str(&err), "does-not-exist: No such file or directory"));
    buf_free(&err);
    free(spec);
    free(path);
}

static void test_spec_errors(void **state)
{
    (void)state;
    const char *bad[] = {"hash", "hash:", ":x", "btree:/etc/x", "regexp:/etc/x", "inline:a=b",
                         "inline:{ a }", "inline:{ =b }"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct buf err = BUF_INIT;
        struct map *m = map_open(bad[i], &err);
        if (m)
            fail_msg("\"%s\" accepted", bad[i]);
        assert_true(err.len > 0);
        buf_free(&err);
    }
    struct buf err = BUF_INIT;
    assert_null(map_open("cdb:/etc/x", &err));
    assert_non_null(strstr(buf_str(&err), "unsupported table type \"cdb\""));
    buf_free(&err);
}

static void test_static_inline(void **state)
{
    (void)state;
    struct buf err = BUF_INIT;
    struct map *m = map_open("static:smtp:[127.0.0.1]:2626", &err);
    assert_non_null(m);
    assert_string_equal(map_lookup(m, "anything", NULL), "smtp:[127.0.0.1]:2626");
    assert_string_equal(map_lookup(m, "", NULL), "smtp:[127.0.0.1]:2626");
    assert_null(map_file(m));
    struct walk w = {BUF_INIT};
    map_walk(m, walk_fn, &w);
    assert_string_equal(buf_str(&w.b), "");
    map_close(m);

    m = map_open("static:{ text with spaces }", &err);
    assert_non_null(m);
    assert_string_equal(map_lookup(m, "x", NULL), "text with spaces");
    map_close(m);

    m = map_open("inline:{ Sink.Test=smtp:[127.0.0.1]:2626, relay.test=relay, { key = text, with comma } }", &err);
    if (!m)
        fail_msg("%s", buf_str(&err));
    assert_string_equal(map_lookup(m, "sink.test", NULL), "smtp:[127.0.0.1]:2626");
    assert_string_equal(map_lookup(m, "RELAY.TEST", NULL), "relay");
    assert_string_equal(map_lookup(m, "key", NULL), "text, with comma");
    assert_null(map_lookup(m, "other", NULL));
    map_walk(m, walk_fn, &w);
    assert_string_equal(buf_str(&w.b), "sink.test=smtp:[127.0.0.1]:2626@0;relay.test=relay@0;key=text, with comma@0;");
    map_close(m);
    buf_free(&w.b);
    buf_free(&err);
}

static void test_reload(void **state)
{
    (void)state;
    char *path = write_file("reload", "a.test first\n");
    char *spec = xasprintf("texthash:%s", path);
    struct buf err = BUF_INIT;
    struct map *m = map_open(spec, &err);
    assert_non_null(m);
    assert_string_equal(map_lookup(m, "a.test", NULL), "first");

    /* changed file: picked up once a second has passed */
    free(write_file("reload", "a.test second\nb.test new\n"));
    usleep(1100 * 1000);
    assert_string_equal(map_lookup(m, "a.test", NULL), "second");
    assert_string_equal(map_lookup(m, "b.test", NULL), "new");

    /* a broken edit keeps what worked, with a warning */
    unsigned long warnings = log_warning_count();
    free(write_file("reload", "a.test third\nbroken\n"));
    usleep(1100 * 1000);
    assert_string_equal(map_lookup(m, "a.test", NULL), "second");
    assert_int_equal(log_warning_count(), warnings + 1);
    /* and does not warn again every second for the same bad file */
    usleep(1100 * 1000);
    assert_string_equal(map_lookup(m, "b.test", NULL), "new");
    assert_int_equal(log_warning_count(), warnings + 1);

    /* a removed file also keeps the old contents */
    assert_int_equal(unlink(path), 0);
    usleep(1100 * 1000);
    assert_string_equal(map_lookup(m, "a.test", NULL), "second");

    /* the fix is picked up */
    free(write_file("reload", "a.test fourth\n"));
    usleep(1100 * 1000);
    assert_string_equal(map_lookup(m, "a.test", NULL), "fourth");
    assert_null(map_lookup(m, "b.test", NULL));
    map_close(m);
    free(spec);
    free(path);
    buf_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_syntax),
        cmocka_unit_test(test_walk_and_duplicates),
        cmocka_unit_test(test_big_table),
        cmocka_unit_test(test_text_errors),
        cmocka_unit_test(test_spec_errors),
        cmocka_unit_test(test_static_inline),
        cmocka_unit_test(test_reload),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
