/*
 * smtp_session.c - one SMTP server conversation (RFC 5321 with PIPELINING,
 * SIZE, 8BITMIME, DSN, SMTPUTF8, CHUNKING, ENHANCEDSTATUSCODES, STARTTLS).
 *
 * Bytes go through the line discipline in smtp_data.c; command lines are
 * parsed by smtp_cmd.c; accepted content is streamed line by line to the
 * msg_sink (cleanup for the daemon, the maildrop for "sendmail -bs").
 *
 * Synchronisation points (security.md 7.2, 8.2): bytes before the banner,
 * content before the 354 reply, plaintext queued behind STARTTLS, and a
 * BDAT chunk whose length did not match what followed are protocol
 * violations; the client gets "554 5.5.0" and is disconnected. While the
 * sink commits a message nothing more is read, so the reply order always
 * follows the command order.
 *
 * Everything that frees the session goes through one deferred event, so no
 * callback ever returns into a freed session.
 *
 * Trusts: nothing from the client. The peer address comes from accept(2);
 * for "sendmail -bs" there is none and the client is the local user.
 */
#include "receive/smtp_session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/params.h"
#include "lib/tls.h"
#include "lib/util.h"
#include "queue/envelope.h"
#include "queue/qid.h"
#include "receive/relay_check.h"
#include "receive/smtp_cmd.h"
#include "receive/smtp_data.h"

/* Stop reading while this much output waits for a client that does not read. */
#define OUTPUT_HIGH_WATER (256 * 1024)
/* Bytes quoted in "improper command pipelining" lines (as Postfix). */
#define PIPELINING_QUOTE 100

enum smtp_session_state {
    ST_CMD,         /* reading command lines */
    ST_DATA,        /* reading DATA content */
    ST_CHUNK,       /* reading one BDAT chunk */
    ST_COMMIT,      /* the sink is committing; nothing is read */
    ST_TLS,         /* TLS handshake in progress */
    ST_CLOSING,     /* last reply queued; flush, then free */
};

/* Result of a command handler, for the per-command counters. */
enum cmd_result { CMD_OK, CMD_FAIL, CMD_LATER };

/* The order of the counters on the disconnect line (Postfix's). */
static const enum smtp_verb smtp_session_stat_order[] = {
    SMTP_HELO, SMTP_EHLO, SMTP_STARTTLS, SMTP_AUTH, SMTP_MAIL, SMTP_RCPT, SMTP_DATA, SMTP_BDAT,
    SMTP_RSET, SMTP_NOOP, SMTP_VRFY, SMTP_EXPN, SMTP_ETRN, SMTP_HELP, SMTP_QUIT, SMTP_UNKNOWN,
};
#define NVERBS (SMTP_FORBIDDEN + 1)

struct smtp_session {
    struct event_base *base;
    const struct smtpd_config *cfg;
    struct bufferevent *bev;        /* the socket, or the TLS filter over it */
    struct bufferevent *raw;        /* the socket under the TLS filter, else NULL */
    SSL *ssl;
    bool tls_active;
    bool tls_shutdown_done;

    struct sockaddr_storage peer;
    bool have_peer;                 /* false: sendmail -bs, the local user */
    char client_name[16];           /* "localhost" or "unknown" (no reverse DNS yet) */
    char client_addr[64];
    int client_port;
    char namaddr[96];               /* "unknown[192.0.2.1]" */

    void (*on_close)(void *arg);
    void *on_close_arg;

    enum smtp_session_state state;
    struct smtp_data rd;
    const char *where;              /* last command, for timeout/lost connection lines */

    char *helo;                     /* forgotten after STARTTLS (RFC 3207 4.2) */
    bool esmtp;

    /* the mail transaction */
    bool in_mail;
    struct envelope env;            /* sender, recipients and DSN data so far */
    char qid[QID_SIZE];             /* assigned at the first accepted RCPT */
    void *msg;                      /* sink handle while content flows */
    struct buf msg_reply;           /* the sink's refusal, sent at end of data */
    bool bdat_started;
    bool bdat_failed;               /* later BDATs get 503 until RSET/MAIL */
    uint64_t bdat_total;
    uint64_t chunk_size;
    struct buf chunk_reply;         /* reply for a BDAT chunk being discarded */
    bool chunk_fail_tx;             /* ...and whether it fails the transaction */
    bool after_bdat;                /* the next line must be a command */
    enum smtp_verb content_verb;    /* DATA or BDAT, for the counters */

    /* limits */
    unsigned errors, junk;
    struct buf delayed;             /* error reply held back by smtpd_error_sleep_time */
    bool sleeping;
    bool out_paused;
    bool eof;
    bool dead;
    bool commit_pending;
    bool free_on_done;              /* shutting down: free when the commit answers */
    struct smtp_session *prev, *next;   /* every live session, for shutdown */
    struct event *kick_ev, *free_ev, *sleep_ev, *deadline_ev, *flush_ev, *tls_ev;
    double closing_since;

    unsigned cmd_ok[NVERBS], cmd_total[NVERBS];
};

static void smtp_session_process(struct smtp_session *s);
static void smtp_session_kill(struct smtp_session *s);
static void smtp_session_close_after_reply(struct smtp_session *s, const char *reply);

/* ---------------------------------------------------------------- logging */

static void smtp_session_log(const char *fmt, ...) PRINTF_LIKE(1, 2);
static void smtp_session_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmail("smtpd", LOG_INFO, "", fmt, ap);
    va_end(ap);
}

static void smtp_session_warn(const char *fmt, ...) PRINTF_LIKE(1, 2);
static void smtp_session_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmail("smtpd", LOG_WARNING, "warning: ", fmt, ap);
    va_end(ap);
}

/* Client bytes for a log line: printable ASCII as is, the rest escaped,
 * so "EHLO x\r\nMAIL FROM:<a>\r\n" reads as Postfix shows it. */
static void smtp_session_quote(char *out, size_t outlen, const unsigned char *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < outlen; i++) {
        unsigned char c = p[i];
        if (c == '\r')
            o += (size_t)snprintf(out + o, outlen - o, "\\r");
        else if (c == '\n')
            o += (size_t)snprintf(out + o, outlen - o, "\\n");
        else if (c == '\t')
            o += (size_t)snprintf(out + o, outlen - o, "\\t");
        else if (c == '\\')
            o += (size_t)snprintf(out + o, outlen - o, "\\\\");
        else if (c < 32 || c >= 127)
            o += (size_t)snprintf(out + o, outlen - o, "\\%03o", c);
        else
            out[o++] = (char)c;
    }
    out[o] = 0;
}

/* "improper command pipelining after DATA from host[ip]: <what was queued>" */
static void smtp_session_log_pipelining(struct smtp_session *s, const char *after)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);
    size_t n = evbuffer_get_length(in);
    if (n > PIPELINING_QUOTE)
        n = PIPELINING_QUOTE;
    unsigned char raw[PIPELINING_QUOTE];
    ev_ssize_t got = evbuffer_copyout(in, raw, n);
    char quoted[PIPELINING_QUOTE * 4 + 8];
    smtp_session_quote(quoted, sizeof(quoted), raw, got > 0 ? (size_t)got : 0);
    smtp_session_log("improper command pipelining after %s from %s: %s", after, s->namaddr, quoted);
}

static const char *smtp_session_proto(const struct smtp_session *s)
{
    return s->esmtp ? "ESMTP" : "SMTP";
}

/* "NOQUEUE: reject: RCPT from host[ip]: 554 5.7.1 ...; from=<s> to=<r> proto=ESMTP helo=<h>" */
static void smtp_session_log_reject(struct smtp_session *s, const char *stage, const char *reply,
                            const char *from, const char *to)
{
    struct buf b = BUF_INIT;
    buf_printf(&b, "%s: reject: %s from %s: %s; from=<%s>", s->qid[0] ? s->qid : "NOQUEUE", stage,
               s->namaddr, reply, from ? from : "");
    if (to)
        buf_printf(&b, " to=<%s>", to);
    buf_printf(&b, " proto=%s", smtp_session_proto(s));
    if (s->helo)
        buf_printf(&b, " helo=<%s>", s->helo);
    smtp_session_log("%s", buf_str(&b));
    buf_free(&b);
}

static void smtp_session_log_disconnect(struct smtp_session *s)
{
    struct buf b = BUF_INIT;
    unsigned ok = 0, total = 0;
    for (size_t i = 0; i < ARRAY_LEN(smtp_session_stat_order); i++) {
        enum smtp_verb v = smtp_session_stat_order[i];
        if (s->cmd_total[v] == 0)
            continue;
        ok += s->cmd_ok[v];
        total += s->cmd_total[v];
        if (s->cmd_ok[v] == s->cmd_total[v])
            buf_printf(&b, " %s=%u", smtp_verb_name(v), s->cmd_ok[v]);
        else
            buf_printf(&b, " %s=%u/%u", smtp_verb_name(v), s->cmd_ok[v], s->cmd_total[v]);
    }
    if (ok == total)
        buf_printf(&b, " commands=%u", ok);
    else
        buf_printf(&b, " commands=%u/%u", ok, total);
    smtp_session_log("disconnect from %s%s", s->namaddr, buf_str(&b));
    buf_free(&b);
}

/* ---------------------------------------------------------------- replies */

static void smtp_session_write(struct smtp_session *s, const char *text)
{
    struct evbuffer *out = bufferevent_get_output(s->bev);
    evbuffer_add(out, text, strlen(text));
    evbuffer_add(out, "\r\n", 2);
}

static void smtp_session_writef(struct smtp_session *s, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void smtp_session_writef(struct smtp_session *s, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    smtp_session_write(s, line);
}

static bool smtp_session_reply_is_error(const char *reply)
{
    return reply[0] == '4' || reply[0] == '5';
}

static void smtp_session_update_read(struct smtp_session *s)
{
    bool want = !s->dead && !s->sleeping && !s->out_paused &&
                (s->state == ST_CMD || s->state == ST_DATA || s->state == ST_CHUNK ||
                 s->state == ST_TLS);
    if (want)
        bufferevent_enable(s->bev, EV_READ);
    else
        bufferevent_disable(s->bev, EV_READ);
}

/* Postfix's hard error limit: checked after every error reply. */
static bool smtp_session_check_hard_limit(struct smtp_session *s)
{
    if (s->dead || s->state == ST_CLOSING)
        return true;
    if (s->errors < (unsigned long)var_smtpd_hard_error_limit)
        return false;
    char reply[300];
    snprintf(reply, sizeof(reply), "421 4.7.0 %s Error: too many errors", var_myhostname);
    smtp_session_log("too many errors after %s from %s", s->where, s->namaddr);
    smtp_session_close_after_reply(s, reply);
    return true;
}

/*
 * Send a reply to a command. Error replies count towards the error limits
 * and, past smtpd_soft_error_limit, wait smtpd_error_sleep_time first (a
 * libevent timer; reading stops meanwhile, so order is kept).
 */
static void smtp_session_reply(struct smtp_session *s, const char *reply)
{
    if (!smtp_session_reply_is_error(reply)) {
        smtp_session_write(s, reply);
        return;
    }
    s->errors++;
    if (s->errors > (unsigned long)var_smtpd_soft_error_limit && var_smtpd_error_sleep_time > 0) {
        buf_puts(&s->delayed, reply);
        buf_puts(&s->delayed, "\r\n");
        if (!s->sleeping) {
            s->sleeping = true;
            struct timeval tv = {var_smtpd_error_sleep_time, 0};
            evtimer_add(s->sleep_ev, &tv);
            smtp_session_update_read(s);
        }
        return;
    }
    smtp_session_write(s, reply);
    smtp_session_check_hard_limit(s);
}

static void smtp_session_sleep_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct smtp_session *s = arg;
    s->sleeping = false;
    if (s->dead || s->state == ST_CLOSING)
        return;
    evbuffer_add(bufferevent_get_output(s->bev), s->delayed.data, s->delayed.len);
    buf_reset(&s->delayed);
    if (smtp_session_check_hard_limit(s))
        return;
    smtp_session_update_read(s);
    event_active(s->kick_ev, 0, 0);
}

/* A junk command (NOOP, VRFY, RSET, HELP, ETRN): past the limit each one
 * counts as an error, so a client cannot keep a session open forever. */
static void smtp_session_junk(struct smtp_session *s)
{
    if (++s->junk > (unsigned long)var_smtpd_junk_command_limit)
        s->errors++;
}

/* ---------------------------------------------------------------- teardown */

static struct smtp_session *smtp_session_all;

static void smtp_session_free(struct smtp_session *s)
{
    if (s->msg) {
        s->cfg->sink.abort(s->msg);
        s->msg = NULL;
    }
    smtp_session_log_disconnect(s);
    if (s->prev)
        s->prev->next = s->next;
    else
        smtp_session_all = s->next;
    if (s->next)
        s->next->prev = s->prev;
    struct event *evs[] = {s->kick_ev, s->free_ev, s->sleep_ev, s->deadline_ev, s->flush_ev, s->tls_ev};
    for (size_t i = 0; i < ARRAY_LEN(evs); i++)
        if (evs[i])
            event_free(evs[i]);
    /* The TLS filter owns the socket bufferevent and the SSL (CLOSE_ON_FREE). */
    bufferevent_free(s->bev);
    envelope_free(&s->env);
    buf_free(&s->msg_reply);
    buf_free(&s->chunk_reply);
    buf_free(&s->delayed);
    free(s->helo);
    void (*on_close)(void *) = s->on_close;
    void *arg = s->on_close_arg;
    free(s);
    if (on_close)
        on_close(arg);
}

static void smtp_session_free_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct smtp_session *s = arg;
    if (s->commit_pending)
        return;         /* the sink's done callback comes back and frees */
    smtp_session_free(s);
}

/* End now: nothing more is read or written. */
static void smtp_session_kill(struct smtp_session *s)
{
    if (s->dead)
        return;
    s->dead = true;
    bufferevent_disable(s->bev, EV_READ | EV_WRITE);
    if (s->msg) {
        s->cfg->sink.abort(s->msg);
        s->msg = NULL;
    }
    event_active(s->free_ev, 0, 0);
}

/* Flush what was written, then free. For TLS, send close_notify first. */
static void smtp_session_flush_check(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct smtp_session *s = arg;
    if (s->dead)
        return;
    bool timed_out = time_monotonic() - s->closing_since > (double)var_smtpd_timeout;
    if (evbuffer_get_length(bufferevent_get_output(s->bev)) > 0 && !timed_out) {
        struct timeval tv = {0, 20000};
        evtimer_add(s->flush_ev, &tv);
        return;
    }
    if (s->ssl && s->tls_active && !s->tls_shutdown_done && !timed_out) {
        s->tls_shutdown_done = true;
        (void)SSL_shutdown(s->ssl);
        ERR_clear_error();
    }
    if (s->raw && evbuffer_get_length(bufferevent_get_output(s->raw)) > 0 && !timed_out) {
        struct timeval tv = {0, 20000};
        evtimer_add(s->flush_ev, &tv);
        return;
    }
    smtp_session_kill(s);
}

static void smtp_session_close_after_reply(struct smtp_session *s, const char *reply)
{
    if (s->dead || s->state == ST_CLOSING)
        return;
    if (reply)
        smtp_session_write(s, reply);
    if (s->msg) {
        s->cfg->sink.abort(s->msg);
        s->msg = NULL;
    }
    s->state = ST_CLOSING;
    s->closing_since = time_monotonic();
    smtp_session_update_read(s);
    bufferevent_enable(s->bev, EV_WRITE);
    struct timeval tv = {0, 0};
    evtimer_add(s->flush_ev, &tv);
}

/* A synchronisation violation: log the queued bytes, reply, disconnect. */
static void smtp_session_sync_violation(struct smtp_session *s, const char *after)
{
    smtp_session_log_pipelining(s, after);
    smtp_session_close_after_reply(s, "554 5.5.0 Error: SMTP protocol synchronization");
}

/* ---------------------------------------------------------------- transaction */

static void smtp_session_tx_reset(struct smtp_session *s)
{
    if (s->msg) {
        s->cfg->sink.abort(s->msg);
        s->msg = NULL;
    }
    envelope_free(&s->env);
    envelope_init(&s->env);
    s->in_mail = false;
    s->qid[0] = 0;
    s->bdat_started = false;
    s->bdat_failed = false;
    s->bdat_total = 0;
    buf_reset(&s->msg_reply);
}

static bool smtp_session_line_to_sink(void *arg, const char *line, size_t len)
{
    struct smtp_session *s = arg;
    if (!s->msg)
        return false;
    const char *reply = s->cfg->sink.line(s->msg, line, len);
    if (reply) {
        buf_reset(&s->msg_reply);
        buf_puts(&s->msg_reply, reply);
        return false;
    }
    return true;
}

/* Complete the envelope with what is known about the client, and open. */
static bool smtp_session_open_message(struct smtp_session *s, const char **reply)
{
    struct envelope *e = &s->env;
    e->arrival = time_now();
    envelope_set(&e->client_name, s->client_name);
    envelope_set(&e->client_addr, s->have_peer ? s->client_addr : NULL);
    e->client_port = s->have_peer ? s->client_port : 0;
    envelope_set(&e->helo, s->helo);
    envelope_set(&e->proto, s->esmtp ? (s->tls_active ? "ESMTPS" : "ESMTP") : "SMTP");
    if (s->tls_active) {
        char desc[256];
        tls_describe(s->ssl, desc, sizeof(desc));
        envelope_set(&e->tls, desc);
    } else {
        envelope_set(&e->tls, NULL);
    }
    envelope_set(&e->origin, "smtpd");
    e->uid = -1;
    *reply = NULL;
    s->msg = s->cfg->sink.open(s->cfg->sink.ctx, s->qid, e, reply);
    if (!s->msg && !*reply)
        *reply = "451 4.3.0 Error: queue file write error";
    buf_reset(&s->msg_reply);
    smtp_data_begin_message(&s->rd);
    return s->msg != NULL;
}

static void smtp_session_count(struct smtp_session *s, enum smtp_verb v, bool ok)
{
    if (v == SMTP_FORBIDDEN)
        v = SMTP_UNKNOWN;
    if (ok)
        s->cmd_ok[v]++;
}

static void smtp_session_commit_done(void *arg, const char *qid, const char *err_reply)
{
    struct smtp_session *s = arg;
    s->commit_pending = false;
    if (s->free_on_done) {
        smtp_session_free(s);
        return;
    }
    if (s->dead) {
        event_active(s->free_ev, 0, 0);
        return;
    }
    if (err_reply) {
        smtp_session_log_reject(s, "END-OF-MESSAGE", err_reply, s->env.sender,
                        s->env.nrcpt ? s->env.rcpt[0].addr : NULL);
        smtp_session_tx_reset(s);
        s->state = ST_CMD;
        smtp_session_reply(s, err_reply);
    } else {
        smtp_session_writef(s, "250 2.0.0 Ok: queued as %s", qid && *qid ? qid : s->qid);
        smtp_session_count(s, s->content_verb, true);
        s->junk = 0;
        smtp_session_tx_reset(s);
        s->state = ST_CMD;
    }
    if (s->state == ST_CMD) {
        smtp_session_update_read(s);
        event_active(s->kick_ev, 0, 0);
    }
}

/*
 * The content of a message has ended (DATA dot, or the LAST chunk): decide
 * its fate. A bare CR/LF ends the session: the client is either broken or
 * attacking, and nothing it sends afterwards can be trusted to be aligned.
 */
static void smtp_session_message_end(struct smtp_session *s)
{
    const char *from = s->env.sender;
    const char *to = s->env.nrcpt ? s->env.rcpt[0].addr : NULL;
    if (s->rd.bare) {
        const char *reply = "550 5.5.2 Error: bare <CR> or <LF> received";
        smtp_session_log_reject(s, "END-OF-MESSAGE", reply, from, to);
        smtp_session_close_after_reply(s, reply);
        return;
    }
    const char *reply = NULL;
    if (s->rd.too_long)
        reply = "554 5.6.0 Error: line too long (more than 998 octets)";
    else if (s->msg_reply.len)
        reply = buf_str(&s->msg_reply);
    if (reply) {
        char copy[600];
        snprintf(copy, sizeof(copy), "%s", reply);
        smtp_session_log_reject(s, "END-OF-MESSAGE", copy, from, to);
        smtp_session_tx_reset(s);
        s->state = ST_CMD;
        smtp_session_reply(s, copy);
        return;
    }
    s->state = ST_COMMIT;
    s->where = "END-OF-MESSAGE";
    s->commit_pending = true;
    smtp_session_update_read(s);
    void *msg = s->msg;
    s->msg = NULL;
    /* done may run before close returns; it only queues work (kick). */
    s->cfg->sink.close(msg, smtp_session_commit_done, s);
}

/* ---------------------------------------------------------------- commands */

static enum cmd_result smtp_session_cmd_helo(struct smtp_session *s, struct smtp_cmd *c, const char *err)
{
    if (err) {
        smtp_session_reply(s, err);
        return CMD_FAIL;
    }
    smtp_session_tx_reset(s);
    free(s->helo);
    s->helo = xstrndup(c->arg, c->arg_len);
    s->esmtp = c->verb == SMTP_EHLO;
    if (!s->esmtp) {
        smtp_session_writef(s, "250 %s", var_myhostname);
        return CMD_OK;
    }
    struct buf b = BUF_INIT;
    buf_printf(&b, "250-%s\r\n250-PIPELINING\r\n", var_myhostname);
    if (var_message_size_limit > 0)
        buf_printf(&b, "250-SIZE %ld\r\n", var_message_size_limit);
    else
        buf_puts(&b, "250-SIZE\r\n");
    buf_puts(&b, "250-VRFY\r\n");
    if (s->cfg->tls && s->have_peer && !s->tls_active)
        buf_puts(&b, "250-STARTTLS\r\n");
    buf_puts(&b, "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n");
    if (var_smtputf8_enable)
        buf_puts(&b, "250-SMTPUTF8\r\n");
    buf_puts(&b, "250 CHUNKING\r\n");
    evbuffer_add(bufferevent_get_output(s->bev), b.data, b.len);
    buf_free(&b);
    return CMD_OK;
}

/* Network clients must send qualified addresses; "postmaster" alone is the
 * one exception RFC 5321 4.5.1 demands. The local user (-bs) may send bare
 * names: cleanup qualifies them with $myorigin. */
static bool smtp_session_qualify(struct smtp_session *s, struct mailaddr *a, bool rcpt)
{
    if (a->is_null || a->domain[0] || !s->have_peer)
        return true;
    if (rcpt && ascii_strcasecmp(a->local, "postmaster") == 0) {
        char full[ADDR_PATH_MAX + 16];
        snprintf(full, sizeof(full), "postmaster@%s", var_myhostname);
        return addr_parse_plain(full, 0, a) == ADDR_OK;
    }
    return false;
}

static enum cmd_result smtp_session_cmd_mail(struct smtp_session *s, struct smtp_cmd *c, const char *err)
{
    if (!s->helo) {
        smtp_session_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
        return CMD_FAIL;
    }
    if (s->in_mail && !s->bdat_failed) {
        smtp_session_reply(s, "503 5.5.1 Error: nested MAIL command");
        return CMD_FAIL;
    }
    if (s->cfg->tls_required && s->have_peer && !s->tls_active) {
        smtp_session_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
        return CMD_FAIL;
    }
    if (err) {
        if (strncmp(err, "552", 3) == 0)
            smtp_session_log_reject(s, "MAIL", err, c->addr.addr, NULL);
        smtp_session_reply(s, err);
        return CMD_FAIL;
    }
    if (!smtp_session_qualify(s, &c->addr, false)) {
        char reply[400];
        snprintf(reply, sizeof(reply),
                 "504 5.5.2 <%s>: Sender address rejected: need fully-qualified address", c->addr.addr);
        smtp_session_log_reject(s, "MAIL", reply, c->addr.addr, NULL);
        smtp_session_reply(s, reply);
        return CMD_FAIL;
    }
    if (c->has_size && var_message_size_limit > 0 && c->size > (uint64_t)var_message_size_limit) {
        const char *reply = "552 5.3.4 Message size exceeds fixed limit";
        smtp_session_log_reject(s, "MAIL", reply, c->addr.addr, NULL);
        smtp_session_reply(s, reply);
        return CMD_FAIL;
    }
    if (s->cfg->sink.has_space && !s->cfg->sink.has_space(s->cfg->sink.ctx)) {
        const char *reply = "452 4.3.1 Insufficient system storage";
        smtp_session_log_reject(s, "MAIL", reply, c->addr.addr, NULL);
        smtp_session_reply(s, reply);
        return CMD_FAIL;
    }
    smtp_session_tx_reset(s);
    s->in_mail = true;
    envelope_set(&s->env.sender, c->addr.addr);
    s->env.body = c->body;
    s->env.smtputf8 = c->smtputf8;
    s->env.ret = c->ret;
    envelope_set(&s->env.envid, c->envid);
    smtp_session_write(s, "250 2.1.0 Ok");
    return CMD_OK;
}

static enum cmd_result smtp_session_cmd_rcpt(struct smtp_session *s, struct smtp_cmd *c, const char *err)
{
    if (!s->in_mail) {
        smtp_session_reply(s, "503 5.5.1 Error: need MAIL command");
        return CMD_FAIL;
    }
    if (err) {
        smtp_session_reply(s, err);
        return CMD_FAIL;
    }
    char reply[400];
    if (!smtp_session_qualify(s, &c->addr, true)) {
        snprintf(reply, sizeof(reply),
                 "504 5.5.2 <%s>: Recipient address rejected: need fully-qualified address", c->addr.addr);
        smtp_session_log_reject(s, "RCPT", reply, s->env.sender, c->addr.addr);
        smtp_session_reply(s, reply);
        return CMD_FAIL;
    }
    if (s->env.nrcpt >= (size_t)var_smtpd_recipient_limit) {
        smtp_session_reply(s, "452 4.5.3 Error: too many recipients");
        return CMD_FAIL;
    }
    const struct sockaddr *client = s->have_peer ? (const struct sockaddr *)&s->peer : NULL;
    if (relay_check(&c->addr, client) == RELAY_DENIED) {
        snprintf(reply, sizeof(reply), "554 5.7.1 <%s>: Relay access denied", c->addr.addr);
        smtp_session_log_reject(s, "RCPT", reply, s->env.sender, c->addr.addr);
        smtp_session_reply(s, reply);
        return CMD_FAIL;
    }
    if (!s->qid[0]) {
        qid_new(s->qid);
        smtp_session_log("%s: client=%s", s->qid, s->namaddr);
    }
    envelope_add_rcpt(&s->env, c->addr.addr, c->orcpt, c->notify);
    smtp_session_write(s, "250 2.1.5 Ok");
    return CMD_OK;
}

/* Common checks for DATA and BDAT; the reply for a refused one, or NULL. */
static const char *smtp_session_content_refusal(struct smtp_session *s)
{
    if (!s->in_mail)
        return "503 5.5.1 Error: need MAIL command";
    if (s->env.nrcpt == 0)
        return "503 5.5.1 Error: need RCPT command";
    return NULL;
}

static enum cmd_result smtp_session_cmd_data(struct smtp_session *s, struct smtp_cmd *c, const char *err)
{
    (void)c;
    const char *refusal = smtp_session_content_refusal(s);
    if (!refusal && err)
        refusal = err;
    if (!refusal && (s->bdat_started || s->bdat_failed))
        refusal = "503 5.5.1 Error: DATA after BDAT";
    if (!refusal && s->env.body == BODY_BINARYMIME)
        refusal = "503 5.5.1 Error: BODY=BINARYMIME requires BDAT";
    if (refusal) {
        smtp_session_reply(s, refusal);
        return CMD_FAIL;
    }
    /* Content before the 354 is how smuggled messages ride in (RFC 2920:
     * DATA ends a pipelined group). The local user is exempt: a script
     * piping a whole dialogue into "sendmail -bs" is not an attack. */
    if (s->have_peer && evbuffer_get_length(bufferevent_get_input(s->bev)) > 0) {
        smtp_session_sync_violation(s, "DATA");
        return CMD_FAIL;
    }
    const char *reply;
    if (!smtp_session_open_message(s, &reply)) {
        smtp_session_tx_reset(s);
        smtp_session_reply(s, reply);
        return CMD_FAIL;
    }
    s->content_verb = SMTP_DATA;
    smtp_data_dot_mode(&s->rd);
    s->state = ST_DATA;
    smtp_session_write(s, "354 End data with <CR><LF>.<CR><LF>");
    return CMD_LATER;
}

static enum cmd_result smtp_session_cmd_bdat(struct smtp_session *s, struct smtp_cmd *c, const char *err)
{
    if (err) {
        /* Without a count the rest of the stream cannot be aligned: what
         * follows might be content posing as commands. */
        smtp_session_close_after_reply(s, err);
        return CMD_FAIL;
    }
    const char *refusal = smtp_session_content_refusal(s);
    bool fail_tx = false;
    if (!refusal && s->bdat_failed)
        refusal = "503 5.5.1 Error: BDAT after failed BDAT; send RSET";
    if (!refusal) {
        uint64_t total = s->bdat_total + c->chunk_size;
        if (total < s->bdat_total ||
            (var_message_size_limit > 0 && total > (uint64_t)var_message_size_limit)) {
            refusal = "552 5.3.4 Message size exceeds fixed limit";
            fail_tx = true;
        }
    }
    if (!refusal && !s->bdat_started) {
        const char *reply;
        if (!smtp_session_open_message(s, &reply)) {
            refusal = reply;
            fail_tx = true;
        } else {
            s->bdat_started = true;
        }
    }
    s->content_verb = SMTP_BDAT;
    s->state = ST_CHUNK;
    if (refusal) {
        /* The chunk is still read, exactly, and thrown away (RFC 3030). */
        buf_reset(&s->chunk_reply);
        buf_puts(&s->chunk_reply, refusal);
        s->chunk_fail_tx = fail_tx;
        if (fail_tx && s->msg) {
            s->cfg->sink.abort(s->msg);
            s->msg = NULL;
        }
        smtp_data_chunk_mode(&s->rd, c->chunk_size, c->last, true);
        return CMD_LATER;
    }
    buf_reset(&s->chunk_reply);
    s->bdat_total += c->chunk_size;
    s->chunk_size = c->chunk_size;
    smtp_data_chunk_mode(&s->rd, c->chunk_size, c->last, false);
    return CMD_LATER;
}

/* A BDAT chunk has been read completely. */
static void smtp_session_chunk_end(struct smtp_session *s)
{
    bool last = s->rd.chunk_last;
    smtp_data_command_mode(&s->rd);
    s->state = ST_CMD;
    s->after_bdat = true;
    if (s->chunk_reply.len) {
        char reply[600];
        snprintf(reply, sizeof(reply), "%s", buf_str(&s->chunk_reply));
        buf_reset(&s->chunk_reply);
        if (s->chunk_fail_tx)
            s->bdat_failed = true;
        smtp_session_reply(s, reply);
        return;
    }
    if (!last) {
        smtp_session_writef(s, "250 2.0.0 Ok: %llu bytes", (unsigned long long)s->chunk_size);
        smtp_session_count(s, SMTP_BDAT, true);
        return;
    }
    smtp_session_message_end(s);
}

static enum cmd_result smtp_session_cmd_starttls(struct smtp_session *s, struct smtp_cmd *c, const char *err);

static enum cmd_result smtp_session_cmd_simple(struct smtp_session *s, struct smtp_cmd *c, const char *err)
{
    switch (c->verb) {
    case SMTP_RSET:
        smtp_session_junk(s);
        if (err)
            break;
        smtp_session_tx_reset(s);
        smtp_session_write(s, "250 2.0.0 Ok");
        return CMD_OK;
    case SMTP_NOOP:
        smtp_session_junk(s);
        smtp_session_write(s, "250 2.0.0 Ok");
        return CMD_OK;
    case SMTP_HELP:
        smtp_session_junk(s);
        smtp_session_write(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP "
                              "STARTTLS");
        return CMD_OK;
    case SMTP_VRFY:
        smtp_session_junk(s);
        if (err)
            break;
        /* Never confirm or deny a mailbox: no user enumeration. */
        smtp_session_write(s, "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
        return CMD_OK;
    case SMTP_EXPN:
        smtp_session_reply(s, "502 5.5.1 Error: command not implemented");
        return CMD_FAIL;
    case SMTP_ETRN:
        smtp_session_junk(s);
        smtp_session_reply(s, "502 5.5.1 Error: command not implemented");
        return CMD_FAIL;
    case SMTP_AUTH:
        smtp_session_reply(s, "503 5.5.1 Error: authentication not enabled");
        return CMD_FAIL;
    case SMTP_QUIT:
        if (err)
            break;
        s->cmd_ok[SMTP_QUIT]++;
        smtp_session_close_after_reply(s, "221 2.0.0 Bye");
        return CMD_LATER;
    default:
        break;
    }
    smtp_session_reply(s, err ? err : "500 5.5.2 Error: command not recognized");
    return CMD_FAIL;
}

/* "MAIL", "RCPT" ... for "timeout after MAIL from ..." lines. */
static const char *smtp_session_verb_upper(enum smtp_verb v)
{
    switch (v) {
    case SMTP_HELO: return "HELO";
    case SMTP_EHLO: return "EHLO";
    case SMTP_MAIL: return "MAIL";
    case SMTP_RCPT: return "RCPT";
    case SMTP_DATA: return "DATA";
    case SMTP_BDAT: return "BDAT";
    case SMTP_RSET: return "RSET";
    case SMTP_NOOP: return "NOOP";
    case SMTP_QUIT: return "QUIT";
    case SMTP_VRFY: return "VRFY";
    case SMTP_EXPN: return "EXPN";
    case SMTP_HELP: return "HELP";
    case SMTP_STARTTLS: return "STARTTLS";
    case SMTP_AUTH: return "AUTH";
    case SMTP_ETRN: return "ETRN";
    case SMTP_UNKNOWN:
    case SMTP_FORBIDDEN:
        break;
    }
    return "UNKNOWN";
}

static void smtp_session_handle_line(struct smtp_session *s, const char *line, size_t len)
{
    struct smtp_cmd c;
    bool after_bdat = s->after_bdat;
    s->after_bdat = false;

    if (memchr(line, 0, len)) {
        s->cmd_total[SMTP_UNKNOWN]++;
        s->where = "UNKNOWN";
        smtp_session_reply(s, "500 5.5.2 Error: bad syntax");
        return;
    }
    unsigned flags = (s->in_mail ? s->env.smtputf8 : var_smtputf8_enable) ? SMTP_CMD_ALLOW_UTF8 : 0;
    const char *err = smtp_cmd_parse(line, len, flags, &c);
    enum smtp_verb v = c.verb == SMTP_FORBIDDEN ? SMTP_UNKNOWN : c.verb;
    s->cmd_total[v]++;
    s->where = smtp_session_verb_upper(v);

    enum cmd_result r;
    if (after_bdat && c.verb == SMTP_UNKNOWN) {
        /* The chunk count did not match what the client sent. */
        smtp_cmd_free(&c);
        char quoted[PIPELINING_QUOTE * 4 + 8];
        smtp_session_quote(quoted, sizeof(quoted), (const unsigned char *)line,
                   len < PIPELINING_QUOTE ? len : PIPELINING_QUOTE);
        smtp_session_log("improper command pipelining after BDAT from %s: %s", s->namaddr, quoted);
        smtp_session_close_after_reply(s, "554 5.5.0 Error: SMTP protocol synchronization");
        return;
    }
    switch (c.verb) {
    case SMTP_FORBIDDEN:
        smtp_session_warn("non-SMTP command from %s: %.100s", s->namaddr, line);
        smtp_session_close_after_reply(s, err);
        r = CMD_FAIL;
        break;
    case SMTP_HELO:
    case SMTP_EHLO:
        r = smtp_session_cmd_helo(s, &c, err);
        break;
    case SMTP_MAIL:
        r = smtp_session_cmd_mail(s, &c, err);
        break;
    case SMTP_RCPT:
        r = smtp_session_cmd_rcpt(s, &c, err);
        break;
    case SMTP_DATA:
        r = smtp_session_cmd_data(s, &c, err);
        break;
    case SMTP_BDAT:
        r = smtp_session_cmd_bdat(s, &c, err);
        break;
    case SMTP_STARTTLS:
        r = smtp_session_cmd_starttls(s, &c, err);
        break;
    default:
        r = smtp_session_cmd_simple(s, &c, err);
        break;
    }
    smtp_cmd_free(&c);
    if (r == CMD_OK)
        s->cmd_ok[v]++;
    /* Junk commands past their limit add errors without an error reply. */
    if (!s->sleeping)
        smtp_session_check_hard_limit(s);
}

/* ---------------------------------------------------------------- TLS */

static void smtp_session_tls_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct smtp_session *s = arg;
    if (s->state != ST_TLS)
        return;
    smtp_session_log("timeout after STARTTLS from %s", s->namaddr);
    smtp_session_kill(s);
}

static void smtp_session_readcb(struct bufferevent *bev, void *arg);
static void smtp_session_writecb(struct bufferevent *bev, void *arg);
static void smtp_session_eventcb(struct bufferevent *bev, short what, void *arg);

static enum cmd_result smtp_session_cmd_starttls(struct smtp_session *s, struct smtp_cmd *c, const char *err)
{
    (void)c;
    if (!s->cfg->tls || !s->have_peer) {
        smtp_session_reply(s, "502 5.5.1 Error: command not implemented");
        return CMD_FAIL;
    }
    if (s->tls_active) {
        smtp_session_reply(s, "554 5.5.1 Error: TLS already active");
        return CMD_FAIL;
    }
    if (err) {
        smtp_session_reply(s, err);
        return CMD_FAIL;
    }
    if (s->in_mail) {
        smtp_session_reply(s, "503 5.5.1 Error: MAIL transaction in progress");
        return CMD_FAIL;
    }
    /* CVE-2011-0411: plaintext queued behind STARTTLS would otherwise be
     * executed as if it had come through TLS. */
    if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0) {
        smtp_session_sync_violation(s, "STARTTLS");
        return CMD_FAIL;
    }
    SSL *ssl = SSL_new(s->cfg->tls);
    if (!ssl) {
        smtp_session_warn("cannot start TLS for %s: %s", s->namaddr, tls_error_text());
        smtp_session_reply(s, "454 4.7.0 TLS not available due to local problem");
        return CMD_FAIL;
    }
    /* The 220 goes out in plaintext: it is queued in the socket's output
     * before the filter puts anything behind it. */
    smtp_session_write(s, "220 2.0.0 Ready to start TLS");
    struct bufferevent *filter = bufferevent_openssl_filter_new(
        s->base, s->bev, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (!filter) {
        SSL_free(ssl);
        smtp_session_warn("cannot start TLS for %s", s->namaddr);
        smtp_session_close_after_reply(s, NULL);
        return CMD_FAIL;
    }
    bufferevent_set_timeouts(s->bev, NULL, NULL);
    s->raw = s->bev;
    s->bev = filter;
    s->ssl = ssl;
    s->state = ST_TLS;
    smtp_data_command_mode(&s->rd);
    bufferevent_setcb(filter, smtp_session_readcb, smtp_session_writecb, smtp_session_eventcb, s);
    struct timeval tv = {var_smtpd_timeout, 0};
    bufferevent_set_timeouts(filter, &tv, &tv);
    bufferevent_setwatermark(filter, EV_READ, 0, 64 * 1024);
    bufferevent_enable(filter, EV_READ | EV_WRITE);
    evtimer_add(s->tls_ev, &tv);
    return CMD_OK;
}

static void smtp_session_tls_established(struct smtp_session *s)
{
    evtimer_del(s->tls_ev);
    s->tls_active = true;
    char desc[256];
    tls_describe(s->ssl, desc, sizeof(desc));
    smtp_session_log("Anonymous TLS connection established from %s: %s", s->namaddr, desc);
    /* RFC 3207 4.2: forget everything learned before TLS. */
    smtp_session_tx_reset(s);
    free(s->helo);
    s->helo = NULL;
    s->esmtp = false;
    s->state = ST_CMD;
    smtp_session_update_read(s);
    event_active(s->kick_ev, 0, 0);
}

/* ---------------------------------------------------------------- I/O */

static void smtp_session_process(struct smtp_session *s)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);
    while (!s->dead && !s->sleeping && !s->out_paused &&
           (s->state == ST_CMD || s->state == ST_DATA || s->state == ST_CHUNK)) {
        const char *p = NULL;
        size_t len = 0;
        if (evbuffer_get_length(in) > 0) {
            /* The first non-empty segment (the TLS filter leaves empty
             * chains behind; feeding those would make no progress). */
            struct evbuffer_iovec v[8];
            int nv = evbuffer_peek(in, -1, NULL, v, 8);
            for (int i = 0; i < nv && i < 8 && len == 0; i++) {
                p = v[i].iov_base;
                len = v[i].iov_len;
            }
            if (len == 0) {
                p = (const char *)evbuffer_pullup(in, -1);
                len = evbuffer_get_length(in);
            }
        } else if (!(s->state == ST_CHUNK && s->rd.chunk_left == 0)) {
            break;
        }
        enum smtp_data_event ev;
        size_t used = smtp_data_feed(&s->rd, p, len, &ev);
        if (used)
            evbuffer_drain(in, used);
        switch (ev) {
        case SMTP_DATA_MORE:
            if (used == 0)
                return;     /* nothing usable was queued; wait for input */
            break;
        case SMTP_DATA_LINE:
            smtp_session_handle_line(s, s->rd.cmd, s->rd.cmd_len);
            break;
        case SMTP_DATA_BARE:
            smtp_session_warn("bare <CR> or <LF> received from %s after %s", s->namaddr, s->where);
            s->cmd_total[SMTP_UNKNOWN]++;
            smtp_session_close_after_reply(s, "500 5.5.2 Error: bare <CR> or <LF> received");
            break;
        case SMTP_DATA_TOO_LONG:
            s->cmd_total[SMTP_UNKNOWN]++;
            smtp_session_reply(s, "500 5.5.2 Error: line too long");
            break;
        case SMTP_DATA_END:
            if (s->state == ST_DATA) {
                smtp_data_command_mode(&s->rd);
                smtp_session_message_end(s);
            } else {
                smtp_session_chunk_end(s);
            }
            break;
        }
    }
    if (s->dead || s->state == ST_CLOSING)
        return;
    if (evbuffer_get_length(bufferevent_get_output(s->bev)) > OUTPUT_HIGH_WATER) {
        s->out_paused = true;
        smtp_session_update_read(s);
    }
    /* The client stopped sending; what it sent has been dealt with. The
     * replies still go out (it may only have shut down its sending side). */
    if (s->eof && !s->sleeping && !s->commit_pending && s->state != ST_COMMIT) {
        smtp_session_log("lost connection after %s from %s", s->where, s->namaddr);
        smtp_session_close_after_reply(s, NULL);
    }
}

static void smtp_session_kick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    smtp_session_process(arg);
}

static void smtp_session_readcb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    smtp_session_process(arg);
}

static void smtp_session_writecb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    struct smtp_session *s = arg;
    if (s->out_paused) {
        s->out_paused = false;
        smtp_session_update_read(s);
        event_active(s->kick_ev, 0, 0);
    }
}

static void smtp_session_eventcb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct smtp_session *s = arg;
    if (s->dead)
        return;
    if (what & BEV_EVENT_CONNECTED) {
        if (s->state == ST_TLS)
            smtp_session_tls_established(s);
        return;
    }
    if (s->state == ST_CLOSING) {
        /* A half-closed client may still read our last reply; only a
         * failure or timeout cuts the flush short. */
        if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
            smtp_session_kill(s);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        if (what & BEV_EVENT_READING) {
            smtp_session_log("timeout after %s from %s", s->where, s->namaddr);
            char reply[300];
            snprintf(reply, sizeof(reply), "421 4.4.2 %s Error: timeout exceeded", var_myhostname);
            smtp_session_close_after_reply(s, reply);
        } else {
            smtp_session_log("timeout after %s from %s", s->where, s->namaddr);
            smtp_session_kill(s);
        }
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        if (s->state == ST_TLS || s->ssl) {
            unsigned long e = bufferevent_get_openssl_error(bev);
            if (e) {
                char text[256];
                ERR_error_string_n(e, text, sizeof(text));
                smtp_session_warn("TLS library problem: %s", text);
            }
        }
        /* A TLS error ends the session: never fall back to cleartext. */
        smtp_session_log("lost connection after %s from %s", s->where, s->namaddr);
        smtp_session_kill(s);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        if (s->ssl) {
            /* close_notify (or an unclean TLS end): the session is over. */
            smtp_session_log("lost connection after %s from %s", s->where, s->namaddr);
            smtp_session_kill(s);
            return;
        }
        s->eof = true;
        smtp_session_process(s);
    }
}

static void smtp_session_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct smtp_session *s = arg;
    if (s->dead || s->state == ST_CLOSING)
        return;
    if (s->commit_pending) {
        /* Let the commit answer first, so the client learns the outcome. */
        struct timeval tv = {1, 0};
        evtimer_add(s->deadline_ev, &tv);
        return;
    }
    smtp_session_log("timeout after %s from %s", s->where, s->namaddr);
    char reply[300];
    snprintf(reply, sizeof(reply), "421 4.4.2 %s Error: timeout exceeded", var_myhostname);
    smtp_session_close_after_reply(s, reply);
}

void smtp_session_shutdown_all(void)
{
    struct smtp_session *s = smtp_session_all;
    while (s) {
        struct smtp_session *next = s->next;
        if (s->commit_pending) {
            /* The queue still owes this session an answer; it frees the
             * session when the commit completes (queue_close runs it). */
            s->dead = true;
            s->free_on_done = true;
        } else {
            smtp_session_free(s);
        }
        s = next;
    }
}

/* ---------------------------------------------------------------- start */

/* The two addresses every hosts file calls "localhost"; any other client is
 * "unknown" until reverse lookups exist (Postfix prints what DNS says). */
static bool smtp_session_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return ntohl(in->sin_addr.s_addr) == INADDR_LOOPBACK;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return true;
        const uint8_t *b = in6->sin6_addr.s6_addr;
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && b[12] == 127 && b[13] == 0 && b[14] == 0 &&
               b[15] == 1;
    }
    return false;
}

static void smtp_session_set_client(struct smtp_session *s, const struct sockaddr *peer, socklen_t peerlen)
{
    if (!peer || peerlen == 0 || (size_t)peerlen > sizeof(s->peer) ||
        (peer->sa_family != AF_INET && peer->sa_family != AF_INET6)) {
        /* sendmail -bs: the local user. Logged as Postfix does in
         * stand-alone mode. */
        s->have_peer = false;
        snprintf(s->client_name, sizeof(s->client_name), "localhost");
        snprintf(s->client_addr, sizeof(s->client_addr), "127.0.0.1");
        snprintf(s->namaddr, sizeof(s->namaddr), "localhost[127.0.0.1]");
        return;
    }
    s->have_peer = true;
    memcpy(&s->peer, peer, (size_t)peerlen);
    if (peer->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)peer;
        inet_ntop(AF_INET, &in->sin_addr, s->client_addr, sizeof(s->client_addr));
        s->client_port = ntohs(in->sin_port);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)peer;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], s->client_addr, sizeof(s->client_addr));
        else
            inet_ntop(AF_INET6, &in6->sin6_addr, s->client_addr, sizeof(s->client_addr));
        s->client_port = ntohs(in6->sin6_port);
    }
    snprintf(s->client_name, sizeof(s->client_name), "%s",
             smtp_session_is_loopback(peer) ? "localhost" : "unknown");
    snprintf(s->namaddr, sizeof(s->namaddr), "%s[%s]", s->client_name, s->client_addr);
}

struct smtp_session *smtp_session_start(struct event_base *base, const struct smtpd_config *cfg,
                                        struct bufferevent *bev, const struct sockaddr *peer,
                                        socklen_t peerlen, void (*on_close)(void *arg), void *arg)
{
    struct smtp_session *s = xcalloc(1, sizeof(*s));
    s->base = base;
    s->cfg = cfg;
    s->bev = bev;
    s->on_close = on_close;
    s->on_close_arg = arg;
    s->where = "CONNECT";
    s->state = ST_CMD;
    envelope_init(&s->env);
    buf_init(&s->msg_reply);
    buf_init(&s->chunk_reply);
    buf_init(&s->delayed);
    smtp_data_init(&s->rd, smtp_session_line_to_sink, s);
    smtp_session_set_client(s, peer, peerlen);
    s->next = smtp_session_all;
    if (smtp_session_all)
        smtp_session_all->prev = s;
    smtp_session_all = s;

    s->kick_ev = event_new(base, -1, 0, smtp_session_kick_cb, s);
    s->free_ev = event_new(base, -1, 0, smtp_session_free_cb, s);
    s->sleep_ev = evtimer_new(base, smtp_session_sleep_done, s);
    s->deadline_ev = evtimer_new(base, smtp_session_deadline_cb, s);
    s->flush_ev = evtimer_new(base, smtp_session_flush_check, s);
    s->tls_ev = evtimer_new(base, smtp_session_tls_timeout, s);
    if (!s->kick_ev || !s->free_ev || !s->sleep_ev || !s->deadline_ev || !s->flush_ev || !s->tls_ev)
        msg_fatal("smtpd: cannot create session events");

    smtp_session_log("connect from %s", s->namaddr);

    bufferevent_setcb(bev, smtp_session_readcb, smtp_session_writecb, smtp_session_eventcb, s);
    struct timeval tv = {var_smtpd_timeout, 0};
    bufferevent_set_timeouts(bev, &tv, &tv);
    bufferevent_setwatermark(bev, EV_READ, 0, 64 * 1024);
    struct timeval deadline = {var_smtpd_session_deadline, 0};
    evtimer_add(s->deadline_ev, &deadline);

    /* Pregreet: a client that talks before our banner does not wait for
     * replies at all (spambots, smuggling tools). */
    evutil_socket_t fd = bufferevent_getfd(bev);
    char peek[1];
    if (s->have_peer && fd >= 0 && recv(fd, peek, sizeof(peek), MSG_PEEK | MSG_DONTWAIT) > 0) {
        char early[PIPELINING_QUOTE];
        ssize_t n = recv(fd, early, sizeof(early), MSG_PEEK | MSG_DONTWAIT);
        char quoted[PIPELINING_QUOTE * 4 + 8];
        smtp_session_quote(quoted, sizeof(quoted), (const unsigned char *)early, n > 0 ? (size_t)n : 0);
        smtp_session_log("improper command pipelining after CONNECT from %s: %s", s->namaddr, quoted);
        smtp_session_close_after_reply(s, "554 5.5.0 Error: SMTP protocol synchronization");
        return s;
    }
    smtp_session_writef(s, "220 %s", var_smtpd_banner);
    smtp_session_update_read(s);
    bufferevent_enable(bev, EV_WRITE);
    return s;
}
