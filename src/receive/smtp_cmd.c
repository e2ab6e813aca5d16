/*
 * smtp_cmd.c - parse one SMTP command line into a struct smtp_cmd (see
 * smtp_cmd.h): the verb, the path of MAIL/RCPT and the ESMTP parameters.
 *
 * Pure: no I/O, no configuration, no state between calls; the session
 * decides what is allowed when. Every error comes back as the complete
 * reply text with its RFC 3463 code, so all wording lives here and in
 * smtp_session.c.
 *
 * Trusts: nothing. The line is hostile client data (the session has already
 * cut it at CRLF, bounded it to 512 octets and refused NUL); every loop below
 * advances through it or stops.
 */
#include "receive/smtp_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "lib/xtext.h"

/* RFC 3461 4.4 and 4.2: ENVID at most 100 characters, ORCPT 500. */
#define ENVID_MAX 100
#define ORCPT_MAX 500
/* 18446744073709551615 has 20 digits. */
#define SIZE_DIGITS_MAX 20

static const struct {
    const char *name;
    enum smtp_verb verb;
} smtp_cmd_verbs[] = {
    {"HELO", SMTP_HELO}, {"EHLO", SMTP_EHLO}, {"MAIL", SMTP_MAIL}, {"RCPT", SMTP_RCPT},
    {"DATA", SMTP_DATA}, {"BDAT", SMTP_BDAT}, {"RSET", SMTP_RSET}, {"NOOP", SMTP_NOOP},
    {"QUIT", SMTP_QUIT}, {"VRFY", SMTP_VRFY}, {"EXPN", SMTP_EXPN}, {"HELP", SMTP_HELP},
    {"STARTTLS", SMTP_STARTTLS}, {"AUTH", SMTP_AUTH}, {"ETRN", SMTP_ETRN},
};

/* Postfix's smtpd_forbidden_commands: what a browser or proxy client sends
 * when it is tricked into talking to port 25. */
static const char *const smtp_cmd_forbidden_words[] = {"GET", "POST", "CONNECT", "HEAD", "PUT", "OPTIONS"};

static const char *const smtp_cmd_reply_unknown = "500 5.5.2 Error: command not recognized";
static const char *const smtp_cmd_reply_bad_syntax = "500 5.5.2 Error: bad syntax";

const char *smtp_verb_name(enum smtp_verb v)
{
    switch (v) {
    case SMTP_HELO: return "helo";
    case SMTP_EHLO: return "ehlo";
    case SMTP_MAIL: return "mail";
    case SMTP_RCPT: return "rcpt";
    case SMTP_DATA: return "data";
    case SMTP_BDAT: return "bdat";
    case SMTP_RSET: return "rset";
    case SMTP_NOOP: return "noop";
    case SMTP_QUIT: return "quit";
    case SMTP_VRFY: return "vrfy";
    case SMTP_EXPN: return "expn";
    case SMTP_HELP: return "help";
    case SMTP_STARTTLS: return "starttls";
    case SMTP_AUTH: return "auth";
    case SMTP_ETRN: return "etrn";
    case SMTP_UNKNOWN:
    case SMTP_FORBIDDEN:
        break;
    }
    return "unknown";
}

void smtp_cmd_free(struct smtp_cmd *c)
{
    free(c->envid);
    free(c->orcpt);
    c->envid = NULL;
    c->orcpt = NULL;
}

static bool smtp_cmd_is_alpha(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool smtp_cmd_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool smtp_cmd_is_space(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* "Host:", "User-Agent:": a header line sent as if it were a command. */
static bool smtp_cmd_looks_like_header(const char *w, size_t n)
{
    if (n < 2 || w[n - 1] != ':')
        return false;
    for (size_t i = 0; i + 1 < n; i++) {
        unsigned char c = (unsigned char)w[i];
        if (!smtp_cmd_is_alpha(c) && !smtp_cmd_is_digit(c) && c != '-' && c != '_')
            return false;
    }
    return true;
}

static bool smtp_cmd_word_is(const char *w, size_t n, const char *name)
{
    return strlen(name) == n && ascii_strncasecmp(w, name, n) == 0;
}

/* Parse a decimal uint64; false on empty, non-digit or overflow. */
static bool smtp_cmd_parse_u64(const char *s, size_t n, uint64_t *out, bool *overflow)
{
    *overflow = false;
    if (n == 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!smtp_cmd_is_digit((unsigned char)s[i]))
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            *overflow = true;
            return false;
        }
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
static bool smtp_cmd_keyword_valid(const char *s, size_t n)
{
    if (n == 0 || !(smtp_cmd_is_alpha((unsigned char)s[0]) || smtp_cmd_is_digit((unsigned char)s[0])))
        return false;
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!smtp_cmd_is_alpha(c) && !smtp_cmd_is_digit(c) && c != '-')
            return false;
    }
    return true;
}

/* esmtp-value = 1*(%d33-60 / %d62-126), plus UTF-8 octets (RFC 6531). */
static bool smtp_cmd_value_valid(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 33 || c == '=' || c == 127)
            return false;
    }
    return true;
}

static const char *smtp_cmd_unsupported(struct smtp_cmd *out, const char *kw, size_t kwlen,
                               const char *val, size_t vallen, bool has_val)
{
    snprintf(out->errbuf, sizeof(out->errbuf), "555 5.5.4 Unsupported option: %.*s%s%.*s",
             (int)kwlen, kw, has_val ? "=" : "", (int)vallen, val);
    return out->errbuf;
}

static const char *smtp_cmd_parse_notify(struct smtp_cmd *out, const char *v, size_t n)
{
    unsigned bits = 0;
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && v[j] != ',')
            j++;
        const char *item = v + i;
        size_t len = j - i;
        if (smtp_cmd_word_is(item, len, "NEVER"))
            bits |= DSN_NOTIFY_NEVER;
        else if (smtp_cmd_word_is(item, len, "SUCCESS"))
            bits |= DSN_NOTIFY_SUCCESS;
        else if (smtp_cmd_word_is(item, len, "FAILURE"))
            bits |= DSN_NOTIFY_FAILURE;
        else if (smtp_cmd_word_is(item, len, "DELAY"))
            bits |= DSN_NOTIFY_DELAY;
        else
            return "501 5.5.4 Error: Bad NOTIFY parameter syntax";
        i = j + 1;
    }
    /* RFC 3461 4.1: NEVER must not be combined with anything else. */
    if ((bits & DSN_NOTIFY_NEVER) && bits != DSN_NOTIFY_NEVER)
        return "501 5.5.4 Error: Bad NOTIFY parameter syntax";
    out->notify = bits;
    return NULL;
}

/* ORCPT=addr-type;xtext. The decoded value is stored as "type;address"
 * with the type lower-cased; an "rfc822" value must be a valid address. */
static const char *smtp_cmd_parse_orcpt(struct smtp_cmd *out, const char *v, size_t n)
{
    static const char *const bad = "501 5.5.4 Error: Bad ORCPT parameter syntax";
    const char *semi = memchr(v, ';', n);
    if (!semi)
        return bad;
    size_t tlen = (size_t)(semi - v);
    if (!smtp_cmd_keyword_valid(v, tlen) || tlen > 32)
        return bad;
    char *decoded = xtext_decode(semi + 1, n - tlen - 1, ORCPT_MAX);
    if (!decoded || !*decoded) {
        free(decoded);
        return bad;
    }
    if (smtp_cmd_word_is(v, tlen, "rfc822")) {
        struct mailaddr a;
        if (addr_parse_plain(decoded, ADDR_ALLOW_UNQUALIFIED | ADDR_ALLOW_UTF8, &a) != ADDR_OK) {
            free(decoded);
            return bad;
        }
    }
    char type[40];
    memcpy(type, v, tlen);
    type[tlen] = 0;
    ascii_lowercase(type);
    out->orcpt = xasprintf("%s;%s", type, decoded);
    free(decoded);
    return NULL;
}

enum {
    SEEN_SIZE = 1 << 0, SEEN_BODY = 1 << 1, SEEN_SMTPUTF8 = 1 << 2, SEEN_RET = 1 << 3,
    SEEN_ENVID = 1 << 4, SEEN_NOTIFY = 1 << 5, SEEN_ORCPT = 1 << 6,
};

/* One "KEYWORD[=value]" of MAIL FROM. */
static const char *smtp_cmd_mail_param(struct smtp_cmd *out, unsigned flags, const char *kw, size_t kwlen,
                              const char *val, size_t vallen, bool has_val, unsigned *seen)
{
    if (smtp_cmd_word_is(kw, kwlen, "SIZE")) {
        if (*seen & SEEN_SIZE)
            return "501 5.5.4 Error: duplicate SIZE parameter";
        *seen |= SEEN_SIZE;
        if (!has_val)
            return "501 5.5.4 Error: Bad SIZE parameter syntax";
        for (size_t i = 0; i < vallen; i++)
            if (!smtp_cmd_is_digit((unsigned char)val[i]))
                return "501 5.5.4 Error: Bad SIZE parameter syntax";
        /* All digits but more than 64 bits: bigger than any limit we have. */
        bool overflow;
        if (vallen > SIZE_DIGITS_MAX || !smtp_cmd_parse_u64(val, vallen, &out->size, &overflow))
            return "552 5.3.4 Message size exceeds fixed limit";
        out->has_size = true;
        return NULL;
    }
    if (smtp_cmd_word_is(kw, kwlen, "BODY")) {
        if (*seen & SEEN_BODY)
            return "501 5.5.4 Error: duplicate BODY parameter";
        *seen |= SEEN_BODY;
        if (has_val && smtp_cmd_word_is(val, vallen, "7BIT"))
            out->body = BODY_7BIT;
        else if (has_val && smtp_cmd_word_is(val, vallen, "8BITMIME"))
            out->body = BODY_8BITMIME;
        else if (has_val && smtp_cmd_word_is(val, vallen, "BINARYMIME"))
            out->body = BODY_BINARYMIME;
        else
            return "501 5.5.4 Error: Bad BODY parameter syntax";
        return NULL;
    }
    if (smtp_cmd_word_is(kw, kwlen, "SMTPUTF8")) {
        if (!(flags & SMTP_CMD_ALLOW_UTF8) || has_val)
            return smtp_cmd_unsupported(out, kw, kwlen, val, vallen, has_val);
        if (*seen & SEEN_SMTPUTF8)
            return "501 5.5.4 Error: duplicate SMTPUTF8 parameter";
        *seen |= SEEN_SMTPUTF8;
        out->smtputf8 = true;
        return NULL;
    }
    if (smtp_cmd_word_is(kw, kwlen, "RET")) {
        if (*seen & SEEN_RET)
            return "501 5.5.4 Error: duplicate RET parameter";
        *seen |= SEEN_RET;
        if (has_val && smtp_cmd_word_is(val, vallen, "FULL"))
            out->ret = DSN_RET_FULL;
        else if (has_val && smtp_cmd_word_is(val, vallen, "HDRS"))
            out->ret = DSN_RET_HDRS;
        else
            return "501 5.5.4 Error: Bad RET parameter syntax";
        return NULL;
    }
    if (smtp_cmd_word_is(kw, kwlen, "ENVID")) {
        if (*seen & SEEN_ENVID)
            return "501 5.5.4 Error: duplicate ENVID parameter";
        *seen |= SEEN_ENVID;
        out->envid = has_val ? xtext_decode(val, vallen, ENVID_MAX) : NULL;
        if (!out->envid || !*out->envid)
            return "501 5.5.4 Error: Bad ENVID parameter syntax";
        return NULL;
    }
    return smtp_cmd_unsupported(out, kw, kwlen, val, vallen, has_val);
}

/* One "KEYWORD[=value]" of RCPT TO. */
static const char *smtp_cmd_rcpt_param(struct smtp_cmd *out, const char *kw, size_t kwlen, const char *val,
                              size_t vallen, bool has_val, unsigned *seen)
{
    if (smtp_cmd_word_is(kw, kwlen, "NOTIFY")) {
        if (*seen & SEEN_NOTIFY)
            return "501 5.5.4 Error: duplicate NOTIFY parameter";
        *seen |= SEEN_NOTIFY;
        if (!has_val)
            return "501 5.5.4 Error: Bad NOTIFY parameter syntax";
        return smtp_cmd_parse_notify(out, val, vallen);
    }
    if (smtp_cmd_word_is(kw, kwlen, "ORCPT")) {
        if (*seen & SEEN_ORCPT)
            return "501 5.5.4 Error: duplicate ORCPT parameter";
        *seen |= SEEN_ORCPT;
        if (!has_val)
            return "501 5.5.4 Error: Bad ORCPT parameter syntax";
        return smtp_cmd_parse_orcpt(out, val, vallen);
    }
    return smtp_cmd_unsupported(out, kw, kwlen, val, vallen, has_val);
}

/* The ESMTP parameters after the path: SP-separated KEYWORD[=value]. */
static const char *smtp_cmd_parse_params(struct smtp_cmd *out, unsigned flags, const char *p, const char *end)
{
    unsigned seen = 0;
    for (;;) {
        while (p < end && smtp_cmd_is_space((unsigned char)*p))
            p++;
        if (p >= end)
            return NULL;
        const char *tok = p;
        while (p < end && !smtp_cmd_is_space((unsigned char)*p))
            p++;
        const char *eq = memchr(tok, '=', (size_t)(p - tok));
        size_t kwlen = eq ? (size_t)(eq - tok) : (size_t)(p - tok);
        const char *val = eq ? eq + 1 : p;
        size_t vallen = (size_t)(p - val);
        if (!smtp_cmd_keyword_valid(tok, kwlen) || (eq && !smtp_cmd_value_valid(val, vallen)))
            return "501 5.5.4 Error: Bad parameter syntax";
        const char *err = out->verb == SMTP_MAIL
                              ? smtp_cmd_mail_param(out, flags, tok, kwlen, val, vallen, eq != NULL, &seen)
                              : smtp_cmd_rcpt_param(out, tok, kwlen, val, vallen, eq != NULL, &seen);
        if (err)
            return err;
    }
}

/* "FROM:<path> params" / "TO:<path> params". */
static const char *smtp_cmd_parse_mail_rcpt(struct smtp_cmd *out, unsigned flags)
{
    bool mail = out->verb == SMTP_MAIL;
    const char *kw = mail ? "FROM:" : "TO:";
    size_t kwlen = strlen(kw);
    const char *syntax = mail ? "501 5.5.4 Syntax: MAIL FROM:<address>"
                              : "501 5.5.4 Syntax: RCPT TO:<address>";
    const char *p = out->arg, *end = out->arg + out->arg_len;
    if (out->arg_len < kwlen || ascii_strncasecmp(p, kw, kwlen) != 0)
        return syntax;
    p += kwlen;
    /* "MAIL FROM: <a@b>" is common enough that Postfix and Sendmail accept it. */
    while (p < end && smtp_cmd_is_space((unsigned char)*p))
        p++;
    if (p >= end)
        return syntax;

    /* Addresses are parsed with UTF-8 allowed and checked against SMTPUTF8
     * afterwards: for MAIL the parameter that permits them comes after the
     * path. */
    unsigned aflags = ADDR_ALLOW_UNQUALIFIED | ADDR_ALLOW_UTF8 | (mail ? ADDR_ALLOW_NULL : 0);
    size_t consumed = 0;
    enum addr_error e = addr_parse_path(p, (size_t)(end - p), aflags, &out->addr, &consumed);
    if (e != ADDR_OK || consumed == 0 || consumed > (size_t)(end - p))
        return mail ? "501 5.1.7 Bad sender address syntax" : "501 5.1.3 Bad recipient address syntax";
    p += consumed;
    if (p < end && !smtp_cmd_is_space((unsigned char)*p))
        return mail ? "501 5.1.7 Bad sender address syntax" : "501 5.1.3 Bad recipient address syntax";

    const char *err = smtp_cmd_parse_params(out, flags, p, end);
    if (err)
        return err;
    bool utf8_ok = mail ? out->smtputf8 : (flags & SMTP_CMD_ALLOW_UTF8) != 0;
    if (out->addr.utf8 && !utf8_ok)
        return "553 5.6.7 Must declare SMTPUTF8 to send unicode address";
    return NULL;
}

/* "BDAT chunk-size [LAST]" (RFC 3030). */
static const char *smtp_cmd_parse_bdat(struct smtp_cmd *out)
{
    static const char *const syntax = "501 5.5.4 Syntax: BDAT count [LAST]";
    const char *p = out->arg, *end = out->arg + out->arg_len;
    const char *num = p;
    while (p < end && smtp_cmd_is_digit((unsigned char)*p))
        p++;
    bool overflow;
    if (p == num || (size_t)(p - num) > SIZE_DIGITS_MAX ||
        !smtp_cmd_parse_u64(num, (size_t)(p - num), &out->chunk_size, &overflow))
        return syntax;
    if (p == end)
        return NULL;
    if (!smtp_cmd_is_space((unsigned char)*p))
        return syntax;
    while (p < end && smtp_cmd_is_space((unsigned char)*p))
        p++;
    if (!smtp_cmd_word_is(p, (size_t)(end - p), "LAST"))
        return syntax;
    out->last = true;
    return NULL;
}

const char *smtp_cmd_parse(const char *line, size_t len, unsigned flags, struct smtp_cmd *out)
{
    memset(out, 0, sizeof(*out));
    out->verb = SMTP_UNKNOWN;
    out->arg = line + len;

    const char *p = line, *end = line + len;
    while (p < end && smtp_cmd_is_space((unsigned char)*p))
        p++;
    const char *word = p;
    while (p < end && !smtp_cmd_is_space((unsigned char)*p))
        p++;
    size_t wlen = (size_t)(p - word);
    if (wlen == 0)
        return smtp_cmd_reply_bad_syntax;

    for (size_t i = 0; i < ARRAY_LEN(smtp_cmd_verbs); i++) {
        if (smtp_cmd_word_is(word, wlen, smtp_cmd_verbs[i].name)) {
            out->verb = smtp_cmd_verbs[i].verb;
            break;
        }
    }
    if (out->verb == SMTP_UNKNOWN) {
        bool forbidden = !smtp_cmd_is_alpha((unsigned char)word[0]) || smtp_cmd_looks_like_header(word, wlen);
        for (size_t i = 0; i < ARRAY_LEN(smtp_cmd_forbidden_words) && !forbidden; i++)
            forbidden = smtp_cmd_word_is(word, wlen, smtp_cmd_forbidden_words[i]);
        if (forbidden) {
            out->verb = SMTP_FORBIDDEN;
            return "221 2.7.0 Error: I can break rules, too. Goodbye.";
        }
        return smtp_cmd_reply_unknown;
    }

    while (p < end && smtp_cmd_is_space((unsigned char)*p))
        p++;
    while (end > p && smtp_cmd_is_space((unsigned char)end[-1]))
        end--;
    out->arg = p;
    out->arg_len = (size_t)(end - p);
    bool has_arg = out->arg_len > 0;

    switch (out->verb) {
    case SMTP_HELO:
        return has_arg ? NULL : "501 5.5.4 Syntax: HELO hostname";
    case SMTP_EHLO:
        return has_arg ? NULL : "501 5.5.4 Syntax: EHLO hostname";
    case SMTP_MAIL:
    case SMTP_RCPT:
        return smtp_cmd_parse_mail_rcpt(out, flags);
    case SMTP_DATA:
        return has_arg ? "501 5.5.4 Syntax: DATA" : NULL;
    case SMTP_BDAT:
        return smtp_cmd_parse_bdat(out);
    case SMTP_RSET:
        return has_arg ? "501 5.5.4 Syntax: RSET" : NULL;
    case SMTP_QUIT:
        return has_arg ? "501 5.5.4 Syntax: QUIT" : NULL;
    case SMTP_STARTTLS:
        return has_arg ? "501 5.5.4 Syntax: STARTTLS" : NULL;
    case SMTP_VRFY:
        return has_arg ? NULL : "501 5.5.4 Syntax: VRFY address";
    case SMTP_NOOP:     /* RFC 5321: "NOOP [ SP String ]" */
    case SMTP_HELP:
    case SMTP_EXPN:
    case SMTP_AUTH:
    case SMTP_ETRN:
    case SMTP_UNKNOWN:
    case SMTP_FORBIDDEN:
        break;
    }
    return NULL;
}
