/*
 * queue_store.c - writing new messages and committing them durably, in
 * groups (queue.h explains the promise).
 *
 * A writer creates messages/QID with O_EXCL, writes the envelope, then the
 * content in 'D' records of up to 64 KiB, then the 'X' record. Commit hands
 * the open file to a committer thread. Each committer round takes every
 * writer waiting at that moment, fdatasyncs each file, closes it, fsyncs
 * messages/ once, and passes the results to the event loop through a pipe;
 * the callbacks then run on the loop thread. libevent is only ever touched
 * from the loop thread, so no evthread locking is needed.
 *
 * Several committers run at once (default 4) because concurrent fdatasyncs
 * are what the file system merges into one journal commit and one cache
 * flush; a single thread syncing a round's files one after another pays a
 * flush for each. Measured on ext4 on a shared virtual disk, 2000 commits
 * of 5 KB from 20 concurrent writers: while cache flushes were slow (7 ms
 * for a lone commit) 1 committer made about 300 msg/s with one directory
 * fsync per 10 messages, 4 committers 1700-2800 msg/s with one per 2;
 * while flushes were fast (0.7 ms) both made 2400-7000 msg/s.
 *
 * Errors: any write, fdatasync, close or directory fsync failure removes the
 * file and reports errno. An fdatasync is never retried: after a writeback
 * error Linux may have dropped the dirty pages, and a second fsync would
 * "succeed" over lost data (fsyncgate).
 *
 * Trusts: the envelope only after qf_envelope_check().
 */
#include "queue/queue_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <event2/event.h>

#include "lib/log.h"
#include "lib/util.h"
#include "queue/queue_file.h"

int (*queue_fdatasync_fn)(int fd);

struct queue_writer {
    struct queue *q;
    char qid[QID_SIZE];
    char *path;
    int fd;
    struct buf chunk;           /* QF_HDR_LEN reserved bytes, then pending content */
    uint64_t size;
    uLong crc;
    uint32_t nrec;
    int err;                    /* first error (errno value); poisons the writer */
    queue_commit_cb cb;
    void *arg;
    struct queue_writer *next;
};

static void queue_writer_free(struct queue_writer *w)
{
    buf_free(&w->chunk);
    free(w->path);
    free(w);
}

struct queue_writer *queue_writer_create(struct queue *q, const char *qid, struct envelope *env)
{
    if (!qid_valid(qid) || !qf_envelope_check(env, NULL)) {
        errno = EINVAL;
        return NULL;
    }
    struct queue_writer *w = xcalloc(1, sizeof(*w));
    w->q = q;
    snprintf(w->qid, sizeof(w->qid), "%s", qid);
    w->path = queue_path(q->messages, qid);
    w->crc = crc32(0L, Z_NULL, 0);
    w->fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w->fd < 0) {
        int e = errno;
        queue_writer_free(w);
        errno = e;
        return NULL;
    }
    struct buf hdr = BUF_INIT;
    w->nrec = qf_write_envelope(&hdr, env);
    int r = write_all(w->fd, hdr.data, hdr.len);
    int e = errno;
    buf_free(&hdr);
    if (r < 0) {
        close(w->fd);
        unlink(w->path);
        queue_writer_free(w);
        errno = e;
        return NULL;
    }
    buf_append(&w->chunk, "\0\0\0\0\0", QF_HDR_LEN);
    return w;
}

static int queue_writer_fail(struct queue_writer *w, int e)
{
    if (!w->err)
        w->err = e;
    errno = w->err;
    return -1;
}

/* Write the buffered content as one 'D' record, header and data in one write. */
static int queue_writer_flush(struct queue_writer *w)
{
    size_t n = w->chunk.len - QF_HDR_LEN;
    if (n == 0)
        return 0;
    struct buf h = BUF_INIT;
    qf_record_header(&h, 'D', (uint32_t)n);
    memcpy(w->chunk.data, h.data, QF_HDR_LEN);
    buf_free(&h);
    if (write_all(w->fd, w->chunk.data, w->chunk.len) < 0)
        return queue_writer_fail(w, errno);
    w->chunk.len = QF_HDR_LEN;
    w->nrec++;
    return 0;
}

int queue_writer_write(struct queue_writer *w, const void *data, size_t len)
{
    if (w->err)
        return queue_writer_fail(w, w->err);
    if (len > UINT64_MAX - w->size)
        return queue_writer_fail(w, EFBIG);
    const char *p = data;
    while (len > 0) {
        size_t room = QF_CHUNK_MAX - (w->chunk.len - QF_HDR_LEN);
        size_t take = len < room ? len : room;
        buf_append(&w->chunk, p, take);
        w->crc = crc32(w->crc, (const Bytef *)p, (uInt)take);
        w->size += take;
        p += take;
        len -= take;
        if (w->chunk.len - QF_HDR_LEN == QF_CHUNK_MAX && queue_writer_flush(w) < 0)
            return -1;
    }
    return 0;
}

uint64_t queue_writer_size(const struct queue_writer *w)
{
    return w->size;
}

void queue_writer_abort(struct queue_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    unlink(w->path);
    queue_writer_free(w);
}

/* Flush the last chunk and write the end record. */
static int queue_writer_finish(struct queue_writer *w)
{
    if (w->err)
        return -1;
    if (queue_writer_flush(w) < 0)
        return -1;
    struct buf end = BUF_INIT;
    qf_end_record(&end, w->size, (uint32_t)w->crc, w->nrec);
    int r = write_all(w->fd, end.data, end.len);
    int e = errno;
    buf_free(&end);
    if (r < 0)
        return queue_writer_fail(w, e);
    return 0;
}

static int queue_file_sync(int fd)
{
    return queue_fdatasync_fn ? queue_fdatasync_fn(fd) : fdatasync(fd);
}

/*
 * Make a group of finished files durable: each file's data, then the one
 * directory entry fsync that covers them all. Sets w->err on failure and
 * removes those files. Runs on a committer thread or, without an event
 * loop, in the caller.
 */
static void queue_sync_group(struct queue *q, struct queue_writer *list)
{
    unsigned long ok = 0, files = 0, dirs = 0, failed = 0;
    /*
     * Start writeback of every file in the round before waiting on any.
     * With delayed allocation each file's blocks are otherwise allocated
     * only inside its own fdatasync, so every file would need its own
     * journal commit; started together, one commit covers the round and
     * the later fdatasyncs find their metadata already on disk. Only a
     * hint: errors surface in the fdatasync below.
     */
    for (struct queue_writer *w = list; w; w = w->next)
        if (!w->err)
            (void)sync_file_range(w->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    for (struct queue_writer *w = list; w; w = w->next) {
        if (!w->err) {
            files++;
            if (queue_file_sync(w->fd) < 0)
                w->err = errno ? errno : EIO;
        }
        /* close() can report what fsync did not (NFS, FUSE). */
        if (close(w->fd) < 0 && !w->err)
            w->err = errno;
        w->fd = -1;
        if (!w->err)
            ok++;
    }
    if (ok > 0) {
        dirs++;
        if (fsync(q->messages_fd) < 0) {
            int e = errno;
            for (struct queue_writer *w = list; w; w = w->next)
                if (!w->err)
                    w->err = e;
        }
    }
    for (struct queue_writer *w = list; w; w = w->next)
        if (w->err) {
            failed++;
            unlink(w->path);
        }
    pthread_mutex_lock(&q->lock);
    q->stats.file_syncs += files;
    q->stats.dir_syncs += dirs;
    q->stats.failures += failed;
    for (struct queue_writer *w = list; w; w = w->next)
        if (!w->err)
            q->stats.commits++;
    pthread_mutex_unlock(&q->lock);
}

static void queue_run_callbacks(struct queue_writer *list)
{
    while (list) {
        struct queue_writer *next = list->next;
        if (list->cb)
            list->cb(list->arg, list->err, list->qid);
        queue_writer_free(list);
        list = next;
    }
}

/* Committer thread -> event loop. The byte is only a wakeup; the list is
 * the payload, so a full pipe (EAGAIN) loses nothing. */
static void queue_post_done(struct queue *q, struct queue_writer *list)
{
    if (!list)
        return;
    pthread_mutex_lock(&q->lock);
    *q->done_tail = list;
    while (list->next)
        list = list->next;
    q->done_tail = &list->next;
    pthread_mutex_unlock(&q->lock);
    char c = 1;
    ssize_t n;
    do
        n = write(q->pipe_wr, &c, 1);
    while (n < 0 && errno == EINTR);
}

static struct queue_writer *queue_take_done(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    struct queue_writer *list = q->done;
    q->done = NULL;
    q->done_tail = &q->done;
    pthread_mutex_unlock(&q->lock);
    return list;
}

static void queue_done_event(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct queue *q = arg;
    char drain[256];
    while (read(fd, drain, sizeof(drain)) > 0)
        ;
    queue_run_callbacks(queue_take_done(q));
}

static void *queue_committer(void *arg)
{
    struct queue *q = arg;
    for (;;) {
        pthread_mutex_lock(&q->lock);
        while (!q->pending && !q->stopping)
            pthread_cond_wait(&q->cond, &q->lock);
        struct queue_writer *batch = q->pending;
        q->pending = NULL;
        q->pending_tail = &q->pending;
        bool stop = q->stopping && !batch;
        pthread_mutex_unlock(&q->lock);
        if (stop)
            break;
        queue_sync_group(q, batch);
        queue_post_done(q, batch);
    }
    return NULL;
}

/* Called with q->lock held. Signals stay with the loop thread. */
static void queue_start_committers(struct queue *q)
{
    if (q->nthreads >= q->want_threads)
        return;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    q->threads = xrealloc(q->threads, (size_t)q->want_threads * sizeof(*q->threads));
    while (q->nthreads < q->want_threads) {
        int e = pthread_create(&q->threads[q->nthreads], NULL, queue_committer, q);
        if (e != 0) {
            msg_warn("cannot start queue committer thread: %s", strerror(e));
            break;
        }
        q->nthreads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void queue_set_committers(struct queue *q, int n)
{
    pthread_mutex_lock(&q->lock);
    /* Before any thread runs, the default can still be lowered. */
    if (q->nthreads == 0)
        q->want_threads = 1;
    if (n < 1)
        n = 1;
    if (n > 64)
        n = 64;
    if (n > q->want_threads)
        q->want_threads = n;
    if (q->nthreads > 0)
        queue_start_committers(q);
    pthread_mutex_unlock(&q->lock);
}

void queue_set_event_base(struct queue *q, struct event_base *base)
{
    if (q->base == base)
        return;
    if (q->done_ev) {
        event_free(q->done_ev);
        q->done_ev = NULL;
    }
    q->base = base;
    if (!base)
        return;
    if (q->pipe_rd < 0) {
        int p[2];
        if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
            msg_fatal("queue: pipe: %s", strerror(errno));
        q->pipe_rd = p[0];
        q->pipe_wr = p[1];
    }
    q->done_ev = event_new(base, q->pipe_rd, EV_READ | EV_PERSIST, queue_done_event, q);
    if (!q->done_ev || event_add(q->done_ev, NULL) < 0)
        msg_fatal("queue: cannot register commit event");
}

void queue_writer_commit(struct queue_writer *w, queue_commit_cb cb, void *arg)
{
    struct queue *q = w->q;
    w->cb = cb;
    w->arg = arg;
    w->next = NULL;
    (void)queue_writer_finish(w);

    if (!q->base) {
        queue_sync_group(q, w);
        queue_run_callbacks(w);
        return;
    }
    if (w->err) {
        /* Nothing to sync; report through the loop like every other result,
         * so the caller never sees its callback inside its own call. */
        close(w->fd);
        w->fd = -1;
        unlink(w->path);
        pthread_mutex_lock(&q->lock);
        q->stats.failures++;
        pthread_mutex_unlock(&q->lock);
        queue_post_done(q, w);
        return;
    }
    pthread_mutex_lock(&q->lock);
    queue_start_committers(q);
    bool threads = q->nthreads > 0;
    if (threads) {
        *q->pending_tail = w;
        q->pending_tail = &w->next;
        pthread_cond_signal(&q->cond);
    }
    pthread_mutex_unlock(&q->lock);
    if (!threads) {
        /* No thread could be started: commit here, report through the loop. */
        queue_sync_group(q, w);
        queue_post_done(q, w);
    }
}

void queue_store_shutdown(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->stopping = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    for (int i = 0; i < q->nthreads; i++)
        pthread_join(q->threads[i], NULL);
    free(q->threads);
    q->threads = NULL;
    q->nthreads = 0;
    /* Committers drain the pending list before they stop; what is left are
     * results the loop has not seen yet. */
    queue_run_callbacks(queue_take_done(q));
    if (q->done_ev)
        event_free(q->done_ev);
    q->done_ev = NULL;
    if (q->pipe_rd >= 0)
        close(q->pipe_rd);
    if (q->pipe_wr >= 0)
        close(q->pipe_wr);
    q->pipe_rd = q->pipe_wr = -1;
}
