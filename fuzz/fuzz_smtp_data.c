/*
 * fuzz_smtp_data.c - libFuzzer harness for the SMTP line discipline
 * (smtp_data.c): DATA end detection, dot-unstuffing, BDAT chunks.
 *
 * The first input byte picks the mode (bit 0: DATA or BDAT) and a piece
 * size (the rest). The same bytes are fed whole and in pieces; the results
 * must be identical (a read() boundary must never change the meaning of the
 * stream). Checked with abort(): every line handed out ends in CRLF, holds
 * no other CR or LF, and fits 1000 octets; DATA ends only right after
 * CRLF "." CRLF (or "." CRLF at the very start); a message with a bare CR/LF
 * hands out nothing after it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "receive/smtp_data.h"

struct fuzz_out {
    uint8_t *content;
    size_t len, cap;
    bool bare_seen;     /* rd.bare was already set when a line came out */
    struct smtp_data *rd;
};

static bool fuzz_line(void *arg, const char *line, size_t len)
{
    struct fuzz_out *o = arg;
    if (len < 2 || len > SMTP_TEXT_LINE_MAX || line[len - 2] != '\r' || line[len - 1] != '\n')
        abort();
    if (memchr(line, '\r', len - 2) || memchr(line, '\n', len - 2))
        abort();
    if (o->rd->bare || o->rd->too_long)
        abort();
    if (o->len + len > o->cap) {
        o->cap = (o->len + len) * 2;
        o->content = realloc(o->content, o->cap);
        if (!o->content)
            abort();
    }
    memcpy(o->content + o->len, line, len);
    o->len += len;
    return true;
}

struct fuzz_run {
    struct fuzz_out out;
    size_t end_at;      /* DATA: offset after the end; (size_t)-1 if none */
    bool bare, too_long;
};

static void fuzz_data(struct fuzz_run *r, const uint8_t *p, size_t n, size_t piece)
{
    struct smtp_data rd;
    memset(r, 0, sizeof(*r));
    r->out.rd = &rd;
    r->end_at = (size_t)-1;
    smtp_data_init(&rd, fuzz_line, &r->out);
    smtp_data_begin_message(&rd);
    smtp_data_dot_mode(&rd);
    size_t pos = 0;
    while (pos < n) {
        size_t want = n - pos < piece ? n - pos : piece;
        enum smtp_data_event ev;
        size_t used = smtp_data_feed(&rd, (const char *)p + pos, want, &ev);
        if (used > want || (ev == SMTP_DATA_MORE && used != want))
            abort();
        pos += used;
        if (ev == SMTP_DATA_END) {
            r->end_at = pos;
            break;
        }
        if (ev != SMTP_DATA_MORE)
            abort();
    }
    r->bare = rd.bare;
    r->too_long = rd.too_long;
    if (r->end_at != (size_t)-1) {
        size_t e = r->end_at;
        bool at_start = e == 3 && memcmp(p, ".\r\n", 3) == 0;
        bool after_crlf = e >= 5 && memcmp(p + e - 5, "\r\n.\r\n", 5) == 0;
        if (!at_start && !after_crlf)
            abort();
    }
}

/* BDAT: chunks of `piece` octets, the last one marked LAST. */
static void fuzz_bdat(struct fuzz_run *r, const uint8_t *p, size_t n, size_t piece)
{
    struct smtp_data rd;
    memset(r, 0, sizeof(*r));
    r->out.rd = &rd;
    r->end_at = (size_t)-1;
    smtp_data_init(&rd, fuzz_line, &r->out);
    smtp_data_begin_message(&rd);
    size_t pos = 0;
    do {
        size_t chunk = n - pos < piece ? n - pos : piece;
        bool last = pos + chunk == n;
        smtp_data_chunk_mode(&rd, chunk, last, false);
        enum smtp_data_event ev;
        size_t used = smtp_data_feed(&rd, (const char *)p + pos, chunk, &ev);
        if (used != chunk || ev != SMTP_DATA_END)
            abort();
        pos += used;
    } while (pos < n);
    r->bare = rd.bare;
    r->too_long = rd.too_long;
}

static void fuzz_same(const struct fuzz_run *a, const struct fuzz_run *b)
{
    if (a->end_at != b->end_at || a->bare != b->bare || a->too_long != b->too_long ||
        a->out.len != b->out.len || (a->out.len && memcmp(a->out.content, b->out.content, a->out.len)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    size_t piece = (mode >> 1) + 1;
    struct fuzz_run whole, split;
    if (mode & 1) {
        fuzz_data(&whole, p, n, n ? n : 1);
        fuzz_data(&split, p, n, piece);
        fuzz_same(&whole, &split);
    } else {
        fuzz_bdat(&whole, p, n, n ? n : 1);
        fuzz_bdat(&split, p, n, piece);
        fuzz_same(&whole, &split);
        /* A final partial line is completed: BDAT content always ends in CRLF. */
        if (!whole.bare && !whole.too_long && whole.out.len &&
            memcmp(whole.out.content + whole.out.len - 2, "\r\n", 2) != 0)
            abort();
    }
    free(whole.out.content);
    free(split.out.content);
    return 0;
}
