/*
 * qid.h - queue IDs that look like Postfix's short IDs (upper-case hex, so
 * pflogsumm, postfix_exporter's mailq parser and admins' scripts work) and
 * are unique across restarts: 12 hex digits of the microsecond clock, kept
 * strictly increasing within the process (the queue file is created with
 * O_EXCL, so a clash between processes is detected, not silent).
 */
#ifndef YUBIN_QID_H
#define YUBIN_QID_H

#include <stdbool.h>

#define QID_SIZE 24   /* room for the ID and a NUL, with margin */

void qid_new(char out[QID_SIZE]);
/* Is s a syntactically valid queue ID (what we generate: [0-9A-F]{6,20})? */
bool qid_valid(const char *s);

#endif
