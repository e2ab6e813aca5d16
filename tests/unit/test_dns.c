/*
 * test_dns.c - unit tests of src/route/dns.c against a private dnsmasq.
 *
 * The group setup writes a dnsmasq.conf into a fresh /tmp directory, starts
 * `dnsmasq -C CONF -k` on 127.0.0.1 (and ::1 when the machine has it) on a
 * free port, and waits until the port shows up in /proc/net/udp, so no probe
 * query ever reaches the server. Tests that need it are skipped with a
 * message when dnsmasq is not installed. "Silent" servers are UDP sockets
 * this process binds and never reads: a query sent there times out, and a
 * datagram waiting in one proves that a lookup was made.
 *
 * Trusts: nothing; every name lives under .test and every address is
 * loopback.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "route/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct {
    bool found;             /* dnsmasq is installed */
    bool running;
    char why[256];          /* why it did not start */
    pid_t pid;
    char dir[64];
    char conf[128];
    char log[128];
    int port;
    bool v6;                /* also listening on ::1 */
    int stall_fd;           /* silent socket that stall.test is forwarded to */
    char servers[64];       /* "127.0.0.1:PORT" */
} peer = {.stall_fd = -1};

#define NEED_DNSMASQ()                                                                 \
    do {                                                                               \
        if (!peer.found) {                                                             \
            print_message("dnsmasq not found in PATH, /usr/sbin or /sbin: skipped\n"); \
            skip();                                                                    \
        }                                                                              \
        if (!peer.running)                                                             \
            fail_msg("dnsmasq did not start: %s", peer.why);                           \
    } while (0)

/* Sockets. */

static int silent_socket(int family, int *port)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *sin;
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_addr = in6addr_loopback;
        len = sizeof *sin6;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
        close(fd);
        return -1;
    }
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

static bool got_datagram(int fd)
{
    char b[512];
    ssize_t n = recv(fd, b, sizeof b, MSG_DONTWAIT);
    return n >= 0;
}

static bool bind_port(int family, int type, int port)
{
    int fd = socket(family, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin6.sin6_addr = in6addr_loopback;
    int rc = family == AF_INET ? bind(fd, (struct sockaddr *)&sin, sizeof sin)
                               : bind(fd, (struct sockaddr *)&sin6, sizeof sin6);
    close(fd);
    return rc == 0;
}

/* A port free for UDP and TCP on 127.0.0.1 (and ::1 when v6). */
static int free_port(bool v6)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        int port;
        int fd = silent_socket(AF_INET, &port);
        if (fd < 0)
            continue;
        close(fd);
        if (bind_port(AF_INET, SOCK_DGRAM, port) && bind_port(AF_INET, SOCK_STREAM, port)
            && (!v6 || (bind_port(AF_INET6, SOCK_DGRAM, port)
                        && bind_port(AF_INET6, SOCK_STREAM, port))))
            return port;
    }
    return -1;
}

/* Is something bound to addr:port in /proc/net/udp{,6}? Reading the kernel's
 * table sends nothing to the server. */
static bool udp_bound(int family, int port)
{
    char want[64];
    if (family == AF_INET) {
        struct in_addr a;
        a.s_addr = htonl(INADDR_LOOPBACK);
        snprintf(want, sizeof want, "%08X:%04X", (unsigned)a.s_addr, (unsigned)port);
    } else {
        uint32_t w[4];
        memcpy(w, &in6addr_loopback, sizeof w);
        snprintf(want, sizeof want, "%08X%08X%08X%08X:%04X", (unsigned)w[0], (unsigned)w[1],
                 (unsigned)w[2], (unsigned)w[3], (unsigned)port);
    }
    FILE *f = fopen(family == AF_INET ? "/proc/net/udp" : "/proc/net/udp6", "r");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        char local[64];
        if (sscanf(line, " %*s %63s", local) == 1 && strcmp(local, want) == 0)
            found = true;
    }
    fclose(f);
    return found;
}

static bool find_program(const char *name, char *out, size_t outlen)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin");
    for (char *save = NULL, *dir = strtok_r(dirs, ":", &save); dir;
         dir = strtok_r(NULL, ":", &save)) {
        snprintf(out, outlen, "%s/%s", dir, name);
        if (access(out, X_OK) == 0)
            return true;
    }
    return false;
}

/* The dnsmasq peer. */

static bool write_conf(int stall_port)
{
    FILE *f = fopen(peer.conf, "w");
    if (!f)
        return false;
    fprintf(f, "port=%d\n", peer.port);
    fprintf(f, "listen-address=127.0.0.1%s\n", peer.v6 ? ",::1" : "");
    /* Without bind-interfaces dnsmasq binds the wildcard address. */
    fprintf(f, "bind-interfaces\nno-resolv\nno-hosts\nno-poll\npid-file=\n");
    fprintf(f, "log-facility=%s\nlog-queries\n", peer.log);
    if (geteuid() == 0)     /* keep our ids, so PR_SET_PDEATHSIG survives */
        fprintf(f, "user=root\ngroup=root\n");
    fprintf(f, "local=/test/\naddress=/#/\n");
    fprintf(f, "server=/stall.test/127.0.0.1#%d\n", stall_port);
    static const char *const records[] = {
        "mx-host=multi.test,mx1.multi.test,10",
        "mx-host=multi.test,mx2.multi.test,10",
        "mx-host=multi.test,mx3.multi.test,10",
        "mx-host=multi.test,mx4.multi.test,10",
        "mx-host=multi.test,backup.multi.test,20",
        "host-record=mx1.multi.test,127.0.0.2",
        "host-record=mx2.multi.test,127.0.0.3",
        "host-record=mx3.multi.test,127.0.0.4",
        "host-record=mx4.multi.test,127.0.0.5",
        "host-record=backup.multi.test,127.0.0.6",
        "host-record=nomx.test,127.0.0.7",
        "mx-host=nullmx.test,.,0",
        "host-record=dual.test,127.0.0.8,::1",
        "host-record=six.test,::1",
        "mx-host=partial.test,gone.test,5",
        "mx-host=partial.test,mx1.multi.test,10",
        "mx-host=dead.test,gone.test,10",
        "mx-host=flaky.test,mx.stall.test,10",
        "mx-host=flaky2.test,mx.stall.test,5",
        "mx-host=flaky2.test,mx1.multi.test,10",
        "mx-host=dup.test,mx1.multi.test,20",
        "mx-host=dup.test,mx1.multi.test,10",
    };
    for (size_t i = 0; i < ARRAY_LEN(records); i++)
        fprintf(f, "%s\n", records[i]);
    /* 40 MX hosts: more than DNS_MAX_HOSTS, and too big for UDP (TCP retry). */
    for (int i = 1; i <= 40; i++)
        fprintf(f, "mx-host=many.test,h%d.many.test,10\nhost-record=h%d.many.test,127.0.1.%d\n", i,
                i, i);
    /* 20 A records: more than DNS_MAX_ADDRS. */
    for (int i = 1; i <= 20; i++)
        fprintf(f, "address=/wide.test/127.0.2.%d\n", i);
    return fclose(f) == 0;
}

static int peer_start(void **state)
{
    (void)state;
    char prog[512];
    peer.found = find_program("dnsmasq", prog, sizeof prog);
    if (!peer.found)
        return 0;
    snprintf(peer.dir, sizeof peer.dir, "/tmp/yubin-dns.XXXXXX");
    if (!mkdtemp(peer.dir)) {
        snprintf(peer.why, sizeof peer.why, "mkdtemp: %s", strerror(errno));
        peer.dir[0] = 0;
        return 0;
    }
    chmod(peer.dir, 0755);
    snprintf(peer.conf, sizeof peer.conf, "%s/dnsmasq.conf", peer.dir);
    snprintf(peer.log, sizeof peer.log, "%s/dnsmasq.log", peer.dir);
    int probe_port;
    int probe = silent_socket(AF_INET6, &probe_port);
    peer.v6 = probe >= 0;
    if (probe >= 0)
        close(probe);
    int stall_port;
    peer.stall_fd = silent_socket(AF_INET, &stall_port);
    peer.port = free_port(peer.v6);
    if (peer.port < 0 || !write_conf(stall_port)) {
        snprintf(peer.why, sizeof peer.why, "no free port or cannot write %s", peer.conf);
        return 0;
    }
    snprintf(peer.servers, sizeof peer.servers, "127.0.0.1:%d", peer.port);

    pid_t parent = getpid();
    peer.pid = fork();
    assert_true(peer.pid >= 0);
    if (peer.pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);   /* no orphan if the test crashes */
        if (getppid() != parent)
            _exit(1);
        execl(prog, "dnsmasq", "-C", peer.conf, "-k", (char *)NULL);
        _exit(127);
    }
    double deadline = time_monotonic() + 5.0;
    while (time_monotonic() < deadline) {
        int st;
        if (waitpid(peer.pid, &st, WNOHANG) == peer.pid) {
            snprintf(peer.why, sizeof peer.why, "dnsmasq exited (status %d); see %s", st,
                     peer.log);
            peer.pid = 0;
            return 0;
        }
        if (udp_bound(AF_INET, peer.port) && (!peer.v6 || udp_bound(AF_INET6, peer.port))) {
            peer.running = true;
            return 0;
        }
        usleep(5000);
    }
    snprintf(peer.why, sizeof peer.why, "port %d not bound after 5 s", peer.port);
    return 0;
}

static int peer_stop(void **state)
{
    (void)state;
    if (peer.pid > 0) {
        kill(peer.pid, SIGTERM);
        waitpid(peer.pid, NULL, 0);
    }
    if (peer.stall_fd >= 0)
        close(peer.stall_fd);
    if (peer.dir[0]) {
        unlink(peer.conf);
        unlink(peer.log);
        rmdir(peer.dir);
    }
    return 0;
}

/* Running lookups. */

struct env {
    struct event_base *base;
    struct dns *d;
    struct event *tick;     /* keeps EVLOOP_ONCE from waiting forever */
};

static void tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

static void env_open(struct env *e, const char *servers, int timeout_ms, int tries)
{
    e->base = event_base_new();
    assert_non_null(e->base);
    struct buf err = BUF_INIT;
    e->d = dns_create(e->base, servers, timeout_ms, tries, &err);
    if (!e->d)
        fail_msg("dns_create(%s): %s", servers, buf_str(&err));
    buf_free(&err);
    e->tick = event_new(e->base, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = {0, 100000};
    event_add(e->tick, &tv);
}

static void env_close(struct env *e)
{
    dns_free(e->d);
    event_free(e->tick);
    event_base_free(e->base);
}

struct outcome {
    bool done;
    int calls;
    struct dns_result r;
};

static void on_result(void *arg, const struct dns_result *r)
{
    struct outcome *o = arg;
    if (!o->done)
        dns_result_copy(&o->r, r);
    o->done = true;
    o->calls++;
}

static void run_until(struct event_base *base, const bool *done)
{
    double deadline = time_monotonic() + 10.0;
    while (!*done) {
        if (time_monotonic() > deadline)
            fail_msg("lookup did not finish within 10 s");
        event_base_loop(base, EVLOOP_ONCE);
    }
}

static void resolve(struct env *e, const char *name, bool mx, struct dns_result *out)
{
    struct outcome o = {0};
    dns_resolve(e->d, name, mx, on_result, &o);
    assert_false(o.done);   /* never called from inside dns_resolve */
    run_until(e->base, &o.done);
    assert_int_equal(o.calls, 1);
    *out = o.r;
}

static void assert_host(const struct dns_host *h, const char *name, int pref, const char *addr)
{
    assert_string_equal(h->name, name);
    assert_int_equal(h->pref, pref);
    assert_int_equal(h->naddrs, 1);
    assert_string_equal(h->addrs[0], addr);
}

/* Tests that need no DNS server. */

static void test_is_address(void **state)
{
    (void)state;
    assert_true(dns_is_address("10.11.12.13"));
    assert_true(dns_is_address("::1"));
    assert_true(dns_is_address("2001:db8::1"));
    assert_false(dns_is_address("[10.11.12.13]"));
    assert_false(dns_is_address("10.11.12"));
    assert_false(dns_is_address("10.11.12.13 "));
    assert_false(dns_is_address("www.lifewithunix.jp"));
    assert_false(dns_is_address(""));
    assert_false(dns_is_address(NULL));
}

/* Field report S4: "10.11.12.13" as a smart host is that address. The
 * configured server is a silent socket: an empty socket afterwards proves
 * that no query was sent. */
static void test_literals_make_no_query(void **state)
{
    (void)state;
    int port;
    int fd = silent_socket(AF_INET, &port);
    char servers[64];
    snprintf(servers, sizeof servers, "127.0.0.1:%d", port);
    struct env e;
    env_open(&e, servers, 200, 1);
    static const struct {
        const char *in, *addr;
    } cases[] = {
        {"10.11.12.13", "10.11.12.13"},  {"[127.0.0.5]", "127.0.0.5"},
        {"[ipv6:::1]", "::1"},           {"[IPv6:2001:DB8::1]", "2001:db8::1"},
        {"2001:db8::0:1", "2001:db8::1"}, {"[2001:db8::2]", "2001:db8::2"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        for (int mx = 0; mx <= 1; mx++) {
            struct dns_result r;
            resolve(&e, cases[i].in, mx, &r);
            assert_int_equal(r.status, DNS_OK);
            assert_true(r.was_address);
            assert_false(r.implicit_mx);
            assert_string_equal(r.why, "");
            assert_int_equal(r.nhosts, 1);
            assert_host(&r.hosts[0], "", -1, cases[i].addr);
            dns_result_free(&r);
        }
    }
    struct dns_result r;
    dns_resolve_sync(servers, "10.11.12.13", true, &r);
    assert_int_equal(r.status, DNS_OK);
    assert_true(r.was_address);
    assert_host(&r.hosts[0], "", -1, "10.11.12.13");
    dns_result_free(&r);
    env_close(&e);
    assert_false(got_datagram(fd));
    close(fd);
}

static void test_bad_names_rejected(void **state)
{
    (void)state;
    int port;
    int fd = silent_socket(AF_INET, &port);
    char servers[64];
    snprintf(servers, sizeof servers, "127.0.0.1:%d", port);
    struct env e;
    env_open(&e, servers, 200, 1);

    char longname[400];
    size_t n = 0;
    while (n < 300) {       /* 300 octets of valid labels */
        memcpy(longname + n, "abcdefghi.", 10);
        n += 10;
    }
    memcpy(longname + n - 1, "", 1);
    struct dns_result r;
    resolve(&e, longname, true, &r);
    assert_int_equal(r.status, DNS_NOTFOUND);
    assert_non_null(strstr(r.why, "type=MX: Name too long"));
    assert_true(strlen(r.why) < 200);   /* the name is not echoed in full */
    dns_result_free(&r);

    /* 254 characters: one more than DNS can carry. */
    memset(longname, 'a', 254);
    for (int i = 50; i < 254; i += 50)
        longname[i] = '.';
    longname[254] = 0;
    resolve(&e, longname, false, &r);
    assert_int_equal(r.status, DNS_NOTFOUND);
    assert_non_null(strstr(r.why, "type=A: Name too long"));
    dns_result_free(&r);

    static const char *const bad[] = {
        "", ".", "exa mple.test", "a..test", "-\x01.test", "under\\.score.test", "[]",
        "[10.0.0.1]:25", "[ipv6:10.0.0.1]",
        /* a 64-octet label */
        "x0123456789012345678901234567890123456789012345678901234567890123.test",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        resolve(&e, bad[i], true, &r);
        assert_int_equal(r.status, DNS_NOTFOUND);
        assert_non_null(strstr(r.why, "Malformed domain name"));
        assert_null(strchr(r.why, '\x01'));
        assert_int_equal(r.nhosts, 0);
        dns_result_free(&r);
    }
    env_close(&e);
    assert_false(got_datagram(fd));
    close(fd);
}

/* A server that never answers: timeout 200 ms, 1 try -> temporary failure. */
static void test_timeout_is_tempfail(void **state)
{
    (void)state;
    int port;
    int fd = silent_socket(AF_INET, &port);
    char servers[64];
    snprintf(servers, sizeof servers, "127.0.0.1:%d", port);
    struct env e;
    env_open(&e, servers, 200, 1);
    double t0 = time_monotonic();
    struct dns_result r;
    resolve(&e, "example.test", true, &r);
    double took = time_monotonic() - t0;
    assert_int_equal(r.status, DNS_TEMPFAIL);
    assert_string_equal(r.why, "Host or domain name not found. Name service error for "
                               "name=example.test type=MX: Host not found, try again");
    assert_int_equal(r.nhosts, 0);
    assert_true(took >= 0.15);
    assert_true(took < 2.0);
    dns_result_free(&r);
    assert_true(got_datagram(fd));  /* the query did go to that server */

    /* Host lookup (mx=false): A and AAAA both time out. */
    resolve(&e, "host.example.test", false, &r);
    assert_int_equal(r.status, DNS_TEMPFAIL);
    assert_non_null(strstr(r.why, "name=host.example.test type=A"));
    dns_result_free(&r);
    env_close(&e);
    close(fd);
}

static void test_servers_syntax(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    static const char *const bad[] = {"bogus",         "localhost:53",  "127.0.0.1:0",
                                      "127.0.0.1:70000", "[::1",         "[::1]x",
                                      "1.2.3.4:",      "[::1]:",        "1.2.3.4.5"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        struct buf err = BUF_INIT;
        struct dns *d = dns_create(base, bad[i], 100, 1, &err);
        if (d)
            fail_msg("servers \"%s\" accepted", bad[i]);
        assert_non_null(strstr(buf_str(&err), "invalid DNS server"));
        buf_free(&err);
    }
    static const char *const good[] = {"127.0.0.1", "127.0.0.1:5353, [::1]:5353 ::1",
                                       "[127.0.0.1]:53,,", " \t", ""};
    for (size_t i = 0; i < ARRAY_LEN(good); i++) {
        struct buf err = BUF_INIT;
        struct dns *d = dns_create(base, good[i], 100, 1, &err);
        if (!d)
            fail_msg("servers \"%s\" refused: %s", good[i], buf_str(&err));
        dns_free(d);
        buf_free(&err);
    }
    event_base_free(base);

    struct dns_result r;
    dns_resolve_sync("not-an-address", "multi.test", true, &r);
    assert_int_equal(r.status, DNS_TEMPFAIL);
    assert_non_null(strstr(r.why, "not an IP address"));
    dns_result_free(&r);
}

/* dns_free with lookups in flight: no callback, nothing leaks (ASan). */
static void test_free_with_pending_lookups(void **state)
{
    (void)state;
    int port;
    int fd = silent_socket(AF_INET, &port);
    char servers[64];
    snprintf(servers, sizeof servers, "127.0.0.1:%d", port);
    struct env e;
    env_open(&e, servers, 5000, 2);
    struct outcome a = {0}, b = {0}, c = {0};
    dns_resolve(e.d, "one.example.test", true, on_result, &a);
    dns_resolve(e.d, "two.example.test", false, on_result, &b);
    dns_resolve(e.d, "10.0.0.1", true, on_result, &c);   /* answered, not yet delivered */
    dns_free(e.d);
    e.d = NULL;
    for (int i = 0; i < 3; i++)
        event_base_loop(e.base, EVLOOP_NONBLOCK);
    assert_int_equal(a.calls, 0);
    assert_int_equal(b.calls, 0);
    assert_int_equal(c.calls, 0);
    assert_true(got_datagram(fd));      /* the two lookups were really in flight */
    event_free(e.tick);
    event_base_free(e.base);
    close(fd);
}

/* A callback may free the resolver; later deliveries are cancelled. */
struct freeing {
    struct dns *d;
    int calls;
};

static void free_in_callback(void *arg, const struct dns_result *r)
{
    struct freeing *f = arg;
    assert_int_equal(r->status, DNS_OK);
    f->calls++;
    dns_free(f->d);
    f->d = NULL;
}

static void test_free_inside_callback(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct buf err = BUF_INIT;
    struct freeing f = {dns_create(base, "127.0.0.1:9", 200, 1, &err), 0};
    assert_non_null(f.d);
    dns_resolve(f.d, "10.0.0.1", true, free_in_callback, &f);
    dns_resolve(f.d, "10.0.0.2", true, free_in_callback, &f);
    for (int i = 0; i < 5; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(f.calls, 1);
    assert_null(f.d);
    buf_free(&err);
    event_base_free(base);
}

/* Tests against dnsmasq. */

static void test_multi_order_and_spread(void **state)
{
    (void)state;
    NEED_DNSMASQ();
    struct env e;
    env_open(&e, peer.servers, 2000, 2);
    static const char *const primary[4] = {"mx1.multi.test", "mx2.multi.test",
                                           "mx3.multi.test", "mx4.multi.test"};
    static const char *const addr[4] = {"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"};
    int first[4] = {0};
    for (int round = 0; round < 200; round++) {
        struct dns_result r;
        resolve(&e, "multi.test", true, &r);
        assert_int_equal(r.status, DNS_OK);
        assert_false(r.was_address);
        assert_false(r.implicit_mx);
        assert_int_equal(r.nhosts, 5);
        /* The backup is always last, the four primaries a permutation. */
        assert_host(&r.hosts[4], "backup.multi.test", 20, "127.0.0.6");
        bool seen[4] = {false};
        for (size_t i = 0; i < 4; i++) {
            int k = -1;
            for (int j = 0; j < 4; j++)
                if (strcmp(r.hosts[i].name, primary[j]) == 0)
                    k = j;
            if (k < 0)
                fail_msg("unexpected MX host %s", r.hosts[i].name);
            assert_false(seen[k]);
            seen[k] = true;
            assert_host(&r.hosts[i], primary[k], 10, addr[k]);
            if (i == 0)
                first[k]++;
        }
        dns_result_free(&r);
    }
    for (int k = 0; k < 4; k++) {
        print_message("%s first %d times of 200\n", primary[k], first[k]);
        assert_true(first[k] >= 1);
    }
    env_close(&e);
}

static unsigned rnd_calls;
static unsigned rnd_zero(void)
{
    rnd_calls++;
    return 0;
}
static unsigned rnd_big(void)
{
    rnd_calls++;
    return 1000;
}

static void order_of(struct env *e, char out[5][32])
{
    struct dns_result r;
    resolve(e, "multi.test", true, &r);
    assert_int_equal(r.status, DNS_OK);
    assert_int_equal(r.nhosts, 5);
    for (int i = 0; i < 5; i++)
        strncpy(out[i], r.hosts[i].name, 31);
    dns_result_free(&r);
}

/* The shuffle draws from the injected source: 3 draws for 4 equal hosts
 * (none for the lone backup), and the same draws give the same order. */
static void test_injected_random(void **state)
{
    (void)state;
    NEED_DNSMASQ();
    struct env e;
    env_open(&e, peer.servers, 2000, 2);
    char a[5][32] = {{0}}, b[5][32] = {{0}}, c[5][32] = {{0}};
    dns_set_random(rnd_zero);
    rnd_calls = 0;
    order_of(&e, a);
    assert_int_equal(rnd_calls, 3);
    order_of(&e, b);
    assert_int_equal(rnd_calls, 6);
    assert_memory_equal(a, b, sizeof a);
    dns_set_random(rnd_big);
    order_of(&e, c);
    assert_int_equal(rnd_calls, 9);
    assert_true(memcmp(a, c, sizeof a) != 0);
    assert_string_equal(c[4], "backup.multi.test");
    dns_set_random(NULL);
    order_of(&e, c);
    assert_int_equal(rnd_calls, 9);
    env_close(&e);
}

static void test_implicit_mx(void **state)
{
    (void)state;
    NEED_DNSMASQ();
    struct env e;
    env_open(&e, peer.servers, 2000, 2);
    static const char *const names[] = {"nomx.test", "NoMX.Test", "nomx.test."};
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        struct dns_result r;
        resolve(&e, names[i], true, &r);
        assert_int_equal(r.status, DNS_OK);
        assert_true(r.implicit_mx);
        assert_false(r.was_address);
        assert_int_equal(r.nhosts, 1);
        assert_int_equal(r.hosts[0].pref, -1);
        assert_int_equal(ascii_strcasecmp(r.hosts[0].name, "nomx.test"), 0);
        assert_int_equal(r.hosts[0].naddrs, 1);
        assert_string_equal(r.hosts[0].addrs[0], "127.0.0.7");
        dns_result_free(&r);
    }
    env_close(&e);
}

static void test_null_mx(void **state)
{
    (void)state;
    NEED_DNSMASQ();
    struct env e;
    env_open(&e, peer.servers, 2000, 2);
    struct dns_result r;
    resolve(&e, "nullmx.test", true, &r);
    assert_int_equal(r.status, DNS_NULLMX);
    assert_string_equal(r.why, "domain nullmx.test does not accept mail (nullMX)");
    assert_int_equal(r.nhosts, 0);
    dns_result_free(&r);
    env_close(&e);
}

static void test_not_found(void **state)
{
    (void)state;
    NEED_DNSMASQ();
    struct env e;
    env_open(&e, peer.servers, 2000, 2);
    struct dns_result r;
    resolve(&e, "nothere.test", true, &r);
    assert_int_equal(r.status, DNS_NOTFOUND);
    assert_string_equal(r.why, "Host or domain name not found. Name service error for "
                               "name=nothere.test type=MX: Host not found");
    assert_int_equal(r.nhosts, 0);
    dns_result_free(&r);

    resolve(&e, "nothere.test", false, &r);
    assert_int_equal(r.status, DNS_NOTFOUND);
    assert_string_equal(r.why, "Host or domain name not found. Name service error for "
                               "name=nothere.test type=A: Host not found");
    dns_result_free(&r);

    /* The longest legal label (63) and name (253 characters) are asked. */
    char name[300];
    memset(name, 'a', 63);
    snprintf(name + 63, sizeof name - 63, ".test");
    resolve(&e, name, true, &r);
    assert_int_equal(r.status, DNS_NOTFOUND);
    assert_non_null(strstr(r.why, "type=MX: Host not found"));
    dns_result_free(&r);
    memset(name, 'b', 248);
    for (int i = 60; i < 248; i += 60)
        name[i] = '.';
    snprintf(name + 248, sizeof name - 248, ".test");
    assert_int_equal(strlen(name), 253);
    resolve(&e, name, false, &r);
    assert_int_equal(r.status, DNS_NOTFOUND);
    assert_non_null(strstr(r.why, "type=A: Host not found"));
    dns_result_free(&r);

    /* "[multi.test]": brackets suppress the MX lookup; the name has no A. */
    resolve(&e, "[multi.test]", true, &r);
    assert_int_equal(r.status, DNS_NOTFOUND);
    assert_string_equal(r.why, "Host or domain name not found. Name service error for "
                               "name=multi.test type=A: Host found but no data record of "
                               "requested type");
    dns_result_free(&r);
    env_close(&e);
}

static void test_bracketed_host(void **state)
{
    (void)state;
    NEED_DNSMASQ();
    struct env e;
    env_open(&e, peer.servers, 2000, 2);
    struct dns_result r;
    resolve(&e, "[mx1.multi.test]", true, &r);
    assert_int_equal(r.status, DNS_OK);
    assert_false(r.was_address);
    assert_false(r.implicit_mx);
    assert_int_equal(r.nhosts, 1);
    assert_host(&r.hosts[0], "mx1.multi.test", -1, "127.0.0.2");
    dns_result_free(&r);
    env_close(&e);
}

static void test_a_and_aaaa(void **state)
{
    (void)state;
    NEED_DNSMASQ();
    struct env e;
    env_open(&e, peer.servers, 2000, 2);
    struct dns_result r;
    resolve(&e, "dual.test", false, &r);
    assert_int_equal(r.status, DNS_OK);
    assert_false(r.implicit_mx);
    assert_int_equal(r.nhosts, 1);
    assert_string_equal(r.hosts[0].name, "dual.test");
    assert_int_equal(r.hosts[0].pref, -1);
    assert_int_equal(r.hosts[0].naddrs, 2);
    assert_string_equal(r.hosts[0].addrs[0], "127.0.0.8");   /* IPv4 first */
    assert_string_equal(r.hosts[0].addrs[1], "::1");
    dns_result_free(&r);

    resolve(&e, "dual.test", true, &r);   /* no MX: implicit, both families */
    assert_int_equal(r.status, DNS_OK);
    assert_true(r.implicit_mx);
    assert_int_equal(r.hosts[0].naddrs, 2);
    dns_result_free(&r);

    resolve(&e, "six.test", false, &r);
    assert_int_equal(r.status, DNS_OK);
    assert_host(&r.hosts[0], "six.test", -1, "::1");
    dns_result_free(&r);
    env_close(&e);
}

/* MX hosts without addresses are dropped; if none is left the error is
 * permanent, unless one of them failed temporarily. */
static void test_mx_hosts_without_addresses(void **state)
{
    (void)state;
    NEED_DNSMASQ();
    struct env e;
    env_open(&e, peer.servers, 300, 1);
    struct dns_result r;
    resolve(&e, "partial.test", true, &r);
    assert_int_equal(r.status, DNS_OK);
    assert_int_equal(r.nhosts, 1);
    assert_host(&r.hosts[0], "mx1.multi.test", 10, "127.0.0.2");
    dns_result_free(&r);

    resolve(&e, "dead.test", true, &r);
    assert_int_equal(r.status, DNS_NOTFOUND);
    assert_string_equal(r.why, "Host or domain name not found. Name service error for "
                               "name=gone.test type=A: Host not found");
    dns_result_free(&r);

    /* mx.stall.test is forwarded to a server that never answers. */
    resolve(&e, "flaky.test", true, &r);
    assert_int_equal(r.status, DNS_TEMPFAIL);
    assert_string_equal(r.why, "Host or domain name not found. Name service error for "
                               "name=mx.stall.test type=A: Host not found, try again");
    dns_result_free(&r);

    resolve(&e, "flaky2.test", true, &r);
    assert_int_equal(r.status, DNS_OK);
    assert_int_equal(r.nhosts, 1);
    assert_host(&r.hosts[0], "mx1.multi.test", 10, "127.0.0.2");
    dns_result_free(&r);

    resolve(&e, "dup.test", true, &r);   /* the same host twice: best preference */
    assert_int_equal(r.status, DNS_OK);
    assert_int_equal(r.nhosts, 1);
    assert_host(&r.hosts[0], "mx1.multi.test", 10, "127.0.0.2");
    dns_result_free(&r);
    env_close(&e);
}

/* 40 MX hosts (a truncated UDP answer, retried over TCP) are capped at
 * DNS_MAX_HOSTS; 20 A records at DNS_MAX_ADDRS. */
static void test_caps(void **state)
{
    (void)state;
    NEED_DNSMASQ();
    struct env e;
    env_open(&e, peer.servers, 2000, 2);
    struct dns_result r;
    resolve(&e, "many.test", true, &r);
    assert_int_equal(r.status, DNS_OK);
    assert_int_equal(r.nhosts, DNS_MAX_HOSTS);
    bool seen[41] = {false};
    for (size_t i = 0; i < r.nhosts; i++) {
        int n;
        char want[32];
        assert_int_equal(sscanf(r.hosts[i].name, "h%d.many.test", &n), 1);
        assert_true(n >= 1 && n <= 40);
        assert_false(seen[n]);
        seen[n] = true;
        snprintf(want, sizeof want, "127.0.1.%d", n);
        assert_host(&r.hosts[i], r.hosts[i].name, 10, want);
    }
    dns_result_free(&r);

    resolve(&e, "wide.test", false, &r);
    assert_int_equal(r.status, DNS_OK);
    assert_int_equal(r.nhosts, 1);
    assert_int_equal(r.hosts[0].naddrs, DNS_MAX_ADDRS);
    for (size_t i = 0; i < r.hosts[0].naddrs; i++) {
        assert_int_equal(strncmp(r.hosts[0].addrs[i], "127.0.2.", 8), 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(r.hosts[0].addrs[i], r.hosts[0].addrs[j]);
    }
    dns_result_free(&r);
    env_close(&e);
}

/* Lookups run in parallel on one channel. */
static void test_concurrent(void **state)
{
    (void)state;
    NEED_DNSMASQ();
    struct env e;
    env_open(&e, peer.servers, 2000, 2);
    static const char *const names[] = {"multi.test", "nomx.test", "nullmx.test",
                                        "nothere.test", "dual.test", "10.1.2.3"};
    static const enum dns_status want[] = {DNS_OK, DNS_OK, DNS_NULLMX,
                                           DNS_NOTFOUND, DNS_OK, DNS_OK};
    struct outcome o[3 * ARRAY_LEN(names)];
    memset(o, 0, sizeof o);
    for (size_t i = 0; i < ARRAY_LEN(o); i++)
        dns_resolve(e.d, names[i % ARRAY_LEN(names)], true, on_result, &o[i]);
    for (size_t i = 0; i < ARRAY_LEN(o); i++)
        run_until(e.base, &o[i].done);
    for (size_t i = 0; i < ARRAY_LEN(o); i++) {
        assert_int_equal(o[i].calls, 1);
        assert_int_equal(o[i].r.status, want[i % ARRAY_LEN(names)]);
        dns_result_free(&o[i].r);
    }
    env_close(&e);
}

static void test_sync_and_ipv6_server(void **state)
{
    (void)state;
    NEED_DNSMASQ();
    struct dns_result r;
    dns_resolve_sync(peer.servers, "multi.test", true, &r);
    assert_int_equal(r.status, DNS_OK);
    assert_int_equal(r.nhosts, 5);
    assert_string_equal(r.hosts[4].name, "backup.multi.test");
    dns_result_free(&r);

    if (!peer.v6) {
        print_message("no ::1 on this machine: IPv6 server syntax not exercised\n");
        return;
    }
    /* dnsmasq reached over IPv6: "[::1]:port" in the servers list. */
    char servers[96];
    snprintf(servers, sizeof servers, "[::1]:%d", peer.port);
    dns_resolve_sync(servers, "nomx.test", true, &r);
    assert_int_equal(r.status, DNS_OK);
    assert_true(r.implicit_mx);
    assert_string_equal(r.hosts[0].addrs[0], "127.0.0.7");
    dns_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_address),
        cmocka_unit_test(test_literals_make_no_query),
        cmocka_unit_test(test_bad_names_rejected),
        cmocka_unit_test(test_timeout_is_tempfail),
        cmocka_unit_test(test_servers_syntax),
        cmocka_unit_test(test_free_with_pending_lookups),
        cmocka_unit_test(test_free_inside_callback),
        cmocka_unit_test(test_multi_order_and_spread),
        cmocka_unit_test(test_injected_random),
        cmocka_unit_test(test_implicit_mx),
        cmocka_unit_test(test_null_mx),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_bracketed_host),
        cmocka_unit_test(test_a_and_aaaa),
        cmocka_unit_test(test_mx_hosts_without_addresses),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_concurrent),
        cmocka_unit_test(test_sync_and_ipv6_server),
    };
    return cmocka_run_group_tests(tests, peer_start, peer_stop);
}
