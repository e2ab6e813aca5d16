/*
 * resubmit.c - feed generated or copied mail to cleanup line by line (see
 * resubmit.h).
 *
 * Trusts: the content of a queued message was validated by the SMTP server
 * or pickup when it came in (CRLF lines); generated text is ours. A line
 * without CRLF at the very end gets one, as cleanup expects whole lines.
 */
#include "deliver/resubmit.h"

#include <string.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "queue/cleanup.h"
#include "queue/qid.h"

struct feeder {
    struct cleanup *c;
    struct buf partial;         /* a line split across content chunks */
    const char *reply;          /* cleanup refused the message */
};

static void feeder_line(struct feeder *f, const char *p, size_t n)
{
    if (f->reply)
        return;
    f->reply = cleanup_line(f->c, p, n);
}

/* Split p into CRLF lines; keep an unfinished tail for the next chunk. */
static int feeder_chunk(void *arg, const char *p, size_t n)
{
    struct feeder *f = arg;
    while (n > 0) {
        const char *lf = memchr(p, '\n', n);
        if (!lf) {
            buf_append(&f->partial, p, n);
            return 0;
        }
        size_t len = (size_t)(lf - p) + 1;
        if (f->partial.len) {
            buf_append(&f->partial, p, len);
            feeder_line(f, f->partial.data, f->partial.len);
            buf_reset(&f->partial);
        } else {
            feeder_line(f, p, len);
        }
        p += len;
        n -= len;
    }
    return 0;
}

static void feeder_flush(struct feeder *f)
{
    if (f->partial.len) {
        buf_puts(&f->partial, "\r\n");
        feeder_line(f, f->partial.data, f->partial.len);
    }
    buf_free(&f->partial);
}

static void resubmit_finish(struct feeder *f, resubmit_done_fn done, void *arg)
{
    feeder_flush(f);
    if (f->reply) {
        char reply[512];
        snprintf(reply, sizeof(reply), "%s", f->reply);
        cleanup_abort(f->c);
        done(arg, "", reply);
        return;
    }
    cleanup_close(f->c, done, arg);
}

static bool resubmit_open(struct feeder *f, const struct envelope *env, unsigned flags,
                          resubmit_done_fn done, void *arg)
{
    char qid[QID_SIZE];
    qid_new(qid);
    const char *reply = NULL;
    memset(f, 0, sizeof(*f));
    f->c = cleanup_open(qid, env, flags, &reply);
    if (!f->c) {
        done(arg, "", reply ? reply : "451 4.3.0 Error: queue file write error");
        return false;
    }
    return true;
}

void resubmit_text(const struct envelope *env, unsigned flags, const char *text, size_t len,
                   resubmit_done_fn done, void *arg)
{
    struct feeder f;
    if (!resubmit_open(&f, env, flags, done, arg))
        return;
    feeder_chunk(&f, text, len);
    resubmit_finish(&f, done, arg);
}

void resubmit_copy(const struct envelope *env, unsigned flags, const char *prefix,
                   const struct dlv_msg *m, resubmit_done_fn done, void *arg)
{
    struct feeder f;
    if (!resubmit_open(&f, env, flags, done, arg))
        return;
    if (prefix)
        feeder_chunk(&f, prefix, strlen(prefix));
    if (dlv_read_content(m, feeder_chunk, &f) != 0) {
        cleanup_abort(f.c);
        buf_free(&f.partial);
        done(arg, "", "451 4.3.0 Error: cannot read the original message");
        return;
    }
    resubmit_finish(&f, done, arg);
}
