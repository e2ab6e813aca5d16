/*
 * test_addr.c - the address choke point (addr.c) and xtext (xtext.c):
 * table-driven valid and invalid SMTP paths, the classic relay tricks,
 * RFC 5321 length limits at and past each boundary, IPv6 literals, UTF-8
 * with and without SMTPUTF8, sendmail argv addresses and RFC 5322 header
 * address lists.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/xtext.h"

enum {
    B = ADDR_NEED_BRACKETS,
    N = ADDR_ALLOW_NULL,
    U = ADDR_ALLOW_UNQUALIFIED,
    W = ADDR_ALLOW_UTF8,
};

struct path_case {
    const char *in;
    unsigned flags;
    enum addr_error err;
    const char *addr;       /* expected canonical form when err == ADDR_OK */
    const char *domain;
    bool routed;
};

static const struct path_case path_cases[] = {
    /* plain valid paths */
    {"<user@example.com>", B, ADDR_OK, "user@example.com", "example.com", false},
    {"<User.Name@Example.COM>", B, ADDR_OK, "User.Name@example.com", "example.com", false},
    {"<first.last+tag@sub.example.co.jp>", B, ADDR_OK, "first.last+tag@sub.example.co.jp", "sub.example.co.jp", false},
    {"<a#$&'*+-/=?^_`{|}~@example.com>", B, ADDR_OK, "a#$&'*+-/=?^_`{|}~@example.com", "example.com", false},
    {"<a-b@a-b.c-d.example>", B, ADDR_OK, "a-b@a-b.c-d.example", "a-b.c-d.example", false},
    {"<x@123.example>", B, ADDR_OK, "x@123.example", "123.example", false},
    {"<root@localhost>", B, ADDR_OK, "root@localhost", "localhost", false},
    {"<u@xn--bcher-kva.example>", B, ADDR_OK, "u@xn--bcher-kva.example", "xn--bcher-kva.example", false},
    {"user@example.com", 0, ADDR_OK, "user@example.com", "example.com", false},
    {"  <user@example.com>", B, ADDR_OK, "user@example.com", "example.com", false},
    /* quoted local parts: kept quoted only when they need it */
    {"<\"john doe\"@example.com>", B, ADDR_OK, "\"john doe\"@example.com", "example.com", false},
    {"<\"john\"@example.com>", B, ADDR_OK, "john@example.com", "example.com", false},
    {"<\"john.doe\"@example.com>", B, ADDR_OK, "john.doe@example.com", "example.com", false},
    {"<\"a\\\"b\"@x.org>", B, ADDR_OK, "\"a\\\"b\"@x.org", "x.org", false},
    {"<\"a\\\\b\"@x.org>", B, ADDR_OK, "\"a\\\\b\"@x.org", "x.org", false},
    {"<\"a\\b\"@x.org>", B, ADDR_OK, "ab@x.org", "x.org", false},
    {"<\"a..b\"@x.org>", B, ADDR_OK, "\"a..b\"@x.org", "x.org", false},
    {"<\".a\"@x.org>", B, ADDR_OK, "\".a\"@x.org", "x.org", false},
    {"<\"\"@x.org>", B, ADDR_OK, "\"\"@x.org", "x.org", false},
    {"<\"a b\" @x.org>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    /* address literals */
    {"<user@[127.0.0.1]>", B, ADDR_OK, "user@[127.0.0.1]", "[127.0.0.1]", false},
    {"<user@[IPv6:2001:DB8::1]>", B, ADDR_OK, "user@[ipv6:2001:db8::1]", "[ipv6:2001:db8::1]", false},
    {"<user@[ipv6:2001:db8:0:0:0:0:0:1]>", B, ADDR_OK, "user@[ipv6:2001:db8::1]", "[ipv6:2001:db8::1]", false},
    {"<user@[IPv6:::1]>", B, ADDR_OK, "user@[ipv6:::1]", "[ipv6:::1]", false},
    {"<user@[IPv6:::ffff:1.2.3.4]>", B, ADDR_OK, "user@[ipv6:::ffff:1.2.3.4]", "[ipv6:::ffff:1.2.3.4]", false},
    {"<user@[1.2.3]>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<user@[300.1.1.1]>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<user@[01.2.3.4]>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<user@[::1]>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<user@[IPv6:2001:db8::g]>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<user@[IPv6:1.2.3.4]>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<user@[IPv6:]>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<user@[tag:content]>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<user@[127.0.0.1>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<user@[1.2.3.4].example>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    /* null path, postmaster, unqualified */
    {"<>", B | N, ADDR_OK, "", "", false},
    {"<>", B, ADDR_ERR_NULL, NULL, NULL, false},
    {"<Postmaster>", B, ADDR_OK, "postmaster", "", false},
    {"<POSTMASTER>", 0, ADDR_OK, "postmaster", "", false},
    {"postmaster", 0, ADDR_OK, "postmaster", "", false},
    {"<user>", B, ADDR_ERR_UNQUALIFIED, NULL, NULL, false},
    {"<user>", B | U, ADDR_OK, "user", "", false},
    {"<postmasters>", B, ADDR_ERR_UNQUALIFIED, NULL, NULL, false},
    /* source routes are stripped and flag the address */
    {"<@hop1.example,@hop2.example:user@example.com>", B, ADDR_OK, "user@example.com", "example.com", true},
    {"<@[10.0.0.1]:user@example.com>", B, ADDR_OK, "user@example.com", "example.com", true},
    {"<@hop user@example.com>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<@hop,user@example.com>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<@:user@example.com>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<@hop:>", B | N, ADDR_ERR_SYNTAX, NULL, NULL, false},
    /* relay tricks: all accepted as syntax, all routed */
    {"<user%victim.com@ourdomain.example>", B, ADDR_OK, "user%victim.com@ourdomain.example", "ourdomain.example", true},
    {"<\"victim@elsewhere\"@ourdomain.example>", B, ADDR_OK, "\"victim@elsewhere\"@ourdomain.example", "ourdomain.example", true},
    {"<@hop:user@victim.com>", B, ADDR_OK, "user@victim.com", "victim.com", true},
    {"<victim.com!user@ourdomain.example>", B, ADDR_OK, "victim.com!user@ourdomain.example", "ourdomain.example", true},
    {"<\"user%victim.com\"@ourdomain.example>", B, ADDR_OK, "user%victim.com@ourdomain.example", "ourdomain.example", true},
    {"<\"victim.com!user\"@ourdomain.example>", B, ADDR_OK, "victim.com!user@ourdomain.example", "ourdomain.example", true},
    {"<user@victim.com@ourdomain.example>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    /* brackets and what follows the path */
    {"user@example.com", B, ADDR_ERR_BRACKETS, NULL, NULL, false},
    {"<user@example.com", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<user@example.com>x", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<user@example.com> SIZE=100", B, ADDR_OK, "user@example.com", "example.com", false},
    {"user@example.com BODY=8BITMIME", 0, ADDR_OK, "user@example.com", "example.com", false},
    {"user@example.com>", 0, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"< user@example.com>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<user@example.com >", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"", 0, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"   ", 0, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<<user@example.com>>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    /* malformed local parts and domains */
    {"<user@@example.com>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    /* the Japanese carriers' legacy local parts: accepted and kept as written */
    {"<.user@example.com>", B, ADDR_OK, ".user@example.com", "example.com", false},
    {"<user.@ezweb.ne.jp>", B, ADDR_OK, "user.@ezweb.ne.jp", "ezweb.ne.jp", false},
    {"<taro..x@docomo.ne.jp>", B, ADDR_OK, "taro..x@docomo.ne.jp", "docomo.ne.jp", false},
    {"<...@example.com>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<user name@example.com>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<us(er@example.com>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<user@-example.com>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<user@example-.com>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<user@example..com>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<user@example.com.>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<user@.example.com>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<user@exa_mple.com>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<user@>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<@example.com>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<\"unterminated@example.com>", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<\"a\\", B, ADDR_ERR_SYNTAX, NULL, NULL, false},
    /* control characters, quoted or not */
    {"<user\r\n@example.com>", B, ADDR_ERR_CONTROL, NULL, NULL, false},
    {"<\"us\r\ner\"@example.com>", B, ADDR_ERR_CONTROL, NULL, NULL, false},
    {"<\"us\\\rer\"@example.com>", B, ADDR_ERR_CONTROL, NULL, NULL, false},
    {"<\"a\tb\"@example.com>", B, ADDR_ERR_CONTROL, NULL, NULL, false},
    {"<us\x7f" "er@example.com>", B, ADDR_ERR_CONTROL, NULL, NULL, false},
    {"<user@exam\x01ple.com>", B, ADDR_ERR_CONTROL, NULL, NULL, false},
    {"<user@example.com\r\n>", B, ADDR_ERR_CONTROL, NULL, NULL, false},
    {"<user@[1.2.3.4\n]>", B, ADDR_ERR_CONTROL, NULL, NULL, false},
    /* UTF-8: only with SMTPUTF8, and only well-formed */
    {"<\xc3\xbcser@example.com>", B, ADDR_ERR_8BIT, NULL, NULL, false},
    {"<\xc3\xbcser@example.com>", B | W, ADDR_OK, "\xc3\xbcser@example.com", "example.com", false},
    {"<user@\xe4\xbe\x8b\xe3\x81\x88.jp>", B, ADDR_ERR_8BIT, NULL, NULL, false},
    {"<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a>", B | W, ADDR_OK,
     "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a",
     "\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a", false},
    {"<\"\xc3\xbc b\"@example.com>", B | W, ADDR_OK, "\"\xc3\xbc b\"@example.com", "example.com", false},
    {"<\"\xc3\xbc b\"@example.com>", B, ADDR_ERR_8BIT, NULL, NULL, false},
    {"<\xc3\x28@example.com>", B | W, ADDR_ERR_SYNTAX, NULL, NULL, false},          /* bad continuation */
    {"<\xc0\xafx@example.com>", B | W, ADDR_ERR_SYNTAX, NULL, NULL, false},         /* overlong '/' */
    {"<\xed\xa0\x80@example.com>", B | W, ADDR_ERR_SYNTAX, NULL, NULL, false},      /* surrogate */
    {"<\xf4\x90\x80\x80@example.com>", B | W, ADDR_ERR_SYNTAX, NULL, NULL, false},  /* > U+10FFFF */
    {"<\xff@example.com>", B | W, ADDR_ERR_SYNTAX, NULL, NULL, false},
    {"<a@example.\xe6\x97", B | W, ADDR_ERR_SYNTAX, NULL, NULL, false},             /* truncated */
    {"<a@[\xc3\xbc]>", B | W, ADDR_ERR_SYNTAX, NULL, NULL, false},
};

static void test_path_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
        const struct path_case *c = &path_cases[i];
        struct mailaddr a;
        size_t consumed = 12345;
        enum addr_error e = addr_parse_path(c->in, strlen(c->in), c->flags, &a, &consumed);
        if (e != c->err)
            fail_msg("case %zu \"%s\": got %d (%s), want %d", i, c->in, e, addr_strerror(e), c->err);
        if (e != ADDR_OK) {
            assert_int_equal(consumed, 0);
            assert_string_equal(a.addr, "");
            continue;
        }
        if (strcmp(a.addr, c->addr) != 0)
            fail_msg("case %zu \"%s\": addr \"%s\", want \"%s\"", i, c->in, a.addr, c->addr);
        assert_string_equal(a.domain, c->domain);
        if (a.routed != c->routed)
            fail_msg("case %zu \"%s\": routed %d", i, c->in, a.routed);
        assert_int_equal(a.is_null, c->addr[0] == 0);
        assert_int_equal(a.is_literal, c->domain[0] == '[');
        bool eight = false;
        for (const char *p = c->addr; *p; p++)
            eight |= (unsigned char)*p >= 0x80;
        assert_int_equal(a.utf8, eight);
        /* local + "@" + domain is exactly addr */
        if (a.domain[0]) {
            char joined[600];
            snprintf(joined, sizeof(joined), "%s@%s", a.local, a.domain);
            assert_string_equal(joined, a.addr);
        } else
            assert_string_equal(a.local, a.addr);
    }
}

static void test_path_consumed(void **state)
{
    (void)state;
    struct mailaddr a;
    size_t consumed;
    const char *line = " <user@example.com> SIZE=100";
    assert_int_equal(addr_parse_path(line, strlen(line), B, &a, &consumed), ADDR_OK);
    assert_int_equal(consumed, 19);
    assert_string_equal(line + consumed, " SIZE=100");

    line = "user@example.com BODY=8BITMIME";
    assert_int_equal(addr_parse_path(line, strlen(line), 0, &a, &consumed), ADDR_OK);
    assert_int_equal(consumed, 16);

    /* the quoted space does not end the path */
    line = "<\"a b\"@example.com> NOTIFY=NEVER";
    assert_int_equal(addr_parse_path(line, strlen(line), B, &a, &consumed), ADDR_OK);
    assert_string_equal(line + consumed, " NOTIFY=NEVER");

    /* len is respected: no read past it, even without a NUL */
    char buf[] = {'<', 'a', '@', 'b', '.', 'c', '>'};
    assert_int_equal(addr_parse_path(buf, sizeof(buf), B, &a, &consumed), ADDR_OK);
    assert_string_equal(a.addr, "a@b.c");
    assert_int_equal(addr_parse_path(buf, sizeof(buf) - 1, B, &a, &consumed), ADDR_ERR_SYNTAX);
}

static void test_path_nul(void **state)
{
    (void)state;
    struct mailaddr a;
    size_t consumed;
    const char in[] = "<us\0er@example.com>";
    assert_int_equal(addr_parse_path(in, sizeof(in) - 1, B, &a, &consumed), ADDR_ERR_CONTROL);
    const char in2[] = "<\"us\0er\"@example.com>";
    assert_int_equal(addr_parse_path(in2, sizeof(in2) - 1, B, &a, &consumed), ADDR_ERR_CONTROL);
    const char in3[] = "<user@example.com\0>";
    assert_int_equal(addr_parse_path(in3, sizeof(in3) - 1, B, &a, &consumed), ADDR_ERR_CONTROL);
}

/* "<" + local + "@" + domain + ">" with the given part lengths. */
static char *make_path(size_t local_len, size_t domain_len, bool brackets)
{
    struct buf b = BUF_INIT;
    if (brackets)
        buf_putc(&b, '<');
    for (size_t i = 0; i < local_len; i++)
        buf_putc(&b, 'l');
    buf_putc(&b, '@');
    /* labels of up to 63 octets */
    size_t left = domain_len;
    while (left > 0) {
        size_t n = left > 63 ? 63 : left;
        if (left - n == 1)
            n--;                    /* never leave a lone trailing dot */
        for (size_t i = 0; i < n; i++)
            buf_putc(&b, 'd');
        left -= n;
        if (left > 0) {
            buf_putc(&b, '.');
            left--;
        }
    }
    if (brackets)
        buf_putc(&b, '>');
    return buf_steal(&b);
}

static enum addr_error parse_made(size_t local_len, size_t domain_len, bool brackets, struct mailaddr *a)
{
    char *p = make_path(local_len, domain_len, brackets);
    size_t consumed;
    enum addr_error e = addr_parse_path(p, strlen(p), brackets ? B : 0, a, &consumed);
    free(p);
    return e;
}

static void test_length_limits(void **state)
{
    (void)state;
    struct mailaddr a;

    /* local part: 64 octets */
    assert_int_equal(parse_made(64, 20, true, &a), ADDR_OK);
    assert_int_equal(strlen(a.local), 64);
    assert_int_equal(parse_made(65, 20, true, &a), ADDR_ERR_TOO_LONG);
    assert_int_equal(parse_made(5000, 20, true, &a), ADDR_ERR_TOO_LONG);

    /* path: 256 octets including "<" and ">" */
    assert_int_equal(parse_made(64, 189, true, &a), ADDR_OK);
    assert_int_equal(strlen(a.addr), 254);
    assert_int_equal(parse_made(64, 190, true, &a), ADDR_ERR_TOO_LONG);
    assert_int_equal(parse_made(1, 252, true, &a), ADDR_OK);
    assert_int_equal(parse_made(1, 253, true, &a), ADDR_ERR_TOO_LONG);
    /* without brackets the address itself may be 256 */
    assert_int_equal(parse_made(64, 191, false, &a), ADDR_OK);
    assert_int_equal(strlen(a.addr), 256);
    assert_int_equal(parse_made(64, 192, false, &a), ADDR_ERR_TOO_LONG);

    /* a quoted local part counts its quotes: 62 + 2 = 64 */
    char q[128];
    snprintf(q, sizeof(q), "<\"%.*s\"@x.org>", 62, "a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a");
    size_t consumed;
    assert_int_equal(addr_parse_path(q, strlen(q), B, &a, &consumed), ADDR_OK);
    assert_int_equal(strlen(a.local), 64);
    snprintf(q, sizeof(q), "<\"%.*s\"@x.org>", 63, "a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a");
    assert_int_equal(addr_parse_path(q, strlen(q), B, &a, &consumed), ADDR_ERR_TOO_LONG);

    /* labels: 63 octets */
    char lab[200];
    snprintf(lab, sizeof(lab), "<a@%.*s.example>", 63,
             "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd");
    assert_int_equal(addr_parse_path(lab, strlen(lab), B, &a, &consumed), ADDR_OK);
    snprintf(lab, sizeof(lab), "<a@%.*s.example>", 64,
             "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd");
    assert_int_equal(addr_parse_path(lab, strlen(lab), B, &a, &consumed), ADDR_ERR_TOO_LONG);

    /* a long source route counts towards the path */
    struct buf b = BUF_INIT;
    buf_putc(&b, '<');
    for (int i = 0; i < 30; i++)
        buf_puts(&b, i ? ",@hop.example" : "@hop.example");
    buf_puts(&b, ":u@x.org>");
    assert_int_equal(addr_parse_path(b.data, b.len, B, &a, &consumed), ADDR_ERR_TOO_LONG);
    buf_free(&b);
}

static void test_domain_valid(void **state)
{
    (void)state;
    assert_true(addr_domain_valid("example.com", false));
    assert_true(addr_domain_valid("localhost", false));
    assert_true(addr_domain_valid("[127.0.0.1]", false));
    assert_true(addr_domain_valid("[IPv6:2001:db8::1]", false));
    assert_false(addr_domain_valid("", false));
    assert_false(addr_domain_valid("example.com.", false));
    assert_false(addr_domain_valid("ex ample.com", false));
    assert_false(addr_domain_valid("-a.com", false));
    assert_false(addr_domain_valid("\xe4\xbe\x8b.jp", false));
    assert_true(addr_domain_valid("\xe4\xbe\x8b.jp", true));
    assert_false(addr_domain_valid("\xe4\xbe.jp", true));

    /* 255 octets is the most a domain may have */
    char *p = make_path(1, 255, false);
    const char *dom = strchr(p, '@') + 1;
    assert_int_equal(strlen(dom), 255);
    assert_true(addr_domain_valid(dom, false));
    free(p);
    p = make_path(1, 256, false);
    dom = strchr(p, '@') + 1;
    assert_int_equal(strlen(dom), 256);
    assert_false(addr_domain_valid(dom, false));
    free(p);
}

struct plain_case {
    const char *in;
    unsigned flags;
    enum addr_error err;
    const char *addr;
};

static const struct plain_case plain_cases[] = {
    {"user", U, ADDR_OK, "user"},
    {"user", 0, ADDR_ERR_UNQUALIFIED, NULL},
    {"postmaster", 0, ADDR_OK, "postmaster"},
    {"user@Example.COM", 0, ADDR_OK, "user@example.com"},
    {"<user@example.com>", 0, ADDR_OK, "user@example.com"},
    {"  user@example.com\t", 0, ADDR_OK, "user@example.com"},
    {"\"john doe\"@example.com", 0, ADDR_OK, "\"john doe\"@example.com"},
    {"", N, ADDR_OK, ""},
    {"<>", N, ADDR_OK, ""},
    {"", 0, ADDR_ERR_NULL, NULL},
    {"<>", 0, ADDR_ERR_NULL, NULL},
    {"user@example.com extra", 0, ADDR_ERR_SYNTAX, NULL},
    {"<user@example.com> extra", 0, ADDR_ERR_SYNTAX, NULL},
    {"<user@example.com", 0, ADDR_ERR_SYNTAX, NULL},
    {"user@example.com>", 0, ADDR_ERR_SYNTAX, NULL},
    {"user@example.com\n", 0, ADDR_ERR_CONTROL, NULL},
    {"us;er@example.com", 0, ADDR_ERR_SYNTAX, NULL},
    {"$(reboot)@example.com", 0, ADDR_ERR_SYNTAX, NULL},
    /* Exim's WIZard: valid atext, so it must stay opaque bytes downstream */
    {"${run{/bin/sh}}@example.com", 0, ADDR_OK, "${run{/bin/sh}}@example.com"},
    {"\xc3\xbc@example.com", 0, ADDR_ERR_8BIT, NULL},
    {"\xc3\xbc@example.com", W, ADDR_OK, "\xc3\xbc@example.com"},
};

static void test_plain_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(plain_cases) / sizeof(plain_cases[0]); i++) {
        const struct plain_case *c = &plain_cases[i];
        struct mailaddr a;
        enum addr_error e = addr_parse_plain(c->in, c->flags, &a);
        if (e != c->err)
            fail_msg("case %zu \"%s\": got %d, want %d", i, c->in, e, c->err);
        if (e == ADDR_OK) {
            assert_string_equal(a.addr, c->addr);
            assert_int_equal(a.is_null, c->addr[0] == 0);
        }
    }
}

/* Re-parsing a canonical form gives the same canonical form. */
static void test_canonical_is_stable(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
        const struct path_case *c = &path_cases[i];
        if (c->err != ADDR_OK)
            continue;
        struct mailaddr a, b;
        assert_int_equal(addr_parse_plain(c->addr, c->flags | N | U, &a), ADDR_OK);
        assert_string_equal(a.addr, c->addr);
        assert_int_equal(addr_parse_plain(a.addr, c->flags | N | U, &b), ADDR_OK);
        assert_string_equal(a.addr, b.addr);
    }
}

static void test_strerror(void **state)
{
    (void)state;
    for (int e = ADDR_OK; e <= ADDR_ERR_CONTROL; e++)
        assert_true(strlen(addr_strerror((enum addr_error)e)) > 0);
    assert_string_equal(addr_strerror(ADDR_ERR_SYNTAX), "Bad address syntax");
}

/* ---- header address lists ---- */

struct collect {
    struct buf b;
    int n;
};

static void collect_fn(void *arg, const char *addr)
{
    struct collect *c = arg;
    if (c->n++)
        buf_putc(&c->b, '|');
    buf_puts(&c->b, addr);
}

struct list_case {
    const char *in;
    int count;
    const char *out;        /* addresses joined by '|' */
};

static const struct list_case list_cases[] = {
    {"a@x.org", 1, "a@x.org"},
    {"John Doe <john@x.org>, jane@y.org", 2, "john@x.org|jane@y.org"},
    {"\"Doe, John\" <john@x.org>", 1, "john@x.org"},
    {"john@x.org (John Doe)", 1, "john@x.org"},
    {"(comment (nested (twice)) here) john@x.org", 1, "john@x.org"},
    {"john(inline)@x.org", 1, "john@x.org"},
    {"undisclosed-recipients:;", 0, ""},
    {"undisclosed-recipients: ;", 0, ""},
    {"undisclosed-recipients:", 0, ""},
    {"Friends: a@x.org, B <b@y.org>;, c@z.org", 3, "a@x.org|b@y.org|c@z.org"},
    {"a@x.org,\r\n b@y.org", 2, "a@x.org|b@y.org"},
    {"a@x.org,\n\tb@y.org\r\n", 2, "a@x.org|b@y.org"},
    {"a@x.org\r\n\r\n \r\n", 1, "a@x.org"},
    {"A\r\n Person <a@x.org>", 1, "a@x.org"},
    {"\"john doe\"@x.org", 1, "\"john doe\"@x.org"},
    {"\"john\"@x.org", 1, "john@x.org"},
    {"john . doe @ x . org", 1, "john.doe@x.org"},
    {"<@route1.example,@route2.example:a@x.org>", 1, "a@x.org"},
    {"a@x.org,,b@y.org,", 2, "a@x.org|b@y.org"},
    {"bob", 1, "bob"},
    {"bob, alice@X.ORG", 2, "bob|alice@x.org"},
    {"user@example.com <user@example.com>", 1, "user@example.com"},
    {"=?UTF-8?B?5bGx55Sw?= <yamada@example.jp>", 1, "yamada@example.jp"},
    {"\xe5\xb1\xb1\xe7\x94\xb0 <yamada@example.jp>", 1, "yamada@example.jp"},
    {"Joe Q. Public <joe@x.org>", 1, "joe@x.org"},
    {"a@[127.0.0.1]", 1, "a@[127.0.0.1]"},
    {"", 0, ""},
    {"   ", 0, ""},
    {"(only a comment)", 0, ""},
    /* invalid */
    {"John Doe john@x.org", -1, ""},
    {"a@x.org>", -1, ""},
    {"<a@x.org", -1, ""},
    {"a <b@x.org> c", -1, ""},
    {"(unterminated comment a@x.org", -1, ""},
    {"a@x.org)", -1, ""},
    {"\"unterminated a@x.org", -1, ""},
    {"a@x.org\r\nb@y.org", -1, ""},
    {"a@x.org\rb@y.org", -1, ""},
    {"G1: a@x.org, G2: b@y.org;;", -1, ""},
    {"a@@x.org", -1, ""},
    {"<>", -1, ""},
    {"a@x.org; b@y.org", -1, ""},
    {"a@x.org\x01", -1, ""},
    {"a@x..org", -1, ""},
    {"a@[1.2.3.4", -1, ""},
    {"good@x.org, bad bad@x.org", -1, ""},
    {"<a@x.org> <b@y.org>", -1, ""},
    {"a@x.org\\", -1, ""},
};

static void test_list_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(list_cases) / sizeof(list_cases[0]); i++) {
        const struct list_case *c = &list_cases[i];
        struct collect col = {BUF_INIT, 0};
        int n = addr_list_parse(c->in, collect_fn, &col);
        if (n != c->count)
            fail_msg("case %zu \"%s\": got %d, want %d", i, c->in, n, c->count);
        if (n >= 0) {
            assert_int_equal(col.n, n);
            if (strcmp(buf_str(&col.b), c->out) != 0)
                fail_msg("case %zu \"%s\": got \"%s\", want \"%s\"", i, c->in, buf_str(&col.b), c->out);
        } else
            assert_int_equal(col.n, 0);     /* nothing reported from a bad list */
        buf_free(&col.b);
    }
}

static void test_list_token_limit(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    for (int i = 0; i < 1000; i++)
        buf_puts(&b, "a@x.org, ");
    struct collect col = {BUF_INIT, 0};
    assert_int_equal(addr_list_parse(b.data, collect_fn, &col), 1000);
    buf_free(&col.b);
    for (int i = 0; i < 3000; i++)
        buf_puts(&b, "a@x.org, ");
    col.n = 0;
    assert_int_equal(addr_list_parse(b.data, collect_fn, &col), -1);
    assert_int_equal(col.n, 0);
    buf_free(&col.b);
    buf_free(&b);

    /* many trailing line ends: linear, not one scan of the rest per break */
    buf_puts(&b, "a@x.org");
    for (int i = 0; i < 200000; i++)
        buf_puts(&b, "\r\n");
    col.n = 0;
    assert_int_equal(addr_list_parse(b.data, collect_fn, &col), 1);
    buf_free(&col.b);
    buf_free(&b);
}

/* ---- xtext ---- */

static void test_xtext_decode(void **state)
{
    (void)state;
    struct {
        const char *in;
        size_t maxlen;
        const char *out;    /* NULL: must be refused */
    } cases[] = {
        {"abc", 100, "abc"},
        {"", 100, ""},
        {"a+2Bb", 100, "a+b"},
        {"a+2bb", 100, "a+b"},
        {"rfc822;user+40example.com", 100, "rfc822;user@example.com"},
        {"+3D+20", 100, "= "},
        {"+C3+BC", 100, "\xc3\xbc"},
        {"+0A", 100, NULL},
        {"+0D+0A", 100, NULL},
        {"+00", 100, NULL},
        {"+1F", 100, NULL},
        {"+7F", 100, NULL},
        {"a+2", 100, NULL},
        {"a+", 100, NULL},
        {"+GG", 100, NULL},
        {"a=b", 100, NULL},
        {"a b", 100, NULL},
        {"a\tb", 100, NULL},
        {"a\x80", 100, NULL},
        {"abcd", 4, "abcd"},
        {"abcd", 3, NULL},
        {"ab+2B", 3, "ab+"},
        {"ab+2Bc", 3, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = xtext_decode(cases[i].in, strlen(cases[i].in), cases[i].maxlen);
        if (!cases[i].out) {
            if (out)
                fail_msg("case %zu \"%s\" accepted as \"%s\"", i, cases[i].in, out);
        } else {
            if (!out)
                fail_msg("case %zu \"%s\" refused", i, cases[i].in);
            assert_string_equal(out, cases[i].out);
        }
        free(out);
    }
    /* a NUL inside the given length is refused, not a terminator */
    assert_null(xtext_decode("ab\0cd", 5, 100));
    /* only len bytes are read */
    char *out = xtext_decode("abcdef", 3, 100);
    assert_string_equal(out, "abc");
    free(out);
}

static void test_xtext_encode(void **state)
{
    (void)state;
    char *e = xtext_encode("a+b=c d\xc3\xbc");
    assert_string_equal(e, "a+2Bb+3Dc+20d+C3+BC");
    free(e);

    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = 0;
    e = xtext_encode(all);
    for (const char *p = e; *p; p++)
        assert_true(*p > 32 && *p < 127 && *p != '=');
    /* round trip of everything that is not a control character */
    char printable[256];
    size_t n = 0;
    for (int i = 32; i < 256; i++)
        if (i != 127)
            printable[n++] = (char)i;
    printable[n] = 0;
    free(e);
    e = xtext_encode(printable);
    char *d = xtext_decode(e, strlen(e), 1000);
    assert_non_null(d);
    assert_string_equal(d, printable);
    free(d);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_table),
        cmocka_unit_test(test_path_consumed),
        cmocka_unit_test(test_path_nul),
        cmocka_unit_test(test_length_limits),
        cmocka_unit_test(test_domain_valid),
        cmocka_unit_test(test_plain_table),
        cmocka_unit_test(test_canonical_is_stable),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_list_table),
        cmocka_unit_test(test_list_token_limit),
        cmocka_unit_test(test_xtext_decode),
        cmocka_unit_test(test_xtext_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
