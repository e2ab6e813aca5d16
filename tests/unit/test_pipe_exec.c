/*
 * test_pipe_exec.c - delivery commands (src/deliver/pipe_exec.c): the
 * bytes a command reads, sysexits and "D.S.N text" output mapped to
 * defer/bounce, the time limit (with the command's own children), a
 * command that exits without reading, the exact environment, the working
 * directory, no leaked descriptors, and the "|command" splitter that
 * refuses what only a shell could mean. The commands are tiny #!/bin/sh
 * scripts written into a temporary directory: yubin itself never runs a
 * shell, the scripts merely stand in for procmail and friends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "deliver/pipe_exec.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "queue/envelope.h"
#include "queue/queue_file.h"

/* ---- fixtures ---- */

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    /* mkdtemp's template: the prefix, then six 'X' it replaces */
    int plen = snprintf(tmpdir, sizeof(tmpdir), "/tmp/yubin-pipe-");
    memset(tmpdir + plen, 'X', 6);
    tmpdir[plen + 6] = 0;
    return mkdtemp(tmpdir) ? 0 : -1;
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
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static char *tpath(const char *name)
{
    return xasprintf("%s/%s", tmpdir, name);
}

/* An executable script in the temp dir; returns its path. */
static char *script(const char *name, const char *body)
{
    char *p = tpath(name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0700);
    assert_true(fd >= 0);
    assert_int_equal(write_all(fd, "#!/bin/sh\n", 10), 0);
    assert_int_equal(write_all(fd, body, strlen(body)), 0);
    close(fd);
    return p;
}

static void msg_open(struct dlv_msg *m, const char *content, size_t len)
{
    struct envelope e;
    envelope_init(&e);
    envelope_set(&e.sender, "sender@example.test");
    e.arrival = 1795452738.25;
    envelope_add_rcpt(&e, "user@example.test", NULL, 0);
    struct buf out = BUF_INIT;
    uint32_t n = qf_write_envelope(&out, &e);
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t off = 0; off < len; off += QF_CHUNK_MAX) {
        size_t k = len - off < QF_CHUNK_MAX ? len - off : QF_CHUNK_MAX;
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

static void assert_text(const struct mbox_result *r, enum dlv_status st, const char *dsn, const char *needle)
{
    if (r->status != st || strcmp(r->dsn, dsn) != 0 || (needle && !strstr(r->text, needle)))
        fail_msg("got status %d dsn %s text \"%s\"; want status %d dsn %s text containing \"%s\"", r->status,
                 r->dsn, r->text, st, dsn, needle ? needle : "");
}

static void request(struct pipe_request *r, char *const *argv)
{
    memset(r, 0, sizeof(*r));
    r->argv = argv;
    r->home = "/home/user";
    r->user = "user";
    r->shell = "/bin/sh";
    r->sender = "sender@example.test";
    r->recipient = "user+ext@example.test";
    r->original_recipient = "User+Ext@example.test";
    r->extension = "ext";
    r->domain = "example.test";
    r->local = "user+ext";
    r->time_limit = 20;
}

/* Run a script with one argument (an output file in the temp dir). */
static void run(const char *body, const char *content, bool from_line, struct mbox_result *out, char **outfile)
{
    char *cmd = script("cmd", body);
    *outfile = tpath("out");
    char *argv[] = {cmd, *outfile, NULL};
    struct pipe_request r;
    request(&r, argv);
    r.from_line = from_line;
    r.hdr = (struct mbox_headers){"sender@example.test", "User+Ext@example.test", "user+ext@example.test"};
    struct dlv_msg m;
    msg_open(&m, content, strlen(content));
    pipe_exec(&r, &m, out);
    msg_close(&m);
    free(cmd);
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- running commands ---- */

static void test_cat_content(void **state)
{
    (void)state;
    static const char content[] = "Subject: hi\r\n\r\nFrom me\r\n.\r\n\xe3\x81\x82\r\n";
    struct mbox_result res;
    char *out;
    time_t t0 = time(NULL);
    run("exec /bin/cat > \"$1\"\n", content, true, &res, &out);
    time_t t1 = time(NULL);
    assert_text(&res, DLV_SENT, "2.0.0", "delivered to command: ");
    assert_non_null(strstr(res.text, "/cmd"));
    size_t len;
    char *got = slurp(out, &len);
    assert_non_null(got);
    char *nl = strchr(got, '\n');
    assert_non_null(nl);
    bool from_ok = false;
    for (time_t t = t0; t <= t1 && !from_ok; t++) {
        struct tm tm;
        char at[64];
        localtime_r(&t, &tm);
        asctime_r(&tm, at);
        char *want = xasprintf("From sender@example.test  %.24s\n", at);
        from_ok = strncmp(got, want, strlen(want)) == 0 && strlen(want) == (size_t)(nl - got) + 1;
        free(want);
    }
    assert_true(from_ok);
    /* no ">From " quoting and no blank line for commands */
    assert_string_equal(nl + 1,
                        "Return-Path: <sender@example.test>\n"
                        "X-Original-To: User+Ext@example.test\n"
                        "Delivered-To: user+ext@example.test\n"
                        "Subject: hi\n\nFrom me\n.\n\xe3\x81\x82\n");
    free(got);

    /* without the From_ line and without headers */
    char *cmd = script("cmd", "exec /bin/cat > \"$1\"\n");
    char *argv[] = {cmd, out, NULL};
    struct pipe_request r;
    request(&r, argv);
    struct dlv_msg m;
    msg_open(&m, content, strlen(content));
    pipe_exec(&r, &m, &res);
    msg_close(&m);
    assert_text(&res, DLV_SENT, "2.0.0", NULL);
    got = slurp(out, &len);
    assert_string_equal(got, "Subject: hi\n\nFrom me\n.\n\xe3\x81\x82\n");
    free(got);
    free(cmd);
    free(out);
}

static void test_exit_codes(void **state)
{
    (void)state;
    struct mbox_result r;
    char *out;
    run("exit 75\n", "a\r\n", false, &r, &out);
    assert_text(&r, DLV_DEFER, "4.3.0", "temporary failure");
    free(out);
    run("exit 67\n", "a\r\n", false, &r, &out);
    assert_text(&r, DLV_BOUNCE, "5.1.1", "user unknown");
    free(out);
    run("echo '5.7.1 go away'; exit 1\n", "a\r\n", false, &r, &out);
    assert_text(&r, DLV_BOUNCE, "5.7.1", "go away");
    assert_string_equal(r.text, "go away");
    free(out);
    run("echo '4.2.2 mailbox full' >&2; exit 75\n", "a\r\n", false, &r, &out);
    assert_text(&r, DLV_DEFER, "4.2.2", "mailbox full");
    free(out);
    run("echo 'something broke'; exit 3\n", "a\r\n", false, &r, &out);
    assert_text(&r, DLV_BOUNCE, "5.3.0", "Command died with status 3: ");
    assert_non_null(strstr(r.text, ". Command output: something broke"));
    free(out);
    run("echo 'all fine, 5.7.1 is not a code here'; exit 0\n", "a\r\n", false, &r, &out);
    assert_text(&r, DLV_SENT, "2.0.0", NULL);
    free(out);
    run("kill -TERM $$\n", "a\r\n", false, &r, &out);
    assert_text(&r, DLV_DEFER, "4.3.0", "Command died with signal 15");
    free(out);
}

static void test_time_limit(void **state)
{
    (void)state;
    char *cmd = script("slow", "/bin/sleep 30 &\necho $! > \"$1\"\necho started\nexec /bin/sleep 30\n");
    char *pidfile = tpath("bg.pid");
    char *argv[] = {cmd, pidfile, NULL};
    struct pipe_request r;
    request(&r, argv);
    r.time_limit = 1;
    struct dlv_msg m;
    msg_open(&m, "a\r\n", 3);
    struct mbox_result res;
    double t = now_mono();
    pipe_exec(&r, &m, &res);
    t = now_mono() - t;
    msg_close(&m);
    assert_text(&res, DLV_DEFER, "4.3.0", "Command time limit exceeded");
    assert_non_null(strstr(res.text, "Command output: started"));
    assert_true(t >= 0.9 && t < 5);

    /* the command's background child was killed too (the session) */
    size_t len;
    char *bg = slurp(pidfile, &len);
    assert_non_null(bg);
    long bgpid = strtol(bg, NULL, 10);
    assert_true(bgpid > 1);
    bool gone = false;
    for (int i = 0; i < 200 && !gone; i++) {
        char *stat = xasprintf("/proc/%ld/stat", bgpid);
        char *s = slurp(stat, &len);
        char *rp = s ? strrchr(s, ')') : NULL;
        gone = !s || (rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
        free(s);
        free(stat);
        if (!gone)
            usleep(10000);
    }
    assert_true(gone);
    free(bg);
    free(pidfile);
    free(cmd);
}

/* A command that exits without reading a large message is judged by its
 * exit status alone; EPIPE is neither fatal nor an error. */
static void test_early_exit(void **state)
{
    (void)state;
    size_t big = 1 << 20;
    char *content = xmalloc(big + 1);
    for (size_t i = 0; i < big; i += 8)
        memcpy(content + i, "abcdef\r\n", 8);
    content[big] = 0;
    struct mbox_result r;
    char *out;
    run("exit 0\n", content, true, &r, &out);
    assert_text(&r, DLV_SENT, "2.0.0", NULL);
    free(out);
    run("exit 67\n", content, true, &r, &out);
    assert_text(&r, DLV_BOUNCE, "5.1.1", NULL);
    free(out);
    /* reads a little, then quits */
    run("/usr/bin/head -c 10 > /dev/null; exit 0\n", content, true, &r, &out);
    assert_text(&r, DLV_SENT, "2.0.0", NULL);
    free(out);
    /* a lot of output while it is being fed: no deadlock, output bounded */
    run("/usr/bin/yes 'output line' | /usr/bin/head -c 200000; /bin/cat > /dev/null; exit 1\n", content, true, &r,
        &out);
    assert_text(&r, DLV_BOUNCE, "5.3.0", "Command output: output line output line");
    assert_true(strlen(r.text) < sizeof(r.text));
    free(out);
    free(content);

    struct sigaction sa;
    assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
    assert_true(sa.sa_handler == SIG_DFL);
}

static void test_environment(void **state)
{
    (void)state;
    char *cmd = script("env", "/usr/bin/tr '\\000' '\\n' < /proc/$$/environ > \"$1\"\n");
    char *out = tpath("env.out");
    char *argv[] = {cmd, out, NULL};
    struct pipe_request r;
    request(&r, argv);
    r.recipient = "user+ext@example.test\n\rX=1";
    setenv("YUBIN_SECRET", "must not leak", 1);
    struct dlv_msg m;
    msg_open(&m, "a\r\n", 3);
    struct mbox_result res;
    pipe_exec(&r, &m, &res);
    assert_text(&res, DLV_SENT, "2.0.0", NULL);
    size_t len;
    char *got = slurp(out, &len);
    assert_string_equal(got,
                        "PATH=/usr/bin:/bin\n"
                        "HOME=/home/user\n"
                        "USER=user\n"
                        "LOGNAME=user\n"
                        "SHELL=/bin/sh\n"
                        "SENDER=sender@example.test\n"
                        "RECIPIENT=user+ext@example.testX=1\n"
                        "ORIGINAL_RECIPIENT=User+Ext@example.test\n"
                        "EXTENSION=ext\n"
                        "DOMAIN=example.test\n"
                        "LOCAL=user+ext\n");
    free(got);

    /* absent values are absent, the null sender is an empty SENDER */
    request(&r, argv);
    r.extension = NULL;
    r.original_recipient = NULL;
    r.sender = "";
    pipe_exec(&r, &m, &res);
    assert_text(&res, DLV_SENT, "2.0.0", NULL);
    got = slurp(out, &len);
    assert_null(strstr(got, "EXTENSION="));
    assert_null(strstr(got, "ORIGINAL_RECIPIENT="));
    assert_non_null(strstr(got, "\nSENDER=\n"));
    free(got);
    msg_close(&m);
    unsetenv("YUBIN_SECRET");
    free(out);
    free(cmd);
}

static void test_cwd_and_descriptors(void **state)
{
    (void)state;
    char *cmd = script("where", "/bin/pwd > \"$1\"\n/bin/ls -l /proc/$$/fd >> \"$1\"\n");
    char *out = tpath("where.out");
    char *argv[] = {cmd, out, NULL};
    struct pipe_request r;
    request(&r, argv);
    /* a descriptor without close-on-exec, as a careless caller might have */
    char *marker = tpath("marker-file");
    int leak = open(marker, O_WRONLY | O_CREAT, 0600);
    assert_true(leak >= 0);
    struct dlv_msg m;
    msg_open(&m, "a\r\n", 3);
    struct mbox_result res;
    pipe_exec(&r, &m, &res);
    assert_text(&res, DLV_SENT, "2.0.0", NULL);
    size_t len;
    char *got = slurp(out, &len);
    assert_true(strncmp(got, "/\n", 2) == 0);
    assert_null(strstr(got, "marker-file"));
    assert_null(strstr(got, "memfd:"));
    free(got);

    r.cwd = tmpdir;
    pipe_exec(&r, &m, &res);
    assert_text(&res, DLV_SENT, "2.0.0", NULL);
    got = slurp(out, &len);
    char *want = xasprintf("%s\n", tmpdir);
    assert_true(strncmp(got, want, strlen(want)) == 0);
    free(want);
    free(got);

    r.cwd = "/nonexistent-dir";
    pipe_exec(&r, &m, &res);
    assert_text(&res, DLV_DEFER, "4.3.0", "chdir /nonexistent-dir: No such file or directory");
    msg_close(&m);
    close(leak);
    free(marker);
    free(out);
    free(cmd);
}

/* A caller with stdin/stdout closed still gets the pipes right. */
static void test_closed_stdio(void **state)
{
    (void)state;
    char *cmd = script("cat", "exec /bin/cat > \"$1\"\n");
    char *out = tpath("cat.out");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(0);
        close(1);
        char *argv[] = {cmd, out, NULL};
        struct pipe_request r;
        request(&r, argv);
        struct dlv_msg m;
        msg_open(&m, "hello\r\n", 7);
        struct mbox_result res;
        pipe_exec(&r, &m, &res);
        _exit(res.status == DLV_SENT ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    size_t len;
    char *got = slurp(out, &len);
    assert_string_equal(got, "hello\n");
    free(got);
    free(out);
    free(cmd);
}

/* procmail from Debian, as mailbox_command would run it (-m: as a
 * general-purpose filter with a private rcfile, so no setuid tricks). */
static void test_procmail(void **state)
{
    (void)state;
    if (access("/usr/bin/procmail", X_OK) != 0)
        skip();
    char *rc = tpath("procmailrc");
    char *box = tpath("box");
    char *text = xasprintf(":0\n%s\n", box);
    int fd = open(rc, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write_all(fd, text, strlen(text)), 0);
    close(fd);
    char *argv[] = {"/usr/bin/procmail", "-m", rc, NULL};
    struct pipe_request r;
    request(&r, argv);
    r.home = tmpdir;
    r.from_line = true;
    r.hdr = (struct mbox_headers){"sender@example.test", "User+Ext@example.test", "user+ext@example.test"};
    struct dlv_msg m;
    static const char content[] = "Subject: hi\r\n\r\nbody \xe3\x81\x82\r\n";
    msg_open(&m, content, strlen(content));
    struct mbox_result res;
    pipe_exec(&r, &m, &res);
    msg_close(&m);
    assert_text(&res, DLV_SENT, "2.0.0", "delivered to command: /usr/bin/procmail");
    size_t len;
    char *got = slurp(box, &len);
    assert_non_null(got);
    assert_true(strncmp(got, "From sender@example.test  ", 26) == 0);
    char *nl = strchr(got, '\n');
    assert_non_null(nl);
    static const char want[] = "Return-Path: <sender@example.test>\n"
                               "X-Original-To: User+Ext@example.test\n"
                               "Delivered-To: user+ext@example.test\n"
                               "Subject: hi\n\nbody \xe3\x81\x82\n";
    if (len <= strlen(want) || strncmp(nl + 1, want, strlen(want)) != 0)
        fail_msg("procmail wrote:\n%s", got);
    free(got);
    free(text);
    free(box);
    free(rc);
}

static void test_bad_commands(void **state)
{
    (void)state;
    struct dlv_msg m;
    msg_open(&m, "a\r\n", 3);
    struct mbox_result res;
    struct pipe_request r;
    char *rel[] = {"procmail", NULL};
    request(&r, rel);
    pipe_exec(&r, &m, &res);
    assert_text(&res, DLV_BOUNCE, "5.3.5", "not an absolute path");
    char *missing[] = {"/nonexistent/procmail", NULL};
    request(&r, missing);
    pipe_exec(&r, &m, &res);
    assert_text(&res, DLV_DEFER, "4.3.0", "execve /nonexistent/procmail: No such file or directory");
    char *dir[] = {"/tmp", NULL};
    request(&r, dir);
    pipe_exec(&r, &m, &res);
    assert_text(&res, DLV_DEFER, "4.3.0", "execve /tmp: Permission denied");
    msg_close(&m);
}

/* ---- status mapping ---- */

static void test_status_table(void **state)
{
    (void)state;
    static const struct {
        int code;
        enum dlv_status st;
        const char *dsn;
    } table[] = {
        {64, DLV_BOUNCE, "5.3.0"}, {65, DLV_BOUNCE, "5.6.0"}, {66, DLV_BOUNCE, "5.3.0"},
        {67, DLV_BOUNCE, "5.1.1"}, {68, DLV_BOUNCE, "5.1.2"}, {69, DLV_BOUNCE, "5.3.0"},
        {70, DLV_BOUNCE, "5.3.0"}, {71, DLV_DEFER, "4.3.0"},  {72, DLV_BOUNCE, "5.3.0"},
        {73, DLV_BOUNCE, "5.2.0"}, {74, DLV_BOUNCE, "5.3.0"}, {75, DLV_DEFER, "4.3.0"},
        {76, DLV_BOUNCE, "5.5.0"}, {77, DLV_BOUNCE, "5.7.0"}, {78, DLV_BOUNCE, "5.3.5"},
        {1, DLV_BOUNCE, "5.3.0"},  {2, DLV_BOUNCE, "5.3.0"},  {79, DLV_BOUNCE, "5.3.0"},
        {0, DLV_SENT, "2.0.0"},
    };
    struct mbox_result r;
    for (size_t i = 0; i < ARRAY_LEN(table); i++) {
        pipe_exec_status(table[i].code << 8, "", "/usr/bin/procmail", &r);
        assert_text(&r, table[i].st, table[i].dsn, NULL);
    }
    pipe_exec_status(79 << 8, "", "/usr/bin/procmail", &r);
    assert_string_equal(r.text, "Command died with status 79: \"/usr/bin/procmail\"");
    pipe_exec_status(0, "", "/usr/bin/procmail", &r);
    assert_string_equal(r.text, "delivered to command: /usr/bin/procmail");
    pipe_exec_status(SIGKILL, "", "/x", &r);
    assert_text(&r, DLV_DEFER, "4.3.0", "Command died with signal 9: \"/x\"");
    /* output: its own code wins; junk that only looks like one does not */
    pipe_exec_status(1 << 8, "5.2.2 quota exceeded\n", "/x", &r);
    assert_text(&r, DLV_BOUNCE, "5.2.2", NULL);
    assert_string_equal(r.text, "quota exceeded");
    pipe_exec_status(1 << 8, "4.4.1\n", "/x", &r);
    assert_text(&r, DLV_DEFER, "4.4.1", "Command died with status 1");
    pipe_exec_status(1 << 8, "5.2.2x quota", "/x", &r);
    assert_text(&r, DLV_BOUNCE, "5.3.0", "Command output: 5.2.2x quota");
    pipe_exec_status(1 << 8, "2.0.0 fine", "/x", &r);
    assert_text(&r, DLV_BOUNCE, "5.3.0", NULL);
    pipe_exec_status(75 << 8, "5.1234.1 no", "/x", &r);
    assert_text(&r, DLV_DEFER, "4.3.0", "temporary failure. Command output: 5.1234.1 no");
    /* output is one printable line */
    pipe_exec_status(1 << 8, "line one\r\nline\ttwo\x01\xff\n\n", "/x", &r);
    assert_string_equal(r.text, "Command died with status 1: \"/x\". Command output: line one line two__");
}

/* ---- splitting ---- */

static void split_ok(const char *cmd, const char *const *want)
{
    const char *err = NULL;
    char **argv = pipe_exec_split(cmd, &err);
    if (!argv)
        fail_msg("split \"%s\" failed: %s", cmd, err);
    size_t i = 0;
    for (; want[i]; i++) {
        assert_non_null(argv[i]);
        assert_string_equal(argv[i], want[i]);
    }
    assert_null(argv[i]);
    pipe_exec_free_argv(argv);
}

static void split_bad(const char *cmd, const char *want_err)
{
    const char *err = NULL;
    char **argv = pipe_exec_split(cmd, &err);
    if (argv)
        fail_msg("split \"%s\" succeeded", cmd);
    assert_non_null(err);
    assert_string_equal(err, want_err);
}

static void test_split(void **state)
{
    (void)state;
    split_ok("|/usr/bin/procmail", (const char *const[]){"/usr/bin/procmail", NULL});
    split_ok("  | /usr/bin/procmail -a ext  -d user ",
             (const char *const[]){"/usr/bin/procmail", "-a", "ext", "-d", "user", NULL});
    split_ok("/usr/bin/prog\targ", (const char *const[]){"/usr/bin/prog", "arg", NULL});
    split_ok("/usr/bin/prog \"two words\" x\"y z\"w \"\"",
             (const char *const[]){"/usr/bin/prog", "two words", "xy zw", "", NULL});
    split_ok("/usr/bin/prog \"a \\\"quoted\\\" \\\\ \\$HOME \\n\"",
             (const char *const[]){"/usr/bin/prog", "a \"quoted\" \\ $HOME \\n", NULL});
    split_ok("/usr/bin/prog \"a;b|c>d*e~f(g)\" x#y", (const char *const[]){"/usr/bin/prog", "a;b|c>d*e~f(g)", "x#y", NULL});
    split_ok("/usr/bin/prog \\; \\$x", (const char *const[]){"/usr/bin/prog", ";", "$x", NULL});
    /* variables stay in their one word, for the caller to substitute */
    split_ok("/usr/bin/procmail -a \"$EXTENSION\"", (const char *const[]){"/usr/bin/procmail", "-a", "$EXTENSION", NULL});
    split_ok("/usr/bin/prog ${USER}.box x$HOME", (const char *const[]){"/usr/bin/prog", "${USER}.box", "x$HOME", NULL});
    split_ok("/usr/bin/prog \xe3\x81\x82", (const char *const[]){"/usr/bin/prog", "\xe3\x81\x82", NULL});

    static const char *const meta[] = {
        "/bin/sh -c id;", "/usr/bin/a ; /bin/rm", "/usr/bin/a & b", "/usr/bin/a | b", "/usr/bin/a < x",
        "/usr/bin/a > x", "/usr/bin/a `id`", "/usr/bin/a $", "/usr/bin/a $(id)", "/usr/bin/a (x)",
        "/usr/bin/a *", "/usr/bin/a ?", "/usr/bin/a [x]", "/usr/bin/a {x}", "/usr/bin/a ~/x",
        "/usr/bin/a 'x'", "/usr/bin/a #comment", "/usr/bin/a \"$(id)\"", "/usr/bin/a \"`id`\"", "||/bin/x",
        "/usr/bin/a ${x", "/usr/bin/a $1", "/usr/bin/a \"${}\"",
    };
    for (size_t i = 0; i < ARRAY_LEN(meta); i++)
        split_bad(meta[i], "shell metacharacters in command");
    split_bad("/usr/bin/a \"open", "unbalanced quotes in command");
    split_bad("/usr/bin/a \"x\\\"", "unbalanced quotes in command");
    split_bad("/usr/bin/a \\", "backslash at the end of command");
    split_bad("/usr/bin/a\nb", "control characters in command");
    split_bad("/usr/bin/a \"x\ry\"", "control characters in command");
    split_bad("", "empty command");
    split_bad("|   ", "empty command");
    split_bad("procmail -d user", "command must be an absolute path");
    split_bad("\"\" /bin/x", "command must be an absolute path");
    split_bad("./procmail", "command must be an absolute path");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cat_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_early_exit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cwd_and_descriptors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closed_stdio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_procmail, setup, teardown),
        cmocka_unit_test(test_bad_commands),
        cmocka_unit_test(test_status_table),
        cmocka_unit_test(test_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
