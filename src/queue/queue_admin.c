/*
 * queue_admin.c - everything done to a message after it was committed:
 * opening it for delivery, marking recipients done, the defer state,
 * hold/release, removal and listing (queue.h).
 *
 * State changes are single renames or single-byte writes, so each is
 * atomic and can be repeated after a crash. Corrupt files are moved to
 * corrupt/ and reported, never deleted and never half-delivered.
 *
 * Trusts: queue files only after qf_read(); defer files are parsed as
 * untrusted text with fixed limits (they are ours, but a damaged one must
 * not stop delivery).
 */
#include "queue/queue_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "queue/queue_file.h"

#define QUEUE_DEFER_FILE_MAX (16 << 20)
#define QUEUE_DEFER_REASON_MAX 65536
#define QUEUE_DEFER_MAGIC "yubin-defer 1"

/* ---- Moving files ---- */

static int queue_rename_noreplace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    /* File system without RENAME_NOREPLACE: check, then rename. Only the
     * daemon or an administrator moves queue files, so the window is ours. */
    if (access(to, F_OK) == 0) {
        errno = EEXIST;
        return -1;
    }
    return rename(from, to);
}

int queue_move(const char *from_dir, const char *to_dir, const char *name)
{
    char *from = queue_path(from_dir, name);
    char *to = queue_path(to_dir, name);
    int r = queue_rename_noreplace(from, to);
    int e = errno;
    free(from);
    free(to);
    if (r < 0) {
        errno = e;
        return -1;
    }
    /* The new name first: a crash in between leaves the file reachable. */
    if (fsync_dir(to_dir) < 0 || fsync_dir(from_dir) < 0)
        return -1;
    return 0;
}

/* Move a bad file to corrupt/, under NAME or NAME.N when NAME is taken. */
int queue_quarantine(struct queue *q, const char *from_dir, const char *name)
{
    char *from = queue_path(from_dir, name);
    int r = -1;
    for (int i = 0; i < 100 && r < 0; i++) {
        char *to = i == 0 ? queue_path(q->corrupt, name) : xasprintf("%s/%s.%d", q->corrupt, name, i);
        r = queue_rename_noreplace(from, to);
        free(to);
        if (r < 0 && errno != EEXIST)
            break;
    }
    int e = errno;
    free(from);
    if (r == 0) {
        (void)fsync_dir(q->corrupt);
        (void)fsync_dir(from_dir);
        return 0;
    }
    errno = e;
    return -1;
}

/* ---- Messages ---- */

static const char *queue_where_dir(struct queue *q, enum queue_where where)
{
    return where == QUEUE_HOLD ? q->hold : q->messages;
}

int queue_locate(struct queue *q, const char *qid, enum queue_where *where)
{
    if (!qid_valid(qid)) {
        errno = ENOENT;
        return -1;
    }
    const enum queue_where order[] = {QUEUE_MESSAGES, QUEUE_HOLD};
    for (size_t i = 0; i < ARRAY_LEN(order); i++) {
        char *path = queue_path(queue_where_dir(q, order[i]), qid);
        struct stat st;
        int r = lstat(path, &st);
        free(path);
        if (r == 0 && S_ISREG(st.st_mode)) {
            if (where)
                *where = order[i];
            return 0;
        }
    }
    errno = ENOENT;
    return -1;
}

int queue_msg_open(struct queue *q, const char *qid, struct queue_msg *m, struct buf *err)
{
    struct buf dummy = BUF_INIT;
    if (!err)
        err = &dummy;
    memset(m, 0, sizeof(*m));
    envelope_init(&m->env);
    m->fd = -1;
    buf_reset(err);
    if (!qid_valid(qid)) {
        buf_puts(err, "invalid queue ID");
        buf_free(&dummy);
        errno = ENOENT;
        return -1;
    }
    snprintf(m->qid, sizeof(m->qid), "%s", qid);

    int fd = -1;
    const enum queue_where order[] = {QUEUE_MESSAGES, QUEUE_HOLD};
    for (size_t i = 0; i < ARRAY_LEN(order) && fd < 0; i++) {
        char *path = queue_path(queue_where_dir(q, order[i]), qid);
        fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        int e = errno;
        free(path);
        if (fd >= 0)
            m->where = order[i];
        else if (e != ENOENT) {
            buf_printf(err, "open: %s", strerror(e));
            buf_free(&dummy);
            errno = e;
            return -1;
        }
    }
    if (fd < 0) {
        buf_puts(err, "no such message");
        buf_free(&dummy);
        errno = ENOENT;
        return -1;
    }

    bool incomplete;
    if (qf_read(fd, &m->env, &m->content_off, &m->size, &incomplete, err) < 0) {
        close(fd);
        if (incomplete) {
            /* Still being written (or left by a crash; recovery handles those). */
            buf_free(&dummy);
            errno = EAGAIN;
            return -1;
        }
        if (queue_quarantine(q, queue_where_dir(q, m->where), qid) == 0)
            msg_warn("%s: corrupt queue file moved to corrupt/: %s", qid, buf_str(err));
        else
            msg_warn("%s: corrupt queue file (%s) could not be moved: %s", qid, buf_str(err), strerror(errno));
        buf_free(&dummy);
        errno = EBADMSG;
        return -1;
    }
    m->fd = fd;
    buf_free(&dummy);
    return 0;
}

void queue_msg_close(struct queue_msg *m)
{
    if (m->fd >= 0)
        close(m->fd);
    m->fd = -1;
    envelope_free(&m->env);
}

int queue_msg_rcpt_done(struct queue_msg *m, size_t i)
{
    if (m->fd < 0 || i >= m->env.nrcpt || m->env.rcpt[i].status_off < QF_MAGIC_LEN) {
        errno = EINVAL;
        return -1;
    }
    char c = RCPT_DONE;
    ssize_t n;
    do
        n = pwrite(m->fd, &c, 1, (off_t)m->env.rcpt[i].status_off);
    while (n < 0 && errno == EINTR);
    if (n != 1) {
        if (n == 0)
            errno = EIO;
        return -1;
    }
    m->env.rcpt[i].status = RCPT_DONE;
    return 0;
}

int queue_msg_sync(struct queue_msg *m)
{
    return fdatasync(m->fd);
}

int queue_remove(struct queue *q, const char *qid)
{
    if (!qid_valid(qid)) {
        errno = ENOENT;
        return -1;
    }
    bool removed = false;
    const char *dirs[] = {q->messages, q->hold};
    for (size_t i = 0; i < ARRAY_LEN(dirs); i++) {
        char *path = queue_path(dirs[i], qid);
        if (unlink(path) == 0)
            removed = true;
        else if (errno != ENOENT)
            msg_warn("%s: unlink: %s", path, strerror(errno));
        free(path);
    }
    char *defer = queue_path(q->defer, qid);
    if (unlink(defer) < 0 && errno != ENOENT)
        msg_warn("%s: unlink: %s", defer, strerror(errno));
    free(defer);
    if (!removed) {
        errno = ENOENT;
        return -1;
    }
    return 0;
}

int queue_hold(struct queue *q, const char *qid)
{
    if (!qid_valid(qid)) {
        errno = ENOENT;
        return -1;
    }
    return queue_move(q->messages, q->hold, qid);
}

int queue_release(struct queue *q, const char *qid)
{
    if (!qid_valid(qid)) {
        errno = ENOENT;
        return -1;
    }
    return queue_move(q->hold, q->messages, qid);
}

static int queue_cmp_ids(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int queue_list_ids(struct queue *q, enum queue_where where, char ***ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    DIR *d = opendir(queue_where_dir(q, where));
    if (!d)
        return -1;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!qid_valid(de->d_name))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            *ids = xrealloc(*ids, cap * sizeof(**ids));
        }
        (*ids)[(*n)++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (*n > 1)
        qsort(*ids, *n, sizeof(**ids), queue_cmp_ids);
    return 0;
}

void queue_free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

/* ---- Defer state ----
 *
 * defer/QID is text with length-prefixed reasons, so a reason can hold any
 * byte except NUL without escaping:
 *
 *   yubin-defer 1
 *   next_attempt 1795452738.000000
 *   attempts 2
 *   warned 0
 *   reason 0 56
 *   connect to 127.0.0.1[127.0.0.1]:2699: Connection refused
 *
 * ("reason IDX LEN", newline, LEN bytes, newline; IDX = recipient index.)
 */

void queue_defer_free(struct queue_defer *d)
{
    for (size_t i = 0; i < d->nreason; i++)
        free(d->reason[i]);
    free(d->reason);
    memset(d, 0, sizeof(*d));
}

/* The next "key rest" line of text[*pos..len); false at the end or when
 * the line is too long or unterminated. */
static bool queue_defer_line(const char *text, size_t len, size_t *pos, char *line, size_t linecap)
{
    if (*pos >= len)
        return false;
    const char *nl = memchr(text + *pos, '\n', len - *pos);
    if (!nl)
        return false;
    size_t n = (size_t)(nl - (text + *pos));
    if (n >= linecap)
        return false;
    memcpy(line, text + *pos, n);
    line[n] = 0;
    if (strlen(line) != n)
        return false;
    *pos += n + 1;
    return true;
}

static int queue_defer_parse(const char *text, size_t len, struct queue_defer *d)
{
    char line[128];
    size_t pos = 0;
    if (!queue_defer_line(text, len, &pos, line, sizeof(line)) || strcmp(line, QUEUE_DEFER_MAGIC) != 0)
        return -1;
    while (pos < len) {
        if (!queue_defer_line(text, len, &pos, line, sizeof(line)))
            return -1;
        char *sp = strchr(line, ' ');
        if (!sp)
            return -1;
        *sp++ = 0;
        long v;
        if (strcmp(line, "next_attempt") == 0) {
            if (!qf_parse_time(sp, &d->next_attempt))
                return -1;
        } else if (strcmp(line, "attempts") == 0) {
            if (!parse_long(sp, 0, 1000000000L, &v))
                return -1;
            d->attempts = (int)v;
        } else if (strcmp(line, "warned") == 0) {
            if (!parse_long(sp, 0, 1, &v))
                return -1;
            d->warned = v == 1;
        } else if (strcmp(line, "reason") == 0) {
            char *sp2 = strchr(sp, ' ');
            long idx, rlen;
            if (!sp2)
                return -1;
            *sp2++ = 0;
            if (!parse_long(sp, 0, QF_RCPT_MAX - 1, &idx) || !parse_long(sp2, 0, QUEUE_DEFER_REASON_MAX, &rlen))
                return -1;
            if ((size_t)rlen > len - pos || len - pos - (size_t)rlen < 1 || text[pos + (size_t)rlen] != '\n' ||
                memchr(text + pos, 0, (size_t)rlen))
                return -1;
            if ((size_t)idx >= d->nreason) {
                d->reason = xrealloc(d->reason, ((size_t)idx + 1) * sizeof(*d->reason));
                memset(d->reason + d->nreason, 0, ((size_t)idx + 1 - d->nreason) * sizeof(*d->reason));
                d->nreason = (size_t)idx + 1;
            }
            free(d->reason[idx]);
            d->reason[idx] = xstrndup(text + pos, (size_t)rlen);
            pos += (size_t)rlen + 1;
        } else {
            return -1;
        }
    }
    return 0;
}

int queue_defer_read(struct queue *q, const char *qid, struct queue_defer *d)
{
    memset(d, 0, sizeof(*d));
    if (!qid_valid(qid)) {
        errno = EINVAL;
        return -1;
    }
    char *path = queue_path(q->defer, qid);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    free(path);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > QUEUE_DEFER_FILE_MAX) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    size_t size = (size_t)st.st_size;
    char *text = xmalloc(size + 1);
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, text + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    int r = got == size ? queue_defer_parse(text, size, d) : -1;
    free(text);
    if (r < 0) {
        queue_defer_free(d);
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int queue_defer_write(struct queue *q, const char *qid, const struct queue_defer *d)
{
    if (!qid_valid(qid)) {
        errno = EINVAL;
        return -1;
    }
    struct buf b = BUF_INIT;
    char t[QF_TIME_SIZE];
    qf_format_time(t, d->next_attempt);
    buf_printf(&b, "%s\nnext_attempt %s\nattempts %d\nwarned %d\n", QUEUE_DEFER_MAGIC, t,
               d->attempts < 0 ? 0 : d->attempts, d->warned ? 1 : 0);
    for (size_t i = 0; i < d->nreason && i < QF_RCPT_MAX; i++) {
        if (!d->reason[i])
            continue;
        size_t n = strlen(d->reason[i]);
        if (n > QUEUE_DEFER_REASON_MAX)
            n = QUEUE_DEFER_REASON_MAX;
        buf_printf(&b, "reason %zu %zu\n", i, n);
        buf_append(&b, d->reason[i], n);
        buf_putc(&b, '\n');
    }

    /* Unique within the process and across processes. */
    static unsigned long seq;
    char *tmp = xasprintf("%s/%s.defer.%ld.%lu", q->tmp, qid, (long)getpid(),
                          __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
    char *dst = queue_path(q->defer, qid);
    int r = -1, e = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        e = errno;
    } else {
        r = write_all(fd, b.data, b.len);
        e = errno;
        if (close(fd) < 0 && r == 0) {
            r = -1;
            e = errno;
        }
        if (r == 0 && rename(tmp, dst) < 0) {
            r = -1;
            e = errno;
        }
        if (r < 0)
            unlink(tmp);
    }
    free(tmp);
    free(dst);
    buf_free(&b);
    if (r < 0)
        errno = e;
    return r;
}
