/*
 * control.h - the running daemon's control socket (queue_directory/control,
 * a UNIX stream socket, mode 0666 so local users can poke pickup; only
 * "wakeup" is allowed to anyone, every other request needs the caller's uid
 * (SO_PEERCRED) to be root or the mail_owner).
 *
 * Protocol: one request per connection: a line "VERB [ARG]\n" of at most
 * 512 bytes, one reply line "OK text\n" or "ERR text\n", then the server
 * closes. Verbs: wakeup (maildrop has new files), flush (retry every
 * deferred message now), delete QID|ALL, hold QID|ALL, release QID|ALL
 * (reply "OK N" = messages affected, "ERR no such message"), active (reply
 * "OK\n", the QIDs being delivered one per line, then ".\n").
 *
 * Trusts: requests are parsed with a fixed line limit; the peer's uid comes
 * from the kernel, never from the request.
 */
#ifndef YUBIN_CONTROL_H
#define YUBIN_CONTROL_H

#include <stdbool.h>
#include "lib/buf.h"

struct event_base;

struct control_handlers {
    void (*wakeup)(void *arg);
    void (*flush)(void *arg);
    /* verb is "delete", "hold" or "release"; qid may be "ALL". Returns the
     * number of messages affected, -1 if the message does not exist. */
    long (*manage)(void *arg, const char *verb, const char *qid);
    /* Fill out with active QIDs, one per line. */
    void (*active)(void *arg, struct buf *out);
    void *arg;
};

/* Daemon: listen on queue_dir/control. -1 with err. */
int control_listen(struct event_base *base, const char *queue_dir, long owner_uid,
                   const struct control_handlers *h, struct buf *err);
void control_close(void);

/* Client: send one request; 0 on "OK" (reply text in reply), 1 on "ERR",
 * -1 when no daemon is listening (errno ENOENT or ECONNREFUSED) or the
 * exchange failed (errno ETIMEDOUT, EPROTO ...). For "active" reply gets
 * the ID lines, each ending in "\n". reply may be NULL. */
int control_request(const char *queue_dir, const char *request, struct buf *reply);

#endif
