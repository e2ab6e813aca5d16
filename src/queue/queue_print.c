/*
 * queue_print.c - mailq: the queue in Postfix's "postqueue -p" layout, byte
 * for byte, because postfix_exporter, qshape-like scripts and admins'
 * awk one-liners parse it (conventions.md 4.1; Postfix showq_compat.c).
 *
 * Reads the queue files directly and cheaply (envelope only), so it works
 * with the daemon stopped. Files still being written are skipped silently;
 * corrupt ones are reported on the log and skipped (only the daemon moves
 * them aside).
 *
 * Trusts: envelope values were checked by the queue file reader (no control
 * characters); defer reasons may hold anything and are flattened.
 */
#include "queue/queue_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "queue/queue_file.h"

#define QP_STRING_FORMAT "%-11s %7s %-20s %s\n"
#define QP_SENDER_FORMAT "%-11s %7ld %20.20s %s\n"

/* asctime(3) layout in the C locale, whatever the process locale is. */
static void queue_print_asctime(char out[80], double when)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)when;
    struct tm tm;
    if (!localtime_r(&t, &tm)) {
        snprintf(out, 80, "%-24s\n", "???");
        return;
    }
    snprintf(out, 80, "%.3s %.3s%3d %.2d:%.2d:%.2d %d\n", days[tm.tm_wday % 7], months[tm.tm_mon % 12],
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
}

/* A reason is remote text: no control character may reach the terminal. */
static char *queue_print_flatten(const char *s)
{
    char *r = xstrdup(s);
    for (char *p = r; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    return r;
}

static void queue_print_message(FILE *out, const char *id, char marker, uint64_t size,
                                const struct envelope *env, const struct queue_defer *d)
{
    char idbuf[QID_SIZE + 2];
    snprintf(idbuf, sizeof(idbuf), "%s", id);
    if (marker) {
        size_t l = strlen(idbuf);
        idbuf[l] = marker;
        idbuf[l + 1] = 0;
    }
    char when[80];
    queue_print_asctime(when, env->arrival);
    long lsize = size > (uint64_t)LONG_MAX ? LONG_MAX : (long)size;
    const char *sender = env->sender && *env->sender ? env->sender : "MAILER-DAEMON";
    fprintf(out, QP_SENDER_FORMAT, idbuf, lsize, when, sender);

    /* Postfix prints a reason only when it differs from the previous
     * recipient's, and "(reason unavailable)" for a recipient without one
     * after one that had one. */
    const char *saved = "";
    for (size_t i = 0; i < env->nrcpt; i++) {
        if (env->rcpt[i].status != RCPT_PENDING)
            continue;
        const char *why = i < d->nreason && d->reason[i] ? d->reason[i] : "";
        if (strcmp(saved, why) != 0) {
            saved = why;
            char *show = queue_print_flatten(*why ? why : "reason unavailable");
            int padding = 76 - (int)strlen(show);
            if (padding < 0)
                padding = 0;
            fprintf(out, "%*s(%s)\n", padding, "", show);
            free(show);
        }
        fprintf(out, QP_STRING_FORMAT, "", "", "", env->rcpt[i].addr);
    }
}

size_t queue_print(struct queue *q, FILE *out, bool (*is_active)(const char *qid, void *arg), void *arg)
{
    unsigned long count = 0;
    uint64_t total = 0;
    struct buf err = BUF_INIT;
    const enum queue_where wheres[] = {QUEUE_MESSAGES, QUEUE_HOLD};

    for (size_t w = 0; w < ARRAY_LEN(wheres); w++) {
        char **ids;
        size_t n;
        const char *dir = wheres[w] == QUEUE_HOLD ? q->hold : q->messages;
        if (queue_list_ids(q, wheres[w], &ids, &n) < 0) {
            msg_warn("cannot read %s: %s", dir, strerror(errno));
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            char *path = queue_path(dir, ids[i]);
            int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
            free(path);
            if (fd < 0) {
                if (errno != ENOENT)   /* ENOENT: delivered or moved meanwhile */
                    msg_warn("%s: open: %s", ids[i], strerror(errno));
                continue;
            }
            struct envelope env;
            uint64_t size;
            bool incomplete;
            int r = qf_read_envelope(fd, &env, &size, &incomplete, &err);
            close(fd);
            if (r < 0) {
                if (!incomplete)
                    msg_warn("%s: corrupt queue file: %s", ids[i], buf_str(&err));
                continue;
            }
            struct queue_defer d;
            if (queue_defer_read(q, ids[i], &d) < 0)
                memset(&d, 0, sizeof(d));

            char marker = 0;
            if (wheres[w] == QUEUE_HOLD)
                marker = '!';
            else if (is_active && is_active(ids[i], arg))
                marker = '*';
            if (count == 0)
                fprintf(out, QP_STRING_FORMAT, "-Queue ID-", "--Size--", "----Arrival Time----",
                        "-Sender/Recipient-------");
            else
                fputs("\n", out);
            queue_print_message(out, ids[i], marker, size, &env, &d);
            total += size;
            count++;
            queue_defer_free(&d);
            envelope_free(&env);
        }
        queue_free_ids(ids, n);
    }
    buf_free(&err);
    if (count == 0)
        fputs("Mail queue is empty\n", out);
    else
        fprintf(out, "\n-- %lu Kbytes in %lu Request%s.\n", (unsigned long)(total / 1024), count,
                count == 1 ? "" : "s");
    fflush(out);
    return count;
}
