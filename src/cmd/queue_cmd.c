/*
 * queue_cmd.c - 'yubin queue' and 'mailq': look at and manage the queue
 * the way postqueue(1) and postsuper(1) do.
 *
 *   yubin queue [-c FILE] [list]             like mailq / postqueue -p
 *   yubin queue [-c FILE] flush              like postqueue -f (needs the daemon)
 *   yubin queue [-c FILE] delete ID|ALL...   like postsuper -d
 *   yubin queue [-c FILE] hold ID|ALL...     like postsuper -h
 *   yubin queue [-c FILE] release ID|ALL...  like postsuper -H
 *   mailq [-c FILE]                          list
 *
 * list reads the queue directory itself, so it works with the daemon down;
 * a running daemon is only asked which messages are being delivered (the
 * '*' marker). delete/hold/release go through the daemon when it runs, so
 * its schedule follows, and act on the files when it does not. Results are
 * logged as postsuper's are ("Deleted: 2 messages"); command-line logging
 * goes to the terminal, so that is also what the administrator sees.
 *
 * Exit status: 0; 1 when an ID did not exist or an operation failed; 64 bad
 * usage; 69 flush without a daemon (as postqueue); 75 the daemon did not
 * answer properly.
 *
 * Trusts: its command line (queue IDs are checked before use); queue
 * files only through the queue module's validating readers.
 */
#include "cmd/commands.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/params.h"
#include "lib/util.h"
#include "queue/control.h"
#include "queue/queue.h"

#define EX_USAGE_ 64
#define EX_UNAVAILABLE_ 69
#define EX_TEMPFAIL_ 75

static void PRINTF_LIKE(1, 2) queue_cmd_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmail(NULL, LOG_CRIT, "fatal: ", fmt, ap);
    va_end(ap);
}

static bool queue_cmd_daemon_down(int err)
{
    return err == ENOENT || err == ECONNREFUSED || err == ENOTDIR;
}

static int queue_cmd_usage(void)
{
    fprintf(stderr, "usage: yubin queue [-c FILE] [list | flush | delete ID|ALL... | hold ID|ALL... | "
                    "release ID|ALL...]\n");
    return EX_USAGE_;
}

/* ---- list ---- */

struct queue_cmd_active {
    char **ids;
    size_t n;
};

static int queue_cmd_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool queue_cmd_is_active(const char *qid, void *arg)
{
    struct queue_cmd_active *a = arg;
    return a->n > 0 && bsearch(&qid, a->ids, a->n, sizeof(*a->ids), queue_cmd_cmp) != NULL;
}

static void queue_cmd_load_active(struct queue_cmd_active *a, char *list)
{
    size_t cap = 0;
    char *save = NULL;
    for (char *tok = strtok_r(list, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save)) {
        if (a->n == cap) {
            cap = cap ? cap * 2 : 16;
            a->ids = xrealloc(a->ids, cap * sizeof(*a->ids));
        }
        a->ids[a->n++] = xstrdup(tok);
    }
    if (a->n > 1)
        qsort(a->ids, a->n, sizeof(*a->ids), queue_cmd_cmp);
}

static int queue_cmd_list(void)
{
    struct queue_cmd_active active = {NULL, 0};
    struct buf reply = BUF_INIT;
    int r = control_request(var_queue_directory, "active", &reply);
    if (r == 0 && reply.len > 0)
        queue_cmd_load_active(&active, reply.data);
    else if (r < 0 && queue_cmd_daemon_down(errno))
        msg_warn("Mail system is down -- accessing queue directly");
    buf_reset(&reply);

    struct queue *q = queue_open_existing(var_queue_directory, &reply);
    int rc = 0;
    if (q) {
        queue_print(q, stdout, queue_cmd_is_active, &active);
        queue_close(q);
    } else if (errno == ENOENT) {
        fputs("Mail queue is empty\n", stdout);   /* no queue was ever created */
    } else {
        queue_cmd_fatal("%s", buf_str(&reply));
        rc = 1;
    }
    for (size_t i = 0; i < active.n; i++)
        free(active.ids[i]);
    free(active.ids);
    buf_free(&reply);
    return rc;
}

/* ---- flush ---- */

static int queue_cmd_flush(void)
{
    struct buf reply = BUF_INIT;
    int r = control_request(var_queue_directory, "flush", &reply);
    int e = errno;
    int rc = 0;
    if (r < 0 && queue_cmd_daemon_down(e)) {
        queue_cmd_fatal("Cannot flush mail queue - mail system is down");
        rc = EX_UNAVAILABLE_;
    } else if (r < 0) {
        queue_cmd_fatal("Cannot flush mail queue: %s", strerror(e));
        rc = EX_TEMPFAIL_;
    } else if (r > 0) {
        queue_cmd_fatal("Cannot flush mail queue: %s", buf_str(&reply));
        rc = 1;
    }
    buf_free(&reply);
    return rc;
}

/* ---- delete / hold / release ---- */

enum queue_cmd_verb { QC_DELETE, QC_HOLD, QC_RELEASE };

static const char *queue_cmd_verb_names[] = {"delete", "hold", "release"};

struct queue_cmd_run {
    enum queue_cmd_verb verb;
    struct queue *q;            /* opened on first direct use */
    long count;
    int rc;
};

static void queue_cmd_done_one(struct queue_cmd_run *run, const char *qid)
{
    run->count++;
    if (run->verb == QC_HOLD)
        log_mail("postsuper", "%s: placed on hold", qid);
    else if (run->verb == QC_RELEASE)
        log_mail("postsuper", "%s: released from hold", qid);
}

/* Act on one file with the daemon down. */
static void queue_cmd_direct_one(struct queue_cmd_run *run, const char *qid, bool named)
{
    enum queue_where where;
    if (queue_locate(run->q, qid, &where) < 0) {
        if (named) {
            msg_warn("%s: no such message", qid);
            run->rc = 1;
        }
        return;
    }
    int r = 0;
    if (run->verb == QC_DELETE)
        r = queue_remove(run->q, qid);
    else if (run->verb == QC_HOLD && where == QUEUE_MESSAGES)
        r = queue_hold(run->q, qid);
    else if (run->verb == QC_RELEASE && where == QUEUE_HOLD)
        r = queue_release(run->q, qid);
    else
        return;     /* already where it should be: nothing to do, as postsuper */
    if (r < 0) {
        if (errno == ENOENT && named) {
            msg_warn("%s: no such message", qid);
            run->rc = 1;
        } else if (errno != ENOENT) {
            msg_warn("%s: cannot %s: %s", qid, queue_cmd_verb_names[run->verb], strerror(errno));
            run->rc = 1;
        }
        return;
    }
    queue_cmd_done_one(run, qid);
}

static int queue_cmd_direct(struct queue_cmd_run *run, const char *arg)
{
    if (!run->q) {
        struct buf err = BUF_INIT;
        run->q = queue_open_existing(var_queue_directory, &err);
        if (!run->q && errno == ENOENT) {
            /* No queue at all: nothing to act on. */
            if (strcmp(arg, "ALL") != 0) {
                msg_warn("%s: no such message", arg);
                run->rc = 1;
            }
            buf_free(&err);
            return 0;
        }
        if (!run->q) {
            queue_cmd_fatal("%s", buf_str(&err));
            buf_free(&err);
            return -1;
        }
        buf_free(&err);
    }
    if (strcmp(arg, "ALL") != 0) {
        queue_cmd_direct_one(run, arg, true);
        return 0;
    }
    const enum queue_where wheres[] = {QUEUE_MESSAGES, QUEUE_HOLD};
    for (size_t w = 0; w < ARRAY_LEN(wheres); w++) {
        if ((run->verb == QC_HOLD && wheres[w] != QUEUE_MESSAGES) ||
            (run->verb == QC_RELEASE && wheres[w] != QUEUE_HOLD))
            continue;
        char **ids;
        size_t n;
        if (queue_list_ids(run->q, wheres[w], &ids, &n) < 0) {
            msg_warn("cannot list the queue: %s", strerror(errno));
            run->rc = 1;
            continue;
        }
        for (size_t i = 0; i < n; i++)
            queue_cmd_direct_one(run, ids[i], false);
        queue_free_ids(ids, n);
    }
    return 0;
}

/* 0 handled, 1 the daemon is down, -1 fatal. */
static int queue_cmd_via_daemon(struct queue_cmd_run *run, const char *arg)
{
    struct buf req = BUF_INIT, reply = BUF_INIT;
    buf_printf(&req, "%s %s", queue_cmd_verb_names[run->verb], arg);
    int r = control_request(var_queue_directory, buf_str(&req), &reply);
    int e = errno;
    int ret = 0;
    if (r < 0 && queue_cmd_daemon_down(e)) {
        ret = 1;
    } else if (r < 0) {
        queue_cmd_fatal("the mail system did not answer: %s", strerror(e));
        ret = -1;
    } else if (r > 0) {
        if (strcmp(buf_str(&reply), "no such message") == 0)
            msg_warn("%s: no such message", arg);
        else
            msg_warn("%s: %s", arg, buf_str(&reply));
        run->rc = 1;
    } else {
        long n;
        if (!parse_long(buf_str(&reply), 0, 1000000000L, &n)) {
            queue_cmd_fatal("unexpected reply from the mail system: %s", buf_str(&reply));
            ret = -1;
        } else if (strcmp(arg, "ALL") != 0 && n > 0) {
            queue_cmd_done_one(run, arg);
        } else {
            run->count += n;
        }
    }
    buf_free(&req);
    buf_free(&reply);
    return ret;
}

static int queue_cmd_manage(enum queue_cmd_verb verb, int argc, char **argv)
{
    if (argc == 0)
        return queue_cmd_usage();
    struct queue_cmd_run run = {verb, NULL, 0, 0};
    int fatal = 0;
    for (int i = 0; i < argc && !fatal; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "ALL") != 0 && !qid_valid(arg)) {
            msg_warn("%s: no such message", arg);
            run.rc = 1;
            continue;
        }
        int r = queue_cmd_via_daemon(&run, arg);
        if (r == 1)
            r = queue_cmd_direct(&run, arg);
        if (r < 0)
            fatal = EX_TEMPFAIL_;
    }
    if (run.count > 0) {
        const char *what = verb == QC_DELETE ? "Deleted" : verb == QC_HOLD ? "Placed on hold" : "Released from hold";
        log_mail("postsuper", "%s: %ld message%s", what, run.count, run.count == 1 ? "" : "s");
    }
    queue_close(run.q);
    return fatal ? fatal : run.rc;
}

int cmd_queue(int argc, char **argv)
{
    const char *config = NULL;
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            config = argv[i + 1];
            i += 2;
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else {
            return queue_cmd_usage();
        }
    }
    const char *verb = i < argc ? argv[i++] : "list";
    int rest = argc - i;
    char **args = argv + i;
    if (strcmp(verb, "list") != 0 && strcmp(verb, "flush") != 0 && strcmp(verb, "delete") != 0 &&
        strcmp(verb, "hold") != 0 && strcmp(verb, "release") != 0)
        return queue_cmd_usage();
    if ((strcmp(verb, "list") == 0 || strcmp(verb, "flush") == 0) && rest != 0)
        return queue_cmd_usage();

    cmd_load_config(config);
    if (strcmp(verb, "list") == 0)
        return queue_cmd_list();
    if (strcmp(verb, "flush") == 0)
        return queue_cmd_flush();
    if (strcmp(verb, "delete") == 0)
        return queue_cmd_manage(QC_DELETE, rest, args);
    if (strcmp(verb, "hold") == 0)
        return queue_cmd_manage(QC_HOLD, rest, args);
    return queue_cmd_manage(QC_RELEASE, rest, args);
}

int cmd_mailq(int argc, char **argv)
{
    /* mailq takes Sendmail's options too (-v, -Ac ...); only -c means
     * something here, the rest is accepted and ignored as Postfix does. */
    const char *config = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            config = argv[++i];
        else if (argv[i][0] != '-')
            return queue_cmd_usage();
    }
    cmd_load_config(config);
    return queue_cmd_list();
}
