/*
 * fuzz_queue_file.c - libFuzzer harness for the queue file reader
 * (queue_file.c), which also reads maildrop files written by any local
 * user. The input is the whole file, put in a memfd so the reader sees a
 * real descriptor; both qf_read and qf_read_envelope run on it.
 *
 * Besides ASan/UBSan cleanliness, every accepted file must keep the
 * reader's promises, checked with abort(): the cheap reader accepts what
 * the full one accepts and reports the same size; the envelope is one the
 * writer would write (qf_envelope_check); status offsets point at status
 * bytes; the content adds up; and writing the envelope back and reading it
 * again gives the same envelope.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "lib/buf.h"
#include "queue/envelope.h"
#include "queue/queue_file.h"

static int fuzz_fd = -1;

static int fuzz_count(void *arg, const char *p, size_t n)
{
    (void)p;
    *(uint64_t *)arg += n;
    return 0;
}

static bool fuzz_same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void fuzz_check_envelope(const struct envelope *e, const uint8_t *data, size_t size)
{
    if (!e->sender || e->nrcpt == 0 || !qf_envelope_check(e, NULL))
        abort();
    for (size_t i = 0; i < e->nrcpt; i++) {
        long off = e->rcpt[i].status_off;
        if (off < QF_MAGIC_LEN || (size_t)off >= size || data[off] != (uint8_t)e->rcpt[i].status)
            abort();
    }
}

/* Write the envelope back out, read it again: nothing may change. */
static void fuzz_round_trip(struct envelope *e)
{
    struct buf out = BUF_INIT;
    uint32_t n = qf_write_envelope(&out, e);
    qf_end_record(&out, 0, (uint32_t)crc32(0L, Z_NULL, 0), n);
    int fd = memfd_create("fuzz-rt", 0);
    if (fd < 0 || write(fd, out.data, out.len) != (ssize_t)out.len)
        abort();
    struct envelope r;
    if (qf_read(fd, &r, NULL, NULL, NULL, NULL) != 0)
        abort();
    if (!fuzz_same(r.sender, e->sender) || r.nrcpt != e->nrcpt || !fuzz_same(r.helo, e->helo) ||
        !fuzz_same(r.client_name, e->client_name) || !fuzz_same(r.client_addr, e->client_addr) ||
        !fuzz_same(r.proto, e->proto) || !fuzz_same(r.tls, e->tls) || !fuzz_same(r.envid, e->envid) ||
        !fuzz_same(r.origin, e->origin) || !fuzz_same(r.fullname, e->fullname) || r.ret != e->ret ||
        r.body != e->body || r.smtputf8 != e->smtputf8 || r.uid != e->uid || r.client_port != e->client_port)
        abort();
    for (size_t i = 0; i < r.nrcpt; i++)
        if (!fuzz_same(r.rcpt[i].addr, e->rcpt[i].addr) || !fuzz_same(r.rcpt[i].orcpt, e->rcpt[i].orcpt) ||
            r.rcpt[i].notify != e->rcpt[i].notify || r.rcpt[i].status != e->rcpt[i].status)
            abort();
    envelope_free(&r);
    close(fd);
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_fd < 0) {
        fuzz_fd = memfd_create("fuzz-qf", 0);
        if (fuzz_fd < 0)
            abort();
    }
    if (ftruncate(fuzz_fd, 0) != 0 || (size && pwrite(fuzz_fd, data, size, 0) != (ssize_t)size))
        abort();

    struct envelope full, cheap;
    struct buf err = BUF_INIT;
    off_t coff = 0;
    uint64_t fsize = 0, csize = 0;
    bool incomplete = false;
    int rf = qf_read(fuzz_fd, &full, &coff, &fsize, &incomplete, &err);
    int rc = qf_read_envelope(fuzz_fd, &cheap, &csize, &incomplete, &err);
    if (rf == 0) {
        if (rc != 0 || csize != fsize)
            abort();
        fuzz_check_envelope(&full, data, size);
        fuzz_check_envelope(&cheap, data, size);
        uint64_t counted = 0;
        if (qf_read_content(fuzz_fd, coff, fuzz_count, &counted) != 0 || counted != fsize)
            abort();
        fuzz_round_trip(&full);
    } else if (full.sender || full.nrcpt) {
        abort();   /* a refused file leaves the envelope empty */
    }
    if (rc == 0)
        fuzz_check_envelope(&cheap, data, size);
    envelope_free(&full);
    envelope_free(&cheap);
    buf_free(&err);
    return 0;
}
