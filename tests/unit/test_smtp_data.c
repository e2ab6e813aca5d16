/*
 * test_smtp_data.c - the SMTP line discipline (smtp_data.c): command lines,
 * DATA end detection and dot-unstuffing, BDAT chunks, bare CR/LF, line
 * length limits, and every SMTP smuggling variant of security.md 1.2, each
 * fed whole, split at every byte position, and one byte at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "receive/smtp_data.h"

/* What a feed produced: the content lines handed out, and what followed. */
struct result {
    struct buf content;         /* concatenated lines as handed out */
    unsigned lines;
    unsigned stop_after;        /* line_fn returns false after this many (0: never) */
    unsigned ends;              /* SMTP_DATA_END events */
    size_t end_offset;          /* input offset just after the first END */
    bool bare, too_long;
    struct buf commands;        /* command lines after the first END, "\n"-joined */
    unsigned cmd_bare, cmd_too_long;
};

static bool collect(void *arg, const char *line, size_t len)
{
    struct result *r = arg;
    buf_append(&r->content, line, len);
    r->lines++;
    return !(r->stop_after && r->lines >= r->stop_after);
}

static void result_init(struct result *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->content);
    buf_init(&r->commands);
}

static void result_free(struct result *r)
{
    buf_free(&r->content);
    buf_free(&r->commands);
}

/*
 * Drive the reader like the session does after "DATA" was accepted: content
 * until END, then command lines to the end of the input. Pieces: the input
 * is cut at the offsets in cuts[] (sorted), so the same bytes can arrive in
 * any read() pattern.
 */
static void run_data(struct result *r, const char *in, size_t len, const size_t *cuts, size_t ncuts)
{
    struct smtp_data rd;
    smtp_data_init(&rd, collect, r);
    smtp_data_begin_message(&rd);
    smtp_data_dot_mode(&rd);
    size_t pos = 0;
    size_t absolute = 0;
    for (size_t k = 0; k <= ncuts; k++) {
        size_t stop = k < ncuts ? cuts[k] : len;
        while (pos < stop) {
            enum smtp_data_event ev;
            size_t used = smtp_data_feed(&rd, in + pos, stop - pos, &ev);
            assert_true(used <= stop - pos);
            pos += used;
            absolute = pos;
            switch (ev) {
            case SMTP_DATA_MORE:
                assert_int_equal(pos, stop);
                break;
            case SMTP_DATA_END:
                if (r->ends++ == 0) {
                    r->end_offset = absolute;
                    r->bare = rd.bare;
                    r->too_long = rd.too_long;
                }
                smtp_data_command_mode(&rd);
                break;
            case SMTP_DATA_LINE:
                if (r->commands.len)
                    buf_putc(&r->commands, '\n');
                buf_append(&r->commands, rd.cmd, rd.cmd_len);
                break;
            case SMTP_DATA_BARE:
                r->cmd_bare++;
                return;     /* the session closes here */
            case SMTP_DATA_TOO_LONG:
                r->cmd_too_long++;
                break;
            }
        }
    }
}

static void run_whole(struct result *r, const char *in, size_t len)
{
    run_data(r, in, len, NULL, 0);
}

/* The same input, every way it can be split into two reads, and one byte
 * at a time, must give the same result as the whole. */
static void check_all_splits(const char *in, size_t len, void (*check)(const struct result *r, size_t len))
{
    struct result r;
    result_init(&r);
    run_whole(&r, in, len);
    check(&r, len);
    result_free(&r);
    for (size_t cut = 1; cut < len; cut++) {
        result_init(&r);
        run_data(&r, in, len, &cut, 1);
        check(&r, len);
        result_free(&r);
    }
    size_t *cuts = malloc(len * sizeof(*cuts));
    for (size_t i = 0; i + 1 < len; i++)
        cuts[i] = i + 1;
    result_init(&r);
    run_data(&r, in, len, cuts, len ? len - 1 : 0);
    check(&r, len);
    result_free(&r);
    free(cuts);
}

#define S(lit) lit, sizeof(lit) - 1

/* ------------------------------------------------------------ DATA basics */

static void check_simple(const struct result *r, size_t len)
{
    assert_int_equal(r->ends, 1);
    assert_int_equal(r->end_offset, len);
    assert_false(r->bare);
    assert_false(r->too_long);
    assert_int_equal(r->lines, 3);
    assert_string_equal(buf_str(&r->content), "Subject: hi\r\n\r\nbody\r\n");
}

static void test_data_simple(void **state)
{
    (void)state;
    check_all_splits(S("Subject: hi\r\n\r\nbody\r\n.\r\n"), check_simple);
}

static void check_unstuff(const struct result *r, size_t len)
{
    assert_int_equal(r->ends, 1);
    assert_int_equal(r->end_offset, len);
    assert_string_equal(buf_str(&r->content), ".leading\r\n..\r\n.\r\nx.\r\n \r\n");
}

static void test_data_unstuffing(void **state)
{
    (void)state;
    /* "..leading" -> ".leading"; "..." -> ".."; ".." -> "."; a dot inside a
     * line is not touched. */
    check_all_splits(S("..leading\r\n...\r\n..\r\nx.\r\n \r\n.\r\n"), check_unstuff);
}

static void test_data_empty_message(void **state)
{
    (void)state;
    struct result r;
    result_init(&r);
    run_whole(&r, S(".\r\n"));
    assert_int_equal(r.ends, 1);
    assert_int_equal(r.lines, 0);
    assert_int_equal(r.end_offset, 3);
    result_free(&r);
}

/* END consumes exactly through ".\r\n"; what follows is left for commands. */
static void test_data_end_is_exact(void **state)
{
    (void)state;
    struct smtp_data rd;
    struct result r;
    result_init(&r);
    smtp_data_init(&rd, collect, &r);
    smtp_data_begin_message(&rd);
    smtp_data_dot_mode(&rd);
    static const char in[] = "a\r\n.\r\nQUIT\r\n";
    enum smtp_data_event ev;
    size_t used = smtp_data_feed(&rd, in, sizeof(in) - 1, &ev);
    assert_int_equal(ev, SMTP_DATA_END);
    assert_int_equal(used, 6);
    smtp_data_command_mode(&rd);
    used = smtp_data_feed(&rd, in + 6, sizeof(in) - 7, &ev);
    assert_int_equal(ev, SMTP_DATA_LINE);
    assert_int_equal(used, 6);
    assert_string_equal(rd.cmd, "QUIT");
    result_free(&r);
}

/* Lines that merely contain a dot never end the data. */
static void check_no_false_end(const struct result *r, size_t len)
{
    assert_int_equal(r->ends, 1);
    assert_int_equal(r->end_offset, len);
    assert_false(r->bare);
    assert_string_equal(buf_str(&r->content), " .\r\n. \r\nx\r\n");
}

static void test_data_near_miss_dots(void **state)
{
    (void)state;
    check_all_splits(S(" .\r\n.. \r\nx\r\n.\r\n"), check_no_false_end);
}

/* ------------------------------------------------------------ smuggling */

/*
 * security.md 1.2: the variant follows a body line ending in CRLF, then the
 * smuggled transaction in lower case, then the genuine CRLF.CRLF. The reader
 * must see exactly one end of data, at the very end, with the smuggled
 * commands swallowed as content, and no command line at all.
 */
static const char smuggled_tail[] =
    "\r\nmail FROM:<smuggled@attacker.example>\r\nrcpt TO:<victim@example.test>\r\ndata\r\n"
    "From: smuggled@attacker.example\r\nSubject: smuggled\r\n\r\nsmuggled body\r\n.\r\n";

struct variant {
    const char *name;
    const char *bytes;
    size_t len;
    bool bare;      /* contains a bare CR or LF (V7/V8 are NUL tricks only) */
};

static const struct variant variants[] = {
    {"V1 LF.LF", S("\n.\n"), true},
    {"V2 LF.CR", S("\n.\r"), true},
    {"V3 CR.LF", S("\r.\n"), true},
    {"V4 CR.CR", S("\r.\r"), true},
    {"V5 LF.CRLF", S("\n.\r\n"), true},
    {"V6 CR.CRLF", S("\r.\r\n"), true},
    {"V7 NUL before dot", S("\r\n\0.\r\n"), false},
    {"V8 NUL after dot", S("\r\n.\0\r\n"), false},
    {"V9 CRLF.LF", S("\r\n.\n"), true},
    {"V10 CRLF.CR", S("\r\n.\r"), true},
    {"V11 CRLF.CRCRLF", S("\r\n.\r\r\n"), true},
    {"V12 CRCRLF.CRCRLF", S("\r\r\n.\r\r\n"), true},
};

static const struct variant *current_variant;

static void check_smuggled(const struct result *r, size_t len)
{
    const struct variant *v = current_variant;
    if (r->ends != 1 || r->end_offset != len)
        fail_msg("%s: %u end(s), first at %zu of %zu", v->name, r->ends, r->end_offset, len);
    assert_int_equal(r->commands.len, 0);
    assert_int_equal(r->cmd_bare, 0);
    if (v->bare) {
        assert_true(r->bare);
        /* Nothing after the first bare octet reaches the sink. */
        assert_null(memmem(r->content.data, r->content.len, "smuggled", 8));
    } else {
        /* The NUL variants are one message whose body holds the text. */
        assert_false(r->bare);
        static const char want[] = "mail FROM:<smuggled@attacker.example>\r\n";
        assert_non_null(memmem(r->content.data, r->content.len, want, sizeof(want) - 1));
    }
}

static void test_smuggling_variants(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        const struct variant *v = &variants[i];
        struct buf in = BUF_INIT;
        buf_puts(&in, "Subject: outer\r\n\r\nouter body\r\n");
        buf_append(&in, v->bytes, v->len);
        buf_append(&in, smuggled_tail, sizeof(smuggled_tail) - 1);
        current_variant = v;
        check_all_splits(in.data, in.len, check_smuggled);
        buf_free(&in);
    }
}

/* hannob smtpsmug: the variant alone must not be taken as end of data; the
 * reader keeps waiting (no event) rather than answering. */
static void test_smuggling_variant_alone_waits(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        const struct variant *v = &variants[i];
        struct buf in = BUF_INIT;
        buf_puts(&in, "text\r\n");
        buf_append(&in, v->bytes, v->len);
        struct result r;
        result_init(&r);
        run_whole(&r, in.data, in.len);
        if (r.ends != 0)
            fail_msg("%s was taken as end of data", v->name);
        result_free(&r);
        buf_free(&in);
    }
}

/* P: a complete second transaction in the same write as the genuine end:
 * the reader ends the first message exactly at its ".\r\n" and hands the
 * rest out as command lines (the session then refuses content sent before
 * its 354 reply). */
static void check_pipelined(const struct result *r, size_t len)
{
    (void)len;
    assert_true(r->ends >= 1);
    assert_int_equal(r->end_offset, strlen("Subject: a\r\n\r\nfirst\r\n.\r\n"));
    assert_false(r->bare);
    assert_string_equal(buf_str(&r->content), "Subject: a\r\n\r\nfirst\r\n");
    assert_true(strncmp(buf_str(&r->commands), "MAIL FROM:<x@example.test>\nRCPT TO:<y@example.test>\nDATA",
                        strlen("MAIL FROM:<x@example.test>\nRCPT TO:<y@example.test>\nDATA")) == 0);
}

static void test_smuggling_pipelined(void **state)
{
    (void)state;
    check_all_splits(S("Subject: a\r\n\r\nfirst\r\n.\r\n"
                       "MAIL FROM:<x@example.test>\r\nRCPT TO:<y@example.test>\r\nDATA\r\n"
                       "Subject: b\r\n\r\nsecond\r\n.\r\n"),
                     check_pipelined);
}

/* ------------------------------------------------------------ bare, long */

static void check_bare_lf(const struct result *r, size_t len)
{
    assert_int_equal(r->ends, 1);
    assert_int_equal(r->end_offset, len);
    assert_true(r->bare);
    /* The clean line before the bare LF was handed out; nothing after. */
    assert_string_equal(buf_str(&r->content), "ok\r\n");
}

static void test_data_bare_lf(void **state)
{
    (void)state;
    check_all_splits(S("ok\r\na\nb\r\nlater\r\n.\r\n"), check_bare_lf);
}

static void test_data_bare_cr(void **state)
{
    (void)state;
    check_all_splits(S("ok\r\na\rb\r\nlater\r\n.\r\n"), check_bare_lf);
}

static void test_data_line_length(void **state)
{
    (void)state;
    /* 998 octets + CRLF = 1000: the longest legal line. */
    struct buf in = BUF_INIT;
    for (int i = 0; i < 998; i++)
        buf_putc(&in, 'a');
    buf_puts(&in, "\r\n.\r\n");
    struct result r;
    result_init(&r);
    run_whole(&r, in.data, in.len);
    assert_false(r.too_long);
    assert_int_equal(r.lines, 1);
    assert_int_equal(r.content.len, 1000);
    result_free(&r);

    /* 999 octets: too long; the message is refused but the end still found. */
    buf_reset(&in);
    for (int i = 0; i < 999; i++)
        buf_putc(&in, 'a');
    buf_puts(&in, "\r\nnext\r\n.\r\n");
    result_init(&r);
    run_whole(&r, in.data, in.len);
    assert_true(r.too_long);
    assert_int_equal(r.ends, 1);
    assert_int_equal(r.end_offset, in.len);
    assert_int_equal(r.lines, 0);
    result_free(&r);

    /* A stuffed line: the limit applies to the octets on the wire. */
    buf_reset(&in);
    buf_putc(&in, '.');
    for (int i = 0; i < 997; i++)
        buf_putc(&in, 'b');
    buf_puts(&in, "\r\n.\r\n");
    result_init(&r);
    run_whole(&r, in.data, in.len);
    assert_false(r.too_long);
    assert_int_equal(r.content.len, 999);
    result_free(&r);
    buf_free(&in);
}

/* A megabyte without CRLF: memory stays bounded (the reader is a fixed-size
 * struct) and the real end is still found. */
static void test_data_huge_line_bounded(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    char *in = malloc(n + 5);
    memset(in, 'x', n);
    memcpy(in + n, "\r\n.\r\n", 5);
    struct result r;
    result_init(&r);
    size_t cuts[] = {4096, 65536, 500000};
    run_data(&r, in, n + 5, cuts, 3);
    assert_true(r.too_long);
    assert_int_equal(r.ends, 1);
    assert_int_equal(r.end_offset, n + 5);
    assert_int_equal(r.content.len, 0);
    result_free(&r);
    free(in);
}

static void test_data_sink_stops(void **state)
{
    (void)state;
    struct result r;
    result_init(&r);
    r.stop_after = 2;
    run_whole(&r, S("one\r\ntwo\r\nthree\r\n.\r\nNOOP\r\n"));
    assert_int_equal(r.lines, 2);
    assert_string_equal(buf_str(&r.content), "one\r\ntwo\r\n");
    assert_int_equal(r.ends, 1);
    assert_string_equal(buf_str(&r.commands), "NOOP");
    result_free(&r);
}

/* ------------------------------------------------------------ commands */

static enum smtp_data_event feed_cmd(struct smtp_data *rd, const char *in, size_t len, size_t *used)
{
    enum smtp_data_event ev;
    *used = smtp_data_feed(rd, in, len, &ev);
    return ev;
}

static void test_command_lines(void **state)
{
    (void)state;
    struct smtp_data rd;
    smtp_data_init(&rd, NULL, NULL);
    size_t used;
    assert_int_equal(feed_cmd(&rd, S("EHLO x\r\nMAIL"), &used), SMTP_DATA_LINE);
    assert_int_equal(used, 8);
    assert_string_equal(rd.cmd, "EHLO x");
    assert_int_equal(rd.cmd_len, 6);
    /* A line across reads, with the CR and LF in different reads. */
    assert_int_equal(feed_cmd(&rd, S("MAIL FROM:<a@b>\r"), &used), SMTP_DATA_MORE);
    assert_int_equal(feed_cmd(&rd, S("\nRSET\r\n"), &used), SMTP_DATA_LINE);
    assert_int_equal(used, 1);
    assert_string_equal(rd.cmd, "MAIL FROM:<a@b>");
    assert_int_equal(feed_cmd(&rd, S("RSET\r\n"), &used), SMTP_DATA_LINE);
    assert_string_equal(rd.cmd, "RSET");
    /* An empty line is a line. */
    assert_int_equal(feed_cmd(&rd, S("\r\n"), &used), SMTP_DATA_LINE);
    assert_int_equal(rd.cmd_len, 0);
}

static void test_command_bare(void **state)
{
    (void)state;
    struct smtp_data rd;
    size_t used;
    smtp_data_init(&rd, NULL, NULL);
    assert_int_equal(feed_cmd(&rd, S("EHLO x\n"), &used), SMTP_DATA_BARE);
    smtp_data_init(&rd, NULL, NULL);
    assert_int_equal(feed_cmd(&rd, S("EHLO\rx\r\n"), &used), SMTP_DATA_BARE);
    smtp_data_init(&rd, NULL, NULL);
    assert_int_equal(feed_cmd(&rd, S("EHLO x\r"), &used), SMTP_DATA_MORE);
    assert_int_equal(feed_cmd(&rd, S("\r\n"), &used), SMTP_DATA_BARE);
    smtp_data_init(&rd, NULL, NULL);
    assert_int_equal(feed_cmd(&rd, S("\n"), &used), SMTP_DATA_BARE);
}

static void test_command_length(void **state)
{
    (void)state;
    struct smtp_data rd;
    size_t used;
    char line[2000];
    /* 510 + CRLF = 512: accepted. */
    smtp_data_init(&rd, NULL, NULL);
    memset(line, 'n', 510);
    memcpy(line + 510, "\r\n", 2);
    assert_int_equal(feed_cmd(&rd, line, 512, &used), SMTP_DATA_LINE);
    assert_int_equal(rd.cmd_len, 510);
    /* 511 + CRLF: skipped through its CRLF, reported once, then normal. */
    smtp_data_init(&rd, NULL, NULL);
    memset(line, 'n', 511);
    memcpy(line + 511, "\r\nQUIT\r\n", 8);
    assert_int_equal(feed_cmd(&rd, line, 519, &used), SMTP_DATA_TOO_LONG);
    assert_int_equal(used, 513);
    assert_int_equal(feed_cmd(&rd, line + used, 519 - used, &used), SMTP_DATA_LINE);
    assert_string_equal(rd.cmd, "QUIT");
    /* A long line in small pieces. */
    smtp_data_init(&rd, NULL, NULL);
    memset(line, 'n', 1900);
    for (size_t off = 0; off < 1900; off += 100)
        assert_int_equal(feed_cmd(&rd, line + off, 100, &used), SMTP_DATA_MORE);
    assert_int_equal(feed_cmd(&rd, S("\r\n"), &used), SMTP_DATA_TOO_LONG);
    /* A bare LF while skipping is still a bare LF. */
    smtp_data_init(&rd, NULL, NULL);
    assert_int_equal(feed_cmd(&rd, line, 600, &used), SMTP_DATA_MORE);
    assert_int_equal(feed_cmd(&rd, S("ab\ncd\r\n"), &used), SMTP_DATA_BARE);
}

/* ------------------------------------------------------------ BDAT */

struct chunk {
    const char *bytes;
    size_t len;
    bool last;
};

/* Feed chunks as the session does: each chunk's octets, split at every
 * cut; returns the content and the verdict. */
static void run_chunks(struct result *r, const struct chunk *chunks, size_t n, size_t piece)
{
    struct smtp_data rd;
    smtp_data_init(&rd, collect, r);
    smtp_data_begin_message(&rd);
    for (size_t i = 0; i < n; i++) {
        smtp_data_chunk_mode(&rd, chunks[i].len, chunks[i].last, false);
        size_t pos = 0;
        enum smtp_data_event ev = SMTP_DATA_MORE;
        do {
            size_t want = chunks[i].len - pos;
            if (piece && want > piece)
                want = piece;
            size_t used = smtp_data_feed(&rd, chunks[i].bytes + pos, want, &ev);
            pos += used;
        } while (ev == SMTP_DATA_MORE);
        assert_int_equal(ev, SMTP_DATA_END);
        assert_int_equal(pos, chunks[i].len);
        r->ends++;
    }
    r->bare = rd.bare;
    r->too_long = rd.too_long;
}

static void test_bdat_lines_across_chunks(void **state)
{
    (void)state;
    /* CRLF split between chunks; a final partial line gets its CRLF; dots
     * mean nothing in BDAT. */
    static const struct chunk c[] = {
        {S("Subject: x\r"), false},
        {S("\n\r\n.\r\n..x\r\nlast"), false},
        {S(" line"), true},
    };
    for (size_t piece = 0; piece <= 3; piece++) {
        struct result r;
        result_init(&r);
        run_chunks(&r, c, 3, piece);
        assert_false(r.bare);
        assert_string_equal(buf_str(&r.content), "Subject: x\r\n\r\n.\r\n..x\r\nlast line\r\n");
        result_free(&r);
    }
}

static void test_bdat_bare(void **state)
{
    (void)state;
    static const struct chunk lf[] = {{S("a\nb\r\n"), false}, {S("c\r\n"), true}};
    static const struct chunk cr_end[] = {{S("a\r\n"), false}, {S("b\r"), true}};
    static const struct chunk cr_mid[] = {{S("a\r"), false}, {S("b\r\n"), true}};
    static const struct chunk ok_split[] = {{S("a\r"), false}, {S("\n"), true}};
    struct result r;

    result_init(&r);
    run_chunks(&r, lf, 2, 0);
    assert_true(r.bare);
    assert_int_equal(r.lines, 0);
    result_free(&r);

    result_init(&r);
    run_chunks(&r, cr_end, 2, 0);
    assert_true(r.bare);
    result_free(&r);

    result_init(&r);
    run_chunks(&r, cr_mid, 2, 1);
    assert_true(r.bare);
    result_free(&r);

    result_init(&r);
    run_chunks(&r, ok_split, 2, 1);
    assert_false(r.bare);
    assert_string_equal(buf_str(&r.content), "a\r\n");
    result_free(&r);
}

/* A smuggling variant inside BDAT is content, and the exact count decides
 * where the chunk ends, never a dot. */
static void test_bdat_smuggling_is_content(void **state)
{
    (void)state;
    static const char body[] = "x\r\n.\r\nMAIL FROM:<s@attacker.example>\r\n";
    struct smtp_data rd;
    struct result r;
    result_init(&r);
    smtp_data_init(&rd, collect, &r);
    smtp_data_begin_message(&rd);
    smtp_data_chunk_mode(&rd, sizeof(body) - 1, true, false);
    char in[256];
    snprintf(in, sizeof(in), "%sQUIT\r\n", body);
    enum smtp_data_event ev;
    size_t used = smtp_data_feed(&rd, in, strlen(in), &ev);
    assert_int_equal(ev, SMTP_DATA_END);
    assert_int_equal(used, sizeof(body) - 1);
    assert_string_equal(buf_str(&r.content), body);
    smtp_data_command_mode(&rd);
    used = smtp_data_feed(&rd, in + used, strlen(in) - used, &ev);
    assert_int_equal(ev, SMTP_DATA_LINE);
    assert_string_equal(rd.cmd, "QUIT");
    result_free(&r);
}

static void test_bdat_zero_and_discard(void **state)
{
    (void)state;
    struct smtp_data rd;
    struct result r;
    result_init(&r);
    smtp_data_init(&rd, collect, &r);
    smtp_data_begin_message(&rd);
    enum smtp_data_event ev;
    /* BDAT 0 LAST: ends at once, even with no input. */
    smtp_data_chunk_mode(&rd, 0, true, false);
    assert_int_equal(smtp_data_feed(&rd, NULL, 0, &ev), 0);
    assert_int_equal(ev, SMTP_DATA_END);
    assert_int_equal(r.lines, 0);
    /* A refused chunk is skipped octet-exactly and never looked at. */
    smtp_data_begin_message(&rd);
    smtp_data_chunk_mode(&rd, 10, false, true);
    assert_int_equal(smtp_data_feed(&rd, S("a\nb\r\n.\r\n"), &ev), 8);
    assert_int_equal(ev, SMTP_DATA_MORE);
    assert_int_equal(smtp_data_feed(&rd, S("xyNOOP\r\n"), &ev), 2);
    assert_int_equal(ev, SMTP_DATA_END);
    assert_false(rd.bare);
    assert_int_equal(r.lines, 0);
    result_free(&r);
}

static void test_bdat_line_too_long(void **state)
{
    (void)state;
    char big[1200];
    memset(big, 'z', sizeof(big));
    struct chunk c[] = {{big, 600, false}, {big, 600, true}};
    struct result r;
    result_init(&r);
    run_chunks(&r, c, 2, 0);
    assert_true(r.too_long);
    assert_int_equal(r.lines, 0);
    result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_simple),
        cmocka_unit_test(test_data_unstuffing),
        cmocka_unit_test(test_data_empty_message),
        cmocka_unit_test(test_data_end_is_exact),
        cmocka_unit_test(test_data_near_miss_dots),
        cmocka_unit_test(test_smuggling_variants),
        cmocka_unit_test(test_smuggling_variant_alone_waits),
        cmocka_unit_test(test_smuggling_pipelined),
        cmocka_unit_test(test_data_bare_lf),
        cmocka_unit_test(test_data_bare_cr),
        cmocka_unit_test(test_data_line_length),
        cmocka_unit_test(test_data_huge_line_bounded),
        cmocka_unit_test(test_data_sink_stops),
        cmocka_unit_test(test_command_lines),
        cmocka_unit_test(test_command_bare),
        cmocka_unit_test(test_command_length),
        cmocka_unit_test(test_bdat_lines_across_chunks),
        cmocka_unit_test(test_bdat_bare),
        cmocka_unit_test(test_bdat_smuggling_is_content),
        cmocka_unit_test(test_bdat_zero_and_discard),
        cmocka_unit_test(test_bdat_line_too_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
