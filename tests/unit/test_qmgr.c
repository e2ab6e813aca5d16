/*
 * test_qmgr.c - the queue manager's schedule (src/queue/qmgr.c): the
 * backoff and expiry rules as pure functions, and on a real event loop
 * with a real queue directory: a message is handed to delivery when it
 * arrives, retried after the backoff when it was deferred, retried at once
 * on flush, never tried while held, and forgotten when done.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/params.h"
#include "lib/util.h"
#include "queue/envelope.h"
#include "queue/qid.h"
#include "queue/qmgr.h"
#include "queue/queue.h"

static void test_backoff_is_clamped_age(void **state)
{
    (void)state;
    var_minimal_backoff_time = 300;
    var_maximal_backoff_time = 4000;
    assert_true(qmgr_backoff(0) == 300);
    assert_true(qmgr_backoff(299) == 300);
    assert_true(qmgr_backoff(1234) == 1234);
    assert_true(qmgr_backoff(4000) == 4000);
    assert_true(qmgr_backoff(86400) == 4000);
}

static void test_expiry_uses_bounce_lifetime_for_null_sender(void **state)
{
    (void)state;
    var_maximal_queue_lifetime = 5 * 86400;
    var_bounce_queue_lifetime = 86400;
    double now = 1e9;
    assert_false(qmgr_expired(now - 2 * 86400, now, false));
    assert_true(qmgr_expired(now - 2 * 86400, now, true));
    assert_true(qmgr_expired(now - 5 * 86400, now, false));
    assert_false(qmgr_expired(now - 3600, now, true));
    /* bounce_queue_lifetime is clipped to maximal_queue_lifetime */
    var_bounce_queue_lifetime = 10 * 86400;
    assert_true(qmgr_expired(now - 5 * 86400, now, true));
}

/* ---- the scheduler on an event loop ---- */

struct fx {
    char dir[64];
    struct event_base *base;
    struct queue *q;
    struct qmgr *m;
    int attempts;
    bool defer;             /* what the fake delivery answers */
    double last_attempt;
};

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void fake_deliver(void *arg, struct qmgr *m, const char *qid)
{
    struct fx *f = arg;
    f->attempts++;
    f->last_attempt = time_monotonic();
    if (!f->defer)
        queue_remove(f->q, qid);
    qmgr_attempt_done(m, qid, f->defer);
}

static int fx_setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/yubin-qmgr-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    var_minimal_backoff_time = 1;
    var_maximal_backoff_time = 1;
    var_message_size_limit = 10240000;
    var_queue_minfree = 0;
    struct buf err = BUF_INIT;
    f->q = queue_open(f->dir, true, &err);
    assert_non_null(f->q);
    buf_free(&err);
    f->base = event_base_new();
    queue_set_event_base(f->q, NULL);   /* synchronous commits for set-up */
    f->m = qmgr_create(f->base, f->q);
    struct qmgr_delivery d = {fake_deliver, f};
    qmgr_set_delivery(f->m, &d);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    qmgr_free(f->m);
    queue_close(f->q);
    event_base_free(f->base);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void commit_cb(void *arg, int err, const char *qid)
{
    (void)qid;
    *(int *)arg = err;
}

static void make_message(struct fx *f, char qid[QID_SIZE])
{
    struct envelope e;
    envelope_init(&e);
    envelope_set(&e.sender, "sender@example.test");
    envelope_add_rcpt(&e, "rcpt@example.test", NULL, 0);
    e.arrival = time_now();
    envelope_set(&e.proto, "ESMTP");
    envelope_set(&e.origin, "smtpd");
    qid_new(qid);
    struct queue_writer *w = queue_writer_create(f->q, qid, &e);
    assert_non_null(w);
    const char body[] = "Subject: t\r\n\r\nbody\r\n";
    assert_int_equal(queue_writer_write(w, body, sizeof(body) - 1), 0);
    int err = -1;
    queue_writer_commit(w, commit_cb, &err);
    assert_int_equal(err, 0);
    envelope_free(&e);
}

static void loop_for(struct fx *f, double seconds)
{
    struct timeval tv = {(time_t)seconds, (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6)};
    event_base_loopexit(f->base, &tv);
    event_base_dispatch(f->base);
}

static void test_arrival_is_delivered_and_forgotten(void **state)
{
    struct fx *f = *state;
    char qid[QID_SIZE];
    make_message(f, qid);
    qmgr_message_arrived(f->m, qid);
    assert_int_equal(f->attempts, 1);
    assert_int_equal(qmgr_count(f->m), 0);
}

static void test_deferred_message_is_retried_after_backoff(void **state)
{
    struct fx *f = *state;
    char qid[QID_SIZE];
    make_message(f, qid);
    f->defer = true;
    double t0 = time_monotonic();
    qmgr_message_arrived(f->m, qid);
    assert_int_equal(f->attempts, 1);
    loop_for(f, 0.5);
    assert_int_equal(f->attempts, 1);         /* not before minimal_backoff_time */
    loop_for(f, 0.8);
    assert_int_equal(f->attempts, 2);         /* retried after it */
    assert_true(f->last_attempt - t0 >= 0.95);
    f->defer = false;
    loop_for(f, 1.2);
    assert_int_equal(f->attempts, 3);
    assert_int_equal(qmgr_count(f->m), 0);
}

static void test_flush_retries_at_once_and_hold_stops(void **state)
{
    struct fx *f = *state;
    var_minimal_backoff_time = 3600;
    var_maximal_backoff_time = 3600;
    char qid[QID_SIZE];
    make_message(f, qid);
    f->defer = true;
    qmgr_message_arrived(f->m, qid);
    assert_int_equal(f->attempts, 1);
    qmgr_flush(f->m);
    loop_for(f, 0.1);
    assert_int_equal(f->attempts, 2);

    assert_int_equal(qmgr_manage(f->m, "hold", qid), 1);
    qmgr_flush(f->m);
    loop_for(f, 0.1);
    assert_int_equal(f->attempts, 2);         /* held: not tried */

    assert_int_equal(qmgr_manage(f->m, "release", qid), 1);
    loop_for(f, 0.1);
    assert_int_equal(f->attempts, 3);         /* released: due at once */

    assert_int_equal(qmgr_manage(f->m, "delete", qid), 1);
    assert_int_equal(qmgr_count(f->m), 0);
    assert_int_equal(qmgr_manage(f->m, "delete", "0123456789AB"), -1);
}

static void test_load_finds_queued_and_held_messages(void **state)
{
    struct fx *f = *state;
    char a[QID_SIZE], b[QID_SIZE];
    make_message(f, a);
    make_message(f, b);
    assert_int_equal(queue_hold(f->q, b), 0);
    f->defer = true;
    qmgr_load(f->m);
    assert_int_equal(qmgr_count(f->m), 2);
    loop_for(f, 0.1);
    assert_int_equal(f->attempts, 1);         /* only the one not on hold */
}

int main(void)
{
    log_open("yubin", LOG_TO_TERMINAL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_is_clamped_age),
        cmocka_unit_test(test_expiry_uses_bounce_lifetime_for_null_sender),
        cmocka_unit_test_setup_teardown(test_arrival_is_delivered_and_forgotten, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_deferred_message_is_retried_after_backoff, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_flush_retries_at_once_and_hold_stops, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_load_finds_queued_and_held_messages, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
