/*
 * queue_int.h - what the queue_*.c files share and nobody else sees: the
 * struct queue itself and the paths under the queue directory.
 *
 * queue.c opens, recovers and closes the tree; queue_store.c writes and
 * group-commits new messages; queue_admin.c reads, marks, moves and
 * removes them; queue_print.c is mailq.
 */
#ifndef YUBIN_QUEUE_INT_H
#define YUBIN_QUEUE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include "queue/queue.h"

struct event;

#define QUEUE_DEFAULT_COMMITTERS 4

struct queue {
    char *dir;
    char *messages, *hold, *defer, *corrupt, *maildrop, *tmp;
    int messages_fd;            /* messages/ open for the round's directory fsync */

    /* Group commit (queue_store.c). Writers go pending -> (committer
     * thread) -> done -> (event loop) callback. lock guards the lists, the
     * thread bookkeeping and the counters. */
    struct event_base *base;
    struct event *done_ev;
    int pipe_rd, pipe_wr;       /* committer -> event loop wakeups */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct queue_writer *pending, **pending_tail;
    struct queue_writer *done, **done_tail;
    pthread_t *threads;
    int nthreads, want_threads;
    bool stopping;
    struct queue_stats stats;
};

/* queue_store.c: stop the committers, finish outstanding commits and run
 * their callbacks; release the event and pipe. */
void queue_store_shutdown(struct queue *q);

/* "dir/name" in a new string. */
char *queue_path(const char *dir, const char *name);

/* Rename without replacing an existing target; fsyncs both directories. */
int queue_move(const char *from_dir, const char *to_dir, const char *name);

/* Move a file that failed validation to corrupt/ (as NAME, or NAME.N when
 * that is taken). */
int queue_quarantine(struct queue *q, const char *from_dir, const char *name);

#endif
