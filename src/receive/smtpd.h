/*
 * smtpd.h - the SMTP server: listening sockets, per-client connection caps,
 * and the sessions (smtp_session.c) that speak the protocol.
 *
 * Sockets are bound by smtpd_bind() before the daemon drops privileges
 * (port 25 needs root); everything after accept() runs unprivileged.
 */
#ifndef YUBIN_SMTPD_H
#define YUBIN_SMTPD_H

#include <stdbool.h>
#include <openssl/ssl.h>
#include "lib/buf.h"
#include "queue/envelope.h"

struct event_base;

/*
 * Where a session hands accepted mail. The daemon uses cleanup (cleanup.h);
 * "sendmail -bs" uses the maildrop. All functions run on the event loop.
 */
struct msg_sink {
    /* Begin a message; NULL with *reply on failure. */
    void *(*open)(void *ctx, const char *qid, const struct envelope *env, const char **reply);
    /* One CRLF-terminated, dot-unstuffed line. NULL, or the final reply. */
    const char *(*line)(void *h, const char *line, size_t len);
    /* End of data; done(arg, qid, err_reply) runs once, maybe later (it may
     * also run before close returns). The session reads nothing meanwhile. */
    void (*close)(void *h, void (*done)(void *arg, const char *qid, const char *err_reply), void *arg);
    void (*abort)(void *h);
    /* Is there room for a new message (disk space)? */
    bool (*has_space)(void *ctx);
    void *ctx;
};

struct smtpd_config {
    struct msg_sink sink;
    SSL_CTX *tls;               /* NULL: no STARTTLS */
    bool tls_required;          /* smtpd_tls_security_level = encrypt */
};

/* Bind every smtpd_listen address. -1 with err. */
int smtpd_bind(struct buf *err);
/* Start accepting on the bound sockets. */
void smtpd_start(struct event_base *base, const struct smtpd_config *cfg);
/* Shutdown: stop accepting and end every session (mail that got 250 is
 * already on disk; a transaction in progress gets no 250 and is retried by
 * its client). */
void smtpd_stop(void);
/* Number of open sessions. */
unsigned smtpd_session_count(void);

/*
 * Run one session on an already-connected descriptor pair (sendmail -bs:
 * in_fd = 0, out_fd = 1). Client is "localhost" without an address; relay
 * checks treat it as local, unqualified addresses are passed on for the
 * sink to qualify, STARTTLS is not offered, and the pipelining
 * synchronisation checks do not apply (a script may write the whole
 * dialogue at once); bare CR/LF and line limits do. The descriptors may be
 * pipes, terminals, regular files or /dev/null. Returns 0 when the session
 * ended, -1 if it could not be set up.
 */
int smtpd_run_stdio(struct event_base *base, const struct smtpd_config *cfg, int in_fd, int out_fd);

#endif
