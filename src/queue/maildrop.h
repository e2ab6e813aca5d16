/*
 * maildrop.h - local submission without privileges (Postfix's postdrop +
 * pickup).
 *
 * The sendmail command (any user) writes a complete queue file
 * (queue_file.h format) into queue_directory/maildrop/ under a temporary
 * name, fsyncs it, renames it to its final name, fsyncs the directory and
 * pokes the daemon through the control socket. When the daemon is not
 * running the file simply waits and is picked up at start: local mail is
 * durable as soon as sendmail exits 0.
 *
 * pickup, in the daemon, validates each file as untrusted input (it was
 * written by an unprivileged user), takes only the sender, recipients, DSN
 * parameters, -F full name and content from it, records the owner's uid,
 * and feeds it through cleanup (CLEANUP_LOCAL) like any other message. It
 * logs "pickup[pid]: QID: uid=N from=<sender>" as Postfix does. The
 * maildrop file is removed only after the new queue file is committed.
 */
#ifndef YUBIN_MAILDROP_H
#define YUBIN_MAILDROP_H

#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
#include "queue/envelope.h"

struct event_base;
struct queue;

/* cleanup adds up to this many bytes of headers (Received:, Message-Id:,
 * Date:, From:) to a local submission; the submitting side keeps that much
 * below message_size_limit so that pickup never has to refuse a message
 * sendmail already accepted. */
#define MAILDROP_HEADER_RESERVE 1024
/* The content size limit for local submissions (0 = none). */
uint64_t maildrop_size_limit(void);

struct maildrop_writer;
/* Start a maildrop file; name_out gets its final name (a queue ID).
 * NULL with errno on failure. */
struct maildrop_writer *maildrop_create(const char *queue_dir, struct envelope *env,
                                        char *name_out, size_t name_len);
int maildrop_write(struct maildrop_writer *w, const void *data, size_t len);
/* Finish durably and poke the daemon. 0, or -1 with errno (file removed).
 * Either way the writer is freed. */
int maildrop_commit(struct maildrop_writer *w);
void maildrop_abort(struct maildrop_writer *w);
/* The temporary file's path until commit (sendmail's signal handler
 * removes it when the user interrupts the command). */
const char *maildrop_temp_path(const struct maildrop_writer *w);

/* The SMTP server's sink (smtpd.h) for "sendmail -bs": each message
 * becomes a maildrop file, so -bs mail is handled exactly like other local
 * submissions. Fills out; queue_dir is copied. */
struct msg_sink;
void maildrop_sink(struct msg_sink *out, const char *queue_dir);

/* Daemon side: scan maildrop/ now and every queue_run_delay, and when
 * poked (pickup_poke). */
void pickup_start(struct event_base *base, struct queue *q);
void pickup_poke(void);

#endif
