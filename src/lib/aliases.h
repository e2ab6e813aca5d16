/*
 * aliases.h - /etc/aliases in the syntax of Postfix's aliases(5).
 *
 *     # comment (first non-blank character '#')
 *     postmaster: root
 *     root: admin@example.com, /var/log/root.mbox
 *     list: "|/usr/bin/procmail -a foo",
 *         :include:/etc/yubin/list.members
 *     "odd name": someone
 *
 * Lines as in yubin.conf: a line starting with whitespace continues the
 * previous one; comment and blank lines are ignored, also between continued
 * lines. There is no backslash-newline continuation: a line ending in '\'
 * is an error (it would otherwise silently start a new alias).
 *
 * Names are local parts, folded to lower case; quote them with "..." when
 * they contain whitespace, '#', ':' or '@'. Targets are separated by commas
 * (commas inside "..." do not count) and are classified:
 *   |command          pipe to command (quote it when it has spaces or commas)
 *   /file/name        append to a file (a trailing '/' means a maildir)
 *   :include:/file    one more list of targets, read at delivery time
 *   anything else     an address: "user" or "user@domain" (a leading '\',
 *                     Sendmail's "no further aliasing", is removed and
 *                     remembered in ->escaped)
 * A target written entirely in double quotes is unquoted first.
 *
 * A name defined twice: the first definition is used and a warning names
 * both lines (last-wins would let a line appended at the end of the file
 * silently redirect mail). Syntax and validity problems are collected in the
 * table, not logged: aliases_validate() returns them all, so newaliases can
 * print every problem at once, and a delivery agent can use the good entries
 * of a file that has one bad line.
 *
 * Limits: a physical line at most CONFIG_MAX_LINE bytes, a logical line
 * (with its continuations) at most ALIASES_MAX_LOGICAL, a file at most
 * ALIASES_MAX_FILE; a bigger file is refused as a whole.
 *
 * Trusts: the alias file is written by the administrator (root). Nothing
 * here runs a command or opens a target; that is local delivery's job.
 */
#ifndef YUBIN_ALIASES_H
#define YUBIN_ALIASES_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/buf.h"

#define ALIASES_MAX_FILE (16 * 1024 * 1024)
#define ALIASES_MAX_LOGICAL (1024 * 1024)

enum alias_kind { ALIAS_ADDRESS, ALIAS_FILE, ALIAS_COMMAND, ALIAS_INCLUDE };

struct alias_target {
    enum alias_kind kind;
    /* ADDRESS: the address; FILE: the path; COMMAND: the command without
     * '|'; INCLUDE: the path without ":include:". */
    char *value;
    bool escaped;           /* ADDRESS written as \user */
    const char *file;       /* the alias file (owned by the table) */
    int line;               /* physical line the target is on */
};

struct alias_entry {
    char *name;             /* lower case */
    struct alias_target *targets;
    size_t ntargets;
    int line;               /* line of "name:" */
    /* The definition had an error; targets holds only the good ones. Local
     * delivery should defer mail for it rather than deliver to part of it. */
    bool broken;
};

struct aliases;

/* Parse a file / a string (name is used in messages). NULL only when the
 * file cannot be read or is too big (message in err); problems in the text
 * are kept in the table (aliases_validate). */
struct aliases *aliases_parse_file(const char *path, struct buf *err);
struct aliases *aliases_parse_string(const char *text, size_t len, const char *name);
void aliases_free(struct aliases *a);

/* Look a name up (case-insensitive); NULL when not there. */
const struct alias_entry *aliases_lookup(const struct aliases *a, const char *name);
/* Entries in file order (duplicates left out). */
size_t aliases_count(const struct aliases *a);
const struct alias_entry *aliases_entry(const struct aliases *a, size_t i);
const char *aliases_file(const struct aliases *a);

/* Append every error, one per line, "FILE, line N: ..."; returns how many. */
size_t aliases_validate(const struct aliases *a, struct buf *err);
/* The same for warnings (duplicate names). */
size_t aliases_warnings(const struct aliases *a, struct buf *out);

/* newaliases: parse and validate path; warnings go to msg_warn (also a
 * missing :include: file); errors to err. 0 when there is no error. */
int aliases_check_file(const char *path, struct buf *err);

const char *aliases_kind_name(enum alias_kind k);   /* "address", "file", ... */

#endif
