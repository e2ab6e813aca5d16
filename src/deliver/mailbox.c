/*
 * mailbox.c - one message into a Maildir, an mbox file or a "/file" target
 * (contract and formats in mailbox.h; conventions.md 7).
 *
 * Runs in a delivery child that already has the recipient's uid/gid, so the
 * kernel's permission checks are the first line of defence. What this file
 * adds is the refusal of tricks a user can play in a directory the mail
 * system also writes to: a mailbox that is a symbolic link, a hard link to
 * someone else's file, a FIFO or device, or a file swapped between the check
 * and the open. Every path is opened with O_NOFOLLOW and the opened file is
 * compared (dev/ino) with the one that was checked.
 *
 * Trusts: the path it is given (the caller derived it from the passwd entry
 * or the admin's tables) and the queue file (validated when it was opened).
 * The content is copied, never interpreted, apart from ">From " quoting.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <unistd.h>

#include "deliver/mailbox.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/params.h"
#include "lib/util.h"
#include "queue/queue_file.h"

#define MAILBOX_STALE_LOCK 500          /* seconds: Postfix's stale_lock_time */
#define MAILBOX_FLUSH (64 * 1024)       /* write out the copy buffer at this size */
#define MAILBOX_NAME_TRIES 10           /* attempts at a free Maildir file name */

static long mailbox_lock_wait_ms = 5000;

void mailbox_set_lock_wait_ms(long ms)
{
    mailbox_lock_wait_ms = ms < 0 ? 0 : ms;
}

const char *mailbox_errno_dsn(int err)
{
    switch (err) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case ESTALE:
        return "4.2.0";
    case ENOSPC:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
        return "4.3.0";
    case EDQUOT:
    case EFBIG:
        return "5.2.2";
    default:
        return "5.2.0";
    }
}

static void mailbox_set(struct mbox_result *out, const char *dsn, const char *fmt, ...) PRINTF_LIKE(3, 4);

static void mailbox_set(struct mbox_result *out, const char *dsn, const char *fmt, ...)
{
    out->status = dsn[0] == '2' ? DLV_SENT : dsn[0] == '4' ? DLV_DEFER : DLV_BOUNCE;
    snprintf(out->dsn, sizeof(out->dsn), "%s", dsn);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->text, sizeof(out->text), fmt, ap);
    va_end(ap);
}

/* ---- the copy: From_ line, headers, CRLF -> LF, quoting ---- */

void mailbox_from_line(struct buf *out, const char *sender, time_t now)
{
    /* asctime's layout, spelled out so that no locale can change a name */
    static const char day[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    if (!localtime_r(&now, &tm))
        memset(&tm, 0, sizeof(tm));
    buf_puts(out, "From ");
    if (!sender || !*sender)
        buf_puts(out, "MAILER-DAEMON");
    else
        for (const char *s = sender; *s; s++)
            buf_putc(out, (unsigned char)*s <= ' ' || *s == 0x7f ? '_' : *s);
    buf_printf(out, "  %.3s %.3s%3d %.2d:%.2d:%.2d %d", day[(unsigned)tm.tm_wday % 7],
               mon[(unsigned)tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
               tm.tm_year + 1900);
}

static void mailbox_header(struct buf *out, const char *name, const char *value, bool angle)
{
    buf_puts(out, name);
    buf_puts(out, angle ? ": <" : ": ");
    for (const char *s = value; *s; s++)
        buf_putc(out, (unsigned char)*s < ' ' || *s == 0x7f ? '_' : *s);
    buf_puts(out, angle ? ">\n" : "\n");
}

struct mailbox_copier {
    int (*fn)(void *arg, const char *p, size_t n);
    void *arg;
    unsigned flags;
    struct buf b;
    int result;             /* the writer's non-zero answer, once given */
    int saved_errno;
    bool cr;                /* a CR waits to see whether LF follows */
    bool bol;               /* at the beginning of an output line */
    size_t nhead;           /* bytes of "From " matched at the line start */
    char last;              /* last byte produced (for the final LF) */
    bool any;
};

static int mailbox_flush(struct mailbox_copier *c)
{
    if (c->result || c->b.len == 0)
        return c->result;
    int r = c->fn(c->arg, c->b.data, c->b.len);
    c->saved_errno = errno;
    buf_reset(&c->b);
    if (r != 0)
        c->result = r < 0 ? MAILBOX_COPY_WRITE_ERROR : MAILBOX_COPY_STOPPED;
    return c->result;
}

/* One byte of the LF text: the quoting stage. A line start that could still
 * become "From " is held back (nhead bytes, always a prefix of "From ") until
 * it is decided. */
static void mailbox_emit(struct mailbox_copier *c, char ch)
{
    static const char from[] = "From ";
    c->any = true;
    c->last = ch;
    if ((c->flags & MAILBOX_COPY_QUOTE) && c->bol) {
        if (ch == from[c->nhead]) {
            if (++c->nhead == 5) {
                buf_append(&c->b, ">From ", 6);
                c->nhead = 0;
                c->bol = false;
            }
            return;
        }
        buf_append(&c->b, from, c->nhead);
        c->nhead = 0;
    }
    buf_putc(&c->b, ch);
    c->bol = ch == '\n';
}

/* The CRLF -> LF stage. A CR not followed by LF is kept as it is. */
static int mailbox_chunk(void *arg, const char *p, size_t n)
{
    struct mailbox_copier *c = arg;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (c->cr) {
            c->cr = false;
            if (ch == '\n') {
                mailbox_emit(c, '\n');
                continue;
            }
            mailbox_emit(c, '\r');
        }
        if (ch == '\r')
            c->cr = true;
        else
            mailbox_emit(c, ch);
    }
    if (c->b.len >= MAILBOX_FLUSH && mailbox_flush(c) != 0)
        return 1;
    return 0;
}

int mailbox_copy(const struct dlv_msg *m, const struct mbox_headers *h, unsigned flags, const char *from_sender,
                 int (*write_fn)(void *arg, const char *p, size_t n), void *arg)
{
    struct mailbox_copier c = {.fn = write_fn, .arg = arg, .flags = flags, .bol = true};
    buf_init(&c.b);
    if (flags & MAILBOX_COPY_FROM) {
        mailbox_from_line(&c.b, from_sender, time(NULL));
        buf_putc(&c.b, '\n');
    }
    if (h && h->sender)
        mailbox_header(&c.b, "Return-Path", h->sender, true);
    if (h && h->original_to)
        mailbox_header(&c.b, "X-Original-To", h->original_to, false);
    if (h && h->delivered_to)
        mailbox_header(&c.b, "Delivered-To", h->delivered_to, false);

    /* The queue-file reader, not dlv_read_content(): the same call, without
     * linking the dispatcher into every user of this file. */
    int r = qf_read_content(m->fd, m->content_off, mailbox_chunk, &c);
    int ret;
    if (c.result) {
        ret = c.result;
    } else if (r != 0) {
        ret = MAILBOX_COPY_READ_ERROR;
        c.saved_errno = errno ? errno : EIO;
    } else {
        if (c.cr)
            mailbox_emit(&c, '\r');
        if (c.nhead) {
            buf_append(&c.b, "From ", c.nhead);
            c.nhead = 0;
        }
        if (c.any && c.last != '\n')
            buf_putc(&c.b, '\n');
        if (flags & MAILBOX_COPY_BLANK)
            buf_putc(&c.b, '\n');
        ret = mailbox_flush(&c);
    }
    buf_free(&c.b);
    errno = c.saved_errno;
    return ret;
}

/* ---- writing to a file descriptor, within mailbox_size_limit ---- */

struct mailbox_sink {
    int fd;
    uint64_t size;          /* file size before this delivery plus what was written */
    uint64_t limit;         /* 0 = none */
    bool over_limit;        /* the limit, not the kernel, refused a write */
};

static int mailbox_sink_write(void *arg, const char *p, size_t n)
{
    struct mailbox_sink *s = arg;
    if (s->limit && (s->size > s->limit || n > s->limit - s->size)) {
        s->over_limit = true;
        errno = EFBIG;
        return -1;
    }
    if (write_all(s->fd, p, n) < 0)
        return -1;
    s->size += n;
    return 0;
}

/* A write past RLIMIT_FSIZE must fail with EFBIG, not kill the process. */
struct mailbox_sigxfsz {
    struct sigaction old;
};

static void mailbox_ignore_sigxfsz(struct mailbox_sigxfsz *s)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGXFSZ, &sa, &s->old);
}

static void mailbox_restore_sigxfsz(struct mailbox_sigxfsz *s)
{
    sigaction(SIGXFSZ, &s->old, NULL);
}

static uint64_t mailbox_limit(void)
{
    return var_mailbox_size_limit > 0 ? (uint64_t)var_mailbox_size_limit : 0;
}

/* ---- Maildir ---- */

/* gethostname() with '/' and ':' escaped, as the Maildir convention asks. */
static const char *mailbox_maildir_host(void)
{
    static char host[4 * 256 + 1];
    if (!host[0]) {
        size_t o = 0;
        for (const char *s = host_name(); *s && o + 5 < sizeof(host); s++) {
            if (*s == '/' || *s == ':') {
                memcpy(host + o, *s == '/' ? "\\057" : "\\072", 4);
                o += 4;
            } else {
                host[o++] = *s;
            }
        }
        host[o] = 0;
    }
    return host;
}

static bool mailbox_owner_ok(const struct stat *st, long owner_uid)
{
    return owner_uid < 0 || (uintmax_t)st->st_uid == (uintmax_t)owner_uid;
}

/* Open the maildir itself, creating it when its parent exists and belongs to
 * us (mail_spool_directory/USER/ style and a first delivery to ~/Maildir). */
static int mailbox_maildir_open(const char *path, long owner_uid, struct mbox_result *out)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        char *parent = xstrdup(path);
        char *slash = strrchr(parent, '/');
        if (slash == parent)
            slash[1] = 0;
        else if (slash)
            *slash = 0;
        else
            strcpy(parent, ".");
        struct stat pst;
        bool ours = lstat(parent, &pst) == 0 && S_ISDIR(pst.st_mode) && pst.st_uid == geteuid();
        free(parent);
        if (!ours) {
            mailbox_set(out, "5.2.0", "maildir delivery failed: maildir %s does not exist", path);
            return -1;
        }
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
            int e = errno;
            mailbox_set(out, mailbox_errno_dsn(e), "maildir delivery failed: create maildir %s: %s",
                        path, strerror(e));
            return -1;
        }
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
        int e = errno;
        struct stat lst;
        if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
            mailbox_set(out, "5.2.0", "maildir delivery failed: maildir %s is a symbolic link", path);
        else
            mailbox_set(out, mailbox_errno_dsn(e), "maildir delivery failed: open maildir %s: %s",
                        path, strerror(e));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        mailbox_set(out, mailbox_errno_dsn(e), "maildir delivery failed: stat maildir %s: %s", path, strerror(e));
        close(fd);
        return -1;
    }
    if (!mailbox_owner_ok(&st, owner_uid)) {
        mailbox_set(out, "5.2.0", "maildir delivery failed: maildir %s is not owned by uid %ld",
                    path, owner_uid);
        close(fd);
        return -1;
    }
    return fd;
}

/* tmp/, new/ and cur/ below dirfd: opened, or created 0700 when missing. */
static int mailbox_maildir_sub(int dirfd, const char *path, const char *name, long owner_uid,
                               struct mbox_result *out)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        static const char *const subs[] = {"tmp", "new", "cur"};
        for (size_t i = 0; i < ARRAY_LEN(subs); i++) {
            if (mkdirat(dirfd, subs[i], 0700) < 0 && errno != EEXIST) {
                int e = errno;
                mailbox_set(out, mailbox_errno_dsn(e), "maildir delivery failed: create directory %s/%s: %s",
                            path, subs[i], strerror(e));
                if (e == EACCES)
                    msg_warn("perhaps you need to create the maildirs in advance: %s", path);
                return -1;
            }
        }
        fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
        int e = errno;
        mailbox_set(out, e == ELOOP || e == ENOTDIR ? "5.2.0" : mailbox_errno_dsn(e),
                    "maildir delivery failed: open %s/%s: %s", path, name,
                    e == ELOOP || e == ENOTDIR ? "not a directory (symbolic link?)" : strerror(e));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !mailbox_owner_ok(&st, owner_uid)) {
        /* (fstat on an open descriptor does not fail in practice) */
        mailbox_set(out, "5.2.0", "maildir delivery failed: %s/%s is not owned by uid %ld",
                    path, name, owner_uid);
        close(fd);
        return -1;
    }
    return fd;
}

/* Write the message into tmp/NAME: created O_EXCL under a name nobody else
 * uses (pid plus a per-process counter plus microseconds), fsynced. */
static int mailbox_maildir_write(int tmpfd, const char *path, const struct mbox_headers *h,
                                 const struct dlv_msg *m, char *tmpname, size_t tmpsize,
                                 struct stat *st, struct mbox_result *out)
{
    static unsigned seq;
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < MAILBOX_NAME_TRIES; tries++) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        snprintf(tmpname, tmpsize, "%lld.M%ldP%ldQ%u.%s", (long long)tv.tv_sec, (long)tv.tv_usec,
                 (long)getpid(), ++seq, mailbox_maildir_host());
        fd = openat(tmpfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        int e = errno;
        mailbox_set(out, mailbox_errno_dsn(e), "maildir delivery failed: create maildir file %s/tmp/%s: %s",
                    path, tmpname, strerror(e));
        if (e == EACCES)
            msg_warn("perhaps you need to create the maildirs in advance: %s", path);
        return -1;
    }
    struct mailbox_sink sink = {fd, 0, mailbox_limit(), false};
    int r = mailbox_copy(m, h, 0, NULL, mailbox_sink_write, &sink);
    int e = errno;
    if (r == 0 && fsync(fd) < 0) {
        r = MAILBOX_COPY_WRITE_ERROR;
        e = errno;
    }
    if (r == 0 && fstat(fd, st) < 0) {
        r = MAILBOX_COPY_WRITE_ERROR;
        e = errno;
    }
    if (close(fd) < 0 && r == 0) {
        r = MAILBOX_COPY_WRITE_ERROR;
        e = errno;
    }
    if (r == 0)
        return 0;
    unlinkat(tmpfd, tmpname, 0);
    if (r == MAILBOX_COPY_READ_ERROR)
        mailbox_set(out, "4.3.0", "maildir delivery failed: error reading queue file: %s", strerror(e));
    else if (sink.over_limit)
        mailbox_set(out, "5.2.2", "maildir delivery failed: message exceeds mailbox_size_limit (%ld bytes)",
                    var_mailbox_size_limit);
    else
        mailbox_set(out, mailbox_errno_dsn(e), "maildir delivery failed: write maildir file %s/tmp/%s: %s",
                    path, tmpname, strerror(e));
    return -1;
}

void mailbox_maildir(const char *dir, const struct mbox_headers *h, const struct dlv_msg *m,
                     long owner_uid, struct mbox_result *out)
{
    memset(out, 0, sizeof(*out));
    char *path = xstrdup(dir);
    for (size_t n = strlen(path); n > 1 && path[n - 1] == '/'; n--)
        path[n - 1] = 0;
    int dirfd = -1, tmpfd = -1, newfd = -1, curfd = -1;
    struct mailbox_sigxfsz xfsz;
    mailbox_ignore_sigxfsz(&xfsz);

    char tmpname[1300], newname[1300];
    struct stat st;
    if ((dirfd = mailbox_maildir_open(path, owner_uid, out)) < 0
        || (tmpfd = mailbox_maildir_sub(dirfd, path, "tmp", owner_uid, out)) < 0
        || (newfd = mailbox_maildir_sub(dirfd, path, "new", owner_uid, out)) < 0
        || (curfd = mailbox_maildir_sub(dirfd, path, "cur", owner_uid, out)) < 0
        || mailbox_maildir_write(tmpfd, path, h, m, tmpname, sizeof(tmpname), &st, out) < 0)
        goto done;

    /* The message is delivered the moment the link in new/ exists. The
     * inode number keeps the name unique while the file lives; the
     * microseconds cover an inode reused after a reader deleted the old
     * file within the same second. */
    int linked = -1, e = 0;
    for (int tries = 0; linked < 0 && tries < MAILBOX_NAME_TRIES; tries++) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        snprintf(newname, sizeof(newname), "%lld.V%jxI%jxM%ld.%s", (long long)tv.tv_sec,
                 (uintmax_t)st.st_dev, (uintmax_t)st.st_ino, (long)tv.tv_usec, mailbox_maildir_host());
        linked = linkat(tmpfd, tmpname, newfd, newname, 0);
        e = errno;
        if (linked < 0 && e != EEXIST)
            break;
        if (linked < 0)
            usleep(1000);
    }
    unlinkat(tmpfd, tmpname, 0);
    if (linked < 0) {
        mailbox_set(out, mailbox_errno_dsn(e), "maildir delivery failed: link to %s/new/%s: %s",
                    path, newname, strerror(e));
        goto done;
    }
    if (fsync(newfd) < 0) {
        /* Not known to be on disk: take it back and let the queue retry,
         * rather than report a delivery a crash could undo. */
        e = errno;
        unlinkat(newfd, newname, 0);
        mailbox_set(out, "4.3.0", "maildir delivery failed: fsync %s/new: %s", path, strerror(e));
        goto done;
    }
    mailbox_set(out, "2.0.0", "delivered to maildir");

done:
    if (curfd >= 0)
        close(curfd);
    if (newfd >= 0)
        close(newfd);
    if (tmpfd >= 0)
        close(tmpfd);
    if (dirfd >= 0)
        close(dirfd);
    mailbox_restore_sigxfsz(&xfsz);
    free(path);
}

/* ---- mbox and /file ---- */

struct mailbox_ctx {
    const char *path;
    bool as_file;
    struct mbox_result *out;
    double deadline;            /* monotonic: end of the lock retries */
    unsigned attempt;
};

static void mailbox_fail(struct mailbox_ctx *x, const char *dsn, const char *fmt, ...) PRINTF_LIKE(3, 4);

static void mailbox_fail(struct mailbox_ctx *x, const char *dsn, const char *fmt, ...)
{
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    mailbox_set(x->out, dsn, x->as_file ? "cannot append message to file %s: %s" : "cannot update mailbox %s: %s",
                x->path, detail);
}

/* Sleep before the next lock attempt: 50-199 ms, varied so that two
 * waiting deliveries do not retry in step; false when the time is up. */
static bool mailbox_lock_pause(struct mailbox_ctx *x)
{
    double left = x->deadline - time_monotonic();
    if (left <= 0)
        return false;
    x->attempt++;
    double step = (50 + (unsigned)(getpid() * 37 + x->attempt * 53) % 150) / 1000.0;
    if (step > left)
        step = left;
    struct timespec ts = {(time_t)step, (long)((step - (double)(time_t)step) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    return true;
}

static void mailbox_busy(struct mailbox_ctx *x)
{
    mailbox_fail(x, "4.2.0", x->as_file ? "file is busy" : "mailbox is busy");
}

/* PATH.lock, created O_EXCL. 1 = we hold it, 0 = going on without one (a
 * /file target in a directory we cannot write, as Postfix allows), -1 =
 * failed (result set). */
static int mailbox_dotlock(struct mailbox_ctx *x, const char *lockpath)
{
    unsigned stale_removed = 0;
    for (;;) {
        int fd = open(lockpath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0);
        if (fd >= 0) {
            close(fd);
            return 1;
        }
        int e = errno;
        if (e == EEXIST) {
            struct stat st;
            if (lstat(lockpath, &st) == 0 && st.st_mtime + MAILBOX_STALE_LOCK < time(NULL) && stale_removed < 3) {
                /* A holder refreshes its lock; this one's owner is gone. */
                if (unlink(lockpath) == 0)
                    msg_warn("removed stale lock file %s", lockpath);
                stale_removed++;
                continue;
            }
            if (!mailbox_lock_pause(x)) {
                mailbox_busy(x);
                return -1;
            }
            continue;
        }
        if (e == EINTR)
            continue;
        if (x->as_file && (e == EACCES || e == EPERM || e == EROFS))
            return 0;
        mailbox_fail(x, mailbox_errno_dsn(e), "unable to create lock file %s: %s", lockpath, strerror(e));
        return -1;
    }
}

static int mailbox_fcntl_lock(struct mailbox_ctx *x, int fd)
{
    struct flock fl;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    for (;;) {
        if (fcntl(fd, F_SETLK, &fl) == 0)
            return 0;
        int e = errno;
        if (e == EINTR)
            continue;
        if (e != EAGAIN && e != EACCES) {
            mailbox_fail(x, mailbox_errno_dsn(e), "unable to lock for exclusive access: %s", strerror(e));
            return -1;
        }
        if (!mailbox_lock_pause(x)) {
            mailbox_busy(x);
            return -1;
        }
    }
}

/* Is the checked (lstat) file acceptable as a mailbox? */
static bool mailbox_check(struct mailbox_ctx *x, const struct stat *st, long owner_uid, bool allow_null)
{
    if (S_ISLNK(st->st_mode)) {
        mailbox_fail(x, "5.2.0", "file is a symbolic link");
        return false;
    }
    if (allow_null && S_ISCHR(st->st_mode) && st->st_rdev == makedev(1, 3))
        return true;    /* /dev/null as a sink */
    if (!S_ISREG(st->st_mode)) {
        mailbox_fail(x, "5.2.0", "file is not a regular file");
        return false;
    }
    if (st->st_nlink != 1) {
        mailbox_fail(x, "5.2.0", "file has %ju hard links", (uintmax_t)st->st_nlink);
        return false;
    }
    if (!mailbox_owner_ok(st, owner_uid)) {
        mailbox_fail(x, "5.2.0", "file is owned by uid %ju, not by uid %ld", (uintmax_t)st->st_uid, owner_uid);
        return false;
    }
    return true;
}

/* Open the mailbox: the existing file that was checked (same dev/ino), or a
 * new one created O_EXCL. -1 with the result set on failure. */
static int mailbox_open(struct mailbox_ctx *x, bool exists, const struct stat *lst, long owner_uid)
{
    int fd;
    if (exists)
        fd = open(x->path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    else
        fd = open(x->path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP)
            mailbox_fail(x, "5.2.0", "file is a symbolic link");
        else
            mailbox_fail(x, mailbox_errno_dsn(e), "%s", strerror(e));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        mailbox_fail(x, mailbox_errno_dsn(e), "%s", strerror(e));
        close(fd);
        return -1;
    }
    if (exists && (st.st_dev != lst->st_dev || st.st_ino != lst->st_ino)) {
        mailbox_fail(x, "4.2.0", "file changed while it was opened");
        close(fd);
        return -1;
    }
    if (!mailbox_check(x, &st, owner_uid, exists && S_ISCHR(lst->st_mode))) {
        close(fd);
        return -1;
    }
    if (exists)
        fcntl(fd, F_SETFL, O_WRONLY | O_APPEND);
    return fd;
}

/* Copy into the locked file; on any failure cut it back to its old size. */
static void mailbox_append(struct mailbox_ctx *x, int fd, const struct mbox_headers *h, const struct dlv_msg *m,
                           bool sink_only)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        mailbox_fail(x, mailbox_errno_dsn(e), "%s", strerror(e));
        return;
    }
    off_t old = st.st_size;
    struct mailbox_sink sink = {fd, sink_only ? 0 : (uint64_t)old, sink_only ? 0 : mailbox_limit(), false};
    int r = mailbox_copy(m, h, MAILBOX_COPY_FROM | MAILBOX_COPY_QUOTE | MAILBOX_COPY_BLANK, h ? h->sender : NULL,
                         mailbox_sink_write, &sink);
    int e = errno;
    if (r == 0 && !sink_only && fsync(fd) < 0) {
        r = MAILBOX_COPY_WRITE_ERROR;
        e = errno;
    }
    if (r == 0) {
        if (x->as_file)
            mailbox_set(x->out, "2.0.0", "delivered to file: %s", x->path);
        else
            mailbox_set(x->out, "2.0.0", "delivered to mailbox");
        return;
    }
    if (!sink_only && ftruncate(fd, old) < 0)
        msg_warn("cannot truncate %s back to %jd bytes: %s", x->path, (intmax_t)old, strerror(errno));
    if (r == MAILBOX_COPY_READ_ERROR)
        mailbox_set(x->out, "4.3.0", "error reading queue file: %s", strerror(e));
    else if (sink.over_limit)
        mailbox_fail(x, "5.2.2", "mailbox_size_limit (%ld bytes) exceeded", var_mailbox_size_limit);
    else
        mailbox_fail(x, mailbox_errno_dsn(e), "error writing message: %s", strerror(e));
}

void mailbox_mbox(const char *path, const struct mbox_headers *h, const struct dlv_msg *m,
                  long owner_uid, bool as_file, struct mbox_result *out)
{
    memset(out, 0, sizeof(*out));
    struct mailbox_ctx x = {path, as_file, out, time_monotonic() + mailbox_lock_wait_ms / 1000.0, 0};
    struct mailbox_sigxfsz xfsz;
    mailbox_ignore_sigxfsz(&xfsz);
    char *lockpath = xasprintf("%s.lock", path);
    int locked = 0, fd = -1;

    struct stat lst;
    bool exists = lstat(path, &lst) == 0;
    if (!exists && errno != ENOENT) {
        int e = errno;
        mailbox_fail(&x, mailbox_errno_dsn(e), "%s", strerror(e));
        goto done;
    }
    if (exists && !mailbox_check(&x, &lst, owner_uid, true))
        goto done;
    if (!exists && owner_uid >= 0 && (uintmax_t)geteuid() != (uintmax_t)owner_uid) {
        mailbox_fail(&x, "5.2.0", "file does not exist and would not be owned by uid %ld", owner_uid);
        goto done;
    }
    if (exists && S_ISCHR(lst.st_mode)) {
        /* /dev/null: nothing to lock, truncate or sync */
        if ((fd = mailbox_open(&x, true, &lst, -1)) >= 0)
            mailbox_append(&x, fd, h, m, true);
        goto done;
    }
    if ((locked = mailbox_dotlock(&x, lockpath)) < 0)
        goto done;
    /* Checked again under the dotlock: the file may have come or gone. */
    exists = lstat(path, &lst) == 0;
    if (exists && !mailbox_check(&x, &lst, owner_uid, false))
        goto done;
    if ((fd = mailbox_open(&x, exists, &lst, owner_uid)) < 0)
        goto done;
    if (mailbox_fcntl_lock(&x, fd) < 0)
        goto done;
    mailbox_append(&x, fd, h, m, false);

done:
    if (fd >= 0)
        close(fd);              /* also drops the fcntl lock */
    if (locked > 0)
        unlink(lockpath);
    free(lockpath);
    mailbox_restore_sigxfsz(&xfsz);
}
