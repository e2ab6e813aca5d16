/*
 * netaddr.c - network lists (mynetworks), domain lists (mydestination,
 * relay_domains) and our own addresses, in Postfix list syntax (see
 * netaddr.h).
 *
 * An IPv4 client that reaches an IPv6 socket shows up as ::ffff:a.b.c.d;
 * it is matched as the IPv4 address it is, so "10.0.0.0/8" in mynetworks
 * means the same on a dual-stack listener.
 *
 * Trusts: the configuration text and the files it names. Client addresses
 * come from accept(2) or the PROXY header and are only compared, bit by bit.
 */
#include "lib/netaddr.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/map.h"
#include "lib/params.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* "/file" items may name files that name files; this bounds the recursion. */
#define NETADDR_FILE_DEPTH 8
/* A list file bigger than this is a mistake, not a list. */
#define NETADDR_FILE_MAX (16 * 1024 * 1024)
/* How long the interface address list (getifaddrs) is trusted. */
#define OWN_ADDR_TTL 60.0

/* An address in network byte order; IPv4 uses the first 4 bytes. */
struct ipaddr {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char a[16];
};

/* ---- shared item plumbing ------------------------------------------- */

/* Read a list file: '#' lines are comments; the rest is list text. */
static char *netaddr_read_file(const char *path, struct buf *err)
{
    FILE *fp = fopen(path, "re");
    if (!fp) {
        buf_printf(err, "open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct buf text = BUF_INIT;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    bool ok = true;
    while ((n = getline(&line, &cap, fp)) >= 0) {
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#')
            continue;
        if (text.len + (size_t)n > NETADDR_FILE_MAX) {
            buf_printf(err, "%s: file too large", path);
            ok = false;
            break;
        }
        buf_append(&text, line, (size_t)n);
        buf_putc(&text, ' ');
    }
    if (ok && ferror(fp)) {
        buf_printf(err, "read %s: %s", path, strerror(errno));
        ok = false;
    }
    free(line);
    fclose(fp);
    if (!ok) {
        buf_free(&text);
        return NULL;
    }
    return buf_steal(&text);
}

/* "type:table" (letters, then ':'), as opposed to an IPv6 address: its
 * first group is hex digits only, and is never followed by ":/" or ":{"
 * ("cdb:/etc/x" is a table, "cdb::1" an address). */
static bool netaddr_is_table(const char *item)
{
    const char *p = item;
    bool non_hex = false;
    while (isalpha((unsigned char)*p)) {
        if (!isxdigit((unsigned char)*p))
            non_hex = true;
        p++;
    }
    return p > item && *p == ':' && (non_hex || p[1] == '/' || p[1] == '{');
}

/* The parser of one kind of list: add one plain item (no '!', no file). */
typedef bool (*netaddr_item_fn)(void *list, const char *item, bool neg, struct buf *err);

/*
 * Walk list text: split into items, peel '!' (several flip back), expand
 * "/file" recursively with the negation carried into the file's items (as
 * Postfix's match_list does).
 */
static bool netaddr_walk(const char *value, void *list, netaddr_item_fn add, bool neg, int depth, struct buf *err)
{
    struct strlist items = {NULL, 0};
    bool ok = true;

    strlist_split(&items, value);
    for (size_t i = 0; i < items.n && ok; i++) {
        const char *item = items.v[i];
        bool n = neg;
        while (*item == '!') {
            n = !n;
            item++;
        }
        if (*item == 0) {
            buf_printf(err, "no pattern after '!' in \"%s\"", items.v[i]);
            ok = false;
        } else if (*item == '/') {
            if (depth >= NETADDR_FILE_DEPTH) {
                buf_printf(err, "%s: files nested too deeply", item);
                ok = false;
                break;
            }
            char *text = netaddr_read_file(item, err);
            if (!text) {
                ok = false;
                break;
            }
            struct buf sub = BUF_INIT;
            ok = netaddr_walk(text, list, add, n, depth + 1, &sub);
            if (!ok)
                buf_printf(err, "%s: %s", item, buf_str(&sub));
            buf_free(&sub);
            free(text);
        } else
            ok = add(list, item, n, err);
    }
    strlist_free(&items);
    return ok;
}

/* ---- addresses ------------------------------------------------------ */

/* Parse "1.2.3.4", "::1", "[::1]", "[ipv6:::1]" (case-insensitive tag). */
static bool netaddr_parse_ip(const char *text, struct ipaddr *ip)
{
    char tmp[INET6_ADDRSTRLEN + 8];
    size_t n = strlen(text);

    if (n >= 2 && text[0] == '[' && text[n - 1] == ']') {
        text++;
        n -= 2;
        if (n > 5 && ascii_strncasecmp(text, "ipv6:", 5) == 0) {
            text += 5;
            n -= 5;
        }
    }
    if (n == 0 || n >= sizeof(tmp))
        return false;
    memcpy(tmp, text, n);
    tmp[n] = 0;
    memset(ip, 0, sizeof(*ip));
    if (inet_pton(AF_INET, tmp, ip->a) == 1) {
        ip->family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, tmp, ip->a) == 1) {
        ip->family = AF_INET6;
        return true;
    }
    return false;
}

static bool netaddr_from_sockaddr(const struct sockaddr *sa, struct ipaddr *ip)
{
    memset(ip, 0, sizeof(*ip));
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;
        ip->family = AF_INET;
        memcpy(ip->a, &sin->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
        ip->family = AF_INET6;
        memcpy(ip->a, &sin6->sin6_addr, 16);
        return true;
    }
    return false;
}

/* ::ffff:a.b.c.d -> a.b.c.d; anything else unchanged. */
static struct ipaddr netaddr_unmap(const struct ipaddr *ip)
{
    static const unsigned char prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    struct ipaddr r = *ip;
    if (ip->family == AF_INET6 && memcmp(ip->a, prefix, 12) == 0) {
        memset(&r, 0, sizeof(r));
        r.family = AF_INET;
        memcpy(r.a, ip->a + 12, 4);
    }
    return r;
}

static bool netaddr_prefix_match(const unsigned char *a, const unsigned char *net, int bits)
{
    int bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, net, (size_t)bytes) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[bytes] & mask) == (net[bytes] & mask);
}

static void netaddr_ip_text(const struct ipaddr *ip, char *out, size_t outlen)
{
    if (!inet_ntop(ip->family, ip->a, out, (socklen_t)outlen) && outlen)
        out[0] = 0;
}

/* ---- netlist -------------------------------------------------------- */

struct netitem {
    bool neg;
    struct ipaddr net;      /* family 0 for a table item */
    int prefix;
    struct map *table;      /* "type:table": keyed by the client address */
};

struct netlist {
    struct netitem *v;
    size_t n, cap;
};

static void netlist_push(struct netlist *l, struct netitem it)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = it;
}

static bool netlist_add(void *list, const char *item, bool neg, struct buf *err)
{
    struct netlist *l = list;
    struct netitem it = {.neg = neg};

    if (netaddr_is_table(item)) {
        if (!(it.table = map_open(item, err)))
            return false;
        netlist_push(l, it);
        return true;
    }
    char addr[128];
    const char *slash = strrchr(item, '/');
    size_t alen = slash ? (size_t)(slash - item) : strlen(item);
    if (alen == 0 || alen >= sizeof(addr))
        goto bad;
    memcpy(addr, item, alen);
    addr[alen] = 0;
    if (!netaddr_parse_ip(addr, &it.net))
        goto bad;
    int maxbits = it.net.family == AF_INET ? 32 : 128;
    long len = maxbits;
    if (slash && !parse_long(slash + 1, 0, maxbits, &len))
        goto bad;
    it.prefix = (int)len;

    /* Postfix refuses 10.0.0.1/8 rather than guess what was meant */
    unsigned char masked[16] = {0};
    memcpy(masked, it.net.a, (size_t)it.prefix / 8);
    if (it.prefix % 8)
        masked[it.prefix / 8] = (unsigned char)(it.net.a[it.prefix / 8] & (0xff << (8 - it.prefix % 8)));
    if (memcmp(masked, it.net.a, (size_t)maxbits / 8) != 0) {
        char fixed[INET6_ADDRSTRLEN];
        struct ipaddr m = it.net;
        memcpy(m.a, masked, sizeof(masked));
        netaddr_ip_text(&m, fixed, sizeof(fixed));
        buf_printf(err, "non-null host address bits in \"%s\", perhaps you should use \"%s%s%s/%d\" instead",
                   item, m.family == AF_INET6 ? "[" : "", fixed, m.family == AF_INET6 ? "]" : "", it.prefix);
        return false;
    }
    netlist_push(l, it);
    return true;
bad:
    buf_printf(err, "bad network \"%s\"", item);
    return false;
}

struct netlist *netlist_parse(const char *value, struct buf *err)
{
    struct netlist *l = xcalloc(1, sizeof(*l));
    if (!netaddr_walk(value ? value : "", l, netlist_add, false, 0, err)) {
        netlist_free(l);
        return NULL;
    }
    return l;
}

static bool netitem_match(const struct netitem *it, const struct ipaddr *ip, const struct ipaddr *v4)
{
    if (it->table) {
        char text[INET6_ADDRSTRLEN];
        netaddr_ip_text(v4->family ? v4 : ip, text, sizeof(text));
        return map_lookup(it->table, text, NULL) != NULL;
    }
    if (it->net.family == ip->family && netaddr_prefix_match(ip->a, it->net.a, it->prefix))
        return true;
    return v4->family == AF_INET && it->net.family == AF_INET &&
           netaddr_prefix_match(v4->a, it->net.a, it->prefix);
}

static bool netlist_match_ip(const struct netlist *l, const struct ipaddr *ip)
{
    struct ipaddr v4 = netaddr_unmap(ip);
    if (v4.family != AF_INET)
        v4.family = 0;
    for (size_t i = 0; i < l->n; i++)
        if (netitem_match(&l->v[i], ip, &v4))
            return !l->v[i].neg;
    return false;
}

bool netlist_match(const struct netlist *l, const struct sockaddr *sa)
{
    struct ipaddr ip;
    return l && netaddr_from_sockaddr(sa, &ip) && netlist_match_ip(l, &ip);
}

bool netlist_match_text(const struct netlist *l, const char *addr)
{
    struct ipaddr ip;
    return l && addr && netaddr_parse_ip(addr, &ip) && netlist_match_ip(l, &ip);
}

void netlist_free(struct netlist *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        map_close(l->v[i].table);
    free(l->v);
    free(l);
}

/*
 * Widest = largest share of its address space: IPv4 /8 (8 of 32 bits)
 * counts as wider than IPv6 /64 (64 of 128). Negated and table items do
 * not count. -1 for a list without networks.
 */
int netlist_widest_prefix(const struct netlist *l, bool *is_ipv6)
{
    int best = -1;
    bool best6 = false;

    for (size_t i = 0; l && i < l->n; i++) {
        const struct netitem *it = &l->v[i];
        if (it->neg || it->table)
            continue;
        bool v6 = it->net.family == AF_INET6;
        int scaled = v6 ? it->prefix : it->prefix * 4;
        if (best < 0 || scaled < (best6 ? best : best * 4)) {
            best = it->prefix;
            best6 = v6;
        }
    }
    if (is_ipv6)
        *is_ipv6 = best6;
    return best;
}

/* ---- domlist -------------------------------------------------------- */

struct domitem {
    bool neg;
    bool sub_only;          /* ".example.com": subdomains only */
    char *name;             /* lower case, without '!' and leading '.' */
    char *why;              /* the item as written, for 'yubin route' */
    struct map *table;
};

struct domlist {
    struct domitem *v;
    size_t n, cap;
    bool parent;            /* example.com also matches sub.example.com */
};

static bool domlist_add(void *list, const char *item, bool neg, struct buf *err)
{
    struct domlist *l = list;
    struct domitem it = {.neg = neg};

    if (strchr(item, ':') && item[0] != '[') {
        if (!(it.table = map_open(item, err)))
            return false;
    } else {
        const char *p = item;
        if (*p == '.') {
            it.sub_only = true;
            p++;
        }
        size_t n = strlen(p);
        if (n > 1 && p[n - 1] == '.')
            n--;                                /* "example.com." */
        if (n == 0 || memchr(p, '.', 1) || strstr(p, "..")) {
            buf_printf(err, "bad domain \"%s\"", item);
            return false;
        }
        it.name = xstrndup(p, n);
        ascii_lowercase(it.name);
    }
    it.why = xasprintf("%s%s", neg ? "!" : "", item);
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = it;
    return true;
}

struct domlist *domlist_parse(const char *value, bool parent_matches_subdomains, struct buf *err)
{
    struct domlist *l = xcalloc(1, sizeof(*l));
    l->parent = parent_matches_subdomains;
    if (!netaddr_walk(value ? value : "", l, domlist_add, false, 0, err)) {
        domlist_free(l);
        return NULL;
    }
    return l;
}

/* Is domain a proper subdomain of name ("a.example.com" of "example.com")? */
static bool domlist_is_sub(const char *domain, const char *name)
{
    size_t dl = strlen(domain), nl = strlen(name);
    return dl > nl + 1 && domain[dl - nl - 1] == '.' && strcmp(domain + dl - nl, name) == 0;
}

/*
 * Table items follow Postfix's match_hostname: look up the domain, then
 * each parent, as "example.com" in parent mode and ".example.com"
 * otherwise. Only the key matters, the value is ignored.
 */
static bool domitem_table_match(const struct domlist *l, const struct domitem *it, const char *domain)
{
    if (map_lookup(it->table, domain, NULL))
        return true;
    for (const char *p = strchr(domain, '.'); p && p[1]; p = strchr(p + 1, '.'))
        if (map_lookup(it->table, l->parent ? p + 1 : p, NULL))
            return true;
    return false;
}

bool domlist_match(const struct domlist *l, const char *domain, const char **why)
{
    if (why)
        *why = NULL;
    if (!l || !domain || !*domain)
        return false;
    for (size_t i = 0; i < l->n; i++) {
        const struct domitem *it = &l->v[i];
        bool hit;
        if (it->table)
            hit = domitem_table_match(l, it, domain);
        else if (it->sub_only)
            hit = domlist_is_sub(domain, it->name);
        else
            hit = strcmp(domain, it->name) == 0 || (l->parent && domlist_is_sub(domain, it->name));
        if (hit) {
            if (why)
                *why = it->why;
            return !it->neg;
        }
    }
    return false;
}

void domlist_free(struct domlist *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].why);
        map_close(l->v[i].table);
    }
    free(l->v);
    free(l);
}

/* ---- sockaddr helpers ----------------------------------------------- */

void sockaddr_to_text(const struct sockaddr *sa, char *out, size_t outlen)
{
    struct ipaddr ip;
    if (!outlen)
        return;
    if (!netaddr_from_sockaddr(sa, &ip)) {
        snprintf(out, outlen, "unknown");
        return;
    }
    ip = netaddr_unmap(&ip);
    netaddr_ip_text(&ip, out, outlen);
}

int sockaddr_port(const struct sockaddr *sa)
{
    if (sa && sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
    if (sa && sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
    return -1;
}

/* ---- our own addresses ---------------------------------------------- */

struct own_addrs {
    struct ipaddr *v;
    size_t n, cap;
    char *key;              /* the parameter values this was built from */
    double built;
};

static struct own_addrs own;

static void own_add(const struct ipaddr *ip)
{
    struct ipaddr u = netaddr_unmap(ip);
    for (size_t i = 0; i < own.n; i++)
        if (own.v[i].family == u.family && memcmp(own.v[i].a, u.a, 16) == 0)
            return;
    if (own.n == own.cap) {
        own.cap = own.cap ? own.cap * 2 : 16;
        own.v = xrealloc(own.v, own.cap * sizeof(*own.v));
    }
    own.v[own.n++] = u;
}

static void own_add_interfaces(void)
{
    struct ifaddrs *ifa, *p;
    struct ipaddr ip;

    if (getifaddrs(&ifa) != 0) {
        msg_warn("getifaddrs: %s", strerror(errno));
        return;
    }
    for (p = ifa; p; p = p->ifa_next)
        if (netaddr_from_sockaddr(p->ifa_addr, &ip))
            own_add(&ip);
    freeifaddrs(ifa);
}

static void own_add_loopback(void)
{
    struct ipaddr ip;
    netaddr_parse_ip("127.0.0.1", &ip);
    own_add(&ip);
    netaddr_parse_ip("::1", &ip);
    own_add(&ip);
}

static bool own_is_wildcard(const struct ipaddr *ip)
{
    static const unsigned char zero[16];
    return memcmp(ip->a, zero, ip->family == AF_INET ? 4 : 16) == 0;
}

/* A host item: an address, "[v6]", or a name resolved once here. */
static void own_add_host(const char *host)
{
    struct ipaddr ip;

    if (!*host || strcmp(host, "*") == 0) {
        own_add_interfaces();
        return;
    }
    if (netaddr_parse_ip(host, &ip)) {
        if (own_is_wildcard(&ip))
            own_add_interfaces();
        else
            own_add(&ip);
        return;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *r;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        msg_warn("cannot find the addresses of own interface \"%s\": %s", host, gai_strerror(rc));
        return;
    }
    for (r = res; r; r = r->ai_next)
        if (netaddr_from_sockaddr(r->ai_addr, &ip))
            own_add(&ip);
    freeaddrinfo(res);
}

/* smtpd_listen items are "address:port", "[ipv6]:port", ":port", "port". */
static void own_add_listen(const char *item)
{
    char host[256];
    const char *colon;

    if (item[0] == '[') {
        const char *close = strchr(item, ']');
        if (!close)
            return;
        colon = close + 1;
        snprintf(host, sizeof(host), "%.*s", (int)(colon - item), item);
    } else if ((colon = strrchr(item, ':')) != NULL)
        snprintf(host, sizeof(host), "%.*s", (int)(colon - item), item);
    else if (strspn(item, "0123456789") == strlen(item))
        host[0] = 0;                            /* a bare port */
    else
        snprintf(host, sizeof(host), "%s", item);
    own_add_host(host);
}

static void own_rebuild(void)
{
    struct strlist l = {NULL, 0};

    own.n = 0;
    strlist_split(&l, var_smtpd_listen ? var_smtpd_listen : "");
    for (size_t i = 0; i < l.n; i++)
        own_add_listen(l.v[i]);
    strlist_free(&l);

    strlist_split(&l, var_inet_interfaces ? var_inet_interfaces : "");
    for (size_t i = 0; i < l.n; i++) {
        if (ascii_strcasecmp(l.v[i], "all") == 0)
            own_add_interfaces();
        else if (ascii_strcasecmp(l.v[i], "loopback-only") == 0)
            own_add_loopback();
        else
            own_add_host(l.v[i]);
    }
    strlist_free(&l);

    strlist_split(&l, var_proxy_interfaces ? var_proxy_interfaces : "");
    for (size_t i = 0; i < l.n; i++)
        own_add_host(l.v[i]);
    strlist_free(&l);
}

bool own_address_literal(const char *literal)
{
    struct ipaddr ip;

    if (!literal || !netaddr_parse_ip(literal, &ip))
        return false;
    ip = netaddr_unmap(&ip);

    /* rebuilt when the configuration changed, and now and then for the
     * interface addresses behind a wildcard */
    char *key = xasprintf("%s\n%s\n%s", var_smtpd_listen ? var_smtpd_listen : "",
                          var_inet_interfaces ? var_inet_interfaces : "",
                          var_proxy_interfaces ? var_proxy_interfaces : "");
    double now = time_monotonic();
    if (!own.key || strcmp(own.key, key) != 0 || now - own.built > OWN_ADDR_TTL) {
        own_rebuild();
        free(own.key);
        own.key = key;
        own.built = now;
    } else
        free(key);

    for (size_t i = 0; i < own.n; i++)
        if (own.v[i].family == ip.family && memcmp(own.v[i].a, ip.a, 16) == 0)
            return true;
    return false;
}
