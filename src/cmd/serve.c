/*
 * serve.c - "yubin serve": the mail system's long-running process.
 *
 * Start-up order matters for privilege: as root we bind the SMTP sockets,
 * create the queue directory for mail_owner and lock it, then drop to
 * mail_owner for good before the first byte of network input is read. The
 * single unprivileged process then runs everything event-driven on one
 * libevent loop: SMTP sessions -> cleanup -> queue (group commit thread) ->
 * queue manager, plus pickup (local submissions) and the control socket.
 *
 * Run as an ordinary user (the embedded default) nothing changes identity.
 *
 * Signals: SIGTERM/SIGINT stop (mail that got 250 is already on disk),
 * SIGHUP re-reads the configuration (tables and lists; listen addresses
 * need a restart).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <event2/event.h>

#include "cmd/commands.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/params.h"
#include "lib/tls.h"
#include "lib/util.h"
#include "queue/cleanup.h"
#include "queue/control.h"
#include "queue/maildrop.h"
#include "queue/qmgr.h"
#include "queue/queue.h"
#include "receive/relay_check.h"
#include "receive/smtpd.h"

struct serve {
    struct event_base *base;
    struct queue *queue;
    struct qmgr *qmgr;
    const char *config_path;
};

/* Logging goes where maillog_file says; empty means syslog. */
static void serve_open_log(void)
{
    if (var_maillog_file && *var_maillog_file)
        log_open(var_syslog_name, LOG_TO_FILE, var_maillog_file);
    else
        log_open(var_syslog_name, LOG_TO_SYSLOG, NULL);
}

/* mkdir -p, then hand the last component to uid/gid. */
static void serve_make_queue_dir(const char *path, uid_t uid, gid_t gid)
{
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            msg_fatal("cannot create %s: %s", p, strerror(errno));
        *s = '/';
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        msg_fatal("cannot create queue_directory %s: %s", p, strerror(errno));
    if (geteuid() == 0 && chown(p, uid, gid) != 0)
        msg_fatal("cannot chown queue_directory %s: %s", p, strerror(errno));
    free(p);
}

/* Only one daemon per queue: an flock on queue_directory/pid. */
static int serve_lock(const char *qdir)
{
    char *path = xasprintf("%s/pid", qdir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        msg_fatal("cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = read(fd, pid, sizeof(pid) - 1);
        pid[n > 0 ? n : 0] = 0;
        msg_fatal("the mail system is already running (pid %s) on %s", str_trim(pid), qdir);
    }
    char text[32];
    int len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len)
        msg_warn("cannot write %s: %s", path, strerror(errno));
    free(path);
    return fd;
}

static void serve_drop_privileges(const struct passwd *pw)
{
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
        msg_fatal("cannot drop privileges to %s: %s", pw->pw_name, strerror(errno));
    if (setuid(0) == 0)
        msg_fatal("privileges could be regained after dropping them to %s", pw->pw_name);
}

static SSL_CTX *serve_tls(bool *required)
{
    const char *level = var_smtpd_tls_security_level ? var_smtpd_tls_security_level : "";
    *required = strcmp(level, "encrypt") == 0;
    if (!*level || strcmp(level, "none") == 0)
        return NULL;
    if (!*var_smtpd_tls_cert_file || !*var_smtpd_tls_key_file)
        msg_fatal("smtpd_tls_security_level = %s needs smtpd_tls_cert_file and smtpd_tls_key_file", level);
    struct buf err = BUF_INIT;
    SSL_CTX *ctx = tls_server_ctx(var_smtpd_tls_cert_file, var_smtpd_tls_key_file, &err);
    if (!ctx)
        msg_fatal("TLS: %s", buf_str(&err));
    buf_free(&err);
    return ctx;
}

static void serve_stop_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct serve *s = arg;
    log_mail("master", "terminating on signal %d", (int)sig);
    smtpd_stop();
    event_base_loopexit(s->base, NULL);
}

static void serve_reload_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    struct serve *s = arg;
    struct buf err = BUF_INIT;
    if (config_load(s->config_path, &err) != 0 || relay_check_init(&err) != 0) {
        msg_error("reload failed, keeping the old configuration where possible: %s", buf_str(&err));
    } else {
        serve_open_log();
        log_mail("master", "reload -- version %s, configuration %s", YUBIN_VERSION, config_source());
    }
    buf_free(&err);
}

/* Control socket handlers: the queue manager keeps its in-memory view. */
static void serve_ctl_wakeup(void *arg)
{
    (void)arg;
    pickup_poke();
}

static void serve_ctl_flush(void *arg)
{
    struct serve *s = arg;
    qmgr_flush(s->qmgr);
    pickup_poke();
}

static long serve_ctl_manage(void *arg, const char *verb, const char *qid)
{
    struct serve *s = arg;
    return qmgr_manage(s->qmgr, verb, qid);
}

static void serve_ctl_active(void *arg, struct buf *out)
{
    struct serve *s = arg;
    qmgr_active_list(s->qmgr, out);
}

static void serve_usage(void)
{
    fprintf(stderr, "usage: yubin serve [-c FILE]\n");
}

int cmd_serve(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else {
            serve_usage();
            return 64;
        }
    }

    struct buf err = BUF_INIT;
    log_open("yubin", LOG_TO_TERMINAL, NULL);
    if (config_load(path, &err) != 0) {
        fprintf(stderr, "yubin: fatal: %s\n", buf_str(&err));
        buf_free(&err);
        return 78;
    }
    serve_open_log();
    log_set_program("master");
    if (relay_check_init(&err) != 0)
        msg_fatal("%s", buf_str(&err));

    signal(SIGPIPE, SIG_IGN);

    /* Who we will run as. */
    struct passwd *pw = NULL;
    bool as_root = geteuid() == 0;
    if (as_root) {
        pw = getpwnam(var_mail_owner);
        if (!pw)
            msg_fatal("mail_owner \"%s\" is not a user on this system: create it "
                      "(e.g. adduser --system --group %s) or set mail_owner", var_mail_owner, var_mail_owner);
        if (pw->pw_uid == 0)
            msg_warn("mail_owner is root: the SMTP server will parse network input as root; "
                     "set mail_owner to an unprivileged account");
    }

    bool tls_required = false;
    SSL_CTX *tls = serve_tls(&tls_required);

    if (smtpd_bind(&err) != 0)
        msg_fatal("%s", buf_str(&err));

    serve_make_queue_dir(var_queue_directory, pw ? pw->pw_uid : getuid(), pw ? pw->pw_gid : getgid());
    if (as_root && pw->pw_uid != 0)
        serve_drop_privileges(pw);

    int lockfd = serve_lock(var_queue_directory);

    struct serve s = {.config_path = path};
    s.queue = queue_open(var_queue_directory, true, &err);
    if (!s.queue)
        msg_fatal("%s", buf_str(&err));
    s.base = event_base_new();
    if (!s.base)
        msg_fatal("cannot create the event loop");
    queue_set_event_base(s.queue, s.base);
    s.qmgr = qmgr_create(s.base, s.queue);
    cleanup_init(s.queue, qmgr_message_arrived, s.qmgr);

    struct control_handlers h = {
        .wakeup = serve_ctl_wakeup, .flush = serve_ctl_flush, .manage = serve_ctl_manage,
        .active = serve_ctl_active, .arg = &s,
    };
    if (control_listen(s.base, var_queue_directory, (long)(pw ? pw->pw_uid : getuid()), &h, &err) != 0)
        msg_fatal("%s", buf_str(&err));

    qmgr_load(s.qmgr);
    pickup_start(s.base, s.queue);

    struct smtpd_config cfg = {.tls = tls, .tls_required = tls_required};
    cleanup_sink(&cfg.sink);
    smtpd_start(s.base, &cfg);

    struct event *sigterm = evsignal_new(s.base, SIGTERM, serve_stop_cb, &s);
    struct event *sigint = evsignal_new(s.base, SIGINT, serve_stop_cb, &s);
    struct event *sighup = evsignal_new(s.base, SIGHUP, serve_reload_cb, &s);
    evsignal_add(sigterm, NULL);
    evsignal_add(sigint, NULL);
    evsignal_add(sighup, NULL);

    log_mail("master", "daemon started -- version %s, configuration %s", YUBIN_VERSION, config_source());
    fprintf(stderr, "yubin: listening on %s; queue in %s; log %s%s\n", var_smtpd_listen,
            var_queue_directory, *var_maillog_file ? "to " : "to syslog",
            *var_maillog_file ? var_maillog_file : "");

    event_base_dispatch(s.base);

    control_close();
    event_free(sigterm);
    event_free(sigint);
    event_free(sighup);
    /* The queue first: closing it finishes pending commits, whose callbacks
     * still tell the queue manager about the new messages. */
    queue_close(s.queue);
    qmgr_free(s.qmgr);
    event_base_free(s.base);
    if (tls)
        SSL_CTX_free(tls);
    close(lockfd);
    buf_free(&err);
    return 0;
}
