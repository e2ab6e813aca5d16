/*
 * pipe_exec.c - run one delivery command with the message on its standard
 * input (contract in pipe_exec.h; Postfix's pipe_command.c semantics).
 *
 * There is no shell anywhere: "|command" texts are split here into words
 * with a deliberately small grammar, and anything a shell would have
 * interpreted differently (metacharacters, single quotes, $ expansion) is
 * refused rather than guessed at. The command gets a fixed environment,
 * no descriptors but its three standard ones, its own session (so a time
 * limit kills its children too) and default signal dispositions.
 *
 * Trusts: the argv and identity the caller chose (it already switched to
 * the target's uid/gid). The command's output is untrusted text: it is cut
 * to 4 KiB and made printable before it reaches a log line or a bounce.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "deliver/pipe_exec.h"
#include "lib/buf.h"
#include "lib/util.h"

#define PIPE_EXEC_OUTPUT_MAX 4096
#define PIPE_EXEC_DEFAULT_LIMIT 1000    /* seconds, Postfix's command_time_limit */

/* sysexits.h codes, as Postfix's sys_exits.c maps them */
static const struct {
    int code;
    const char *dsn;
    const char *text;
} pipe_exec_sysexits[] = {
    {64, "5.3.0", "command line usage error"},
    {65, "5.6.0", "data format error"},
    {66, "5.3.0", "cannot open input"},
    {67, "5.1.1", "user unknown"},
    {68, "5.1.2", "host name unknown"},
    {69, "5.3.0", "service unavailable"},
    {70, "5.3.0", "internal software error"},
    {71, "4.3.0", "system resource problem"},
    {72, "5.3.0", "critical OS file missing"},
    {73, "5.2.0", "can't create user output file"},
    {74, "5.3.0", "input/output error"},
    {75, "4.3.0", "temporary failure"},
    {76, "5.5.0", "remote error in protocol"},
    {77, "5.7.0", "permission denied"},
    {78, "5.3.5", "local configuration error"},
};
#define PIPE_EXEC_EX_OSERR 71

/* ---- splitting "|command args" ---- */

static bool pipe_exec_ctl(unsigned char c)
{
    return c < ' ' && c != '\t' ? true : c == 0x7f;
}

void pipe_exec_free_argv(char **argv)
{
    if (!argv)
        return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}

/* Length of a "$NAME" or "${NAME}" reference at p (NAME: letters, digits,
 * underscore, not starting with a digit), 0 if p is not one. Such
 * references are kept verbatim in the argv word: the caller substitutes
 * per-delivery values ($EXTENSION, $USER ...) into that one argument, so a
 * value can never split into several arguments or reach a shell. */
static size_t pipe_exec_var(const char *p)
{
    if (p[0] != '$')
        return 0;
    bool braced = p[1] == '{';
    const char *s = p + 1 + braced;
    size_t n = 0;
    while ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') || s[n] == '_' ||
           (n > 0 && s[n] >= '0' && s[n] <= '9'))
        n++;
    if (n == 0 || (braced && s[n] != '}'))
        return 0;
    return 1 + (size_t)braced + n + (size_t)braced;
}

char **pipe_exec_split(const char *command, const char **err)
{
    /* Outside quotes these mean something to a shell; ' and a leading #
     * too. Inside double quotes only $ and ` still would. */
    static const char meta[] = ";&|<>`$()*?[]{}~'";
    const char *p = command;
    size_t n = 0, cap = 8;
    char **argv = xcalloc(cap, sizeof(*argv));
    struct buf w = BUF_INIT;
    const char *why = NULL;

    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '|')
        p++;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        buf_reset(&w);
        buf_reserve(&w, 1);
        bool started = false;
        while (*p && *p != ' ' && *p != '\t' && !why) {
            unsigned char c = (unsigned char)*p;
            if (pipe_exec_ctl(c)) {
                why = "control characters in command";
            } else if (c == '"') {
                for (p++; *p != '"' && !why; p++) {
                    if (!*p) {
                        why = "unbalanced quotes in command";
                        break;
                    }
                    size_t v = pipe_exec_var(p);
                    if (v) {
                        buf_append(&w, p, v);
                        p += v - 1;
                        continue;
                    }
                    if (*p == '\\' && p[1] && strchr("\"\\$`", p[1]))
                        p++;
                    else if (*p == '$' || *p == '`')
                        why = "shell metacharacters in command";
                    if (pipe_exec_ctl((unsigned char)*p))
                        why = "control characters in command";
                    buf_putc(&w, *p);
                }
                if (!why)
                    p++;
            } else if (c == '\\') {
                if (!p[1] || pipe_exec_ctl((unsigned char)p[1])) {
                    why = "backslash at the end of command";
                    break;
                }
                buf_putc(&w, p[1]);
                p += 2;
            } else if (c == '$' && pipe_exec_var(p)) {
                size_t v = pipe_exec_var(p);
                buf_append(&w, p, v);
                p += v;
            } else if (strchr(meta, c) || (c == '#' && !started)) {
                why = "shell metacharacters in command";
            } else {
                buf_putc(&w, *p++);
            }
            started = true;
        }
        if (why)
            break;
        if (n + 1 >= cap) {
            cap *= 2;
            argv = xrealloc(argv, cap * sizeof(*argv));
        }
        argv[n++] = xstrndup(w.data, w.len);
        argv[n] = NULL;
    }
    buf_free(&w);
    if (!why && n == 0)
        why = "empty command";
    if (!why && argv[0][0] != '/')
        why = "command must be an absolute path";
    if (why) {
        pipe_exec_free_argv(argv);
        if (err)
            *err = why;
        return NULL;
    }
    return argv;
}

/* ---- results ---- */

/* Output made fit for one log line: whitespace runs become one space,
 * other control and 8-bit bytes '_', no trailing space. */
static void pipe_exec_printable(char *dst, size_t size, const char *src)
{
    size_t o = 0;
    bool space = false;
    for (const unsigned char *s = (const unsigned char *)src; *s && o + 2 < size; s++) {
        if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
            space = o > 0;
            continue;
        }
        if (space)
            dst[o++] = ' ';
        space = false;
        dst[o++] = *s < ' ' || *s >= 0x7f ? '_' : (char)*s;
    }
    dst[o] = 0;
}

/* Length of a "4.x.y" / "5.x.y" code at the start of s followed by space or
 * the end, else 0. */
static size_t pipe_exec_dsn_len(const char *s)
{
    if (s[0] != '4' && s[0] != '5')
        return 0;
    size_t i = 1;
    for (int part = 0; part < 2; part++) {
        if (s[i++] != '.')
            return 0;
        size_t d = 0;
        while (s[i] >= '0' && s[i] <= '9' && d < 4) {
            i++;
            d++;
        }
        if (d == 0 || d > 3)
            return 0;
    }
    return s[i] == 0 || s[i] == ' ' ? i : 0;
}

static void pipe_exec_set(struct mbox_result *out, const char *dsn, const char *fmt, ...) PRINTF_LIKE(3, 4);

static void pipe_exec_set(struct mbox_result *out, const char *dsn, const char *fmt, ...)
{
    out->status = dsn[0] == '2' ? DLV_SENT : dsn[0] == '4' ? DLV_DEFER : DLV_BOUNCE;
    snprintf(out->dsn, sizeof(out->dsn), "%s", dsn);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->text, sizeof(out->text), fmt, ap);
    va_end(ap);
}

void pipe_exec_status(int wait_status, const char *output, const char *argv0, struct mbox_result *out)
{
    memset(out, 0, sizeof(*out));
    char text[PIPE_EXEC_OUTPUT_MAX + 1];
    pipe_exec_printable(text, sizeof(text), output ? output : "");
    const char *sep = text[0] ? ". Command output: " : "";

    if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) {
        pipe_exec_set(out, "2.0.0", "delivered to command: %s", argv0);
        return;
    }
    if (!WIFEXITED(wait_status)) {
        pipe_exec_set(out, "4.3.0", "Command died with signal %d: \"%s\"%s%s",
                      WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0, argv0, sep, text);
        return;
    }
    int code = WEXITSTATUS(wait_status);
    size_t dl = pipe_exec_dsn_len(text);
    if (dl > 0) {
        /* "5.7.1 go away": the command chose its own status */
        char dsn[16];
        snprintf(dsn, sizeof(dsn), "%.*s", (int)dl, text);
        const char *rest = text + dl + (text[dl] == ' ');
        if (*rest)
            pipe_exec_set(out, dsn, "%s", rest);
        else
            pipe_exec_set(out, dsn, "Command died with status %d: \"%s\"", code, argv0);
        return;
    }
    for (size_t i = 0; i < ARRAY_LEN(pipe_exec_sysexits); i++) {
        if (pipe_exec_sysexits[i].code == code) {
            pipe_exec_set(out, pipe_exec_sysexits[i].dsn, "%s%s%s", pipe_exec_sysexits[i].text, sep, text);
            return;
        }
    }
    pipe_exec_set(out, "5.3.0", "Command died with status %d: \"%s\"%s%s", code, argv0, sep, text);
}

/* ---- running it ---- */

/* Environment value: the caller's text without control characters. */
static char *pipe_exec_env(const char *name, const char *value)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, name);
    buf_putc(&b, '=');
    for (const char *s = value; *s; s++)
        if (!pipe_exec_ctl((unsigned char)*s) && *s != '\t')
            buf_putc(&b, *s);
    return buf_steal(&b);
}

static char **pipe_exec_environ(const struct pipe_request *r)
{
    const struct {
        const char *name, *value;
    } vars[] = {
        {"HOME", r->home}, {"USER", r->user}, {"LOGNAME", r->user}, {"SHELL", r->shell},
        {"SENDER", r->sender}, {"RECIPIENT", r->recipient},
        {"ORIGINAL_RECIPIENT", r->original_recipient}, {"EXTENSION", r->extension},
        {"DOMAIN", r->domain}, {"LOCAL", r->local},
    };
    char **env = xcalloc(ARRAY_LEN(vars) + 2, sizeof(*env));
    size_t n = 0;
    env[n++] = xstrdup("PATH=/usr/bin:/bin");
    for (size_t i = 0; i < ARRAY_LEN(vars); i++)
        if (vars[i].value)
            env[n++] = pipe_exec_env(vars[i].name, vars[i].value);
    env[n] = NULL;
    return env;
}

/* Descriptors 0-2 may be closed in the caller, so a new pipe could land
 * there and be clobbered by the dup2 calls in the child: move it up. */
static int pipe_exec_high(int fd)
{
    if (fd > 2)
        return fd;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int e = errno;
    close(fd);
    errno = e;
    return nfd;
}

static int pipe_exec_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -1;
    fds[0] = pipe_exec_high(fds[0]);
    fds[1] = pipe_exec_high(fds[1]);
    if (fds[0] < 0 || fds[1] < 0) {
        if (fds[0] >= 0)
            close(fds[0]);
        if (fds[1] >= 0)
            close(fds[1]);
        return -1;
    }
    return 0;
}

/* In the child: only async-signal-safe calls from here to execve. */
static void pipe_exec_child_fail(const char *what, const char *arg, int err)
{
    const char *parts[] = {what, " ", arg, ": ", strerrordesc_np(err), "\n"};
    for (size_t i = 0; i < ARRAY_LEN(parts); i++)
        if (parts[i] && write(2, parts[i], strlen(parts[i])) < 0)
            break;
    _exit(PIPE_EXEC_EX_OSERR);
}

static void pipe_exec_child(const struct pipe_request *r, char **envp, int in_r, int out_w)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    if (dup2(in_r, 0) < 0 || dup2(out_w, 1) < 0 || dup2(out_w, 2) < 0)
        _exit(PIPE_EXEC_EX_OSERR);
    if (close_range(3, ~0U, 0) < 0) {
        long max = sysconf(_SC_OPEN_MAX);
        for (long fd = 3; fd < (max > 0 ? max : 1024); fd++)
            close((int)fd);
    }
    const char *dir = r->cwd ? r->cwd : "/";
    if (chdir(dir) < 0)
        pipe_exec_child_fail("chdir", dir, errno);
    execve(r->argv[0], r->argv, envp);
    pipe_exec_child_fail("execve", r->argv[0], errno);
}

struct pipe_io {
    int in_fd;                  /* command's stdin; -1 once closed */
    int out_fd;                 /* command's stdout+stderr; -1 at EOF */
    char out[PIPE_EXEC_OUTPUT_MAX + 1];
    size_t out_len;
    double deadline;            /* monotonic */
    bool timed_out;
};

/* Read what output is there; keep the first 4 KiB, drop the rest (the
 * command must never block on a full pipe). */
static void pipe_exec_read(struct pipe_io *io)
{
    char tmp[4096];
    for (;;) {
        ssize_t k = read(io->out_fd, tmp, sizeof(tmp));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno == EAGAIN)
            return;
        if (k <= 0) {
            close(io->out_fd);
            io->out_fd = -1;
            return;
        }
        size_t keep = PIPE_EXEC_OUTPUT_MAX - io->out_len;
        if (keep > (size_t)k)
            keep = (size_t)k;
        memcpy(io->out + io->out_len, tmp, keep);
        io->out_len += keep;
        io->out[io->out_len] = 0;
    }
}

static int pipe_exec_wait_ms(const struct pipe_io *io, int cap)
{
    double left = io->deadline - time_monotonic();
    if (left <= 0)
        return 0;
    return left * 1000 < cap ? (int)(left * 1000) + 1 : cap;
}

/* mailbox_copy's writer: feed the command while draining its output.
 * 1 (stop, not an error) when it stopped reading or the time is up. */
static int pipe_exec_feed(void *arg, const char *p, size_t n)
{
    struct pipe_io *io = arg;
    while (n > 0) {
        if (time_monotonic() >= io->deadline) {
            io->timed_out = true;
            return 1;
        }
        struct pollfd pf[2] = {{io->in_fd, POLLOUT, 0}, {io->out_fd, POLLIN, 0}};
        if (poll(pf, io->out_fd >= 0 ? 2 : 1, pipe_exec_wait_ms(io, 1000)) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (io->out_fd >= 0 && pf[1].revents)
            pipe_exec_read(io);
        if (!pf[0].revents)
            continue;
        ssize_t k = write(io->in_fd, p, n);
        if (k < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            /* EPIPE: the command no longer reads. Whether that was a
             * failure is for its exit status to say. */
            return 1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static void pipe_exec_kill(pid_t pid)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
}

enum { PIPE_EXEC_DONE, PIPE_EXEC_TIMEOUT, PIPE_EXEC_LOST };

/* Wait for the command: drain output until EOF (or until the command itself
 * has exited: a background child holding the pipe does not hold us), then
 * reap it, all within the deadline. */
static int pipe_exec_collect(struct pipe_io *io, pid_t pid, int *status)
{
    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid) {
            if (io->out_fd >= 0)
                pipe_exec_read(io);
            return PIPE_EXEC_DONE;
        }
        if (w < 0 && errno != EINTR)
            return PIPE_EXEC_LOST;
        int ms = pipe_exec_wait_ms(io, io->out_fd >= 0 ? 100 : 5);
        if (ms == 0)
            return PIPE_EXEC_TIMEOUT;
        if (io->out_fd >= 0) {
            struct pollfd pf = {io->out_fd, POLLIN, 0};
            if (poll(&pf, 1, ms) > 0)
                pipe_exec_read(io);
        } else {
            struct timespec ts = {0, ms * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
}

void pipe_exec(const struct pipe_request *r, const struct dlv_msg *m, struct mbox_result *out)
{
    memset(out, 0, sizeof(*out));
    const char *argv0 = r->argv && r->argv[0] ? r->argv[0] : "";
    if (argv0[0] != '/') {
        pipe_exec_set(out, "5.3.5", "command is not an absolute path: \"%s\"", argv0);
        return;
    }
    int in[2], outp[2];
    if (pipe_exec_pipe(in) < 0) {
        pipe_exec_set(out, "4.3.0", "cannot create pipe: %s", strerror(errno));
        return;
    }
    if (pipe_exec_pipe(outp) < 0) {
        pipe_exec_set(out, "4.3.0", "cannot create pipe: %s", strerror(errno));
        close(in[0]);
        close(in[1]);
        return;
    }
    char **envp = pipe_exec_environ(r);

    /* EPIPE must come back as an error, not kill us; and our own SIGCHLD
     * handling (or SIG_IGN, which makes waitpid fail) must not take the
     * command's status. */
    struct sigaction ign, dfl, old_pipe, old_chld;
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &ign, &old_pipe);
    sigaction(SIGCHLD, &dfl, &old_chld);

    pid_t pid = fork();
    if (pid == 0)
        pipe_exec_child(r, envp, in[0], outp[1]);
    int fork_errno = errno;
    close(in[0]);
    close(outp[1]);
    for (char **e = envp; *e; e++)
        free(*e);
    free(envp);
    if (pid < 0) {
        close(in[1]);
        close(outp[0]);
        pipe_exec_set(out, "4.3.0", "cannot fork: %s", strerror(fork_errno));
        goto restore;
    }

    long limit = r->time_limit > 0 ? r->time_limit : PIPE_EXEC_DEFAULT_LIMIT;
    struct pipe_io *io = xcalloc(1, sizeof(*io));
    io->in_fd = in[1];
    io->out_fd = outp[0];
    io->deadline = time_monotonic() + (double)limit;
    fcntl(io->in_fd, F_SETFL, O_WRONLY | O_NONBLOCK);
    fcntl(io->out_fd, F_SETFL, O_RDONLY | O_NONBLOCK);

    int c = mailbox_copy(m, &r->hdr, r->from_line ? MAILBOX_COPY_FROM : 0, r->sender, pipe_exec_feed, io);
    int copy_errno = errno;
    close(io->in_fd);
    io->in_fd = -1;

    int status = 0;
    int how = io->timed_out ? PIPE_EXEC_TIMEOUT : pipe_exec_collect(io, pid, &status);
    if (how == PIPE_EXEC_TIMEOUT) {
        pipe_exec_kill(pid);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    if (io->out_fd >= 0)
        close(io->out_fd);

    if (how == PIPE_EXEC_LOST) {
        /* someone else reaped it: the outcome is unknown, so try again later */
        pipe_exec_set(out, "4.3.0", "lost the exit status of command \"%s\"", argv0);
    } else if (how == PIPE_EXEC_TIMEOUT) {
        char text[PIPE_EXEC_OUTPUT_MAX + 1];
        pipe_exec_printable(text, sizeof(text), io->out);
        pipe_exec_set(out, "4.3.0", "Command time limit exceeded: \"%s\"%s%s", argv0,
                      text[0] ? ". Command output: " : "", text);
    } else if (c == MAILBOX_COPY_READ_ERROR || c == MAILBOX_COPY_WRITE_ERROR) {
        pipe_exec_set(out, "4.3.0", "%s: %s",
                      c == MAILBOX_COPY_READ_ERROR ? "error reading queue file" : "error writing to command",
                      strerror(copy_errno));
    } else {
        pipe_exec_status(status, io->out, argv0, out);
    }
    free(io);

restore:
    sigaction(SIGPIPE, &old_pipe, NULL);
    sigaction(SIGCHLD, &old_chld, NULL);
}
