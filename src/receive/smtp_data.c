/*
 * smtp_data.c - the SMTP server's line discipline (see smtp_data.h): cuts
 * command lines, finds the end of DATA, counts BDAT chunks, unstuffs dots,
 * and decides whether a message's bytes were clean.
 *
 * One byte at a time through explicit states, as qmail's blast() does: the
 * only way to end a line is CR immediately followed by LF, whichever read()
 * the two arrive in; anything else that looks like a line end is content,
 * so the end-of-data test "the line is exactly one dot" cannot be fooled by
 * LF.LF, CR.CR, LF.CRLF, NUL.CRLF and the other smuggling variants.
 *
 * Trusts: nothing.
 */
#include "receive/smtp_data.h"

#include <string.h>

/* Longest content of a command line: 512 octets minus CRLF. */
#define CMD_CONTENT_MAX (SMTP_CMD_LINE_MAX - 2)
/* Longest content of a text line: 1000 octets minus CRLF. */
#define TEXT_CONTENT_MAX (SMTP_TEXT_LINE_MAX - 2)

void smtp_data_init(struct smtp_data *rd, smtp_data_line_fn fn, void *arg)
{
    memset(rd, 0, sizeof(*rd));
    rd->line_fn = fn;
    rd->arg = arg;
    rd->mode = SMTP_DATA_MODE_CMD;
}

void smtp_data_command_mode(struct smtp_data *rd)
{
    rd->mode = SMTP_DATA_MODE_CMD;
    rd->cmd_len = 0;
    rd->cmd_cr = false;
    rd->cmd_skipping = false;
    rd->cmd_complete = false;
}

void smtp_data_begin_message(struct smtp_data *rd)
{
    rd->line_len = 0;
    rd->line_cr = false;
    rd->bare = false;
    rd->too_long = false;
    rd->stopped = false;
    rd->octets = 0;
    rd->chunk_left = 0;
    rd->chunk_last = false;
    rd->discard = false;
}

void smtp_data_dot_mode(struct smtp_data *rd)
{
    rd->mode = SMTP_DATA_MODE_DATA;
}

void smtp_data_chunk_mode(struct smtp_data *rd, uint64_t size, bool last, bool discard)
{
    rd->mode = SMTP_DATA_MODE_CHUNK;
    rd->chunk_left = size;
    rd->chunk_last = last;
    rd->discard = discard;
}

static size_t smtp_data_feed_command(struct smtp_data *rd, const char *p, size_t len,
                                     enum smtp_data_event *ev)
{
    if (rd->cmd_complete) {
        rd->cmd_complete = false;
        rd->cmd_len = 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (rd->cmd_cr) {
            rd->cmd_cr = false;
            if (c != '\n') {
                *ev = SMTP_DATA_BARE;
                return i;
            }
            if (rd->cmd_skipping) {
                rd->cmd_skipping = false;
                rd->cmd_len = 0;
                *ev = SMTP_DATA_TOO_LONG;
                return i + 1;
            }
            rd->cmd[rd->cmd_len] = 0;
            rd->cmd_complete = true;
            *ev = SMTP_DATA_LINE;
            return i + 1;
        }
        if (c == '\r') {
            rd->cmd_cr = true;
        } else if (c == '\n') {
            *ev = SMTP_DATA_BARE;
            return i + 1;
        } else if (!rd->cmd_skipping) {
            if (rd->cmd_len >= CMD_CONTENT_MAX)
                rd->cmd_skipping = true;
            else
                rd->cmd[rd->cmd_len++] = c;
        }
    }
    *ev = SMTP_DATA_MORE;
    return len;
}

/* One content octet of the current line (bare CR/LF included: they are
 * content, never terminators). */
static void smtp_data_line_add(struct smtp_data *rd, char c)
{
    if (rd->line_len < TEXT_CONTENT_MAX)
        rd->line[rd->line_len] = c;
    else
        rd->too_long = true;
    if (rd->line_len <= TEXT_CONTENT_MAX)
        rd->line_len++;
}

/* Hand a finished line to the consumer unless the message is already lost. */
static void smtp_data_line_emit(struct smtp_data *rd, bool unstuff)
{
    if (!rd->bare && !rd->too_long && !rd->stopped) {
        const char *s = rd->line;
        size_t n = rd->line_len;
        if (unstuff && n > 0 && s[0] == '.') {
            s++;
            n--;
        }
        rd->line[rd->line_len] = '\r';
        rd->line[rd->line_len + 1] = '\n';
        if (rd->line_fn && !rd->line_fn(rd->arg, s, n + 2))
            rd->stopped = true;
    }
    rd->line_len = 0;
}

/*
 * Run content bytes through the line machine. dot: DATA rules (end at a
 * line that is exactly ".", unstuff). Returns the octets used; *end is set
 * when the final dot line was consumed.
 */
static size_t smtp_data_feed_content(struct smtp_data *rd, const char *p, size_t len, bool dot, bool *end)
{
    *end = false;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        rd->octets++;
        if (rd->line_cr) {
            rd->line_cr = false;
            if (c == '\n') {
                if (dot && rd->line_len == 1 && rd->line[0] == '.') {
                    rd->line_len = 0;
                    *end = true;
                    return i + 1;
                }
                smtp_data_line_emit(rd, dot);
                continue;
            }
            rd->bare = true;
            smtp_data_line_add(rd, '\r');
        }
        if (c == '\r') {
            rd->line_cr = true;
        } else {
            if (c == '\n')
                rd->bare = true;
            smtp_data_line_add(rd, c);
        }
    }
    return len;
}

static size_t smtp_data_feed_chunk(struct smtp_data *rd, const char *p, size_t len, enum smtp_data_event *ev)
{
    size_t n = len;
    if ((uint64_t)n > rd->chunk_left)
        n = (size_t)rd->chunk_left;
    if (!rd->discard) {
        bool end;
        (void)smtp_data_feed_content(rd, p, n, false, &end);
    }
    rd->chunk_left -= n;
    if (rd->chunk_left > 0) {
        *ev = SMTP_DATA_MORE;
        return n;
    }
    if (rd->chunk_last && !rd->discard) {
        /* A CR as the very last octet has no LF after it: bare. */
        if (rd->line_cr) {
            rd->line_cr = false;
            rd->bare = true;
            smtp_data_line_add(rd, '\r');
        }
        /* RFC 3030 leaves the final line unterminated; the queue wants CRLF. */
        if (rd->line_len > 0)
            smtp_data_line_emit(rd, false);
    }
    *ev = SMTP_DATA_END;
    return n;
}

size_t smtp_data_feed(struct smtp_data *rd, const char *p, size_t len, enum smtp_data_event *ev)
{
    switch (rd->mode) {
    case SMTP_DATA_MODE_CMD:
        return smtp_data_feed_command(rd, p, len, ev);
    case SMTP_DATA_MODE_DATA: {
        bool end;
        size_t used = smtp_data_feed_content(rd, p, len, true, &end);
        *ev = end ? SMTP_DATA_END : SMTP_DATA_MORE;
        return used;
    }
    case SMTP_DATA_MODE_CHUNK:
        return smtp_data_feed_chunk(rd, p, len, ev);
    }
    *ev = SMTP_DATA_MORE;
    return len;
}
