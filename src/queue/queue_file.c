/*
 * queue_file.c - write and validate the queue file format (queue_file.h).
 *
 * The writer trusts its caller's envelope only after qf_envelope_check():
 * a value the reader would refuse is never written, so a committed file
 * cannot turn out to be "corrupt" later.
 *
 * The reader trusts nothing. It reads queue files that we wrote, but also
 * maildrop files written by any local user, so every length is bounded
 * before anything is allocated, every loop advances through the file or
 * stops, and any structure it does not expect makes the whole file invalid.
 *
 * Unfinished versus corrupt: a file whose last 21 bytes are not an end
 * record header was never finished (the writer died before the commit, so
 * no 250 was ever sent for it); it is "incomplete" and may be removed. A
 * file that ends like a finished one but does not add up is "corrupt" and
 * must be kept for the administrator. A damaged length field therefore
 * never makes a committed message look unfinished.
 */
#include "queue/queue_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "lib/log.h"
#include "lib/util.h"

/* ---- Encoding ---- */

static void qf_put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t qf_get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t qf_get_be64(const unsigned char *p)
{
    return (uint64_t)qf_get_be32(p) << 32 | qf_get_be32(p + 4);
}

void qf_record_header(struct buf *out, char type, uint32_t len)
{
    unsigned char h[QF_HDR_LEN];
    h[0] = (unsigned char)type;
    qf_put_be32(h + 1, len);
    buf_append(out, h, sizeof(h));
}

static void qf_put_record(struct buf *out, char type, const void *p, size_t len)
{
    if (len > QF_RECORD_MAX)
        msg_panic("qf_put_record: record of %zu bytes", len);
    qf_record_header(out, type, (uint32_t)len);
    buf_append(out, p, len);
}

static void qf_put_attr(struct buf *out, const char *name, const char *value)
{
    struct buf a = BUF_INIT;
    buf_printf(&a, "%s=%s", name, value);
    qf_put_record(out, 'A', a.data, a.len);
    buf_free(&a);
}

static const char *qf_ret_names[] = {[DSN_RET_NONE] = "NONE", [DSN_RET_FULL] = "FULL",
                                     [DSN_RET_HDRS] = "HDRS"};
static const char *qf_body_names[] = {[BODY_NONE] = "NONE", [BODY_7BIT] = "7BIT",
                                      [BODY_8BITMIME] = "8BITMIME", [BODY_BINARYMIME] = "BINARYMIME"};

void qf_format_time(char out[QF_TIME_SIZE], double t)
{
    if (!(t >= 0) || t > 1e12)
        t = 0;
    long long sec = (long long)t;
    long usec = (long)((t - (double)sec) * 1e6);
    if (usec < 0)
        usec = 0;
    if (usec > 999999)
        usec = 999999;
    snprintf(out, QF_TIME_SIZE, "%lld.%06ld", sec, usec);
}

static bool qf_value_clean(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

static bool qf_check_value(const char *what, const char *s, struct buf *err)
{
    if (!s)
        return true;
    size_t len = strlen(s);
    if (len > QF_VALUE_MAX) {
        buf_printf(err, "%s too long (%zu bytes)", what, len);
        return false;
    }
    if (!qf_value_clean(s, len)) {
        buf_printf(err, "control character in %s", what);
        return false;
    }
    return true;
}

bool qf_envelope_check(const struct envelope *env, struct buf *err)
{
    struct buf dummy = BUF_INIT;
    if (!err)
        err = &dummy;
    bool ok = false;
    if (env->nrcpt == 0) {
        buf_puts(err, "no recipients");
        goto out;
    }
    if (env->nrcpt > QF_RCPT_MAX) {
        buf_printf(err, "too many recipients (%zu)", env->nrcpt);
        goto out;
    }
    if ((unsigned)env->ret >= ARRAY_LEN(qf_ret_names) || (unsigned)env->body >= ARRAY_LEN(qf_body_names)) {
        buf_puts(err, "bad DSN RET or BODY value");
        goto out;
    }
    if (env->client_port < 0 || env->client_port > 65535 || env->arrival < 0 || env->arrival > 1e12) {
        buf_puts(err, "bad client port or arrival time");
        goto out;
    }
    if (!qf_check_value("sender", env->sender, err) || !qf_check_value("client_name", env->client_name, err) ||
        !qf_check_value("client_addr", env->client_addr, err) || !qf_check_value("helo", env->helo, err) ||
        !qf_check_value("proto", env->proto, err) || !qf_check_value("tls", env->tls, err) ||
        !qf_check_value("envid", env->envid, err) || !qf_check_value("origin", env->origin, err) ||
        !qf_check_value("fullname", env->fullname, err))
        goto out;
    for (size_t i = 0; i < env->nrcpt; i++) {
        const struct rcpt *r = &env->rcpt[i];
        if (!r->addr || !*r->addr) {
            buf_puts(err, "empty recipient address");
            goto out;
        }
        if (!qf_check_value("recipient", r->addr, err) || !qf_check_value("ORCPT", r->orcpt, err))
            goto out;
        if (r->notify > 0x0f || (r->status != RCPT_PENDING && r->status != RCPT_DONE)) {
            buf_puts(err, "bad recipient NOTIFY or status");
            goto out;
        }
    }
    ok = true;
out:
    buf_free(&dummy);
    return ok;
}

uint32_t qf_write_envelope(struct buf *out, struct envelope *env)
{
    uint32_t n = 0;
    buf_append(out, QF_MAGIC, QF_MAGIC_LEN);

    char tmp[QF_TIME_SIZE];
    qf_format_time(tmp, env->arrival);
    qf_put_attr(out, "arrival", tmp), n++;

    const struct {
        const char *name;
        const char *value;
    } strs[] = {
        {"client_name", env->client_name}, {"client_addr", env->client_addr}, {"helo", env->helo},
        {"proto", env->proto},             {"tls", env->tls},                 {"envid", env->envid},
        {"origin", env->origin},           {"fullname", env->fullname},
    };
    for (size_t i = 0; i < ARRAY_LEN(strs); i++)
        if (strs[i].value)
            qf_put_attr(out, strs[i].name, strs[i].value), n++;
    if (env->client_port) {
        snprintf(tmp, sizeof(tmp), "%d", env->client_port);
        qf_put_attr(out, "client_port", tmp), n++;
    }
    if (env->ret != DSN_RET_NONE && (unsigned)env->ret < ARRAY_LEN(qf_ret_names))
        qf_put_attr(out, "ret", qf_ret_names[env->ret]), n++;
    if (env->body != BODY_NONE && (unsigned)env->body < ARRAY_LEN(qf_body_names))
        qf_put_attr(out, "body", qf_body_names[env->body]), n++;
    if (env->smtputf8)
        qf_put_attr(out, "smtputf8", "yes"), n++;
    if (env->uid >= 0) {
        snprintf(tmp, sizeof(tmp), "%ld", env->uid);
        qf_put_attr(out, "uid", tmp), n++;
    }

    const char *sender = env->sender ? env->sender : "";
    qf_put_record(out, 'S', sender, strlen(sender)), n++;

    for (size_t i = 0; i < env->nrcpt; i++) {
        struct rcpt *r = &env->rcpt[i];
        size_t olen = r->orcpt ? strlen(r->orcpt) : 0;
        size_t alen = strlen(r->addr);
        if (olen > 0xffff)
            msg_panic("qf_write_envelope: ORCPT of %zu bytes", olen);
        unsigned char h[4];
        h[0] = (unsigned char)(r->status == RCPT_DONE ? RCPT_DONE : RCPT_PENDING);
        h[1] = (unsigned char)(r->notify & 0x0f);
        h[2] = (unsigned char)(olen >> 8);
        h[3] = (unsigned char)olen;
        if (4 + olen + alen > QF_RECORD_MAX)
            msg_panic("qf_write_envelope: recipient record too large");
        qf_record_header(out, 'R', (uint32_t)(4 + olen + alen));
        r->status_off = (long)out->len;
        buf_append(out, h, sizeof(h));
        buf_append(out, r->orcpt ? r->orcpt : "", olen);
        buf_append(out, r->addr, alen);
        n++;
    }
    qf_record_header(out, 'M', 0), n++;
    return n;
}

void qf_end_record(struct buf *out, uint64_t size, uint32_t crc, uint32_t nrecords)
{
    unsigned char p[16];
    qf_put_be32(p, (uint32_t)(size >> 32));
    qf_put_be32(p + 4, (uint32_t)size);
    qf_put_be32(p + 8, crc);
    qf_put_be32(p + 12, nrecords);
    qf_put_record(out, 'X', p, sizeof(p));
}

/* ---- Reading ---- */

#define QF_WINDOW 65536

/* A sequential reader over pread(): independent of the descriptor's offset,
 * so the same fd can be read again (content) or written (status bytes). */
struct qf_reader {
    int fd;
    uint64_t pos;           /* file offset of the next byte to hand out */
    uint64_t limit;         /* never read at or past this offset */
    unsigned char *win;
    uint64_t win_pos;       /* file offset of win[0] */
    size_t win_len;
};

/* 0 = got n bytes, 1 = the limit or end of file came first, -1 = I/O error. */
static int qf_reader_get(struct qf_reader *r, void *dst, size_t n)
{
    unsigned char *d = dst;
    if (r->pos > r->limit || n > r->limit - r->pos)
        return 1;
    while (n > 0) {
        if (r->pos < r->win_pos || r->pos >= r->win_pos + r->win_len) {
            ssize_t k;
            do
                k = pread(r->fd, r->win, QF_WINDOW, (off_t)r->pos);
            while (k < 0 && errno == EINTR);
            if (k < 0)
                return -1;
            if (k == 0)
                return 1;
            r->win_pos = r->pos;
            r->win_len = (size_t)k;
        }
        size_t off = (size_t)(r->pos - r->win_pos);
        size_t take = r->win_len - off;
        if (take > n)
            take = n;
        memcpy(d, r->win + off, take);
        d += take;
        n -= take;
        r->pos += take;
    }
    return 0;
}

static int qf_pread_exact(int fd, void *dst, size_t n, uint64_t off)
{
    unsigned char *d = dst;
    while (n > 0) {
        ssize_t k = pread(fd, d, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        d += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

/* "SECONDS[.FRACTION]" without locale-dependent strtod. */
bool qf_parse_time(const char *s, double *out)
{
    double v = 0;
    size_t digits = 0;
    for (; *s >= '0' && *s <= '9'; s++, digits++) {
        if (digits >= 12)   /* below 1e12: what qf_envelope_check allows */
            return false;
        v = v * 10 + (*s - '0');
    }
    if (digits == 0)
        return false;
    if (*s == '.') {
        double scale = 0.1;
        s++;
        for (size_t f = 0; *s >= '0' && *s <= '9'; s++, f++) {
            if (f >= 9)
                return false;
            v += (*s - '0') * scale;
            scale /= 10;
        }
    }
    if (*s)
        return false;
    *out = v;
    return true;
}

static bool qf_parse_enum(const char *v, const char **names, size_t n, int *out)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] && strcmp(v, names[i]) == 0) {
            *out = (int)i;
            return true;
        }
    return false;
}

/* One "name=value" attribute; false when a known attribute has a bad value. */
static bool qf_parse_attr(struct envelope *env, const char *p, size_t len, struct buf *err)
{
    const char *eq = memchr(p, '=', len);
    if (!eq || eq == p || eq - p > 32) {
        buf_puts(err, "malformed attribute record");
        return false;
    }
    for (const char *c = p; c < eq; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_')) {
            buf_puts(err, "malformed attribute name");
            return false;
        }
    size_t nlen = (size_t)(eq - p);
    const char *val = eq + 1;
    size_t vlen = len - nlen - 1;
    if (vlen > QF_VALUE_MAX || !qf_value_clean(val, vlen)) {
        buf_printf(err, "bad value for attribute %.*s", (int)nlen, p);
        return false;
    }
    char name[33];
    memcpy(name, p, nlen);
    name[nlen] = 0;
    char *v = xstrndup(val, vlen);
    bool ok = true;
    long num;
    int e;
    char **strfield = NULL;

    if (strcmp(name, "arrival") == 0)
        ok = qf_parse_time(v, &env->arrival);
    else if (strcmp(name, "client_name") == 0)
        strfield = &env->client_name;
    else if (strcmp(name, "client_addr") == 0)
        strfield = &env->client_addr;
    else if (strcmp(name, "helo") == 0)
        strfield = &env->helo;
    else if (strcmp(name, "proto") == 0)
        strfield = &env->proto;
    else if (strcmp(name, "tls") == 0)
        strfield = &env->tls;
    else if (strcmp(name, "envid") == 0)
        strfield = &env->envid;
    else if (strcmp(name, "origin") == 0)
        strfield = &env->origin;
    else if (strcmp(name, "fullname") == 0)
        strfield = &env->fullname;
    else if (strcmp(name, "client_port") == 0) {
        ok = parse_long(v, 0, 65535, &num);
        if (ok)
            env->client_port = (int)num;
    } else if (strcmp(name, "uid") == 0) {
        ok = parse_long(v, -1, 4294967295L, &num);
        if (ok)
            env->uid = num;
    } else if (strcmp(name, "ret") == 0) {
        ok = qf_parse_enum(v, qf_ret_names, ARRAY_LEN(qf_ret_names), &e);
        if (ok)
            env->ret = (enum dsn_ret)e;
    } else if (strcmp(name, "body") == 0) {
        ok = qf_parse_enum(v, qf_body_names, ARRAY_LEN(qf_body_names), &e);
        if (ok)
            env->body = (enum body_type)e;
    } else if (strcmp(name, "smtputf8") == 0) {
        ok = strcmp(v, "yes") == 0 || strcmp(v, "no") == 0;
        env->smtputf8 = strcmp(v, "yes") == 0;
    }
    /* Unknown names are ignored: a newer writer may add attributes. */

    if (strfield) {
        free(*strfield);
        *strfield = v;
        v = NULL;
    }
    free(v);
    if (!ok)
        buf_printf(err, "bad value for attribute %s", name);
    return ok;
}

static bool qf_parse_rcpt(struct envelope *env, const unsigned char *p, size_t len, uint64_t rec_off,
                          struct buf *err)
{
    if (len < 5) {
        buf_printf(err, "short recipient record at offset %llu", (unsigned long long)rec_off);
        return false;
    }
    if (env->nrcpt >= QF_RCPT_MAX) {
        buf_puts(err, "too many recipients");
        return false;
    }
    char status = (char)p[0];
    unsigned notify = p[1];
    size_t olen = (size_t)p[2] << 8 | p[3];
    if ((status != RCPT_PENDING && status != RCPT_DONE) || notify > 0x0f) {
        buf_printf(err, "bad recipient record at offset %llu", (unsigned long long)rec_off);
        return false;
    }
    if (olen > len - 5) {
        buf_printf(err, "bad ORCPT length at offset %llu", (unsigned long long)rec_off);
        return false;
    }
    const char *orcpt = (const char *)p + 4;
    const char *addr = orcpt + olen;
    size_t alen = len - 4 - olen;
    if (alen > QF_VALUE_MAX || olen > QF_VALUE_MAX || !qf_value_clean(orcpt, olen) ||
        !qf_value_clean(addr, alen)) {
        buf_printf(err, "bad recipient address at offset %llu", (unsigned long long)rec_off);
        return false;
    }
    char *a = xstrndup(addr, alen);
    char *o = olen ? xstrndup(orcpt, olen) : NULL;
    size_t i = envelope_add_rcpt(env, a, o, notify);
    free(a);
    free(o);
    env->rcpt[i].status = status;
    env->rcpt[i].status_off = (long)(rec_off + QF_HDR_LEN);
    return true;
}

struct qf_end {
    uint64_t size;
    uint32_t crc;
    uint32_t nrecords;
};

/* Common front part of both readers: size, tail, magic and envelope records.
 * Returns 0 with *content_off set, or -1 (err filled, *incomplete set). */
static int qf_read_front(int fd, struct envelope *env, uint64_t *fsize_out, off_t *content_off,
                         uint32_t *nrec_out, struct qf_end *end, bool *incomplete, struct buf *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        buf_printf(err, "fstat: %s", strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        buf_puts(err, "not a regular file");
        return -1;
    }
    uint64_t fsize = (uint64_t)st.st_size;
    *fsize_out = fsize;

    /* The end record is written last: without it the write never finished. */
    unsigned char tail[QF_END_LEN];
    if (fsize < QF_MAGIC_LEN + QF_HDR_LEN + QF_END_LEN ||
        qf_pread_exact(fd, tail, sizeof(tail), fsize - QF_END_LEN) < 0 || tail[0] != 'X' ||
        qf_get_be32(tail + 1) != QF_END_LEN - QF_HDR_LEN) {
        *incomplete = true;
        buf_puts(err, "no end record");
        return -1;
    }
    end->size = qf_get_be64(tail + QF_HDR_LEN);
    end->crc = qf_get_be32(tail + QF_HDR_LEN + 8);
    end->nrecords = qf_get_be32(tail + QF_HDR_LEN + 12);

    unsigned char magic[QF_MAGIC_LEN];
    if (qf_pread_exact(fd, magic, sizeof(magic), 0) < 0 || memcmp(magic, QF_MAGIC, QF_MAGIC_LEN - 1) != 0) {
        buf_puts(err, "bad magic");
        return -1;
    }
    if (magic[QF_MAGIC_LEN - 1] != (unsigned char)QF_MAGIC[QF_MAGIC_LEN - 1]) {
        buf_printf(err, "unsupported queue file version %u", magic[QF_MAGIC_LEN - 1]);
        return -1;
    }

    unsigned char *win = xmalloc(QF_WINDOW);
    unsigned char *rec = NULL;
    struct qf_reader r = {fd, QF_MAGIC_LEN, fsize - QF_END_LEN, win, 0, 0};
    uint64_t env_limit = QF_MAGIC_LEN + (uint64_t)QF_ENVELOPE_MAX;
    if (r.limit > env_limit)
        r.limit = env_limit;
    uint32_t nrec = 0;
    bool have_sender = false;
    int ret = -1;

    for (;;) {
        uint64_t rec_off = r.pos;
        unsigned char h[QF_HDR_LEN];
        int g = qf_reader_get(&r, h, sizeof(h));
        if (g < 0) {
            buf_printf(err, "read error: %s", strerror(errno));
            goto out;
        }
        if (g > 0) {
            buf_puts(err, "envelope without content marker");
            goto out;
        }
        char type = (char)h[0];
        uint32_t len = qf_get_be32(h + 1);
        if (type != 'A' && type != 'S' && type != 'R' && type != 'M') {
            if (type == 'D' || type == 'X')
                buf_printf(err, "record '%c' before content marker at offset %llu", type,
                           (unsigned long long)rec_off);
            else
                buf_printf(err, "unknown record type 0x%02x at offset %llu", h[0], (unsigned long long)rec_off);
            goto out;
        }
        if (len > QF_RECORD_MAX || (type == 'M' && len != 0)) {
            buf_printf(err, "bad record length %lu at offset %llu", (unsigned long)len,
                       (unsigned long long)rec_off);
            goto out;
        }
        if (nrec == UINT32_MAX) {
            buf_puts(err, "too many records");
            goto out;
        }
        nrec++;
        if (type == 'M') {
            if (!have_sender) {
                buf_puts(err, "no sender record");
                goto out;
            }
            if (env->nrcpt == 0) {
                buf_puts(err, "no recipient records");
                goto out;
            }
            *content_off = (off_t)r.pos;
            *nrec_out = nrec;
            ret = 0;
            goto out;
        }
        rec = xrealloc(rec, (size_t)len + 1);
        g = qf_reader_get(&r, rec, len);
        if (g != 0) {
            buf_printf(err, "truncated record at offset %llu", (unsigned long long)rec_off);
            goto out;
        }
        if (type == 'A') {
            if (!qf_parse_attr(env, (const char *)rec, len, err))
                goto out;
        } else if (type == 'S') {
            if (have_sender) {
                buf_printf(err, "second sender record at offset %llu", (unsigned long long)rec_off);
                goto out;
            }
            if (len > QF_VALUE_MAX || !qf_value_clean((const char *)rec, len)) {
                buf_puts(err, "bad sender address");
                goto out;
            }
            env->sender = xstrndup((const char *)rec, len);
            have_sender = true;
        } else if (!qf_parse_rcpt(env, rec, len, rec_off, err)) {
            goto out;
        }
    }
out:
    free(rec);
    free(win);
    return ret;
}

static void qf_begin(struct envelope *env, bool *incomplete, struct buf *err)
{
    envelope_init(env);
    *incomplete = false;
    buf_reset(err);
}

static int qf_fail(struct envelope *env)
{
    envelope_free(env);
    return -1;
}

int qf_read_envelope(int fd, struct envelope *env, uint64_t *content_size, bool *incomplete, struct buf *err)
{
    struct buf dummy = BUF_INIT;
    bool dummy_inc;
    if (!err)
        err = &dummy;
    if (!incomplete)
        incomplete = &dummy_inc;
    qf_begin(env, incomplete, err);

    uint64_t fsize;
    off_t content_off;
    uint32_t nrec;
    struct qf_end end;
    if (qf_read_front(fd, env, &fsize, &content_off, &nrec, &end, incomplete, err) < 0) {
        buf_free(&dummy);
        return qf_fail(env);
    }
    /*
     * Without reading the content, the end record must still agree with the
     * file's shape: the bytes between the marker and the end record are
     * exactly the D headers plus the content, each chunk at most 64 KiB.
     */
    uint64_t region = fsize - QF_END_LEN - (uint64_t)content_off;
    bool ok = end.nrecords >= nrec;
    uint64_t nd = ok ? end.nrecords - nrec : 0;
    ok = ok && nd * QF_HDR_LEN <= region && region - nd * QF_HDR_LEN == end.size &&
         end.size <= nd * (uint64_t)QF_CHUNK_MAX;
    if (!ok) {
        buf_puts(err, "end record does not match the file");
        buf_free(&dummy);
        return qf_fail(env);
    }
    if (content_size)
        *content_size = end.size;
    buf_free(&dummy);
    return 0;
}

int qf_read(int fd, struct envelope *env, off_t *content_off, uint64_t *content_size, bool *incomplete,
            struct buf *err)
{
    struct buf dummy = BUF_INIT;
    bool dummy_inc;
    if (!err)
        err = &dummy;
    if (!incomplete)
        incomplete = &dummy_inc;
    qf_begin(env, incomplete, err);

    uint64_t fsize;
    off_t coff;
    uint32_t nrec;
    struct qf_end end;
    if (qf_read_front(fd, env, &fsize, &coff, &nrec, &end, incomplete, err) < 0) {
        buf_free(&dummy);
        return qf_fail(env);
    }

    unsigned char *win = xmalloc(QF_WINDOW);
    unsigned char *chunk = xmalloc(QF_CHUNK_MAX);
    uint64_t end_off = fsize - QF_END_LEN;
    struct qf_reader r = {fd, (uint64_t)coff, end_off, win, 0, 0};
    uint64_t size = 0;
    uLong crc = crc32(0L, Z_NULL, 0);
    int ret = -1;

    while (r.pos < end_off) {
        uint64_t rec_off = r.pos;
        unsigned char h[QF_HDR_LEN];
        int g = qf_reader_get(&r, h, sizeof(h));
        if (g != 0) {
            buf_printf(err, "%s at offset %llu", g < 0 ? "read error" : "truncated record",
                       (unsigned long long)rec_off);
            goto out;
        }
        uint32_t len = qf_get_be32(h + 1);
        if (h[0] != 'D') {
            if (h[0] == 'A' || h[0] == 'S' || h[0] == 'R' || h[0] == 'M' || h[0] == 'X')
                buf_printf(err, "unexpected record '%c' at offset %llu", h[0], (unsigned long long)rec_off);
            else
                buf_printf(err, "unknown record type 0x%02x at offset %llu", h[0], (unsigned long long)rec_off);
            goto out;
        }
        if (len > QF_CHUNK_MAX) {
            buf_printf(err, "bad record length %lu at offset %llu", (unsigned long)len,
                       (unsigned long long)rec_off);
            goto out;
        }
        g = qf_reader_get(&r, chunk, len);
        if (g != 0) {
            buf_printf(err, "truncated record at offset %llu", (unsigned long long)rec_off);
            goto out;
        }
        if (nrec == UINT32_MAX) {
            buf_puts(err, "too many records");
            goto out;
        }
        nrec++;
        size += len;
        crc = crc32(crc, chunk, len);
    }
    if (size != end.size) {
        buf_printf(err, "size mismatch (%llu bytes, end record says %llu)", (unsigned long long)size,
                   (unsigned long long)end.size);
        goto out;
    }
    if ((uint32_t)crc != end.crc) {
        buf_puts(err, "CRC mismatch");
        goto out;
    }
    if (nrec != end.nrecords) {
        buf_printf(err, "record count mismatch (%lu, end record says %lu)", (unsigned long)nrec,
                   (unsigned long)end.nrecords);
        goto out;
    }
    if (content_off)
        *content_off = coff;
    if (content_size)
        *content_size = size;
    ret = 0;
out:
    free(chunk);
    free(win);
    buf_free(&dummy);
    return ret < 0 ? qf_fail(env) : 0;
}

int qf_read_content(int fd, off_t content_off, int (*fn)(void *arg, const char *p, size_t n), void *arg)
{
    struct stat st;
    if (content_off < 0 || fstat(fd, &st) < 0)
        return -1;
    unsigned char *win = xmalloc(QF_WINDOW);
    unsigned char *chunk = xmalloc(QF_CHUNK_MAX);
    struct qf_reader r = {fd, (uint64_t)content_off, (uint64_t)st.st_size, win, 0, 0};
    int ret = -1;
    for (;;) {
        unsigned char h[QF_HDR_LEN];
        int g = qf_reader_get(&r, h, sizeof(h));
        if (g != 0) {
            if (g > 0)
                errno = EINVAL;
            break;
        }
        uint32_t len = qf_get_be32(h + 1);
        if (h[0] == 'X') {
            ret = 0;
            break;
        }
        if (h[0] != 'D' || len > QF_CHUNK_MAX || qf_reader_get(&r, chunk, len) != 0) {
            errno = EINVAL;
            break;
        }
        int v = fn(arg, (const char *)chunk, len);
        if (v != 0) {
            ret = v;
            break;
        }
    }
    free(chunk);
    free(win);
    return ret;
}
