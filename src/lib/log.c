/*
 * log.c - Postfix-format mail log lines (see log.h).
 *
 * Writes one line with one write(2) on an O_APPEND descriptor, so lines from
 * several processes (daemon, sendmail, fetch) never interleave mid-line.
 */
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static char log_name[64] = "yubin";
static const char *log_prog = "yubin";
static enum log_dest log_dest = LOG_TO_STDERR;
static int log_fd = -1;
static bool log_stderr_copy;
static unsigned long warnings;

void log_open(const char *name, enum log_dest dest, const char *path)
{
    snprintf(log_name, sizeof(log_name), "%s", name && *name ? name : "yubin");
    if (log_fd >= 0 && log_fd != STDERR_FILENO && log_fd != STDOUT_FILENO)
        close(log_fd);
    log_fd = -1;
    log_dest = dest;
    if (dest == LOG_TO_FILE) {
        if (strcmp(path, "/dev/stderr") == 0)
            log_fd = STDERR_FILENO;
        else if (strcmp(path, "/dev/stdout") == 0)
            log_fd = STDOUT_FILENO;
        else
            log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (log_fd < 0) {
            int e = errno;
            log_dest = LOG_TO_STDERR;
            msg_warn("cannot open maillog_file %s: %s; logging to stderr", path, strerror(e));
        }
    } else if (dest == LOG_TO_SYSLOG) {
        openlog(log_name, LOG_PID | LOG_NDELAY, LOG_MAIL);
    }
}

void log_set_program(const char *prog)
{
    log_prog = prog;
}

void log_also_stderr(bool on)
{
    log_stderr_copy = on;
}

unsigned long log_warning_count(void)
{
    return warnings;
}

void log_vmail(const char *prog, int prio, const char *prefix, const char *fmt, va_list ap)
{
    int saved = errno;
    char text[4096];
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    if (n < 0)
        snprintf(text, sizeof(text), "(unformattable log message)");
    /* Never let a CR/LF from untrusted data split a log line. */
    for (char *p = text; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    if (!prog)
        prog = log_prog;

    if (log_dest == LOG_TO_SYSLOG) {
        syslog(prio, "%s%s", prefix, text);
    } else if (log_dest == LOG_TO_TERMINAL) {
        char line[4608];
        int len = snprintf(line, sizeof(line), "%s: %s%s\n", log_name, prefix, text);
        if (len > 0)
            (void)write_all(STDERR_FILENO, line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
    } else {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
        char line[4608];
        int len = snprintf(line, sizeof(line), "%s %s %s/%s[%ld]: %s%s\n", stamp, host_name(),
                           log_name, prog, (long)getpid(), prefix, text);
        if (len < 0)
            len = 0;
        if ((size_t)len >= sizeof(line)) {
            len = sizeof(line) - 1;
            line[len - 1] = '\n';
        }
        int fd = log_dest == LOG_TO_FILE ? log_fd : STDERR_FILENO;
        (void)write_all(fd, line, (size_t)len);
    }
    if (log_stderr_copy && log_dest != LOG_TO_STDERR && log_dest != LOG_TO_TERMINAL) {
        char line[4608];
        int len = snprintf(line, sizeof(line), "%s: %s%s\n", log_name, prefix, text);
        if (len > 0)
            (void)write_all(STDERR_FILENO, line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
    }
    errno = saved;
}

void log_mail(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmail(prog, LOG_INFO, "", fmt, ap);
    va_end(ap);
}

void msg_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmail(NULL, LOG_INFO, "", fmt, ap);
    va_end(ap);
}

void msg_warn(const char *fmt, ...)
{
    warnings++;
    va_list ap;
    va_start(ap, fmt);
    log_vmail(NULL, LOG_WARNING, "warning: ", fmt, ap);
    va_end(ap);
}

void msg_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmail(NULL, LOG_ERR, "error: ", fmt, ap);
    va_end(ap);
}

void msg_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmail(NULL, LOG_CRIT, "fatal: ", fmt, ap);
    va_end(ap);
    exit(1);
}

void msg_panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmail(NULL, LOG_CRIT, "panic: ", fmt, ap);
    va_end(ap);
    abort();
}
