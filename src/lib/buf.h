/*
 * buf.h - one growable, length-carrying byte buffer (Postfix's VSTRING,
 * OpenSMTPD's iobuf). Always NUL-terminated for convenience, but binary-safe:
 * use ->len, never strlen, for data that came from the network.
 */
#ifndef YUBIN_BUF_H
#define YUBIN_BUF_H

#include <stddef.h>
#include <stdarg.h>
#include "lib/util.h"

struct buf {
    char *data;     /* NUL-terminated; NULL until first use */
    size_t len;
    size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);                      /* len = 0, keep memory */
void buf_reserve(struct buf *b, size_t extra);      /* room for extra more bytes */
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);
/* Remove the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Detach the data (caller frees); the buffer becomes empty. */
char *buf_steal(struct buf *b);
/* Pointer to a C string; never NULL. */
const char *buf_str(const struct buf *b);

#endif
