/*
 * test_netaddr.c - network lists (CIDR edges /0 /32 /128, IPv4-mapped IPv6
 * clients, negation, files, tables), domain lists (exact, ".sub", parent
 * matching, tables), sockaddr helpers and our own address literals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "lib/netaddr.h"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/yubin-test-netaddr.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *write_file(const char *name, const char *text)
{
    char *path = xasprintf("%s/%s", tmpdir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
    return path;
}

/* A sockaddr for a textual address, as accept(2) would give it. */
static struct sockaddr_storage sa_of(const char *text, int port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
    } else
        fail_msg("bad test address %s", text);
    return ss;
}

static struct netlist *nl(const char *value)
{
    struct buf err = BUF_INIT;
    struct netlist *l = netlist_parse(value, &err);
    if (!l)
        fail_msg("netlist_parse(\"%s\"): %s", value, buf_str(&err));
    buf_free(&err);
    return l;
}

struct net_case {
    const char *list;
    const char *addr;
    bool match;
};

static const struct net_case net_cases[] = {
    {"127.0.0.0/8 [::1]/128", "127.0.0.1", true},
    {"127.0.0.0/8 [::1]/128", "127.255.255.255", true},
    {"127.0.0.0/8 [::1]/128", "128.0.0.1", false},
    {"127.0.0.0/8 [::1]/128", "126.255.255.255", false},
    {"127.0.0.0/8 [::1]/128", "::1", true},
    {"127.0.0.0/8 [::1]/128", "::2", false},
    /* /0 */
    {"0.0.0.0/0", "203.0.113.9", true},
    {"0.0.0.0/0", "::ffff:203.0.113.9", true},
    {"0.0.0.0/0", "2001:db8::1", false},
    {"[::]/0", "2001:db8::1", true},
    {"::/0", "::1", true},
    /* /32 and a bare address */
    {"192.0.2.1/32", "192.0.2.1", true},
    {"192.0.2.1/32", "192.0.2.0", false},
    {"192.0.2.1/32", "192.0.2.2", false},
    {"192.0.2.1", "192.0.2.1", true},
    {"192.0.2.1", "192.0.2.11", false},
    /* /128 */
    {"[2001:db8::1]/128", "2001:db8::1", true},
    {"[2001:db8::1]/128", "2001:db8::2", false},
    {"2001:db8::1", "2001:db8::1", true},
    {"[IPv6:2001:db8::1]", "2001:db8::1", true},
    /* prefixes that do not end on a byte */
    {"10.0.0.0/31", "10.0.0.1", true},
    {"10.0.0.0/31", "10.0.0.2", false},
    {"10.0.0.128/25", "10.0.0.127", false},
    {"10.0.0.128/25", "10.0.0.128", true},
    {"10.0.0.128/25", "10.0.0.255", true},
    {"10.25.30.0/26", "10.25.30.63", true},
    {"10.25.30.0/26", "10.25.30.64", false},
    {"2001:db8::/33", "2001:db8:7fff::1", true},
    {"2001:db8::/33", "2001:db8:8000::", false},
    {"[2001:db8::]/32", "2001:db9::", false},
    {"8.0.0.0/7", "9.255.255.255", true},
    {"8.0.0.0/7", "10.0.0.0", false},
    /* IPv4-mapped IPv6 clients match IPv4 networks */
    {"10.0.0.0/8", "::ffff:10.1.2.3", true},
    {"10.0.0.0/8", "::ffff:11.0.0.1", false},
    {"127.0.0.1/32", "::ffff:127.0.0.1", true},
    {"[::ffff:0:0]/96", "::ffff:10.1.2.3", true},
    {"[::ffff:0:0]/96", "10.1.2.3", false},
    /* negation; the first match wins */
    {"!10.0.0.1 10.0.0.0/8", "10.0.0.1", false},
    {"!10.0.0.1 10.0.0.0/8", "10.0.0.2", true},
    {"10.0.0.0/8 !10.0.0.1", "10.0.0.1", true},
    {"!!10.0.0.1", "10.0.0.1", true},
    {"!10.0.0.0/8, 0.0.0.0/0", "::ffff:10.9.9.9", false},
    {"!10.0.0.0/8, 0.0.0.0/0", "::ffff:11.9.9.9", true},
    /* separators */
    {"10.0.0.1,10.0.0.2,\t10.0.0.3", "10.0.0.3", true},
    {"", "127.0.0.1", false},
    /* a table keyed by the client address */
    {"inline:{ 192.0.2.7=ok }", "192.0.2.7", true},
    {"inline:{ 192.0.2.7=ok }", "::ffff:192.0.2.7", true},
    {"inline:{ 192.0.2.7=ok }", "192.0.2.8", false},
    {"!inline:{ 192.0.2.7=ok } 192.0.2.0/24", "192.0.2.7", false},
};

static void test_netlist_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(net_cases) / sizeof(net_cases[0]); i++) {
        const struct net_case *c = &net_cases[i];
        struct netlist *l = nl(c->list);
        struct sockaddr_storage ss = sa_of(c->addr, 25);
        bool got = netlist_match(l, (struct sockaddr *)&ss);
        if (got != c->match)
            fail_msg("case %zu: \"%s\" vs %s: got %d", i, c->list, c->addr, got);
        assert_int_equal(netlist_match_text(l, c->addr), c->match);
        netlist_free(l);
    }
}

static void test_netlist_text_forms(void **state)
{
    (void)state;
    struct netlist *l = nl("[2001:db8::1] 192.0.2.1");
    assert_true(netlist_match_text(l, "[2001:db8::1]"));
    assert_true(netlist_match_text(l, "[ipv6:2001:db8::1]"));
    assert_true(netlist_match_text(l, "[192.0.2.1]"));
    assert_false(netlist_match_text(l, "not an address"));
    assert_false(netlist_match_text(l, ""));
    assert_false(netlist_match_text(l, NULL));
    assert_false(netlist_match(l, NULL));
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    assert_false(netlist_match(l, (struct sockaddr *)&sun));
    assert_false(netlist_match(NULL, NULL));
    netlist_free(l);
}

static void test_netlist_errors(void **state)
{
    (void)state;
    struct {
        const char *list;
        const char *want;
    } cases[] = {
        {"10.0.0.0/33", "bad network \"10.0.0.0/33\""},
        {"[::1]/129", "bad network \"[::1]/129\""},
        {"10.0.0.0/-1", "bad network"},
        {"10.0.0.0/", "bad network"},
        {"10.0.0.0/8x", "bad network"},
        {"300.1.1.1", "bad network \"300.1.1.1\""},
        {"10/8", "bad network \"10/8\""},
        {"mail.example.com", "bad network"},
        {"[10.0.0.1", "bad network"},
        {"127.0.0.0/8 !", "no pattern after '!'"},
        {"10.0.0.1/8", "non-null host address bits in \"10.0.0.1/8\", perhaps you should use \"10.0.0.0/8\" instead"},
        {"[2001:db8::1]/32", "perhaps you should use \"[2001:db8::]/32\" instead"},
        {"10.0.0.129/25", "perhaps you should use \"10.0.0.128/25\" instead"},
        {"/nonexistent/mynetworks", "open /nonexistent/mynetworks: No such file or directory"},
        {"cdb:/etc/x", "unsupported table type"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf err = BUF_INIT;
        struct netlist *l = netlist_parse(cases[i].list, &err);
        if (l)
            fail_msg("\"%s\" accepted", cases[i].list);
        if (!strstr(buf_str(&err), cases[i].want))
            fail_msg("\"%s\": error \"%s\", want \"%s\"", cases[i].list, buf_str(&err), cases[i].want);
        buf_free(&err);
    }
}

static void test_netlist_files(void **state)
{
    (void)state;
    char *inner = write_file("inner", "# more\n198.51.100.0/24\n");
    char *text = xasprintf("# trusted networks\n"
                           "10.0.0.0/8\n"
                           "  # indented comment\n"
                           "!192.168.2.1, 192.168.0.0/16\n"
                           "%s\n", inner);
    char *outer = write_file("outer", text);
    struct netlist *l = nl(outer);
    assert_true(netlist_match_text(l, "10.1.1.1"));
    assert_false(netlist_match_text(l, "192.168.2.1"));
    assert_true(netlist_match_text(l, "192.168.2.2"));
    assert_true(netlist_match_text(l, "198.51.100.7"));
    assert_false(netlist_match_text(l, "203.0.113.1"));
    netlist_free(l);

    /* "!/file" negates every item of the file (and "!!" inside it flips back) */
    char *list = xasprintf("!%s 0.0.0.0/0", outer);
    l = nl(list);
    assert_false(netlist_match_text(l, "10.1.1.1"));
    assert_true(netlist_match_text(l, "192.168.2.1"));
    assert_true(netlist_match_text(l, "203.0.113.1"));
    netlist_free(l);
    free(list);

    /* an error in a file names the file */
    char *bad = write_file("bad", "10.0.0.0/8\n10.0.0.0/99\n");
    struct buf err = BUF_INIT;
    assert_null(netlist_parse(bad, &err));
    assert_non_null(strstr(buf_str(&err), bad));
    assert_non_null(strstr(buf_str(&err), "bad network \"10.0.0.0/99\""));
    buf_free(&err);

    /* a file that includes itself ends, with an error */
    char *selfpath = xasprintf("%s/self", tmpdir);
    char *selftext = xasprintf("10.0.0.0/8 %s\n", selfpath);
    free(write_file("self", selftext));
    assert_null(netlist_parse(selfpath, &err));
    assert_non_null(strstr(buf_str(&err), "nested too deeply"));
    buf_free(&err);

    free(selfpath);
    free(selftext);
    free(bad);
    free(text);
    free(inner);
    free(outer);
}

static void test_widest_prefix(void **state)
{
    (void)state;
    struct {
        const char *list;
        int prefix;
        bool v6;
    } cases[] = {
        {"127.0.0.0/8 [::1]/128", 8, false},
        {"127.0.0.1/32 [::1]/128", 32, false},
        {"[::1]/128", 128, true},
        {"192.168.0.0/16 [2001:db8::]/32", 32, true},
        {"192.168.0.0/16 [2001:db8::]/64", 16, false},
        {"!0.0.0.0/0 10.0.0.0/8", 8, false},
        {"10.25.30.0/26, 127.0.0.1/32", 26, false},
        {"0.0.0.0/0", 0, false},
        {"inline:{ 10.0.0.1=x }", -1, false},
        {"", -1, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct netlist *l = nl(cases[i].list);
        bool v6 = !cases[i].v6;
        int p = netlist_widest_prefix(l, &v6);
        if (p != cases[i].prefix || (p >= 0 && v6 != cases[i].v6))
            fail_msg("\"%s\": got /%d v6=%d", cases[i].list, p, v6);
        netlist_free(l);
    }
}

/* ---- domain lists ---- */

struct dom_case {
    const char *list;
    bool parent;
    const char *domain;
    bool match;
    const char *why;
};

static const struct dom_case dom_cases[] = {
    /* exact and ".sub" without parent matching (mydestination) */
    {"example.com, .sub.example.org", false, "example.com", true, "example.com"},
    {"example.com, .sub.example.org", false, "www.example.com", false, NULL},
    {"example.com, .sub.example.org", false, "x.sub.example.org", true, ".sub.example.org"},
    {"example.com, .sub.example.org", false, "a.x.sub.example.org", true, ".sub.example.org"},
    {"example.com, .sub.example.org", false, "sub.example.org", false, NULL},
    {"example.com, .sub.example.org", false, "xsub.example.org", false, NULL},
    {"example.com", false, "com", false, NULL},
    {"example.com", false, "", false, NULL},
    /* parent matching (relay_domains) */
    {"example.com", true, "example.com", true, "example.com"},
    {"example.com", true, "a.example.com", true, "example.com"},
    {"example.com", true, "a.b.example.com", true, "example.com"},
    {"example.com", true, "badexample.com", false, NULL},
    {"example.com", true, "example.com.evil.test", false, NULL},
    {".example.com", true, "example.com", false, NULL},
    {".example.com", true, "a.example.com", true, ".example.com"},
    /* case and a trailing dot in the list */
    {"Example.COM.", false, "example.com", true, "Example.COM."},
    /* negation */
    {"!private.example.com example.com", true, "private.example.com", false, "!private.example.com"},
    {"!private.example.com example.com", true, "x.private.example.com", false, "!private.example.com"},
    {"!private.example.com example.com", true, "www.example.com", true, "example.com"},
    {"!!example.com", false, "example.com", true, "example.com"},
    /* tables: the key, then parents ("a.com" with parent matching, ".a.com" without) */
    {"inline:{ example.net=x, .example.org=y }", false, "example.net", true, "inline:{ example.net=x, .example.org=y }"},
    {"inline:{ example.net=x, .example.org=y }", false, "a.example.net", false, NULL},
    {"inline:{ example.net=x, .example.org=y }", false, "a.b.example.org", true, "inline:{ example.net=x, .example.org=y }"},
    {"inline:{ example.net=x, .example.org=y }", false, "example.org", false, NULL},
    {"inline:{ example.net=x }", true, "a.b.example.net", true, "inline:{ example.net=x }"},
    {"inline:{ example.net=x }", true, "xexample.net", false, NULL},
    {"static:anything", false, "whatever.test", true, "static:anything"},
    /* address literals as plain items */
    {"[127.0.0.1]", false, "[127.0.0.1]", true, "[127.0.0.1]"},
};

static void test_domlist_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(dom_cases) / sizeof(dom_cases[0]); i++) {
        const struct dom_case *c = &dom_cases[i];
        struct buf err = BUF_INIT;
        struct domlist *l = domlist_parse(c->list, c->parent, &err);
        if (!l)
            fail_msg("case %zu: %s", i, buf_str(&err));
        const char *why = "unset";
        bool got = domlist_match(l, c->domain, &why);
        if (got != c->match)
            fail_msg("case %zu: \"%s\" vs \"%s\": got %d", i, c->list, c->domain, got);
        if (c->why)
            assert_string_equal(why, c->why);
        else
            assert_null(why);
        assert_int_equal(domlist_match(l, c->domain, NULL), c->match);
        domlist_free(l);
        buf_free(&err);
    }
}

static void test_domlist_files_and_errors(void **state)
{
    (void)state;
    char *path = write_file("domains", "# relay domains\nexample.net\n  .example.org other.test\n");
    struct buf err = BUF_INIT;
    char *list = xasprintf("first.test, %s", path);
    struct domlist *l = domlist_parse(list, false, &err);
    assert_non_null(l);
    assert_true(domlist_match(l, "first.test", NULL));
    assert_true(domlist_match(l, "example.net", NULL));
    assert_true(domlist_match(l, "a.example.org", NULL));
    assert_true(domlist_match(l, "other.test", NULL));
    assert_false(domlist_match(l, "relay.test", NULL));
    domlist_free(l);
    free(list);
    free(path);

    const char *bad[] = {"hash:/nonexistent/domains", "/nonexistent/domains", "..example.com", "a..b", "!", "."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        buf_reset(&err);
        if (domlist_parse(bad[i], false, &err))
            fail_msg("\"%s\" accepted", bad[i]);
        assert_true(err.len > 0);
    }
    buf_free(&err);

    /* an empty list matches nothing */
    l = domlist_parse("", true, &err);
    assert_non_null(l);
    assert_false(domlist_match(l, "example.com", NULL));
    domlist_free(l);
    assert_false(domlist_match(NULL, "example.com", NULL));
}

/* ---- sockaddr helpers ---- */

static void test_sockaddr_helpers(void **state)
{
    (void)state;
    char text[64];
    struct sockaddr_storage ss = sa_of("192.0.2.1", 25);
    sockaddr_to_text((struct sockaddr *)&ss, text, sizeof(text));
    assert_string_equal(text, "192.0.2.1");
    assert_int_equal(sockaddr_port((struct sockaddr *)&ss), 25);

    ss = sa_of("2001:DB8:0::1", 2525);
    sockaddr_to_text((struct sockaddr *)&ss, text, sizeof(text));
    assert_string_equal(text, "2001:db8::1");
    assert_int_equal(sockaddr_port((struct sockaddr *)&ss), 2525);

    /* a mapped client is logged as the IPv4 address it is */
    ss = sa_of("::ffff:10.1.2.3", 587);
    sockaddr_to_text((struct sockaddr *)&ss, text, sizeof(text));
    assert_string_equal(text, "10.1.2.3");

    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    sockaddr_to_text((struct sockaddr *)&sun, text, sizeof(text));
    assert_string_equal(text, "unknown");
    assert_int_equal(sockaddr_port((struct sockaddr *)&sun), -1);
    sockaddr_to_text(NULL, text, sizeof(text));
    assert_string_equal(text, "unknown");
    assert_int_equal(sockaddr_port(NULL), -1);

    /* truncation never overruns */
    char small[4] = "xyz";
    ss = sa_of("192.0.2.1", 25);
    sockaddr_to_text((struct sockaddr *)&ss, small, sizeof(small));
    assert_true(strlen(small) < sizeof(small));
}

/* ---- own addresses ---- */

static void load(const char *text)
{
    struct buf err = BUF_INIT;
    if (config_load_string(text, "test.conf", &err) != 0)
        fail_msg("config: %s", buf_str(&err));
    buf_free(&err);
}

static void test_own_address_literal(void **state)
{
    (void)state;
    load("smtpd_listen = 127.0.0.1:2525\n"
         "inet_interfaces = 127.0.0.1\n"
         "proxy_interfaces = 192.0.2.10, [2001:db8::25]\n");
    assert_true(own_address_literal("[127.0.0.1]"));
    assert_true(own_address_literal("[192.0.2.10]"));
    assert_true(own_address_literal("[ipv6:2001:db8::25]"));
    assert_true(own_address_literal("[IPv6:2001:DB8:0::25]"));
    assert_true(own_address_literal("[ipv6:::ffff:127.0.0.1]"));
    assert_false(own_address_literal("[127.0.0.2]"));
    assert_false(own_address_literal("[192.0.2.11]"));
    assert_false(own_address_literal("[ipv6:::1]"));
    assert_false(own_address_literal("[foo]"));
    assert_false(own_address_literal(""));
    assert_false(own_address_literal(NULL));

    /* a new configuration is noticed */
    load("smtpd_listen = [::1]:2525\n"
         "inet_interfaces = loopback-only\n");
    assert_true(own_address_literal("[ipv6:::1]"));
    assert_true(own_address_literal("[127.0.0.1]"));
    assert_false(own_address_literal("[192.0.2.10]"));

    load("smtpd_listen = 127.0.0.2:2525\n"
         "inet_interfaces = localhost\n");
    assert_true(own_address_literal("[127.0.0.2]"));
    assert_true(own_address_literal("[127.0.0.1]"));
    assert_false(own_address_literal("[127.0.0.3]"));
}

static void check_all_interfaces_own(void)
{
    struct ifaddrs *ifa, *p;
    assert_int_equal(getifaddrs(&ifa), 0);
    int n = 0;
    for (p = ifa; p; p = p->ifa_next) {
        char text[INET6_ADDRSTRLEN], lit[INET6_ADDRSTRLEN + 8];
        if (!p->ifa_addr)
            continue;
        if (p->ifa_addr->sa_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)p->ifa_addr)->sin_addr, text, sizeof(text));
            snprintf(lit, sizeof(lit), "[%s]", text);
        } else if (p->ifa_addr->sa_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)p->ifa_addr)->sin6_addr, text, sizeof(text));
            snprintf(lit, sizeof(lit), "[ipv6:%s]", text);
        } else
            continue;
        if (!own_address_literal(lit))
            fail_msg("interface address %s is not own", lit);
        n++;
    }
    freeifaddrs(ifa);
    assert_true(n > 0);
}

static void test_own_wildcards(void **state)
{
    (void)state;
    /* a wildcard listen address means every interface address */
    load("smtpd_listen = 0.0.0.0:25\ninet_interfaces = 192.0.2.99\n");
    check_all_interfaces_own();
    assert_true(own_address_literal("[192.0.2.99]"));
    assert_false(own_address_literal("[198.51.100.1]"));

    load("smtpd_listen = [::]:25\ninet_interfaces =\n");
    check_all_interfaces_own();

    load("smtpd_listen = :25\ninet_interfaces =\n");
    check_all_interfaces_own();

    /* inet_interfaces = all, even with a specific listen address */
    load("smtpd_listen = 127.0.0.1:2525\ninet_interfaces = all\n");
    check_all_interfaces_own();
    assert_false(own_address_literal("[198.51.100.1]"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_netlist_table),
        cmocka_unit_test(test_netlist_text_forms),
        cmocka_unit_test(test_netlist_errors),
        cmocka_unit_test(test_netlist_files),
        cmocka_unit_test(test_widest_prefix),
        cmocka_unit_test(test_domlist_table),
        cmocka_unit_test(test_domlist_files_and_errors),
        cmocka_unit_test(test_sockaddr_helpers),
        cmocka_unit_test(test_own_address_literal),
        cmocka_unit_test(test_own_wildcards),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
