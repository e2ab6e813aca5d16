/*
 * relay_check.h - who may send mail to whom through us (RFC 5321 and
 * Postfix's permit_mynetworks + reject_unauth_destination).
 *
 * A recipient is accepted when its domain is ours (mydestination, one of our
 * own [ip] literals), is in relay_domains (or a subdomain of one), or the
 * client is in mynetworks. Otherwise: "554 5.7.1 <addr>: Relay access
 * denied". A routed address (source route, or '@', '%', '!' in the local
 * part, quoted or not) is accepted only from mynetworks: routing characters
 * never open a relay. An unqualified recipient is judged as user@$myorigin
 * (how it will be qualified); the bare "postmaster" is always local.
 *
 * Trusts: the parsed address (addr.c) and the client address from accept(2)
 * or, behind a proxy, from the PROXY protocol header.
 */
#ifndef YUBIN_RELAY_CHECK_H
#define YUBIN_RELAY_CHECK_H

#include <stdbool.h>
#include <sys/socket.h>
#include "lib/addr.h"
#include "lib/buf.h"

enum relay_verdict {
    RELAY_LOCAL,            /* our own domain (mydestination / own literal) */
    RELAY_RELAY_DOMAIN,     /* in relay_domains */
    RELAY_MYNETWORKS,       /* client is trusted */
    RELAY_DENIED,
};

/* (Re)build the lists from the current configuration. -1 with err on a bad
 * list (named: "mynetworks: ..."). */
int relay_check_init(struct buf *err);
/* client NULL = local submission (always trusted). */
enum relay_verdict relay_check(const struct mailaddr *rcpt, const struct sockaddr *client);
bool client_in_mynetworks(const struct sockaddr *client);
/* Is the domain one we deliver locally (mydestination or own literal)? */
bool domain_is_local(const char *domain);

#endif
