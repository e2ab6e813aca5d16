/*
 * dns.c - next-hop resolution with c-ares driven by libevent (see dns.h).
 *
 * c-ares owns the sockets and the DNS parsing; this file only watches the
 * sockets c-ares reports through its socket-state callback, runs one timer
 * from ares_timeout(), and turns answers into mail semantics: MX order with
 * equal preferences shuffled, implicit MX, null MX, permanent versus
 * temporary failure.
 *
 * Trusts: nothing in a DNS answer. Counts are capped (DNS_MAX_HOSTS,
 * DNS_MAX_ADDRS), MX targets must be plain host names (anything c-ares had
 * to escape is dropped), and callers get deep copies, never c-ares memory.
 * Only ares_query is used (no search domains, no /etc/hosts), so a lookup
 * means exactly the name it was given.
 */
#include "route/dns.h"
#include "lib/log.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ares.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 255 octets on the wire are at most 253 characters of dotted text. */
#define DNS_NAME_TEXT_MAX 253
#define DNS_INPUT_MAX 255
#define DNS_LABEL_MAX 63

/* One socket c-ares asked us to watch. */
struct dns_sock {
    struct dns_sock *next;
    ares_socket_t fd;
    struct event *ev;
};

struct dns_req;

struct dns {
    struct event_base *base;
    ares_channel channel;
    struct event *timer;
    struct dns_sock *socks;
    struct dns_req *reqs;       /* lookups not yet delivered to their callback */
};

enum dns_qtype { DNS_Q_MX, DNS_Q_A, DNS_Q_AAAA };

/* The argument of one ares_query: which request, host and record type. */
struct dns_slot {
    struct dns_req *req;
    size_t host;
    enum dns_qtype type;
};

struct dns_work_host {
    char *name;
    int pref;
    struct in_addr a4[DNS_MAX_ADDRS];
    size_t n4;
    struct in6_addr a6[DNS_MAX_ADDRS];
    size_t n6;
    int status4, status6;       /* ARES_* outcome of the A / AAAA query */
    struct dns_slot slot4, slot6;
};

struct dns_req {
    struct dns *d;
    struct dns_req *prev, *next;
    char name[DNS_NAME_TEXT_MAX + 1];
    dns_cb cb;
    void *arg;
    struct dns_slot mx_slot;
    struct dns_work_host *hosts;
    size_t nhosts;
    unsigned pending;           /* ares queries not yet answered */
    bool implicit_mx;
    bool finished;
    struct dns_result res;
    struct event *done;         /* delivers res to cb from the event loop */
};

/* Random source for shuffling equal preferences. */

static unsigned (*dns_random_fn)(void);

void dns_set_random(unsigned (*fn)(void))
{
    dns_random_fn = fn;
}

static uint64_t dns_seed(void)
{
    uint64_t seed = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n;
        do
            n = read(fd, &seed, sizeof seed);
        while (n < 0 && errno == EINTR);
        close(fd);
        if (n == (ssize_t)sizeof seed)
            return seed;
    }
    /* No /dev/urandom (chroot): spreading load only needs variety, not secrecy. */
    return (uint64_t)(time_now() * 1e6) ^ ((uint64_t)getpid() << 32);
}

/* splitmix64, seeded once per thread. */
static unsigned dns_random_default(void)
{
    static _Thread_local uint64_t state;
    static _Thread_local bool seeded;
    if (!seeded) {
        state = dns_seed();
        seeded = true;
    }
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (unsigned)((z ^ (z >> 31)) >> 32);
}

static unsigned dns_random(void)
{
    return dns_random_fn ? dns_random_fn() : dns_random_default();
}

/* Results. */

void dns_result_free(struct dns_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nhosts; i++) {
        for (size_t j = 0; j < r->hosts[i].naddrs; j++)
            free(r->hosts[i].addrs[j]);
        free(r->hosts[i].addrs);
        free(r->hosts[i].name);
    }
    free(r->hosts);
    free(r->why);
    memset(r, 0, sizeof *r);
}

void dns_result_copy(struct dns_result *dst, const struct dns_result *src)
{
    *dst = *src;
    dst->why = xstrdup(src->why ? src->why : "");
    dst->hosts = src->nhosts ? xcalloc(src->nhosts, sizeof *dst->hosts) : NULL;
    for (size_t i = 0; i < src->nhosts; i++) {
        const struct dns_host *h = &src->hosts[i];
        dst->hosts[i].name = xstrdup(h->name);
        dst->hosts[i].pref = h->pref;
        dst->hosts[i].naddrs = h->naddrs;
        dst->hosts[i].addrs = xcalloc(h->naddrs, sizeof(char *));
        for (size_t j = 0; j < h->naddrs; j++)
            dst->hosts[i].addrs[j] = xstrdup(h->addrs[j]);
    }
}

/* Names. */

bool dns_is_address(const char *text)
{
    unsigned char tmp[sizeof(struct in6_addr)];
    return text && (inet_pton(AF_INET, text, tmp) == 1 || inet_pton(AF_INET6, text, tmp) == 1);
}

/* Canonical text of a bare address, or false. */
static bool dns_canonical_address(const char *text, bool v6_only, char out[INET6_ADDRSTRLEN])
{
    struct in_addr a4;
    struct in6_addr a6;
    if (!v6_only && inet_pton(AF_INET, text, &a4) == 1)
        return inet_ntop(AF_INET, &a4, out, INET6_ADDRSTRLEN) != NULL;
    if (inet_pton(AF_INET6, text, &a6) == 1)
        return inet_ntop(AF_INET6, &a6, out, INET6_ADDRSTRLEN) != NULL;
    return false;
}

/* A plain host name: dot-separated labels of letters, digits, '-' and '_'.
 * Everything else (escapes c-ares made for odd octets, spaces, controls) is
 * refused, so names are safe in queries and log lines alike. */
static bool dns_valid_name(const char *s, size_t len)
{
    if (len == 0 || len > DNS_NAME_TEXT_MAX)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                   || c == '-' || c == '_') {
            if (++label > DNS_LABEL_MAX)
                return false;
        } else {
            return false;
        }
    }
    return label > 0;
}

/* A name that failed validation, made safe for a log line. */
static char *dns_printable(const char *s)
{
    size_t n = strnlen(s, 64);
    char *out = xmalloc(n + 4);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
    }
    strcpy(out + n, s[n] ? "..." : "");
    return out;
}

/* Requests: completion. */

static void dns_req_free(struct dns_req *req)
{
    for (size_t i = 0; i < req->nhosts; i++)
        free(req->hosts[i].name);
    free(req->hosts);
    dns_result_free(&req->res);
    if (req->done)
        event_free(req->done);
    free(req);
}

static void dns_req_unlink(struct dns_req *req)
{
    if (req->prev)
        req->prev->next = req->next;
    else
        req->d->reqs = req->next;
    if (req->next)
        req->next->prev = req->prev;
    req->prev = req->next = NULL;
}

/* Runs from the event loop, never inside c-ares, so cb may call dns_free
 * or dns_resolve freely. */
static void dns_req_deliver(evutil_socket_t fd, short what, void *arg)
{
    struct dns_req *req = arg;
    (void)fd;
    (void)what;
    dns_req_unlink(req);
    req->cb(req->arg, &req->res);
    dns_req_free(req);
}

static void dns_req_finish(struct dns_req *req, enum dns_status status, char *why)
{
    if (req->finished)
        msg_panic("dns_req_finish: lookup of %s finished twice", req->name);
    req->finished = true;
    req->res.status = status;
    req->res.why = why ? why : xstrdup("");
    event_active(req->done, EV_TIMEOUT, 1);
}

static char *dns_why(const char *name, const char *type, const char *text)
{
    return xasprintf("Host or domain name not found. Name service error for name=%s type=%s: %s",
                     name, type, text);
}

static bool dns_temporary(int status)
{
    return status != ARES_SUCCESS && status != ARES_ENODATA && status != ARES_ENOTFOUND
        && status != ARES_EBADNAME;
}

/* Every A/AAAA answer is in: keep the hosts that have addresses. */
static void dns_addrs_finish(struct dns_req *req)
{
    struct dns_result *res = &req->res;
    res->implicit_mx = req->implicit_mx;
    res->hosts = xcalloc(req->nhosts, sizeof *res->hosts);
    for (size_t i = 0; i < req->nhosts; i++) {
        struct dns_work_host *w = &req->hosts[i];
        size_t n = w->n4 + w->n6;
        if (n == 0)
            continue;
        if (n > DNS_MAX_ADDRS)
            n = DNS_MAX_ADDRS;
        struct dns_host *h = &res->hosts[res->nhosts++];
        h->name = xstrdup(w->name);
        h->pref = w->pref;
        h->addrs = xcalloc(n, sizeof(char *));
        for (size_t j = 0; j < w->n4 && h->naddrs < n; j++) {
            char text[INET6_ADDRSTRLEN];
            inet_ntop(AF_INET, &w->a4[j], text, sizeof text);
            h->addrs[h->naddrs++] = xstrdup(text);
        }
        for (size_t j = 0; j < w->n6 && h->naddrs < n; j++) {
            char text[INET6_ADDRSTRLEN];
            inet_ntop(AF_INET6, &w->a6[j], text, sizeof text);
            h->addrs[h->naddrs++] = xstrdup(text);
        }
    }
    if (res->nhosts > 0) {
        dns_req_finish(req, DNS_OK, NULL);
        return;
    }

    /* No address anywhere. A temporary failure of any host means a later
     * try may succeed; otherwise report the last host, as Postfix does. */
    for (size_t i = 0; i < req->nhosts; i++) {
        struct dns_work_host *w = &req->hosts[i];
        if (dns_temporary(w->status4) || dns_temporary(w->status6)) {
            dns_req_finish(req, DNS_TEMPFAIL,
                           dns_why(w->name, dns_temporary(w->status4) ? "A" : "AAAA",
                                   "Host not found, try again"));
            return;
        }
    }
    struct dns_work_host *last = &req->hosts[req->nhosts - 1];
    dns_req_finish(req, DNS_NOTFOUND,
                   dns_why(last->name, "A",
                           last->status4 == ARES_ENOTFOUND
                               ? "Host not found"
                               : "Host found but no data record of requested type"));
}

/* c-ares plumbing. */

static void dns_timer_update(struct dns *d)
{
    struct timeval tv, *tvp = ares_timeout(d->channel, NULL, &tv);
    if (tvp)
        evtimer_add(d->timer, tvp);
    else
        evtimer_del(d->timer);
}

static void dns_sock_ready(evutil_socket_t fd, short what, void *arg)
{
    struct dns *d = arg;
    ares_process_fd(d->channel, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
                    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
    dns_timer_update(d);
}

static void dns_timer_fired(evutil_socket_t fd, short what, void *arg)
{
    struct dns *d = arg;
    (void)fd;
    (void)what;
    ares_process_fd(d->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    dns_timer_update(d);
}

/* c-ares tells us which of its sockets to watch, and for what; it calls
 * this with (0, 0) before it closes a socket. */
static void dns_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    struct dns *d = data;
    struct dns_sock **pp = &d->socks, *s;
    while ((s = *pp) != NULL && s->fd != fd)
        pp = &s->next;
    if (s && s->ev) {
        event_free(s->ev);
        s->ev = NULL;
    }
    if (!readable && !writable) {
        if (s) {
            *pp = s->next;
            free(s);
        }
        return;
    }
    if (!s) {
        s = xcalloc(1, sizeof *s);
        s->fd = fd;
        s->next = d->socks;
        d->socks = s;
    }
    short events = EV_PERSIST | (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);
    s->ev = event_new(d->base, fd, events, dns_sock_ready, d);
    if (!s->ev || event_add(s->ev, NULL) < 0)
        msg_fatal("dns: cannot watch resolver socket %d", (int)fd);
}

static void dns_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen);

static void dns_query(struct dns_req *req, const char *name, enum dns_qtype type,
                      struct dns_slot *slot)
{
    static const int rrtype[] = {
        [DNS_Q_MX] = ns_t_mx, [DNS_Q_A] = ns_t_a, [DNS_Q_AAAA] = ns_t_aaaa,
    };
    slot->req = req;
    slot->type = type;
    req->pending++;
    ares_query(req->d->channel, name, ns_c_in, rrtype[type], dns_answer, slot);
}

/* Look up A and AAAA of every host in parallel. */
static void dns_start_addrs(struct dns_req *req)
{
    req->pending++;             /* an answer given at once must not finish early */
    for (size_t i = 0; i < req->nhosts; i++) {
        req->hosts[i].slot4.host = req->hosts[i].slot6.host = i;
        dns_query(req, req->hosts[i].name, DNS_Q_A, &req->hosts[i].slot4);
        dns_query(req, req->hosts[i].name, DNS_Q_AAAA, &req->hosts[i].slot6);
    }
    if (--req->pending == 0)
        dns_addrs_finish(req);
}

static void dns_one_host(struct dns_req *req, const char *name)
{
    req->hosts = xcalloc(1, sizeof *req->hosts);
    req->hosts[0].name = xstrdup(name);
    req->hosts[0].pref = -1;
    req->nhosts = 1;
    dns_start_addrs(req);
}

struct dns_mx_pick {
    const char *host;
    int pref;
    size_t order;               /* position in the answer: keeps qsort stable */
};

static int dns_mx_cmp(const void *a, const void *b)
{
    const struct dns_mx_pick *x = a, *y = b;
    if (x->pref != y->pref)
        return x->pref < y->pref ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void dns_mx_answer(struct dns_req *req, int status, const unsigned char *abuf, int alen)
{
    struct ares_mx_reply *mx = NULL;
    if (status == ARES_SUCCESS)
        status = ares_parse_mx_reply(abuf, alen, &mx);
    if (status == ARES_SUCCESS && mx == NULL)
        status = ARES_ENODATA;  /* e.g. only a CNAME in the answer */

    if (status == ARES_ENODATA) {
        /* RFC 5321 5.1: no MX means the domain itself is the only host. */
        req->implicit_mx = true;
        dns_one_host(req, req->name);
        return;
    }
    if (status == ARES_ENOTFOUND || status == ARES_EBADNAME) {
        dns_req_finish(req, DNS_NOTFOUND, dns_why(req->name, "MX", "Host not found"));
        return;
    }
    if (status != ARES_SUCCESS) {
        /* SERVFAIL, REFUSED, timeouts, malformed answers: never bounce mail
         * for a problem the next try may not have. */
        dns_req_finish(req, DNS_TEMPFAIL, dns_why(req->name, "MX", "Host not found, try again"));
        return;
    }

    size_t n = 0;
    for (struct ares_mx_reply *r = mx; r; r = r->next)
        n++;
    if (n == 1 && (mx->host[0] == '\0' || strcmp(mx->host, ".") == 0)) {
        ares_free_data(mx);
        dns_req_finish(req, DNS_NULLMX,
                       xasprintf("domain %s does not accept mail (nullMX)", req->name));
        return;
    }

    struct dns_mx_pick *pick = xcalloc(n, sizeof *pick);
    size_t npick = 0;
    for (struct ares_mx_reply *r = mx; r; r = r->next) {
        if (!dns_valid_name(r->host, strlen(r->host)))
            continue;           /* "." among other records, or an escaped name */
        pick[npick].host = r->host;
        pick[npick].pref = r->priority;
        pick[npick].order = npick;
        npick++;
    }
    qsort(pick, npick, sizeof *pick, dns_mx_cmp);
    /* Shuffle each run of equal preference (Fisher-Yates). */
    for (size_t start = 0; start < npick;) {
        size_t end = start + 1;
        while (end < npick && pick[end].pref == pick[start].pref)
            end++;
        for (size_t i = end - start - 1; i > 0; i--) {
            size_t j = dns_random() % (i + 1);
            struct dns_mx_pick t = pick[start + i];
            pick[start + i] = pick[start + j];
            pick[start + j] = t;
        }
        start = end;
    }

    req->hosts = xcalloc(npick < DNS_MAX_HOSTS ? npick : DNS_MAX_HOSTS, sizeof *req->hosts);
    for (size_t i = 0; i < npick && req->nhosts < DNS_MAX_HOSTS; i++) {
        bool dup = false;
        for (size_t k = 0; k < req->nhosts && !dup; k++)
            dup = ascii_strcasecmp(req->hosts[k].name, pick[i].host) == 0;
        if (dup)
            continue;           /* sorted first, so the best preference is kept */
        req->hosts[req->nhosts].name = xstrdup(pick[i].host);
        req->hosts[req->nhosts].pref = pick[i].pref;
        req->nhosts++;
    }
    free(pick);
    ares_free_data(mx);

    if (req->nhosts == 0) {
        dns_req_finish(req, DNS_NOTFOUND,
                       dns_why(req->name, "MX", "no MX record names a valid host"));
        return;
    }
    dns_start_addrs(req);
}

static void dns_addr_answer(struct dns_work_host *w, enum dns_qtype type, int status,
                            const unsigned char *abuf, int alen)
{
    int n = DNS_MAX_ADDRS;
    if (type == DNS_Q_A) {
        struct ares_addrttl ttl[DNS_MAX_ADDRS];
        if (status == ARES_SUCCESS)
            status = ares_parse_a_reply(abuf, alen, NULL, ttl, &n);
        for (int i = 0; status == ARES_SUCCESS && i < n; i++) {
            bool dup = false;
            for (size_t k = 0; k < w->n4 && !dup; k++)
                dup = memcmp(&w->a4[k], &ttl[i].ipaddr, sizeof w->a4[k]) == 0;
            if (!dup)
                w->a4[w->n4++] = ttl[i].ipaddr;
        }
        if (status == ARES_SUCCESS && w->n4 == 0)
            status = ARES_ENODATA;
        w->status4 = status;
    } else {
        struct ares_addr6ttl ttl[DNS_MAX_ADDRS];
        if (status == ARES_SUCCESS)
            status = ares_parse_aaaa_reply(abuf, alen, NULL, ttl, &n);
        for (int i = 0; status == ARES_SUCCESS && i < n; i++) {
            bool dup = false;
            for (size_t k = 0; k < w->n6 && !dup; k++)
                dup = memcmp(&w->a6[k], &ttl[i].ip6addr, sizeof w->a6[k]) == 0;
            if (!dup)
                memcpy(&w->a6[w->n6++], &ttl[i].ip6addr, sizeof w->a6[0]);
        }
        if (status == ARES_SUCCESS && w->n6 == 0)
            status = ARES_ENODATA;
        w->status6 = status;
    }
}

static void dns_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct dns_slot *slot = arg;
    (void)timeouts;
    /* The channel is being torn down by dns_free, which frees the request. */
    if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED)
        return;
    struct dns_req *req = slot->req;
    req->pending--;
    if (slot->type == DNS_Q_MX) {
        dns_mx_answer(req, status, abuf, alen);
        return;
    }
    dns_addr_answer(&req->hosts[slot->host], slot->type, status, abuf, alen);
    if (req->pending == 0)
        dns_addrs_finish(req);
}

/* Public interface. */

/* dns_servers text -> the CSV c-ares wants ("1.2.3.4:53,[::1]:5353,::1"). */
static bool dns_servers_csv(const char *servers, struct buf *csv, struct buf *err)
{
    const char *p = servers;
    for (;;) {
        while (*p == ',' || *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (!*p)
            return true;
        const char *start = p;
        while (*p && *p != ',' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            p++;
        size_t n = (size_t)(p - start);
        char item[128];
        if (n >= sizeof item) {
            buf_printf(err, "invalid DNS server \"%.*s...\": too long", 40, start);
            return false;
        }
        memcpy(item, start, n);
        item[n] = 0;

        char *host = item, *port = NULL;
        if (item[0] == '[') {
            char *close = strchr(item, ']');
            if (!close || (close[1] && close[1] != ':')) {
                buf_printf(err, "invalid DNS server \"%s\": expected [address]:port", item);
                return false;
            }
            *close = 0;
            host = item + 1;
            if (close[1] == ':')
                port = close + 2;
        } else {
            char *colon = strchr(item, ':');
            if (colon && colon == strrchr(item, ':')) {  /* one colon: IPv4:port */
                *colon = 0;
                port = colon + 1;
            }
        }
        long portnum = 0;
        if (port && !parse_long(port, 1, 65535, &portnum)) {
            buf_printf(err, "invalid DNS server \"%.*s\": bad port \"%s\"", (int)n, start, port);
            return false;
        }
        char addr[INET6_ADDRSTRLEN];
        struct in_addr a4;
        bool v4 = inet_pton(AF_INET, host, &a4) == 1;
        if (!dns_canonical_address(host, false, addr)) {
            buf_printf(err, "invalid DNS server \"%.*s\": not an IP address", (int)n, start);
            return false;
        }
        if (csv->len)
            buf_putc(csv, ',');
        if (portnum && v4)
            buf_printf(csv, "%s:%ld", addr, portnum);
        else if (portnum)
            buf_printf(csv, "[%s]:%ld", addr, portnum);
        else
            buf_puts(csv, addr);  /* c-ares refuses "[::1]" without a port */
    }
}

struct dns *dns_create(struct event_base *base, const char *servers, int timeout_ms, int tries,
                       struct buf *err)
{
    struct buf csv = BUF_INIT;
    if (servers && !dns_servers_csv(servers, &csv, err)) {
        buf_free(&csv);
        return NULL;
    }
    int rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) {
        buf_printf(err, "cannot initialise c-ares: %s", ares_strerror(rc));
        buf_free(&csv);
        return NULL;
    }

    struct dns *d = xcalloc(1, sizeof *d);
    d->base = base;
    struct ares_options opt;
    memset(&opt, 0, sizeof opt);
    int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS
        | ARES_OPT_SOCK_STATE_CB;
    opt.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
    opt.timeout = timeout_ms > 0 ? timeout_ms : DNS_DEFAULT_TIMEOUT_MS;
    opt.tries = tries > 0 ? tries : DNS_DEFAULT_TRIES;
    opt.lookups = (char *)"b";  /* DNS only, never /etc/hosts */
    opt.sock_state_cb = dns_sock_state;
    opt.sock_state_cb_data = d;
    if (csv.len) {
        /* Explicit servers: nothing from the machine's resolv.conf either. */
        opt.resolvconf_path = (char *)"/dev/null";
        mask |= ARES_OPT_RESOLVCONF;
    }
    rc = ares_init_options(&d->channel, &opt, mask);
    if (rc == ARES_SUCCESS && csv.len) {
        rc = ares_set_servers_ports_csv(d->channel, buf_str(&csv));
        if (rc != ARES_SUCCESS)
            ares_destroy(d->channel);
    }
    buf_free(&csv);
    if (rc != ARES_SUCCESS) {
        buf_printf(err, "cannot initialise the DNS resolver: %s", ares_strerror(rc));
        free(d);
        ares_library_cleanup();
        return NULL;
    }
    d->timer = evtimer_new(base, dns_timer_fired, d);
    if (!d->timer)
        msg_fatal("dns: cannot create a timer event");
    return d;
}

void dns_free(struct dns *d)
{
    if (!d)
        return;
    /* Pending queries see ARES_EDESTRUCTION; sockets are reported closed. */
    ares_destroy(d->channel);
    while (d->socks) {
        struct dns_sock *s = d->socks;
        d->socks = s->next;
        if (s->ev)
            event_free(s->ev);
        free(s);
    }
    event_free(d->timer);
    while (d->reqs) {
        struct dns_req *req = d->reqs;
        d->reqs = req->next;
        dns_req_free(req);
    }
    free(d);
    ares_library_cleanup();
}

/* A literal next hop: "1.2.3.4", "2001:db8::1", "[1.2.3.4]", "[ipv6:::1]". */
static void dns_address_result(struct dns_req *req, const char *addr)
{
    struct dns_result *res = &req->res;
    res->was_address = true;
    res->hosts = xcalloc(1, sizeof *res->hosts);
    res->nhosts = 1;
    res->hosts[0].name = xstrdup("");
    res->hosts[0].pref = -1;
    res->hosts[0].addrs = xcalloc(1, sizeof(char *));
    res->hosts[0].addrs[0] = xstrdup(addr);
    res->hosts[0].naddrs = 1;
    dns_req_finish(req, DNS_OK, NULL);
}

void dns_resolve(struct dns *d, const char *name, bool mx, dns_cb cb, void *arg)
{
    struct dns_req *req = xcalloc(1, sizeof *req);
    req->d = d;
    req->cb = cb;
    req->arg = arg;
    req->done = event_new(d->base, -1, 0, dns_req_deliver, req);
    if (!req->done)
        msg_fatal("dns: cannot create an event");
    req->next = d->reqs;
    if (d->reqs)
        d->reqs->prev = req;
    d->reqs = req;

    const char *type = mx ? "MX" : "A";
    if (!name)
        name = "";
    size_t len = strnlen(name, DNS_INPUT_MAX + 3);
    if (len > DNS_INPUT_MAX + 2) {      /* room for the brackets of a literal */
        char *shown = dns_printable(name);
        dns_req_finish(req, DNS_NOTFOUND, dns_why(shown, type, "Name too long"));
        free(shown);
        return;
    }

    char text[DNS_INPUT_MAX + 3];
    memcpy(text, name, len + 1);
    char *host = text;
    if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
        /* Brackets: an address literal, or a host name whose MX must not be used. */
        text[len - 1] = 0;
        host = text + 1;
        bool v6 = ascii_prefix(host, "ipv6:");
        char addr[INET6_ADDRSTRLEN];
        if (dns_canonical_address(v6 ? host + 5 : host, v6, addr)) {
            dns_address_result(req, addr);
            return;
        }
        mx = false;
        type = "A";
    } else {
        char addr[INET6_ADDRSTRLEN];
        if (dns_canonical_address(host, false, addr)) {
            dns_address_result(req, addr);
            return;
        }
    }
    size_t hlen = strlen(host);
    if (hlen > 1 && host[hlen - 1] == '.')
        host[--hlen] = 0;       /* "example.com." is the same domain */
    if (hlen > DNS_NAME_TEXT_MAX) {
        char *shown = dns_printable(host);
        dns_req_finish(req, DNS_NOTFOUND, dns_why(shown, type, "Name too long"));
        free(shown);
        return;
    }
    if (!dns_valid_name(host, hlen)) {
        char *shown = dns_printable(host);
        dns_req_finish(req, DNS_NOTFOUND, dns_why(shown, type, "Malformed domain name"));
        free(shown);
        return;
    }
    memcpy(req->name, host, hlen + 1);

    if (mx)
        dns_query(req, req->name, DNS_Q_MX, &req->mx_slot);
    else
        dns_one_host(req, req->name);
    dns_timer_update(d);
}

struct dns_sync {
    bool done;
    struct dns_result *out;
};

static void dns_sync_done(void *arg, const struct dns_result *r)
{
    struct dns_sync *s = arg;
    dns_result_copy(s->out, r);
    s->done = true;
}

void dns_resolve_sync(const char *servers, const char *name, bool mx, struct dns_result *out)
{
    memset(out, 0, sizeof *out);
    struct event_base *base = event_base_new();
    if (!base)
        msg_fatal("dns: cannot create an event base");
    struct buf err = BUF_INIT;
    struct dns *d = dns_create(base, servers, 0, 0, &err);
    if (!d) {
        out->status = DNS_TEMPFAIL;
        out->why = buf_steal(&err);
        buf_free(&err);
        event_base_free(base);
        return;
    }
    buf_free(&err);
    struct dns_sync s = {false, out};
    dns_resolve(d, name, mx, dns_sync_done, &s);
    while (!s.done)
        if (event_base_loop(base, EVLOOP_ONCE) != 0 && !s.done)
            msg_panic("dns_resolve_sync: event loop ran dry before the answer for %s", name);
    dns_free(d);
    event_base_free(base);
}
