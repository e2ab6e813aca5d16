/*
 * relay_check.c - permit_mynetworks + reject_unauth_destination (see
 * relay_check.h).
 *
 * Order of the decision, for one recipient:
 *   1. a routed address (source route, or '@' '%' '!' in the local part)
 *      is accepted only from a trusted client, whatever its domain: the
 *      part after the last '@' is not where such mail would end up;
 *   2. our own domain (mydestination, one of our [ip] literals) -> local;
 *   3. relay_domains or a subdomain of one -> relay;
 *   4. a trusted client (mynetworks, or local submission) -> relay anywhere;
 *   5. otherwise denied.
 * An unqualified recipient is judged as user@$myorigin, the domain
 * qualification will give it; bare "postmaster" is always ours.
 *
 * Trusts: the parsed address from addr.c and the client address from
 * accept(2) or the PROXY header. The lists come from the configuration.
 */
#include "receive/relay_check.h"
#include "lib/log.h"
#include "lib/netaddr.h"
#include "lib/params.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

static struct netlist *relay_mynetworks;
static struct domlist *relay_mydestination;
static struct domlist *relay_relay_domains;
static bool relay_ready;

int relay_check_init(struct buf *err)
{
    struct buf why = BUF_INIT;
    struct netlist *nets = NULL;
    struct domlist *dest = NULL, *relay = NULL;

    if (!(nets = netlist_parse(var_mynetworks ? var_mynetworks : "", &why))) {
        buf_printf(err, "mynetworks: %s", buf_str(&why));
        goto fail;
    }
    /* Postfix matches mydestination exactly (no parent_domain_matches_
     * subdomains): listing example.com must not make sub.example.com local */
    if (!(dest = domlist_parse(var_mydestination ? var_mydestination : "", false, &why))) {
        buf_printf(err, "mydestination: %s", buf_str(&why));
        goto fail;
    }
    if (!(relay = domlist_parse(var_relay_domains ? var_relay_domains : "", true, &why))) {
        buf_printf(err, "relay_domains: %s", buf_str(&why));
        goto fail;
    }
    buf_free(&why);
    netlist_free(relay_mynetworks);
    domlist_free(relay_mydestination);
    domlist_free(relay_relay_domains);
    relay_mynetworks = nets;
    relay_mydestination = dest;
    relay_relay_domains = relay;
    relay_ready = true;
    return 0;
fail:
    buf_free(&why);
    netlist_free(nets);
    domlist_free(dest);
    domlist_free(relay);
    return -1;
}

/* A caller that forgot relay_check_init still gets the configured lists;
 * if they do not parse, every list stays empty and nothing is relayed. */
static void relay_check_ready(void)
{
    if (relay_ready)
        return;
    struct buf err = BUF_INIT;
    if (relay_check_init(&err) != 0) {
        msg_warn("relay control: %s; relaying for no one", buf_str(&err));
        relay_ready = true;
    }
    buf_free(&err);
}

bool client_in_mynetworks(const struct sockaddr *client)
{
    if (!client)
        return true;
    relay_check_ready();
    return netlist_match(relay_mynetworks, client);
}

bool domain_is_local(const char *domain)
{
    if (!domain || !*domain)
        return false;
    relay_check_ready();

    char *lower = xstrdup(domain);
    ascii_lowercase(lower);
    bool local = domlist_match(relay_mydestination, lower, NULL) ||
                 (lower[0] == '[' && own_address_literal(lower));
    free(lower);
    return local;
}

static bool relay_domain_listed(const char *domain)
{
    char *lower = xstrdup(domain);
    ascii_lowercase(lower);
    bool hit = domlist_match(relay_relay_domains, lower, NULL);
    free(lower);
    return hit;
}

enum relay_verdict relay_check(const struct mailaddr *rcpt, const struct sockaddr *client)
{
    relay_check_ready();
    bool trusted = client_in_mynetworks(client);

    if (rcpt->routed)
        return trusted ? RELAY_MYNETWORKS : RELAY_DENIED;

    const char *domain = rcpt->domain;
    if (!*domain) {
        if (strcmp(rcpt->local, "postmaster") == 0)
            return RELAY_LOCAL;
        domain = var_myorigin ? var_myorigin : "";
    }
    if (*domain) {
        if (domain_is_local(domain))
            return RELAY_LOCAL;
        if (relay_domain_listed(domain))
            return RELAY_RELAY_DOMAIN;
    }
    return trusted ? RELAY_MYNETWORKS : RELAY_DENIED;
}
