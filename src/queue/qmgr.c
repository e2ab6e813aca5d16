/*
 * qmgr.c - the queue manager (see qmgr.h): an in-memory index of queued
 * messages, one libevent timer per waiting message (libevent keeps them in a
 * min-heap, so 200,000 deferred messages cost no scanning), and the
 * retry/expiry rules.
 *
 * Trusts: queue IDs it generated or found in its own directories.
 */
#include "queue/qmgr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "lib/log.h"
#include "lib/params.h"
#include "lib/util.h"
#include "queue/queue.h"
#include "queue/queue_file.h"

struct qentry {
    char qid[QID_SIZE];
    double arrival;
    bool held;
    bool active;            /* handed to delivery, not yet done */
    struct event *timer;    /* pending retry */
    struct qmgr *m;
    struct qentry *next;    /* hash chain */
};

struct qmgr {
    struct event_base *base;
    struct queue *q;
    struct qmgr_delivery delivery;
    bool have_delivery;
    struct qentry **bucket;
    size_t nbucket;
    size_t count;
};

static size_t qmgr_hash(const char *s)
{
    size_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static struct qentry *qmgr_find(const struct qmgr *m, const char *qid)
{
    for (struct qentry *e = m->bucket[qmgr_hash(qid) & (m->nbucket - 1)]; e; e = e->next)
        if (strcmp(e->qid, qid) == 0)
            return e;
    return NULL;
}

static void qmgr_grow(struct qmgr *m)
{
    size_t n = m->nbucket * 2;
    struct qentry **b = xcalloc(n, sizeof(*b));
    for (size_t i = 0; i < m->nbucket; i++) {
        struct qentry *e = m->bucket[i];
        while (e) {
            struct qentry *next = e->next;
            size_t h = qmgr_hash(e->qid) & (n - 1);
            e->next = b[h];
            b[h] = e;
            e = next;
        }
    }
    free(m->bucket);
    m->bucket = b;
    m->nbucket = n;
}

static void qmgr_unlink(struct qmgr *m, struct qentry *e)
{
    struct qentry **pp = &m->bucket[qmgr_hash(e->qid) & (m->nbucket - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp)
        *pp = e->next;
    if (e->timer)
        event_free(e->timer);
    free(e);
    m->count--;
}

static void qmgr_try(struct qentry *e);

static void qmgr_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    qmgr_try(arg);
}

/* Schedule e for an attempt after delay seconds. */
static void qmgr_schedule(struct qentry *e, double delay)
{
    if (!e->timer)
        e->timer = evtimer_new(e->m->base, qmgr_timer_cb, e);
    if (delay < 0)
        delay = 0;
    struct timeval tv = {(time_t)delay, (suseconds_t)((delay - (double)(time_t)delay) * 1e6)};
    evtimer_add(e->timer, &tv);
}

static struct qentry *qmgr_add(struct qmgr *m, const char *qid, double arrival, bool held)
{
    struct qentry *e = qmgr_find(m, qid);
    if (e)
        return e;
    if (m->count + 1 > m->nbucket)
        qmgr_grow(m);
    e = xcalloc(1, sizeof(*e));
    snprintf(e->qid, sizeof(e->qid), "%s", qid);
    e->arrival = arrival;
    e->held = held;
    e->m = m;
    size_t h = qmgr_hash(qid) & (m->nbucket - 1);
    e->next = m->bucket[h];
    m->bucket[h] = e;
    m->count++;
    return e;
}

/* Log the "(queue active)" line pflogsumm and postfix_exporter count. */
static bool qmgr_log_active(struct qmgr *m, const char *qid)
{
    struct buf path = BUF_INIT;
    buf_printf(&path, "%s/messages/%s", queue_dir(m->q), qid);
    int fd = open(buf_str(&path), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    buf_free(&path);
    if (fd < 0)
        return false;
    struct envelope env;
    envelope_init(&env);
    uint64_t size = 0;
    bool incomplete = false;
    struct buf err = BUF_INIT;
    int r = qf_read_envelope(fd, &env, &size, &incomplete, &err);
    close(fd);
    if (r == 0) {
        size_t pending = 0;
        for (size_t i = 0; i < env.nrcpt; i++)
            pending += env.rcpt[i].status == RCPT_PENDING;
        log_mail("qmgr", "%s: from=<%s>, size=%llu, nrcpt=%zu (queue active)", qid, env.sender,
                 (unsigned long long)size, pending);
    } else {
        msg_warn("%s: cannot read queue file: %s", qid, buf_str(&err));
    }
    envelope_free(&env);
    buf_free(&err);
    return r == 0;
}

static void qmgr_try(struct qentry *e)
{
    struct qmgr *m = e->m;
    if (e->held || e->active || !m->have_delivery)
        return;
    e->active = true;
    m->delivery.deliver(m->delivery.arg, m, e->qid);
}

double qmgr_backoff(double age)
{
    double lo = (double)var_minimal_backoff_time, hi = (double)var_maximal_backoff_time;
    if (hi < lo)
        hi = lo;
    return age < lo ? lo : age > hi ? hi : age;
}

bool qmgr_expired(double arrival, double now, bool null_sender)
{
    long life = var_maximal_queue_lifetime;
    if (null_sender && var_bounce_queue_lifetime < life)
        life = var_bounce_queue_lifetime;
    return now - arrival >= (double)life;
}

struct qmgr *qmgr_create(struct event_base *base, struct queue *q)
{
    struct qmgr *m = xcalloc(1, sizeof(*m));
    m->base = base;
    m->q = q;
    m->nbucket = 1024;
    m->bucket = xcalloc(m->nbucket, sizeof(*m->bucket));
    return m;
}

void qmgr_free(struct qmgr *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nbucket; i++) {
        struct qentry *e = m->bucket[i];
        while (e) {
            struct qentry *next = e->next;
            if (e->timer)
                event_free(e->timer);
            free(e);
            e = next;
        }
    }
    free(m->bucket);
    free(m);
}

void qmgr_set_delivery(struct qmgr *m, const struct qmgr_delivery *d)
{
    m->delivery = *d;
    m->have_delivery = d && d->deliver;
}

static void qmgr_load_dir(struct qmgr *m, enum queue_where where)
{
    char **ids = NULL;
    size_t n = 0;
    if (queue_list_ids(m->q, where, &ids, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        struct qentry *e = qmgr_add(m, ids[i], time_now(), where == QUEUE_HOLD);
        if (where == QUEUE_MESSAGES) {
            struct queue_defer d;
            double delay = 0;
            if (queue_defer_read(m->q, ids[i], &d) == 0 && d.next_attempt > 0)
                delay = d.next_attempt - time_now();
            queue_defer_free(&d);
            qmgr_schedule(e, delay);
        }
    }
    queue_free_ids(ids, n);
}

void qmgr_load(struct qmgr *m)
{
    qmgr_load_dir(m, QUEUE_MESSAGES);
    qmgr_load_dir(m, QUEUE_HOLD);
    if (m->count)
        msg_info("queue manager: %zu message%s in the queue", m->count, m->count == 1 ? "" : "s");
}

void qmgr_message_arrived(void *arg, const char *qid)
{
    struct qmgr *m = arg;
    struct qentry *e = qmgr_add(m, qid, time_now(), false);
    qmgr_log_active(m, qid);
    qmgr_try(e);
}

void qmgr_attempt_done(struct qmgr *m, const char *qid, bool deferred)
{
    struct qentry *e = qmgr_find(m, qid);
    if (!e)
        return;
    e->active = false;
    if (!deferred) {
        qmgr_unlink(m, e);
        return;
    }
    /* The delivery side wrote the schedule with the message's real age;
     * our in-memory arrival is only the time we learned of the message. */
    double delay = qmgr_backoff(time_now() - e->arrival);
    struct queue_defer d;
    if (queue_defer_read(m->q, qid, &d) == 0 && d.next_attempt > 0)
        delay = d.next_attempt - time_now();
    queue_defer_free(&d);
    qmgr_schedule(e, delay);
}

void qmgr_flush(struct qmgr *m)
{
    for (size_t i = 0; i < m->nbucket; i++)
        for (struct qentry *e = m->bucket[i]; e; e = e->next)
            if (!e->held && !e->active)
                qmgr_schedule(e, 0);
}

static long qmgr_manage_one(struct qmgr *m, const char *verb, const char *qid)
{
    struct qentry *e = qmgr_find(m, qid);
    if (strcmp(verb, "delete") == 0) {
        if (e && e->active)
            return 0;   /* being delivered: the delivery side finishes it */
        if (queue_remove(m->q, qid) != 0)
            return e ? 0 : -1;
        if (e)
            qmgr_unlink(m, e);
        return 1;
    }
    if (strcmp(verb, "hold") == 0) {
        if (e && e->held)
            return 0;
        if (queue_hold(m->q, qid) != 0)
            return -1;
        e = qmgr_add(m, qid, time_now(), true);
        e->held = true;
        if (e->timer)
            evtimer_del(e->timer);
        return 1;
    }
    if (strcmp(verb, "release") == 0) {
        if (!e || !e->held)
            return e ? 0 : -1;
        if (queue_release(m->q, qid) != 0)
            return -1;
        e->held = false;
        qmgr_schedule(e, 0);
        return 1;
    }
    return -1;
}

long qmgr_manage(struct qmgr *m, const char *verb, const char *qid)
{
    if (strcmp(qid, "ALL") != 0)
        return qmgr_manage_one(m, verb, qid);
    /* Collect first: managing changes the table. */
    char **ids = xcalloc(m->count + 1, sizeof(*ids));
    size_t n = 0;
    for (size_t i = 0; i < m->nbucket; i++)
        for (struct qentry *e = m->bucket[i]; e; e = e->next)
            ids[n++] = xstrdup(e->qid);
    long done = 0;
    for (size_t i = 0; i < n; i++) {
        long r = qmgr_manage_one(m, verb, ids[i]);
        if (r > 0)
            done += r;
        free(ids[i]);
    }
    free(ids);
    return done;
}

bool qmgr_is_active(const char *qid, void *arg)
{
    struct qentry *e = qmgr_find(arg, qid);
    return e && e->active;
}

void qmgr_active_list(void *arg, struct buf *out)
{
    struct qmgr *m = arg;
    for (size_t i = 0; i < m->nbucket; i++)
        for (struct qentry *e = m->bucket[i]; e; e = e->next)
            if (e->active)
                buf_printf(out, "%s\n", e->qid);
}

size_t qmgr_count(const struct qmgr *m)
{
    return m->count;
}
