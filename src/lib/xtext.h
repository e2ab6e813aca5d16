/*
 * xtext.h - RFC 3461 xtext (DSN ENVID and ORCPT values).
 *
 * Decoding rejects malformed "+XX" escapes and any decoded control character
 * (CR, LF, NUL ...): Exim's 21Nails showed that a decoded newline in an
 * envelope value is an injection vector.
 */
#ifndef YUBIN_XTEXT_H
#define YUBIN_XTEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Decode; returns a new string, or NULL if the input is not valid xtext or
 * decodes to control characters or exceeds maxlen decoded bytes. */
char *xtext_decode(const char *s, size_t len, size_t maxlen);
/* Encode for sending in MAIL/RCPT parameters; returns a new string. */
char *xtext_encode(const char *s);

#endif
