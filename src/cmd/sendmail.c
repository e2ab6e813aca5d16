/*
 * sendmail.c - the sendmail command line (/usr/sbin/sendmail, mailq,
 * newaliases), as mutt, cron, mailx, PHP, git and every other Unix program
 * call it (conventions.md section 1).
 *
 * The default mode reads a message from stdin, makes its line ends CRLF,
 * finds the recipients (argv, and with -t the To/Cc/Bcc headers) and writes
 * the message into the maildrop (maildrop.c). It needs no daemon and no
 * privileges: when sendmail exits 0 the message is on stable storage and
 * the daemon's pickup takes it from there; headers are completed by cleanup
 * (Message-Id, Date, From, Received; Bcc removed). Nothing is printed on
 * success: cron and scripts take any output as a problem report.
 *
 * Exit status is a sysexits.h code (0 queued, 64 usage or no recipients,
 * 65 bad input, 67 bad address, 73/75 queue not writable permanently /
 * for now, 78 configuration), never 75 for a permanent problem because PHP
 * counts 75 as success.
 *
 * Trusts: nothing from argv or stdin (any local user, or data a program
 * passes through); the configuration file.
 */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <sysexits.h>
#include <unistd.h>
#include <event2/event.h>

#include "cmd/commands.h"
#include "cmd/sendmail_args.h"
#include "lib/addr.h"
#include "lib/aliases.h"
#include "lib/buf.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/params.h"
#include "lib/util.h"
#include "queue/cleanup.h"
#include "queue/control.h"
#include "queue/maildrop.h"
#include "queue/queue_file.h"
#include "receive/relay_check.h"
#include "receive/smtpd.h"

#define SENDMAIL_FULLNAME_MAX 255

static int sendmail_fail(int status, const char *fmt, ...) PRINTF_LIKE(2, 3);
static int sendmail_fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmail(NULL, LOG_CRIT, "fatal: ", fmt, ap);
    va_end(ap);
    return status;
}

static void sendmail_error(const char *fmt, ...) PRINTF_LIKE(1, 2);
static void sendmail_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmail(NULL, LOG_ERR, "error: ", fmt, ap);
    va_end(ap);
}

/* Queue write errors: the caller may retry (75) only when retrying can help. */
static int sendmail_errno_status(int e)
{
    switch (e) {
    case ENOSPC:
    case EDQUOT:
    case EIO:
    case EAGAIN:
    case EINTR:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
        return EX_TEMPFAIL;
    default:
        return EX_CANTCREAT;
    }
}

/* For messages that quote user input: control characters shown as '?'. */
static char *sendmail_printable(const char *s)
{
    char *p = xstrdup(s);
    for (char *q = p; *q; q++)
        if ((unsigned char)*q < 32 || *q == 127)
            *q = '?';
    return p;
}

/* ---- stdin, line by line ---- */

struct sendmail_input {
    int fd;
    char data[65536];
    size_t pos, len;
};

/* Next line (without its LF) into line. 1 = a line, 0 = end of input,
 * -1 = read error, -2 = the line alone is longer than max (0 = no limit). */
static int sendmail_read_line(struct sendmail_input *in, struct buf *line, uint64_t max)
{
    buf_reset(line);
    bool got = false;
    for (;;) {
        if (in->pos == in->len) {
            ssize_t n;
            do
                n = read(in->fd, in->data, sizeof(in->data));
            while (n < 0 && errno == EINTR);
            if (n < 0)
                return -1;
            if (n == 0)
                return got ? 1 : 0;
            in->pos = 0;
            in->len = (size_t)n;
        }
        got = true;
        const char *p = in->data + in->pos;
        size_t avail = in->len - in->pos;
        const char *nl = memchr(p, '\n', avail);
        size_t take = nl ? (size_t)(nl - p) : avail;
        buf_append(line, p, take);
        in->pos += take + (nl ? 1 : 0);
        if (nl)
            return 1;
        if (max > 0 && line->len > max)
            return -2;
    }
}

/* LF or CRLF in, CRLF out; a bare CR is never stored (it becomes a space). */
static void sendmail_canonical(struct buf *line)
{
    if (line->len > 0 && line->data[line->len - 1] == '\r')
        line->len--;
    for (size_t i = 0; i < line->len; i++)
        if (line->data[i] == '\r')
            line->data[i] = ' ';
    buf_append(line, "\r\n", 2);
}

/* UUCP/mbox leftovers at the very start: "From ", ">From ", ">>From " ... */
static bool sendmail_from_line(const struct buf *line)
{
    size_t i = 0;
    while (i < line->len && line->data[i] == '>')
        i++;
    return line->len - i >= 5 && memcmp(line->data + i, "From ", 5) == 0;
}

/* ---- the message being submitted ---- */

struct sendmail_field {
    size_t off, len;
};

struct sendmail_msg {
    const struct sendmail_args *a;
    struct envelope env;
    unsigned addr_flags;
    /* primary header block, until the maildrop file exists */
    bool in_header;
    struct buf hdr;
    size_t hdr_in;
    struct sendmail_field *fields;
    size_t nfields, cap;
    bool in_field;
    long received;
    uint64_t size;
    struct maildrop_writer *w;
    char name[QID_SIZE];
    /* -t extraction */
    const char *hdr_name;       /* header being parsed, for messages */
    char *bad_addr;             /* first unusable address found */
    enum addr_error bad_err;
};

/* Removes the temporary maildrop file when the user interrupts us. */
static char sendmail_tmp_path[4096];

static void sendmail_on_signal(int sig)
{
    (void)sig;
    if (sendmail_tmp_path[0])
        (void)unlink(sendmail_tmp_path);
    _exit(EX_TEMPFAIL);
}

static void sendmail_guard(const char *path)
{
    if (path)
        snprintf(sendmail_tmp_path, sizeof(sendmail_tmp_path), "%s", path);
    else
        sendmail_tmp_path[0] = 0;
}

static void sendmail_add_rcpt(struct sendmail_msg *m, const char *addr, unsigned flags, enum addr_error *err,
                              bool *utf8)
{
    struct mailaddr a;
    enum addr_error e = addr_parse_plain(addr, flags, &a);
    if (e != ADDR_OK) {
        *err = e;
        return;
    }
    if (a.utf8)
        *utf8 = true;
    envelope_add_rcpt(&m->env, a.addr, NULL, m->a->notify);
}

static void sendmail_header_addr(void *arg, const char *addr)
{
    struct sendmail_msg *m = arg;
    enum addr_error e = ADDR_OK;
    bool utf8 = false;
    sendmail_add_rcpt(m, addr, m->addr_flags, &e, &utf8);
    if (utf8)
        m->env.smtputf8 = true;
    if (e != ADDR_OK && !m->bad_addr) {
        m->bad_addr = sendmail_printable(addr);
        m->bad_err = e;
    }
}

static bool sendmail_field_is(const struct sendmail_msg *m, const struct sendmail_field *f, const char *name)
{
    size_t n = header_name_len(m->hdr.data + f->off, f->len);
    return n == strlen(name) && ascii_strncasecmp(m->hdr.data + f->off, name, n) == 0;
}

/* -t: recipients from To/Cc/Bcc, or only from the Resent- ones when the
 * message has any (it is being re-sent), added to those on argv. */
static int sendmail_extract(struct sendmail_msg *m)
{
    static const char *const plain[] = {"To", "Cc", "Bcc"};
    static const char *const resent[] = {"Resent-To", "Resent-Cc", "Resent-Bcc"};
    const char *const *names = plain;
    for (size_t i = 0; i < m->nfields; i++)
        for (size_t k = 0; k < ARRAY_LEN(resent); k++)
            if (sendmail_field_is(m, &m->fields[i], resent[k]))
                names = resent;

    for (size_t i = 0; i < m->nfields; i++) {
        const struct sendmail_field *f = &m->fields[i];
        const char *name = NULL;
        for (size_t k = 0; k < 3; k++)
            if (sendmail_field_is(m, f, names[k]))
                name = names[k];
        if (!name)
            continue;
        const char *text = m->hdr.data + f->off;
        const char *colon = memchr(text, ':', f->len);
        size_t skip = (size_t)(colon - text) + 1;
        size_t vlen = f->len - skip;
        /* Without the final CRLF; folded line ends stay for the parser. */
        if (vlen >= 2 && text[skip + vlen - 2] == '\r')
            vlen -= 2;
        char *value = xstrndup(text + skip, vlen);
        m->hdr_name = name;
        int n = addr_list_parse(value, sendmail_header_addr, m);
        free(value);
        if (n < 0)
            return sendmail_fail(EX_DATAERR, "cannot parse the addresses in the %s: header", name);
        if (m->bad_addr) {
            int r = sendmail_fail(EX_DATAERR, "bad address in the %s: header: %s: %s", name, m->bad_addr,
                                  addr_strerror(m->bad_err));
            return r;
        }
    }
    return 0;
}

/* The header block is known: recipients are complete, so the maildrop file
 * can be created and what was held back written. */
static int sendmail_end_header(struct sendmail_msg *m)
{
    m->in_header = false;
    m->in_field = false;
    if (m->a->extract) {
        int r = sendmail_extract(m);
        if (r)
            return r;
    }
    if (m->env.nrcpt == 0)
        return sendmail_fail(EX_USAGE, "No recipient addresses found in message header");
    if (m->env.nrcpt > QF_RCPT_MAX)
        return sendmail_fail(EX_USAGE, "too many recipients (%zu; at most %d)", m->env.nrcpt, QF_RCPT_MAX);
    long limit = var_hopcount_limit;
    if (limit > 0 && m->received + 1 >= limit)
        return sendmail_fail(EX_DATAERR, "too many hops: the message has %ld Received: headers (hopcount_limit "
                                         "= %ld); is it looping?", m->received, limit);

    m->w = maildrop_create(var_queue_directory, &m->env, m->name, sizeof(m->name));
    if (!m->w) {
        int e = errno;
        if (e == EINVAL)
            return sendmail_fail(EX_DATAERR, "the envelope cannot be stored (bad address or -F/-V value)");
        return sendmail_fail(sendmail_errno_status(e), "cannot create a file in %s/maildrop: %s",
                             var_queue_directory, strerror(e));
    }
    sendmail_guard(maildrop_temp_path(m->w));
    if (m->hdr.len > 0 && maildrop_write(m->w, m->hdr.data, m->hdr.len) != 0) {
        int e = errno;
        return sendmail_fail(sendmail_errno_status(e), "cannot write the message: %s", strerror(e));
    }
    buf_free(&m->hdr);
    free(m->fields);
    m->fields = NULL;
    m->nfields = m->cap = 0;
    return 0;
}

static int sendmail_body(struct sendmail_msg *m, const char *p, size_t n)
{
    if (maildrop_write(m->w, p, n) != 0) {
        int e = errno;
        return sendmail_fail(sendmail_errno_status(e), "cannot write the message: %s", strerror(e));
    }
    return 0;
}

static int sendmail_too_big(void)
{
    return sendmail_fail(EX_DATAERR, "message file too big (message_size_limit = %ld bytes, including the "
                                     "headers the mail system adds)", var_message_size_limit);
}

/* One canonical line (CRLF included). The header block is recognised by the
 * same rules as cleanup's, so both agree where it ends. */
static int sendmail_line(struct sendmail_msg *m, const char *line, size_t len)
{
    uint64_t limit = maildrop_size_limit();
    if (limit > 0 && (m->size > limit || len > limit - m->size))
        return sendmail_too_big();
    m->size += len;
    if (!m->in_header)
        return sendmail_body(m, line, len);

    size_t hlimit = var_header_size_limit > 0 ? (size_t)var_header_size_limit : SIZE_MAX;
    bool fits = len <= hlimit && m->hdr_in <= hlimit - len;
    size_t name_len = header_name_len(line, len);
    bool blank = len == 2;
    bool cont = (line[0] == ' ' || line[0] == '\t') && m->in_field;
    if (!fits || blank || (!cont && name_len == 0)) {
        int r = sendmail_end_header(m);
        return r ? r : sendmail_body(m, line, len);
    }
    m->hdr_in += len;
    if (cont) {
        m->fields[m->nfields - 1].len += len;
    } else {
        if (m->nfields == m->cap) {
            m->cap = m->cap ? m->cap * 2 : 16;
            m->fields = xrealloc(m->fields, m->cap * sizeof(*m->fields));
        }
        m->fields[m->nfields++] = (struct sendmail_field){m->hdr.len, len};
        m->in_field = true;
        if (name_len == 8 && ascii_strncasecmp(line, "Received", 8) == 0)
            m->received++;
    }
    buf_append(&m->hdr, line, len);
    return 0;
}

/* Full name: -F, else $NAME, else the GECOS name when sending as ourselves. */
static char *sendmail_fullname(const struct sendmail_args *a, const struct passwd *pw)
{
    const char *src = a->fullname;
    char *gecos = NULL;
    if (!src)
        src = getenv("NAME");
    if (!src && !a->sender && pw && pw->pw_gecos && *pw->pw_gecos) {
        /* "Real Name,room,phone"; '&' stands for the capitalised login. */
        struct buf g = BUF_INIT;
        for (const char *p = pw->pw_gecos; *p && *p != ','; p++) {
            if (*p == '&' && pw->pw_name[0]) {
                buf_putc(&g, (char)ascii_toupper((unsigned char)pw->pw_name[0]));
                buf_puts(&g, pw->pw_name + 1);
            } else {
                buf_putc(&g, *p);
            }
        }
        src = gecos = buf_steal(&g);
    }
    if (!src)
        return NULL;
    /* The queue file refuses control characters; a header must not get them. */
    struct buf out = BUF_INIT;
    for (const char *p = src; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        buf_putc(&out, ch < 32 || ch == 127 ? ' ' : (char)ch);
    }
    free(gecos);
    char *s = buf_steal(&out);
    char *t = str_trim(s);
    char *res = NULL;
    if (*t) {
        size_t n = strlen(t);
        if (n > SENDMAIL_FULLNAME_MAX) {
            n = SENDMAIL_FULLNAME_MAX;
            while (n > 0 && ((unsigned char)t[n] & 0xC0) == 0x80)
                n--;
        }
        res = xstrndup(t, n);
    }
    free(s);
    return res;
}

static int sendmail_argv_rcpts(struct sendmail_msg *m)
{
    for (int i = 0; i < m->a->nrcpt; i++) {
        const char *arg = m->a->rcpt[i];
        /* Like Postfix, an argument may be an address list ("Name <a@b>, c"). */
        m->bad_addr = NULL;
        int n = addr_list_parse(arg, sendmail_header_addr, m);
        if (n <= 0 || m->bad_addr) {
            char *shown = sendmail_printable(arg);
            const char *why = m->bad_addr ? addr_strerror(m->bad_err) : "Bad address syntax";
            int r = sendmail_fail(EX_NOUSER, "bad recipient address: %s: %s", shown, why);
            free(shown);
            return r;
        }
    }
    return 0;
}

static int sendmail_deliver(const struct sendmail_args *a)
{
    if (!a->extract && a->nrcpt == 0)
        return sendmail_fail(EX_USAGE, "Recipient addresses must be specified on the command line or via the -t "
                                       "option");
    struct sendmail_msg m = {.a = a, .in_header = true};
    envelope_init(&m.env);
    m.addr_flags = ADDR_ALLOW_UNQUALIFIED | ADDR_ALLOW_UTF8;
    struct passwd *pw = getpwuid(getuid());
    int status = 0;
    struct buf line = BUF_INIT;

    const char *sender = a->sender;
    if (!sender) {
        if (!pw)
            return sendmail_fail(EX_OSERR, "no login name found for user ID %ld; use -f ADDRESS",
                                 (long)getuid());
        sender = pw->pw_name;
    }
    struct mailaddr sa;
    enum addr_error e = addr_parse_plain(sender, m.addr_flags | ADDR_ALLOW_NULL, &sa);
    if (e != ADDR_OK) {
        char *shown = sendmail_printable(sender);
        status = sendmail_fail(EX_NOUSER, "bad sender address: %s: %s", shown, addr_strerror(e));
        free(shown);
        goto out;
    }
    m.env.sender = xstrdup(sa.addr);
    m.env.smtputf8 = sa.utf8;
    m.env.fullname = sendmail_fullname(a, pw);
    m.env.envid = a->envid ? xstrdup(a->envid) : NULL;
    m.env.ret = a->ret;
    m.env.body = a->body;
    m.env.uid = (long)getuid();
    m.env.origin = xstrdup("sendmail");
    m.env.proto = xstrdup("local");
    m.env.arrival = time_now();
    if ((status = sendmail_argv_rcpts(&m)) != 0)
        goto out;

    struct sendmail_input *in = xmalloc(sizeof(*in));
    in->fd = STDIN_FILENO;
    in->pos = in->len = 0;
    bool at_start = true;
    for (;;) {
        int r = sendmail_read_line(in, &line, maildrop_size_limit());
        if (r == -2) {
            status = sendmail_too_big();
            break;
        }
        if (r < 0) {
            status = sendmail_fail(EX_IOERR, "error reading the message: %s", strerror(errno));
            break;
        }
        if (r == 0)
            break;
        if (at_start && sendmail_from_line(&line))
            continue;
        at_start = false;
        sendmail_canonical(&line);
        if (a->dot_ends && line.len == 3 && line.data[0] == '.')
            break;
        if ((status = sendmail_line(&m, line.data, line.len)) != 0)
            break;
    }
    free(in);
    if (status == 0 && m.in_header)
        status = sendmail_end_header(&m);
    if (status == 0) {
        sendmail_guard(NULL);
        struct maildrop_writer *w = m.w;
        m.w = NULL;
        if (maildrop_commit(w) != 0) {
            int err = errno;
            status = sendmail_fail(sendmail_errno_status(err), "cannot write the message to %s/maildrop: %s",
                                   var_queue_directory, strerror(err));
        } else if (a->verbose) {
            struct buf r = BUF_INIT;
            for (size_t i = 0; i < m.env.nrcpt; i++)
                buf_printf(&r, "%s<%s>", i ? ", " : "", m.env.rcpt[i].addr);
            fprintf(stderr, "yubin: %s: queued from=<%s>, %zu bytes, to %s\n", m.name, m.env.sender,
                    (size_t)m.size, buf_str(&r));
            buf_free(&r);
        }
    }
out:
    if (m.w)
        maildrop_abort(m.w);
    sendmail_guard(NULL);
    buf_free(&line);
    buf_free(&m.hdr);
    free(m.fields);
    free(m.bad_addr);
    envelope_free(&m.env);
    return status;
}

/* ---- the other modes ---- */

static int sendmail_verify(const struct sendmail_args *a)
{
    if (a->extract)
        return sendmail_fail(EX_USAGE, "-t cannot be used with -bv");
    if (a->nrcpt == 0)
        return sendmail_fail(EX_USAGE, "-bv needs the addresses to check on the command line");
    struct buf err = BUF_INIT;
    if (relay_check_init(&err) != 0) {
        int r = sendmail_fail(EX_CONFIG, "%s", buf_str(&err));
        buf_free(&err);
        return r;
    }
    buf_free(&err);
    int status = EX_OK;
    const char *origin = var_myorigin && *var_myorigin ? var_myorigin : var_myhostname;
    for (int i = 0; i < a->nrcpt; i++) {
        struct mailaddr addr;
        enum addr_error e = addr_parse_plain(a->rcpt[i], ADDR_ALLOW_UNQUALIFIED | ADDR_ALLOW_UTF8, &addr);
        if (e != ADDR_OK) {
            char *shown = sendmail_printable(a->rcpt[i]);
            printf("%s... %s\n", shown, addr_strerror(e));
            free(shown);
            status = EX_NOUSER;
            continue;
        }
        /* Classify what cleanup will make of it: user -> user@$myorigin. */
        char *full = addr.domain[0] ? xstrdup(addr.addr) : xasprintf("%s@%s", addr.addr, origin ? origin : "");
        struct mailaddr qualified;
        if (addr_parse_plain(full, ADDR_ALLOW_UTF8, &qualified) != ADDR_OK)
            qualified = addr;
        switch (relay_check(&qualified, NULL)) {
        case RELAY_LOCAL:
            printf("%s... deliverable: local\n", full);
            break;
        case RELAY_RELAY_DOMAIN:
            printf("%s... deliverable: relay\n", full);
            break;
        default:
            printf("%s... deliverable: remote (routing is decided at delivery)\n", full);
            break;
        }
        free(full);
    }
    fflush(stdout);
    return status;
}

static int sendmail_flush(void)
{
    struct buf reply = BUF_INIT;
    int r = control_request(var_queue_directory, "flush", &reply);
    int status = EX_OK;
    if (r < 0)
        status = sendmail_fail(EX_TEMPFAIL, "Cannot flush mail queue - mail system is down");
    else if (r > 0)
        status = sendmail_fail(EX_NOPERM, "Cannot flush mail queue: %s", buf_str(&reply));
    buf_free(&reply);
    return status;
}

/* Logging for -bs goes where the daemon's goes: stdout is the SMTP stream
 * and stderr would reach the client program's user. */
static void sendmail_smtp_log(void)
{
    if (var_maillog_file && *var_maillog_file && access(var_maillog_file, W_OK) == 0)
        log_open(var_syslog_name, LOG_TO_FILE, var_maillog_file);
    else
        log_open(var_syslog_name, LOG_TO_SYSLOG, NULL);
}

static int sendmail_smtp(void)
{
    struct buf err = BUF_INIT;
    if (relay_check_init(&err) != 0) {
        int r = sendmail_fail(EX_CONFIG, "%s", buf_str(&err));
        buf_free(&err);
        return r;
    }
    buf_free(&err);
    signal(SIGPIPE, SIG_IGN);
    sendmail_smtp_log();
    struct event_base *base = event_base_new();
    if (!base)
        return sendmail_fail(EX_OSERR, "cannot create the event loop");
    struct smtpd_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    maildrop_sink(&cfg.sink, var_queue_directory);
    int r = smtpd_run_stdio(base, &cfg, STDIN_FILENO, STDOUT_FILENO);
    event_base_free(base);
    return r == 0 ? EX_OK : EX_TEMPFAIL;
}

/* The file behind an alias table name: "hash:/etc/aliases",
 * "texthash:/path" or a bare path; NULL for tables that are not files. */
static const char *sendmail_alias_path(const char *spec)
{
    if (spec[0] == '/')
        return spec;
    if (strncmp(spec, "hash:", 5) == 0)
        return spec + 5;
    if (strncmp(spec, "texthash:", 9) == 0)
        return spec + 9;
    return NULL;
}

static void sendmail_alias_add(struct strlist *files, const char *value)
{
    struct strlist l;
    strlist_split(&l, value ? value : "");
    for (size_t i = 0; i < l.n; i++) {
        const char *path = sendmail_alias_path(l.v[i]);
        if (!path)
            continue;
        bool seen = false;
        for (size_t k = 0; k < files->n; k++)
            seen = seen || strcmp(files->v[k], path) == 0;
        if (!seen) {
            files->v = xrealloc(files->v, (files->n + 1) * sizeof(*files->v));
            files->v[files->n++] = xstrdup(path);
        }
    }
    strlist_free(&l);
}

/*
 * newaliases: there is nothing to compile (hash: tables are read as text),
 * so this checks every alias file the configuration names and reports each
 * problem with its file and line, as an administrator runs it after an edit.
 */
static int sendmail_newaliases(const struct sendmail_args *a)
{
    struct strlist files = {NULL, 0};
    if (a->alias_file) {
        sendmail_alias_add(&files, a->alias_file);
    } else {
        sendmail_alias_add(&files, var_alias_database);
        sendmail_alias_add(&files, var_alias_maps);
    }
    int status = EX_OK;
    for (size_t i = 0; i < files.n; i++) {
        struct buf err = BUF_INIT;
        if (aliases_check_file(files.v[i], &err) != 0) {
            char *text = buf_steal(&err);
            for (char *line = text, *next; line; line = next) {
                next = strchr(line, '\n');
                if (next)
                    *next++ = 0;
                if (*line)
                    sendmail_error("%s", line);
            }
            free(text);
            status = EX_CONFIG;
        }
        buf_free(&err);
    }
    strlist_free(&files);
    return status;
}

static int sendmail_mailq(const char *config)
{
    char *args[] = {"mailq", "-c", (char *)config, NULL};
    return cmd_mailq(config ? 3 : 1, args);
}

/* -C and -c name main.cf or, as with Postfix, its directory. */
static char *sendmail_config_path(const char *arg)
{
    struct stat st;
    if (arg && stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
        return xasprintf("%s/yubin.conf", arg);
    return arg ? xstrdup(arg) : NULL;
}

int cmd_sendmail(int argc, char **argv)
{
    log_open("yubin", LOG_TO_TERMINAL, NULL);
    struct sendmail_args a;
    struct buf err = BUF_INIT;
    if (sendmail_args_parse(argc, argv, &a, &err) != 0) {
        int r = sendmail_fail(EX_USAGE, "%s", buf_str(&err));
        buf_free(&err);
        return r;
    }
    buf_free(&err);
    char *config = sendmail_config_path(a.config);
    cmd_load_config(config);
    log_set_program("sendmail");

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = sendmail_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);

    int status;
    switch (a.mode) {
    case SENDMAIL_SMTP:
        status = sendmail_smtp();
        break;
    case SENDMAIL_MAILQ:
        status = sendmail_mailq(config);
        break;
    case SENDMAIL_NEWALIASES:
        status = sendmail_newaliases(&a);
        break;
    case SENDMAIL_VERIFY:
        status = sendmail_verify(&a);
        break;
    case SENDMAIL_FLUSH:
        status = sendmail_flush();
        break;
    case SENDMAIL_NOTHING:
        status = EX_OK;
        break;
    case SENDMAIL_DELIVER:
    default:
        status = sendmail_deliver(&a);
        break;
    }
    free(config);
    return status;
}
