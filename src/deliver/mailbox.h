/*
 * mailbox.h - writing one message into a Maildir, an mbox file or a plain
 * file, the way Postfix's local(8) and virtual(8) do (conventions.md 7):
 *
 * Maildir: tmp/ file created O_EXCL (mode 0600), content written, fsynced,
 *   link()ed into new/ under a unique name
 *   "SECONDS.VdevIinoMusec.HOST", tmp/ file unlinked, new/ fsynced.
 *   Missing tmp/ new/ cur/ are created (0700). LF line ends, no From_ line.
 * mbox: "From SENDER  DATE" line (two spaces, asctime; MAILER-DAEMON for the
 *   null sender), body lines starting with "From " quoted as ">From ", a
 *   blank line after the message; locked with a USER.lock dotlock (O_EXCL,
 *   stale after 500 s) and fcntl(F_SETLK) on the file, both non-blocking
 *   with bounded retries (busy: defer 4.2.0); on any write error the file
 *   is truncated back to its old size; fsynced on success. A new mbox is
 *   created mode 0600.
 * Both prepend "Return-Path: <sender>", "X-Original-To: <orig>",
 * "Delivered-To: <final>" (each only when given).
 *
 * Safety: these functions run in a child that already has the target's
 * uid/gid. They refuse symbolic links (O_NOFOLLOW, lstat) and files with a
 * link count other than 1, refuse non-regular files (except a character
 * device, for /dev/null as a sink), and check that the file they opened is
 * the one they checked (fstat dev/ino). owner_uid >= 0 additionally
 * requires the mailbox to belong to that uid (used when yubin runs as an
 * ordinary user: it delivers only into mailboxes it owns).
 *
 * Errors map to Postfix's codes: EAGAIN/busy 4.2.0 (defer), ENOSPC 4.3.0
 * (defer), EDQUOT/EFBIG or mailbox_size_limit 5.2.2 (bounce), others 5.2.0
 * (bounce) with a text like "cannot update mailbox /var/mail/u: Permission
 * denied".
 *
 * Trusts: the path (computed by local.c from the passwd entry or the admin's
 * tables, never from a remote address without validation); content is
 * copied, not interpreted, except the "From " quoting.
 */
#ifndef YUBIN_MAILBOX_H
#define YUBIN_MAILBOX_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>
#include "deliver/deliver.h"
#include "lib/buf.h"

struct mbox_headers {
    const char *sender;         /* Return-Path and the From_ line; "" = null sender */
    const char *original_to;    /* X-Original-To, or NULL */
    const char *delivered_to;   /* Delivered-To, or NULL */
};

struct mbox_result {
    enum dlv_status status;     /* DLV_SENT, DLV_DEFER or DLV_BOUNCE */
    char dsn[16];
    char text[512];             /* "delivered to maildir" / "delivered to mailbox" / error */
};

/* dir: the Maildir (with or without trailing '/'). */
void mailbox_maildir(const char *dir, const struct mbox_headers *h, const struct dlv_msg *m,
                     long owner_uid, struct mbox_result *out);
/* path: an mbox file (also used for "/file" alias targets: then text says
 * "delivered to file: PATH"). as_file selects that wording. */
void mailbox_mbox(const char *path, const struct mbox_headers *h, const struct dlv_msg *m,
                  long owner_uid, bool as_file, struct mbox_result *out);

/* Set the total time the mbox lock retries may take (dotlock and fcntl
 * share it; default 5000 ms). Tests shorten it. */
void mailbox_set_lock_wait_ms(long ms);

/* The enhanced status code for a failed write or open with this errno:
 * EAGAIN/EWOULDBLOCK/ESTALE 4.2.0, ENOSPC 4.3.0 (also ENOMEM, EMFILE,
 * ENFILE: resources that come back), EDQUOT/EFBIG 5.2.2, others 5.2.0. */
const char *mailbox_errno_dsn(int err);

/*
 * The copy every mailbox, file and command delivery makes (shared with
 * pipe_exec.c): the optional From_ line, the prepended headers, then the
 * queued content with CRLF turned into LF and a final LF added when the
 * content lacks one. Header values are copied with control characters
 * replaced by '_', so a value can never start a new header.
 */
enum {
    MAILBOX_COPY_FROM = 1,      /* "From SENDER  DATE" line first */
    MAILBOX_COPY_QUOTE = 2,     /* ">From " for lines starting with "From " */
    MAILBOX_COPY_BLANK = 4,     /* an empty line after the message */
};
/* from_sender is the From_ line's sender (NULL or "" = MAILER-DAEMON).
 * Results of mailbox_copy: 0 done; MAILBOX_COPY_STOPPED when the writer
 * returned 1 (it wants no more, not an error); MAILBOX_COPY_WRITE_ERROR
 * when it returned -1 (errno as it left it); MAILBOX_COPY_READ_ERROR when
 * the queue file could not be read (errno set). */
enum { MAILBOX_COPY_STOPPED = 1, MAILBOX_COPY_WRITE_ERROR = -1, MAILBOX_COPY_READ_ERROR = -2 };
int mailbox_copy(const struct dlv_msg *m, const struct mbox_headers *h, unsigned flags, const char *from_sender,
                 int (*write_fn)(void *arg, const char *p, size_t n), void *arg);

/* The From_ line without its LF: "From SENDER  Www Mmm dd hh:mm:ss yyyy"
 * (asctime of localtime(now), in English whatever the locale). */
void mailbox_from_line(struct buf *out, const char *sender, time_t now);

#endif
