/*
 * queue.c - open, recover and close the queue directory tree (queue.h).
 *
 * Recovery runs in the daemon at start, before any writer exists: a file in
 * messages/ without an end record was being written when the last daemon
 * died, so its client never got a 250 and the file can go. A file that ends
 * like a finished one but does not parse is moved to corrupt/, never
 * deleted. tmp/ only ever holds half-written defer state, so it is emptied.
 *
 * Trusts: the queue directory belongs to us; file contents are validated
 * by queue_file.c before they are believed.
 */
#include "queue/queue_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/params.h"
#include "lib/util.h"
#include "queue/queue_file.h"

char *queue_path(const char *dir, const char *name)
{
    return xasprintf("%s/%s", dir, name);
}

/* mkdir that tolerates an existing directory; the mode is set explicitly
 * because the umask must not weaken 01733 on maildrop/. */
static int queue_mkdir(const char *path, mode_t mode, bool *created, struct buf *err)
{
    if (mkdir(path, 0700) == 0) {
        *created = true;
        if (chmod(path, mode) < 0) {
            buf_printf(err, "chmod %s: %s", path, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (errno != EEXIST) {
        buf_printf(err, "mkdir %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        buf_printf(err, "%s exists and is not a directory", path);
        return -1;
    }
    return 0;
}

static void queue_recover_messages(struct queue *q)
{
    DIR *d = opendir(q->messages);
    if (!d) {
        msg_warn("cannot scan %s: %s", q->messages, strerror(errno));
        return;
    }
    struct buf err = BUF_INIT;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (!qid_valid(de->d_name)) {
            msg_warn("%s/%s: unexpected file name in queue; left alone", q->messages, de->d_name);
            continue;
        }
        char *path = queue_path(q->messages, de->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0) {
            msg_warn("%s: open: %s", path, strerror(errno));
            free(path);
            continue;
        }
        struct envelope env;
        bool incomplete;
        int r = qf_read_envelope(fd, &env, NULL, &incomplete, &err);
        close(fd);
        if (r < 0 && incomplete) {
            msg_warn("%s: removing unfinished queue file", de->d_name);
            if (unlink(path) < 0)
                msg_warn("%s: unlink: %s", path, strerror(errno));
        } else if (r < 0) {
            if (queue_quarantine(q, q->messages, de->d_name) == 0)
                msg_warn("%s: corrupt queue file moved to corrupt/: %s", de->d_name, buf_str(&err));
            else
                msg_warn("%s: corrupt queue file (%s) could not be moved: %s", de->d_name, buf_str(&err),
                         strerror(errno));
        }
        envelope_free(&env);
        free(path);
    }
    closedir(d);
    buf_free(&err);
}

static void queue_purge_tmp(struct queue *q)
{
    DIR *d = opendir(q->tmp);
    if (!d) {
        msg_warn("cannot scan %s: %s", q->tmp, strerror(errno));
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *path = queue_path(q->tmp, de->d_name);
        if (unlink(path) == 0)
            msg_warn("removing stale temporary file %s", path);
        else
            msg_warn("%s: unlink: %s", path, strerror(errno));
        free(path);
    }
    closedir(d);
}

static struct queue *queue_open_tree(const char *dir, bool recover, bool create, struct buf *err)
{
    struct buf dummy = BUF_INIT;
    if (!err)
        err = &dummy;
    struct queue *q = xcalloc(1, sizeof(*q));
    q->dir = xstrdup(dir);
    q->messages = queue_path(dir, "messages");
    q->hold = queue_path(dir, "hold");
    q->defer = queue_path(dir, "defer");
    q->corrupt = queue_path(dir, "corrupt");
    q->maildrop = queue_path(dir, "maildrop");
    q->tmp = queue_path(dir, "tmp");
    q->messages_fd = q->pipe_rd = q->pipe_wr = -1;
    q->want_threads = QUEUE_DEFAULT_COMMITTERS;
    q->pending_tail = &q->pending;
    q->done_tail = &q->done;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);

    /* The top directory must be searchable by everyone so that the sendmail
     * command reaches maildrop/ and the control socket. */
    const struct {
        const char *path;
        mode_t mode;
    } dirs[] = {
        {q->dir, 0755},      {q->messages, 0700}, {q->hold, 0700}, {q->defer, 0700},
        {q->corrupt, 0700},  {q->maildrop, 01733}, {q->tmp, 0700},
    };
    bool created = false;
    for (size_t i = 0; create && i < ARRAY_LEN(dirs); i++)
        if (queue_mkdir(dirs[i].path, dirs[i].mode, &created, err) < 0)
            goto fail;
    /* New subdirectories must survive a crash like the files in them. */
    if (created && fsync_dir(q->dir) < 0) {
        buf_printf(err, "fsync %s: %s", q->dir, strerror(errno));
        goto fail;
    }

    q->messages_fd = open(q->messages, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (q->messages_fd < 0) {
        int e = errno;
        buf_printf(err, "open %s: %s", q->messages, strerror(e));
        buf_free(&dummy);
        queue_close(q);
        errno = e;
        return NULL;
    }
    if (recover) {
        queue_recover_messages(q);
        queue_purge_tmp(q);
    }
    buf_free(&dummy);
    return q;
fail:
    buf_free(&dummy);
    queue_close(q);
    return NULL;
}

struct queue *queue_open(const char *dir, bool recover, struct buf *err)
{
    return queue_open_tree(dir, recover, true, err);
}

struct queue *queue_open_existing(const char *dir, struct buf *err)
{
    return queue_open_tree(dir, false, false, err);
}

void queue_close(struct queue *q)
{
    if (!q)
        return;
    queue_store_shutdown(q);
    if (q->messages_fd >= 0)
        close(q->messages_fd);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
    free(q->dir);
    free(q->messages);
    free(q->hold);
    free(q->defer);
    free(q->corrupt);
    free(q->maildrop);
    free(q->tmp);
    free(q);
}

const char *queue_dir(const struct queue *q)
{
    return q->dir;
}

bool queue_has_space(struct queue *q)
{
    struct statvfs vfs;
    if (statvfs(q->dir, &vfs) < 0) {
        msg_warn("statvfs %s: %s", q->dir, strerror(errno));
        return false;
    }
    /* In long double: f_bavail * f_frsize may not fit 64 bits on huge file
     * systems, and 1.5 * a large limit must not wrap. */
    long double avail = (long double)vfs.f_bavail * (long double)vfs.f_frsize;
    long double need = 1.5L * (long double)(var_message_size_limit > 0 ? var_message_size_limit : 0);
    if ((long double)var_queue_minfree > need)
        need = (long double)var_queue_minfree;
    return avail >= need;
}

void queue_get_stats(struct queue *q, struct queue_stats *out)
{
    pthread_mutex_lock(&q->lock);
    *out = q->stats;
    pthread_mutex_unlock(&q->lock);
}
