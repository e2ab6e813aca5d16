/*
 * cleanup.c - the funnel into the queue (see cleanup.h): every message, from
 * SMTP, pickup, bounces or the fetcher, is checked and completed here once.
 *
 * The primary header block is held in memory (at most header_size_limit
 * input bytes) because the decisions about it (hop count, missing
 * Message-Id/Date/From) are only known at its end, and our Received: line
 * must go in front of it. The body is streamed straight to the queue writer.
 * A message that fails (too many hops, too big, write error) stops being
 * written at once; the caller learns the final reply from cleanup_line and
 * again from the done callback.
 *
 * Trusts: envelope addresses (parsed by addr.c or re-validated by pickup);
 * content is untrusted and only counted, split and copied. Values taken
 * from the envelope into header lines (HELO name, -F full name) are cleaned
 * of control characters first, so no header can be injected through them.
 */
#include "queue/cleanup.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/params.h"
#include "lib/util.h"
#include "receive/smtpd.h"

#define CLEANUP_REPLY_WRITE "451 4.3.0 Error: queue file write error"
#define CLEANUP_REPLY_NOSPACE "452 4.3.1 Insufficient system storage"
#define CLEANUP_REPLY_TOOBIG "552 5.3.4 Error: message file too big"
#define CLEANUP_REPLY_HOPS "554 5.4.0 Error: too many hops"

/* How much of a header value goes into a log line or a generated header. */
#define CLEANUP_LOG_VALUE_MAX 250
#define CLEANUP_NAME_MAX 255

static struct queue *cleanup_queue;
static cleanup_notify_fn cleanup_notify;
static void *cleanup_notify_arg;

void cleanup_init(struct queue *q, cleanup_notify_fn notify, void *arg)
{
    cleanup_queue = q;
    cleanup_notify = notify;
    cleanup_notify_arg = arg;
}

/* What we need to know about a header field. */
enum cleanup_hdr {
    HDR_OTHER,
    HDR_RECEIVED,
    HDR_MESSAGE_ID,
    HDR_DATE,
    HDR_FROM,
    HDR_DROP,           /* message_drop_headers: never stored */
};

enum cleanup_state { CL_HEADER, CL_BODY, CL_FAILED };

struct cleanup {
    char qid[QID_SIZE];
    struct envelope env;
    unsigned flags;
    struct queue_writer *w;
    enum cleanup_state state;
    const char *reply;          /* final reply once failed */

    struct buf hdr;             /* kept header fields, CRLF text */
    size_t hdr_in;              /* header block bytes seen (dropped ones too) */
    bool in_field;              /* a field is being accumulated in hdr */
    size_t field_start;         /* its offset in hdr */
    enum cleanup_hdr field_kind;
    int received;               /* Received: fields in the message */
    bool have_msgid, have_date, have_from;
    char *msgid;                /* Message-Id value for the log */
    bool logged_msgid;

    uint64_t size;              /* content bytes written */
    cleanup_done_fn done;
    void *done_arg;
};

static const char *cleanup_hostname(void)
{
    return var_myhostname && *var_myhostname ? var_myhostname : host_name();
}

static const char *cleanup_origin(void)
{
    return var_myorigin && *var_myorigin ? var_myorigin : cleanup_hostname();
}

size_t header_name_len(const char *line, size_t len)
{
    /* RFC 5322 field-name: printable ASCII except ':'; obsolete syntax
     * (and Postfix's is_header) also allows blanks before the colon. */
    size_t n = 0;
    while (n < len) {
        unsigned char ch = (unsigned char)line[n];
        if (ch <= 32 || ch >= 127 || ch == ':')
            break;
        n++;
    }
    if (n == 0)
        return 0;
    size_t i = n;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    return i < len && line[i] == ':' ? n : 0;
}

static bool cleanup_name_is(const char *line, size_t n, const char *name)
{
    return strlen(name) == n && ascii_strncasecmp(line, name, n) == 0;
}

static enum cleanup_hdr cleanup_classify(const char *line, size_t n)
{
    static const char *const dropped[] = {"Bcc", "Resent-Bcc", "Content-Length", "Return-Path"};
    for (size_t i = 0; i < ARRAY_LEN(dropped); i++)
        if (cleanup_name_is(line, n, dropped[i]))
            return HDR_DROP;
    if (cleanup_name_is(line, n, "Received"))
        return HDR_RECEIVED;
    if (cleanup_name_is(line, n, "Message-Id"))
        return HDR_MESSAGE_ID;
    if (cleanup_name_is(line, n, "Date"))
        return HDR_DATE;
    if (cleanup_name_is(line, n, "From"))
        return HDR_FROM;
    return HDR_OTHER;
}

/*
 * Copy text into out for use inside a header or log line: folding and
 * control characters become single spaces, leading/trailing blanks go, and
 * at most max bytes are kept (cut at a character boundary for UTF-8).
 */
static void cleanup_clean_text(struct buf *out, const char *s, size_t len, size_t max)
{
    size_t start = out->len;
    bool space = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 32 || ch == 127) {
            space = true;
            continue;
        }
        if (ch == ' ') {
            space = true;
            continue;
        }
        if (space && out->len > start)
            buf_putc(out, ' ');
        space = false;
        buf_putc(out, (char)ch);
    }
    if (out->len - start > max) {
        size_t cut = start + max;
        /* Do not leave half a UTF-8 sequence behind. */
        while (cut > start && ((unsigned char)out->data[cut] & 0xC0) == 0x80)
            cut--;
        out->len = cut;
        out->data[cut] = 0;
    }
}

/* ---- envelope ---- */

/* Does a canonical address carry a domain? The local part may be a quoted
 * string containing '@', so look only after its closing quote. */
static bool cleanup_qualified(const char *addr)
{
    const char *p = addr;
    if (*p == '"') {
        const char *q = strrchr(p, '"');
        p = q ? q : p;
    }
    return strchr(p, '@') != NULL;
}

static void cleanup_qualify(char **addr)
{
    if (!*addr || !**addr || cleanup_qualified(*addr))
        return;
    char *q = xasprintf("%s@%s", *addr, cleanup_origin());
    free(*addr);
    *addr = q;
}

static bool cleanup_same(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* Hash of (address, orcpt) for duplicate removal. */
static uint64_t cleanup_rcpt_hash(const struct rcpt *r)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = r->addr; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h ^= 0xff;
    if (r->orcpt)
        for (const char *p = r->orcpt; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

/*
 * The same recipient twice (common with sendmail -t plus argv, or after
 * qualifying "root" next to "root@origin") is delivered once. A recipient
 * with a different ORCPT is a different DSN request and is kept.
 */
static void cleanup_dedupe(struct envelope *env)
{
    if (env->nrcpt < 2)
        return;
    size_t cap = 16;
    while (cap < env->nrcpt * 2)
        cap *= 2;
    size_t *slot = xmalloc(cap * sizeof(*slot));
    for (size_t i = 0; i < cap; i++)
        slot[i] = SIZE_MAX;
    size_t out = 0;
    for (size_t i = 0; i < env->nrcpt; i++) {
        struct rcpt *r = &env->rcpt[i];
        size_t s = (size_t)(cleanup_rcpt_hash(r) & (cap - 1));
        bool dup = false;
        while (slot[s] != SIZE_MAX) {
            struct rcpt *o = &env->rcpt[slot[s]];
            if (strcmp(o->addr, r->addr) == 0 && cleanup_same(o->orcpt, r->orcpt)) {
                dup = true;
                break;
            }
            s = (s + 1) & (cap - 1);
        }
        if (dup) {
            free(r->addr);
            free(r->orcpt);
            continue;
        }
        env->rcpt[out] = *r;
        slot[s] = out;
        out++;
    }
    env->nrcpt = out;
    free(slot);
}

/* ---- output ---- */

static const char *cleanup_errno_reply(int err)
{
    return err == ENOSPC || err == EDQUOT ? CLEANUP_REPLY_NOSPACE : CLEANUP_REPLY_WRITE;
}

static void cleanup_warn(const char *fmt, ...) PRINTF_LIKE(1, 2);
static void cleanup_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmail("cleanup", LOG_WARNING, "warning: ", fmt, ap);
    va_end(ap);
}

static void cleanup_fail(struct cleanup *c, const char *reply)
{
    if (c->state == CL_FAILED)
        return;
    c->state = CL_FAILED;
    c->reply = reply;
    if (c->w) {
        queue_writer_abort(c->w);
        c->w = NULL;
    }
}

static void cleanup_write(struct cleanup *c, const void *data, size_t len)
{
    if (c->state == CL_FAILED)
        return;
    if (var_message_size_limit > 0 &&
        (c->size > (uint64_t)var_message_size_limit || len > (uint64_t)var_message_size_limit - c->size)) {
        cleanup_warn("%s: queue file size limit exceeded", c->qid);
        cleanup_fail(c, CLEANUP_REPLY_TOOBIG);
        return;
    }
    if (queue_writer_write(c->w, data, len) != 0) {
        int e = errno;
        cleanup_warn("%s: queue file write error: %s", c->qid, strerror(e));
        cleanup_fail(c, cleanup_errno_reply(e));
        return;
    }
    c->size += len;
}

/* ---- header block ---- */

static void cleanup_add_received(struct cleanup *c, struct buf *out)
{
    const struct envelope *e = &c->env;
    char date[64];
    rfc5322_date(date, e->arrival > 0 ? e->arrival : time_now());
    const char *mail_name = var_mail_name && *var_mail_name ? var_mail_name : "yubin";

    if (e->client_addr || e->helo) {
        struct buf helo = BUF_INIT, name = BUF_INIT;
        const char *h = e->helo && *e->helo ? e->helo : e->client_name ? e->client_name : "unknown";
        cleanup_clean_text(&helo, h, strlen(h), CLEANUP_NAME_MAX);
        const char *n = e->client_name && *e->client_name ? e->client_name : "unknown";
        cleanup_clean_text(&name, n, strlen(n), CLEANUP_NAME_MAX);
        buf_printf(out, "Received: from %s (%s", buf_str(&helo), buf_str(&name));
        if (e->client_addr)
            buf_printf(out, " [%s%s]", strchr(e->client_addr, ':') ? "IPv6:" : "", e->client_addr);
        buf_puts(out, ")\r\n");
        if (e->tls && *e->tls) {
            struct buf tls = BUF_INIT;
            cleanup_clean_text(&tls, e->tls, strlen(e->tls), CLEANUP_LOG_VALUE_MAX);
            buf_printf(out, "\t(using %s)\r\n", buf_str(&tls));
            buf_free(&tls);
        }
        buf_printf(out, "\tby %s (%s) with %s id %s", cleanup_hostname(), mail_name,
                   e->proto && *e->proto ? e->proto : "SMTP", c->qid);
        if (e->nrcpt == 1)
            buf_printf(out, "\r\n\tfor <%s>", e->rcpt[0].addr);
        buf_printf(out, "; %s\r\n", date);
        buf_free(&helo);
        buf_free(&name);
    } else if (e->uid >= 0) {
        buf_printf(out, "Received: by %s (%s, from userid %ld)\r\n\tid %s; %s\r\n",
                   cleanup_hostname(), mail_name, e->uid, c->qid, date);
    } else {
        buf_printf(out, "Received: by %s (%s)\r\n\tid %s; %s\r\n", cleanup_hostname(), mail_name,
                   c->qid, date);
    }
}

/* "Full Name" as an RFC 5322 display name: atoms as they are, anything
 * else as a quoted string. */
static void cleanup_display_name(struct buf *out, const char *name)
{
    static const char specials[] = "()<>[]:;@\\,.\"";
    bool quote = false;
    for (const char *p = name; *p; p++)
        if (strchr(specials, *p))
            quote = true;
    if (!quote) {
        buf_puts(out, name);
        return;
    }
    buf_putc(out, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_putc(out, '\\');
        buf_putc(out, *p);
    }
    buf_putc(out, '"');
}

static void cleanup_add_local_headers(struct cleanup *c, struct buf *out)
{
    const struct envelope *e = &c->env;
    double t = e->arrival > 0 ? e->arrival : time_now();
    if (!c->have_msgid) {
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        char stamp[32];
        strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
        free(c->msgid);
        c->msgid = xasprintf("<%s.%s@%s>", stamp, c->qid, cleanup_hostname());
        buf_printf(out, "Message-Id: %s\r\n", c->msgid);
    }
    if (!c->have_date) {
        char date[64];
        rfc5322_date(date, t);
        buf_printf(out, "Date: %s\r\n", date);
    }
    if (!c->have_from) {
        char *mailer = NULL;
        const char *sender = e->sender;
        if (!sender || !*sender)
            sender = mailer = xasprintf("MAILER-DAEMON@%s", cleanup_origin());
        struct buf name = BUF_INIT;
        if (e->fullname)
            cleanup_clean_text(&name, e->fullname, strlen(e->fullname), CLEANUP_NAME_MAX);
        buf_puts(out, "From: ");
        if (name.len > 0) {
            cleanup_display_name(out, buf_str(&name));
            buf_printf(out, " <%s>\r\n", sender);
        } else {
            buf_printf(out, "%s\r\n", sender);
        }
        buf_free(&name);
        free(mailer);
    }
}

/* The field being accumulated is complete: drop it or remember what it
 * told us. */
static void cleanup_end_field(struct cleanup *c)
{
    if (!c->in_field)
        return;
    c->in_field = false;
    const char *text = c->hdr.data + c->field_start;
    size_t len = c->hdr.len - c->field_start;
    switch (c->field_kind) {
    case HDR_DROP:
        c->hdr.len = c->field_start;
        c->hdr.data[c->hdr.len] = 0;
        break;
    case HDR_MESSAGE_ID:
        if (!c->msgid) {
            const char *colon = memchr(text, ':', len);
            size_t skip = colon ? (size_t)(colon - text) + 1 : len;
            struct buf v = BUF_INIT;
            cleanup_clean_text(&v, text + skip, len - skip, CLEANUP_LOG_VALUE_MAX);
            c->msgid = buf_steal(&v);
        }
        break;
    default:
        break;
    }
}

static void cleanup_start_field(struct cleanup *c, const char *line, size_t len, size_t name_len)
{
    cleanup_end_field(c);
    c->field_kind = cleanup_classify(line, name_len);
    switch (c->field_kind) {
    case HDR_RECEIVED:
        c->received++;
        break;
    case HDR_MESSAGE_ID:
        c->have_msgid = true;
        break;
    case HDR_DATE:
        c->have_date = true;
        break;
    case HDR_FROM:
        c->have_from = true;
        break;
    default:
        break;
    }
    c->in_field = true;
    c->field_start = c->hdr.len;
    buf_append(&c->hdr, line, len);
}

static void cleanup_log_msgid(struct cleanup *c)
{
    if (c->logged_msgid)
        return;
    c->logged_msgid = true;
    log_mail("cleanup", "%s: message-id=%s", c->qid, c->msgid && *c->msgid ? c->msgid : "<>");
}

/*
 * The primary header block is over: write our Received: line, the kept
 * fields and, for local mail, the missing ones. blank: the block ended
 * without an empty line (body-only message, or too large a header), so one
 * is inserted to keep the body out of the header.
 */
static void cleanup_end_header(struct cleanup *c, bool blank)
{
    cleanup_end_field(c);
    if (c->state != CL_HEADER)
        return;
    c->state = CL_BODY;
    struct buf out = BUF_INIT;
    cleanup_add_received(c, &out);
    buf_append(&out, c->hdr.data ? c->hdr.data : "", c->hdr.len);
    if (c->flags & CLEANUP_LOCAL)
        cleanup_add_local_headers(c, &out);
    if (blank)
        buf_puts(&out, "\r\n");
    buf_free(&c->hdr);
    cleanup_write(c, out.data, out.len);
    buf_free(&out);
    if (c->state != CL_FAILED)
        cleanup_log_msgid(c);
}

static void cleanup_header_line(struct cleanup *c, const char *line, size_t len)
{
    if (len > (size_t)var_header_size_limit || c->hdr_in > (size_t)var_header_size_limit - len) {
        /* Postfix's rule: what does not fit is body. */
        cleanup_end_header(c, true);
        cleanup_write(c, line, len);
        return;
    }
    c->hdr_in += len;

    if (len == 2 && line[0] == '\r' && line[1] == '\n') {
        cleanup_end_header(c, false);
        cleanup_write(c, line, len);
        return;
    }
    if ((line[0] == ' ' || line[0] == '\t') && c->in_field) {
        buf_append(&c->hdr, line, len);
        return;
    }
    size_t n = header_name_len(line, len);
    if (n == 0) {
        cleanup_end_header(c, true);
        cleanup_write(c, line, len);
        return;
    }
    cleanup_start_field(c, line, len, n);
    if (c->field_kind == HDR_RECEIVED && var_hopcount_limit > 0) {
        long hops = c->received + ((c->flags & CLEANUP_BOUNCE) ? 0 : 1);
        if (hops >= var_hopcount_limit) {
            cleanup_warn("%s: message rejected: hopcount exceeded (hopcount_limit = %ld)", c->qid,
                         var_hopcount_limit);
            cleanup_fail(c, CLEANUP_REPLY_HOPS);
        }
    }
}

/* ---- the public interface ---- */

struct cleanup *cleanup_open(const char *qid, const struct envelope *env, unsigned flags,
                             const char **reply)
{
    if (!cleanup_queue)
        msg_panic("cleanup_open: cleanup_init was not called");
    struct cleanup *c = xcalloc(1, sizeof(*c));
    snprintf(c->qid, sizeof(c->qid), "%s", qid);
    envelope_copy(&c->env, env);
    c->flags = flags;
    if (c->env.arrival <= 0)
        c->env.arrival = time_now();
    if (flags & CLEANUP_LOCAL) {
        cleanup_qualify(&c->env.sender);
        for (size_t i = 0; i < c->env.nrcpt; i++)
            cleanup_qualify(&c->env.rcpt[i].addr);
    }
    if (!c->env.sender)
        c->env.sender = xstrdup("");
    cleanup_dedupe(&c->env);

    c->w = queue_writer_create(cleanup_queue, c->qid, &c->env);
    if (!c->w) {
        int e = errno;
        cleanup_warn("%s: cannot create queue file: %s", c->qid, strerror(e));
        *reply = cleanup_errno_reply(e);
        envelope_free(&c->env);
        free(c);
        return NULL;
    }
    c->state = CL_HEADER;
    return c;
}

const char *cleanup_line(struct cleanup *c, const char *line, size_t len)
{
    switch (c->state) {
    case CL_FAILED:
        return c->reply;
    case CL_HEADER:
        if (len == 0)
            return NULL;
        cleanup_header_line(c, line, len);
        break;
    case CL_BODY:
        cleanup_write(c, line, len);
        break;
    }
    return c->state == CL_FAILED ? c->reply : NULL;
}

static void cleanup_free(struct cleanup *c)
{
    if (c->w)
        queue_writer_abort(c->w);
    buf_free(&c->hdr);
    free(c->msgid);
    envelope_free(&c->env);
    free(c);
}

static void cleanup_committed(void *arg, int err, const char *qid)
{
    (void)qid;
    struct cleanup *c = arg;
    c->w = NULL;                /* the queue frees it after we return */
    if (err) {
        cleanup_warn("%s: queue file commit failed: %s", c->qid, strerror(err));
        c->done(c->done_arg, c->qid, cleanup_errno_reply(err));
    } else {
        if (cleanup_notify)
            cleanup_notify(cleanup_notify_arg, c->qid);
        c->done(c->done_arg, c->qid, NULL);
    }
    cleanup_free(c);
}

void cleanup_close(struct cleanup *c, cleanup_done_fn done, void *arg)
{
    c->done = done;
    c->done_arg = arg;
    if (c->state == CL_HEADER)
        cleanup_end_header(c, false);
    if (c->state == CL_FAILED) {
        done(arg, c->qid, c->reply);
        cleanup_free(c);
        return;
    }
    struct queue_writer *w = c->w;
    queue_writer_commit(w, cleanup_committed, c);
}

void cleanup_abort(struct cleanup *c)
{
    cleanup_free(c);
}

/* ---- the SMTP server's sink ---- */

static void *cleanup_sink_open(void *ctx, const char *qid, const struct envelope *env, const char **reply)
{
    (void)ctx;
    return cleanup_open(qid, env, 0, reply);
}

static const char *cleanup_sink_line(void *h, const char *line, size_t len)
{
    return cleanup_line(h, line, len);
}

static void cleanup_sink_close(void *h, void (*done)(void *arg, const char *qid, const char *err_reply),
                               void *arg)
{
    cleanup_close(h, done, arg);
}

static void cleanup_sink_abort(void *h)
{
    cleanup_abort(h);
}

static bool cleanup_sink_has_space(void *ctx)
{
    (void)ctx;
    return cleanup_queue ? queue_has_space(cleanup_queue) : false;
}

void cleanup_sink(struct msg_sink *out)
{
    memset(out, 0, sizeof(*out));
    out->open = cleanup_sink_open;
    out->line = cleanup_sink_line;
    out->close = cleanup_sink_close;
    out->abort = cleanup_sink_abort;
    out->has_space = cleanup_sink_has_space;
    out->ctx = NULL;
}
