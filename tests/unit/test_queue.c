/*
 * test_queue.c - the durable queue (src/queue/queue*.c), queue IDs, the
 * control socket (control.c) and the 'yubin queue' / mailq command
 * (cmd/queue_cmd.c), against real directories under /tmp.
 *
 * Covers: the directory tree and its modes; commit in synchronous mode and
 * on an event loop with many concurrent writers (each callback once, err
 * 0, files valid) and the sharing of one directory fsync by a round;
 * failures (write error from RLIMIT_FSIZE, standing in for ENOSPC, and an
 * fdatasync error injected through queue_fdatasync_fn) remove the file and
 * are never retried; recovery removes unfinished files and quarantines
 * corrupt ones; hold/release/remove; recipient status bytes; defer state;
 * mailq output byte for byte; the control protocol; the command line.
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
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <event2/event.h>

#include "cmd/commands.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/params.h"
#include "queue/control.h"
#include "queue/envelope.h"
#include "queue/qid.h"
#include "queue/queue.h"
#include "queue/queue_file.h"

/* ---- fixture ---- */

struct fx {
    char dir[64];
    char log[96];
    struct queue *q;
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    /* mkdtemp's template: six 'X' at the end. */
    int n = snprintf(f->dir, sizeof(f->dir), "/tmp/yubin-tq-......");
    memset(f->dir + n - 6, 'X', 6);
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->log, sizeof(f->log), "%s.log", f->dir);
    log_open("yubin", LOG_TO_FILE, f->log);
    struct buf err = BUF_INIT;
    f->q = queue_open(f->dir, true, &err);
    buf_free(&err);
    queue_fdatasync_fn = NULL;
    *state = f;
    return f->q ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    queue_close(f->q);
    queue_fdatasync_fn = NULL;
    log_open("yubin", LOG_TO_STDERR, NULL);
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    unlink(f->log);
    free(f);
    return 0;
}

/* ---- helpers ---- */

static bool exists(const struct fx *f, const char *sub, const char *name)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s/%s", f->dir, sub, name);
    return access(p, F_OK) == 0;
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return strdup("");
    struct buf b = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        buf_append(&b, chunk, n);
    fclose(fp);
    return buf_steal(&b);
}

static void make_env(struct envelope *e, const char *sender, double arrival, const char *r1, const char *r2)
{
    envelope_init(e);
    envelope_set(&e->sender, sender);
    e->arrival = arrival;
    envelope_set(&e->proto, "ESMTP");
    envelope_add_rcpt(e, r1, NULL, 0);
    if (r2)
        envelope_add_rcpt(e, r2, NULL, DSN_NOTIFY_FAILURE);
}

static char *make_content(size_t len, unsigned seed)
{
    char *c = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        c[i] = (i % 64 == 62) ? '\r' : (i % 64 == 63) ? '\n' : (char)('A' + (i + seed) % 26);
    c[len] = 0;
    return c;
}

struct result {
    int calls;
    int err;
    char qid[QID_SIZE];
};

static void record_cb(void *arg, int err, const char *qid)
{
    struct result *r = arg;
    r->calls++;
    r->err = err;
    snprintf(r->qid, sizeof(r->qid), "%s", qid);
}

/* Commit one message synchronously; returns the callback's err. */
static int put_message(struct queue *q, const char *qid, struct envelope *e, size_t size)
{
    struct queue_writer *w = queue_writer_create(q, qid, e);
    assert_non_null(w);
    char *c = make_content(size, 3);
    assert_int_equal(queue_writer_write(w, c, size), 0);
    assert_int_equal(queue_writer_size(w), size);
    free(c);
    struct result r = {0, -1, ""};
    queue_writer_commit(w, record_cb, &r);
    assert_int_equal(r.calls, 1);
    assert_string_equal(r.qid, qid);
    return r.err;
}

static int collect(void *arg, const char *p, size_t n)
{
    buf_append(arg, p, n);
    return 0;
}

/* The message validates completely and carries exactly this content. */
static void check_message(struct queue *q, const char *qid, const char *content, size_t len)
{
    struct queue_msg m;
    struct buf err = BUF_INIT;
    if (queue_msg_open(q, qid, &m, &err) != 0)
        fail_msg("%s: %s", qid, buf_str(&err));
    assert_int_equal(m.size, len);
    struct buf back = BUF_INIT;
    assert_int_equal(qf_read_content(m.fd, m.content_off, collect, &back), 0);
    assert_int_equal(back.len, len);
    if (len)
        assert_memory_equal(back.data, content, len);
    queue_msg_close(&m);
    buf_free(&back);
    buf_free(&err);
}

/* ---- queue IDs and envelopes ---- */

#define QID_THREADS 4
#define QID_PER_THREAD 2000

static void *qid_worker(void *arg)
{
    char(*out)[QID_SIZE] = arg;
    for (int i = 0; i < QID_PER_THREAD; i++)
        qid_new(out[i]);
    return NULL;
}

static int cmp_qid(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_qid(void **state)
{
    (void)state;
    char a[QID_SIZE], b[QID_SIZE];
    qid_new(a);
    qid_new(b);
    assert_int_equal(strlen(a), 12);
    assert_true(qid_valid(a));
    assert_true(strcmp(a, b) < 0);   /* strictly increasing, fixed width */
    for (const char *p = a; *p; p++)
        assert_true((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'F'));

    char(*all)[QID_SIZE] = calloc(QID_THREADS * QID_PER_THREAD, QID_SIZE);
    pthread_t t[QID_THREADS];
    for (int i = 0; i < QID_THREADS; i++)
        pthread_create(&t[i], NULL, qid_worker, all + i * QID_PER_THREAD);
    for (int i = 0; i < QID_THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < QID_THREADS; i++)
        for (int j = 1; j < QID_PER_THREAD; j++)
            assert_true(strcmp(all[i * QID_PER_THREAD + j - 1], all[i * QID_PER_THREAD + j]) < 0);
    qsort(all, QID_THREADS * QID_PER_THREAD, QID_SIZE, cmp_qid);
    for (int i = 1; i < QID_THREADS * QID_PER_THREAD; i++)
        assert_true(strcmp(all[i - 1], all[i]) != 0);
    free(all);

    assert_true(qid_valid("9B019A76931"));
    assert_true(qid_valid("ABCDEF"));
    assert_false(qid_valid("ABCDE"));
    assert_false(qid_valid("abcdef123456"));
    assert_false(qid_valid("0123456789ABCDEF01234"));   /* 21 digits */
    assert_false(qid_valid("../../etc"));
    assert_false(qid_valid(""));
    assert_false(qid_valid("ALL"));
}

static void test_envelope_copy(void **state)
{
    (void)state;
    struct envelope e, c;
    make_env(&e, "s@example.com", 12.5, "a@example.com", "b@example.com");
    envelope_set(&e.tls, "TLSv1.3");
    e.rcpt[1].status = RCPT_DONE;
    envelope_copy(&c, &e);
    envelope_set(&e.sender, "changed@example.com");
    envelope_set(&e.rcpt[0].addr, "changed@example.com");
    assert_string_equal(c.sender, "s@example.com");
    assert_string_equal(c.rcpt[0].addr, "a@example.com");
    assert_string_equal(c.tls, "TLSv1.3");
    assert_int_equal(c.nrcpt, 2);
    assert_int_equal(c.rcpt[1].status, RCPT_DONE);
    assert_int_equal(c.rcpt[1].notify, DSN_NOTIFY_FAILURE);
    assert_int_equal(c.uid, -1);
    envelope_free(&e);
    envelope_free(&c);
    assert_null(c.sender);
    assert_int_equal(c.nrcpt, 0);
}

/* ---- tree, commit, recovery ---- */

static void test_open_creates_tree(void **state)
{
    struct fx *f = *state;
    const struct {
        const char *name;
        mode_t mode;
    } want[] = {{"messages", 0700}, {"hold", 0700}, {"defer", 0700}, {"corrupt", 0700},
                {"maildrop", 01733}, {"tmp", 0700}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        char p[256];
        struct stat st;
        snprintf(p, sizeof(p), "%s/%s", f->dir, want[i].name);
        assert_int_equal(stat(p, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, want[i].mode);
    }
    assert_string_equal(queue_dir(f->q), f->dir);
}

static void test_commit_sync(void **state)
{
    struct fx *f = *state;
    struct envelope e;
    make_env(&e, "sender@example.test", time_now(), "a@example.com", "b@example.com");
    char qid[QID_SIZE];
    qid_new(qid);
    struct queue_writer *w = queue_writer_create(f->q, qid, &e);
    assert_non_null(w);
    /* Same ID again: O_EXCL catches it. */
    assert_null(queue_writer_create(f->q, qid, &e));
    assert_int_equal(errno, EEXIST);

    size_t len = 200000;   /* several 'D' records, written in odd pieces */
    char *c = make_content(len, 1);
    for (size_t off = 0; off < len; off += 7777)
        assert_int_equal(queue_writer_write(w, c + off, len - off < 7777 ? len - off : 7777), 0);
    struct result r = {0, -1, ""};
    queue_writer_commit(w, record_cb, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.err, 0);
    check_message(f->q, qid, c, len);

    char p[256];
    struct stat st;
    snprintf(p, sizeof(p), "%s/messages/%s", f->dir, qid);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    struct queue_stats s;
    queue_get_stats(f->q, &s);
    assert_int_equal(s.commits, 1);
    assert_int_equal(s.file_syncs, 1);
    assert_int_equal(s.dir_syncs, 1);
    assert_int_equal(s.failures, 0);

    /* Bad envelopes and IDs never create a file. */
    struct envelope bad;
    make_env(&bad, "x@example.com", 1, "a@exa\nmple.com", NULL);
    char q2[QID_SIZE];
    qid_new(q2);
    assert_null(queue_writer_create(f->q, q2, &bad));
    assert_int_equal(errno, EINVAL);
    assert_false(exists(f, "messages", q2));
    assert_null(queue_writer_create(f->q, "../evil", &e));
    assert_int_equal(errno, EINVAL);
    envelope_free(&bad);

    /* Abort removes the file. */
    w = queue_writer_create(f->q, q2, &e);
    assert_non_null(w);
    assert_true(exists(f, "messages", q2));
    queue_writer_abort(w);
    assert_false(exists(f, "messages", q2));

    free(c);
    envelope_free(&e);
}

static void write_raw(const struct fx *f, const char *sub, const char *name, const void *p, size_t n)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s/%s", f->dir, sub, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static void test_recover(void **state)
{
    struct fx *f = *state;
    struct envelope e;
    make_env(&e, "s@example.com", time_now(), "a@example.com", NULL);

    /* A committed message survives recovery. */
    assert_int_equal(put_message(f->q, "000000000B01", &e, 1000), 0);

    /* An unfinished write: envelope and some content, no end record. */
    struct buf b = BUF_INIT;
    qf_write_envelope(&b, &e);
    qf_record_header(&b, 'D', 5);
    buf_append(&b, "hello", 5);
    write_raw(f, "messages", "000000000B02", b.data, b.len);
    /* An empty file (created, nothing written yet). */
    write_raw(f, "messages", "000000000B03", "", 0);

    /* A finished-looking file that does not parse: two senders. */
    buf_reset(&b);
    buf_append(&b, QF_MAGIC, QF_MAGIC_LEN);
    qf_record_header(&b, 'S', 1);
    buf_append(&b, "a", 1);
    qf_record_header(&b, 'S', 1);
    buf_append(&b, "b", 1);
    qf_record_header(&b, 'R', 5);
    buf_append(&b, "P\0\0\0c", 5);
    qf_record_header(&b, 'M', 0);
    qf_end_record(&b, 0, (uint32_t)crc32(0L, Z_NULL, 0), 4);
    write_raw(f, "messages", "000000000B04", b.data, b.len);
    /* Something else entirely in messages/ is left alone. */
    write_raw(f, "messages", "README", "x", 1);
    /* Leftover scratch files. */
    write_raw(f, "tmp", "000000000B01.defer.123.1", "junk", 4);
    buf_free(&b);

    queue_close(f->q);
    unsigned long warnings = log_warning_count();
    struct buf err = BUF_INIT;
    f->q = queue_open(f->dir, true, &err);
    assert_non_null(f->q);
    buf_free(&err);

    assert_true(exists(f, "messages", "000000000B01"));
    assert_false(exists(f, "messages", "000000000B02"));
    assert_false(exists(f, "messages", "000000000B03"));
    assert_false(exists(f, "messages", "000000000B04"));
    assert_true(exists(f, "corrupt", "000000000B04"));
    assert_true(exists(f, "messages", "README"));
    assert_false(exists(f, "tmp", "000000000B01.defer.123.1"));
    assert_true(log_warning_count() >= warnings + 5);

    char *log = slurp(f->log);
    assert_non_null(strstr(log, "warning: 000000000B02: removing unfinished queue file"));
    assert_non_null(strstr(log, "warning: 000000000B03: removing unfinished queue file"));
    assert_non_null(strstr(log, "warning: 000000000B04: corrupt queue file moved to corrupt/: second sender"));
    assert_non_null(strstr(log, "removing stale temporary file"));
    free(log);

    /* Without recover nothing is touched. */
    write_raw(f, "messages", "000000000B05", "YUBIN", 5);
    queue_close(f->q);
    f->q = queue_open(f->dir, false, NULL);
    assert_non_null(f->q);
    assert_true(exists(f, "messages", "000000000B05"));
    envelope_free(&e);
}

/* ---- event loop mode ---- */

struct loop_ctx {
    struct event_base *base;
    int expected, done;
};

struct loop_result {
    struct loop_ctx *ctx;
    int calls, err;
    char qid[QID_SIZE];
    pthread_t thread;
};

static void loop_cb(void *arg, int err, const char *qid)
{
    struct loop_result *r = arg;
    r->calls++;
    r->err = err;
    r->thread = pthread_self();
    snprintf(r->qid, sizeof(r->qid), "%s", qid);
    if (++r->ctx->done == r->ctx->expected)
        event_base_loopexit(r->ctx->base, NULL);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopexit(arg, NULL);
}

/* Commit n messages at once on an event loop; returns the results. */
static struct loop_result *commit_many(struct fx *f, struct event_base *base, int n, char (*qids)[QID_SIZE],
                                       char **contents, size_t *sizes)
{
    struct loop_ctx *ctx = calloc(1, sizeof(*ctx));
    ctx->base = base;
    ctx->expected = n;
    struct loop_result *res = calloc((size_t)n, sizeof(*res));
    struct queue_writer **w = calloc((size_t)n, sizeof(*w));
    struct envelope e;
    make_env(&e, "s@example.com", time_now(), "a@example.com", "b@example.com");
    /* All writers open at once, as concurrent SMTP sessions would be. */
    for (int i = 0; i < n; i++) {
        qid_new(qids[i]);
        w[i] = queue_writer_create(f->q, qids[i], &e);
        assert_non_null(w[i]);
        res[i].ctx = ctx;
    }
    for (int i = 0; i < n; i++) {
        sizes[i] = 100 + (size_t)i * 3001;
        contents[i] = make_content(sizes[i], (unsigned)i);
        assert_int_equal(queue_writer_write(w[i], contents[i], sizes[i]), 0);
    }
    for (int i = 0; i < n; i++) {
        queue_writer_commit(w[i], loop_cb, &res[i]);
        assert_int_equal(res[i].calls, 0);   /* never inside the caller's call */
    }
    struct event *guard = evtimer_new(base, timeout_cb, base);
    struct timeval tv = {20, 0};
    evtimer_add(guard, &tv);
    event_base_dispatch(base);
    event_free(guard);
    assert_int_equal(ctx->done, n);
    free(ctx);
    free(w);
    envelope_free(&e);
    return res;
}

static void test_commit_event_loop(void **state)
{
    struct fx *f = *state;
    struct event_base *base = event_base_new();
    queue_set_event_base(f->q, base);
    queue_set_committers(f->q, 3);
    enum { N = 40 };
    char qids[N][QID_SIZE];
    char *contents[N];
    size_t sizes[N];
    struct loop_result *res = commit_many(f, base, N, qids, contents, sizes);
    for (int i = 0; i < N; i++) {
        assert_int_equal(res[i].calls, 1);
        assert_int_equal(res[i].err, 0);
        assert_string_equal(res[i].qid, qids[i]);
        assert_true(pthread_equal(res[i].thread, pthread_self()));
        check_message(f->q, qids[i], contents[i], sizes[i]);
        free(contents[i]);
    }
    struct queue_stats s;
    queue_get_stats(f->q, &s);
    assert_int_equal(s.commits, N);
    assert_int_equal(s.file_syncs, N);
    assert_true(s.dir_syncs >= 1 && s.dir_syncs <= N);
    free(res);
    queue_close(f->q);
    f->q = NULL;
    event_base_free(base);
    f->q = queue_open(f->dir, false, NULL);
}

/* Holds up the first fdatasync, so the other commits pile up behind it. */
static int slow_first_calls;
static int slow_first_sync(int fd)
{
    if (__atomic_fetch_add(&slow_first_calls, 1, __ATOMIC_SEQ_CST) == 0) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return fdatasync(fd);
}

static void test_group_commit_shares_dir_fsync(void **state)
{
    struct fx *f = *state;
    struct event_base *base = event_base_new();
    queue_set_event_base(f->q, base);
    queue_set_committers(f->q, 1);
    queue_fdatasync_fn = slow_first_sync;
    slow_first_calls = 0;
    enum { N = 12 };
    char qids[N][QID_SIZE];
    char *contents[N];
    size_t sizes[N];
    struct loop_result *res = commit_many(f, base, N, qids, contents, sizes);
    for (int i = 0; i < N; i++) {
        assert_int_equal(res[i].err, 0);
        free(contents[i]);
    }
    struct queue_stats s;
    queue_get_stats(f->q, &s);
    assert_int_equal(s.file_syncs, N);
    assert_int_equal(slow_first_calls, N);
    /* One committer: the first round had one file, the second the rest. */
    assert_true(s.dir_syncs >= 1 && s.dir_syncs <= 2);
    free(res);
    queue_close(f->q);
    event_base_free(base);
    f->q = queue_open(f->dir, false, NULL);
}

static int eio_calls;
static int failing_sync(int fd)
{
    (void)fd;
    __atomic_fetch_add(&eio_calls, 1, __ATOMIC_SEQ_CST);
    errno = EIO;
    return -1;
}

static void test_fsync_failure_removes_and_never_retries(void **state)
{
    struct fx *f = *state;
    struct envelope e;
    make_env(&e, "s@example.com", time_now(), "a@example.com", NULL);
    queue_fdatasync_fn = failing_sync;
    eio_calls = 0;

    /* Synchronous. */
    char qid[QID_SIZE];
    qid_new(qid);
    struct queue_writer *w = queue_writer_create(f->q, qid, &e);
    assert_int_equal(queue_writer_write(w, "x\r\n", 3), 0);
    struct result r = {0, 0, ""};
    queue_writer_commit(w, record_cb, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.err, EIO);
    assert_int_equal(eio_calls, 1);
    assert_false(exists(f, "messages", qid));

    /* On the event loop, several at once. */
    struct event_base *base = event_base_new();
    queue_set_event_base(f->q, base);
    enum { N = 5 };
    struct loop_ctx ctx = {base, N, 0};
    struct loop_result res[N];
    char qids[N][QID_SIZE];
    memset(res, 0, sizeof(res));
    for (int i = 0; i < N; i++) {
        qid_new(qids[i]);
        w = queue_writer_create(f->q, qids[i], &e);
        assert_int_equal(queue_writer_write(w, "y\r\n", 3), 0);
        res[i].ctx = &ctx;
        queue_writer_commit(w, loop_cb, &res[i]);
    }
    event_base_dispatch(base);
    for (int i = 0; i < N; i++) {
        assert_int_equal(res[i].calls, 1);
        assert_int_equal(res[i].err, EIO);
        assert_false(exists(f, "messages", qids[i]));
    }
    assert_int_equal(eio_calls, 1 + N);   /* one attempt per file, no retry */
    struct queue_stats s;
    queue_get_stats(f->q, &s);
    assert_int_equal(s.failures, 1 + N);
    assert_int_equal(s.commits, 0);
    assert_int_equal(s.dir_syncs, 0);
    queue_close(f->q);
    event_base_free(base);
    f->q = queue_open(f->dir, false, NULL);
    envelope_free(&e);
}

/* RLIMIT_FSIZE makes write(2) fail with EFBIG past the limit: a real write
 * error on the real code path, as a full disk (ENOSPC) would give. */
static void test_write_failure_removes_file(void **state)
{
    struct fx *f = *state;
    struct envelope e;
    make_env(&e, "s@example.com", time_now(), "a@example.com", NULL);
    struct rlimit old, small;
    getrlimit(RLIMIT_FSIZE, &old);
    void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
    small = old;
    small.rlim_cur = 70000;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);

    char qid[QID_SIZE];
    qid_new(qid);
    struct queue_writer *w = queue_writer_create(f->q, qid, &e);
    assert_non_null(w);
    char *c = make_content(300000, 0);
    int rc = 0, err = 0;
    for (size_t off = 0; off < 300000 && rc == 0; off += 10000) {
        rc = queue_writer_write(w, c + off, 10000);
        err = errno;
    }
    assert_int_equal(rc, -1);
    assert_int_equal(err, EFBIG);
    /* Poisoned: later writes fail too. */
    assert_int_equal(queue_writer_write(w, "x", 1), -1);
    struct result r = {0, 0, ""};
    queue_writer_commit(w, record_cb, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.err, EFBIG);
    assert_false(exists(f, "messages", qid));

    /* The end record itself not fitting: fails at commit. */
    small.rlim_cur = 2000;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    qid_new(qid);
    w = queue_writer_create(f->q, qid, &e);
    assert_non_null(w);
    assert_int_equal(queue_writer_write(w, c, 1990), 0);   /* still buffered */
    memset(&r, 0, sizeof(r));
    queue_writer_commit(w, record_cb, &r);
    assert_int_equal(r.err, EFBIG);
    assert_false(exists(f, "messages", qid));

    /* Not even the envelope fits: create fails and leaves nothing. */
    small.rlim_cur = 10;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    qid_new(qid);
    assert_null(queue_writer_create(f->q, qid, &e));
    assert_int_equal(errno, EFBIG);
    assert_false(exists(f, "messages", qid));

    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, oldsig);
    free(c);
    envelope_free(&e);
}

static void test_has_space(void **state)
{
    struct fx *f = *state;
    long saved_min = var_queue_minfree, saved_size = var_message_size_limit;
    var_queue_minfree = 0;
    var_message_size_limit = 1000;
    assert_true(queue_has_space(f->q));
    var_queue_minfree = LONG_MAX;
    assert_false(queue_has_space(f->q));
    var_queue_minfree = 0;
    var_message_size_limit = LONG_MAX;   /* 1.5 x this cannot be free anywhere */
    assert_false(queue_has_space(f->q));
    var_queue_minfree = saved_min;
    var_message_size_limit = saved_size;
}

/* ---- managing messages ---- */

static void test_hold_release_remove(void **state)
{
    struct fx *f = *state;
    struct envelope e;
    make_env(&e, "s@example.com", time_now(), "a@example.com", NULL);
    const char *id = "000000000C01";
    assert_int_equal(put_message(f->q, id, &e, 500), 0);
    struct queue_defer d = {0};
    d.attempts = 1;
    assert_int_equal(queue_defer_write(f->q, id, &d), 0);
    enum queue_where where;
    assert_int_equal(queue_locate(f->q, id, &where), 0);
    assert_int_equal(where, QUEUE_MESSAGES);

    assert_int_equal(queue_hold(f->q, id), 0);
    assert_false(exists(f, "messages", id));
    assert_true(exists(f, "hold", id));
    assert_int_equal(queue_locate(f->q, id, &where), 0);
    assert_int_equal(where, QUEUE_HOLD);
    assert_int_equal(queue_hold(f->q, id), -1);       /* not in messages/ any more */
    assert_int_equal(errno, ENOENT);

    /* A held message still opens (for inspection), and says where it is. */
    struct queue_msg m;
    assert_int_equal(queue_msg_open(f->q, id, &m, NULL), 0);
    assert_int_equal(m.where, QUEUE_HOLD);
    queue_msg_close(&m);

    char **ids;
    size_t n;
    assert_int_equal(queue_list_ids(f->q, QUEUE_HOLD, &ids, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], id);
    queue_free_ids(ids, n);
    assert_int_equal(queue_list_ids(f->q, QUEUE_MESSAGES, &ids, &n), 0);
    assert_int_equal(n, 0);
    queue_free_ids(ids, n);

    assert_int_equal(queue_release(f->q, id), 0);
    assert_true(exists(f, "messages", id));
    assert_false(exists(f, "hold", id));
    assert_int_equal(queue_release(f->q, id), -1);
    assert_int_equal(errno, ENOENT);

    /* A move never replaces an existing file. */
    write_raw(f, "hold", id, "x", 1);
    assert_int_equal(queue_hold(f->q, id), -1);
    assert_int_equal(errno, EEXIST);
    assert_true(exists(f, "messages", id));
    char p[256];
    snprintf(p, sizeof(p), "%s/hold/%s", f->dir, id);
    unlink(p);

    assert_true(exists(f, "defer", id));
    assert_int_equal(queue_remove(f->q, id), 0);
    assert_false(exists(f, "messages", id));
    assert_false(exists(f, "defer", id));
    assert_int_equal(queue_remove(f->q, id), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(queue_locate(f->q, id, &where), -1);
    assert_int_equal(queue_remove(f->q, "../../x"), -1);
    envelope_free(&e);
}

static void test_rcpt_done(void **state)
{
    struct fx *f = *state;
    struct envelope e;
    make_env(&e, "s@example.com", time_now(), "a@example.com", "b@example.com");
    const char *id = "000000000D01";
    assert_int_equal(put_message(f->q, id, &e, 100), 0);
    struct queue_msg m;
    assert_int_equal(queue_msg_open(f->q, id, &m, NULL), 0);
    assert_int_equal(m.env.rcpt[1].status, RCPT_PENDING);
    assert_int_equal(queue_msg_rcpt_done(&m, 1), 0);
    assert_int_equal(queue_msg_sync(&m), 0);
    assert_int_equal(queue_msg_rcpt_done(&m, 2), -1);
    assert_int_equal(errno, EINVAL);
    queue_msg_close(&m);
    assert_int_equal(queue_msg_open(f->q, id, &m, NULL), 0);
    assert_int_equal(m.env.rcpt[0].status, RCPT_PENDING);
    assert_int_equal(m.env.rcpt[1].status, RCPT_DONE);
    assert_int_equal(m.size, 100);
    queue_msg_close(&m);
    envelope_free(&e);
}

static void test_corrupt_moved_on_open(void **state)
{
    struct fx *f = *state;
    struct envelope e;
    make_env(&e, "s@example.com", time_now(), "a@example.com", NULL);
    const char *id = "000000000E01";
    assert_int_equal(put_message(f->q, id, &e, 3000), 0);
    char p[256];
    snprintf(p, sizeof(p), "%s/messages/%s", f->dir, id);
    int fd = open(p, O_RDWR);
    char c;
    assert_int_equal(pread(fd, &c, 1, 400), 1);
    c ^= 0x40;
    assert_int_equal(pwrite(fd, &c, 1, 400), 1);   /* a content byte: CRC breaks */
    close(fd);

    struct queue_msg m;
    struct buf err = BUF_INIT;
    unsigned long warnings = log_warning_count();
    assert_int_equal(queue_msg_open(f->q, id, &m, &err), -1);
    assert_int_equal(errno, EBADMSG);
    assert_non_null(strstr(buf_str(&err), "CRC mismatch"));
    assert_false(exists(f, "messages", id));
    assert_true(exists(f, "corrupt", id));
    assert_int_equal(log_warning_count(), warnings + 1);
    char *log = slurp(f->log);
    assert_non_null(strstr(log, "000000000E01: corrupt queue file moved to corrupt/: CRC mismatch"));
    free(log);

    /* The same ID corrupt again goes next to it, never over it. */
    assert_int_equal(put_message(f->q, id, &e, 10), 0);
    fd = open(p, O_RDWR);
    assert_int_equal(pwrite(fd, "Z", 1, QF_MAGIC_LEN), 1);   /* first record type */
    close(fd);
    assert_int_equal(queue_msg_open(f->q, id, &m, &err), -1);
    assert_true(exists(f, "corrupt", "000000000E01.1"));

    /* An unfinished file is left where it is. */
    write_raw(f, "messages", "000000000E02", QF_MAGIC, QF_MAGIC_LEN);
    assert_int_equal(queue_msg_open(f->q, "000000000E02", &m, &err), -1);
    assert_int_equal(errno, EAGAIN);
    assert_true(exists(f, "messages", "000000000E02"));

    assert_int_equal(queue_msg_open(f->q, "000000000E03", &m, &err), -1);
    assert_int_equal(errno, ENOENT);
    buf_free(&err);
    envelope_free(&e);
}

static void test_defer_round_trip(void **state)
{
    struct fx *f = *state;
    const char *id = "000000000F01";
    struct queue_defer d = {0}, r;
    assert_int_equal(queue_defer_read(f->q, id, &r), 0);   /* none yet */
    assert_int_equal(r.attempts, 0);
    assert_int_equal(r.nreason, 0);
    assert_null(r.reason);

    d.next_attempt = 1795452738.5;
    d.attempts = 7;
    d.warned = true;
    d.nreason = 4;
    d.reason = calloc(4, sizeof(char *));
    d.reason[0] = strdup("connect to 127.0.0.1[127.0.0.1]:2699: Connection refused");
    d.reason[2] = strdup("host said: 451-first line\r\n451 second line (in reply to RCPT TO command)");
    d.reason[3] = strdup("");
    assert_int_equal(queue_defer_write(f->q, id, &d), 0);
    assert_int_equal(queue_defer_read(f->q, id, &r), 0);
    assert_true(r.next_attempt > 1795452738.49 && r.next_attempt < 1795452738.51);
    assert_int_equal(r.attempts, 7);
    assert_true(r.warned);
    assert_int_equal(r.nreason, 4);
    assert_string_equal(r.reason[0], d.reason[0]);
    assert_null(r.reason[1]);
    assert_string_equal(r.reason[2], d.reason[2]);
    assert_string_equal(r.reason[3], "");
    queue_defer_free(&r);
    queue_defer_free(&d);
    assert_null(d.reason);

    /* Damaged state files are refused, never half-read. */
    const char *bad[] = {
        "",
        "yubin-defer 2\n",
        "yubin-defer 1\nattempts many\n",
        "yubin-defer 1\nattempts 3",                     /* unterminated */
        "yubin-defer 1\nreason 0 100\nshort\n",          /* length past the end */
        "yubin-defer 1\nreason 0 3\nabcX",               /* no newline after */
        "yubin-defer 1\nreason 99999999 1\na\n",         /* index out of range */
        "yubin-defer 1\nreason -1 1\na\n",
        "yubin-defer 1\nsurprise 1\n",
        "yubin-defer 1\nwarned 2\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_raw(f, "defer", id, bad[i], strlen(bad[i]));
        r.attempts = 99;
        assert_int_equal(queue_defer_read(f->q, id, &r), -1);
        assert_int_equal(errno, EINVAL);
        assert_int_equal(r.attempts, 0);
        assert_null(r.reason);
    }
    write_raw(f, "defer", id, "yubin-defer 1\nreason 1 3\na\0b\n", 28);
    assert_int_equal(queue_defer_read(f->q, id, &r), -1);
    /* Nothing is left behind in tmp/. */
    char p[256];
    snprintf(p, sizeof(p), "%s/tmp", f->dir);
    int entries = 0;
    DIR *dp = opendir(p);
    struct dirent *de;
    while ((de = readdir(dp)) != NULL)
        if (de->d_name[0] != '.')
            entries++;
    closedir(dp);
    assert_int_equal(entries, 0);
}

/* ---- mailq layout ---- */

#define EXP_HEADER "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"

#define EXP_A                                                                             \
    "000000000A01     287 Mon Nov 23 16:52:18  sender@example.test\n"                     \
    "                    (connect to 127.0.0.1[127.0.0.1]:2699: Connection refused)\n"     \
    "                                         b@dead.test\n"                              \
    "                                         c@dead.test\n"                              \
    "                                                          (reason unavailable)\n"     \
    "                                         d@elsewhere.test\n"

#define EXP_B                                                                             \
    "000000000A02!     271 Mon Nov 23 16:52:32  root@example.test\n"                      \
    "                    (connect to 127.0.0.1[127.0.0.1]:2699: Connection refused)\n"     \
    "                                         x@dead.test\n"

#define EXP_C                                                                             \
    "000000000A03*    2131 Mon Nov 23 16:53:58  MAILER-DAEMON\n"                          \
    "                                         postmaster@example.test\n"

#define REFUSED "connect to 127.0.0.1[127.0.0.1]:2699: Connection refused"

static bool only_a03(const char *qid, void *arg)
{
    (void)arg;
    return strcmp(qid, "000000000A03") == 0;
}

static char *print_queue(struct queue *q, bool (*act)(const char *, void *), size_t *count)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    *count = queue_print(q, fp, act, NULL);
    fclose(fp);
    return text;
}

static void expect_print(struct queue *q, bool (*act)(const char *, void *), const char *want, size_t want_n)
{
    size_t n;
    char *got = print_queue(q, act, &n);
    if (strcmp(got, want) != 0)
        fail_msg("mailq output differs.\n--- got ---\n%s--- want ---\n%s", got, want);
    assert_int_equal(n, want_n);
    free(got);
}

static void set_defer(struct queue *q, const char *id, size_t nr, const char *const *reasons)
{
    struct queue_defer d = {0};
    d.nreason = nr;
    d.reason = calloc(nr, sizeof(char *));
    for (size_t i = 0; i < nr; i++)
        d.reason[i] = reasons[i] ? strdup(reasons[i]) : NULL;
    assert_int_equal(queue_defer_write(q, id, &d), 0);
    queue_defer_free(&d);
}

static void test_print_layout(void **state)
{
    struct fx *f = *state;
    setenv("TZ", "UTC", 1);
    tzset();
    const double t = 1795452738;   /* Mon Nov 23 16:52:18 2026 UTC */

    expect_print(f->q, NULL, "Mail queue is empty\n", 0);

    /* Two recipients with one reason, one without (after one with), one done. */
    struct envelope a;
    make_env(&a, "sender@example.test", t, "b@dead.test", "c@dead.test");
    envelope_add_rcpt(&a, "d@elsewhere.test", NULL, 0);
    envelope_add_rcpt(&a, "done@example.test", NULL, 0);
    assert_int_equal(put_message(f->q, "000000000A01", &a, 287), 0);
    struct queue_msg m;
    assert_int_equal(queue_msg_open(f->q, "000000000A01", &m, NULL), 0);
    assert_int_equal(queue_msg_rcpt_done(&m, 3), 0);
    queue_msg_close(&m);
    const char *ra[] = {REFUSED, REFUSED, NULL, "delivered, never shown"};
    set_defer(f->q, "000000000A01", 4, ra);
    expect_print(f->q, NULL, EXP_HEADER EXP_A "\n-- 0 Kbytes in 1 Request.\n", 1);

    /* A held message: '!' and listed after the others. */
    struct envelope b;
    make_env(&b, "root@example.test", t + 14, "x@dead.test", NULL);
    assert_int_equal(put_message(f->q, "000000000A02", &b, 271), 0);
    const char *rb[] = {REFUSED};
    set_defer(f->q, "000000000A02", 1, rb);
    assert_int_equal(queue_hold(f->q, "000000000A02"), 0);
    expect_print(f->q, NULL, EXP_HEADER EXP_A "\n" EXP_B "\n-- 0 Kbytes in 2 Requests.\n", 2);

    /* Null sender, no reasons, being delivered ('*'). */
    struct envelope c;
    make_env(&c, "", t + 100, "postmaster@example.test", NULL);
    assert_int_equal(put_message(f->q, "000000000A03", &c, 2131), 0);
    expect_print(f->q, only_a03, EXP_HEADER EXP_A "\n" EXP_C "\n" EXP_B "\n-- 2 Kbytes in 3 Requests.\n", 3);

    /* A file still being written is not listed; neither is a corrupt one. */
    write_raw(f, "messages", "000000000A04", QF_MAGIC, QF_MAGIC_LEN);
    struct buf junk = BUF_INIT;
    buf_append(&junk, QF_MAGIC, QF_MAGIC_LEN);
    qf_record_header(&junk, 'Q', 0);
    qf_end_record(&junk, 0, 0, 1);
    write_raw(f, "messages", "000000000A05", junk.data, junk.len);
    buf_free(&junk);
    expect_print(f->q, only_a03, EXP_HEADER EXP_A "\n" EXP_C "\n" EXP_B "\n-- 2 Kbytes in 3 Requests.\n", 3);

    /* A hostile reason cannot break the layout. */
    const char *rx[] = {"line1\r\nline2\x1b[31m"};
    set_defer(f->q, "000000000A03", 1, rx);
    size_t n;
    char *got = print_queue(f->q, NULL, &n);
    assert_non_null(strstr(got, "                                                 (line1  line2 [31m)\n"));
    free(got);

    envelope_free(&a);
    envelope_free(&b);
    envelope_free(&c);
}

/* ---- control socket ---- */

struct ctl_state {
    int wakeups, flushes;
    char last_verb[16], last_qid[32];
};

static void h_wakeup(void *arg)
{
    ((struct ctl_state *)arg)->wakeups++;
}

static void h_flush(void *arg)
{
    ((struct ctl_state *)arg)->flushes++;
}

static long h_manage(void *arg, const char *verb, const char *qid)
{
    struct ctl_state *s = arg;
    snprintf(s->last_verb, sizeof(s->last_verb), "%s", verb);
    snprintf(s->last_qid, sizeof(s->last_qid), "%s", qid);
    if (strcmp(qid, "ALL") == 0)
        return 3;
    return strcmp(qid, "000000000A01") == 0 ? 1 : -1;
}

static void h_active(void *arg, struct buf *out)
{
    (void)arg;
    buf_puts(out, "000000000A01\n000000000A03\nnot-an-id\n");
}

/* Runs client requests on a thread while the test thread runs the loop. */
struct client_job {
    void (*fn)(struct client_job *);
    const char *dir;
    volatile int done;
    int results[16];
    int errs[16];
    struct buf replies[16];
};

static void *client_thread(void *arg)
{
    struct client_job *j = arg;
    j->fn(j);
    __atomic_store_n(&j->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void run_with_loop(struct event_base *base, struct client_job *j)
{
    pthread_t t;
    pthread_create(&t, NULL, client_thread, j);
    double deadline = time_monotonic() + 20;
    while (!__atomic_load_n(&j->done, __ATOMIC_SEQ_CST) && time_monotonic() < deadline) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    pthread_join(t, NULL);
}

static void client_requests(struct client_job *j)
{
    const char *reqs[] = {"wakeup", "flush", "active", "delete 000000000A01", "hold 000000000A09",
                          "release ALL", "delete ../x", "explode", "flush now", "wakeup\r"};
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        buf_init(&j->replies[i]);
        j->results[i] = control_request(j->dir, reqs[i], &j->replies[i]);
        j->errs[i] = errno;
    }
}

/* Raw socket: a line longer than the limit, with no newline. */
static void client_long_line(struct client_job *j)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/control", j->dir);
    j->results[0] = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
    char line[700];
    memset(line, 'a', sizeof(line));
    j->results[1] = (int)write(fd, line, sizeof(line));
    buf_init(&j->replies[0]);
    char rd[256];
    ssize_t n;
    while ((n = read(fd, rd, sizeof(rd))) > 0)
        buf_append(&j->replies[0], rd, (size_t)n);
    close(fd);
}

static void test_control(void **state)
{
    struct fx *f = *state;
    struct buf reply = BUF_INIT;
    /* No daemon: the client says so with ENOENT. */
    assert_int_equal(control_request(f->dir, "wakeup", &reply), -1);
    assert_true(errno == ENOENT || errno == ECONNREFUSED);

    struct event_base *base = event_base_new();
    struct ctl_state s = {0};
    struct control_handlers h = {h_wakeup, h_flush, h_manage, h_active, &s};
    struct buf err = BUF_INIT;
    assert_int_equal(control_listen(base, f->dir, -1, &h, &err), 0);
    char sock[256];
    snprintf(sock, sizeof(sock), "%s/control", f->dir);
    struct stat st;
    assert_int_equal(stat(sock, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0666);
    /* A second daemon on the same queue is refused. */
    struct event_base *base2 = event_base_new();
    assert_int_equal(control_listen(base2, f->dir, -1, &h, &err), -1);

    struct client_job j = {.fn = client_requests, .dir = f->dir};
    run_with_loop(base, &j);
    assert_int_equal(j.results[0], 0);               /* wakeup */
    assert_int_equal(s.wakeups, 1);
    assert_int_equal(j.results[1], 0);               /* flush */
    assert_int_equal(s.flushes, 1);
    assert_int_equal(j.results[2], 0);               /* active: only valid IDs pass */
    assert_string_equal(buf_str(&j.replies[2]), "000000000A01\n000000000A03\n");
    assert_int_equal(j.results[3], 0);
    assert_string_equal(buf_str(&j.replies[3]), "1");
    assert_int_equal(j.results[4], 1);
    assert_string_equal(buf_str(&j.replies[4]), "no such message");
    assert_int_equal(j.results[5], 0);
    assert_string_equal(buf_str(&j.replies[5]), "3");
    assert_string_equal(s.last_verb, "release");
    assert_int_equal(j.results[6], 1);               /* not a queue ID: never reaches the handler */
    assert_string_equal(buf_str(&j.replies[6]), "bad queue ID");
    assert_int_equal(j.results[7], 1);
    assert_string_equal(buf_str(&j.replies[7]), "unknown request");
    assert_int_equal(j.results[8], 1);
    assert_int_equal(j.results[9], 1);               /* control character */
    assert_string_equal(buf_str(&j.replies[9]), "bad request");
    assert_int_equal(s.wakeups, 1);
    for (int i = 0; i < 10; i++)
        buf_free(&j.replies[i]);

    struct client_job j2 = {.fn = client_long_line, .dir = f->dir};
    run_with_loop(base, &j2);
    assert_int_equal(j2.results[0], 0);
    assert_string_equal(buf_str(&j2.replies[0]), "ERR line too long\n");
    buf_free(&j2.replies[0]);

    /* The client refuses to send what the server would refuse. */
    char longreq[600];
    memset(longreq, 'x', sizeof(longreq) - 1);
    longreq[sizeof(longreq) - 1] = 0;
    assert_int_equal(control_request(f->dir, longreq, &reply), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(control_request(f->dir, "flush\nhold ALL", &reply), -1);

    /* Another user may only say wakeup (SO_PEERCRED; needs root to test). */
    if (geteuid() == 0) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            if (chmod(f->dir, 0755) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
                _exit(99);
            struct buf r1 = BUF_INIT, r2 = BUF_INIT;
            int a = control_request(f->dir, "flush", &r1);
            int b = control_request(f->dir, "wakeup", &r2);
            char out[128];
            int n = snprintf(out, sizeof(out), "%d %s|%d %s", a, buf_str(&r1), b, buf_str(&r2));
            (void)!write(p[1], out, (size_t)n);
            _exit(0);
        }
        close(p[1]);
        int status = 0;
        double deadline = time_monotonic() + 20;
        while (waitpid(pid, &status, WNOHANG) == 0 && time_monotonic() < deadline) {
            event_base_loop(base, EVLOOP_NONBLOCK);
            struct timespec ts = {0, 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        char out[128] = {0};
        assert_true(read(p[0], out, sizeof(out) - 1) > 0);
        close(p[0]);
        assert_string_equal(out, "1 permission denied|0 ");
        assert_int_equal(s.flushes, 1);
        assert_int_equal(s.wakeups, 2);
    }

    control_close();
    assert_int_equal(access(sock, F_OK), -1);
    event_base_free(base);
    event_base_free(base2);
    buf_free(&reply);
    buf_free(&err);
}

/* ---- the command line ---- */

struct captured {
    int rc;
    char *out, *err;
};

static struct captured run_cmd(const struct fx *f, int (*fn)(int, char **), int argc, char **argv)
{
    char outp[128], errp[128];
    snprintf(outp, sizeof(outp), "%s.out", f->dir);
    snprintf(errp, sizeof(errp), "%s.err", f->dir);
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    int fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fo, 1);
    dup2(fe, 2);
    close(fo);
    close(fe);
    struct captured c;
    c.rc = fn(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    c.out = slurp(outp);
    c.err = slurp(errp);
    unlink(outp);
    unlink(errp);
    /* The commands switch logging to the terminal; the fixture logs to its file. */
    log_open("yubin", LOG_TO_FILE, f->log);
    return c;
}

static void free_captured(struct captured *c)
{
    free(c->out);
    free(c->err);
}

static char *write_config(const struct fx *f)
{
    char *path = malloc(128);
    snprintf(path, 128, "%s.conf", f->dir);
    FILE *fp = fopen(path, "w");
    fprintf(fp, "queue_directory = %s\n", f->dir);
    fclose(fp);
    return path;
}

static void test_cmd_direct(void **state)
{
    struct fx *f = *state;
    setenv("TZ", "UTC", 1);
    tzset();
    char *conf = write_config(f);
    struct envelope e;
    make_env(&e, "sender@example.test", 1795452738, "a@example.com", NULL);
    assert_int_equal(put_message(f->q, "000000000A01", &e, 1500), 0);
    assert_int_equal(put_message(f->q, "000000000A02", &e, 1500), 0);
    assert_int_equal(put_message(f->q, "000000000A03", &e, 1500), 0);

    /* list = mailq, with the daemon down. */
    char *list[] = {"queue", "-c", conf, "list", NULL};
    struct captured c = run_cmd(f, cmd_queue, 4, list);
    assert_int_equal(c.rc, 0);
    size_t n;
    char *want = print_queue(f->q, NULL, &n);
    assert_string_equal(c.out, want);
    assert_non_null(strstr(c.out, "-- 4 Kbytes in 3 Requests.\n"));
    assert_string_equal(c.err, "yubin: warning: Mail system is down -- accessing queue directly\n");
    free_captured(&c);
    char *mq[] = {"mailq", "-c", conf, NULL};
    c = run_cmd(f, cmd_mailq, 3, mq);
    assert_int_equal(c.rc, 0);
    assert_string_equal(c.out, want);
    free_captured(&c);
    free(want);

    /* flush needs the daemon. */
    char *flush[] = {"queue", "-c", conf, "flush", NULL};
    c = run_cmd(f, cmd_queue, 4, flush);
    assert_int_equal(c.rc, 69);
    assert_string_equal(c.err, "yubin: fatal: Cannot flush mail queue - mail system is down\n");
    free_captured(&c);

    char *hold[] = {"queue", "-c", conf, "hold", "000000000A01", "000000000A02", NULL};
    c = run_cmd(f, cmd_queue, 6, hold);
    assert_int_equal(c.rc, 0);
    assert_string_equal(c.err, "yubin: 000000000A01: placed on hold\n"
                               "yubin: 000000000A02: placed on hold\n"
                               "yubin: Placed on hold: 2 messages\n");
    assert_true(exists(f, "hold", "000000000A01"));
    free_captured(&c);

    char *rel[] = {"queue", "-c", conf, "release", "ALL", NULL};
    c = run_cmd(f, cmd_queue, 5, rel);
    assert_int_equal(c.rc, 0);
    assert_non_null(strstr(c.err, "yubin: Released from hold: 2 messages\n"));
    assert_true(exists(f, "messages", "000000000A01"));
    free_captured(&c);

    char *del[] = {"queue", "-c", conf, "delete", "000000000A01", "0000000000FF", NULL};
    c = run_cmd(f, cmd_queue, 6, del);
    assert_int_equal(c.rc, 1);
    assert_string_equal(c.err, "yubin: warning: 0000000000FF: no such message\n"
                               "yubin: Deleted: 1 message\n");
    assert_false(exists(f, "messages", "000000000A01"));
    free_captured(&c);

    char *delall[] = {"queue", "-c", conf, "delete", "ALL", NULL};
    c = run_cmd(f, cmd_queue, 5, delall);
    assert_int_equal(c.rc, 0);
    assert_string_equal(c.err, "yubin: Deleted: 2 messages\n");
    free_captured(&c);

    c = run_cmd(f, cmd_queue, 4, list);
    assert_string_equal(c.out, "Mail queue is empty\n");
    free_captured(&c);

    char *badverb[] = {"queue", "-c", conf, "explode", NULL};
    c = run_cmd(f, cmd_queue, 4, badverb);
    assert_int_equal(c.rc, 64);
    free_captured(&c);
    char *noid[] = {"queue", "-c", conf, "hold", NULL};
    c = run_cmd(f, cmd_queue, 4, noid);
    assert_int_equal(c.rc, 64);
    free_captured(&c);

    unlink(conf);
    free(conf);
    envelope_free(&e);
}

/* Before any daemon ran, the tools find no queue and create none. */
static void test_cmd_no_queue(void **state)
{
    struct fx *f = *state;
    char missing[128];
    snprintf(missing, sizeof(missing), "%s/none", f->dir);
    struct buf err = BUF_INIT;
    assert_null(queue_open_existing(missing, &err));
    assert_int_equal(errno, ENOENT);
    buf_free(&err);

    char conf[128];
    snprintf(conf, sizeof(conf), "%s.conf", f->dir);
    FILE *fp = fopen(conf, "w");
    fprintf(fp, "queue_directory = %s\n", missing);
    fclose(fp);
    char *list[] = {"queue", "-c", conf, NULL};
    struct captured c = run_cmd(f, cmd_queue, 3, list);
    assert_int_equal(c.rc, 0);
    assert_string_equal(c.out, "Mail queue is empty\n");
    free_captured(&c);
    char *del[] = {"queue", "-c", conf, "delete", "0123456789AB", NULL};
    c = run_cmd(f, cmd_queue, 5, del);
    assert_int_equal(c.rc, 1);
    assert_string_equal(c.err, "yubin: warning: 0123456789AB: no such message\n");
    free_captured(&c);
    assert_int_equal(access(missing, F_OK), -1);
    unlink(conf);
}

/* With a daemon listening, management goes through it. */
static void client_cmds(struct client_job *j)
{
    const struct fx *f = (const struct fx *)j->dir;
    char *conf = write_config(f);
    char *del[] = {"queue", "-c", conf, "delete", "000000000A01", "000000000A09", NULL};
    struct captured c = run_cmd(f, cmd_queue, 6, del);
    j->results[0] = c.rc;
    buf_init(&j->replies[0]);
    buf_puts(&j->replies[0], c.err);
    free_captured(&c);
    char *hold[] = {"queue", "-c", conf, "hold", "ALL", NULL};
    c = run_cmd(f, cmd_queue, 5, hold);
    j->results[1] = c.rc;
    buf_init(&j->replies[1]);
    buf_puts(&j->replies[1], c.err);
    free_captured(&c);
    char *list[] = {"queue", "-c", conf, NULL};
    c = run_cmd(f, cmd_queue, 3, list);
    j->results[2] = c.rc;
    buf_init(&j->replies[2]);
    buf_puts(&j->replies[2], c.out);
    buf_puts(&j->replies[2], c.err);
    free_captured(&c);
    char *flush[] = {"queue", "-c", conf, "flush", NULL};
    c = run_cmd(f, cmd_queue, 4, flush);
    j->results[3] = c.rc;
    free_captured(&c);
    unlink(conf);
    free(conf);
}

static void test_cmd_via_daemon(void **state)
{
    struct fx *f = *state;
    setenv("TZ", "UTC", 1);
    tzset();
    struct envelope e;
    make_env(&e, "sender@example.test", 1795452738, "a@example.com", NULL);
    assert_int_equal(put_message(f->q, "000000000A01", &e, 100), 0);
    assert_int_equal(put_message(f->q, "000000000A03", &e, 100), 0);

    struct event_base *base = event_base_new();
    struct ctl_state s = {0};
    struct control_handlers h = {h_wakeup, h_flush, h_manage, h_active, &s};
    assert_int_equal(control_listen(base, f->dir, -1, &h, NULL), 0);
    struct client_job j = {.fn = client_cmds, .dir = (const char *)f};
    run_with_loop(base, &j);
    control_close();
    event_base_free(base);

    /* The daemon's handler did the work; the files were not touched. */
    assert_int_equal(j.results[0], 1);
    assert_string_equal(buf_str(&j.replies[0]), "yubin: warning: 000000000A09: no such message\n"
                                                "yubin: Deleted: 1 message\n");
    assert_true(exists(f, "messages", "000000000A01"));
    assert_int_equal(j.results[1], 0);
    assert_string_equal(buf_str(&j.replies[1]), "yubin: Placed on hold: 3 messages\n");
    assert_string_equal(s.last_verb, "hold");
    assert_string_equal(s.last_qid, "ALL");
    /* list marks what the daemon says is being delivered. */
    assert_int_equal(j.results[2], 0);
    assert_non_null(strstr(buf_str(&j.replies[2]), "000000000A01*     100 Mon Nov 23 16:52:18  sender@example.test\n"));
    assert_non_null(strstr(buf_str(&j.replies[2]), "000000000A03*     100 "));
    assert_null(strstr(buf_str(&j.replies[2]), "Mail system is down"));
    assert_int_equal(j.results[3], 0);
    assert_int_equal(s.flushes, 1);
    for (int i = 0; i < 3; i++)
        buf_free(&j.replies[i]);
    envelope_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qid),
        cmocka_unit_test(test_envelope_copy),
        cmocka_unit_test_setup_teardown(test_open_creates_tree, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_commit_sync, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_recover, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_commit_event_loop, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_group_commit_shares_dir_fsync, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fsync_failure_removes_and_never_retries, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_write_failure_removes_file, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_has_space, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_hold_release_remove, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_rcpt_done, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_moved_on_open, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_defer_round_trip, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_print_layout, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_control, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cmd_direct, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cmd_no_queue, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cmd_via_daemon, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
