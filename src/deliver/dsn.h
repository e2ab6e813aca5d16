/*
 * dsn.h - delivery status notifications (RFC 3464 inside RFC 6522
 * multipart/report): bounces, delay warnings and success notices, composed
 * as a complete message ready to be queued through cleanup with the null
 * sender.
 *
 * The layout follows what Postfix sends (conventions.md 8.2) so that users
 * and tools recognise it: "Undelivered Mail Returned to Sender", a
 * human-readable part that says what happened and what to do, a
 * message/delivery-status part, and the original message (message/rfc822)
 * or only its headers (text/rfc822-headers) depending on RET and
 * bounce_size_limit.
 *
 * Trusts: texts from remote servers (Diagnostic-Code) are untrusted: they
 * are folded, stripped of control characters and bounded before they are
 * written.
 */
#ifndef YUBIN_DSN_H
#define YUBIN_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/buf.h"
#include "queue/envelope.h"

enum dsn_kind { DSN_FAILURE, DSN_DELAY, DSN_SUCCESS };

struct dsn_rcpt {
    const char *final_rcpt;     /* Final-Recipient */
    const char *orig_rcpt;      /* address as received, for "(expanded from <x>)"; NULL if same */
    const char *orcpt;          /* DSN ORCPT "rfc822;addr", or NULL */
    const char *action;         /* "failed", "delayed", "delivered", "relayed", "expanded" */
    const char *status;         /* "5.1.1" */
    const char *remote_mta;     /* host name of the remote MTA, or NULL */
    const char *diag_type;      /* "smtp" for a remote reply, "X-Yubin" for our own text */
    const char *diag_text;      /* "550 5.1.1 <x@y>: User unknown" */
    const char *reason;         /* the human line: "host H[IP] said: ... (in reply to RCPT TO command)" */
    const char *hint;           /* optional extra line, e.g. the Delivered-To loop hint */
};

struct dsn_report {
    enum dsn_kind kind;
    const char *qid;            /* queue ID of the original */
    const char *sender;         /* original envelope sender: the DSN's To: */
    double arrival;             /* Arrival-Date */
    const char *envid;          /* Original-Envelope-Id, or NULL */
    enum dsn_ret ret;           /* DSN_RET_HDRS: headers only */
    long size_limit;            /* bounce_size_limit: larger originals -> headers only */
    double retry_until;         /* for DSN_DELAY: Will-Retry-Until */
    double delay_hours;         /* for DSN_DELAY: "for more than N hours" */
    bool postmaster_copy;       /* "Postmaster Copy: ..." subject; headers only */
    const char *notify_to;      /* To: of a postmaster copy; NULL = postmaster@$myorigin */
};

/* Longest untrusted text (diagnostic, reason, hint) written, in octets. */
#define DSN_TEXT_MAX 1000

/*
 * Compose the notification into out (CRLF line ends). original is the
 * original message content (CRLF text) of original_len bytes; only its
 * header block is used when RET=HDRS, for delay/success notices, for
 * postmaster copies, or when it is larger than size_limit (size_limit <= 0:
 * no limit). original NULL leaves out the third part. Uses var_myhostname,
 * var_myorigin. new_qid is the queue ID the notification will get (for
 * Message-Id). r->sender must not be the null sender unless the report is a
 * postmaster copy (a notice about a notice would loop).
 */
void dsn_compose(struct buf *out, const struct dsn_report *r, const struct dsn_rcpt *rcpt, size_t n,
                 const char *original, size_t original_len, const char *new_qid);

/*
 * The hint for a Delivered-To loop bounce (5.4.6 "mail forwarding loop for
 * ADDR"): names the header that caused it and what to change (scenario S1).
 * Returns a new string for dsn_rcpt.hint.
 */
char *dsn_loop_hint(const char *addr);

#endif
