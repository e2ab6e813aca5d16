/*
 * envelope.h - what travels with a message besides its content: sender,
 * recipients with their DSN parameters, and where and how it arrived.
 *
 * The same structure is filled by the SMTP server, the sendmail command,
 * pickup, bounces and the fetcher, stored in the queue file, and read back
 * by the scheduler and the delivery agents.
 */
#ifndef YUBIN_ENVELOPE_H
#define YUBIN_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* DSN NOTIFY bits (RFC 3461); 0 = not specified (defaults apply). */
enum { DSN_NOTIFY_NEVER = 1, DSN_NOTIFY_SUCCESS = 2, DSN_NOTIFY_FAILURE = 4, DSN_NOTIFY_DELAY = 8 };
enum dsn_ret { DSN_RET_NONE = 0, DSN_RET_FULL, DSN_RET_HDRS };
enum body_type { BODY_NONE = 0, BODY_7BIT, BODY_8BITMIME, BODY_BINARYMIME };

/* Recipient status as kept in the queue file. */
enum { RCPT_PENDING = 'P', RCPT_DONE = 'D' };

struct rcpt {
    char *addr;         /* canonical address (see addr.h) */
    char *orcpt;        /* decoded ORCPT "rfc822;addr", or NULL */
    unsigned notify;    /* DSN_NOTIFY_* bits */
    char status;        /* RCPT_PENDING or RCPT_DONE */
    long status_off;    /* file offset of the status byte (reader fills; -1 if unknown) */
};

struct envelope {
    char *sender;               /* "" = null sender <> */
    struct rcpt *rcpt;
    size_t nrcpt, rcpt_cap;
    double arrival;             /* wall clock */
    char *client_name;          /* "localhost", "unknown" */
    char *client_addr;          /* "127.0.0.1", "::1"; NULL for local submission */
    int client_port;
    char *helo;                 /* EHLO/HELO argument as sent */
    char *proto;                /* "SMTP", "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA", "local" */
    char *tls;                  /* "TLSv1.3 with cipher ... (256/256 bits)" or NULL */
    char *envid;                /* decoded ENVID or NULL */
    enum dsn_ret ret;
    enum body_type body;
    bool smtputf8;
    long uid;                   /* submitting uid for local mail, -1 otherwise */
    char *origin;               /* "smtpd", "pickup", "bounce", "fetch", "forward" */
    char *fullname;             /* sendmail -F (used when the message has no From:) */
};

void envelope_init(struct envelope *e);
void envelope_free(struct envelope *e);
void envelope_copy(struct envelope *dst, const struct envelope *src);
/* Adds a recipient (copies the strings); returns its index. */
size_t envelope_add_rcpt(struct envelope *e, const char *addr, const char *orcpt, unsigned notify);
void envelope_set(char **field, const char *value);   /* free old, copy new (NULL ok) */

#endif
