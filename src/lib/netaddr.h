/*
 * netaddr.h - client address matching (mynetworks), domain lists
 * (mydestination, relay_domains) and our own addresses (user@[ip] is local
 * when ip is one of ours).
 *
 * Lists use Postfix syntax: items separated by commas and/or whitespace;
 * "/file/name" is replaced by the file's contents; "!item" negates; the first
 * match wins. Network items: "a.b.c.d", "a.b.c.d/len", "[ipv6]", "[ipv6]/len"
 * (and unbracketed IPv6 for convenience). Domain items: "example.com",
 * ".example.com" (subdomains only), "type:table" (a table of domains; see
 * map.h), with parent-domain matching when the list asks for it
 * (relay_domains: example.com also matches sub.example.com, as Postfix's
 * parent_domain_matches_subdomains).
 *
 * Trusts: configuration text. Addresses to match come from accept(2).
 */
#ifndef YUBIN_NETADDR_H
#define YUBIN_NETADDR_H

#include <stdbool.h>
#include <sys/socket.h>
#include "lib/buf.h"

struct netlist;
/* Parse; NULL with a message in err ("mynetworks: bad network 10.0.0.0/33"). */
struct netlist *netlist_parse(const char *value, struct buf *err);
bool netlist_match(const struct netlist *l, const struct sockaddr *sa);
/* The same for a textual address ("127.0.0.1", "::1"). */
bool netlist_match_text(const struct netlist *l, const char *addr);
void netlist_free(struct netlist *l);
/* Largest network (smallest prefix length) in the list, for 'yubin check'
 * (a /8 or wider mynetworks behind a proxy is field report S3's open relay).
 * IPv4 and IPv6 are compared by share of their address space (IPv4 /8 is
 * as wide as IPv6 /32); negated and table items do not count. -1 when the
 * list holds no network. */
int netlist_widest_prefix(const struct netlist *l, bool *is_ipv6);

struct domlist;
struct domlist *domlist_parse(const char *value, bool parent_matches_subdomains, struct buf *err);
/* domain must be lower-case. Returns true on a (non-negated) match; *why, if
 * not NULL, gets the item that matched (for 'yubin route'): the item as
 * written, with its '!' when a negated item decided; NULL when none did.
 * Tables are looked up with the domain, then its parents ("example.com"
 * with parent matching, ".example.com" without); only keys matter. */
bool domlist_match(const struct domlist *l, const char *domain, const char **why);
void domlist_free(struct domlist *l);

/* The bare text of a sockaddr's address ("192.0.2.1", "2001:db8::1"; an
 * IPv4-mapped IPv6 address as its IPv4 form), "unknown" if not IP; callers
 * add the brackets of "host[addr]". The port, or -1 if not IP. */
void sockaddr_to_text(const struct sockaddr *sa, char *out, size_t outlen);
int sockaddr_port(const struct sockaddr *sa);

/*
 * Is this address literal ("[127.0.0.1]", "[ipv6:::1]") one of our own
 * addresses? Own = the addresses in inet_interfaces/smtpd_listen (a
 * wildcard means every interface address, from getifaddrs) plus
 * proxy_interfaces. Reads the current configuration.
 */
bool own_address_literal(const char *literal);

#endif
