/*
 * util.h - allocation that never returns NULL, fatal errors, small string
 * helpers shared by every part of yubin.
 *
 * Trusts: nothing; these are leaf helpers. An allocation failure is a broken
 * environment and ends the process with a clear message (as Postfix's
 * mymalloc does) rather than leaving NULL checks scattered everywhere.
 */
#ifndef YUBIN_UTIL_H
#define YUBIN_UTIL_H

#include <stddef.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#define YUBIN_VERSION "0.1.0"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);
char *xvasprintf(const char *fmt, va_list ap) PRINTF_LIKE(1, 0);

/* ASCII-only case helpers: mail protocols are ASCII, locale must not matter. */
int ascii_tolower(int c);
int ascii_toupper(int c);
void ascii_lowercase(char *s);
int ascii_strcasecmp(const char *a, const char *b);
int ascii_strncasecmp(const char *a, const char *b, size_t n);
/* Does s start with prefix (case-insensitive)? */
bool ascii_prefix(const char *s, const char *prefix);

/* Trim ASCII whitespace in place; returns s (moved past leading space). */
char *str_trim(char *s);

/* Safe integer parsing: whole string must be a decimal number within range. */
bool parse_long(const char *s, long min, long max, long *out);

/* Monotonic and wall clocks. */
double time_monotonic(void);
double time_now(void);          /* wall clock, seconds with fractions */

/* RFC 5322 date ("Mon, 23 Nov 2026 16:52:18 +0000 (UTC)") for t. */
void rfc5322_date(char out[64], double t);

/* Write all of buf to fd, retrying on EINTR/short writes. -1 on error. */
int write_all(int fd, const void *buf, size_t len);

/* fsync a directory by path. Returns 0 or -1 with errno set. */
int fsync_dir(const char *path);

/* The host name from gethostname(), as an FQDN when it already is one. */
const char *host_name(void);

#endif
