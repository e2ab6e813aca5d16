/*
 * smtp_session.h - one SMTP server conversation (RFC 5321 state machine),
 * internal to the receive/ stage.
 */
#ifndef YUBIN_SMTP_SESSION_H
#define YUBIN_SMTP_SESSION_H

#include <sys/socket.h>
#include "receive/smtpd.h"

struct bufferevent;
struct smtp_session;

/* Take over bev (already connected; for TCP the peer address is given).
 * The session frees itself when the conversation ends and then calls
 * on_close(arg). */
struct smtp_session *smtp_session_start(struct event_base *base, const struct smtpd_config *cfg,
                                        struct bufferevent *bev, const struct sockaddr *peer,
                                        socklen_t peerlen, void (*on_close)(void *arg), void *arg);

/* Daemon shutdown: end every session now (a session waiting for its commit
 * is freed when the commit answers). */
void smtp_session_shutdown_all(void);

#endif
