/*
 * addr.h - the one choke point where mail addresses are parsed (RFC 5321
 * paths, sendmail argv, header addresses for -t).
 *
 * Output is canonical bytes: "local@domain" with the domain lower-cased, the
 * local part kept as sent (quoted-string form preserved when it needs
 * quoting, e.g. "\"a b\"@example.com"), IP literals kept as "[1.2.3.4]" /
 * "[ipv6:2001:db8::1]" (lower-cased). Hard limits from RFC 5321 4.5.3.1:
 * local part 64, domain 255, path 256 octets. CR, LF, NUL and other controls
 * are rejected everywhere, including inside quoted strings.
 *
 * Source routes ("<@a,@b:user@dom>") are accepted and stripped, as RFC 5321
 * requires, and mark the address as routed. A local part containing '@',
 * '%' or '!' (quoted or not) also marks it routed: relay control treats a
 * routed address as an attempt to relay (it never opens a relay).
 *
 * Trusts: nothing; input is hostile network data. Every loop consumes input
 * or fails.
 */
#ifndef YUBIN_ADDR_H
#define YUBIN_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#define ADDR_LOCAL_MAX 64
#define ADDR_DOMAIN_MAX 255
#define ADDR_PATH_MAX 256

enum addr_flags {
    ADDR_ALLOW_NULL = 1 << 0,        /* "<>" is valid (MAIL FROM) */
    ADDR_ALLOW_UNQUALIFIED = 1 << 1, /* "user" without @domain (local submission) */
    ADDR_ALLOW_UTF8 = 1 << 2,        /* SMTPUTF8: UTF-8 in local part and domain */
    ADDR_NEED_BRACKETS = 1 << 3,     /* SMTP path: must be "<...>" */
};

enum addr_error {
    ADDR_OK = 0,
    ADDR_ERR_SYNTAX,        /* malformed */
    ADDR_ERR_BRACKETS,      /* missing < > in an SMTP path */
    ADDR_ERR_TOO_LONG,      /* exceeds RFC 5321 limits */
    ADDR_ERR_8BIT,          /* non-ASCII without SMTPUTF8 */
    ADDR_ERR_NULL,          /* "<>" where not allowed */
    ADDR_ERR_UNQUALIFIED,   /* no domain where one is needed */
    ADDR_ERR_CONTROL,       /* control character (CR, LF, NUL ...) */
};

struct mailaddr {
    char addr[ADDR_PATH_MAX + 4];       /* canonical "local@domain"; "" for <> */
    char local[ADDR_LOCAL_MAX * 2 + 4]; /* local part as stored in addr */
    char domain[ADDR_DOMAIN_MAX + 1];   /* lower-case; "" when unqualified */
    bool is_null;                       /* "<>" */
    bool routed;                        /* source route, or @ % ! in local part */
    bool is_literal;                    /* domain is an [address] literal */
    bool utf8;                          /* contains non-ASCII octets */
};

/*
 * Parse an SMTP path (the text after "MAIL FROM:" / "RCPT TO:" up to the
 * first space that is not inside the brackets or a quoted string). len is
 * the length of s; *consumed gets the number of bytes the path took, so the
 * caller can parse ESMTP parameters after it.
 *
 * Leading blanks are skipped (and counted in *consumed). The path must be
 * followed by the end of s or a space. The bare "postmaster" (any case, no
 * domain) is accepted whatever the flags and returned as "postmaster"; any
 * other address without a domain needs ADDR_ALLOW_UNQUALIFIED. On error
 * *out is zeroed and *consumed is 0.
 */
enum addr_error addr_parse_path(const char *s, size_t len, unsigned flags,
                                struct mailaddr *out, size_t *consumed);

/* Parse a bare address ("user@domain", "user") as on the sendmail command
 * line; surrounding "<>" are accepted too, blanks around it are ignored,
 * and "" is the null address like "<>" (sendmail -f ''). */
enum addr_error addr_parse_plain(const char *s, unsigned flags, struct mailaddr *out);

/* Human-readable reason for an error ("Bad address syntax", ...). */
const char *addr_strerror(enum addr_error e);

/* Is the domain a valid dot-atom domain or address literal? */
bool addr_domain_valid(const char *domain, bool allow_utf8);

/*
 * Extract addresses from an RFC 5322 address-list header value (To:, Cc:,
 * Bcc: for sendmail -t): handles display names, comments, groups, quoted
 * strings and folded lines. Calls fn for each address found (bare
 * "local@domain" or "local"). Returns the number found, -1 on bad syntax.
 *
 * Each address passed to fn is the canonical form addr_parse_plain gives
 * with ADDR_ALLOW_UNQUALIFIED | ADDR_ALLOW_UTF8 (the caller applies its own
 * SMTPUTF8 policy). The whole value is checked before fn is called, so on
 * -1 fn was not called at all. At most 10240 tokens per value (Postfix's
 * header_address_token_limit).
 */
int addr_list_parse(const char *value, void (*fn)(void *arg, const char *addr), void *arg);

#endif
