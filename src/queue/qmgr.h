/*
 * qmgr.h - the queue manager: knows every queued message, decides when each
 * is due for a delivery attempt, and hands due messages to delivery.
 *
 * Retry schedule (Postfix's): after an attempt that left recipients
 * deferred, the next attempt is at now + clamp(age of the message,
 * minimal_backoff_time, maximal_backoff_time). A message whose age exceeds
 * maximal_queue_lifetime (bounce_queue_lifetime for a null-sender message)
 * at the end of an attempt with deferred recipients has expired. Held
 * messages are neither tried nor expired. State is in memory; after a
 * restart every message is due at once (the durable part is the queue file;
 * the defer file only carries reasons and the schedule).
 *
 * Trusts: queue files only through queue_msg_open(), which validates them.
 */
#ifndef YUBIN_QMGR_H
#define YUBIN_QMGR_H

#include <stdbool.h>
#include "lib/buf.h"

struct event_base;
struct queue;
struct qmgr;

/*
 * A delivery attempt for one message. The scheduler calls deliver() with a
 * message that is due; the delivery side calls qmgr_attempt_done() when all
 * its work for that message is finished, telling whether recipients remain
 * (deferred). Until a delivery side is registered, queued mail waits.
 */
struct qmgr_delivery {
    void (*deliver)(void *arg, struct qmgr *m, const char *qid);
    void *arg;
};

struct qmgr *qmgr_create(struct event_base *base, struct queue *q);
void qmgr_free(struct qmgr *m);
void qmgr_set_delivery(struct qmgr *m, const struct qmgr_delivery *d);
/* Load every committed and held message (daemon start). */
void qmgr_load(struct qmgr *m);
/* A newly committed message (cleanup's notify callback). */
void qmgr_message_arrived(void *m, const char *qid);
/* The attempt on qid ended; deferred = recipients remain. The message is
 * removed from the queue by the delivery side when nothing remains. */
void qmgr_attempt_done(struct qmgr *m, const char *qid, bool deferred);
/* Make every deferred message due now (yubin queue flush, sendmail -q). */
void qmgr_flush(struct qmgr *m);
/* delete / hold / release one message or ALL; returns messages affected,
 * -1 when the ID is unknown. */
long qmgr_manage(struct qmgr *m, const char *verb, const char *qid);
bool qmgr_is_active(const char *qid, void *m);
void qmgr_active_list(void *m, struct buf *out);
size_t qmgr_count(const struct qmgr *m);

/* The schedule, as pure functions (unit-tested). */
double qmgr_backoff(double age);
bool qmgr_expired(double arrival, double now, bool null_sender);

#endif
