/*
 * dns.h - asynchronous next-hop resolution with c-ares on the daemon's
 * libevent loop: MX records in preference order (random order among equal
 * preferences, so load spreads as field report S4's six icloud.com MX hosts
 * at preference 10 expect), then A/AAAA of each host; implicit MX (the
 * domain's own A/AAAA) when there is no MX record; RFC 7505 null MX.
 *
 * Outcomes map to mail semantics: NXDOMAIN and null MX are permanent
 * (bounce at once), SERVFAIL/timeouts/refused are temporary (defer).
 * A next hop that is already an IP address (a bare "10.11.12.13" as in field
 * report S4, or a literal "[10.11.12.13]" / "[ipv6:...]" / "2001:db8::1") is
 * used as that address with no lookup at all.
 *
 * Trusts: DNS answers are hostile input; c-ares parses them; names and
 * counts are bounded here (at most DNS_MAX_HOSTS hosts, DNS_MAX_ADDRS
 * addresses per host, names at most 255 octets).
 */
#ifndef YUBIN_DNS_H
#define YUBIN_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/buf.h"

struct event_base;

#define DNS_MAX_HOSTS 32
#define DNS_MAX_ADDRS 16

enum dns_status {
    DNS_OK = 0,
    DNS_NOTFOUND,       /* NXDOMAIN, or no MX and no A/AAAA: permanent (5.4.4) */
    DNS_NULLMX,         /* RFC 7505 "0 ." : permanent (5.1.10 "domain does not accept mail") */
    DNS_TEMPFAIL,       /* SERVFAIL, timeout, refused: temporary (4.4.3) */
};

struct dns_host {
    char *name;         /* MX target or the host itself; "" for a bare address */
    int pref;           /* MX preference; -1 for implicit MX / no MX lookup */
    char **addrs;       /* textual IPv4/IPv6 addresses, IPv4 first unless the
                           answer only has IPv6 */
    size_t naddrs;
};

struct dns_result {
    enum dns_status status;
    char *why;          /* human text, never NULL, "" when DNS_OK: "Host or domain
                           name not found. Name service error for name=x
                           type=MX: Host not found" */
    bool was_address;   /* the query was an IP address: no lookup was made */
    bool implicit_mx;   /* no MX record: the domain's own addresses are used */
    struct dns_host *hosts;   /* in the order to try */
    size_t nhosts;
};
void dns_result_free(struct dns_result *r);
/* Deep copy, for a caller that keeps a result beyond its dns_cb. */
void dns_result_copy(struct dns_result *dst, const struct dns_result *src);

struct dns;
/* servers: the dns_servers parameter, "address[:port]" items separated by
 * commas/whitespace (IPv6 as "[::1]:5353" or a bare "::1"); empty or NULL =
 * /etc/resolv.conf. timeout_ms / tries for each query (<= 0: the defaults
 * below). NULL with err on failure. Each resolver holds a reference on the
 * c-ares library (ares_library_init), which is not thread-safe: create and
 * free resolvers from one thread at a time. */
#define DNS_DEFAULT_TIMEOUT_MS 5000
#define DNS_DEFAULT_TRIES 2
struct dns *dns_create(struct event_base *base, const char *servers, int timeout_ms, int tries,
                       struct buf *err);
/* Cancels every lookup still in progress; their callbacks are not called.
 * Safe to call from inside a dns_cb. */
void dns_free(struct dns *d);

/*
 * Resolve a next hop. mx=true: MX lookup of name (domain semantics);
 * mx=false: the host's own A/AAAA only ("[host]" semantics). A bracketed
 * name ("[mx.example]") is looked up as mx=false whatever mx says. cb runs
 * once on the event loop, always after dns_resolve has returned (bare
 * addresses too), and owns nothing: the result is freed after cb returns.
 */
typedef void (*dns_cb)(void *arg, const struct dns_result *r);
void dns_resolve(struct dns *d, const char *name, bool mx, dns_cb cb, void *arg);

/* Synchronous convenience for tools ('yubin route', 'yubin check'): runs a
 * private event loop until the answer is in (default timeout and tries).
 * An invalid servers string gives DNS_TEMPFAIL with the reason in why.
 * Caller frees with dns_result_free. */
void dns_resolve_sync(const char *servers, const char *name, bool mx, struct dns_result *out);

/* Is text a bare IPv4/IPv6 address (no brackets)? */
bool dns_is_address(const char *text);

/* Random source for shuffling MX hosts of equal preference; NULL restores
 * the default (a generator seeded once per thread from /dev/urandom).
 * Tests inject a deterministic one; set it before lookups start. */
void dns_set_random(unsigned (*fn)(void));

#endif
