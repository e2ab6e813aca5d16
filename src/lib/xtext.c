/*
 * xtext.c - RFC 3461 section 4 xtext, the encoding of DSN ENVID and ORCPT.
 *
 *   xtext = *( xchar / hexchar ); xchar = "!".."~" except "+" and "=";
 *   hexchar = "+" 2HEXDIG
 *
 * Trusts: nothing; the input is an ESMTP parameter from the network. The
 * decoded value is checked for control characters because it is written
 * to the queue file and later sent on again (Exim 21Nails, CVE-2020-28026).
 */
#include "lib/xtext.h"
#include "lib/util.h"

#include <stdlib.h>

static int xtext_hexval(unsigned c)
{
    if (c >= '0' && c <= '9')
        return (int)(c - '0');
    /* RFC 3461 says upper case; lower case is unambiguous, so accept it */
    if (c >= 'A' && c <= 'F')
        return (int)(c - 'A' + 10);
    if (c >= 'a' && c <= 'f')
        return (int)(c - 'a' + 10);
    return -1;
}

char *xtext_decode(const char *s, size_t len, size_t maxlen)
{
    const unsigned char *in = (const unsigned char *)s;
    /* the decoded value is never longer than the input */
    char *out = xmalloc(len + 1);
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned c = in[i];
        if (c < 33 || c > 126 || c == '=')
            goto bad;
        if (c == '+') {
            if (len - i < 3)
                goto bad;
            int hi = xtext_hexval(in[i + 1]), lo = xtext_hexval(in[i + 2]);
            if (hi < 0 || lo < 0)
                goto bad;
            c = (unsigned)(hi * 16 + lo);
            i += 2;
            if (c < 0x20 || c == 0x7f)
                goto bad;
        }
        if (o >= maxlen)
            goto bad;
        out[o++] = (char)c;
    }
    out[o] = 0;
    return out;
bad:
    free(out);
    return NULL;
}

char *xtext_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p < 33 || *p > 126 || *p == '+' || *p == '=') ? 3 : 1;
    char *out = xmalloc(n + 1);
    char *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 33 || *p > 126 || *p == '+' || *p == '=') {
            *o++ = '+';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        } else
            *o++ = (char)*p;
    }
    *o = 0;
    return out;
}
