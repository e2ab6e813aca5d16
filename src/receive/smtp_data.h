/*
 * smtp_data.h - the SMTP server's line discipline as a pure state machine:
 * bytes in, command lines and message lines out. No I/O, no allocation;
 * the session (smtp_session.c) feeds it whatever arrived on the socket, and
 * the unit tests and fuzz/fuzz_smtp_data.c feed it attack bytes directly.
 *
 * The rules (security.md 8.1, RFC 5321 2.3.8 and 4.1.1.4):
 *   - only CRLF ends a line, in commands and in content; a CR not followed
 *     by LF, or an LF not preceded by CR, is a "bare" CR/LF;
 *   - a command line is at most 512 octets including CRLF; a longer one is
 *     discarded up to its CRLF (memory stays bounded) and reported once;
 *   - DATA ends only at CRLF "." CRLF (the CRLF that ends the DATA command
 *     counts as the first one); lines starting with "." are unstuffed;
 *   - BDAT chunks are exactly counted octets: no dot handling at all; lines
 *     may span chunks; the LAST chunk gets a CRLF after a final partial line;
 *   - a bare CR/LF or a content line over 1000 octets (including CRLF) marks
 *     the message rejected: from then on no line is handed out, but reading
 *     continues to the real end of data, so a smuggled second message is
 *     swallowed as content of the rejected one.
 *
 * Trusts: nothing; every byte is hostile.
 */
#ifndef YUBIN_SMTP_DATA_H
#define YUBIN_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMTP_CMD_LINE_MAX 512       /* RFC 5321 4.5.3.1.4, including CRLF */
#define SMTP_TEXT_LINE_MAX 1000     /* RFC 5321 4.5.3.1.6, including CRLF */

enum smtp_data_mode {
    SMTP_DATA_MODE_CMD,        /* command lines */
    SMTP_DATA_MODE_DATA,       /* DATA content up to CRLF.CRLF */
    SMTP_DATA_MODE_CHUNK,      /* one BDAT chunk */
};

enum smtp_data_event {
    SMTP_DATA_MORE,       /* all input used; feed more */
    SMTP_DATA_LINE,       /* a command line is in rd->cmd (rd->cmd_len, NUL-terminated, no CRLF) */
    SMTP_DATA_BARE,       /* bare CR or LF inside a command line: close the session */
    SMTP_DATA_TOO_LONG,   /* a command line over 512 octets was skipped, through its CRLF */
    SMTP_DATA_END,        /* DATA: the final "." line was read; BDAT: the chunk is complete */
};

/*
 * Receives each content line, unstuffed, with its CRLF. Returns false to
 * stop the flow (the sink refused the message): later lines are read but
 * not handed out.
 */
typedef bool (*smtp_data_line_fn)(void *arg, const char *line, size_t len);

struct smtp_data {
    enum smtp_data_mode mode;
    smtp_data_line_fn line_fn;
    void *arg;

    /* command state */
    char cmd[SMTP_CMD_LINE_MAX + 1];
    size_t cmd_len;
    bool cmd_cr;            /* last byte consumed was a CR */
    bool cmd_skipping;      /* discarding a too-long line */
    bool cmd_complete;      /* cmd holds a finished line; the next byte starts a new one */

    /* content state, kept across BDAT chunks of one message */
    char line[SMTP_TEXT_LINE_MAX + 2];
    size_t line_len;        /* octets of the current line, including bare CR/LF, excluding CRLF */
    bool line_cr;
    uint64_t chunk_left;    /* BDAT: octets still to come in this chunk */
    bool chunk_last;
    bool discard;           /* BDAT: consume the chunk without looking at it */

    /* verdict on the current message */
    bool bare;              /* a bare CR or LF was seen */
    bool too_long;          /* a line exceeded SMTP_TEXT_LINE_MAX */
    bool stopped;           /* line_fn returned false */
    uint64_t octets;        /* content octets received (wire bytes) */
};

void smtp_data_init(struct smtp_data *rd, smtp_data_line_fn fn, void *arg);

/* Switch back to command lines (after DATA ended or a chunk completed). */
void smtp_data_command_mode(struct smtp_data *rd);
/* Start a message: resets the verdict and the partial line. */
void smtp_data_begin_message(struct smtp_data *rd);
/* Read DATA content (call smtp_data_begin_message first). */
void smtp_data_dot_mode(struct smtp_data *rd);
/* Read one BDAT chunk of size octets. discard: count the octets but ignore
 * them (a BDAT the session refuses must still be skipped exactly). */
void smtp_data_chunk_mode(struct smtp_data *rd, uint64_t size, bool last, bool discard);

/*
 * Consume bytes from p[0..len). Returns how many were used and sets *ev.
 * Stops right after an event other than SMTP_DATA_MORE, so bytes that follow
 * (the next command) stay with the caller. In chunk mode call it also with
 * len 0: a zero-length chunk completes at once.
 */
size_t smtp_data_feed(struct smtp_data *rd, const char *p, size_t len, enum smtp_data_event *ev);

#endif
