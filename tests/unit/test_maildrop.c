/*
 * test_maildrop.c - local submission end to end without the daemon: the
 * sendmail side writes maildrop files, pickup (on a libevent loop) moves
 * them through cleanup into the queue; hostile files written "by another
 * user" end up in corrupt/ and never hang or crash pickup.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <event2/event.h>
#include <cmocka.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/params.h"
#include "lib/util.h"
#include "queue/cleanup.h"
#include "queue/maildrop.h"
#include "queue/qid.h"
#include "queue/queue.h"
#include "queue/queue_file.h"
#include "receive/smtpd.h"

static char tmpdir[256];
static char qdir[300];
static char logpath[300];
static struct queue *q;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    /* mkdtemp template: the prefix, then six X characters it replaces. */
    int plen = snprintf(tmpdir, sizeof(tmpdir), "/tmp/yubin-test-maildrop-");
    memset(tmpdir + plen, 'X', 6);
    tmpdir[plen + 6] = 0;
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(qdir, sizeof(qdir), "%s/queue", tmpdir);
    snprintf(logpath, sizeof(logpath), "%s/maillog", tmpdir);
    struct buf text = BUF_INIT, err = BUF_INIT;
    buf_printf(&text, "myhostname = mx.example.test\nmydomain = example.test\nmyorigin = $mydomain\n"
                      "queue_directory = %s\nmessage_size_limit = 100000\n", qdir);
    if (config_load_string(buf_str(&text), "test", &err) != 0) {
        fprintf(stderr, "config: %s\n", buf_str(&err));
        return -1;
    }
    log_open("yubin", LOG_TO_FILE, logpath);
    q = queue_open(qdir, false, &err);
    buf_free(&text);
    buf_free(&err);
    if (!q)
        return -1;
    cleanup_init(q, NULL, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    queue_close(q);
    log_open("yubin", LOG_TO_STDERR, NULL);
    if (getenv("YUBIN_TEST_KEEP"))
        fprintf(stderr, "kept %s\n", tmpdir);
    else
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* Names in a queue subdirectory, sorted, dot-files included. */
static size_t list_dir(const char *sub, char names[][64], size_t max)
{
    char *path = xasprintf("%s/%s", qdir, sub);
    DIR *d = opendir(path);
    free(path);
    size_t n = 0;
    if (!d)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < max) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(names[n++], 64, "%.63s", de->d_name);
    }
    closedir(d);
    return n;
}

static int collect(void *arg, const char *p, size_t n)
{
    buf_append(arg, p, n);
    return 0;
}

static char *read_file(const char *path, struct envelope *env)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    off_t off;
    uint64_t size;
    bool incomplete;
    struct buf err = BUF_INIT, content = BUF_INIT;
    if (qf_read(fd, env, &off, &size, &incomplete, &err) != 0)
        fail_msg("qf_read %s: %s", path, buf_str(&err));
    assert_int_equal(qf_read_content(fd, off, collect, &content), 0);
    close(fd);
    buf_free(&err);
    buf_puts(&content, "");
    return buf_steal(&content);
}

static void local_env(struct envelope *e, const char *sender)
{
    envelope_init(e);
    e->sender = xstrdup(sender);
    envelope_add_rcpt(e, "root", NULL, DSN_NOTIFY_FAILURE);
    e->uid = (long)getuid();
    e->origin = xstrdup("sendmail");
    e->proto = xstrdup("local");
    e->fullname = xstrdup("Alice Example");
    e->arrival = time_now();
}

/* What a hostile user could put into maildrop/ by hand: a well-formed
 * envelope with arbitrary content bytes. */
static void write_raw(const char *name, const char *content, size_t len)
{
    struct envelope env;
    local_env(&env, "mallory");
    struct buf out = BUF_INIT;
    uint32_t n = qf_write_envelope(&out, &env);
    qf_record_header(&out, 'D', (uint32_t)len);
    buf_append(&out, content, len);
    n++;
    uLong crc = crc32(crc32(0L, Z_NULL, 0), (const Bytef *)content, (uInt)len);
    qf_end_record(&out, len, (uint32_t)crc, n);
    char *path = xasprintf("%s/maildrop/%s", qdir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write_all(fd, out.data, out.len), 0);
    close(fd);
    free(path);
    buf_free(&out);
    envelope_free(&env);
}

static void test_writer(void **state)
{
    (void)state;
    struct envelope env;
    local_env(&env, "alice");
    char name[QID_SIZE];
    struct maildrop_writer *w = maildrop_create(qdir, &env, name, sizeof(name));
    assert_non_null(w);
    assert_true(qid_valid(name));
    assert_int_equal(strlen(name), 20);
    /* Until commit only a dot-file exists: pickup never sees half a file. */
    char names[8][64];
    assert_int_equal(list_dir("maildrop", names, 8), 1);
    assert_int_equal(names[0][0], '.');
    assert_string_equal(maildrop_temp_path(w) + strlen(maildrop_temp_path(w)) - 21, names[0]);

    struct buf big = BUF_INIT;
    buf_puts(&big, "Subject: big\r\n\r\n");
    while (big.len < 3 * QF_CHUNK_MAX)
        buf_puts(&big, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n");
    /* Several writes that straddle the 64 KiB record boundary. */
    assert_int_equal(maildrop_write(w, big.data, 1000), 0);
    assert_int_equal(maildrop_write(w, big.data + 1000, big.len - 1000), 0);
    assert_int_equal(maildrop_commit(w), 0);   /* no daemon running: still 0 */

    assert_int_equal(list_dir("maildrop", names, 8), 1);
    assert_string_equal(names[0], name);
    char *path = xasprintf("%s/maildrop/%s", qdir, name);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    struct envelope back;
    char *content = read_file(path, &back);
    assert_string_equal(content, buf_str(&big));
    assert_string_equal(back.sender, "alice");
    assert_int_equal(back.nrcpt, 1);
    assert_string_equal(back.rcpt[0].addr, "root");
    assert_int_equal(back.rcpt[0].notify, DSN_NOTIFY_FAILURE);
    assert_string_equal(back.fullname, "Alice Example");
    free(content);
    free(path);
    envelope_free(&back);

    /* Abort leaves nothing. */
    w = maildrop_create(qdir, &env, name, sizeof(name));
    assert_non_null(w);
    assert_int_equal(maildrop_write(w, "x\r\n", 3), 0);
    maildrop_abort(w);
    assert_int_equal(list_dir("maildrop", names, 8), 1);

    /* An envelope the queue could not store is refused up front. */
    envelope_set(&env.fullname, "bad\nname");
    assert_null(maildrop_create(qdir, &env, name, sizeof(name)));
    buf_free(&big);
    envelope_free(&env);
}

static void run_loop(struct event_base *base)
{
    for (int i = 0; i < 200; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
}

static bool log_has(const char *needle)
{
    FILE *f = fopen(logpath, "r");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static void test_pickup(void **state)
{
    (void)state;
    /* A normal submission. */
    struct envelope env;
    local_env(&env, "alice");
    char name[QID_SIZE];
    struct maildrop_writer *w = maildrop_create(qdir, &env, name, sizeof(name));
    assert_non_null(w);
    const char *msg = "Subject: picked up\r\n\r\nhello\r\n";
    assert_int_equal(maildrop_write(w, msg, strlen(msg)), 0);
    assert_int_equal(maildrop_commit(w), 0);
    envelope_free(&env);

    /* Hostile content: bare LF and bare CR, no final line end. */
    const char *raw = "Subject: raw\n\nline1\nline2\rstill2\r\nend";
    write_raw("0000000000AA", raw, strlen(raw));
    /* Garbage, a symlink, a FIFO, a hard link, a fresh temporary file and
     * a file name that is no queue ID. */
    char *p = xasprintf("%s/maildrop/0000000000BB", qdir);
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    assert_int_equal(write_all(fd, "not a queue file at all, but long enough to have a tail", 55), 0);
    close(fd);
    free(p);
    char *target = xasprintf("%s/maildrop/0000000000AA", qdir);
    p = xasprintf("%s/maildrop/0000000000CC", qdir);
    assert_int_equal(symlink("/etc/passwd", p), 0);
    free(p);
    p = xasprintf("%s/maildrop/0000000000DD", qdir);
    assert_int_equal(mkfifo(p, 0644), 0);
    free(p);
    write_raw("0000000000EE", "Subject: linked\r\n\r\nx\r\n", 22);
    char *e1 = xasprintf("%s/maildrop/0000000000EE", qdir);
    char *e2 = xasprintf("%s/linked-copy", tmpdir);
    assert_int_equal(link(e1, e2), 0);
    free(e1);
    free(e2);
    p = xasprintf("%s/maildrop/.0000000000FF", qdir);
    fd = open(p, O_WRONLY | O_CREAT, 0644);
    close(fd);
    free(p);
    p = xasprintf("%s/maildrop/not-a-qid", qdir);
    fd = open(p, O_WRONLY | O_CREAT, 0644);
    close(fd);
    free(p);
    free(target);

    struct event_base *base = event_base_new();
    pickup_start(base, q);
    run_loop(base);

    char names[16][64];
    size_t n = list_dir("maildrop", names, 16);
    /* Left: only the fresh temporary file. */
    assert_int_equal(n, 1);
    assert_string_equal(names[0], ".0000000000FF");
    n = list_dir("corrupt", names, 16);
    assert_int_equal(n, 5);     /* BB, CC, DD, EE and not-a-qid as badname.QID */
    n = list_dir("messages", names, 16);
    assert_int_equal(n, 2);

    bool saw_alice = false, saw_raw = false;
    for (size_t i = 0; i < n; i++) {
        char *path = xasprintf("%s/messages/%s", qdir, names[i]);
        struct envelope back;
        char *content = read_file(path, &back);
        if (strcmp(back.sender, "alice@example.test") == 0) {
            saw_alice = true;
            assert_string_equal(back.rcpt[0].addr, "root@example.test");
            assert_int_equal(back.uid, (long)getuid());
            assert_string_equal(back.origin, "pickup");
            assert_non_null(strstr(content, "(yubin, from userid"));
            assert_non_null(strstr(content, "\r\nFrom: Alice Example <alice@example.test>\r\n"));
            assert_non_null(strstr(content, "Subject: picked up\r\n"));
            char *logline = xasprintf("pickup[%ld]: %s: uid=%ld from=<alice>", (long)getpid(), names[i],
                                      (long)getuid());
            assert_true(log_has(logline));
            free(logline);
        } else {
            saw_raw = true;
            assert_string_equal(back.sender, "mallory@example.test");
            const char *body = strstr(content, "Subject: raw\r\n");
            assert_non_null(body);
            assert_non_null(strstr(body, "\r\n\r\nline1\r\nline2 still2\r\nend\r\n"));
            /* No bare CR or LF anywhere. */
            for (const char *c = content; *c; c++) {
                if (*c == '\r')
                    assert_int_equal(c[1], '\n');
                if (*c == '\n')
                    assert_true(c > content && c[-1] == '\r');
            }
        }
        free(content);
        free(path);
        envelope_free(&back);
    }
    assert_true(saw_alice);
    assert_true(saw_raw);
    assert_true(log_has("maildrop file 0000000000DD: not a regular file with one link"));
    assert_true(log_has("maildrop file not-a-qid: not a maildrop file name; moved to "));

    /* A message cleanup refuses for good (too many hops) is kept aside. */
    struct buf loop = BUF_INIT;
    for (int i = 0; i < 60; i++)
        buf_puts(&loop, "Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n");
    buf_puts(&loop, "\r\nlooping\r\n");
    write_raw("0000000000AB", loop.data, loop.len);
    buf_free(&loop);
    pickup_poke();
    run_loop(base);
    n = list_dir("corrupt", names, 16);
    assert_int_equal(n, 6);
    assert_int_equal(list_dir("messages", names, 16), 2);
    assert_true(log_has("0000000000AB: 554 5.4.0 Error: too many hops"));
    event_base_free(base);
}

static void done_cb(void *arg, const char *qid, const char *err)
{
    char **out = arg;
    *out = xasprintf("%s %s", qid, err ? err : "OK");
}

static void test_sink(void **state)
{
    (void)state;
    struct msg_sink s;
    maildrop_sink(&s, qdir);
    assert_true(s.has_space(s.ctx));
    struct envelope env;
    envelope_init(&env);
    env.sender = xstrdup("app@example.test");
    envelope_add_rcpt(&env, "root", NULL, 0);
    env.client_name = xstrdup("localhost");
    env.proto = xstrdup("ESMTP");
    const char *reply = NULL;
    void *h = s.open(s.ctx, "0123456789AB", &env, &reply);
    assert_non_null(h);
    assert_null(s.line(h, "Subject: bs\r\n", 13));
    assert_null(s.line(h, "\r\n", 2));
    char *res = NULL;
    s.close(h, done_cb, &res);
    assert_non_null(res);
    char names[8][64];
    assert_int_equal(list_dir("maildrop", names, 8), 1);
    char *want = xasprintf("%s OK", names[0]);
    assert_string_equal(res, want);
    free(want);
    free(res);
    char *path = xasprintf("%s/maildrop/%s", qdir, names[0]);
    struct envelope back;
    char *content = read_file(path, &back);
    assert_string_equal(content, "Subject: bs\r\n\r\n");
    assert_int_equal(back.uid, (long)getuid());
    free(content);
    free(path);
    envelope_free(&back);

    /* Too big: 552, and nothing is left behind. */
    h = s.open(s.ctx, "0123456789AC", &env, &reply);
    assert_non_null(h);
    char line[1002];
    memset(line, 'x', 1000);
    memcpy(line + 1000, "\r\n", 2);
    const char *r = NULL;
    for (int i = 0; i < 200 && !r; i++)
        r = s.line(h, line, sizeof(line));
    assert_string_equal(r, "552 5.3.4 Error: message file too big");
    res = NULL;
    s.close(h, done_cb, &res);
    assert_non_null(strstr(res, "552 5.3.4"));
    free(res);
    assert_int_equal(list_dir("maildrop", names, 8), 1);
    envelope_free(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pickup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
