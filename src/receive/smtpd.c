/*
 * smtpd.c - the SMTP server's front door: bind the smtpd_listen sockets,
 * accept connections, enforce the per-client and total connection caps, and
 * run one session over standard input/output for "sendmail -bs".
 *
 * Binding happens before privileges are dropped (port 25); accepting and
 * everything after it runs unprivileged on the event loop.
 *
 * Trusts: the configuration (smtpd_listen, limits). Client addresses come
 * from accept(2).
 */
#include "receive/smtpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/params.h"
#include "lib/util.h"
#include "receive/smtp_session.h"

#define SMTPD_MAX_LISTEN 32
#define SMTPD_BACKLOG 128

static int listen_fds[SMTPD_MAX_LISTEN];
static size_t listen_count;
static struct evconnlistener *listeners[SMTPD_MAX_LISTEN];
static size_t listener_count;
static const struct smtpd_config *smtpd_cfg;
static struct event_base *smtpd_base;
static unsigned sessions;

/* Open connections per client address. A plain array: its length is
 * bounded by smtpd_session_limit, and a scan is cheap next to a session. */
struct client_count {
    char addr[64];
    unsigned n;
};
static struct client_count *clients;
static size_t nclients, clients_cap;

static struct client_count *smtpd_client_find(const char *addr, bool create)
{
    for (size_t i = 0; i < nclients; i++)
        if (strcmp(clients[i].addr, addr) == 0)
            return &clients[i];
    if (!create)
        return NULL;
    if (nclients == clients_cap) {
        clients_cap = clients_cap ? 2 * clients_cap : 64;
        clients = xrealloc(clients, clients_cap * sizeof(*clients));
    }
    struct client_count *c = &clients[nclients++];
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    c->n = 0;
    return c;
}

static void smtpd_client_release(const char *addr)
{
    struct client_count *c = smtpd_client_find(addr, false);
    if (!c)
        return;
    if (--c->n == 0)
        *c = clients[--nclients];
}

/* ---------------------------------------------------------------- bind */

/* "addr:port" or "[v6addr]:port" ("*" or an empty host: every address). */
static bool smtpd_split_listen(const char *item, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon;
    if (item[0] == '[') {
        const char *close = strchr(item, ']');
        if (!close || close[1] != ':')
            return false;
        if ((size_t)(close - item - 1) >= hostlen)
            return false;
        memcpy(host, item + 1, (size_t)(close - item - 1));
        host[close - item - 1] = 0;
        colon = close + 1;
    } else {
        colon = strrchr(item, ':');
        if (!colon || (size_t)(colon - item) >= hostlen)
            return false;
        memcpy(host, item, (size_t)(colon - item));
        host[colon - item] = 0;
    }
    if (!colon[1] || strlen(colon + 1) >= portlen)
        return false;
    snprintf(port, portlen, "%s", colon + 1);
    for (const char *p = port; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    if (strcmp(host, "*") == 0)
        host[0] = 0;
    return true;
}

static int smtpd_bind_one(const char *item, struct buf *err)
{
    char host[256], port[16];
    if (!smtpd_split_listen(item, host, sizeof(host), port, sizeof(port))) {
        buf_printf(err, "smtpd_listen: bad address \"%s\" (expected address:port or [ipv6]:port)", item);
        return -1;
    }
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (gai != 0) {
        buf_printf(err, "smtpd_listen: cannot resolve \"%s\": %s", item, gai_strerror(gai));
        return -1;
    }
    int rc = 0;
    for (struct addrinfo *ai = res; ai && rc == 0; ai = ai->ai_next) {
        if (listen_count >= SMTPD_MAX_LISTEN) {
            buf_printf(err, "smtpd_listen: more than %d addresses", SMTPD_MAX_LISTEN);
            rc = -1;
            break;
        }
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            buf_printf(err, "smtpd_listen: %s: socket: %s", item, strerror(errno));
            rc = -1;
            break;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        /* "[::]:25" next to "0.0.0.0:25" must not claim the IPv4 port too. */
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SMTPD_BACKLOG) < 0) {
            buf_printf(err, "smtpd_listen: cannot listen on %s: %s", item, strerror(errno));
            close(fd);
            rc = -1;
            break;
        }
        listen_fds[listen_count++] = fd;
    }
    freeaddrinfo(res);
    return rc;
}

int smtpd_bind(struct buf *err)
{
    struct strlist items;
    strlist_split(&items, var_smtpd_listen ? var_smtpd_listen : "");
    int rc = 0;
    if (items.n == 0) {
        buf_printf(err, "smtpd_listen is empty");
        rc = -1;
    }
    for (size_t i = 0; i < items.n && rc == 0; i++)
        rc = smtpd_bind_one(items.v[i], err);
    strlist_free(&items);
    if (rc != 0) {
        for (size_t i = 0; i < listen_count; i++)
            close(listen_fds[i]);
        listen_count = 0;
    }
    return rc;
}

/* ---------------------------------------------------------------- accept */

struct smtpd_conn {
    char addr[64];
};

static void smtpd_session_closed(void *arg)
{
    struct smtpd_conn *conn = arg;
    smtpd_client_release(conn->addr);
    free(conn);
    sessions--;
}

/* Refuse before any session exists; a short write to a new socket does
 * not block. */
static void smtpd_refuse(evutil_socket_t fd, const char *reply)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "%s\r\n", reply);
    if (n > 0)
        (void)send(fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1,
                   MSG_DONTWAIT | MSG_NOSIGNAL);
    evutil_closesocket(fd);
}

static void smtpd_sockaddr_text(const struct sockaddr *sa, char *out, size_t outlen)
{
    out[0] = 0;
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outlen);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)outlen);
        else
            inet_ntop(AF_INET6, a, out, (socklen_t)outlen);
    }
}

static void smtpd_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                         void *arg)
{
    (void)l;
    (void)arg;
    char addr[64];
    smtpd_sockaddr_text(sa, addr, sizeof(addr));
    char reply[400];
    if (sessions >= (unsigned long)var_smtpd_session_limit) {
        log_mail("smtpd", "warning: session limit (%ld) reached; refusing %s", var_smtpd_session_limit,
                 addr);
        snprintf(reply, sizeof(reply), "421 4.3.2 %s Error: too many connections, try again later",
                 var_myhostname);
        smtpd_refuse(fd, reply);
        return;
    }
    struct client_count *c = smtpd_client_find(addr, true);
    if (var_smtpd_client_connection_count_limit > 0 &&
        c->n >= (unsigned long)var_smtpd_client_connection_count_limit) {
        /* anvil's wording; the name rule is the session's: no reverse DNS */
        bool loopback = strcmp(addr, "127.0.0.1") == 0 || strcmp(addr, "::1") == 0;
        log_mail("smtpd", "warning: Connection concurrency limit exceeded: %u from %s[%s] for service smtp",
                 c->n + 1, loopback ? "localhost" : "unknown", addr);
        snprintf(reply, sizeof(reply), "421 4.7.0 %s Error: too many connections from %s", var_myhostname,
                 addr);
        if (c->n == 0)
            smtpd_client_release(addr);
        smtpd_refuse(fd, reply);
        return;
    }
    struct bufferevent *bev =
        bufferevent_socket_new(smtpd_base, fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (!bev) {
        msg_warn("smtpd: cannot create a bufferevent for %s", addr);
        if (c->n == 0)
            smtpd_client_release(addr);
        evutil_closesocket(fd);
        return;
    }
    c->n++;
    sessions++;
    struct smtpd_conn *conn = xcalloc(1, sizeof(*conn));
    snprintf(conn->addr, sizeof(conn->addr), "%s", addr);
    smtp_session_start(smtpd_base, smtpd_cfg, bev, sa, (socklen_t)salen, smtpd_session_closed, conn);
}

static void smtpd_accept_error(struct evconnlistener *l, void *arg)
{
    (void)l;
    (void)arg;
    /* EMFILE and friends: keep serving the sessions we have. */
    msg_warn("smtpd: accept: %s", strerror(errno));
}

void smtpd_start(struct event_base *base, const struct smtpd_config *cfg)
{
    smtpd_base = base;
    smtpd_cfg = cfg;
    for (size_t i = 0; i < listen_count; i++) {
        struct evconnlistener *l = evconnlistener_new(base, smtpd_accept, NULL,
                                                      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1,
                                                      listen_fds[i]);
        if (!l)
            msg_fatal("smtpd: cannot listen on descriptor %d", listen_fds[i]);
        evconnlistener_set_error_cb(l, smtpd_accept_error);
        listeners[listener_count++] = l;
    }
    listen_count = 0;       /* the listeners own the descriptors now */
}

void smtpd_stop(void)
{
    for (size_t i = 0; i < listener_count; i++)
        evconnlistener_free(listeners[i]);
    listener_count = 0;
    for (size_t i = 0; i < listen_count; i++)
        close(listen_fds[i]);
    listen_count = 0;
    smtp_session_shutdown_all();
}

unsigned smtpd_session_count(void)
{
    return sessions;
}

/* ---------------------------------------------------------------- -bs */

/*
 * sendmail -bs: the session speaks on one end of a socketpair; two threads
 * copy stdin to the other end and the other end to stdout with blocking
 * I/O. Threads rather than bufferevents on fd 0/1 because those may be
 * regular files or /dev/null ("sendmail -bs < script"), which epoll refuses.
 * The threads touch only their three descriptors, never libevent.
 */
struct stdio_relay {
    int in_fd, out_fd, sock;
    bool session_done;
};

static void *smtpd_stdin_pump(void *arg)
{
    struct stdio_relay *r = arg;
    char buf[16384];
    for (;;) {
        ssize_t n = read(r->in_fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t off = 0;
        while (off < (size_t)n) {
            ssize_t w = send(r->sock, buf + off, (size_t)n - off, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                goto done;
            off += (size_t)w;
        }
    }
done:
    shutdown(r->sock, SHUT_WR);
    return NULL;
}

static void *smtpd_stdout_pump(void *arg)
{
    struct stdio_relay *r = arg;
    char buf[16384];
    bool out_ok = true;
    for (;;) {
        ssize_t n = recv(r->sock, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        /* Keep draining after stdout fails, so the session never blocks. */
        if (out_ok && write_all(r->out_fd, buf, (size_t)n) < 0)
            out_ok = false;
    }
    return NULL;
}

static void smtpd_stdio_closed(void *arg)
{
    struct stdio_relay *r = arg;
    r->session_done = true;
}

int smtpd_run_stdio(struct event_base *base, const struct smtpd_config *cfg, int in_fd, int out_fd)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        msg_error("smtpd: socketpair: %s", strerror(errno));
        return -1;
    }
    evutil_make_socket_nonblocking(sv[0]);
    struct bufferevent *bev =
        bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (!bev) {
        close(sv[0]);
        close(sv[1]);
        msg_error("smtpd: cannot create a bufferevent");
        return -1;
    }
    struct stdio_relay r = {in_fd, out_fd, sv[1], false};

    /* The pumps must see EPIPE, not die of SIGPIPE, if stdout goes away. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    pthread_t tin, tout;
    bool have_in = pthread_create(&tin, NULL, smtpd_stdin_pump, &r) == 0;
    bool have_out = have_in && pthread_create(&tout, NULL, smtpd_stdout_pump, &r) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!have_out) {
        if (have_in) {
            pthread_cancel(tin);
            pthread_join(tin, NULL);
        }
        bufferevent_free(bev);
        close(sv[1]);
        msg_error("smtpd: cannot start the -bs relay threads");
        return -1;
    }

    smtp_session_start(base, cfg, bev, NULL, 0, smtpd_stdio_closed, &r);
    while (!r.session_done)
        if (event_base_loop(base, EVLOOP_ONCE) != 0)
            break;
    if (!r.session_done)
        shutdown(sv[1], SHUT_RDWR);     /* the loop failed: unblock the pumps */

    /* The session closed its end: the stdout pump sees EOF once the last
     * reply is through. The stdin pump may sit in read() on a terminal. */
    pthread_join(tout, NULL);
    pthread_cancel(tin);
    pthread_join(tin, NULL);
    close(sv[1]);
    return r.session_done ? 0 : -1;
}
