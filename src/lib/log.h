/*
 * log.h - mail log lines in Postfix's format, so pflogsumm, fail2ban,
 * logwatch and postfix_exporter read yubin's log unchanged.
 *
 * A line is "Mmm dd HH:MM:SS HOST NAME/PROG[PID]: TEXT" where NAME is the
 * syslog_name parameter (default "yubin") and PROG the component speaking
 * ("smtpd", "cleanup", "qmgr", "smtp", "local", "pipe", "pickup", ...).
 * Destinations: maillog_file (a path; "/dev/stdout" and "/dev/stderr" work),
 * else syslog(3) with facility LOG_MAIL, or stderr when the caller asks for
 * it (the embedded default and every command-line tool).
 *
 * Severities (style.md): msg_info for events, msg_warn for a problem that is
 * handled, msg_error for a failed operation, msg_fatal for a broken
 * environment (exit 1 with a clear message), msg_panic for a bug (abort, so
 * there is a core).
 */
#ifndef YUBIN_LOG_H
#define YUBIN_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include "lib/util.h"

/* LOG_TO_TERMINAL: command-line tools, short lines "NAME: warning: text" on
 * stderr (like "postconf: warning: ..."). */
enum log_dest { LOG_TO_STDERR, LOG_TO_FILE, LOG_TO_SYSLOG, LOG_TO_TERMINAL };

/* Configure logging. name is the syslog_name; path is used for LOG_TO_FILE.
 * Can be called again (reload); until called, lines go to stderr. */
void log_open(const char *name, enum log_dest dest, const char *path);

/* The program ("smtpd", ...) used by msg_* calls that do not name one. */
void log_set_program(const char *prog);

/* Also copy every line to stderr, without the timestamp/host prefix
 * (command-line tools: "yubin: warning: ..."). */
void log_also_stderr(bool on);

/* Event lines of a named component: log_mail("smtpd", "connect from %s", x). */
void log_mail(const char *prog, const char *fmt, ...) PRINTF_LIKE(2, 3);
void log_vmail(const char *prog, int prio, const char *prefix, const char *fmt, va_list ap) PRINTF_LIKE(4, 0);

void msg_info(const char *fmt, ...) PRINTF_LIKE(1, 2);
void msg_warn(const char *fmt, ...) PRINTF_LIKE(1, 2);
void msg_error(const char *fmt, ...) PRINTF_LIKE(1, 2);
NORETURN void msg_fatal(const char *fmt, ...) PRINTF_LIKE(1, 2);
NORETURN void msg_panic(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* Number of lines written with msg_warn (tests and 'yubin check' use it). */
unsigned long log_warning_count(void);

#endif
