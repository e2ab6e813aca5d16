/*
 * plan.h - how the recipients of one message are grouped into delivery
 * transactions. One implementation for the delivery path (deliver/dispatch.c)
 * and for 'yubin route', so what the tool shows is what delivery does.
 *
 * Stage 1 (plan_build): every recipient is resolved (route.h) and recipients
 * with the same (transport, next hop) share a group; a group is cut into
 * transactions of at most the transport's recipient limit
 * (smtp_destination_recipient_limit ...). Local and virtual groups are per
 * recipient (Postfix's local recipient limit is 1).
 * Stage 2 (plan_merge): for SMTP/LMTP groups, once DNS has resolved each
 * group's next hop, groups of the same transport whose MX host lists are
 * identical (same preferences, same names: e.g. many domains hosted by one
 * provider) are merged - Sendmail's MX piggybacking, Exim's multi_domain.
 * Groups that go to the same next hop through different transports stay
 * apart; plan_split_warnings() explains each such split (field report S0).
 */
#ifndef YUBIN_PLAN_H
#define YUBIN_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/buf.h"
#include "queue/envelope.h"
#include "route/dns.h"
#include "route/route.h"
#include "route/transport.h"

struct plan_group {
    const struct transport_def *t;
    char nexthop[512];
    size_t *rcpt;               /* indexes into the envelope's recipients */
    size_t n;
    struct route *routes;       /* route of each member, parallel to rcpt */
    char mx_key[1024];          /* stage 2: "10:mx1.example,10:mx2.example" or "" */
    bool merged_into_other;     /* stage 2 removed it (its members moved) */
    const struct dns_result *dns;   /* caller's: the DNS answer of the next hop; a
                                       group cut by plan_split_limit keeps it */
};

struct plan {
    struct plan_group *g;
    size_t n;
    size_t *failed;             /* recipients whose route lookup failed (defer) */
    size_t nfailed;
};

/* Resolve the recipients with status pending (all when only_pending is
 * false). explain (optional) gets route_resolve's lines per recipient. */
int plan_build(const struct envelope *env, bool only_pending, struct plan *p, struct buf *explain);
void plan_free(struct plan *p);

/* Does this group's next hop need DNS before stage 2 (smtp/lmtp to a
 * domain or [host])? Sets *name and *mx for dns_resolve. */
bool plan_needs_dns(const struct plan_group *g, char *name, size_t namelen, bool *mx);
/* The stage-2 key of a DNS result: sorted "pref:name" list; "" when the
 * result is not usable for merging (failure, bare address). */
void plan_mx_key(const struct dns_result *r, char *out, size_t outlen);
/* Merge groups (same transport, same non-empty mx_key). */
void plan_merge(struct plan *p);
/* Cut groups larger than the transport's recipient limit; returns the new
 * number of groups. */
size_t plan_split_limit(struct plan *p);
/* One line per pair of groups that go to the same next hop through
 * different transports ("split: ..."), with the parameter lines behind them. */
void plan_split_warnings(const struct plan *p, const struct envelope *env, struct buf *out);

#endif
