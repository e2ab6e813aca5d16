/*
 * fuzz_addr.c - libFuzzer harness for the address choke point (addr.c) and
 * xtext (xtext.c): addr_parse_path, addr_parse_plain, addr_list_parse,
 * addr_domain_valid, xtext_decode.
 *
 * The first input byte selects the addr flags; the rest is the text. Besides
 * "no crash, no leak, no out-of-bounds read" (ASan/UBSan), every accepted
 * address must satisfy the contract in addr.h, checked here with abort():
 * within the RFC 5321 limits, free of control characters, 8-bit only when
 * allowed, and canonical (parsing the output again gives the same output).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/xtext.h"

static void fuzz_check_text(const char *s, size_t max, bool allow_8bit)
{
    size_t n = strlen(s);
    if (n > max)
        abort();
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || (c >= 0x80 && !allow_8bit))
            abort();
    }
}

/* The contract of an accepted address, whichever function produced it. */
static void fuzz_check_addr(const struct mailaddr *a, unsigned flags)
{
    bool utf8 = (flags & ADDR_ALLOW_UTF8) != 0;
    fuzz_check_text(a->addr, ADDR_PATH_MAX, utf8);
    fuzz_check_text(a->local, ADDR_LOCAL_MAX, utf8);
    fuzz_check_text(a->domain, ADDR_DOMAIN_MAX, utf8);
    if (a->is_null) {
        if (a->addr[0] || !(flags & ADDR_ALLOW_NULL))
            abort();
        return;
    }
    if (!a->addr[0])
        abort();
    if (!a->domain[0] && !(flags & ADDR_ALLOW_UNQUALIFIED) && strcmp(a->addr, "postmaster") != 0)
        abort();
    for (const char *p = a->domain; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            abort();
    if (a->is_literal != (a->domain[0] == '['))
        abort();
    /* canonical: parsing the output again gives the same bytes */
    struct mailaddr b;
    if (addr_parse_plain(a->addr, flags | ADDR_ALLOW_NULL | ADDR_ALLOW_UNQUALIFIED, &b) != ADDR_OK)
        abort();
    if (strcmp(a->addr, b.addr) != 0 || strcmp(a->local, b.local) != 0 || strcmp(a->domain, b.domain) != 0)
        abort();
    if (a->domain[0] && !addr_domain_valid(a->domain, utf8))
        abort();
}

static void fuzz_list_fn(void *arg, const char *addr)
{
    struct mailaddr a;
    (*(int *)arg)++;
    if (addr_parse_plain(addr, ADDR_ALLOW_UNQUALIFIED | ADDR_ALLOW_UTF8, &a) != ADDR_OK)
        abort();
    if (strcmp(a.addr, addr) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0] & (ADDR_ALLOW_NULL | ADDR_ALLOW_UNQUALIFIED | ADDR_ALLOW_UTF8 | ADDR_NEED_BRACKETS);
    const char *s = (const char *)data + 1;
    size_t len = size - 1;

    /* exactly len bytes, no NUL terminator: ASan catches any overread */
    char *exact = malloc(len ? len : 1);
    memcpy(exact, s, len);
    struct mailaddr a;
    size_t consumed = 0;
    enum addr_error e = addr_parse_path(exact, len, flags, &a, &consumed);
    if (e == ADDR_OK) {
        if (consumed == 0 || consumed > len)
            abort();
        if (consumed < len && exact[consumed] != ' ')
            abort();
        fuzz_check_addr(&a, flags);
    } else if (consumed != 0 || a.addr[0])
        abort();
    if (addr_strerror(e) == NULL)
        abort();

    char *x = xtext_decode(exact, len, 256);
    if (x) {
        fuzz_check_text(x, 256, true);
        char *enc = xtext_encode(x);
        char *back = xtext_decode(enc, strlen(enc), 256);
        if (!back || strcmp(back, x) != 0)
            abort();
        free(back);
        free(enc);
        free(x);
    }
    free(exact);

    /* the C-string interfaces see the text up to the first NUL */
    char *z = malloc(len + 1);
    memcpy(z, s, len);
    z[len] = 0;
    if (addr_parse_plain(z, flags, &a) == ADDR_OK)
        fuzz_check_addr(&a, flags & ~(unsigned)ADDR_NEED_BRACKETS);
    int count = 0;
    int n = addr_list_parse(z, fuzz_list_fn, &count);
    /* all addresses or none: a bad list reports nothing */
    if ((n >= 0 && n != count) || (n < 0 && count != 0))
        abort();
    (void)addr_domain_valid(z, (flags & ADDR_ALLOW_UTF8) != 0);
    free(z);
    return 0;
}
