/*
 * pipe_exec.h - running a delivery command: mailbox_command, "|command"
 * aliases and .forward entries, and pipe transports (procmail ...).
 *
 * Never a shell: the command is an argv, executed with execve after the
 * caller has switched to the target uid/gid. ("|command" text from an alias
 * is split into words by pipe_exec_split(), honouring simple double quotes;
 * shell metacharacters in it are an error, not a feature. "$NAME" and
 * "${NAME}" references are kept in their word for the caller to substitute
 * per delivery, so Postfix's usual mailbox_command = /usr/bin/procmail -a
 * "$EXTENSION" works, with the value always one argument.) The environment
 * is fixed and sanitised: PATH=/usr/bin:/bin, HOME, USER, LOGNAME, SHELL,
 * SENDER, RECIPIENT, ORIGINAL_RECIPIENT, EXTENSION, DOMAIN, LOCAL, each
 * stripped of control characters. The message is written to the command's
 * standard input (LF line ends; with the prepended headers and optional
 * From_ line), its output (stdout+stderr) is captured up to 4 KiB for the
 * status text, and it is killed after time_limit seconds.
 *
 * Results as Postfix's pipe(8)/local(8): exit 0 -> sent; output starting
 * with an enhanced status code "4.x.y text"/"5.x.y text" -> that code;
 * otherwise sysexits: 64->5.3.0, 65->5.6.0, 66->5.3.0, 67->5.1.1,
 * 68->5.1.2, 69->5.3.0, 70->5.3.0, 71->4.3.0 (defer), 72->5.3.0,
 * 73->5.2.0, 74->5.3.0, 75->4.3.0 (defer), 76->5.5.0, 77->5.7.0,
 * 78->5.3.5; other non-zero -> 5.3.0 "Command died with status N";
 * killed by a signal or the time limit -> 4.3.0 defer.
 */
#ifndef YUBIN_PIPE_EXEC_H
#define YUBIN_PIPE_EXEC_H

#include <stdbool.h>
#include <sys/types.h>
#include "deliver/deliver.h"
#include "deliver/mailbox.h"

struct pipe_request {
    char *const *argv;          /* argv[0] is an absolute path */
    const char *home, *user, *shell;
    const char *sender, *recipient, *original_recipient, *extension, *domain, *local;
    long time_limit;            /* seconds */
    bool from_line;             /* prepend a From_ line (pipe flag F) */
    struct mbox_headers hdr;    /* Return-Path / X-Original-To / Delivered-To to prepend (NULL fields: none) */
    const char *cwd;            /* working directory, NULL = "/" */
};

/* Run it (blocking; call in a child that has the target's identity).
 * text in out is "delivered to command: ARGV0" on success. */
void pipe_exec(const struct pipe_request *r, const struct dlv_msg *m, struct mbox_result *out);

/* Split a "|command args" text into argv (malloc'd, NULL-terminated).
 * NULL with *err set when it contains shell syntax we refuse. */
char **pipe_exec_split(const char *command, const char **err);
void pipe_exec_free_argv(char **argv);

/* Map an exit status / output to a result (exported for unit tests). */
void pipe_exec_status(int wait_status, const char *output, const char *argv0, struct mbox_result *out);

#endif
