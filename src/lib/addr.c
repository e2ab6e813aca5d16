/*
 * addr.c - the one choke point where mail addresses are parsed (see addr.h).
 *
 * Grammar: RFC 5321 4.1.2 (Path, Mailbox, dot-atom and quoted-string local
 * parts, LDH domains, address literals), RFC 6531 for UTF-8 when the caller
 * allows it, RFC 5322 3.4 for header address lists. Everything is checked
 * against an allow-list, byte by byte, with explicit lengths: the input is
 * hostile network data and may contain NUL.
 *
 * Trusts: nothing. Every loop consumes at least one byte or returns, every
 * write into a fixed buffer is preceded by a length check (sendmail's
 * crackaddr/prescan overflows are the lesson).
 */
#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A position in the input; s is not NUL-terminated. */
struct cursor {
    const unsigned char *s;
    size_t len;
    size_t pos;
    unsigned flags;
};

/* A parsed local part before canonicalisation: the decoded bytes. */
struct local_part {
    char text[ADDR_LOCAL_MAX + 1];
    size_t len;
    bool quoted;                /* written as a quoted-string */
};

static bool addr_is_control(unsigned c)
{
    return c < 0x20 || c == 0x7f;
}

static bool addr_is_alnum(unsigned c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 5322 atext (RFC 5321 uses the same set). */
static bool addr_is_atext(unsigned c)
{
    return addr_is_alnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", (int)c) != NULL);
}

/*
 * Length of the well-formed UTF-8 sequence at s[0..len), or 0. Rejects
 * overlong forms, surrogates and code points above U+10FFFF (RFC 3629), so
 * a truncated or forged sequence can never make a loop stall or skip a
 * delimiter (Dovecot CVE-2020-7046).
 */
static size_t addr_utf8_len(const unsigned char *s, size_t len)
{
    unsigned c = s[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (len < n)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

/*
 * Classify the non-ASCII or control byte at the cursor. Returns ADDR_OK with
 * *n set to the length of a valid UTF-8 sequence the caller may take.
 */
static enum addr_error addr_check_special_byte(const struct cursor *c, size_t *n)
{
    unsigned b = c->s[c->pos];

    if (addr_is_control(b))
        return ADDR_ERR_CONTROL;
    if (b < 0x80) {
        *n = 1;
        return ADDR_OK;
    }
    if (!(c->flags & ADDR_ALLOW_UTF8))
        return ADDR_ERR_8BIT;
    *n = addr_utf8_len(c->s + c->pos, c->len - c->pos);
    return *n ? ADDR_OK : ADDR_ERR_SYNTAX;
}

static bool addr_at(const struct cursor *c, char ch)
{
    return c->pos < c->len && c->s[c->pos] == (unsigned char)ch;
}

/* Is text a valid dot-atom (non-empty atoms of atext or UTF-8 joined by
 * single dots)? Non-ASCII bytes here were already validated as UTF-8. */
static bool addr_is_dot_atom(const char *text, size_t len)
{
    if (len == 0 || text[0] == '.' || text[len - 1] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned b = (unsigned char)text[i];
        if (b == '.') {
            if (text[i + 1] == '.')
                return false;
        } else if (b < 0x80 && !addr_is_atext(b))
            return false;
    }
    return true;
}

/*
 * The unquoted local parts real mail carries: RFC 5321 dot-atoms, plus the
 * leading, trailing and doubled dots of the Japanese carriers' legacy
 * addresses ("taro..x@docomo.ne.jp", "x.@ezweb.ne.jp"), which Postfix and
 * Sendmail accept and which are kept as written. At least one atext.
 */
static bool addr_is_lax_dot_atom(const char *text, size_t len)
{
    bool atext = false;
    for (size_t i = 0; i < len; i++) {
        unsigned b = (unsigned char)text[i];
        if (b == '.')
            continue;
        if (b < 0x80 && !addr_is_atext(b))
            return false;
        atext = true;
    }
    return atext;
}

/*
 * Local-part = Dot-string / Quoted-string. The decoded bytes go to lp; the
 * raw form may be at most ADDR_LOCAL_MAX octets, and the decoded form is
 * never longer than the raw one, so lp->text cannot overflow.
 */
static enum addr_error addr_parse_local(struct cursor *c, struct local_part *lp)
{
    size_t start = c->pos;
    enum addr_error e;
    size_t n;

    lp->len = 0;
    lp->quoted = false;
    if (addr_at(c, '"')) {
        lp->quoted = true;
        c->pos++;
        for (;;) {
            if (c->pos >= c->len)
                return ADDR_ERR_SYNTAX;
            if (c->pos - start >= ADDR_LOCAL_MAX)
                return ADDR_ERR_TOO_LONG;
            unsigned b = c->s[c->pos];
            if (b == '"') {
                c->pos++;
                break;
            }
            if (b == '\\') {
                /* quoted-pairSMTP: backslash and one printable character */
                c->pos++;
                if (c->pos >= c->len)
                    return ADDR_ERR_SYNTAX;
            }
            if ((e = addr_check_special_byte(c, &n)) != ADDR_OK)
                return e;
            if (c->pos + n - start > ADDR_LOCAL_MAX)
                return ADDR_ERR_TOO_LONG;
            memcpy(lp->text + lp->len, c->s + c->pos, n);
            lp->len += n;
            c->pos += n;
        }
        lp->text[lp->len] = 0;
        return ADDR_OK;
    }

    while (c->pos < c->len) {
        unsigned b = c->s[c->pos];
        if (b < 0x80 && !addr_is_control(b) && !addr_is_atext(b) && b != '.')
            break;
        if ((e = addr_check_special_byte(c, &n)) != ADDR_OK)
            return e;
        if (c->pos + n - start > ADDR_LOCAL_MAX)
            return ADDR_ERR_TOO_LONG;
        memcpy(lp->text + lp->len, c->s + c->pos, n);
        lp->len += n;
        c->pos += n;
    }
    lp->text[lp->len] = 0;
    return addr_is_lax_dot_atom(lp->text, lp->len) ? ADDR_OK : ADDR_ERR_SYNTAX;
}

/*
 * address-literal: "[1.2.3.4]" or "[IPv6:...]", checked with inet_pton and
 * rewritten in inet_ntop's canonical lower-case form. General literals
 * ("[tag:content]") are refused: nothing routes them.
 */
static enum addr_error addr_parse_literal(struct cursor *c, char *out, size_t outsize)
{
    char text[ADDR_DOMAIN_MAX + 1];
    size_t n = 0;

    c->pos++;                                   /* '[' */
    for (;;) {
        if (c->pos >= c->len)
            return ADDR_ERR_SYNTAX;
        unsigned b = c->s[c->pos];
        if (b == ']')
            break;
        if (addr_is_control(b))
            return ADDR_ERR_CONTROL;
        if (b >= 0x80)
            return (c->flags & ADDR_ALLOW_UTF8) ? ADDR_ERR_SYNTAX : ADDR_ERR_8BIT;
        if (b == '[' || b == '\\' || b == ' ')
            return ADDR_ERR_SYNTAX;
        if (n + 2 >= sizeof(text))
            return ADDR_ERR_TOO_LONG;
        text[n++] = (char)b;
        c->pos++;
    }
    c->pos++;                                   /* ']' */
    text[n] = 0;

    unsigned char bin[16];
    char ntop[INET6_ADDRSTRLEN];
    const char *prefix;
    if (n > 5 && ascii_strncasecmp(text, "IPv6:", 5) == 0) {
        if (inet_pton(AF_INET6, text + 5, bin) != 1)
            return ADDR_ERR_SYNTAX;
        inet_ntop(AF_INET6, bin, ntop, sizeof(ntop));
        prefix = "ipv6:";
    } else if (inet_pton(AF_INET, text, bin) == 1) {
        inet_ntop(AF_INET, bin, ntop, sizeof(ntop));
        prefix = "";
    } else
        return ADDR_ERR_SYNTAX;
    /* the canonical form can be one octet longer than the input ("1::3:..."
     * becomes "1:0:3:..."), so the limit is checked on what we store */
    size_t need = 1 + strlen(prefix) + strlen(ntop) + 1;
    if (need > ADDR_DOMAIN_MAX || need >= outsize)
        return ADDR_ERR_TOO_LONG;
    snprintf(out, outsize, "[%s%s]", prefix, ntop);
    ascii_lowercase(out);
    return ADDR_OK;
}

/*
 * Domain = sub-domain *("." sub-domain) / address-literal, each sub-domain
 * an LDH label of 1..63 octets that neither starts nor ends with '-'. With
 * ADDR_ALLOW_UTF8 a label may also hold UTF-8 (an RFC 6531 U-label; the
 * 63-octet cap then counts UTF-8 octets). out gets the lower-cased domain.
 */
static enum addr_error addr_parse_domain(struct cursor *c, char *out, size_t outsize, bool *literal)
{
    size_t start = c->pos;
    enum addr_error e;
    size_t n;

    *literal = false;
    if (addr_at(c, '[')) {
        *literal = true;
        return addr_parse_literal(c, out, outsize);
    }
    for (;;) {
        size_t label = c->pos;
        while (c->pos < c->len) {
            unsigned b = c->s[c->pos];
            if (b < 0x80 && !addr_is_control(b) && !addr_is_alnum(b) && b != '-')
                break;
            if ((e = addr_check_special_byte(c, &n)) != ADDR_OK)
                return e;
            c->pos += n;
            if (c->pos - start > ADDR_DOMAIN_MAX)
                return ADDR_ERR_TOO_LONG;
        }
        size_t llen = c->pos - label;
        if (llen == 0 || c->s[label] == '-' || c->s[c->pos - 1] == '-')
            return ADDR_ERR_SYNTAX;
        if (llen > 63)
            return ADDR_ERR_TOO_LONG;
        if (!addr_at(c, '.'))
            break;
        c->pos++;
    }
    n = c->pos - start;
    if (n >= outsize)
        return ADDR_ERR_TOO_LONG;
    memcpy(out, c->s + start, n);
    out[n] = 0;
    ascii_lowercase(out);
    return ADDR_OK;
}

/* A-d-l = At-domain *( "," At-domain ) ":" ; the hops are checked, then
 * dropped (RFC 5321 4.1.1.3 lets a server ignore them). */
static enum addr_error addr_parse_route(struct cursor *c)
{
    char hop[ADDR_DOMAIN_MAX + 1];
    bool literal;
    enum addr_error e;

    for (;;) {
        if (!addr_at(c, '@'))
            return ADDR_ERR_SYNTAX;
        c->pos++;
        if ((e = addr_parse_domain(c, hop, sizeof(hop), &literal)) != ADDR_OK)
            return e;
        if (addr_at(c, ':')) {
            c->pos++;
            return ADDR_OK;
        }
        if (!addr_at(c, ','))
            return ADDR_ERR_SYNTAX;
        c->pos++;
    }
}

/* Quote the decoded local part if it is not a dot-atom; only '"' and '\'
 * need a backslash inside quotes. Returns false if it would not fit. */
static bool addr_canon_local(const struct local_part *lp, char *out, size_t outsize)
{
    size_t o = 0;

    if (addr_is_dot_atom(lp->text, lp->len) || (!lp->quoted && addr_is_lax_dot_atom(lp->text, lp->len))) {
        if (lp->len >= outsize)
            return false;
        memcpy(out, lp->text, lp->len + 1);
        return true;
    }
    if (o + 1 >= outsize)
        return false;
    out[o++] = '"';
    for (size_t i = 0; i < lp->len; i++) {
        char ch = lp->text[i];
        if (ch == '"' || ch == '\\') {
            if (o + 1 >= outsize)
                return false;
            out[o++] = '\\';
        }
        if (o + 1 >= outsize)
            return false;
        out[o++] = ch;
    }
    if (o + 2 > outsize)
        return false;
    out[o++] = '"';
    out[o] = 0;
    return true;
}

static bool addr_has_8bit(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return true;
    return false;
}

/*
 * [A-d-l ":"] Mailbox, or the bare "postmaster" that RFC 5321 4.5.1 makes
 * every server accept. Fills out (already zeroed) on success; an address
 * without a domain is left for the caller to judge.
 */
static enum addr_error addr_parse_mailbox(struct cursor *c, struct mailaddr *out)
{
    struct local_part lp;
    enum addr_error e;

    if (addr_at(c, '@')) {
        if ((e = addr_parse_route(c)) != ADDR_OK)
            return e;
        out->routed = true;
    }
    if ((e = addr_parse_local(c, &lp)) != ADDR_OK)
        return e;
    if (addr_at(c, '@')) {
        c->pos++;
        if ((e = addr_parse_domain(c, out->domain, sizeof(out->domain), &out->is_literal)) != ADDR_OK)
            return e;
    } else if (lp.len == 10 && ascii_strncasecmp(lp.text, "postmaster", 10) == 0) {
        /* validated before any special case: the OpenSMTPD CVE-2020-7247
         * lesson is that the empty-domain branch must not skip checks */
        strcpy(out->local, "postmaster");
        strcpy(out->addr, "postmaster");
        return ADDR_OK;
    }

    if (!addr_canon_local(&lp, out->local, ADDR_LOCAL_MAX + 1))
        return ADDR_ERR_TOO_LONG;
    size_t ll = strlen(out->local), dl = strlen(out->domain);
    if (ll + (dl ? 1 + dl : 0) > ADDR_PATH_MAX)
        return ADDR_ERR_TOO_LONG;
    memcpy(out->addr, out->local, ll);
    if (dl) {
        out->addr[ll] = '@';
        memcpy(out->addr + ll + 1, out->domain, dl + 1);
    } else
        out->addr[ll] = 0;
    /* '@' '%' '!' in the local part are routing to someone (user%host,
     * host!user, "user@host"): never a reason to relay */
    if (memchr(lp.text, '@', lp.len) || memchr(lp.text, '%', lp.len) || memchr(lp.text, '!', lp.len))
        out->routed = true;
    out->utf8 = addr_has_8bit(out->addr);
    return ADDR_OK;
}

/*
 * The common path parser: optional leading blanks, then "<...>" or (unless
 * ADDR_NEED_BRACKETS) a bare mailbox ending at a space or the end.
 */
static enum addr_error addr_parse_at(struct cursor *c, struct mailaddr *out)
{
    enum addr_error e;

    memset(out, 0, sizeof(*out));
    while (c->pos < c->len && (c->s[c->pos] == ' ' || c->s[c->pos] == '\t'))
        c->pos++;
    if (c->pos >= c->len)
        return ADDR_ERR_SYNTAX;
    size_t start = c->pos;

    if (addr_at(c, '<')) {
        c->pos++;
        if (addr_at(c, '>')) {
            c->pos++;
            if (!(c->flags & ADDR_ALLOW_NULL))
                return ADDR_ERR_NULL;
            out->is_null = true;
        } else {
            if ((e = addr_parse_mailbox(c, out)) != ADDR_OK)
                return e;
            if (!addr_at(c, '>')) {
                if (c->pos < c->len && addr_is_control(c->s[c->pos]))
                    return ADDR_ERR_CONTROL;
                return ADDR_ERR_SYNTAX;
            }
            c->pos++;
        }
    } else {
        if (c->flags & ADDR_NEED_BRACKETS)
            return ADDR_ERR_BRACKETS;
        if ((e = addr_parse_mailbox(c, out)) != ADDR_OK)
            return e;
    }
    if (c->pos - start > ADDR_PATH_MAX)
        return ADDR_ERR_TOO_LONG;
    if (c->pos < c->len && c->s[c->pos] != ' ') {
        if (addr_is_control(c->s[c->pos]))
            return ADDR_ERR_CONTROL;
        return ADDR_ERR_SYNTAX;
    }
    /* judged only once the path is known to be well-formed, so that
     * "<user name@x>" is a syntax error, not a missing domain */
    if (!out->is_null && !out->domain[0] && strcmp(out->addr, "postmaster") != 0 &&
        !(c->flags & ADDR_ALLOW_UNQUALIFIED))
        return ADDR_ERR_UNQUALIFIED;
    return ADDR_OK;
}

enum addr_error addr_parse_path(const char *s, size_t len, unsigned flags,
                                struct mailaddr *out, size_t *consumed)
{
    struct cursor c = {(const unsigned char *)s, len, 0, flags};
    enum addr_error e = addr_parse_at(&c, out);

    if (e != ADDR_OK) {
        memset(out, 0, sizeof(*out));
        c.pos = 0;
    }
    if (consumed)
        *consumed = c.pos;
    return e;
}

enum addr_error addr_parse_plain(const char *s, unsigned flags, struct mailaddr *out)
{
    size_t len = strlen(s);
    size_t start = 0;
    enum addr_error e;

    while (start < len && (s[start] == ' ' || s[start] == '\t'))
        start++;
    while (len > start && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    memset(out, 0, sizeof(*out));
    if (start == len) {
        /* sendmail -f '' is the null sender */
        if (!(flags & ADDR_ALLOW_NULL))
            return ADDR_ERR_NULL;
        out->is_null = true;
        return ADDR_OK;
    }
    struct cursor c = {(const unsigned char *)s + start, len - start, 0, flags & ~(unsigned)ADDR_NEED_BRACKETS};
    e = addr_parse_at(&c, out);
    if (e == ADDR_OK && c.pos != c.len)
        e = ADDR_ERR_SYNTAX;                    /* a space inside a bare address */
    if (e != ADDR_OK)
        memset(out, 0, sizeof(*out));
    return e;
}

const char *addr_strerror(enum addr_error e)
{
    switch (e) {
    case ADDR_OK:
        return "Ok";
    case ADDR_ERR_SYNTAX:
        return "Bad address syntax";
    case ADDR_ERR_BRACKETS:
        return "Address must be enclosed in <>";
    case ADDR_ERR_TOO_LONG:
        return "Address too long";
    case ADDR_ERR_8BIT:
        return "Non-ASCII address without SMTPUTF8";
    case ADDR_ERR_NULL:
        return "Null address not allowed here";
    case ADDR_ERR_UNQUALIFIED:
        return "Address must include a domain";
    case ADDR_ERR_CONTROL:
        return "Control character in address";
    }
    return "Bad address";
}

bool addr_domain_valid(const char *domain, bool allow_utf8)
{
    struct cursor c = {(const unsigned char *)domain, strlen(domain), 0,
                       allow_utf8 ? (unsigned)ADDR_ALLOW_UTF8 : 0u};
    char out[ADDR_DOMAIN_MAX + 1];
    bool literal;

    return addr_parse_domain(&c, out, sizeof(out), &literal) == ADDR_OK && c.pos == c.len;
}

/* ---- RFC 5322 address lists (sendmail -t) ---------------------------- */

/* Postfix's header_address_token_limit: a bound on work per header. */
#define ADDR_LIST_TOKEN_LIMIT 10240

enum addr_tok_type { TOK_ATOM, TOK_QSTR, TOK_DLIT, TOK_SPECIAL };

struct addr_tok {
    enum addr_tok_type type;
    const char *p;          /* into the header value */
    size_t len;
};

struct addr_toks {
    struct addr_tok *v;
    size_t n, cap;
};

static bool addr_tok_push(struct addr_toks *t, enum addr_tok_type type, const char *p, size_t len)
{
    if (t->n >= ADDR_LIST_TOKEN_LIMIT)
        return false;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 32;
        t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
    }
    t->v[t->n++] = (struct addr_tok){type, p, len};
    return true;
}

#define ADDR_FOLD_BAD (-1)     /* a line break that does not fold */
#define ADDR_FOLD_END (-2)     /* only line breaks and blanks follow */

/*
 * Length of a line break at s that is folding (CRLF or LF followed by SP or
 * HTAB), 0 if s is not a line break, else ADDR_FOLD_END when nothing but
 * blank lines follows (the value's own line end) or ADDR_FOLD_BAD.
 */
static int addr_fold_len(const char *s)
{
    size_t n;

    if (s[0] == '\r' && s[1] == '\n')
        n = 2;
    else if (s[0] == '\n')
        n = 1;
    else if (s[0] == '\r')
        return ADDR_FOLD_BAD;
    else
        return 0;
    if (s[n] == ' ' || s[n] == '\t')
        return (int)n;
    for (const char *q = s + n; *q; q++)
        if (*q != '\r' && *q != '\n' && *q != ' ' && *q != '\t')
            return ADDR_FOLD_BAD;
    return ADDR_FOLD_END;
}

/*
 * Scan a quoted string, comment or domain literal starting at *s (on the
 * opening delimiter). Nesting applies to comments only. Folding inside is
 * allowed; any other line break is an error. Returns false on bad syntax.
 */
static bool addr_scan_delimited(const char **sp, char open, char close)
{
    const char *s = *sp + 1;
    size_t depth = 1;

    while (*s) {
        int f = addr_fold_len(s);
        if (f < 0)
            return false;                       /* also at the end: unterminated */
        if (f > 0) {
            s += f;
            continue;
        }
        if (*s == '\\') {
            if (s[1] == 0 || s[1] == '\r' || s[1] == '\n')
                return false;
            s += 2;
            continue;
        }
        if (open == '(' && *s == '(')
            depth++;
        else if (open == '[' && *s == '[')
            return false;
        else if (*s == close && --depth == 0) {
            *sp = s + 1;
            return true;
        }
        s++;
    }
    return false;
}

/*
 * Break the value into atoms, quoted strings, domain literals and specials.
 * Comments and whitespace separate tokens and are dropped. Atoms are lax
 * (any byte that is not a special, space or line break): display names in
 * the wild carry raw 8-bit and ISO-2022-JP escapes, and the parts that
 * become addresses are checked strictly by addr_parse_plain afterwards.
 */
static bool addr_tokenize(const char *value, struct addr_toks *t)
{
    const char *s = value;

    while (*s) {
        int f = addr_fold_len(s);
        if (f == ADDR_FOLD_END)
            break;
        if (f < 0)
            return false;
        if (f > 0) {
            s += f;
            continue;
        }
        const char *start = s;
        switch (*s) {
        case ' ':
        case '\t':
            s++;
            break;
        case '(':
            if (!addr_scan_delimited(&s, '(', ')'))
                return false;
            break;
        case '"':
            if (!addr_scan_delimited(&s, '"', '"') || !addr_tok_push(t, TOK_QSTR, start, (size_t)(s - start)))
                return false;
            break;
        case '[':
            if (!addr_scan_delimited(&s, '[', ']') || !addr_tok_push(t, TOK_DLIT, start, (size_t)(s - start)))
                return false;
            break;
        case ')':
        case ']':
        case '\\':
            return false;
        case '<':
        case '>':
        case '@':
        case ',':
        case ':':
        case ';':
        case '.':
            if (!addr_tok_push(t, TOK_SPECIAL, s, 1))
                return false;
            s++;
            break;
        default:
            while (*s && !strchr(" \t\r\n()<>[]:;@\\,.\"", *s))
                s++;
            if (!addr_tok_push(t, TOK_ATOM, start, (size_t)(s - start)))
                return false;
            break;
        }
    }
    return true;
}

static bool addr_tok_is(const struct addr_tok *t, char ch)
{
    return t->type == TOK_SPECIAL && t->p[0] == ch;
}

static bool addr_tok_is_word(const struct addr_tok *t)
{
    return t->type == TOK_ATOM || t->type == TOK_QSTR;
}

/* Append a token to the address text, dropping line breaks from folding. */
static void addr_tok_render(struct buf *b, const struct addr_tok *t)
{
    for (size_t i = 0; i < t->len; i++)
        if (t->p[i] != '\r' && t->p[i] != '\n')
            buf_putc(b, t->p[i]);
}

/*
 * addr-spec = local-part ["@" domain] from tokens v[from..to), where
 * local-part = word *("." word) and domain = atom *("." atom) / literal.
 * The text is then validated and canonicalised by addr_parse_plain.
 */
static bool addr_spec_from_toks(const struct addr_tok *v, size_t from, size_t to, char **out)
{
    struct buf b = BUF_INIT;
    size_t i = from;
    struct mailaddr ma;
    bool ok = false;

    for (;;) {
        if (i >= to || !addr_tok_is_word(&v[i]))
            goto done;
        addr_tok_render(&b, &v[i++]);
        if (i < to && addr_tok_is(&v[i], '.')) {
            buf_putc(&b, '.');
            i++;
            continue;
        }
        break;
    }
    if (i < to) {
        if (!addr_tok_is(&v[i], '@'))
            goto done;
        buf_putc(&b, '@');
        i++;
        if (i < to && v[i].type == TOK_DLIT)
            addr_tok_render(&b, &v[i++]);
        else {
            for (;;) {
                if (i >= to || v[i].type != TOK_ATOM)
                    goto done;
                addr_tok_render(&b, &v[i++]);
                if (i < to && addr_tok_is(&v[i], '.')) {
                    buf_putc(&b, '.');
                    i++;
                    continue;
                }
                break;
            }
        }
        if (i != to)
            goto done;
    }
    /* the length cap keeps addr_parse_plain from scanning megabytes */
    if (b.len <= 2 * ADDR_PATH_MAX &&
        addr_parse_plain(buf_str(&b), ADDR_ALLOW_UNQUALIFIED | ADDR_ALLOW_UTF8, &ma) == ADDR_OK &&
        !ma.is_null) {
        *out = xstrdup(ma.addr);
        ok = true;
    }
done:
    buf_free(&b);
    return ok;
}

struct addr_found {
    char **v;
    size_t n, cap;
};

static void addr_found_push(struct addr_found *f, char *a)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        f->v = xrealloc(f->v, f->cap * sizeof(*f->v));
    }
    f->v[f->n++] = a;
}

/*
 * One address (mailbox) in v[i..to): either display-name "<" [route ":"]
 * addr-spec ">" or a bare addr-spec. The display name is lax: anything but
 * the list specials, so "user@example.com <user@example.com>" works.
 */
static bool addr_list_mailbox(const struct addr_tok *v, size_t i, size_t to, struct addr_found *f)
{
    size_t lt = i;
    char *a;

    while (lt < to && !addr_tok_is(&v[lt], '<'))
        lt++;
    if (lt < to) {
        for (size_t k = i; k < lt; k++)
            if (addr_tok_is(&v[k], '>'))
                return false;
        if (!addr_tok_is(&v[to - 1], '>') || to - 1 <= lt)
            return false;
        size_t from = lt + 1, end = to - 1;
        if (addr_tok_is(&v[from], '@')) {
            /* obs-route: skip to its ':' */
            while (from < end && !addr_tok_is(&v[from], ':'))
                from++;
            if (from >= end)
                return false;
            from++;
        }
        if (!addr_spec_from_toks(v, from, end, &a))
            return false;
    } else if (!addr_spec_from_toks(v, i, to, &a))
        return false;
    addr_found_push(f, a);
    return true;
}

/*
 * address-list with groups: a top-level "phrase :" opens a group that a
 * ';' closes (a missing final ';' is tolerated); empty list elements (",,")
 * are obsolete but common and are skipped. Commas inside <...> (obs-route)
 * do not split addresses.
 */
static bool addr_list_walk(const struct addr_toks *t, struct addr_found *f)
{
    const struct addr_tok *v = t->v;
    size_t i = 0;
    bool in_group = false;

    while (i < t->n) {
        if (addr_tok_is(&v[i], ',')) {
            i++;
            continue;
        }
        if (in_group && addr_tok_is(&v[i], ';')) {
            in_group = false;
            i++;
            continue;
        }
        size_t k = i;
        while (k < t->n && (addr_tok_is_word(&v[k]) || addr_tok_is(&v[k], '.')))
            k++;
        if (k > i && k < t->n && addr_tok_is(&v[k], ':') && !in_group) {
            in_group = true;
            i = k + 1;
            continue;
        }
        size_t e = i;
        bool in_angle = false;
        while (e < t->n) {
            if (in_angle) {
                if (addr_tok_is(&v[e], '>'))
                    in_angle = false;
            } else if (addr_tok_is(&v[e], '<'))
                in_angle = true;
            else if (addr_tok_is(&v[e], ',') || addr_tok_is(&v[e], ';'))
                break;
            else if (addr_tok_is(&v[e], ':'))
                return false;
            e++;
        }
        if (in_angle)
            return false;
        if (e < t->n && addr_tok_is(&v[e], ';') && !in_group)
            return false;
        if (!addr_list_mailbox(v, i, e, f))
            return false;
        i = e;
    }
    return true;
}

int addr_list_parse(const char *value, void (*fn)(void *arg, const char *addr), void *arg)
{
    struct addr_toks t = {NULL, 0, 0};
    struct addr_found f = {NULL, 0, 0};
    int result = -1;

    /* collect first, report after: a caller never sees part of a list that
     * turns out to be bad */
    if (addr_tokenize(value, &t) && addr_list_walk(&t, &f)) {
        for (size_t i = 0; i < f.n; i++)
            fn(arg, f.v[i]);
        result = (int)f.n;
    }
    for (size_t i = 0; i < f.n; i++)
        free(f.v[i]);
    free(f.v);
    free(t.v);
    return result;
}
