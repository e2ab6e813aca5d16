/*
 * dispatch.c - one delivery attempt on one message (see deliver.h): plan,
 * DNS, jobs on the agents, then the bookkeeping only this file does: log
 * lines, notifications, forwarded copies, recipient status in the queue
 * file, defer state, expiry and removal.
 *
 * Order matters for the durability promise: a recipient is marked done in
 * the queue file only after whatever replaces it is itself committed (the
 * bounce that reports it, the forwarded copy that carries it on). A crash
 * in between delivers twice at worst, never loses a recipient.
 *
 * Trusts: queue files only through queue_msg_open (validated); agents'
 * result texts are untrusted remote text and are cleaned before logging.
 */
#include "deliver/deliver.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deliver/dsn.h"
#include "deliver/resubmit.h"
#include "lib/log.h"
#include "lib/params.h"
#include "lib/util.h"
#include "queue/cleanup.h"
#include "queue/qmgr.h"
#include "queue/queue.h"
#include "queue/queue_file.h"
#include "route/plan.h"

static struct {
    struct event_base *base;
    struct queue *q;
    struct qmgr *m;
    struct dns *dns;
} D;

struct attempt {
    struct dlv_msg msg;
    struct queue_msg qm;
    struct queue_defer old;         /* defer state before this attempt */
    struct plan plan;
    bool have_plan;
    struct dlv_rcpt *rcpt;          /* one per pending recipient */
    size_t nrcpt;
    struct dns_result **dns;        /* per plan group (before splitting) */
    size_t ngroup_dns;
    size_t dns_pending;
    struct dlv_job *jobs;
    size_t njobs;
    size_t jobs_pending;
    size_t submits_pending;         /* forwards, then notifications */
    double t_jobs;                  /* when the agents got the jobs */
    bool expired;
    bool warned;                    /* a delay notice went out (now or before) */
};

struct dns_wait {
    struct attempt *a;
    size_t group;
};

struct fwd_wait {
    struct attempt *a;
    struct dlv_rcpt *r;
};

static void dispatch_finalize(struct attempt *a);
static void dispatch_notify(struct attempt *a);
static void dispatch_commit(struct attempt *a);

/* ---- results ---- */

static void dlv_vset(struct dlv_rcpt *r, enum dlv_status st, const char *dsn, const char *relay,
                     const char *fmt, va_list ap)
{
    r->status = st;
    snprintf(r->dsn, sizeof(r->dsn), "%s", dsn ? dsn : (st == DLV_SENT ? "2.0.0" : st == DLV_DEFER ? "4.0.0" : "5.0.0"));
    free(r->relay);
    r->relay = xstrdup(relay ? relay : "none");
    free(r->text);
    r->text = xvasprintf(fmt, ap);
}

void dlv_result(struct dlv_rcpt *r, enum dlv_status st, const char *dsn, const char *relay,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dlv_vset(r, st, dsn, relay, fmt, ap);
    va_end(ap);
}

void dlv_result_all(struct dlv_job *j, enum dlv_status st, const char *dsn, const char *relay,
                    const char *fmt, ...)
{
    for (size_t i = 0; i < j->n; i++) {
        if (j->rcpt[i]->status != DLV_PENDING)
            continue;
        va_list ap;
        va_start(ap, fmt);
        dlv_vset(j->rcpt[i], st, dsn, relay, fmt, ap);
        va_end(ap);
    }
}

struct dlv_part *dlv_add_part(struct dlv_rcpt *r, const char *to, enum dlv_status st, const char *dsn,
                              const char *relay, const char *text)
{
    r->parts = xrealloc(r->parts, (r->nparts + 1) * sizeof(*r->parts));
    struct dlv_part *p = &r->parts[r->nparts++];
    memset(p, 0, sizeof(*p));
    p->to = xstrdup(to ? to : "");
    p->status = st;
    snprintf(p->dsn, sizeof(p->dsn), "%s", dsn ? dsn : "");
    p->relay = xstrdup(relay ? relay : "none");
    p->text = xstrdup(text ? text : "");
    return p;
}

int dlv_read_content(const struct dlv_msg *m, int (*fn)(void *arg, const char *p, size_t n), void *arg)
{
    return qf_read_content(m->fd, m->content_off, fn, arg);
}

static void dlv_rcpt_free(struct dlv_rcpt *r)
{
    free(r->text);
    free(r->relay);
    free(r->remote_mta);
    free(r->diag);
    free(r->hint);
    free(r->orig_to);
    free(r->forward_sender);
    for (size_t i = 0; i < r->nparts; i++) {
        free(r->parts[i].to);
        free(r->parts[i].text);
        free(r->parts[i].relay);
        free(r->parts[i].hint);
    }
    free(r->parts);
}

/* ---- discard and error transports ---- */

void agent_simple_start(struct dlv_job *j)
{
    if (j->t->kind == TK_DISCARD) {
        dlv_result_all(j, DLV_SENT, "2.0.0", "none", "%s", *j->nexthop ? j->nexthop : "discarded");
    } else {
        /* error:[X.Y.Z ]text - the code decides bounce or defer */
        const char *text = *j->nexthop ? j->nexthop : "delivery refused by the error transport";
        char dsn[16] = "5.0.0";
        if ((text[0] == '4' || text[0] == '5') && text[1] == '.') {
            size_t n = strspn(text, "0123456789.");
            if (n < sizeof(dsn) && (text[n] == ' ' || text[n] == 0)) {
                memcpy(dsn, text, n);
                dsn[n] = 0;
                text += n;
                while (*text == ' ')
                    text++;
            }
        }
        dlv_result_all(j, dsn[0] == '4' ? DLV_DEFER : DLV_BOUNCE, dsn, "none", "%s", text);
    }
    j->finish(j);
}

/* ---- log lines ---- */

/* Postfix's delay format: 0 below 10 ms, two significant digits below 10 s,
 * whole seconds above. */
static void fmt_delay(char *out, size_t n, double v)
{
    if (v < 0.01)
        snprintf(out, n, "0");
    else if (v < 10)
        snprintf(out, n, "%.2g", v);
    else
        snprintf(out, n, "%.0f", v);
}

static const char *agent_prog(const struct dlv_rcpt *r, const struct attempt *a)
{
    (void)a;
    const struct transport_def *t = transport_find(r->route.transport);
    if (!t)
        return "qmgr";
    switch (t->kind) {
    case TK_SMTP:
        return "smtp";
    case TK_LMTP:
        return "lmtp";
    case TK_LOCAL:
        return "local";
    case TK_VIRTUAL:
        return "virtual";
    case TK_PIPE:
        return "pipe";
    case TK_DISCARD:
        return "discard";
    case TK_ERROR:
        return "error";
    }
    return "qmgr";
}

static const char *status_word(enum dlv_status s)
{
    return s == DLV_SENT ? "sent" : s == DLV_BOUNCE ? "bounced" : "deferred";
}

static void log_one(const struct attempt *a, const char *prog, const char *to, const char *orig_to,
                    const char *relay, double t_conn, double t_xfer, const char *dsn,
                    enum dlv_status st, const char *text, const char *hint)
{
    double now = time_now();
    char delay[32], da[32], db[32], dc[32], dd[32];
    fmt_delay(delay, sizeof(delay), now - a->msg.env.arrival);
    fmt_delay(da, sizeof(da), a->msg.t_start - a->msg.env.arrival);
    fmt_delay(db, sizeof(db), a->t_jobs > a->msg.t_start ? a->t_jobs - a->msg.t_start : 0);
    fmt_delay(dc, sizeof(dc), t_conn);
    fmt_delay(dd, sizeof(dd), t_xfer);
    struct buf orig = BUF_INIT;
    if (orig_to && *orig_to && strcmp(orig_to, to) != 0)
        buf_printf(&orig, "orig_to=<%s>, ", orig_to);
    log_mail(prog, "%s: to=<%s>, %srelay=%s, delay=%s, delays=%s/%s/%s/%s, dsn=%s, status=%s (%s%s%s)",
             a->msg.qid, to, buf_str(&orig), relay && *relay ? relay : "none", delay, da, db, dc, dd,
             dsn, status_word(st), text ? text : "", hint ? "; " : "", hint ? hint : "");
    buf_free(&orig);
}

static void dispatch_log(struct attempt *a)
{
    for (size_t i = 0; i < a->nrcpt; i++) {
        struct dlv_rcpt *r = &a->rcpt[i];
        const char *prog = agent_prog(r, a);
        if (r->nparts == 0) {
            log_one(a, prog, r->addr, r->orig_to, r->relay, r->t_conn, r->t_xfer, r->dsn, r->status, r->text,
                    r->hint);
            continue;
        }
        for (size_t k = 0; k < r->nparts; k++) {
            const struct dlv_part *p = &r->parts[k];
            log_one(a, prog, p->to, r->addr, p->relay, r->t_conn, r->t_xfer, p->dsn, p->status, p->text,
                    p->hint);
        }
    }
}

/* ---- the attempt ---- */

static void attempt_free(struct attempt *a)
{
    for (size_t i = 0; i < a->nrcpt; i++)
        dlv_rcpt_free(&a->rcpt[i]);
    free(a->rcpt);
    for (size_t g = 0; g < a->ngroup_dns; g++) {
        if (a->dns[g]) {
            dns_result_free(a->dns[g]);
            free(a->dns[g]);
        }
    }
    free(a->dns);
    for (size_t j = 0; j < a->njobs; j++)
        free(a->jobs[j].rcpt);
    free(a->jobs);
    if (a->have_plan)
        plan_free(&a->plan);
    queue_defer_free(&a->old);
    envelope_free(&a->msg.env);
    queue_msg_close(&a->qm);
    free(a);
}

static struct dlv_rcpt *attempt_rcpt(struct attempt *a, size_t index)
{
    for (size_t i = 0; i < a->nrcpt; i++)
        if (a->rcpt[i].index == index)
            return &a->rcpt[i];
    return NULL;
}

static void job_finish(struct dlv_job *j)
{
    struct attempt *a = j->owner;
    for (size_t i = 0; i < j->n; i++)
        if (j->rcpt[i]->status == DLV_PENDING)
            dlv_result(j->rcpt[i], DLV_DEFER, "4.3.0", "none", "delivery agent gave no result");
    if (--a->jobs_pending == 0)
        dispatch_finalize(a);
}

static void start_job(struct dlv_job *j)
{
    switch (j->t->kind) {
    case TK_SMTP:
    case TK_LMTP:
        agent_smtp_start(j);
        break;
    case TK_LOCAL:
    case TK_VIRTUAL:
        agent_local_start(j);
        break;
    case TK_PIPE:
        agent_pipe_start(j);
        break;
    case TK_DISCARD:
    case TK_ERROR:
        agent_simple_start(j);
        break;
    }
}

static void start_jobs(struct attempt *a)
{
    a->t_jobs = time_now();
    plan_merge(&a->plan);
    plan_split_limit(&a->plan);

    a->jobs = xcalloc(a->plan.n + 1, sizeof(*a->jobs));
    for (size_t g = 0; g < a->plan.n; g++) {
        struct plan_group *pg = &a->plan.g[g];
        if (pg->merged_into_other || pg->n == 0)
            continue;
        struct dlv_job *j = &a->jobs[a->njobs++];
        j->msg = &a->msg;
        j->t = pg->t;
        snprintf(j->nexthop, sizeof(j->nexthop), "%s", pg->nexthop);
        j->dns = pg->dns;
        j->rcpt = xcalloc(pg->n, sizeof(*j->rcpt));
        for (size_t k = 0; k < pg->n; k++) {
            struct dlv_rcpt *r = attempt_rcpt(a, pg->rcpt[k]);
            if (r) {
                r->route = pg->routes[k];
                j->rcpt[j->n++] = r;
            }
        }
        j->finish = job_finish;
        j->owner = a;
    }
    /* One extra count while starting, so a job that finishes at once cannot
     * finalize the attempt under our feet. */
    a->jobs_pending = a->njobs + 1;
    for (size_t k = 0; k < a->njobs; k++)
        start_job(&a->jobs[k]);
    if (--a->jobs_pending == 0)
        dispatch_finalize(a);
}

static void dns_done(void *arg, const struct dns_result *r)
{
    struct dns_wait *w = arg;
    struct attempt *a = w->a;
    struct dns_result *copy = xcalloc(1, sizeof(*copy));
    dns_result_copy(copy, r);
    a->dns[w->group] = copy;
    a->plan.g[w->group].dns = copy;
    plan_mx_key(copy, a->plan.g[w->group].mx_key, sizeof(a->plan.g[w->group].mx_key));
    free(w);
    if (--a->dns_pending == 0)
        start_jobs(a);
}

void deliver_message(void *arg, struct qmgr *m, const char *qid)
{
    (void)arg;
    struct attempt *a = xcalloc(1, sizeof(*a));
    struct buf err = BUF_INIT;
    if (queue_msg_open(D.q, qid, &a->qm, &err) != 0) {
        msg_warn("%s: cannot open queue file: %s", qid, buf_str(&err));
        buf_free(&err);
        a->qm.fd = -1;
        attempt_free(a);
        qmgr_attempt_done(m, qid, false);
        return;
    }
    buf_free(&err);
    snprintf(a->msg.qid, sizeof(a->msg.qid), "%s", qid);
    envelope_copy(&a->msg.env, &a->qm.env);
    a->msg.fd = a->qm.fd;
    a->msg.content_off = a->qm.content_off;
    a->msg.size = a->qm.size;
    a->msg.t_start = time_now();
    queue_defer_read(D.q, qid, &a->old);
    a->warned = a->old.warned;

    const struct envelope *env = &a->msg.env;
    a->rcpt = xcalloc(env->nrcpt + 1, sizeof(*a->rcpt));
    for (size_t i = 0; i < env->nrcpt; i++) {
        if (env->rcpt[i].status != RCPT_PENDING)
            continue;
        struct dlv_rcpt *r = &a->rcpt[a->nrcpt++];
        r->index = i;
        r->addr = env->rcpt[i].addr;
        r->orcpt = env->rcpt[i].orcpt;
        r->notify = env->rcpt[i].notify;
    }
    if (a->nrcpt == 0) {
        /* Everything was done before a crash: finish the bookkeeping. */
        dispatch_commit(a);
        return;
    }

    plan_build(env, true, &a->plan, NULL);
    a->have_plan = true;
    for (size_t k = 0; k < a->plan.nfailed; k++) {
        struct dlv_rcpt *r = attempt_rcpt(a, a->plan.failed[k]);
        if (r)
            dlv_result(r, DLV_DEFER, "4.3.0", "none", "address resolver failure: temporary lookup failure");
    }

    a->ngroup_dns = a->plan.n;
    a->dns = xcalloc(a->plan.n + 1, sizeof(*a->dns));
    a->dns_pending = 1;
    for (size_t g = 0; g < a->plan.n && D.dns; g++) {
        char name[512];
        bool mx = false;
        if (!plan_needs_dns(&a->plan.g[g], name, sizeof(name), &mx))
            continue;
        struct dns_wait *w = xcalloc(1, sizeof(*w));
        w->a = a;
        w->group = g;
        a->dns_pending++;
        dns_resolve(D.dns, name, mx, dns_done, w);
    }
    if (--a->dns_pending == 0)
        start_jobs(a);
}

/* ---- after the agents: forwards ---- */

static void fwd_done(void *arg, const char *qid, const char *err_reply)
{
    struct fwd_wait *w = arg;
    struct attempt *a = w->a;
    for (size_t k = 0; k < w->r->nparts; k++) {
        struct dlv_part *p = &w->r->parts[k];
        if (!p->forward)
            continue;
        free(p->text);
        if (err_reply) {
            p->status = DLV_DEFER;
            snprintf(p->dsn, sizeof(p->dsn), "4.3.0");
            p->text = xasprintf("cannot forward: %s", err_reply);
        } else {
            p->status = DLV_SENT;
            snprintf(p->dsn, sizeof(p->dsn), "2.0.0");
            p->text = xasprintf("forwarded as %s", qid);
        }
    }
    free(w);
    if (--a->submits_pending == 0)
        dispatch_notify(a);
}

static void dispatch_finalize(struct attempt *a)
{
    a->submits_pending = 1;
    for (size_t i = 0; i < a->nrcpt; i++) {
        struct dlv_rcpt *r = &a->rcpt[i];
        struct envelope fenv;
        envelope_init(&fenv);
        for (size_t k = 0; k < r->nparts; k++)
            if (r->parts[k].forward)
                envelope_add_rcpt(&fenv, r->parts[k].to, NULL, r->notify);
        if (fenv.nrcpt == 0) {
            envelope_free(&fenv);
            continue;
        }
        envelope_set(&fenv.sender, r->forward_sender ? r->forward_sender : a->msg.env.sender);
        envelope_set(&fenv.origin, "forward");
        envelope_set(&fenv.envid, a->msg.env.envid);
        fenv.ret = a->msg.env.ret;
        fenv.body = a->msg.env.body;
        fenv.smtputf8 = a->msg.env.smtputf8;
        fenv.arrival = time_now();
        char *prefix = xasprintf("Delivered-To: %s\r\n", r->addr);
        struct fwd_wait *w = xcalloc(1, sizeof(*w));
        w->a = a;
        w->r = r;
        a->submits_pending++;
        resubmit_copy(&fenv, 0, prefix, &a->msg, fwd_done, w);
        free(prefix);
        envelope_free(&fenv);
    }
    if (--a->submits_pending == 0)
        dispatch_notify(a);
}

/* ---- notifications ---- */

struct note_wait {
    struct attempt *a;
    enum dsn_kind kind;
    size_t *which;              /* rcpt array indexes reported */
    size_t n;
};

static bool sender_is_double_bounce(const char *sender)
{
    if (!sender || !*sender)
        return false;
    const char *at = strrchr(sender, '@');
    size_t ulen = at ? (size_t)(at - sender) : strlen(sender);
    return ulen == strlen(var_double_bounce_sender) &&
           ascii_strncasecmp(sender, var_double_bounce_sender, ulen) == 0;
}

static const char *note_kind_name(enum dsn_kind k)
{
    return k == DSN_FAILURE ? "non-delivery" : k == DSN_DELAY ? "delay" : "delivery status";
}

static void note_done(void *arg, const char *qid, const char *err_reply)
{
    struct note_wait *w = arg;
    struct attempt *a = w->a;
    const char *whom = *a->msg.env.sender ? "sender" : "postmaster";
    if (err_reply) {
        msg_warn("%s: cannot queue the %s %s notification: %s", a->msg.qid, whom, note_kind_name(w->kind),
                 err_reply);
        /* The bounce is not safe: keep the recipients for a retry. */
        if (w->kind == DSN_FAILURE && !a->expired)
            for (size_t k = 0; k < w->n; k++)
                if (a->rcpt[w->which[k]].status == DLV_BOUNCE)
                    a->rcpt[w->which[k]].status = DLV_DEFER;
    } else {
        log_mail("bounce", "%s: %s %s notification: %s", a->msg.qid, whom, note_kind_name(w->kind), qid);
    }
    free(w->which);
    free(w);
    if (--a->submits_pending == 0)
        dispatch_commit(a);
}

/* Is recipient r (or one of its parts) to be reported in a notice of kind k? */
static bool wants_notice(const struct dlv_rcpt *r, enum dsn_kind k, enum dlv_status st)
{
    if (r->notify & DSN_NOTIFY_NEVER)
        return false;
    switch (k) {
    case DSN_FAILURE:
        return st == DLV_BOUNCE && (r->notify == 0 || (r->notify & DSN_NOTIFY_FAILURE));
    case DSN_DELAY:
        return st == DLV_DEFER && (r->notify == 0 || (r->notify & DSN_NOTIFY_DELAY));
    case DSN_SUCCESS:
        return st == DLV_SENT && (r->notify & DSN_NOTIFY_SUCCESS);
    }
    return false;
}

struct content_buf {
    struct buf b;
    size_t limit;
};

static int collect_content(void *arg, const char *p, size_t n)
{
    struct content_buf *c = arg;
    if (c->b.len + n > c->limit)
        n = c->limit - c->b.len;
    buf_append(&c->b, p, n);
    return c->b.len >= c->limit ? 1 : 0;
}

static void send_notice(struct attempt *a, enum dsn_kind kind)
{
    const struct envelope *env = &a->msg.env;
    struct dsn_rcpt *dr = xcalloc(a->nrcpt * 4 + 1, sizeof(*dr));
    size_t *which = xcalloc(a->nrcpt + 1, sizeof(*which));
    size_t n = 0, nw = 0;
    for (size_t i = 0; i < a->nrcpt; i++) {
        struct dlv_rcpt *r = &a->rcpt[i];
        bool any = false;
        if (r->nparts == 0) {
            if (!wants_notice(r, kind, r->status))
                continue;
            struct dsn_rcpt *d = &dr[n++];
            d->final_rcpt = r->addr;
            d->orcpt = r->orcpt;
            d->action = kind == DSN_FAILURE ? "failed" : kind == DSN_DELAY ? "delayed"
                        : (r->remote_mta ? "relayed" : "delivered");
            d->status = r->dsn;
            d->remote_mta = r->remote_mta;
            d->diag_type = r->diag ? "smtp" : "X-Yubin";
            d->diag_text = r->diag ? r->diag : r->text;
            d->reason = r->text;
            d->hint = r->hint;
            any = true;
        } else {
            for (size_t k = 0; k < r->nparts && n < a->nrcpt * 4; k++) {
                struct dlv_part *p = &r->parts[k];
                if (!wants_notice(r, kind, p->status))
                    continue;
                struct dsn_rcpt *d = &dr[n++];
                d->final_rcpt = p->to;
                d->orig_rcpt = r->addr;
                d->orcpt = r->orcpt;
                d->action = kind == DSN_FAILURE ? "failed" : kind == DSN_DELAY ? "delayed" : "delivered";
                d->status = p->dsn;
                d->diag_type = "X-Yubin";
                d->diag_text = p->text;
                d->reason = p->text;
                d->hint = p->hint;
                any = true;
            }
        }
        if (any)
            which[nw++] = i;
    }
    if (n == 0) {
        free(dr);
        free(which);
        return;
    }

    bool to_postmaster = !*env->sender;
    if (to_postmaster && kind != DSN_FAILURE) {
        free(dr);
        free(which);
        return;
    }
    if (sender_is_double_bounce(env->sender)) {
        log_mail("bounce", "%s: undeliverable postmaster notification discarded", a->msg.qid);
        free(dr);
        free(which);
        return;
    }

    struct dsn_report rep = {
        .kind = kind,
        .qid = a->msg.qid,
        .sender = to_postmaster ? NULL : env->sender,
        .arrival = env->arrival,
        .envid = env->envid,
        .ret = env->ret,
        .size_limit = var_bounce_size_limit,
        .retry_until = env->arrival + (double)var_maximal_queue_lifetime,
        .delay_hours = (time_now() - env->arrival) / 3600.0,
        .postmaster_copy = to_postmaster,
    };
    struct buf to = BUF_INIT;
    if (to_postmaster) {
        buf_puts(&to, var_2bounce_notice_recipient);
        if (!strchr(buf_str(&to), '@'))
            buf_printf(&to, "@%s", var_myorigin);
        rep.notify_to = buf_str(&to);
    }
    struct content_buf orig = {BUF_INIT, (size_t)var_bounce_size_limit + 1};
    if (kind != DSN_FAILURE || env->ret == DSN_RET_HDRS)
        orig.limit = (size_t)var_header_size_limit + 1;
    dlv_read_content(&a->msg, collect_content, &orig);

    char qid[QID_SIZE];
    qid_new(qid);
    struct buf text = BUF_INIT;
    dsn_compose(&text, &rep, dr, n, orig.b.data ? orig.b.data : "", orig.b.len, qid);

    struct envelope nenv;
    envelope_init(&nenv);
    if (to_postmaster) {
        char *from = xasprintf("%s@%s", var_double_bounce_sender, var_myorigin);
        envelope_set(&nenv.sender, from);
        free(from);
        envelope_add_rcpt(&nenv, buf_str(&to), NULL, 0);
    } else {
        envelope_set(&nenv.sender, "");
        envelope_add_rcpt(&nenv, env->sender, NULL, 0);
    }
    envelope_set(&nenv.origin, "bounce");
    nenv.arrival = time_now();

    struct note_wait *w = xcalloc(1, sizeof(*w));
    w->a = a;
    w->kind = kind;
    w->which = which;
    w->n = nw;
    a->submits_pending++;
    resubmit_text(&nenv, CLEANUP_BOUNCE, text.data ? text.data : "", text.len, note_done, w);

    envelope_free(&nenv);
    buf_free(&text);
    buf_free(&orig.b);
    buf_free(&to);
    free(dr);
}

/* A recipient with parts: deferred if any part is, bounced if all are. */
static void settle_parts(struct dlv_rcpt *r)
{
    if (r->nparts == 0)
        return;
    bool any_defer = false, all_bounce = true;
    for (size_t k = 0; k < r->nparts; k++) {
        any_defer |= r->parts[k].status == DLV_DEFER;
        all_bounce &= r->parts[k].status == DLV_BOUNCE;
    }
    r->status = any_defer ? DLV_DEFER : all_bounce ? DLV_BOUNCE : DLV_SENT;
}

static void dispatch_notify(struct attempt *a)
{
    const struct envelope *env = &a->msg.env;
    double now = time_now();
    bool deferred = false;
    for (size_t i = 0; i < a->nrcpt; i++) {
        settle_parts(&a->rcpt[i]);
        deferred |= a->rcpt[i].status == DLV_DEFER;
    }
    if (deferred && qmgr_expired(env->arrival, now, !*env->sender)) {
        a->expired = true;
        for (size_t i = 0; i < a->nrcpt; i++) {
            struct dlv_rcpt *r = &a->rcpt[i];
            if (r->status == DLV_DEFER)
                r->status = DLV_BOUNCE;
            for (size_t k = 0; k < r->nparts; k++)
                if (r->parts[k].status == DLV_DEFER)
                    r->parts[k].status = DLV_BOUNCE;
        }
    }
    dispatch_log(a);
    if (a->expired)
        log_mail("qmgr", "%s: from=<%s>, status=expired, returned to sender", a->msg.qid, env->sender);

    a->submits_pending = 1;
    send_notice(a, DSN_FAILURE);
    send_notice(a, DSN_SUCCESS);
    if (!a->expired && deferred && var_delay_warning_time > 0 && !a->warned &&
        now - env->arrival >= (double)var_delay_warning_time && *env->sender) {
        a->warned = true;
        send_notice(a, DSN_DELAY);
    }
    if (--a->submits_pending == 0)
        dispatch_commit(a);
}

/* ---- the queue file follows ---- */

static void dispatch_commit(struct attempt *a)
{
    const char *qid = a->msg.qid;
    size_t done = 0;
    for (size_t i = 0; i < a->nrcpt; i++) {
        struct dlv_rcpt *r = &a->rcpt[i];
        if (r->status == DLV_SENT || r->status == DLV_BOUNCE) {
            if (queue_msg_rcpt_done(&a->qm, r->index) != 0)
                msg_warn("%s: cannot mark recipient %zu done: %s", qid, r->index, strerror(errno));
            else
                done++;
        }
    }
    if (done && queue_msg_sync(&a->qm) != 0)
        msg_warn("%s: cannot sync recipient status: %s", qid, strerror(errno));

    size_t remaining = 0;
    for (size_t i = 0; i < a->qm.env.nrcpt; i++) {
        bool pending = a->qm.env.rcpt[i].status == RCPT_PENDING;
        struct dlv_rcpt *r = attempt_rcpt(a, i);
        if (r && (r->status == DLV_SENT || r->status == DLV_BOUNCE))
            pending = false;
        remaining += pending;
    }

    struct qmgr *m = D.m;
    char qidcopy[QID_SIZE];
    snprintf(qidcopy, sizeof(qidcopy), "%s", qid);
    if (remaining == 0) {
        if (queue_remove(D.q, qid) == 0)
            log_mail("qmgr", "%s: removed", qid);
        else
            msg_warn("%s: cannot remove queue file: %s", qid, strerror(errno));
        attempt_free(a);
        qmgr_attempt_done(m, qidcopy, false);
        return;
    }

    struct queue_defer d = {0};
    d.attempts = a->old.attempts + 1;
    d.warned = a->warned;
    d.next_attempt = time_now() + qmgr_backoff(time_now() - a->msg.env.arrival);
    d.nreason = a->qm.env.nrcpt;
    d.reason = xcalloc(d.nreason + 1, sizeof(*d.reason));
    for (size_t i = 0; i < d.nreason; i++) {
        struct dlv_rcpt *r = attempt_rcpt(a, i);
        if (r && r->status == DLV_DEFER) {
            const char *why = r->text;
            for (size_t k = 0; k < r->nparts; k++)
                if (r->parts[k].status == DLV_DEFER)
                    why = r->parts[k].text;
            d.reason[i] = xstrdup(why ? why : "deferred");
        } else if (i < a->old.nreason && a->old.reason[i]) {
            d.reason[i] = xstrdup(a->old.reason[i]);
        }
    }
    if (queue_defer_write(D.q, qid, &d) != 0)
        msg_warn("%s: cannot write defer state: %s", qid, strerror(errno));
    queue_defer_free(&d);
    attempt_free(a);
    qmgr_attempt_done(m, qidcopy, true);
}

/* ---- set-up ---- */

void deliver_init(struct event_base *base, struct queue *q, struct qmgr *m, struct dns *dns)
{
    D.base = base;
    D.q = q;
    D.m = m;
    D.dns = dns;
    struct qmgr_delivery d = {deliver_message, NULL};
    qmgr_set_delivery(m, &d);
}

struct dns *deliver_dns(void)
{
    return D.dns;
}

struct event_base *deliver_base(void)
{
    return D.base;
}
