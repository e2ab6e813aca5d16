/*
 * transport.h - named transports: the built-in ones and those an
 * administrator defines in a master.cf-style file (Postfix's master(5)
 * syntax, the columns that matter to delivery).
 *
 * Built in: smtp, relay (an smtp clone, so existing transport tables that
 * name it keep working), lmtp, local, virtual, discard, error.
 * From the file named by transport_definitions (default
 * $config_directory/master.cf, optional), lines like
 *
 *   procmail  unix  -  n  n  -  -  pipe
 *     flags=DRhu user=nobody argv=/usr/bin/procmail -m /etc/procmailrc ${extension}
 *   slow      unix  -  -  n  -  2  smtp
 *     -o smtp_destination_recipient_limit=10
 *
 * define more: service name, type (ignored), private/unpriv/chroot/wakeup
 * (ignored), maxproc (the transport's concurrency limit when not "-"), the
 * command (smtp, lmtp, pipe, local, virtual, discard, error) and "-o
 * name=value" overrides of smtp_* / lmtp_* parameters for that transport
 * only. pipe takes flags= (D: Delivered-To and loop check, O: X-Original-To,
 * R: Return-Path, F: From_ line, h/u: fold host/user to lower case, q:
 * quote), user=name[:group] (never root), argv=... (the rest of the line:
 * the command and its arguments, with $user $extension $recipient $sender
 * $nexthop $domain $mailbox $original_recipient substituted per argument;
 * never run through a shell).
 *
 * Trusts: admin-written configuration; errors name file and line.
 */
#ifndef YUBIN_TRANSPORT_H
#define YUBIN_TRANSPORT_H

#include <stdbool.h>
#include "lib/buf.h"

enum transport_kind { TK_SMTP, TK_LMTP, TK_LOCAL, TK_VIRTUAL, TK_PIPE, TK_DISCARD, TK_ERROR };

struct transport_def {
    char name[64];
    enum transport_kind kind;
    long concurrency;               /* per destination; 0 = default */
    long recipient_limit;           /* recipients per transaction; 0 = default */
    /* pipe */
    char **argv;                    /* NULL-terminated; templates */
    char user[64];
    char group[64];
    char flags[32];
    /* -o overrides, "name=value" */
    char **overrides;
    const char *file;
    int line;
};

int transport_init(struct buf *err);     /* (re)load from the configuration */
const struct transport_def *transport_find(const char *name);
const char *transport_kind_name(enum transport_kind k);
/* The value of parameter name for this transport: a "-o" override when the
 * transport has one, else the global value. */
const char *transport_param(const struct transport_def *t, const char *name);

#endif
