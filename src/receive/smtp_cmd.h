/*
 * smtp_cmd.h - parse one SMTP command line (RFC 5321, with the ESMTP
 * parameters of RFC 1870 SIZE, 6152 BODY, 6531 SMTPUTF8, 3461 DSN, 3030
 * BDAT). Pure function: no I/O, no state; fuzzed (fuzz/fuzz_smtp_cmd.c).
 *
 * The line has already been cut at CRLF by the session and is at most 512
 * octets (longer lines are refused before they get here); it contains no
 * CR, LF or NUL.
 */
#ifndef YUBIN_SMTP_CMD_H
#define YUBIN_SMTP_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/addr.h"
#include "queue/envelope.h"

enum smtp_verb {
    SMTP_UNKNOWN = 0, SMTP_HELO, SMTP_EHLO, SMTP_MAIL, SMTP_RCPT, SMTP_DATA, SMTP_BDAT,
    SMTP_RSET, SMTP_NOOP, SMTP_QUIT, SMTP_VRFY, SMTP_EXPN, SMTP_HELP, SMTP_STARTTLS,
    SMTP_AUTH, SMTP_ETRN,
    /* Not SMTP at all: "GET / HTTP/1.1", "POST", "CONNECT", "Host:" ... a web
     * client abused to talk to us; the session disconnects at once. */
    SMTP_FORBIDDEN,
};

struct smtp_cmd {
    enum smtp_verb verb;
    const char *arg;            /* points into the line: text after the verb (trimmed) */
    size_t arg_len;

    /* MAIL / RCPT */
    struct mailaddr addr;
    /* MAIL parameters */
    bool has_size;
    uint64_t size;
    enum body_type body;
    bool smtputf8;
    enum dsn_ret ret;
    char *envid;                /* decoded, malloc'd (free with smtp_cmd_free) */
    /* RCPT parameters */
    unsigned notify;
    char *orcpt;                /* "rfc822;addr" decoded, malloc'd */
    /* BDAT */
    uint64_t chunk_size;
    bool last;

    /* Replies that quote the client's text ("Unsupported option: X") are
     * built here; the returned reply may point into it. */
    char errbuf[600];
};

/*
 * Parse. flags: which extensions are enabled (SMTPUTF8 allows UTF-8 in
 * addresses when the MAIL command carried SMTPUTF8; the session passes that
 * for RCPT too). Returns NULL on success, or the complete reply for the
 * error, e.g. "501 5.5.4 Syntax: MAIL FROM:<address>",
 * "501 5.1.7 Bad sender address syntax", "501 5.1.3 Bad recipient address
 * syntax", "555 5.5.4 Unsupported option: FOO=bar", "500 5.5.2 Error:
 * command not recognized".
 *
 * out->verb is set even when the arguments are bad, so the session knows
 * which command failed (a BDAT whose size cannot be parsed leaves the byte
 * stream unsynchronised: the session must close the connection).
 * Unqualified addresses ("postmaster") are accepted here; whether they are
 * acceptable is the session's decision. smtp_cmd_free() must be called after
 * every parse, successful or not.
 */
enum { SMTP_CMD_ALLOW_UTF8 = 1 };
const char *smtp_cmd_parse(const char *line, size_t len, unsigned flags, struct smtp_cmd *out);
void smtp_cmd_free(struct smtp_cmd *c);
const char *smtp_verb_name(enum smtp_verb v);   /* "mail", "rcpt" ... for the disconnect line */

#endif
