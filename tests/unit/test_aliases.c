/*
 * test_aliases.c - /etc/aliases parsing: target kinds, quoting,
 * continuation lines, duplicates, every error with its file and line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/aliases.h"
#include "lib/buf.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/util.h"

static char tmpdir[64];
static char logpath[PATH_MAX];

static char *write_file(const char *name, const char *text, size_t len)
{
    char *p = xasprintf("%s/%s", tmpdir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write_all(fd, text, len), 0);
    close(fd);
    return p;
}

static char *log_text(void)
{
    struct buf err = BUF_INIT;
    size_t len;
    char *t = config_read_file(logpath, 1 << 20, &len, &err);
    buf_free(&err);
    return t ? t : xstrdup("");
}

static void log_reset(void)
{
    log_open("test", LOG_TO_FILE, logpath);
    int fd = open(logpath, O_WRONLY | O_TRUNC);
    if (fd >= 0)
        close(fd);
}

static struct aliases *parse(const char *text)
{
    return aliases_parse_string(text, strlen(text), "aliases");
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) {
        print_error("\"%s\" not found in \"%s\"\n", needle, hay);
        fail();
    }
}

static char *errors_of(const struct aliases *a, size_t *n)
{
    struct buf err = BUF_INIT;
    *n = aliases_validate(a, &err);
    return buf_steal(&err);
}

static void assert_target(const struct alias_entry *e, size_t i, enum alias_kind kind, const char *value, int line)
{
    assert_true(i < e->ntargets);
    assert_int_equal(e->targets[i].kind, kind);
    assert_string_equal(e->targets[i].value, value);
    assert_int_equal(e->targets[i].line, line);
    assert_string_equal(e->targets[i].file, "aliases");
}

static void test_parse_kinds(void **state)
{
    (void)state;
    struct aliases *a = parse("# Debian's default\n"
                              "postmaster:    root\n"
                              "\n"
                              "Root: admin@example.com, /var/log/root.mbox,\n"
                              "    \"|/usr/bin/procmail -a foo\",\n"
                              "# a comment inside the list\n"
                              "\t:include:/etc/yubin/list.members, /srv/maildir/\n"
                              "\"odd name: yes\": \\someone , <bracketed@example.org>,, \n"
                              "pipe: |/usr/bin/true\n"
                              "quoted: \"john doe\"@example.com, \"/var/mail/with space\"\n");
    size_t nerr;
    char *err = errors_of(a, &nerr);
    assert_string_equal(err, "");
    assert_int_equal(nerr, 0);
    free(err);
    assert_int_equal(aliases_count(a), 5);
    assert_string_equal(aliases_file(a), "aliases");

    const struct alias_entry *e = aliases_lookup(a, "POSTMASTER");
    assert_non_null(e);
    assert_string_equal(e->name, "postmaster");
    assert_int_equal(e->line, 2);
    assert_int_equal(e->ntargets, 1);
    assert_target(e, 0, ALIAS_ADDRESS, "root", 2);
    assert_false(e->broken);

    e = aliases_lookup(a, "root");
    assert_non_null(e);
    assert_string_equal(e->name, "root");
    assert_int_equal(e->ntargets, 5);
    assert_target(e, 0, ALIAS_ADDRESS, "admin@example.com", 4);
    assert_target(e, 1, ALIAS_FILE, "/var/log/root.mbox", 4);
    assert_target(e, 2, ALIAS_COMMAND, "/usr/bin/procmail -a foo", 5);
    assert_target(e, 3, ALIAS_INCLUDE, "/etc/yubin/list.members", 7);
    assert_target(e, 4, ALIAS_FILE, "/srv/maildir/", 7);

    e = aliases_lookup(a, "odd name: yes");
    assert_non_null(e);
    assert_int_equal(e->ntargets, 2);
    assert_target(e, 0, ALIAS_ADDRESS, "someone", 8);
    assert_true(e->targets[0].escaped);
    assert_target(e, 1, ALIAS_ADDRESS, "bracketed@example.org", 8);
    assert_false(e->targets[1].escaped);

    e = aliases_lookup(a, "pipe");
    assert_target(e, 0, ALIAS_COMMAND, "/usr/bin/true", 9);

    e = aliases_lookup(a, "quoted");
    assert_int_equal(e->ntargets, 2);
    assert_target(e, 0, ALIAS_ADDRESS, "\"john doe\"@example.com", 10);
    assert_target(e, 1, ALIAS_FILE, "/var/mail/with space", 10);

    assert_null(aliases_lookup(a, "nobody"));
    assert_string_equal(aliases_entry(a, 0)->name, "postmaster");
    assert_string_equal(aliases_entry(a, 4)->name, "quoted");
    assert_null(aliases_entry(a, 5));
    assert_string_equal(aliases_kind_name(ALIAS_INCLUDE), "include");
    aliases_free(a);
}

static void test_duplicate_first_wins(void **state)
{
    (void)state;
    struct aliases *a = parse("root: first@example.com\n"
                              "other: x\n"
                              "ROOT: second@example.com\n");
    const struct alias_entry *e = aliases_lookup(a, "root");
    assert_non_null(e);
    assert_string_equal(e->targets[0].value, "first@example.com");
    assert_int_equal(aliases_count(a), 2);
    struct buf w = BUF_INIT;
    assert_int_equal(aliases_warnings(a, &w), 1);
    assert_string_equal(buf_str(&w), "aliases, line 3: duplicate alias \"root\" ignored; the definition on line 1 is used");
    buf_free(&w);
    size_t n;
    char *err = errors_of(a, &n);
    assert_int_equal(n, 0);
    free(err);
    aliases_free(a);
}

static void test_errors_with_lines(void **state)
{
    (void)state;
    struct aliases *a = parse("root hoge@example.com\n"                 /* 1: no colon */
                              "cmd: |/usr/bin/procmail -a foo\n"        /* 2: unquoted spaces */
                              "inc: :include:relative/file\n"           /* 3 */
                              "two: alice bob\n"                        /* 4 */
                              "dom: user@bad_domain..x\n"               /* 5 */
                              "list: a, \\\n"                           /* 6: backslash */
                              "b: c\n"                                  /* 7: fine */
                              "q: \"|unterminated\n"                    /* 8 */
                              ": nobody\n"                              /* 9 */
                              "user@example.com: x\n"                   /* 10 */
                              "empty:\n"                                /* 11 */
                              "\"unterminated: x\n"                     /* 12 */
                              "   leading: x\n"                         /* 13: continues line 12 */
                              "mixed: good@example.com,\n"              /* 14 */
                              "   |\n");                                /* 15 */
    size_t n;
    char *err = errors_of(a, &n);
    assert_contains(err, "aliases, line 1: missing ':' after the alias name in \"root hoge@example.com\"");
    assert_contains(err, "aliases, line 2: a command with spaces must be quoted: \"|/usr/bin/procmail -a foo\"");
    assert_contains(err, "aliases, line 3: the :include: file must be an absolute path: \"relative/file\"");
    assert_contains(err, "aliases, line 4: \"alice bob\" is not one address");
    assert_contains(err, "aliases, line 5: bad address \"user@bad_domain..x\"");
    assert_contains(err, "aliases, line 6: line ends with '\\', which does not continue it");
    assert_contains(err, "aliases, line 8: missing '\"' at the end of a quoted target");
    assert_contains(err, "aliases, line 9: empty alias name");
    assert_contains(err, "aliases, line 10: alias name \"user@example.com\" has a domain");
    assert_contains(err, "aliases, line 11: alias \"empty\" has no targets");
    assert_contains(err, "aliases, line 12: missing '\"' at the end of the alias name");
    assert_contains(err, "aliases, line 15: empty command after '|'");
    assert_null(strstr(err, "line 7:"));
    assert_null(strstr(err, "line 13:"));
    assert_int_equal(n, 12);
    free(err);

    /* Good lines are usable; a definition with an error is marked. */
    const struct alias_entry *b = aliases_lookup(a, "b");
    assert_non_null(b);
    assert_false(b->broken);
    const struct alias_entry *m = aliases_lookup(a, "mixed");
    assert_non_null(m);
    assert_true(m->broken);
    assert_int_equal(m->ntargets, 1);
    assert_string_equal(m->targets[0].value, "good@example.com");
    assert_null(aliases_lookup(a, "root"));
    aliases_free(a);
}

static void test_limits(void **state)
{
    (void)state;
    /* A line over 64 KiB. */
    size_t n = CONFIG_MAX_LINE + 10;
    char *text = xmalloc(n + 32);
    memcpy(text, "big: ", 5);
    memset(text + 5, 'a', n - 5);
    memcpy(text + n, "\nok: x\n", 8);
    struct aliases *a = aliases_parse_string(text, n + 7, "aliases");
    size_t nerr;
    char *err = errors_of(a, &nerr);
    assert_string_equal(err, "aliases, line 1: line is longer than 65536 bytes");
    assert_non_null(aliases_lookup(a, "ok"));
    assert_null(aliases_lookup(a, "big"));
    free(err);
    aliases_free(a);
    free(text);

    /* A logical line over 1 MiB made of continuation lines. */
    struct buf big = BUF_INIT;
    buf_puts(&big, "list: a\n");
    while (big.len < ALIASES_MAX_LOGICAL + 65536)
        buf_puts(&big, "  , someone.with.a.long.name@example.com, another.long.name@example.com\n");
    a = aliases_parse_string(big.data, big.len, "aliases");
    err = errors_of(a, &nerr);
    assert_string_equal(err, "aliases, line 1: alias definition is longer than 1048576 bytes");
    free(err);
    aliases_free(a);

    /* A file over 16 MiB is refused as a whole. */
    while (big.len <= ALIASES_MAX_FILE)
        buf_puts(&big, "# padding padding padding padding padding padding padding padding padding\n");
    char *p = write_file("huge", big.data, big.len);
    struct buf e = BUF_INIT;
    assert_null(aliases_parse_file(p, &e));
    assert_contains(buf_str(&e), "file is larger than 16777216 bytes");
    buf_free(&e);
    buf_free(&big);
    free(p);

    /* NUL byte. */
    static const char nul[] = "a: b\0c\nd: e\n";
    a = aliases_parse_string(nul, sizeof(nul) - 1, "aliases");
    err = errors_of(a, &nerr);
    assert_string_equal(err, "aliases, line 1: NUL byte in line");
    assert_non_null(aliases_lookup(a, "d"));
    free(err);
    aliases_free(a);
}

static void test_check_file(void **state)
{
    (void)state;
    log_reset();
    char *inc = xasprintf("%s/members", tmpdir);
    char *text = xasprintf("postmaster: root\n"
                           "list: :include:%s\n"
                           "gone: :include:%s/missing\n"
                           "postmaster: other\n",
                           inc, tmpdir);
    char *members = write_file("members", "a@example.com\n", 14);
    char *p = write_file("aliases.ok", text, strlen(text));
    struct buf err = BUF_INIT;
    assert_int_equal(aliases_check_file(p, &err), 0);
    assert_string_equal(buf_str(&err), "");
    char *log = log_text();
    char *want = xasprintf("%s, line 4: duplicate alias \"postmaster\" ignored; the definition on line 1 is used", p);
    assert_contains(log, want);
    free(want);
    want = xasprintf("%s, line 3: :include: file %s/missing: No such file or directory", p, tmpdir);
    assert_contains(log, want);
    free(want);
    assert_null(strstr(log, "members:"));
    free(log);

    char *bad = write_file("aliases.bad", "ok: x\nbroken\n", 13);
    assert_int_equal(aliases_check_file(bad, &err), -1);
    want = xasprintf("%s, line 2: missing ':' after the alias name in \"broken\"", bad);
    assert_string_equal(buf_str(&err), want);
    free(want);
    buf_reset(&err);

    char *missing = xasprintf("%s/nonexistent", tmpdir);
    assert_int_equal(aliases_check_file(missing, &err), -1);
    assert_contains(buf_str(&err), "cannot open");
    buf_free(&err);
    free(missing);
    free(bad);
    free(p);
    free(members);
    free(text);
    free(inc);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(void)
{
    /* mkdtemp's template: the name plus six 'X' */
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/%s.", "test_aliases");
    memset(tmpdir + strlen(tmpdir), 'X', 6);
    assert_non_null(mkdtemp(tmpdir));
    snprintf(logpath, sizeof(logpath), "%s/log", tmpdir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_kinds),
        cmocka_unit_test(test_duplicate_first_wins),
        cmocka_unit_test(test_errors_with_lines),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_check_file),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return failed;
}
