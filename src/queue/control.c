/*
 * control.c - the daemon's control socket, server and client (control.h).
 *
 * Server: a UNIX stream socket at queue_dir/control, mode 0666 so any local
 * user's sendmail can say "wakeup" after dropping a file in maildrop/.
 * Everything else changes the queue and needs the caller to be root, the
 * mail_owner or the daemon's own uid, as told by the kernel (SO_PEERCRED);
 * nothing in the request can claim an identity. One request per
 * connection, one line of at most CONTROL_LINE_MAX bytes, a short idle
 * timeout and a cap on simultaneous connections keep a local user from
 * tying the daemon up.
 *
 * Reply: "OK text" or "ERR text"; "active" answers "OK" followed by one
 * queue ID per line and a line ".".
 *
 * Trusts: nothing in the request; the peer's uid from the kernel.
 */
#include "queue/control.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "lib/log.h"
#include "lib/util.h"
#include "queue/qid.h"

#define CONTROL_LINE_MAX 512
#define CONTROL_MAX_CONNS 32
#define CONTROL_IDLE_SECONDS 10
#define CONTROL_CLIENT_TIMEOUT_MS 60000
#define CONTROL_REPLY_MAX (16 << 20)

struct control_conn {
    struct bufferevent *bev;
    uid_t uid;
    bool closing;
    struct control_conn *prev, *next;
};

static struct {
    struct event_base *base;
    struct event *listen_ev;
    int fd;
    char *path;
    long owner_uid;
    struct control_handlers h;
    struct control_conn *conns;
    unsigned nconns;
} ctl = {.fd = -1};

static int control_addr(const char *queue_dir, struct sockaddr_un *sun, struct buf *err)
{
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    int n = snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/control", queue_dir);
    if (n < 0 || (size_t)n >= sizeof(sun->sun_path)) {
        if (err)
            buf_printf(err, "control socket path %s/control is too long", queue_dir);
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* ---- Server ---- */

static void control_conn_free(struct control_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        ctl.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    ctl.nconns--;
    bufferevent_free(c->bev);
    free(c);
}

static bool control_privileged(uid_t uid)
{
    return uid == 0 || uid == geteuid() || (ctl.owner_uid >= 0 && (long)uid == ctl.owner_uid);
}

/* Answer one request line into out. */
static void control_handle(struct control_conn *c, char *line, struct buf *out)
{
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            buf_puts(out, "ERR bad request\n");
            return;
        }
    char *arg = strchr(line, ' ');
    if (arg)
        *arg++ = 0;

    if (strcmp(line, "wakeup") == 0 && !arg) {
        if (ctl.h.wakeup)
            ctl.h.wakeup(ctl.h.arg);
        buf_puts(out, "OK\n");
        return;
    }
    bool manage = strcmp(line, "delete") == 0 || strcmp(line, "hold") == 0 || strcmp(line, "release") == 0;
    bool known = manage || strcmp(line, "flush") == 0 || strcmp(line, "active") == 0;
    if (!known) {
        buf_puts(out, "ERR unknown request\n");
        return;
    }
    if (!control_privileged(c->uid)) {
        buf_puts(out, "ERR permission denied\n");
        return;
    }
    if (manage) {
        if (!arg || (strcmp(arg, "ALL") != 0 && !qid_valid(arg))) {
            buf_puts(out, "ERR bad queue ID\n");
            return;
        }
        if (!ctl.h.manage) {
            buf_puts(out, "ERR not supported\n");
            return;
        }
        long n = ctl.h.manage(ctl.h.arg, line, arg);
        if (n < 0)
            buf_puts(out, "ERR no such message\n");
        else
            buf_printf(out, "OK %ld\n", n);
        return;
    }
    if (arg) {
        buf_puts(out, "ERR unexpected argument\n");
        return;
    }
    if (strcmp(line, "flush") == 0) {
        if (!ctl.h.flush) {
            buf_puts(out, "ERR not supported\n");
            return;
        }
        ctl.h.flush(ctl.h.arg);
        buf_puts(out, "OK\n");
        return;
    }
    /* active */
    struct buf ids = BUF_INIT;
    if (ctl.h.active)
        ctl.h.active(ctl.h.arg, &ids);
    buf_puts(out, "OK\n");
    /* Pass on only well-formed IDs: the list terminator must stay unique. */
    char *save = NULL;
    for (char *tok = ids.data ? strtok_r(ids.data, "\n", &save) : NULL; tok; tok = strtok_r(NULL, "\n", &save))
        if (qid_valid(tok))
            buf_printf(out, "%s\n", tok);
    buf_puts(out, ".\n");
    buf_free(&ids);
}

static void control_read_cb(struct bufferevent *bev, void *arg)
{
    struct control_conn *c = arg;
    if (c->closing)
        return;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
    struct buf out = BUF_INIT;
    if (eol.pos < 0) {
        if (evbuffer_get_length(in) <= CONTROL_LINE_MAX)
            return;
        buf_puts(&out, "ERR line too long\n");
    } else if ((size_t)eol.pos > CONTROL_LINE_MAX) {
        buf_puts(&out, "ERR line too long\n");
    } else {
        size_t n;
        char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
        if (!line || strlen(line) != n)
            buf_puts(&out, "ERR bad request\n");
        else
            control_handle(c, line, &out);
        free(line);
    }
    /* One request per connection: answer, then close once it is sent. */
    c->closing = true;
    bufferevent_disable(bev, EV_READ);
    bufferevent_write(bev, out.data, out.len);
    buf_free(&out);
}

static void control_write_cb(struct bufferevent *bev, void *arg)
{
    struct control_conn *c = arg;
    if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        control_conn_free(c);
}

static void control_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what;
    control_conn_free(arg);
}

static void control_accept_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    (void)arg;
    for (;;) {
        int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                msg_warn("control: accept: %s", strerror(errno));
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return;
        }
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred) ||
            ctl.nconns >= CONTROL_MAX_CONNS) {
            close(cfd);
            continue;
        }
        struct control_conn *c = xcalloc(1, sizeof(*c));
        c->uid = cred.uid;
        c->bev = bufferevent_socket_new(ctl.base, cfd, BEV_OPT_CLOSE_ON_FREE);
        if (!c->bev) {
            close(cfd);
            free(c);
            continue;
        }
        c->next = ctl.conns;
        if (ctl.conns)
            ctl.conns->prev = c;
        ctl.conns = c;
        ctl.nconns++;
        struct timeval tv = {CONTROL_IDLE_SECONDS, 0};
        bufferevent_set_timeouts(c->bev, &tv, &tv);
        bufferevent_setcb(c->bev, control_read_cb, control_write_cb, control_event_cb, c);
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    }
}

static int control_listen_on(struct event_base *base, const char *queue_dir, long owner_uid,
                             const struct control_handlers *h, struct buf *err)
{
    struct sockaddr_un sun;
    if (ctl.fd >= 0) {
        buf_puts(err, "control socket already open");
        return -1;
    }
    if (control_addr(queue_dir, &sun, err) < 0)
        return -1;

    /* A socket left by a crashed daemon is removed; a live one means
     * another daemon owns this queue. */
    struct stat st;
    if (lstat(sun.sun_path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            buf_printf(err, "%s exists and is not a socket", sun.sun_path);
            return -1;
        }
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
            close(probe);
            buf_printf(err, "another yubin daemon is listening on %s", sun.sun_path);
            return -1;
        }
        if (probe >= 0)
            close(probe);
        unlink(sun.sun_path);
    }

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        buf_printf(err, "control socket: %s", strerror(errno));
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(sun.sun_path, 0666) < 0 ||
        listen(fd, 16) < 0) {
        buf_printf(err, "control socket %s: %s", sun.sun_path, strerror(errno));
        close(fd);
        unlink(sun.sun_path);
        return -1;
    }
    ctl.listen_ev = event_new(base, fd, EV_READ | EV_PERSIST, control_accept_cb, NULL);
    if (!ctl.listen_ev || event_add(ctl.listen_ev, NULL) < 0) {
        buf_puts(err, "control socket: cannot register event");
        if (ctl.listen_ev)
            event_free(ctl.listen_ev);
        ctl.listen_ev = NULL;
        close(fd);
        unlink(sun.sun_path);
        return -1;
    }
    ctl.base = base;
    ctl.fd = fd;
    ctl.path = xstrdup(sun.sun_path);
    ctl.owner_uid = owner_uid;
    ctl.h = *h;
    return 0;
}

int control_listen(struct event_base *base, const char *queue_dir, long owner_uid,
                   const struct control_handlers *h, struct buf *err)
{
    struct buf dummy = BUF_INIT;
    int r = control_listen_on(base, queue_dir, owner_uid, h, err ? err : &dummy);
    buf_free(&dummy);
    return r;
}

void control_close(void)
{
    while (ctl.conns)
        control_conn_free(ctl.conns);
    if (ctl.listen_ev)
        event_free(ctl.listen_ev);
    ctl.listen_ev = NULL;
    if (ctl.fd >= 0) {
        close(ctl.fd);
        unlink(ctl.path);
    }
    ctl.fd = -1;
    free(ctl.path);
    ctl.path = NULL;
    ctl.base = NULL;
}

/* ---- Client ---- */

/* Wait for fd to be ready for events; 0, or -1 with errno (ETIMEDOUT). */
static int control_wait(int fd, short events, double deadline)
{
    for (;;) {
        double left = deadline - time_monotonic();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd p = {fd, events, 0};
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

static int control_parse_reply(const char *text, size_t len, struct buf *reply)
{
    const char *nl = memchr(text, '\n', len);
    if (!nl) {
        errno = EPROTO;
        return -1;
    }
    size_t first = (size_t)(nl - text);
    int status;
    size_t skip;
    if (first >= 2 && strncmp(text, "OK", 2) == 0 && (first == 2 || text[2] == ' ')) {
        status = 0;
        skip = first == 2 ? 2 : 3;
    } else if (first >= 3 && strncmp(text, "ERR", 3) == 0 && (first == 3 || text[3] == ' ')) {
        status = 1;
        skip = first == 3 ? 3 : 4;
    } else {
        errno = EPROTO;
        return -1;
    }
    const char *rest = nl + 1;
    size_t rest_len = len - first - 1;
    if (rest_len == 0) {
        buf_append(reply, text + skip, first - skip);
        return status;
    }
    /* A list: lines up to a line ".", which must end the reply. */
    if (rest_len < 2 || strncmp(text + len - 2, ".\n", 2) != 0 || (rest_len > 2 && text[len - 3] != '\n')) {
        errno = EPROTO;
        return -1;
    }
    buf_append(reply, rest, rest_len - 2);
    return status;
}

int control_request(const char *queue_dir, const char *request, struct buf *reply)
{
    struct sockaddr_un sun;
    struct buf dummy = BUF_INIT;
    if (!reply)
        reply = &dummy;
    buf_reset(reply);
    size_t rlen = strlen(request);
    if (rlen == 0 || rlen >= CONTROL_LINE_MAX || strchr(request, '\n')) {
        errno = EINVAL;
        return -1;
    }
    if (control_addr(queue_dir, &sun, NULL) < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    double deadline = time_monotonic() + CONTROL_CLIENT_TIMEOUT_MS / 1000.0;
    struct buf req = BUF_INIT, in = BUF_INIT;
    buf_printf(&req, "%s\n", request);
    int ret = -1;
    size_t off = 0;
    while (off < req.len) {
        if (control_wait(fd, POLLOUT, deadline) < 0)
            goto out;
        ssize_t n = send(fd, req.data + off, req.len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        off += (size_t)n;
    }
    for (;;) {
        if (control_wait(fd, POLLIN, deadline) < 0)
            goto out;
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        if (in.len + (size_t)n > CONTROL_REPLY_MAX) {
            errno = EMSGSIZE;
            goto out;
        }
        buf_append(&in, chunk, (size_t)n);
    }
    ret = control_parse_reply(buf_str(&in), in.len, reply);
    if (ret < 0)
        buf_reset(reply);
out:;
    int e = errno;
    close(fd);
    buf_free(&req);
    buf_free(&in);
    buf_free(&dummy);
    errno = e;
    return ret;
}
