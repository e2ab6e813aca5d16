/*
 * pickup.c - the daemon's side of local submission (see maildrop.h): move
 * files that the sendmail command left in queue_directory/maildrop/ through
 * cleanup into the queue.
 *
 * Runs in the daemon, on its event loop, as the mail system's account. A
 * maildrop file was written by an arbitrary local user and is treated like
 * network input: it is opened without following links or blocking on
 * FIFOs, must be a regular file with a single link, is validated in full
 * (qf_read) and then only the sender, recipients, DSN parameters, -F name
 * and content are taken from it; the submitting uid is the file's owner
 * according to the kernel, never what the file says. Addresses are parsed
 * again; content is split into lines again, and any bare CR or LF becomes
 * a proper line end or a space, never passes through.
 *
 * One file at a time: cleanup's commit completes asynchronously (group
 * commit), and the maildrop file is removed only after its queue file is
 * on stable storage, so a crash in between means a duplicate, never a loss.
 * Files that fail validation, or that cleanup refuses for good (too big,
 * too many hops), are moved to corrupt/ for the administrator with a
 * warning; temporary failures (disk full) leave the file for the next scan.
 */
#include "queue/maildrop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "lib/addr.h"
#include "lib/log.h"
#include "lib/params.h"
#include "lib/util.h"
#include "queue/cleanup.h"
#include "queue/qid.h"
#include "queue/queue.h"
#include "queue/queue_file.h"

/* Temporary dot-files older than this were left by a sendmail that died. */
#define PICKUP_STALE_TMP (24 * 3600)
/* Files taken per directory scan; the rest wait for the next one. */
#define PICKUP_SCAN_MAX 10000

static struct {
    struct event_base *base;
    struct queue *q;
    struct event *timer;        /* every queue_run_delay */
    struct event *kick;         /* scan now / next file */
    char **names;               /* current scan, sorted */
    size_t n, next;
    bool busy;                  /* a file is in cleanup */
    bool rescan;                /* scan again when the list is done */
} pickup;

struct pickup_job {
    char *name;
    char *path;
    struct cleanup *c;
    struct buf line;            /* partial content line */
    const char *reply;          /* cleanup's final reply, once given */
};

static void pickup_warn(const char *fmt, ...) PRINTF_LIKE(1, 2);
static void pickup_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmail("pickup", LOG_WARNING, "warning: ", fmt, ap);
    va_end(ap);
}

static void pickup_free_names(void)
{
    for (size_t i = 0; i < pickup.n; i++)
        free(pickup.names[i]);
    free(pickup.names);
    pickup.names = NULL;
    pickup.n = pickup.next = 0;
}

static char *pickup_dir(const char *sub)
{
    return xasprintf("%s/%s", queue_dir(pickup.q), sub);
}

/* Keep a bad file for the administrator instead of deleting it. A name
 * that is no queue ID is replaced (the user chose it). */
static void pickup_quarantine(const char *name, const char *reason)
{
    char *from = xasprintf("%s/maildrop/%s", queue_dir(pickup.q), name);
    char *to;
    if (qid_valid(name)) {
        to = xasprintf("%s/corrupt/%s", queue_dir(pickup.q), name);
    } else {
        char qid[QID_SIZE];
        qid_new(qid);
        to = xasprintf("%s/corrupt/badname.%s", queue_dir(pickup.q), qid);
    }
    struct stat st;
    if (lstat(to, &st) == 0) {
        /* Never overwrite an earlier file of the same (user-chosen) name. */
        char qid[QID_SIZE];
        qid_new(qid);
        free(to);
        to = xasprintf("%s/corrupt/%s.%s", queue_dir(pickup.q), name, qid);
    }
    if (rename(from, to) == 0)
        pickup_warn("maildrop file %s: %s; moved to %s", name, reason, to);
    else if (errno != ENOENT)
        pickup_warn("maildrop file %s: %s; cannot move it to %s: %s", name, reason, to, strerror(errno));
    free(from);
    free(to);
}

static int pickup_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void pickup_scan(void)
{
    char *dir = pickup_dir("maildrop");
    DIR *d = opendir(dir);
    if (!d) {
        if (errno != ENOENT)
            pickup_warn("cannot read %s: %s", dir, strerror(errno));
        free(dir);
        return;
    }
    size_t cap = 0;
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        if (name[0] == '.') {
            struct stat st;
            if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_mtime < now - PICKUP_STALE_TMP &&
                unlinkat(dirfd(d), name, 0) == 0)
                pickup_warn("removed stale temporary file %s/%s (uid %ld)", dir, name, (long)st.st_uid);
            continue;
        }
        if (!qid_valid(name)) {
            pickup_quarantine(name, "not a maildrop file name");
            continue;
        }
        if (pickup.n >= PICKUP_SCAN_MAX) {
            pickup.rescan = true;
            break;
        }
        if (pickup.n == cap) {
            cap = cap ? cap * 2 : 16;
            pickup.names = xrealloc(pickup.names, cap * sizeof(*pickup.names));
        }
        pickup.names[pickup.n++] = xstrdup(name);
    }
    closedir(d);
    free(dir);
    if (pickup.n > 1)
        qsort(pickup.names, pickup.n, sizeof(*pickup.names), pickup_cmp);
}

static void pickup_job_free(struct pickup_job *j)
{
    free(j->name);
    free(j->path);
    buf_free(&j->line);
    free(j);
}

/* A complete line in j->line (without its end): make it canonical CRLF
 * text and hand it to cleanup. */
static void pickup_emit(struct pickup_job *j)
{
    if (j->line.len > 0 && j->line.data[j->line.len - 1] == '\r')
        j->line.len--;
    for (size_t i = 0; i < j->line.len; i++)
        if (j->line.data[i] == '\r')
            j->line.data[i] = ' ';
    buf_append(&j->line, "\r\n", 2);
    j->reply = cleanup_line(j->c, j->line.data, j->line.len);
    buf_reset(&j->line);
}

static int pickup_chunk(void *arg, const char *p, size_t n)
{
    struct pickup_job *j = arg;
    while (n > 0 && !j->reply) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        buf_append(&j->line, p, take);
        if (!nl)
            break;
        pickup_emit(j);
        p += take + 1;
        n -= take + 1;
    }
    return j->reply ? 1 : 0;
}

static void pickup_next_soon(void)
{
    if (pickup.kick)
        event_active(pickup.kick, EV_TIMEOUT, 0);
}

static void pickup_done(void *arg, const char *qid, const char *err_reply)
{
    struct pickup_job *j = arg;
    if (!err_reply) {
        if (unlink(j->path) != 0 && errno != ENOENT)
            pickup_warn("%s: cannot remove maildrop file %s: %s (it may be delivered twice)", qid, j->path,
                        strerror(errno));
    } else if (err_reply[0] == '4') {
        pickup_warn("%s: maildrop file %s not queued: %s; will try again", qid, j->name, err_reply);
        /* The queue is in trouble: wait for the timer before the next file. */
        pickup_free_names();
    } else {
        pickup_quarantine(j->name, err_reply);
    }
    pickup_job_free(j);
    pickup.busy = false;
    pickup_next_soon();
}

/* Re-parse an address from the file: it was written by an untrusted user. */
static bool pickup_addr(const char *in, unsigned flags, char **out)
{
    struct mailaddr a;
    if (addr_parse_plain(in, flags, &a) != ADDR_OK)
        return false;
    *out = xstrdup(a.addr);
    return true;
}

/* Take the trusted subset of a validated maildrop envelope. */
static bool pickup_envelope(const struct envelope *f, const struct stat *st, struct envelope *env,
                            struct buf *why)
{
    envelope_init(env);
    unsigned flags = ADDR_ALLOW_UNQUALIFIED | (f->smtputf8 ? ADDR_ALLOW_UTF8 : 0);
    if (!pickup_addr(f->sender, flags | ADDR_ALLOW_NULL, &env->sender)) {
        buf_printf(why, "bad sender address");
        return false;
    }
    for (size_t i = 0; i < f->nrcpt; i++) {
        char *a;
        if (!pickup_addr(f->rcpt[i].addr, flags, &a)) {
            buf_printf(why, "bad recipient address");
            return false;
        }
        envelope_add_rcpt(env, a, f->rcpt[i].orcpt, f->rcpt[i].notify);
        free(a);
    }
    env->arrival = (double)st->st_mtim.tv_sec + (double)st->st_mtim.tv_nsec / 1e9;
    env->uid = (long)st->st_uid;
    env->envid = f->envid ? xstrdup(f->envid) : NULL;
    env->ret = f->ret;
    env->body = f->body;
    env->smtputf8 = f->smtputf8;
    env->fullname = f->fullname ? xstrdup(f->fullname) : NULL;
    env->origin = xstrdup("pickup");
    env->proto = xstrdup("local");
    return true;
}

/* Take one maildrop file. Sets pickup.busy while cleanup has it. */
static void pickup_file(const char *name)
{
    char *path = xasprintf("%s/maildrop/%s", queue_dir(pickup.q), name);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno != ENOENT) {
            char reason[128];
            snprintf(reason, sizeof(reason), "cannot open: %s", strerror(errno));
            pickup_quarantine(name, reason);
        }
        free(path);
        return;
    }
    struct stat st;
    struct envelope fenv, env;
    envelope_init(&fenv);
    envelope_init(&env);
    struct buf why = BUF_INIT;
    off_t content_off = 0;
    uint64_t content_size = 0;
    bool incomplete = false;
    struct pickup_job *j = NULL;

    if (fstat(fd, &st) != 0) {
        buf_printf(&why, "fstat: %s", strerror(errno));
        goto bad;
    }
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
        /* A hard link could smuggle in someone else's file. */
        buf_puts(&why, "not a regular file with one link");
        goto bad;
    }
    if (var_message_size_limit > 0 &&
        (uint64_t)st.st_size > (uint64_t)var_message_size_limit * 2 + (uint64_t)QF_ENVELOPE_MAX) {
        buf_puts(&why, "message file too big");
        goto bad;
    }
    if (qf_read(fd, &fenv, &content_off, &content_size, &incomplete, &why) != 0)
        goto bad;
    if (!pickup_envelope(&fenv, &st, &env, &why))
        goto bad;

    char qid[QID_SIZE];
    qid_new(qid);
    const char *reply = NULL;
    struct cleanup *c = cleanup_open(qid, &env, CLEANUP_LOCAL, &reply);
    if (!c) {
        pickup_warn("%s: maildrop file %s not queued: %s; will try again", qid, name, reply);
        pickup_free_names();
        goto out;
    }
    log_mail("pickup", "%s: uid=%ld from=<%s>", qid, (long)st.st_uid, env.sender);

    j = xcalloc(1, sizeof(*j));
    j->name = xstrdup(name);
    j->path = path;
    path = NULL;
    j->c = c;
    int r = qf_read_content(fd, content_off, pickup_chunk, j);
    if (r < 0) {
        cleanup_abort(c);
        pickup_job_free(j);
        buf_puts(&why, "cannot read content (file changed while being read?)");
        goto bad;
    }
    if (!j->reply && j->line.len > 0)
        pickup_emit(j);         /* last line without a line end */
    pickup.busy = true;
    cleanup_close(c, pickup_done, j);
    goto out;

bad:
    pickup_quarantine(name, buf_str(&why));
out:
    close(fd);
    free(path);
    buf_free(&why);
    envelope_free(&fenv);
    envelope_free(&env);
}

static void pickup_run(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (pickup.busy)
        return;
    if (pickup.next >= pickup.n) {
        pickup_free_names();
        if (!pickup.rescan)
            return;
        pickup.rescan = false;
        pickup_scan();
        if (pickup.n == 0)
            return;
    }
    pickup_file(pickup.names[pickup.next++]);
    if (!pickup.busy)
        pickup_next_soon();
}

static void pickup_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    pickup_poke();
}

void pickup_start(struct event_base *base, struct queue *q)
{
    pickup.base = base;
    pickup.q = q;
    pickup.kick = event_new(base, -1, 0, pickup_run, NULL);
    pickup.timer = event_new(base, -1, EV_PERSIST, pickup_timer_cb, NULL);
    if (!pickup.kick || !pickup.timer)
        msg_fatal("pickup: cannot create events");
    struct timeval tv = {var_queue_run_delay > 0 ? var_queue_run_delay : 300, 0};
    event_add(pickup.timer, &tv);
    pickup_poke();
}

void pickup_poke(void)
{
    if (!pickup.kick)
        return;
    pickup.rescan = true;
    if (!pickup.busy)
        pickup_next_soon();
}
