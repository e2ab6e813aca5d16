/*
 * test_queue_file.c - the queue file format (src/queue/queue_file.c): a
 * full round trip, and every class of damage a hostile or broken file can
 * have (truncation at every byte, flipped length fields, bad CRC, missing
 * or doubled sender, no recipient, unknown and misplaced records, control
 * characters in envelope values) is refused without crashing, with the
 * right "incomplete" versus "corrupt" verdict.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "lib/buf.h"
#include "queue/envelope.h"
#include "queue/queue_file.h"

/* ---- helpers ---- */

static int memfd_with(const void *p, size_t n)
{
    int fd = memfd_create("qf", 0);
    assert_true(fd >= 0);
    if (n)
        assert_int_equal(write(fd, p, n), (ssize_t)n);
    return fd;
}

static void sample_envelope(struct envelope *e)
{
    envelope_init(e);
    envelope_set(&e->sender, "sender@example.test");
    e->arrival = 1795452738.25;
    envelope_set(&e->client_name, "client.example.org");
    envelope_set(&e->client_addr, "127.0.0.2");
    e->client_port = 40123;
    envelope_set(&e->helo, "client.example.org");
    envelope_set(&e->proto, "ESMTPS");
    envelope_set(&e->tls, "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)");
    envelope_set(&e->envid, "env-42");
    e->ret = DSN_RET_HDRS;
    e->body = BODY_8BITMIME;
    e->smtputf8 = true;
    e->uid = 1000;
    envelope_set(&e->origin, "smtpd");
    envelope_set(&e->fullname, "Hanako Yamada");
    envelope_add_rcpt(e, "a@example.com", NULL, 0);
    envelope_add_rcpt(e, "b@example.net", "rfc822;B@example.net", DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY);
}

/* A complete file: envelope, content in chunks of at most chunk bytes, end. */
static void build_file(struct buf *out, struct envelope *e, const char *content, size_t len, size_t chunk)
{
    uint32_t n = qf_write_envelope(out, e);
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t off = 0; off < len; off += chunk) {
        size_t k = len - off < chunk ? len - off : chunk;
        qf_record_header(out, 'D', (uint32_t)k);
        buf_append(out, content + off, k);
        crc = crc32(crc, (const Bytef *)content + off, (uInt)k);
        n++;
    }
    qf_end_record(out, len, (uint32_t)crc, n);
}

static void add_rec(struct buf *out, char type, const void *p, size_t len)
{
    qf_record_header(out, type, (uint32_t)len);
    buf_append(out, p, len);
}

static void add_rcpt(struct buf *out, const char *addr)
{
    struct buf r = BUF_INIT;
    buf_append(&r, "P\0\0\0", 4);
    buf_puts(&r, addr);
    add_rec(out, 'R', r.data, r.len);
    buf_free(&r);
}

/* Finish a hand-built file: M, one D record with content, correct X. */
static void hand_finish(struct buf *out, uint32_t nrec_before_m, const char *content)
{
    add_rec(out, 'M', "", 0);
    size_t len = strlen(content);
    add_rec(out, 'D', content, len);
    uLong crc = crc32(crc32(0L, Z_NULL, 0), (const Bytef *)content, (uInt)len);
    qf_end_record(out, len, (uint32_t)crc, nrec_before_m + 2);
}

/* Expect both readers to refuse the bytes; returns the reason. */
static void expect_reject(const struct buf *file, bool want_incomplete, const char *want_reason)
{
    int fd = memfd_with(file->data, file->len);
    struct envelope e;
    struct buf err = BUF_INIT;
    bool incomplete = !want_incomplete;
    off_t coff;
    uint64_t size;
    assert_int_equal(qf_read(fd, &e, &coff, &size, &incomplete, &err), -1);
    assert_int_equal(incomplete, want_incomplete);
    assert_true(err.len > 0);
    if (want_reason && !strstr(buf_str(&err), want_reason))
        fail_msg("reason \"%s\" does not contain \"%s\"", buf_str(&err), want_reason);
    assert_null(e.sender);
    assert_int_equal(e.nrcpt, 0);
    envelope_free(&e);
    close(fd);
    buf_free(&err);
}

static void expect_reject_both(const struct buf *file, bool want_incomplete, const char *want_reason)
{
    expect_reject(file, want_incomplete, want_reason);
    int fd = memfd_with(file->data, file->len);
    struct envelope e;
    bool incomplete = !want_incomplete;
    assert_int_equal(qf_read_envelope(fd, &e, NULL, &incomplete, NULL), -1);
    assert_int_equal(incomplete, want_incomplete);
    envelope_free(&e);
    close(fd);
}

static int collect(void *arg, const char *p, size_t n)
{
    buf_append(arg, p, n);
    return 0;
}

static char *make_content(size_t len)
{
    char *c = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        c[i] = (i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n' : (char)('a' + (i * 7) % 26);
    c[len] = 0;
    return c;
}

/* ---- tests ---- */

static void test_round_trip(void **state)
{
    (void)state;
    struct envelope e;
    sample_envelope(&e);
    size_t clen = 150000;
    char *content = make_content(clen);
    struct buf file = BUF_INIT;
    build_file(&file, &e, content, clen, QF_CHUNK_MAX);
    assert_memory_equal(file.data, QF_MAGIC, QF_MAGIC_LEN);
    assert_int_equal(file.data[file.len - QF_END_LEN], 'X');

    int fd = memfd_with(file.data, file.len);
    struct envelope r;
    off_t coff;
    uint64_t size;
    bool incomplete = true;
    struct buf err = BUF_INIT;
    assert_int_equal(qf_read(fd, &r, &coff, &size, &incomplete, &err), 0);
    assert_false(incomplete);
    assert_int_equal(size, clen);
    assert_string_equal(r.sender, "sender@example.test");
    assert_true(r.arrival > 1795452738.24 && r.arrival < 1795452738.26);
    assert_string_equal(r.client_name, "client.example.org");
    assert_string_equal(r.client_addr, "127.0.0.2");
    assert_int_equal(r.client_port, 40123);
    assert_string_equal(r.helo, "client.example.org");
    assert_string_equal(r.proto, "ESMTPS");
    assert_string_equal(r.tls, e.tls);
    assert_string_equal(r.envid, "env-42");
    assert_int_equal(r.ret, DSN_RET_HDRS);
    assert_int_equal(r.body, BODY_8BITMIME);
    assert_true(r.smtputf8);
    assert_int_equal(r.uid, 1000);
    assert_string_equal(r.origin, "smtpd");
    assert_string_equal(r.fullname, "Hanako Yamada");
    assert_int_equal(r.nrcpt, 2);
    assert_string_equal(r.rcpt[0].addr, "a@example.com");
    assert_null(r.rcpt[0].orcpt);
    assert_int_equal(r.rcpt[0].notify, 0);
    assert_string_equal(r.rcpt[1].addr, "b@example.net");
    assert_string_equal(r.rcpt[1].orcpt, "rfc822;B@example.net");
    assert_int_equal(r.rcpt[1].notify, DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(r.rcpt[i].status, RCPT_PENDING);
        /* The writer and reader agree where the status byte is, and it is one. */
        assert_int_equal(r.rcpt[i].status_off, e.rcpt[i].status_off);
        assert_int_equal(file.data[r.rcpt[i].status_off], 'P');
    }

    struct buf back = BUF_INIT;
    assert_int_equal(qf_read_content(fd, coff, collect, &back), 0);
    assert_int_equal(back.len, clen);
    assert_memory_equal(back.data, content, clen);

    struct envelope r2;
    uint64_t size2 = 0;
    assert_int_equal(qf_read_envelope(fd, &r2, &size2, &incomplete, &err), 0);
    assert_int_equal(size2, clen);
    assert_int_equal(r2.nrcpt, 2);
    assert_string_equal(r2.sender, "sender@example.test");

    envelope_free(&r);
    envelope_free(&r2);
    envelope_free(&e);
    buf_free(&back);
    buf_free(&file);
    buf_free(&err);
    free(content);
    close(fd);
}

static void test_minimal_and_empty_content(void **state)
{
    (void)state;
    struct envelope e;
    envelope_init(&e);
    envelope_set(&e.sender, "");
    envelope_add_rcpt(&e, "postmaster", NULL, 0);
    e.rcpt[0].status = RCPT_DONE;
    struct buf file = BUF_INIT;
    build_file(&file, &e, "", 0, QF_CHUNK_MAX);
    int fd = memfd_with(file.data, file.len);
    struct envelope r;
    uint64_t size = 1;
    assert_int_equal(qf_read(fd, &r, NULL, &size, NULL, NULL), 0);
    assert_int_equal(size, 0);
    assert_string_equal(r.sender, "");
    assert_int_equal(r.rcpt[0].status, RCPT_DONE);
    assert_int_equal(r.uid, -1);
    envelope_free(&r);
    assert_int_equal(qf_read_envelope(fd, &r, &size, NULL, NULL), 0);
    envelope_free(&r);
    envelope_free(&e);
    buf_free(&file);
    close(fd);
}

static void test_truncation_every_offset(void **state)
{
    (void)state;
    struct envelope e;
    sample_envelope(&e);
    const char *content = "Subject: hi\r\n\r\nhello\r\n";
    struct buf file = BUF_INIT;
    build_file(&file, &e, content, strlen(content), 8);
    for (size_t cut = 0; cut < file.len; cut++) {
        struct buf part = BUF_INIT;
        buf_append(&part, file.data, cut);
        expect_reject_both(&part, true, "no end record");
        buf_free(&part);
    }
    envelope_free(&e);
    buf_free(&file);
}

/* Offsets of every record header in a well-formed file. */
static size_t record_offsets(const struct buf *file, size_t *offs, size_t max)
{
    size_t n = 0, pos = QF_MAGIC_LEN;
    while (pos + QF_HDR_LEN <= file->len && n < max) {
        const unsigned char *h = (const unsigned char *)file->data + pos;
        uint32_t len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
        offs[n++] = pos;
        pos += QF_HDR_LEN + len;
    }
    assert_int_equal(pos, file->len);
    return n;
}

static void test_flipped_length_bytes(void **state)
{
    (void)state;
    struct envelope e;
    sample_envelope(&e);
    const char *content = "Subject: hi\r\n\r\nsome body text\r\n";
    struct buf file = BUF_INIT;
    build_file(&file, &e, content, strlen(content), 10);
    size_t offs[64];
    size_t n = record_offsets(&file, offs, 64);
    assert_true(n > 10);
    size_t tested = 0;
    for (size_t i = 0; i < n; i++) {
        char type = file.data[offs[i]];
        for (size_t b = 1; b <= 4; b++) {
            const unsigned char flips[] = {0x01, 0x80, 0xff};
            for (size_t f = 0; f < sizeof(flips); f++) {
                struct buf bad = BUF_INIT;
                buf_append(&bad, file.data, file.len);
                bad.data[offs[i] + b] ^= (char)flips[f];
                /* The end record is what marks a finished file; damage to its
                 * own header makes the file look unfinished. */
                bool want_incomplete = type == 'X';
                expect_reject(&bad, want_incomplete, NULL);
                if (type != 'D') {
                    /* The cheap reader does not walk content records, but
                     * must see everything else. */
                    int fd = memfd_with(bad.data, bad.len);
                    struct envelope r;
                    assert_int_equal(qf_read_envelope(fd, &r, NULL, NULL, NULL), -1);
                    envelope_free(&r);
                    close(fd);
                }
                buf_free(&bad);
                tested++;
            }
        }
    }
    assert_int_equal(tested, n * 12);
    envelope_free(&e);
    buf_free(&file);
}

static void test_bad_crc_and_size(void **state)
{
    (void)state;
    struct envelope e;
    sample_envelope(&e);
    const char *content = "Subject: hi\r\n\r\nbody\r\n";
    struct buf file = BUF_INIT;
    build_file(&file, &e, content, strlen(content), QF_CHUNK_MAX);

    struct buf bad = BUF_INIT;
    buf_append(&bad, file.data, file.len);
    bad.data[bad.len - QF_END_LEN - 3] ^= 0x20;   /* one content byte */
    expect_reject(&bad, false, "CRC mismatch");
    /* The cheap reader does not checksum the content. */
    int fd = memfd_with(bad.data, bad.len);
    struct envelope r;
    assert_int_equal(qf_read_envelope(fd, &r, NULL, NULL, NULL), 0);
    envelope_free(&r);
    close(fd);
    buf_free(&bad);

    buf_append(&bad, file.data, file.len);
    bad.data[bad.len - QF_END_LEN + QF_HDR_LEN + 10] ^= 0x01;   /* stored CRC */
    expect_reject(&bad, false, "CRC mismatch");
    buf_free(&bad);

    buf_append(&bad, file.data, file.len);
    bad.data[bad.len - QF_END_LEN + QF_HDR_LEN + 7] ^= 0x01;    /* stored size */
    expect_reject_both(&bad, false, "size mismatch");
    buf_free(&bad);

    buf_append(&bad, file.data, file.len);
    bad.data[bad.len - 1] ^= 0x01;                              /* record count */
    expect_reject_both(&bad, false, "record count");
    buf_free(&bad);

    envelope_free(&e);
    buf_free(&file);
}

static void test_sender_rules(void **state)
{
    (void)state;
    struct buf f = BUF_INIT;

    /* No sender. */
    buf_append(&f, QF_MAGIC, QF_MAGIC_LEN);
    add_rec(&f, 'A', "arrival=1", 9);
    add_rcpt(&f, "a@example.com");
    hand_finish(&f, 2, "x\r\n");
    expect_reject_both(&f, false, "no sender");
    buf_reset(&f);

    /* Two senders. */
    buf_append(&f, QF_MAGIC, QF_MAGIC_LEN);
    add_rec(&f, 'S', "a@example.com", 13);
    add_rec(&f, 'S', "", 0);
    add_rcpt(&f, "a@example.com");
    hand_finish(&f, 3, "x\r\n");
    expect_reject_both(&f, false, "second sender");
    buf_reset(&f);

    /* No recipient. */
    buf_append(&f, QF_MAGIC, QF_MAGIC_LEN);
    add_rec(&f, 'S', "a@example.com", 13);
    hand_finish(&f, 1, "x\r\n");
    expect_reject_both(&f, false, "no recipient");
    buf_reset(&f);

    /* The same hand-built shape with one sender and one recipient is fine:
     * the rejections above are about the rule, not the helper. */
    buf_append(&f, QF_MAGIC, QF_MAGIC_LEN);
    add_rec(&f, 'S', "a@example.com", 13);
    add_rcpt(&f, "b@example.com");
    hand_finish(&f, 2, "x\r\n");
    int fd = memfd_with(f.data, f.len);
    struct envelope r;
    assert_int_equal(qf_read(fd, &r, NULL, NULL, NULL, NULL), 0);
    assert_string_equal(r.rcpt[0].addr, "b@example.com");
    envelope_free(&r);
    close(fd);
    buf_free(&f);
}

static void test_record_types_and_order(void **state)
{
    (void)state;
    struct buf f = BUF_INIT;

    /* Unknown record type among the envelope records. */
    buf_append(&f, QF_MAGIC, QF_MAGIC_LEN);
    add_rec(&f, 'S', "a@example.com", 13);
    add_rec(&f, 'Z', "zz", 2);
    add_rcpt(&f, "a@example.com");
    hand_finish(&f, 3, "x\r\n");
    expect_reject_both(&f, false, "unknown record type 0x5a");
    buf_reset(&f);

    /* Content before the M marker. */
    buf_append(&f, QF_MAGIC, QF_MAGIC_LEN);
    add_rec(&f, 'S', "a@example.com", 13);
    add_rcpt(&f, "a@example.com");
    add_rec(&f, 'D', "early", 5);
    hand_finish(&f, 3, "x\r\n");
    expect_reject_both(&f, false, "before content marker");
    buf_reset(&f);

    /* An envelope record after the marker. */
    buf_append(&f, QF_MAGIC, QF_MAGIC_LEN);
    add_rec(&f, 'S', "a@example.com", 13);
    add_rcpt(&f, "a@example.com");
    add_rec(&f, 'M', "", 0);
    add_rcpt(&f, "late@example.com");
    add_rec(&f, 'D', "x\r\n", 3);
    qf_end_record(&f, 3, (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)"x\r\n", 3), 5);
    expect_reject(&f, false, "unexpected record 'R'");
    buf_reset(&f);

    /* An end record that is not the last record. */
    buf_append(&f, QF_MAGIC, QF_MAGIC_LEN);
    add_rec(&f, 'S', "a@example.com", 13);
    add_rcpt(&f, "a@example.com");
    add_rec(&f, 'M', "", 0);
    qf_end_record(&f, 0, (uint32_t)crc32(0L, Z_NULL, 0), 3);
    add_rec(&f, 'D', "x\r\n", 3);
    qf_end_record(&f, 3, (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)"x\r\n", 3), 5);
    expect_reject(&f, false, "unexpected record 'X'");
    buf_reset(&f);

    /* M with a payload; oversized D. */
    buf_append(&f, QF_MAGIC, QF_MAGIC_LEN);
    add_rec(&f, 'S', "a@example.com", 13);
    add_rcpt(&f, "a@example.com");
    add_rec(&f, 'M', "m", 1);
    qf_end_record(&f, 0, (uint32_t)crc32(0L, Z_NULL, 0), 3);
    expect_reject_both(&f, false, "bad record length");
    buf_reset(&f);

    /* Bad magic and unsupported version. */
    buf_append(&f, "YUBINX\0\1", 8);
    add_rec(&f, 'S', "a@example.com", 13);
    add_rcpt(&f, "a@example.com");
    hand_finish(&f, 2, "x\r\n");
    expect_reject_both(&f, false, "bad magic");
    buf_reset(&f);
    buf_append(&f, "YUBINQ\0\2", 8);
    add_rec(&f, 'S', "a@example.com", 13);
    add_rcpt(&f, "a@example.com");
    hand_finish(&f, 2, "x\r\n");
    expect_reject_both(&f, false, "version 2");
    buf_reset(&f);

    /* Recipient record with an ORCPT length past its end, and a bad status. */
    buf_append(&f, QF_MAGIC, QF_MAGIC_LEN);
    add_rec(&f, 'S', "a@example.com", 13);
    add_rec(&f, 'R', "P\0\0\x20" "a@example.com", 17);
    hand_finish(&f, 2, "x\r\n");
    expect_reject_both(&f, false, "ORCPT length");
    buf_reset(&f);
    buf_append(&f, QF_MAGIC, QF_MAGIC_LEN);
    add_rec(&f, 'S', "a@example.com", 13);
    add_rec(&f, 'R', "Q\0\0\0" "a@example.com", 17);
    hand_finish(&f, 2, "x\r\n");
    expect_reject_both(&f, false, "bad recipient record");
    buf_reset(&f);

    /* Unknown attributes are skipped (forward compatibility); a known one
     * with a bad value is not. */
    buf_append(&f, QF_MAGIC, QF_MAGIC_LEN);
    add_rec(&f, 'A', "future_thing=whatever", 21);
    add_rec(&f, 'S', "a@example.com", 13);
    add_rcpt(&f, "a@example.com");
    hand_finish(&f, 3, "x\r\n");
    int fd = memfd_with(f.data, f.len);
    struct envelope r;
    assert_int_equal(qf_read(fd, &r, NULL, NULL, NULL, NULL), 0);
    envelope_free(&r);
    close(fd);
    buf_reset(&f);
    buf_append(&f, QF_MAGIC, QF_MAGIC_LEN);
    add_rec(&f, 'A', "ret=SOMETIMES", 13);
    add_rec(&f, 'S', "a@example.com", 13);
    add_rcpt(&f, "a@example.com");
    hand_finish(&f, 3, "x\r\n");
    expect_reject_both(&f, false, "attribute ret");
    buf_reset(&f);
    buf_append(&f, QF_MAGIC, QF_MAGIC_LEN);
    add_rec(&f, 'A', "client_port=99999", 17);
    add_rec(&f, 'S', "a@example.com", 13);
    add_rcpt(&f, "a@example.com");
    hand_finish(&f, 3, "x\r\n");
    expect_reject_both(&f, false, "client_port");
    buf_free(&f);
}

static void test_control_characters(void **state)
{
    (void)state;
    const char *bad_attrs[] = {"helo=evil\r\nRCPT TO:<x@y>", "client_name=a\nb", "fullname=nul\0here",
                               "future=tab\there", "proto=del\x7f"};
    const size_t bad_lens[] = {24, 15, 17, 15, 10};
    for (size_t i = 0; i < 5; i++) {
        struct buf f = BUF_INIT;
        buf_append(&f, QF_MAGIC, QF_MAGIC_LEN);
        add_rec(&f, 'A', bad_attrs[i], bad_lens[i]);
        add_rec(&f, 'S', "a@example.com", 13);
        add_rcpt(&f, "a@example.com");
        hand_finish(&f, 3, "x\r\n");
        expect_reject_both(&f, false, "attribute");
        buf_free(&f);
    }
    struct buf f = BUF_INIT;
    buf_append(&f, QF_MAGIC, QF_MAGIC_LEN);
    add_rec(&f, 'S', "a@exa\rmple.com", 14);
    add_rcpt(&f, "a@example.com");
    hand_finish(&f, 2, "x\r\n");
    expect_reject_both(&f, false, "sender");
    buf_reset(&f);
    buf_append(&f, QF_MAGIC, QF_MAGIC_LEN);
    add_rec(&f, 'S', "a@example.com", 13);
    add_rcpt(&f, "b@exa\nmple.com");
    hand_finish(&f, 2, "x\r\n");
    expect_reject_both(&f, false, "recipient");
    buf_free(&f);

    /* The writer side refuses the same envelopes before they reach disk. */
    struct envelope e;
    sample_envelope(&e);
    struct buf err = BUF_INIT;
    assert_true(qf_envelope_check(&e, &err));
    envelope_set(&e.helo, "evil\r\nDATA");
    assert_false(qf_envelope_check(&e, &err));
    assert_non_null(strstr(buf_str(&err), "helo"));
    envelope_set(&e.helo, "ok");
    envelope_add_rcpt(&e, "x\x01@example.com", NULL, 0);
    assert_false(qf_envelope_check(&e, NULL));
    envelope_free(&e);
    envelope_init(&e);
    envelope_set(&e.sender, "a@example.com");
    assert_false(qf_envelope_check(&e, NULL));   /* no recipient */
    envelope_free(&e);
    buf_free(&err);
}

static void test_oversized_records(void **state)
{
    (void)state;
    struct buf f = BUF_INIT;
    buf_append(&f, QF_MAGIC, QF_MAGIC_LEN);
    /* Claims 4 GiB: must be refused before any allocation of that size. */
    qf_record_header(&f, 'A', 0xffffffffu);
    add_rec(&f, 'S', "a@example.com", 13);
    add_rcpt(&f, "a@example.com");
    hand_finish(&f, 3, "x\r\n");
    expect_reject_both(&f, false, "bad record length");
    buf_reset(&f);

    /* A sender longer than any address may be. */
    char *longv = malloc(QF_VALUE_MAX + 2);
    memset(longv, 'a', QF_VALUE_MAX + 1);
    longv[QF_VALUE_MAX + 1] = 0;
    buf_append(&f, QF_MAGIC, QF_MAGIC_LEN);
    add_rec(&f, 'S', longv, QF_VALUE_MAX + 1);
    add_rcpt(&f, "a@example.com");
    hand_finish(&f, 2, "x\r\n");
    expect_reject_both(&f, false, "sender");
    free(longv);
    buf_free(&f);
}

static void test_not_a_regular_file(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct envelope e;
    bool incomplete = true;
    assert_int_equal(qf_read(p[0], &e, NULL, NULL, &incomplete, NULL), -1);
    assert_false(incomplete);
    envelope_free(&e);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_minimal_and_empty_content),
        cmocka_unit_test(test_truncation_every_offset),
        cmocka_unit_test(test_flipped_length_bytes),
        cmocka_unit_test(test_bad_crc_and_size),
        cmocka_unit_test(test_sender_rules),
        cmocka_unit_test(test_record_types_and_order),
        cmocka_unit_test(test_control_characters),
        cmocka_unit_test(test_oversized_records),
        cmocka_unit_test(test_not_a_regular_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
