/*
 * config.h - yubin.conf in Postfix main.cf syntax.
 *
 * Syntax (postconf(5)): "name = value"; a line starting with whitespace
 * continues the previous one; '#' starts a comment only at the start of a
 * line (there are no trailing comments); the last assignment wins; values are
 * expanded lazily, after the whole file is read: $name, ${name}, $(name),
 * ${name?value}, ${name?{value}}, ${name:value}, ${name:{value}},
 * ${name?{v1}:{v2}}, $$ for a literal '$'. Expansion is recursive and
 * loop-safe (a loop is an error naming the parameter).
 *
 * Where the file comes from: -c FILE on every subcommand, else $YUBIN_CONFIG,
 * else /etc/yubin/yubin.conf. When none was named and the default file does
 * not exist, the embedded default applies (config_embedded() is true): run as
 * the invoking user, listen on 127.0.0.1:2525, state under ./yubin-state,
 * log to stderr. Exactly, it sets (before the built-in defaults):
 *     queue_directory = <absolute current directory>/yubin-state/queue
 *     smtpd_listen = 127.0.0.1:2525
 *     maillog_file = /dev/stderr
 *     mail_owner = <login name of getuid()>  (the uid number without one)
 * A named file that does not exist is an error, never the embedded default.
 * A named directory means DIR/yubin.conf (Postfix's -c names a directory).
 *
 * $YUBIN_DEFAULT_CONFIG, when set and not empty, replaces the default path
 * /etc/yubin/yubin.conf (tests use it to exercise the embedded default).
 * Both environment variables are read with secure_getenv(): a set-id process
 * ignores them.
 *
 * Lines (as Postfix's readlline): blank lines and lines whose first
 * non-blank character is '#' are ignored everywhere, also between
 * continuation lines; a continuation line is appended without its newline.
 * A logical line that starts with whitespace is an error (Postfix warns and
 * ignores it). Limits: a physical line at most CONFIG_MAX_LINE bytes, a file
 * at most CONFIG_MAX_FILE bytes, an expanded value at most CONFIG_MAX_VALUE,
 * expansion nested at most CONFIG_MAX_NESTING deep. NUL bytes are errors.
 *
 * Names set in the file that are not in the table are kept (they can be
 * used as $name in other values, like Postfix's user-defined parameters);
 * a warning is given only for those no value refers to. A $name that is
 * neither known nor set expands to nothing, with a warning.
 *
 * Every parameter is declared once, in params.c (name, type, default,
 * bounds, one-line doc); config_load() parses, expands and checks every
 * value, then stores it in the parameter's typed variable (var_*, see
 * params.h). Unknown names are warnings that suggest the nearest known name;
 * bad values are errors naming file and line.
 *
 * Trusts: the configuration file is written by the administrator; it is still
 * parsed with explicit limits and never executed.
 */
#ifndef YUBIN_CONFIG_H
#define YUBIN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "lib/buf.h"

#define CONFIG_DEFAULT_PATH "/etc/yubin/yubin.conf"
#define CONFIG_EMBEDDED_NAME "(embedded default)"
#define CONFIG_MAX_LINE (64 * 1024)
#define CONFIG_MAX_FILE (4 * 1024 * 1024)
#define CONFIG_MAX_VALUE (4 * 1024 * 1024)
#define CONFIG_MAX_NESTING 100

/*
 * Load the configuration. path NULL means: $YUBIN_CONFIG, else the default
 * path, else the embedded default. On error returns -1 and puts a message
 * ("FILE, line N: ...") in err (may hold several lines, one per problem).
 * Warnings (unknown parameters) go to msg_warn, at most 100 per load, then
 * a count of the rest. Can be called again to
 * reload; variables then hold the new values. A failed load leaves the
 * previous configuration (and the variables) as they were.
 */
int config_load(const char *path, struct buf *err);

/* Load from a string instead of a file (unit tests; name is used in messages). */
int config_load_string(const char *text, const char *name, struct buf *err);

/* The file actually read, or "(embedded default)"; NULL before a load. */
const char *config_source(void);
bool config_embedded(void);

/* Raw (unexpanded) value as written in the file, NULL if not set there. */
const char *config_raw(const char *name);
/* Expanded current value of any parameter (declared or not), NULL if unknown
 * and unset. Returned string lives until the next config_load(). */
const char *config_get(const char *name);
/* Expand $names in an arbitrary string against the loaded configuration.
 * Returns a new string, or NULL with a message in err (loop, bad syntax). */
char *config_expand(const char *text, struct buf *err);

/* Where a parameter was set: file and line (0 if default). Used by
 * 'yubin route' and 'yubin check' to cite the line behind a decision.
 * Set in the file: the file and the line of the last assignment (of a
 * continued value, its first line). Set by the embedded default:
 * CONFIG_EMBEDDED_NAME and 0. Built-in default: NULL and 0. Returns false
 * (and sets nothing) when the name is neither known nor set, or nothing is
 * loaded. */
bool config_origin(const char *name, const char **file, int *line);

/* The built-in default of a known parameter as main.cf text (computed
 * defaults: their value), NULL for unknown names. Lives until the next
 * config_load() or config_unload(). */
const char *config_default(const char *name);

/* Forget the loaded configuration and free everything (tests, leak checks).
 * The variables are reset to NULL/0. */
void config_unload(void);

/*
 * A list value split into items: separators are commas and/or whitespace;
 * "{ ... }" groups an item that contains separators (braces removed, and
 * whitespace just inside them). Braces inside an item also protect
 * separators but stay: "inline:{ a=b, c=d }" is one item, as in Postfix.
 * out is overwritten (not appended to); v[n] is NULL.
 */
struct strlist {
    char **v;
    size_t n;
};
void strlist_split(struct strlist *out, const char *value);
void strlist_free(struct strlist *l);

/* 'yubin config' output modes (like postconf). Writes to stdout.
 * NONDEFAULT: names set in the file whose text differs from the default;
 * DEFAULTS: every known parameter's default; ALL: every known parameter and
 * every name set in the file. Sorted by name, "name = value" ("name =" when
 * empty). DEFAULTS works without a loaded configuration. */
enum config_print { CONFIG_PRINT_NONDEFAULT, CONFIG_PRINT_DEFAULTS, CONFIG_PRINT_ALL };
void config_print(enum config_print mode, bool expand);
/* Print "name = value" for each name; unknown names warn. Returns 0 if all
 * were known. */
int config_print_names(char **names, int n, bool expand, bool defaults);

/* The same, with more options and any stream. */
struct config_print_opts {
    bool expand;        /* -x: $names expanded */
    bool doc;           /* -v: "# one-line doc" before each known parameter */
    bool value_only;    /* -h: the value without "name = " */
};
void config_fprint(FILE *out, enum config_print mode, const struct config_print_opts *o);
int config_fprint_names(FILE *out, char **names, int n, bool defaults, const struct config_print_opts *o);

/*
 * Shared with other main.cf-style files (/etc/aliases, tables): read a file
 * of at most max bytes (NUL-terminated copy; *len without the NUL). NULL
 * with "cannot open FILE: reason" or "FILE: ..." in err and errno set.
 */
char *config_read_file(const char *path, size_t max, size_t *len, struct buf *err);

/* One logical line: physical lines joined (see above), trailing whitespace
 * removed; first/last are physical line numbers. Physical line part_line[i]
 * starts at offset part_start[i] of text (for messages about one item of a
 * long continued value). */
struct config_line {
    char *text;
    size_t len;
    int first, last;
    const size_t *part_start;
    const int *part_line;
    size_t nparts;
};
/* Call fn for every logical line of text. Bad lines (too long, NUL byte,
 * starting with whitespace) are reported in err as "NAME, line N: ..." (one
 * per line of err) and skipped. fn may change l->text in place (it is
 * scratch space). Returns the number of problems. */
int config_split_lines(const char *text, size_t len, const char *name,
                       void (*fn)(void *arg, const struct config_line *l), void *arg,
                       struct buf *err);

/* Nearest known parameter name (edit distance), or NULL if nothing is close. */
const char *config_suggest(const char *unknown);

#endif
