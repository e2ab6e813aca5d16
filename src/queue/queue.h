/*
 * queue.h - the durable queue: where accepted mail lives until every
 * recipient is done.
 *
 * Directory layout under queue_directory:
 *   messages/QID   committed messages (queue_file.h format); the scheduler
 *                  works from here
 *   hold/QID       messages on hold (no delivery, no expiry)
 *   defer/QID      delivery state of a message that has been tried: next
 *                  attempt time, attempt count and per-recipient reasons
 *                  (rewritten with rename; losing it only means an early retry)
 *   corrupt/QID    files that failed validation, kept for the administrator
 *   maildrop/      local submissions from the sendmail command (mode 1733)
 *   tmp/           scratch files for atomic rewrites
 *   control        the running daemon's control socket
 *
 * The durability promise (RFC 5321 section 6.1): a message is committed only
 * after its file data and its directory entry are on stable storage. Writes
 * go straight into messages/QID; the end record is written last, then the
 * file is fsynced, then the directory. Commits are grouped: a committer
 * thread takes every message whose data has been written since its last
 * round, fsyncs them, fsyncs the directory once, and then reports all of
 * them to the event loop, so many concurrent sessions share one directory
 * fsync (and the file system's journal commit). Any write, fsync or close
 * error removes the file and reports the error; a failed fsync is never
 * retried (fsyncgate).
 *
 * Trusts: its own files only after qf_read() validated them.
 */
#ifndef YUBIN_QUEUE_H
#define YUBIN_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include "lib/buf.h"
#include "queue/envelope.h"
#include "queue/qid.h"

struct event_base;
struct queue;
struct queue_writer;

/*
 * Open (and create when missing) the queue directory tree. With
 * recover=true (the daemon at start) unfinished files are removed, files
 * that end like finished ones but do not parse are moved to corrupt/, and
 * stale tmp/ files purged, each logged. NULL with a message in err.
 */
struct queue *queue_open(const char *dir, bool recover, struct buf *err);
/* For command-line tools: open the tree without creating anything (a root
 * "mailq" before the first daemon start must not leave root-owned
 * directories the daemon cannot use). NULL with errno ENOENT when there is
 * no queue yet. */
struct queue *queue_open_existing(const char *dir, struct buf *err);
/* Stops the committer threads after their current round, runs the
 * callbacks of commits still outstanding, and frees q. Writers that were
 * never committed or aborted must be gone before. */
void queue_close(struct queue *q);
const char *queue_dir(const struct queue *q);

/* Commit completions are delivered on this event loop (the daemon's). Without
 * one, queue_writer_commit() completes synchronously in the caller. */
void queue_set_event_base(struct queue *q, struct event_base *base);

/* Number of committer threads (group-commit parallelism); default 4
 * (concurrent fdatasyncs share the file system's journal commits, see the
 * numbers in queue_store.c). Threads start at the first commit on an event
 * loop; before that n sets the count (1..64), afterwards it can only add
 * threads. */
void queue_set_committers(struct queue *q, int n);

/*
 * Start a message: creates messages/QID with O_EXCL and writes the envelope.
 * NULL on error with errno set (ENOSPC, EEXIST, EIO ...; EINVAL for an
 * invalid queue ID or an envelope qf_envelope_check() refuses).
 */
struct queue_writer *queue_writer_create(struct queue *q, const char *qid, struct envelope *env);
/* Append content (buffered). -1 with errno on error; the writer is then
 * poisoned and commit will fail. */
int queue_writer_write(struct queue_writer *w, const void *data, size_t len);
uint64_t queue_writer_size(const struct queue_writer *w);
/* Throw the message away (file removed). */
void queue_writer_abort(struct queue_writer *w);

/*
 * Write the end record and commit durably. cb runs once, on the event loop
 * thread (or synchronously without one), with err = 0 when the message is on
 * stable storage, or an errno value when it is not (then the file is gone).
 * The writer is freed by the queue after cb returns.
 */
typedef void (*queue_commit_cb)(void *arg, int err, const char *qid);
void queue_writer_commit(struct queue_writer *w, queue_commit_cb cb, void *arg);

/* Free space check before accepting mail: false when the queue's file system
 * has less than max(queue_minfree, 1.5 * message_size_limit) free (also
 * false, with a warning, when statvfs fails). */
bool queue_has_space(struct queue *q);

/* Commit counters (for metrics and benchmarks). */
struct queue_stats {
    unsigned long commits;      /* messages committed (cb with err 0) */
    unsigned long failures;     /* commits that failed (file removed) */
    unsigned long file_syncs;   /* fdatasync calls on message files */
    unsigned long dir_syncs;    /* fsync calls on messages/ (one per round) */
};
void queue_get_stats(struct queue *q, struct queue_stats *out);

/*
 * Test seam: when set, called instead of fdatasync() on a message file at
 * commit. Unit tests set it to a function that fails with EIO to check that
 * the file is removed, the error reported and the sync never retried.
 * Production code never sets it.
 */
extern int (*queue_fdatasync_fn)(int fd);

/* ---- Reading and managing queued messages ---- */

enum queue_where { QUEUE_MESSAGES, QUEUE_HOLD };

struct queue_defer {
    double next_attempt;        /* wall clock; 0 = now */
    int attempts;
    bool warned;                /* delay_warning_time notice sent */
    char **reason;              /* per recipient index, NULL = none */
    size_t nreason;
};
void queue_defer_free(struct queue_defer *d);

/* Read the defer state of a message (all zero/NULL when there is none).
 * -1 with errno (EINVAL for a malformed file) and d all zero on failure. */
int queue_defer_read(struct queue *q, const char *qid, struct queue_defer *d);
/* Replace the defer state (atomic rename; not fsynced). */
int queue_defer_write(struct queue *q, const char *qid, const struct queue_defer *d);

/* Open a committed message for delivery: validates the whole file. On
 * corruption the file is moved to corrupt/ and logged, and -1 is returned. */
struct queue_msg {
    char qid[QID_SIZE];
    struct envelope env;
    int fd;                     /* open read/write (status bytes are updated) */
    off_t content_off;
    uint64_t size;
    enum queue_where where;
};
/* Also -1 with errno ENOENT (no such message) or EAGAIN (file without end
 * record: still being written, left alone); err says which. */
int queue_msg_open(struct queue *q, const char *qid, struct queue_msg *m, struct buf *err);
void queue_msg_close(struct queue_msg *m);
/* Mark recipient i done (one-byte pwrite; durable at the next sync). */
int queue_msg_rcpt_done(struct queue_msg *m, size_t i);
/* fdatasync the status changes (after a batch of rcpt_done). */
int queue_msg_sync(struct queue_msg *m);

/* Remove a message (all recipients done, or deleted): messages/ or hold/
 * file and its defer state. 0, or -1 with errno ENOENT when neither file
 * existed. Not fsynced: a removal lost in a crash brings back a file whose
 * recipients are all marked done, which is simply removed again. */
int queue_remove(struct queue *q, const char *qid);

/* Administrative moves: messages/ <-> hold/. Return 0, or -1 with errno
 * (ENOENT when there is no such message). */
int queue_hold(struct queue *q, const char *qid);
int queue_release(struct queue *q, const char *qid);
/* Where a message is: 0 with *where set, -1 (ENOENT) when in neither. */
int queue_locate(struct queue *q, const char *qid, enum queue_where *where);

/* Iterate the queue IDs in one place (sorted, for stable output). */
int queue_list_ids(struct queue *q, enum queue_where where, char ***ids, size_t *n);
void queue_free_ids(char **ids, size_t n);

/*
 * Print the queue like Postfix's postqueue -p (mailq): header line, one
 * entry per message with the '!' marker for hold and '*' for active (the
 * active set is passed by the daemon, may be NULL), per-recipient reasons
 * from the defer state, "-- N Kbytes in M Requests." or
 * "Mail queue is empty". Returns the number of messages.
 */
size_t queue_print(struct queue *q, FILE *out, bool (*is_active)(const char *qid, void *arg), void *arg);

#endif
