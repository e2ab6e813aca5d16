/*
 * tls.c - OpenSSL contexts and the text that describes a TLS session in
 * logs and Received: lines (see tls.h).
 *
 * Policy: TLS 1.2 or newer, OpenSSL's default cipher lists, no TLS-level
 * compression (CRIME) and no renegotiation (a client-triggered CPU sink, and
 * nothing SMTP needs).
 *
 * Trusts: the certificate and key files named by the administrator.
 */
#include "lib/tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

const char *tls_error_text(void)
{
    static char text[256];
    unsigned long e = ERR_get_error();
    if (!e) {
        snprintf(text, sizeof(text), "%s", errno ? strerror(errno) : "unknown error");
        return text;
    }
    ERR_error_string_n(e, text, sizeof(text));
    ERR_clear_error();
    return text;
}

SSL_CTX *tls_server_ctx(const char *cert_file, const char *key_file, struct buf *err)
{
    if (!cert_file || !*cert_file || !key_file || !*key_file) {
        buf_printf(err, "TLS needs both smtpd_tls_cert_file and smtpd_tls_key_file");
        return NULL;
    }
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        buf_printf(err, "cannot create TLS context: %s", tls_error_text());
        return NULL;
    }
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
        buf_printf(err, "cannot set TLS 1.2 as minimum version: %s", tls_error_text());
        goto fail;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Session resumption needs an id context; the name is arbitrary. */
    static const unsigned char sid_ctx[] = "yubin-smtpd";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    /* The filter bufferevent may hand OpenSSL a different buffer on a retried write. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);

    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        buf_printf(err, "cannot load certificate file %s: %s", cert_file, tls_error_text());
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        buf_printf(err, "cannot load private key file %s: %s", key_file, tls_error_text());
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        buf_printf(err, "private key %s does not match certificate %s: %s", key_file, cert_file,
                   tls_error_text());
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

void tls_describe(SSL *ssl, char *out, size_t outlen)
{
    if (outlen == 0)
        return;
    const SSL_CIPHER *c = ssl ? SSL_get_current_cipher(ssl) : NULL;
    if (!c) {
        snprintf(out, outlen, "%s", ssl ? SSL_get_version(ssl) : "none");
        return;
    }
    int alg_bits = 0;
    int bits = SSL_CIPHER_get_bits(c, &alg_bits);
    snprintf(out, outlen, "%s with cipher %s (%d/%d bits)", SSL_get_version(ssl), SSL_CIPHER_get_name(c),
             bits, alg_bits);
}
