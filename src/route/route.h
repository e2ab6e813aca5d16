/*
 * route.h - where a recipient goes: address class, transport and next hop,
 * decided exactly as Postfix's trivial-rewrite does (conventions.md 2.4,
 * 2.5), with the traps of the field reports fixed and explained.
 *
 * The same function serves the delivery path and 'yubin route': it records
 * every step that decided the result together with the configuration file
 * and line behind it, so the explanation cannot drift from what delivery
 * does.
 *
 * Classes, in Postfix's precedence:
 *   local          domain in mydestination, or one of our own [ip] literals
 *                  -> local_transport (default "local")
 *   virtual alias  domain in virtual_alias_domains (no mapping: 5.1.1)
 *   virtual        domain in virtual_mailbox_domains -> virtual_transport
 *   relay          domain in relay_domains -> relay_transport
 *   default        anything else -> default_transport
 * Next hop for relay/default: relayhost, else the recipient domain. A
 * ":nexthop" in the class transport parameter overrides. Then transport_maps
 * (user+ext@domain, user@domain, domain, .parent..., *) may override
 * transport and/or next hop.
 *
 * Where yubin differs from Postfix (field report S0): relay_transport
 * defaults to "smtp", the same transport as default_transport, so the relay
 * and default classes never split one message into two transactions to the
 * same next hop merely because they are different classes.
 *
 * Trusts: the address was parsed by addr.c; tables are admin-written.
 */
#ifndef YUBIN_ROUTE_H
#define YUBIN_ROUTE_H

#include <stdbool.h>
#include "lib/buf.h"

enum addr_class { CLASS_LOCAL, CLASS_ALIAS, CLASS_VIRTUAL, CLASS_RELAY, CLASS_DEFAULT };

struct route {
    enum addr_class cls;
    char transport[64];         /* transport name ("smtp", "local", "procmail" ...) */
    char nexthop[512];          /* next hop text; for "error": the error text */
    char user[256];             /* recipient with the domain's local part, lower-cased for local */
    char extension[128];        /* address extension after recipient_delimiter, "" if none */
    bool bare_ip_nexthop;       /* next hop is an unbracketed IP address (S4): used as an address */
};

/*
 * Resolve one recipient address (canonical "local@domain"). sender is the
 * envelope sender (for future sender-dependent routing). explain, if not
 * NULL, receives one line per decision step ("class: local (domain
 * example.com matches mydestination item $myhostname, /etc/yubin/yubin.conf
 * line 12)"). Returns 0, or -1 when a table could not be read (temporary:
 * the recipient is deferred).
 */
int route_resolve(const char *addr, const char *sender, struct route *out, struct buf *explain);

const char *route_class_name(enum addr_class c);   /* "local", "virtual alias" ... */

/* (Re)load transport_maps etc. from the current configuration. */
int route_init(struct buf *err);

#endif
