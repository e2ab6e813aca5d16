/*
 * test_relay.c - relay control (relay_check.c) with a loaded configuration:
 * local domains, relay domains with subdomains, trusted networks (also as
 * IPv4-mapped IPv6 clients), own [ip] literals, bare postmaster, and the
 * routing tricks that must never open a relay.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/config.h"
#include "lib/params.h"
#include "receive/relay_check.h"

/* The S3 server (field report 003), with the fix applied, plus relay
 * domains and a proxy address. */
static const char *conf =
    "myhostname = mx.example.test\n"
    "mydomain = example.test\n"
    "myorigin = $myhostname\n"
    "mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain\n"
    "relay_domains = relay.test, .wild.test, inline:{ table.test=ok }\n"
    "mynetworks = 127.0.0.0/8, [::1]/128, 10.25.30.0/26\n"
    "smtpd_listen = 127.0.0.1:2525\n"
    "inet_interfaces = loopback-only\n"
    "proxy_interfaces = 192.0.2.10\n";

static void load(const char *text)
{
    struct buf err = BUF_INIT;
    if (config_load_string(text, "test.conf", &err) != 0)
        fail_msg("config: %s", buf_str(&err));
    if (relay_check_init(&err) != 0)
        fail_msg("relay_check_init: %s", buf_str(&err));
    buf_free(&err);
}

static int setup(void **state)
{
    (void)state;
    load(conf);
    return 0;
}

static struct sockaddr_storage client_storage;

/* NULL for "local", else a sockaddr as accept(2) gives it. */
static const struct sockaddr *client(const char *text)
{
    if (!text)
        return NULL;
    memset(&client_storage, 0, sizeof(client_storage));
    struct sockaddr_in *sin = (struct sockaddr_in *)&client_storage;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&client_storage;
    if (inet_pton(AF_INET, text, &sin->sin_addr) == 1)
        sin->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1)
        sin6->sin6_family = AF_INET6;
    else
        fail_msg("bad test address %s", text);
    return (const struct sockaddr *)&client_storage;
}

#define OUTSIDE "192.0.2.99"
#define INSIDE "10.25.30.5"

struct relay_case {
    const char *rcpt;
    const char *client;     /* NULL = local submission */
    enum relay_verdict want;
};

static const struct relay_case relay_cases[] = {
    /* our own domains, from anywhere */
    {"<user@example.test>", OUTSIDE, RELAY_LOCAL},
    {"<user@EXAMPLE.test>", OUTSIDE, RELAY_LOCAL},
    {"<user@mx.example.test>", OUTSIDE, RELAY_LOCAL},
    {"<user@localhost>", OUTSIDE, RELAY_LOCAL},
    {"<user@localhost.example.test>", OUTSIDE, RELAY_LOCAL},
    {"<user@example.test>", INSIDE, RELAY_LOCAL},
    /* mydestination has no parent matching */
    {"<user@sub.example.test>", OUTSIDE, RELAY_DENIED},
    {"<user@sub.example.test>", INSIDE, RELAY_MYNETWORKS},
    /* relay_domains does */
    {"<user@relay.test>", OUTSIDE, RELAY_RELAY_DOMAIN},
    {"<user@a.relay.test>", OUTSIDE, RELAY_RELAY_DOMAIN},
    {"<user@a.b.relay.test>", OUTSIDE, RELAY_RELAY_DOMAIN},
    {"<user@notrelay.test>", OUTSIDE, RELAY_DENIED},
    {"<user@wild.test>", OUTSIDE, RELAY_DENIED},
    {"<user@x.wild.test>", OUTSIDE, RELAY_RELAY_DOMAIN},
    {"<user@table.test>", OUTSIDE, RELAY_RELAY_DOMAIN},
    {"<user@sub.table.test>", OUTSIDE, RELAY_RELAY_DOMAIN},
    /* elsewhere: only for trusted clients */
    {"<user@elsewhere.example>", OUTSIDE, RELAY_DENIED},
    {"<user@elsewhere.example>", INSIDE, RELAY_MYNETWORKS},
    {"<user@elsewhere.example>", "127.0.0.1", RELAY_MYNETWORKS},
    {"<user@elsewhere.example>", "::1", RELAY_MYNETWORKS},
    {"<user@elsewhere.example>", "::ffff:10.25.30.5", RELAY_MYNETWORKS},
    {"<user@elsewhere.example>", "::ffff:192.0.2.99", RELAY_DENIED},
    {"<user@elsewhere.example>", "10.25.30.64", RELAY_DENIED},
    {"<user@elsewhere.example>", "2001:db8::99", RELAY_DENIED},
    {"<user@elsewhere.example>", NULL, RELAY_MYNETWORKS},
    /* own address literals: listen, inet_interfaces, proxy_interfaces */
    {"<user@[127.0.0.1]>", OUTSIDE, RELAY_LOCAL},
    {"<user@[IPv6:::1]>", OUTSIDE, RELAY_LOCAL},
    {"<user@[192.0.2.10]>", OUTSIDE, RELAY_LOCAL},
    {"<user@[192.0.2.11]>", OUTSIDE, RELAY_DENIED},
    {"<user@[192.0.2.11]>", INSIDE, RELAY_MYNETWORKS},
    /* bare postmaster is always ours (RFC 5321 4.5.1) */
    {"<postmaster>", OUTSIDE, RELAY_LOCAL},
    {"<Postmaster>", OUTSIDE, RELAY_LOCAL},
    /* routing tricks never relay, even "to" our own or a relay domain */
    {"<user%victim.com@example.test>", OUTSIDE, RELAY_DENIED},
    {"<\"victim@elsewhere\"@example.test>", OUTSIDE, RELAY_DENIED},
    {"<@hop:user@victim.com>", OUTSIDE, RELAY_DENIED},
    {"<victim.com!user@example.test>", OUTSIDE, RELAY_DENIED},
    {"<user%victim.com@relay.test>", OUTSIDE, RELAY_DENIED},
    {"<@mx.example.test:user@example.test>", OUTSIDE, RELAY_DENIED},
    {"<\"user%victim.com\"@[127.0.0.1]>", OUTSIDE, RELAY_DENIED},
    {"<@mx.example.test:postmaster>", OUTSIDE, RELAY_DENIED},
    /* ... but trusted clients may use them */
    {"<user%victim.com@example.test>", INSIDE, RELAY_MYNETWORKS},
    {"<@hop:user@victim.com>", "127.0.0.1", RELAY_MYNETWORKS},
    {"<victim.com!user@example.test>", NULL, RELAY_MYNETWORKS},
    /* unqualified: judged as user@$myorigin */
    {"<user>", OUTSIDE, RELAY_LOCAL},
};

static void test_relay_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(relay_cases) / sizeof(relay_cases[0]); i++) {
        const struct relay_case *c = &relay_cases[i];
        struct mailaddr a;
        size_t consumed;
        enum addr_error e = addr_parse_path(c->rcpt, strlen(c->rcpt), ADDR_NEED_BRACKETS | ADDR_ALLOW_UNQUALIFIED,
                                            &a, &consumed);
        if (e != ADDR_OK)
            fail_msg("case %zu: %s does not parse: %s", i, c->rcpt, addr_strerror(e));
        enum relay_verdict got = relay_check(&a, client(c->client));
        if (got != c->want)
            fail_msg("case %zu: %s from %s: got %d, want %d", i, c->rcpt, c->client ? c->client : "local",
                     got, c->want);
    }
}

static void test_domain_is_local(void **state)
{
    (void)state;
    assert_true(domain_is_local("example.test"));
    assert_true(domain_is_local("Example.TEST"));
    assert_true(domain_is_local("mx.example.test"));
    assert_true(domain_is_local("[127.0.0.1]"));
    assert_true(domain_is_local("[ipv6:::1]"));
    assert_true(domain_is_local("[192.0.2.10]"));
    assert_false(domain_is_local("[192.0.2.11]"));
    assert_false(domain_is_local("sub.example.test"));
    assert_false(domain_is_local("relay.test"));
    assert_false(domain_is_local("127.0.0.1"));
    assert_false(domain_is_local(""));
    assert_false(domain_is_local(NULL));
}

static void test_client_in_mynetworks(void **state)
{
    (void)state;
    assert_true(client_in_mynetworks(NULL));
    assert_true(client_in_mynetworks(client("127.0.0.1")));
    assert_true(client_in_mynetworks(client("10.25.30.63")));
    assert_false(client_in_mynetworks(client("10.25.30.64")));
    assert_true(client_in_mynetworks(client("::ffff:127.0.0.1")));
    assert_false(client_in_mynetworks(client("192.0.2.99")));
}

static void test_s3_copied_mydestination(void **state)
{
    (void)state;
    /* S3 before the fix: the domain's main server's mydestination copied
     * to a second host makes the domain local there */
    load("myhostname = subml.example1155.jp\n"
         "mydomain = example1155.jp\n"
         "mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain\n"
         "mynetworks = 127.0.0.1/32\n");
    assert_true(domain_is_local("example1155.jp"));
    /* after: only the host itself; the domain is relayed */
    load("myhostname = subml.example1155.jp\n"
         "mydomain = example1155.jp\n"
         "myorigin = $myhostname\n"
         "mydestination = $myhostname, localhost.$mydomain, localhost\n"
         "relay_domains = $mydestination\n"
         "mynetworks = 127.0.0.1/32\n");
    assert_false(domain_is_local("example1155.jp"));
    assert_true(domain_is_local("subml.example1155.jp"));
    struct mailaddr a;
    assert_int_equal(addr_parse_plain("hogeuser@example1155.jp", 0, &a), ADDR_OK);
    assert_int_equal(relay_check(&a, client("192.0.2.99")), RELAY_DENIED);
    assert_int_equal(relay_check(&a, client("127.0.0.1")), RELAY_MYNETWORKS);
    /* a wide mynetworks behind a proxy: every client looks inside */
    load("mynetworks = 10.25.30.0/26, 127.0.0.1/32\n");
    assert_int_equal(relay_check(&a, client("10.25.30.1")), RELAY_MYNETWORKS);
    load(conf);
}

static void test_unqualified_uses_myorigin(void **state)
{
    (void)state;
    struct mailaddr a;
    assert_int_equal(addr_parse_plain("user", ADDR_ALLOW_UNQUALIFIED, &a), ADDR_OK);
    load("myorigin = elsewhere.example\nmynetworks = 127.0.0.0/8\n");
    assert_int_equal(relay_check(&a, client("192.0.2.99")), RELAY_DENIED);
    assert_int_equal(relay_check(&a, client("127.0.0.1")), RELAY_MYNETWORKS);
    load("myorigin = relay.test\nrelay_domains = relay.test\n");
    assert_int_equal(relay_check(&a, client("192.0.2.99")), RELAY_RELAY_DOMAIN);
    load(conf);
}

static void test_init_errors(void **state)
{
    (void)state;
    struct {
        const char *text;
        const char *want;
    } cases[] = {
        {"mynetworks = 10.0.0.0/33\n", "mynetworks: bad network \"10.0.0.0/33\""},
        {"mynetworks = 10.0.0.1/8\n", "mynetworks: non-null host address bits"},
        {"mydestination = hash:/nonexistent/dest\n", "mydestination: open /nonexistent/dest"},
        {"relay_domains = !\n", "relay_domains: no pattern after '!'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf err = BUF_INIT;
        assert_int_equal(config_load_string(cases[i].text, "bad.conf", &err), 0);
        assert_int_equal(relay_check_init(&err), -1);
        if (!strstr(buf_str(&err), cases[i].want))
            fail_msg("error \"%s\", want \"%s\"", buf_str(&err), cases[i].want);
        buf_free(&err);
    }
    /* a failed init keeps the lists that were in force */
    load(conf);
    struct buf err = BUF_INIT;
    assert_int_equal(config_load_string("mynetworks = 0.0.0.0/0 bogus\n", "bad.conf", &err), 0);
    assert_int_equal(relay_check_init(&err), -1);
    buf_free(&err);
    struct mailaddr a;
    assert_int_equal(addr_parse_plain("user@elsewhere.example", 0, &a), ADDR_OK);
    assert_int_equal(relay_check(&a, client("192.0.2.99")), RELAY_DENIED);
    assert_int_equal(relay_check(&a, client("10.25.30.5")), RELAY_MYNETWORKS);
    load(conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relay_table),
        cmocka_unit_test(test_domain_is_local),
        cmocka_unit_test(test_client_in_mynetworks),
        cmocka_unit_test(test_s3_copied_mydestination),
        cmocka_unit_test(test_unqualified_uses_myorigin),
        cmocka_unit_test(test_init_errors),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
