/*
 * tls.h - OpenSSL contexts for the SMTP server (STARTTLS) and, later, the
 * SMTP client and the fetcher. Modern TLS only (1.2+), system defaults for
 * ciphers.
 */
#ifndef YUBIN_TLS_H
#define YUBIN_TLS_H

#include <openssl/ssl.h>
#include "lib/buf.h"

/* Server context from cert and key files (PEM). NULL with err. */
SSL_CTX *tls_server_ctx(const char *cert_file, const char *key_file, struct buf *err);
/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" for logs and
 * Received: lines. */
void tls_describe(SSL *ssl, char *out, size_t outlen);
/* The most recent OpenSSL error as text (clears the queue). */
const char *tls_error_text(void);

#endif
