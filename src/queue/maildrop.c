/*
 * maildrop.c - the sendmail command's side of local submission (see
 * maildrop.h): write one queue_file.h-format file into
 * queue_directory/maildrop/ durably, then poke the daemon.
 *
 * Runs as whichever user called sendmail, without privileges. The file is
 * created under a dot-name with O_EXCL (pickup ignores dot-names), fsynced,
 * renamed to its final name and the directory fsynced, so pickup only ever
 * sees complete files and the mail survives a crash once sendmail exits 0.
 * The final name is a queue ID with random digits appended: maildrop/ is
 * not listable by other users (mode 1733), and the random part keeps them
 * from guessing names and reading mail in transit (the file must be
 * readable by the daemon's unprivileged account, hence mode 0644).
 *
 * Trusts: its caller's envelope only after qf_envelope_check(); content is
 * copied as given (the caller canonicalised it; pickup re-checks anyway).
 */
#include "queue/maildrop.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zlib.h>

#include "lib/log.h"
#include "lib/params.h"
#include "lib/util.h"
#include "queue/control.h"
#include "queue/qid.h"
#include "queue/queue_file.h"
#include "receive/smtpd.h"

struct maildrop_writer {
    int fd;
    char *queue_dir;
    char *dir;              /* queue_dir/maildrop */
    char *tmp_path;
    char *final_path;
    struct buf pending;     /* content not yet in a D record */
    uint64_t size;
    uLong crc;
    uint32_t nrec;
    int err;                /* first write error: the writer is poisoned */
};

uint64_t maildrop_size_limit(void)
{
    if (var_message_size_limit <= 0)
        return 0;
    uint64_t limit = (uint64_t)var_message_size_limit;
    return limit > 2 * MAILDROP_HEADER_RESERVE ? limit - MAILDROP_HEADER_RESERVE : limit;
}

/* A directory root creates here must belong to the daemon's account, or
 * pickup (running as mail_owner) could not read it. */
static void maildrop_give_away(const char *path)
{
    if (geteuid() != 0)
        return;
    struct passwd *pw = var_mail_owner ? getpwnam(var_mail_owner) : NULL;
    if (pw && chown(path, pw->pw_uid, pw->pw_gid) != 0)
        msg_warn("cannot give %s to %s: %s", path, var_mail_owner, strerror(errno));
}

/*
 * maildrop/ normally exists (the daemon's queue_open creates it). When
 * sendmail runs before the mail system was ever started, create it as the
 * daemon would: mode 1733, owned by mail_owner.
 */
static int maildrop_dir_ready(const char *queue_dir, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0)
        return S_ISDIR(st.st_mode) ? 0 : (errno = ENOTDIR, -1);
    if (errno != ENOENT)
        return -1;
    if (mkdir(queue_dir, 0755) == 0)
        maildrop_give_away(queue_dir);
    else if (errno != EEXIST)
        return -1;
    if (mkdir(dir, 01733) != 0)
        return errno == EEXIST ? 0 : -1;
    (void)chmod(dir, 01733);   /* umask must not take the sticky/world bits */
    maildrop_give_away(dir);
    return 0;
}

/* A queue ID plus random hex digits up to the 20 qid_valid() allows. */
static void maildrop_name(char out[QID_SIZE])
{
    qid_new(out);
    size_t len = strlen(out);
    unsigned char rnd[8];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        /* No entropy source: the clock-based ID alone is still unique. */
        return;
    }
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; len < 20 && i < sizeof(rnd); i++)
        out[len++] = hex[rnd[i] & 0x0f];
    out[len] = 0;
}

static void maildrop_free(struct maildrop_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    free(w->queue_dir);
    free(w->dir);
    free(w->tmp_path);
    free(w->final_path);
    buf_free(&w->pending);
    free(w);
}

struct maildrop_writer *maildrop_create(const char *queue_dir, struct envelope *env, char *name_out,
                                        size_t name_len)
{
    if (!qf_envelope_check(env, NULL)) {
        errno = EINVAL;
        return NULL;
    }
    struct maildrop_writer *w = xcalloc(1, sizeof(*w));
    w->fd = -1;
    w->queue_dir = xstrdup(queue_dir);
    w->dir = xasprintf("%s/maildrop", queue_dir);
    w->crc = crc32(0L, Z_NULL, 0);
    if (maildrop_dir_ready(queue_dir, w->dir) != 0) {
        int e = errno;
        maildrop_free(w);
        errno = e;
        return NULL;
    }

    char name[QID_SIZE];
    for (int attempt = 0; attempt < 10 && w->fd < 0; attempt++) {
        maildrop_name(name);
        free(w->tmp_path);
        w->tmp_path = xasprintf("%s/.%s", w->dir, name);
        w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (w->fd < 0 && errno != EEXIST)
            break;
    }
    if (w->fd < 0) {
        int e = errno;
        maildrop_free(w);
        errno = e;
        return NULL;
    }
    /* The daemon's account must be able to read it whatever our umask is. */
    (void)fchmod(w->fd, 0644);
    w->final_path = xasprintf("%s/%s", w->dir, name);

    struct buf out = BUF_INIT;
    w->nrec = qf_write_envelope(&out, env);
    if (write_all(w->fd, out.data, out.len) != 0) {
        int e = errno;
        buf_free(&out);
        maildrop_abort(w);
        errno = e;
        return NULL;
    }
    buf_free(&out);
    if (name_out && name_len > 0)
        snprintf(name_out, name_len, "%s", name);
    return w;
}

/* Write n bytes of pending content as one D record. */
static int maildrop_flush(struct maildrop_writer *w, size_t n)
{
    struct buf rec = BUF_INIT;
    qf_record_header(&rec, 'D', (uint32_t)n);
    buf_append(&rec, w->pending.data, n);
    int r = write_all(w->fd, rec.data, rec.len);
    buf_free(&rec);
    if (r != 0) {
        w->err = errno ? errno : EIO;
        return -1;
    }
    w->crc = crc32(w->crc, (const Bytef *)w->pending.data, (uInt)n);
    w->nrec++;
    buf_consume(&w->pending, n);
    return 0;
}

int maildrop_write(struct maildrop_writer *w, const void *data, size_t len)
{
    if (w->err) {
        errno = w->err;
        return -1;
    }
    buf_append(&w->pending, data, len);
    w->size += len;
    while (w->pending.len >= QF_CHUNK_MAX)
        if (maildrop_flush(w, QF_CHUNK_MAX) != 0)
            return -1;
    return 0;
}

int maildrop_commit(struct maildrop_writer *w)
{
    int e = 0;
    if (w->err)
        e = w->err;
    else if (w->pending.len > 0 && maildrop_flush(w, w->pending.len) != 0)
        e = w->err;
    if (!e) {
        struct buf end = BUF_INIT;
        qf_end_record(&end, w->size, (uint32_t)w->crc, w->nrec);
        if (write_all(w->fd, end.data, end.len) != 0 || fsync(w->fd) != 0)
            e = errno ? errno : EIO;
        buf_free(&end);
    }
    if (!e) {
        int fd = w->fd;
        w->fd = -1;
        if (close(fd) != 0)
            e = errno;
    }
    if (e) {
        maildrop_abort(w);
        errno = e;
        return -1;
    }
    if (rename(w->tmp_path, w->final_path) != 0) {
        e = errno;
        maildrop_abort(w);
        errno = e;
        return -1;
    }
    if (fsync_dir(w->dir) != 0) {
        /* Not known to be durable: take it back rather than promise. */
        e = errno;
        (void)unlink(w->final_path);
        maildrop_free(w);
        errno = e;
        return -1;
    }
    /* The daemon may not be running: the file then waits for its start. */
    struct buf reply = BUF_INIT;
    (void)control_request(w->queue_dir, "wakeup", &reply);
    buf_free(&reply);
    maildrop_free(w);
    return 0;
}

void maildrop_abort(struct maildrop_writer *w)
{
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    if (w->tmp_path)
        (void)unlink(w->tmp_path);
    maildrop_free(w);
}

const char *maildrop_temp_path(const struct maildrop_writer *w)
{
    return w->tmp_path;
}

/* ---- the sink for sendmail -bs ---- */

#define MAILDROP_REPLY_WRITE "451 4.3.0 Error: queue file write error"
#define MAILDROP_REPLY_NOSPACE "452 4.3.1 Insufficient system storage"
#define MAILDROP_REPLY_TOOBIG "552 5.3.4 Error: message file too big"

struct maildrop_msg {
    struct maildrop_writer *w;
    char name[QID_SIZE];
    uint64_t size;
    const char *reply;
};

static const char *maildrop_errno_reply(int e)
{
    return e == ENOSPC || e == EDQUOT ? MAILDROP_REPLY_NOSPACE : MAILDROP_REPLY_WRITE;
}

static void *maildrop_sink_open(void *ctx, const char *qid, const struct envelope *env, const char **reply)
{
    (void)qid;
    struct envelope copy;
    envelope_copy(&copy, env);
    copy.uid = (long)getuid();
    envelope_set(&copy.origin, "sendmail");
    struct maildrop_msg *m = xcalloc(1, sizeof(*m));
    m->w = maildrop_create(ctx, &copy, m->name, sizeof(m->name));
    int e = errno;
    envelope_free(&copy);
    if (!m->w) {
        msg_warn("cannot create maildrop file in %s/maildrop: %s", (const char *)ctx, strerror(e));
        *reply = maildrop_errno_reply(e);
        free(m);
        return NULL;
    }
    return m;
}

static void maildrop_sink_fail(struct maildrop_msg *m, const char *reply)
{
    m->reply = reply;
    if (m->w) {
        maildrop_abort(m->w);
        m->w = NULL;
    }
}

static const char *maildrop_sink_line(void *h, const char *line, size_t len)
{
    struct maildrop_msg *m = h;
    if (m->reply)
        return m->reply;
    uint64_t limit = maildrop_size_limit();
    if (limit > 0 && (m->size > limit || len > limit - m->size)) {
        maildrop_sink_fail(m, MAILDROP_REPLY_TOOBIG);
        return m->reply;
    }
    m->size += len;
    if (maildrop_write(m->w, line, len) != 0)
        maildrop_sink_fail(m, maildrop_errno_reply(errno));
    return m->reply;
}

static void maildrop_sink_close(void *h, void (*done)(void *arg, const char *qid, const char *err_reply),
                                void *arg)
{
    struct maildrop_msg *m = h;
    if (!m->reply && maildrop_commit(m->w) != 0)
        m->reply = maildrop_errno_reply(errno);
    m->w = NULL;
    done(arg, m->name, m->reply);
    free(m);
}

static void maildrop_sink_abort(void *h)
{
    struct maildrop_msg *m = h;
    if (m->w)
        maildrop_abort(m->w);
    free(m);
}

/* The same rule as queue_has_space(): room for 1.5 maximal messages or
 * queue_minfree, whichever is more. */
static bool maildrop_sink_has_space(void *ctx)
{
    char *dir = xasprintf("%s/maildrop", (const char *)ctx);
    struct statvfs st;
    int r = statvfs(dir, &st);
    free(dir);
    if (r != 0)
        return true;            /* let the write itself report the problem */
    uint64_t avail = (uint64_t)st.f_bavail * (uint64_t)st.f_frsize;
    uint64_t need = (uint64_t)(var_message_size_limit > 0 ? var_message_size_limit : 0) / 2 * 3;
    if (var_queue_minfree > 0 && (uint64_t)var_queue_minfree > need)
        need = (uint64_t)var_queue_minfree;
    return avail >= need;
}

void maildrop_sink(struct msg_sink *out, const char *queue_dir)
{
    static char *dir;
    free(dir);
    dir = xstrdup(queue_dir);
    memset(out, 0, sizeof(*out));
    out->open = maildrop_sink_open;
    out->line = maildrop_sink_line;
    out->close = maildrop_sink_close;
    out->abort = maildrop_sink_abort;
    out->has_space = maildrop_sink_has_space;
    out->ctx = dir;
}
