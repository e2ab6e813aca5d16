/*
 * queue_file.h - the on-disk format of one queued message.
 *
 * A queue file is written once, front to back, and is trusted only after it
 * has been validated. Layout:
 *
 *   magic "YUBINQ" 0x00 0x01            (8 bytes; the last byte is the version)
 *   records, each: type (1 byte) | length (4 bytes, big-endian) | payload
 *     'A'  attribute "name=value" (arrival, client_name, client_addr,
 *          client_port, helo, proto, tls, envid, ret, body, smtputf8, uid,
 *          origin, fullname); unknown names are ignored (forward compatible)
 *     'S'  sender (exactly one; empty payload = null sender)
 *     'R'  recipient: status (1: 'P' pending / 'D' done) | notify (1) |
 *          orcpt length (2, big-endian) | orcpt | address
 *          The status byte is at a fixed place so delivery can mark a
 *          recipient done with a one-byte pwrite.
 *     'M'  start of content (empty)
 *     'D'  content chunk (CRLF text, dot-unstuffed), at most 64 KiB each
 *     'X'  end (exactly 16 bytes): content size (8, BE) | CRC-32 of the
 *          content (4, BE, zlib's crc32) | record count (4, BE: the number
 *          of records before X, i.e. A, S, R, M and D records). Always the
 *          last 21 bytes.
 *
 * Order: A, S and R records in any order (exactly one S, at least one R),
 * then M, then zero or more D, then X. Every envelope value (attribute
 * values, sender, recipient, ORCPT) is at most QF_VALUE_MAX bytes and holds
 * no control character (< 0x20, 0x7f); a file that breaks any of this is
 * corrupt. Attribute names are [a-z0-9_]{1,32}; enumerated values are
 * ret=FULL|HDRS, body=7BIT|8BITMIME|BINARYMIME, smtputf8=yes|no; arrival is
 * "SECONDS.MICROSECONDS" in decimal digits.
 *
 * A file without a valid 'X' record is an unfinished write (the server
 * never answered 250 for it) and is removed at start. A file whose records
 * do not add up (bad lengths, unknown types, missing sender, no recipient,
 * size or CRC mismatch) is corrupt and is moved aside, never half-delivered.
 * Envelope values can never be injected: every value is length-prefixed and
 * control characters in addresses are refused before they get here.
 */
#ifndef YUBIN_QUEUE_FILE_H
#define YUBIN_QUEUE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "lib/buf.h"
#include "queue/envelope.h"

#define QF_MAGIC "YUBINQ\0\1"
#define QF_MAGIC_LEN 8
#define QF_HDR_LEN 5
#define QF_END_LEN (QF_HDR_LEN + 16)
#define QF_CHUNK_MAX 65536
#define QF_RECORD_MAX (1 << 20)   /* no envelope record is larger than 1 MiB */
#define QF_VALUE_MAX 4096         /* longest envelope value (address, attribute) */
#define QF_RCPT_MAX 100000        /* most recipients in one file */
#define QF_ENVELOPE_MAX (16 << 20) /* magic .. M: bytes a reader will parse */

/* The arrival time encoding ("SECONDS.MICROSECONDS", digits only, so no
 * locale can change it); also used by the defer state files. */
#define QF_TIME_SIZE 32
void qf_format_time(char out[QF_TIME_SIZE], double t);
bool qf_parse_time(const char *s, double *out);

/* Can this envelope be written so that the reader accepts it (recipients,
 * lengths, no control characters, enumerations in range)? The queue writer
 * refuses (EINVAL) what fails here. err may be NULL. */
bool qf_envelope_check(const struct envelope *env, struct buf *err);

/* Serialise the envelope (magic, A, S, R records and the M marker) into out.
 * The status bytes' offsets (relative to the start of out) are stored in
 * env->rcpt[i].status_off. Returns the number of records written (count
 * them into the X record). */
uint32_t qf_write_envelope(struct buf *out, struct envelope *env);

/* Append one record header (type, length) to out. */
void qf_record_header(struct buf *out, char type, uint32_t len);

/* The closing record for content of this size and CRC-32. */
void qf_end_record(struct buf *out, uint64_t size, uint32_t crc, uint32_t nrecords);

/*
 * Read and validate a whole queue file from fd. On success fills env
 * (status offsets included), *content_off and *content_size (where the 'M'
 * marker ends and how many content bytes follow in 'D' records) and
 * returns 0. On failure returns -1 and puts a reason in err ("truncated
 * record at offset 812", "CRC mismatch", "no end record"). incomplete is set
 * when the file simply has no end record (an unfinished write), as opposed
 * to corrupt content: the test is whether the last 21 bytes are an X record
 * header, so a damaged length field inside a finished file is "corrupt",
 * never "incomplete". On failure env is left empty (no need to free it).
 * err and incomplete may be NULL; content_off and content_size too.
 */
int qf_read(int fd, struct envelope *env, off_t *content_off, uint64_t *content_size,
            bool *incomplete, struct buf *err);

/* Read only the envelope (for mailq) and check the end record is present;
 * cheap: does not read or checksum the content, but checks that the end
 * record's size and record count fit the file's length. Same return
 * convention. */
int qf_read_envelope(int fd, struct envelope *env, uint64_t *content_size,
                     bool *incomplete, struct buf *err);

/*
 * Content reader: iterate the 'D' chunks of a validated file starting at
 * content_off. Calls fn for each chunk; stops early when fn returns non-zero
 * and returns that value; -1 on read error.
 */
int qf_read_content(int fd, off_t content_off, int (*fn)(void *arg, const char *p, size_t n), void *arg);

#endif
