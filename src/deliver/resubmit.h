/*
 * resubmit.h - mail that delivery itself creates (bounces and other
 * notifications, messages forwarded by aliases and .forward files) enters
 * the queue through cleanup, the same funnel as everything else, so it gets
 * the same header handling, hop counting and durable commit.
 */
#ifndef YUBIN_RESUBMIT_H
#define YUBIN_RESUBMIT_H

#include <stddef.h>
#include "deliver/deliver.h"
#include "queue/envelope.h"

/* done(arg, qid, err_reply): err_reply NULL when the new message is
 * committed; called once, on the event loop (possibly before
 * resubmit_* returns). */
typedef void (*resubmit_done_fn)(void *arg, const char *qid, const char *err_reply);

/* Queue a complete message held in memory (CRLF text). flags as cleanup_open. */
void resubmit_text(const struct envelope *env, unsigned flags, const char *text, size_t len,
                   resubmit_done_fn done, void *arg);

/* Queue a copy of a queued message's content with a header block prefix
 * (CRLF text, e.g. "Delivered-To: a@b\r\n") put in front of it. */
void resubmit_copy(const struct envelope *env, unsigned flags, const char *prefix,
                   const struct dlv_msg *m, resubmit_done_fn done, void *arg);

#endif
