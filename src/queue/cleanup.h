/*
 * cleanup.h - the one funnel every message passes through on its way into
 * the queue: SMTP, the sendmail command (via pickup), bounces, forwarded mail
 * and the fetcher alike (Postfix's cleanup(8), OpenSMTPD's smtp_enqueue).
 *
 * What it does, once, for all of them:
 *   - qualifies unqualified envelope addresses with $myorigin (local mail);
 *   - buffers the primary header block (at most header_size_limit bytes),
 *     then: prepends our Received: line (with TLS details when used);
 *     counts Received: lines and refuses the message with
 *     "554 5.4.0 Error: too many hops" at hopcount_limit; for local
 *     submissions adds Message-Id: <YYYYMMDDhhmmss.QID@myhostname>, Date:
 *     and From: (with the sendmail -F full name) when missing; drops Bcc:,
 *     Resent-Bcc:, Content-Length: and Return-Path: (Postfix's
 *     message_drop_headers);
 *   - streams the body to the queue writer, enforcing message_size_limit
 *     ("552 5.3.4 Error: message file too big");
 *   - logs "cleanup[pid]: QID: message-id=<...>" and, once committed,
 *     "qmgr[pid]: QID: from=<...>, size=N, nrcpt=M (queue active)" is left
 *     to the scheduler's notify callback.
 *
 * Input lines are complete lines ending in CRLF, already dot-unstuffed and
 * free of bare CR/LF (the SMTP server and pickup guarantee that).
 *
 * Trusts: the envelope addresses were parsed by addr.c; content is
 * untrusted and only counted, split and copied.
 */
#ifndef YUBIN_CLEANUP_H
#define YUBIN_CLEANUP_H

#include <stddef.h>
#include "queue/envelope.h"
#include "queue/queue.h"

/* Called after a message is committed (the daemon's scheduler hooks in). */
typedef void (*cleanup_notify_fn)(void *arg, const char *qid);
void cleanup_init(struct queue *q, cleanup_notify_fn notify, void *arg);

enum cleanup_flags {
    CLEANUP_LOCAL = 1 << 0,      /* local submission: add missing Message-Id/Date/From, qualify addresses */
    CLEANUP_BOUNCE = 1 << 1,     /* a notification we generated: no hop counting of our own Received */
};

struct cleanup;
/* Begin a message with this queue ID. NULL with *reply set
 * ("451 4.3.0 Error: queue file write error") when the queue file cannot be
 * created. env is copied. */
struct cleanup *cleanup_open(const char *qid, const struct envelope *env, unsigned flags,
                             const char **reply);
/* One content line including its CRLF. Returns NULL, or the final reply the
 * client must get once the data has ended (the caller keeps reading but
 * stops feeding lines). */
const char *cleanup_line(struct cleanup *c, const char *line, size_t len);
/* End of data. done runs once (later, after the group commit) with
 * err_reply NULL when the message is queued, else the reply to send. The
 * cleanup object is freed after done returns. */
typedef void (*cleanup_done_fn)(void *arg, const char *qid, const char *err_reply);
void cleanup_close(struct cleanup *c, cleanup_done_fn done, void *arg);
void cleanup_abort(struct cleanup *c);

/* The sendmail command's header handling needs the same notion of a header
 * line; exported for it and for tests. Returns the length of the field name
 * if line starts a header field ("Name:"), else 0. */
size_t header_name_len(const char *line, size_t len);

/* The SMTP server's sink (smtpd.h) over cleanup, for the daemon: fills out.
 * Messages from SMTP clients get no CLEANUP_LOCAL treatment. */
struct msg_sink;
void cleanup_sink(struct msg_sink *out);

#endif
