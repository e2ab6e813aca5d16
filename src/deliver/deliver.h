/*
 * deliver.h - the delivery side of the queue manager: one attempt on one
 * message.
 *
 * dispatch.c opens the message (validated), resolves every pending
 * recipient (route.h), groups recipients by (transport, next hop) - and for
 * SMTP/LMTP, after DNS, merges groups whose resolved host lists are
 * identical (MX piggybacking) - and starts one job per group on the agent of
 * that transport kind. Each job is one transaction: one MAIL, many RCPT, one
 * DATA (up to the transport's recipient limit). When every job has finished
 * the dispatcher, and only it:
 *   - logs one Postfix-shaped line per recipient
 *     "QID: to=<r>, orig_to=<o>, relay=R, delay=N, delays=a/b/c/d, dsn=X.Y.Z, status=S (text)";
 *   - marks sent and bounced recipients done in the queue file;
 *   - sends one RFC 3464 bounce for the bounced ones (and delay/success
 *     notices as DSN NOTIFY asks) through cleanup;
 *   - writes the defer state and asks the queue manager for a retry, or
 *     expires the message;
 *   - removes the message when nothing is left ("QID: removed").
 *
 * Agents only deliver and fill in results; they never touch the queue file's
 * state or the log's status lines.
 */
#ifndef YUBIN_DELIVER_H
#define YUBIN_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "lib/buf.h"
#include "queue/envelope.h"
#include "queue/qid.h"
#include "route/route.h"
#include "route/dns.h"
#include "route/transport.h"

struct event_base;
struct queue;
struct qmgr;
struct dns;

enum dlv_status { DLV_PENDING = 0, DLV_SENT = 2, DLV_DEFER = 4, DLV_BOUNCE = 5 };

/* One final delivery that came out of a recipient's alias/.forward
 * expansion: each is logged on its own line (to=<final>, orig_to=<the
 * recipient>) and named in a bounce, as Postfix's local(8) does. A part with
 * forward=true still has to be resubmitted to its address by the
 * dispatcher (it fills in "forwarded as NEWQID"). */
struct dlv_part {
    char *to;
    enum dlv_status status;
    char dsn[16];
    char *text;
    char *relay;                /* "local", "procmail", a command name ... */
    char *hint;                 /* extra bounce line (loop hint), or NULL */
    bool forward;
};

struct dlv_rcpt {
    size_t index;               /* recipient index in the queue file */
    const char *addr;           /* recipient as queued */
    const char *orcpt;          /* DSN ORCPT or NULL */
    unsigned notify;
    struct route route;
    /* result, filled by the agent (dlv_result) */
    enum dlv_status status;
    char dsn[16];               /* "2.0.0" */
    char *text;                 /* log/bounce text: "250 2.0.0 Ok: queued as X", "delivered to maildir" */
    char *relay;                /* "host[ip]:port", "local", "procmail", "none" */
    char *remote_mta;           /* for the DSN's Remote-MTA */
    char *diag;                 /* "smtp; 550 5.1.1 ..." or NULL (then "X-Yubin; text") */
    char *hint;                 /* an extra explanation line for the bounce, or NULL */
    char *orig_to;              /* for orig_to= in the log when an alias changed it, or NULL */
    double t_conn, t_xfer;      /* delays c and d, seconds */
    struct dlv_part *parts;     /* expansion results (local delivery), or NULL */
    size_t nparts;
    char *forward_sender;       /* sender for forwarded parts (owner-alias), or NULL */
};
/* Append a part to r (copies the strings). */
struct dlv_part *dlv_add_part(struct dlv_rcpt *r, const char *to, enum dlv_status st, const char *dsn,
                              const char *relay, const char *text);

/* The message an attempt works on (shared by its jobs, read-only). */
struct dlv_msg {
    char qid[QID_SIZE];
    struct envelope env;
    int fd;                     /* queue file, for content */
    off_t content_off;
    uint64_t size;
    double t_start;             /* when the attempt started (delays a/b) */
};

struct dlv_job {
    struct dlv_msg *msg;
    const struct transport_def *t;
    char nexthop[512];
    /* smtp/lmtp: the dispatcher's DNS answer for the first next hop (used
     * for grouping; the agent tries these hosts first), or NULL when the
     * agent must resolve the next hop itself. Owned by the dispatcher. */
    const struct dns_result *dns;
    struct dlv_rcpt **rcpt;
    size_t n;
    /* Called by the agent exactly once, on the event loop, when every
     * recipient of the job has a status. */
    void (*finish)(struct dlv_job *j);
    void *owner;                /* dispatcher's */
};

/* Set one recipient's result (copies the strings). */
void dlv_result(struct dlv_rcpt *r, enum dlv_status st, const char *dsn, const char *relay,
                const char *fmt, ...) PRINTF_LIKE(5, 6);
/* Set every still-pending recipient of the job to the same result. */
void dlv_result_all(struct dlv_job *j, enum dlv_status st, const char *dsn, const char *relay,
                    const char *fmt, ...) PRINTF_LIKE(5, 6);

/* Read the message content (CRLF text) chunk by chunk. */
int dlv_read_content(const struct dlv_msg *m, int (*fn)(void *arg, const char *p, size_t n), void *arg);

/* Agents. Each starts the job and later calls j->finish. */
void agent_smtp_start(struct dlv_job *j);     /* smtp and lmtp (deliver/smtp_client.c) */
void agent_local_start(struct dlv_job *j);    /* local and virtual (deliver/local.c) */
void agent_pipe_start(struct dlv_job *j);     /* pipe transports (deliver/pipe.c) */
void agent_simple_start(struct dlv_job *j);   /* discard and error (deliver/dispatch.c) */

/* The dispatcher, registered with the queue manager by serve.c. */
void deliver_init(struct event_base *base, struct queue *q, struct qmgr *m, struct dns *dns);
void deliver_message(void *arg, struct qmgr *m, const char *qid);
struct dns *deliver_dns(void);
struct event_base *deliver_base(void);

#endif
