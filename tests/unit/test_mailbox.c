/*
 * test_mailbox.c - Maildir, mbox and /file delivery (src/deliver/mailbox.c)
 * on real files in a fresh temporary directory: the bytes that land on
 * disk (prepended headers, CRLF -> LF, 8-bit bytes, "From " quoting, the
 * From_ line and the blank line), unique Maildir names, the tricks a
 * mailbox must refuse (symlink, hard link, FIFO, wrong owner), both locks,
 * the size limit, and the truncation back to the old size after a failed
 * write. Messages come from genuine queue files read back with qf_read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "deliver/mailbox.h"
#include "lib/buf.h"
#include "lib/params.h"
#include "lib/util.h"
#include "queue/envelope.h"
#include "queue/queue_file.h"

/* ---- fixtures ---- */

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    /* mkdtemp's template: the prefix, then six 'X' it replaces */
    int plen = snprintf(tmpdir, sizeof(tmpdir), "/tmp/yubin-mbox-");
    memset(tmpdir + plen, 'X', 6);
    tmpdir[plen + 6] = 0;
    if (!mkdtemp(tmpdir))
        return -1;
    var_mailbox_size_limit = 0;
    mailbox_set_lock_wait_ms(5000);
    return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static int teardown(void **state)
{
    (void)state;
    chmod(tmpdir, 0700);
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    var_mailbox_size_limit = 0;
    return 0;
}

static char *tpath(const char *name)
{
    return xasprintf("%s/%s", tmpdir, name);
}

/* A queue file holding content in D records of at most chunk bytes, read
 * back the way the dispatcher reads it. */
static void msg_open(struct dlv_msg *m, const char *content, size_t len, size_t chunk)
{
    struct envelope e;
    envelope_init(&e);
    envelope_set(&e.sender, "sender@example.test");
    e.arrival = 1795452738.25;
    envelope_add_rcpt(&e, "user@example.test", NULL, 0);
    struct buf out = BUF_INIT;
    uint32_t n = qf_write_envelope(&out, &e);
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t off = 0; off < len; off += chunk) {
        size_t k = len - off < chunk ? len - off : chunk;
        qf_record_header(&out, 'D', (uint32_t)k);
        buf_append(&out, content + off, k);
        crc = crc32(crc, (const Bytef *)content + off, (uInt)k);
        n++;
    }
    qf_end_record(&out, len, (uint32_t)crc, n);
    envelope_free(&e);

    memset(m, 0, sizeof(*m));
    m->fd = memfd_create("qf", MFD_CLOEXEC);
    assert_true(m->fd >= 0);
    assert_int_equal(write_all(m->fd, out.data, out.len), 0);
    buf_free(&out);
    assert_int_equal(qf_read(m->fd, &m->env, &m->content_off, &m->size, NULL, NULL), 0);
}

static void msg_close(struct dlv_msg *m)
{
    envelope_free(&m->env);
    close(m->fd);
}

static char *slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    struct buf b = BUF_INIT;
    char tmp[8192];
    ssize_t k;
    while ((k = read(fd, tmp, sizeof(tmp))) > 0)
        buf_append(&b, tmp, (size_t)k);
    close(fd);
    buf_reserve(&b, 1);
    *len = b.len;
    return buf_steal(&b);
}

static void put_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write_all(fd, text, strlen(text)), 0);
    close(fd);
}

static void assert_file(const char *path, const char *want, size_t wlen)
{
    size_t len;
    char *got = slurp(path, &len);
    assert_non_null(got);
    if (len != wlen || memcmp(got, want, wlen) != 0)
        fail_msg("%s differs:\n--- got (%zu bytes)\n%.*s\n--- want (%zu bytes)\n%.*s", path, len, (int)len, got,
                 wlen, (int)wlen, want);
    free(got);
}

/* Names in a directory, except . and .. */
static size_t dir_list(const char *dir, char names[][256], size_t max)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n < max)
            snprintf(names[n], 256, "%s", de->d_name);
        n++;
    }
    closedir(d);
    return n;
}

static void assert_text(const struct mbox_result *r, enum dlv_status st, const char *dsn, const char *needle)
{
    if (r->status != st || strcmp(r->dsn, dsn) != 0 || (needle && !strstr(r->text, needle)))
        fail_msg("got status %d dsn %s text \"%s\"; want status %d dsn %s text containing \"%s\"", r->status,
                 r->dsn, r->text, st, dsn, needle ? needle : "");
}

/* The message used for content checks: headers, a body with CRLF line
 * ends, 8-bit bytes, a dot line, lines starting with "From " (quoted in
 * mbox) and with ">From ", "From:" and "Fromage" (never quoted), and a bare
 * CR that is not a line end. */
static const char sample[] =
    "From: Hanako <hanako@example.test>\r\n"
    "To: user@example.test\r\n"
    "Subject: =?UTF-8?B?5LqG6Kej?=\r\n"
    "\r\n"
    "From here on\r\n"
    ">From there\r\n"
    "From:nobody\r\n"
    "Fromage\r\n"
    "From \r\n"
    ".\r\n"
    "..dots\r\n"
    "\xe4\xba\x86\xe8\xa7\xa3 8-bit\r\n"
    "bare\rCR\r\n"
    "From";
static const char sample_lf[] =
    "From: Hanako <hanako@example.test>\n"
    "To: user@example.test\n"
    "Subject: =?UTF-8?B?5LqG6Kej?=\n"
    "\n"
    "From here on\n"
    ">From there\n"
    "From:nobody\n"
    "Fromage\n"
    "From \n"
    ".\n"
    "..dots\n"
    "\xe4\xba\x86\xe8\xa7\xa3 8-bit\n"
    "bare\rCR\n"
    "From\n";
static const char sample_quoted[] =
    "From: Hanako <hanako@example.test>\n"
    "To: user@example.test\n"
    "Subject: =?UTF-8?B?5LqG6Kej?=\n"
    "\n"
    ">From here on\n"
    ">From there\n"
    "From:nobody\n"
    "Fromage\n"
    ">From \n"
    ".\n"
    "..dots\n"
    "\xe4\xba\x86\xe8\xa7\xa3 8-bit\n"
    "bare\rCR\n"
    "From\n";
static const char prefix[] =
    "Return-Path: <sender@example.test>\n"
    "X-Original-To: User+Ext@example.test\n"
    "Delivered-To: user@example.test\n";

static const struct mbox_headers hdrs = {"sender@example.test", "User+Ext@example.test", "user@example.test"};

/* ---- Maildir ---- */

static void maildir_deliver(const char *dir, size_t chunk, struct mbox_result *r)
{
    struct dlv_msg m;
    msg_open(&m, sample, sizeof(sample) - 1, chunk);
    mailbox_maildir(dir, &hdrs, &m, -1, r);
    msg_close(&m);
}

static void test_maildir_content(void **state)
{
    (void)state;
    char *md = tpath("Maildir/");
    assert_int_equal(mkdir(md, 0700), 0);
    struct mbox_result r;
    time_t t0 = time(NULL);
    maildir_deliver(md, 65536, &r);
    time_t t1 = time(NULL);
    assert_text(&r, DLV_SENT, "2.0.0", "delivered to maildir");

    char names[4][256];
    char *sub = tpath("Maildir/tmp");
    assert_int_equal(dir_list(sub, names, 4), 0);
    free(sub);
    sub = tpath("Maildir/cur");
    assert_int_equal(dir_list(sub, names, 4), 0);
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    free(sub);
    sub = tpath("Maildir/new");
    assert_int_equal(dir_list(sub, names, 4), 1);

    /* SECONDS.VdevIinoMusec.HOST with the hostname escaped */
    regex_t re;
    assert_int_equal(regcomp(&re, "^([0-9]+)\\.V([0-9a-f]+)I([0-9a-f]+)M([0-9]{1,6})\\.(.+)$", REG_EXTENDED), 0);
    regmatch_t mt[6];
    assert_int_equal(regexec(&re, names[0], 6, mt, 0), 0);
    regfree(&re);
    long secs = strtol(names[0], NULL, 10);
    assert_true(secs >= t0 && secs <= t1);
    char host[1100] = "";
    for (const char *h = host_name(); *h; h++)
        strcat(host, *h == '/' ? "\\057" : *h == ':' ? "\\072" : (char[2]){*h, 0});
    assert_string_equal(names[0] + mt[5].rm_so, host);

    char *file = xasprintf("%s/%s", sub, names[0]);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_nlink, 1);
    assert_int_equal(strtoull(names[0] + mt[3].rm_so, NULL, 16), (unsigned long long)st.st_ino);
    assert_int_equal(strtoull(names[0] + mt[2].rm_so, NULL, 16), (unsigned long long)st.st_dev);

    struct buf want = BUF_INIT;
    buf_puts(&want, prefix);
    buf_puts(&want, sample_lf);
    assert_file(file, want.data, want.len);
    buf_free(&want);
    free(file);
    free(sub);
    free(md);
}

/* Chunk boundaries anywhere (inside CRLF, inside "From ") change nothing. */
static void test_chunk_boundaries(void **state)
{
    (void)state;
    static const size_t chunks[] = {1, 2, 3, 5, 7, 13};
    for (size_t i = 0; i < ARRAY_LEN(chunks); i++) {
        char *md = xasprintf("%s/md%zu", tmpdir, i);
        struct mbox_result r;
        maildir_deliver(md, chunks[i], &r);
        assert_text(&r, DLV_SENT, "2.0.0", NULL);
        char *sub = xasprintf("%s/new", md);
        char names[2][256];
        assert_int_equal(dir_list(sub, names, 2), 1);
        char *file = xasprintf("%s/%s", sub, names[0]);
        struct buf want = BUF_INIT;
        buf_puts(&want, prefix);
        buf_puts(&want, sample_lf);
        assert_file(file, want.data, want.len);

        char *mbox = xasprintf("%s/mbox%zu", tmpdir, i);
        struct dlv_msg m;
        msg_open(&m, sample, sizeof(sample) - 1, chunks[i]);
        mailbox_mbox(mbox, &hdrs, &m, -1, false, &r);
        msg_close(&m);
        assert_text(&r, DLV_SENT, "2.0.0", "delivered to mailbox");
        size_t len;
        char *got = slurp(mbox, &len);
        char *nl = strchr(got, '\n');
        assert_non_null(nl);
        buf_reset(&want);
        buf_append(&want, got, (size_t)(nl - got) + 1);
        buf_puts(&want, prefix);
        buf_puts(&want, sample_quoted);
        buf_putc(&want, '\n');
        assert_file(mbox, want.data, want.len);
        free(got);
        buf_free(&want);
        free(mbox);
        free(file);
        free(sub);
        free(md);
    }
}

static void test_maildir_unique_names(void **state)
{
    (void)state;
    char *md = tpath("Maildir");
    struct dlv_msg m;
    msg_open(&m, "Subject: x\r\n\r\nbody\r\n", 20, 65536);
    for (int i = 0; i < 100; i++) {
        struct mbox_result r;
        mailbox_maildir(md, NULL, &m, -1, &r);
        assert_text(&r, DLV_SENT, "2.0.0", NULL);
    }
    msg_close(&m);
    static char names[101][256];
    char *sub = tpath("Maildir/new");
    assert_int_equal(dir_list(sub, names, 101), 100);
    for (int i = 0; i < 100; i++) {
        assert_null(strchr(names[i], ':'));
        assert_true(names[i][0] != '.');
        for (int j = i + 1; j < 100; j++)
            assert_string_not_equal(names[i], names[j]);
        char *file = xasprintf("%s/%s", sub, names[i]);
        assert_file(file, "Subject: x\n\nbody\n", 17);
        free(file);
    }
    free(sub);
    sub = tpath("Maildir/tmp");
    assert_int_equal(dir_list(sub, names, 101), 0);
    free(sub);
    free(md);
}

/* Created when the parent is ours; not when the parent is missing. */
static void test_maildir_create(void **state)
{
    (void)state;
    char *md = tpath("new-user/Maildir/");
    struct dlv_msg m;
    msg_open(&m, "a\r\n", 3, 65536);
    struct mbox_result r;
    mailbox_maildir(md, NULL, &m, -1, &r);
    assert_text(&r, DLV_BOUNCE, "5.2.0", "does not exist");
    char *parent = tpath("new-user");
    assert_int_equal(mkdir(parent, 0755), 0);
    mailbox_maildir(md, NULL, &m, -1, &r);
    assert_text(&r, DLV_SENT, "2.0.0", NULL);
    static const char *const subs[] = {"", "/tmp", "/new", "/cur"};
    for (size_t i = 0; i < ARRAY_LEN(subs); i++) {
        char *p = xasprintf("%s/Maildir%s", parent, subs[i]);
        struct stat st;
        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0700);
        free(p);
    }
    msg_close(&m);
    free(parent);
    free(md);
}

static void test_maildir_refusals(void **state)
{
    (void)state;
    struct dlv_msg m;
    msg_open(&m, "a\r\n", 3, 65536);
    struct mbox_result r;

    char *real = tpath("real");
    char *sym = tpath("link");
    assert_int_equal(mkdir(real, 0700), 0);
    assert_int_equal(symlink(real, sym), 0);
    char *slash = xasprintf("%s/", sym);
    mailbox_maildir(slash, NULL, &m, -1, &r);
    assert_text(&r, DLV_BOUNCE, "5.2.0", "symbolic link");
    char names[2][256];
    assert_int_equal(dir_list(real, names, 2), 0);

    /* new/ as a symlink to somewhere else */
    char *other = tpath("other");
    assert_int_equal(mkdir(other, 0700), 0);
    char *p = xasprintf("%s/tmp", real);
    assert_int_equal(mkdir(p, 0700), 0);
    free(p);
    p = xasprintf("%s/new", real);
    assert_int_equal(symlink(other, p), 0);
    free(p);
    mailbox_maildir(real, NULL, &m, -1, &r);
    assert_int_equal(r.status, DLV_BOUNCE);
    assert_int_equal(dir_list(other, names, 2), 0);

    /* owner_uid: not ours */
    char *md = tpath("owned");
    mailbox_maildir(md, NULL, &m, (long)geteuid() + 1, &r);
    assert_text(&r, DLV_BOUNCE, "5.2.0", "not owned by uid");
    mailbox_maildir(md, NULL, &m, (long)geteuid(), &r);
    assert_text(&r, DLV_SENT, "2.0.0", NULL);

    /* mailbox_size_limit applies to each message file */
    var_mailbox_size_limit = 10;
    char *big = tpath("big");
    mailbox_maildir(big, &hdrs, &m, -1, &r);
    assert_text(&r, DLV_BOUNCE, "5.2.2", "mailbox_size_limit");
    char *sub = xasprintf("%s/tmp", big);
    assert_int_equal(dir_list(sub, names, 2), 0);
    free(sub);
    sub = xasprintf("%s/new", big);
    assert_int_equal(dir_list(sub, names, 2), 0);
    free(sub);
    var_mailbox_size_limit = 0;

    msg_close(&m);
    free(big);
    free(md);
    free(other);
    free(slash);
    free(sym);
    free(real);
}

/* ---- mbox ---- */

/* The From_ line must be the one libc's asctime() gives for some second
 * in [t0, t1]. */
static void assert_from_line(const char *line, size_t len, const char *who, time_t t0, time_t t1)
{
    for (time_t t = t0; t <= t1; t++) {
        struct tm tm;
        char at[64];
        localtime_r(&t, &tm);
        asctime_r(&tm, at);
        char *want = xasprintf("From %s  %.24s\n", who, at);
        bool ok = strlen(want) == len && memcmp(want, line, len) == 0;
        free(want);
        if (ok)
            return;
    }
    fail_msg("bad From_ line: %.*s", (int)len, line);
}

static void test_mbox_content(void **state)
{
    (void)state;
    char *mbox = tpath("user");
    struct dlv_msg m;
    msg_open(&m, sample, sizeof(sample) - 1, 65536);
    struct mbox_result r;
    time_t t0 = time(NULL);
    mailbox_mbox(mbox, &hdrs, &m, -1, false, &r);
    assert_text(&r, DLV_SENT, "2.0.0", "delivered to mailbox");
    struct mbox_headers null_sender = {"", NULL, "user@example.test"};
    mailbox_mbox(mbox, &null_sender, &m, -1, false, &r);
    assert_text(&r, DLV_SENT, "2.0.0", "delivered to mailbox");
    time_t t1 = time(NULL);
    msg_close(&m);

    struct stat st;
    assert_int_equal(stat(mbox, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    char *lock = tpath("user.lock");
    assert_int_equal(access(lock, F_OK), -1);
    free(lock);

    size_t len;
    char *got = slurp(mbox, &len);
    char *nl1 = strchr(got, '\n');
    assert_non_null(nl1);
    assert_from_line(got, (size_t)(nl1 - got) + 1, "sender@example.test", t0, t1);
    size_t first = (size_t)(nl1 + 1 - got) + strlen(prefix) + strlen(sample_quoted) + 1;
    assert_true(len > first);
    char *nl2 = strchr(got + first, '\n');
    assert_non_null(nl2);
    assert_from_line(got + first, (size_t)(nl2 - (got + first)) + 1, "MAILER-DAEMON", t0, t1);

    struct buf want = BUF_INIT;
    buf_append(&want, got, (size_t)(nl1 - got) + 1);
    buf_puts(&want, prefix);
    buf_puts(&want, sample_quoted);
    buf_putc(&want, '\n');
    buf_append(&want, got + first, (size_t)(nl2 - (got + first)) + 1);
    buf_puts(&want, "Return-Path: <>\nDelivered-To: user@example.test\n");
    buf_puts(&want, sample_quoted);
    buf_putc(&want, '\n');
    assert_file(mbox, want.data, want.len);
    buf_free(&want);
    free(got);
    free(mbox);
}

/* Header values cannot carry a line break into the mailbox. */
static void test_header_injection(void **state)
{
    (void)state;
    char *mbox = tpath("inj");
    struct dlv_msg m;
    msg_open(&m, "x\r\n", 3, 65536);
    struct mbox_headers h = {"a@b\nFrom evil", "o\r\nX-Evil: 1", "d@e"};
    struct mbox_result r;
    mailbox_mbox(mbox, &h, &m, -1, false, &r);
    assert_text(&r, DLV_SENT, "2.0.0", NULL);
    msg_close(&m);
    size_t len;
    char *got = slurp(mbox, &len);
    char *nl = strchr(got, '\n');
    assert_non_null(nl);
    assert_true(strncmp(got, "From a@b_From_evil  ", 20) == 0);
    assert_string_equal(nl + 1, "Return-Path: <a@b_From evil>\nX-Original-To: o__X-Evil: 1\nDelivered-To: d@e\nx\n\n");
    free(got);
    free(mbox);
}

/* The ends of content: a trailing bare CR, no final line end, nothing. */
static void test_content_edges(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"x\r", "x\r\n"}, {"\r\n", "\n"}, {"x\r\r\n", "x\r\n"}, {"\n\n", "\n\n"}, {"", ""},
        {"Fro", "Fro\n"}, {"From ", ">From \n"}, {"a\r\nFrom", "a\nFrom\n"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char *mbox = xasprintf("%s/edge%zu", tmpdir, i);
        struct dlv_msg m;
        msg_open(&m, cases[i].in, strlen(cases[i].in), 1);
        struct mbox_headers h = {NULL, NULL, "d@e"};
        struct mbox_result r;
        mailbox_mbox(mbox, &h, &m, -1, false, &r);
        assert_text(&r, DLV_SENT, "2.0.0", NULL);
        msg_close(&m);
        size_t len;
        char *got = slurp(mbox, &len);
        char *nl = strchr(got, '\n');
        assert_non_null(nl);
        assert_true(strncmp(got, "From MAILER-DAEMON  ", 20) == 0);
        char *want = xasprintf("Delivered-To: d@e\n%s\n", cases[i].out);
        assert_string_equal(nl + 1, want);
        free(want);
        free(got);
        free(mbox);
    }
}

static void test_mbox_refusals(void **state)
{
    (void)state;
    struct dlv_msg m;
    msg_open(&m, "new mail\r\n", 10, 65536);
    struct mbox_result r;

    /* a symlink to a file the attacker wants written */
    char *target = tpath("target");
    put_file(target, "precious\n");
    char *symlinked = tpath("symlinked");
    assert_int_equal(symlink(target, symlinked), 0);
    mailbox_mbox(symlinked, &hdrs, &m, -1, false, &r);
    assert_text(&r, DLV_BOUNCE, "5.2.0", "symbolic link");
    assert_file(target, "precious\n", 9);
    char *lock = xasprintf("%s.lock", symlinked);
    assert_int_equal(access(lock, F_OK), -1);
    free(lock);
    /* a dangling symlink is not followed to create the file */
    char *dangling = tpath("dangling");
    char *nowhere = tpath("nowhere");
    assert_int_equal(symlink(nowhere, dangling), 0);
    mailbox_mbox(dangling, &hdrs, &m, -1, false, &r);
    assert_text(&r, DLV_BOUNCE, "5.2.0", "symbolic link");
    assert_int_equal(access(nowhere, F_OK), -1);

    /* a hard link to it */
    char *hard = tpath("hardlinked");
    assert_int_equal(link(target, hard), 0);
    mailbox_mbox(hard, &hdrs, &m, -1, false, &r);
    assert_text(&r, DLV_BOUNCE, "5.2.0", "2 hard links");
    assert_file(target, "precious\n", 9);

    /* a FIFO: refused at once, no blocking open */
    char *fifo = tpath("fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    mailbox_mbox(fifo, &hdrs, &m, -1, false, &r);
    assert_text(&r, DLV_BOUNCE, "5.2.0", "not a regular file");

    /* a directory */
    char *dir = tpath("dir");
    assert_int_equal(mkdir(dir, 0700), 0);
    mailbox_mbox(dir, &hdrs, &m, -1, false, &r);
    assert_text(&r, DLV_BOUNCE, "5.2.0", "not a regular file");

    /* owner_uid: an existing file of someone else, a new one we would own */
    char *mine = tpath("mine");
    put_file(mine, "old\n");
    mailbox_mbox(mine, &hdrs, &m, (long)geteuid() + 1, false, &r);
    assert_text(&r, DLV_BOUNCE, "5.2.0", "not by uid");
    assert_file(mine, "old\n", 4);
    char *absent = tpath("absent");
    mailbox_mbox(absent, &hdrs, &m, (long)geteuid() + 1, false, &r);
    assert_int_equal(r.status, DLV_BOUNCE);
    assert_int_equal(access(absent, F_OK), -1);
    mailbox_mbox(mine, NULL, &m, (long)geteuid(), false, &r);
    assert_text(&r, DLV_SENT, "2.0.0", NULL);

    msg_close(&m);
    free(absent);
    free(mine);
    free(dir);
    free(fifo);
    free(hard);
    free(nowhere);
    free(dangling);
    free(symlinked);
    free(target);
}

static void test_file_target(void **state)
{
    (void)state;
    char *file = tpath("archive");
    struct dlv_msg m;
    msg_open(&m, "a\r\n", 3, 65536);
    struct mbox_result r;
    mailbox_mbox(file, &hdrs, &m, -1, true, &r);
    assert_text(&r, DLV_SENT, "2.0.0", "delivered to file: ");
    assert_non_null(strstr(r.text, file));

    /* a file in a directory we cannot create a dotlock in still works */
    if (geteuid() != 0) {
        assert_int_equal(chmod(tmpdir, 0500), 0);
        mailbox_mbox(file, &hdrs, &m, -1, true, &r);
        assert_text(&r, DLV_SENT, "2.0.0", "delivered to file: ");
        mailbox_mbox(file, &hdrs, &m, -1, false, &r);
        assert_text(&r, DLV_BOUNCE, "5.2.0", "unable to create lock file");
        assert_int_equal(chmod(tmpdir, 0700), 0);
    }

    mailbox_mbox("/dev/null", &hdrs, &m, -1, true, &r);
    assert_text(&r, DLV_SENT, "2.0.0", "delivered to file: /dev/null");
    mailbox_mbox("/dev/zero", &hdrs, &m, -1, true, &r);
    assert_text(&r, DLV_BOUNCE, "5.2.0", "not a regular file");
    msg_close(&m);
    free(file);
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_dotlock(void **state)
{
    (void)state;
    char *mbox = tpath("locked");
    put_file(mbox, "old\n");
    char *lock = tpath("locked.lock");
    put_file(lock, "");
    struct dlv_msg m;
    msg_open(&m, "a\r\n", 3, 65536);
    struct mbox_result r;

    mailbox_set_lock_wait_ms(300);
    double t = now_mono();
    mailbox_mbox(mbox, &hdrs, &m, -1, false, &r);
    t = now_mono() - t;
    assert_text(&r, DLV_DEFER, "4.2.0", "mailbox is busy");
    assert_true(t >= 0.25 && t < 3);
    assert_int_equal(access(lock, F_OK), 0);     /* someone else's: left alone */
    assert_file(mbox, "old\n", 4);

    /* stale after 500 s without a change: removed, delivery goes on */
    struct timespec old[2] = {{time(NULL) - 600, 0}, {time(NULL) - 600, 0}};
    assert_int_equal(utimensat(AT_FDCWD, lock, old, 0), 0);
    mailbox_mbox(mbox, &hdrs, &m, -1, false, &r);
    assert_text(&r, DLV_SENT, "2.0.0", NULL);
    assert_int_equal(access(lock, F_OK), -1);
    msg_close(&m);
    free(lock);
    free(mbox);
}

static void test_fcntl_lock(void **state)
{
    (void)state;
    char *mbox = tpath("fcntl");
    put_file(mbox, "old\n");
    int go[2], done[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(done), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(mbox, O_RDWR);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        char c = fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0 ? 'y' : 'n';
        if (write(go[1], &c, 1) != 1 || read(done[0], &c, 1) < 0)
            _exit(1);
        _exit(0);
    }
    char c = 0;
    assert_int_equal(read(go[0], &c, 1), 1);
    assert_int_equal(c, 'y');

    struct dlv_msg m;
    msg_open(&m, "a\r\n", 3, 65536);
    struct mbox_result r;
    mailbox_set_lock_wait_ms(300);
    mailbox_mbox(mbox, &hdrs, &m, -1, false, &r);
    assert_text(&r, DLV_DEFER, "4.2.0", "mailbox is busy");
    assert_file(mbox, "old\n", 4);
    char *lock = tpath("fcntl.lock");
    assert_int_equal(access(lock, F_OK), -1);   /* our dotlock went away */

    assert_int_equal(write(done[1], "x", 1), 1);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    mailbox_mbox(mbox, &hdrs, &m, -1, false, &r);
    assert_text(&r, DLV_SENT, "2.0.0", NULL);
    msg_close(&m);
    close(go[0]);
    close(go[1]);
    close(done[0]);
    close(done[1]);
    free(lock);
    free(mbox);
}

/* A big message against RLIMIT_FSIZE (as a full disk would fail it): the
 * mailbox ends exactly as it was. */
static void test_failed_write_truncates(void **state)
{
    (void)state;
    char *mbox = tpath("fsize");
    put_file(mbox, "From a  Mon Nov 23 16:52:18 2026\nold message\n\n");
    size_t big = 300000;
    char *content = xmalloc(big);
    for (size_t i = 0; i < big; i += 10)
        memcpy(content + i, "123456789\n", 10);
    struct dlv_msg m;
    msg_open(&m, content, big, 65536);
    int res[2];
    assert_int_equal(pipe(res), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {100000, 100000};
        setrlimit(RLIMIT_FSIZE, &rl);
        struct mbox_result r;
        mailbox_mbox(mbox, &hdrs, &m, -1, false, &r);
        _exit(write(res[1], &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1);
    }
    struct mbox_result r;
    assert_int_equal(read(res[0], &r, sizeof(r)), (ssize_t)sizeof(r));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_text(&r, DLV_BOUNCE, "5.2.2", "File too large");
    assert_file(mbox, "From a  Mon Nov 23 16:52:18 2026\nold message\n\n", 46);
    char *lock = tpath("fsize.lock");
    assert_int_equal(access(lock, F_OK), -1);
    close(res[0]);
    close(res[1]);
    msg_close(&m);
    free(lock);
    free(content);
    free(mbox);
}

static void test_size_limit(void **state)
{
    (void)state;
    char *mbox = tpath("limited");
    put_file(mbox, "0123456789\n");
    struct dlv_msg m;
    msg_open(&m, "Subject: a\r\n\r\nsome text\r\n", 25, 65536);
    struct mbox_result r;
    var_mailbox_size_limit = 60;
    mailbox_mbox(mbox, &hdrs, &m, -1, false, &r);
    assert_text(&r, DLV_BOUNCE, "5.2.2", "mailbox_size_limit");
    assert_file(mbox, "0123456789\n", 11);
    var_mailbox_size_limit = 100000;
    mailbox_mbox(mbox, &hdrs, &m, -1, false, &r);
    assert_text(&r, DLV_SENT, "2.0.0", NULL);
    var_mailbox_size_limit = 0;
    msg_close(&m);
    free(mbox);
}

/* A queue file that cannot be read: defer, and the mailbox is cut back. */
static void test_read_error(void **state)
{
    (void)state;
    char *mbox = tpath("readerr");
    put_file(mbox, "old\n");
    struct dlv_msg m;
    msg_open(&m, "a\r\nb\r\n", 6, 65536);
    /* damage the first D record's type */
    assert_int_equal(pwrite(m.fd, "Z", 1, m.content_off), 1);
    struct mbox_result r;
    mailbox_mbox(mbox, &hdrs, &m, -1, false, &r);
    assert_text(&r, DLV_DEFER, "4.3.0", "error reading queue file");
    assert_file(mbox, "old\n", 4);
    char *md = tpath("md");
    mailbox_maildir(md, &hdrs, &m, -1, &r);
    assert_text(&r, DLV_DEFER, "4.3.0", "error reading queue file");
    char names[2][256];
    char *sub = tpath("md/tmp");
    assert_int_equal(dir_list(sub, names, 2), 0);
    free(sub);
    msg_close(&m);
    free(md);
    free(mbox);
}

static void test_errno_dsn(void **state)
{
    (void)state;
    assert_string_equal(mailbox_errno_dsn(EAGAIN), "4.2.0");
    assert_string_equal(mailbox_errno_dsn(ESTALE), "4.2.0");
    assert_string_equal(mailbox_errno_dsn(ENOSPC), "4.3.0");
    assert_string_equal(mailbox_errno_dsn(EDQUOT), "5.2.2");
    assert_string_equal(mailbox_errno_dsn(EFBIG), "5.2.2");
    assert_string_equal(mailbox_errno_dsn(EACCES), "5.2.0");
    assert_string_equal(mailbox_errno_dsn(EIO), "5.2.0");
}

/* As root: a delivery child that switched to nobody cannot write root's
 * mailbox or Maildir and says so cleanly. */
static void test_unprivileged_child(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    assert_int_equal(chmod(tmpdir, 01777), 0);
    char *mbox = tpath("root-box");
    put_file(mbox, "root's\n");
    char *md = tpath("root-md");
    assert_int_equal(mkdir(md, 0700), 0);
    struct dlv_msg m;
    msg_open(&m, "a\r\n", 3, 65536);
    int res[2];
    assert_int_equal(pipe(res), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct mbox_result r[2];
        if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
            _exit(2);
        mailbox_mbox(mbox, &hdrs, &m, -1, false, &r[0]);
        mailbox_maildir(md, &hdrs, &m, -1, &r[1]);
        _exit(write(res[1], r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1);
    }
    struct mbox_result r[2];
    assert_int_equal(read(res[0], r, sizeof(r)), (ssize_t)sizeof(r));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_text(&r[0], DLV_BOUNCE, "5.2.0", "Permission denied");
    assert_text(&r[1], DLV_BOUNCE, "5.2.0", "Permission denied");
    assert_file(mbox, "root's\n", 7);
    char *lock = tpath("root-box.lock");
    assert_int_equal(access(lock, F_OK), -1);
    char names[2][256];
    assert_int_equal(dir_list(md, names, 2), 0);
    close(res[0]);
    close(res[1]);
    msg_close(&m);
    free(lock);
    free(md);
    free(mbox);
}

int main(void)
{
    setenv("TZ", "Asia/Tokyo", 1);
    tzset();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_maildir_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunk_boundaries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maildir_unique_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maildir_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maildir_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mbox_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_injection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mbox_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_target, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dotlock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fcntl_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_truncates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_error, setup, teardown),
        cmocka_unit_test(test_errno_dsn),
        cmocka_unit_test_setup_teardown(test_unprivileged_child, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
