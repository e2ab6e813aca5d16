/*
 * config.c - reads yubin.conf (Postfix main.cf syntax), expands $names
 * lazily and checks every value against the parameter table (params.c).
 * See config.h for the syntax and the rules.
 *
 * A loaded configuration is one "state": every table parameter plus every
 * name set in the file, each with its raw text, origin and (once asked for)
 * expanded value. Expansion marks an entry busy while its value is being
 * computed, so a loop is found the moment it closes, and caches the result,
 * so each value is expanded once however often it is referenced. A reload
 * builds a new state and swaps it in only when it has no errors.
 *
 * Trusts: the configuration file is written by the administrator, but it is
 * still read with limits (line and file size, expansion size and depth) and
 * nothing in it is ever executed.
 */
#include "lib/config.h"
#include "lib/log.h"
#include "lib/params.h"
#include "lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every expanded value together; bounds memory when values refer to each
 * other many times over ($a$a$a...). */
#define CONFIG_MAX_TOTAL (64 * 1024 * 1024)

enum estate { E_NEW, E_BUSY, E_DONE, E_FAILED };

struct centry {
    char *name;
    const struct param *p;  /* NULL: not in the table (user-defined) */
    char *raw;              /* as set in the file; NULL: not set */
    int line;               /* line of the last assignment */
    bool referenced;        /* some value refers to it as $name */
    enum estate state;
    char *value;            /* expanded, when state is E_DONE */
    char *def;              /* computed default (rows without def), lazily */
};

struct cstate {
    char *source;           /* file name, or CONFIG_EMBEDDED_NAME */
    bool embedded;
    bool defaults_only;     /* built-in defaults, nothing set (-d) */
    struct centry *e;
    size_t n, cap;
    size_t *slot;           /* hash index: entry number + 1, 0 = free */
    size_t nslot;
    size_t total;           /* bytes of expanded values so far */
    unsigned warnings;      /* given while loading, see config_warn() */
};

/* A file full of unknown names must not flood the log. */
#define CONFIG_MAX_WARNINGS 100

static struct cstate *cfg_cur;       /* the loaded configuration */
static struct cstate *cfg_defaults;  /* built-in defaults, for -d */

/* Append one problem to an error buffer, one problem per line. */
static void PRINTF_LIKE(2, 3) err_add(struct buf *err, const char *fmt, ...)
{
    if (!err)
        return;
    if (err->len)
        buf_putc(err, '\n');
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(err, fmt, ap);
    va_end(ap);
}

static bool is_name_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static bool is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* A warning about the file being loaded; after CONFIG_MAX_WARNINGS of them
 * the rest are only counted (cstate_resolve reports how many). */
static void PRINTF_LIKE(2, 3) config_warn(struct cstate *st, const char *fmt, ...)
{
    if (st->warnings++ >= CONFIG_MAX_WARNINGS)
        return;
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    msg_warn("%s", text);
}

/* ---------------------------------------------------------------- state */

static size_t hash_name(const char *s)
{
    size_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static struct centry *cstate_find(const struct cstate *st, const char *name)
{
    if (!st || !st->nslot)
        return NULL;
    size_t mask = st->nslot - 1;
    for (size_t i = hash_name(name) & mask;; i = (i + 1) & mask) {
        size_t s = st->slot[i];
        if (s == 0)
            return NULL;
        if (strcmp(st->e[s - 1].name, name) == 0)
            return &st->e[s - 1];
    }
}

static void cstate_rehash(struct cstate *st)
{
    free(st->slot);
    st->nslot = st->nslot ? st->nslot * 2 : 128;
    st->slot = xcalloc(st->nslot, sizeof(*st->slot));
    size_t mask = st->nslot - 1;
    for (size_t k = 0; k < st->n; k++) {
        size_t i = hash_name(st->e[k].name) & mask;
        while (st->slot[i])
            i = (i + 1) & mask;
        st->slot[i] = k + 1;
    }
}

static struct centry *cstate_add(struct cstate *st, const char *name, const struct param *p)
{
    if (st->n == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 64;
        st->e = xrealloc(st->e, st->cap * sizeof(*st->e));
    }
    struct centry *e = &st->e[st->n++];
    memset(e, 0, sizeof(*e));
    e->name = xstrdup(name);
    e->p = p;
    if (st->n * 2 > st->nslot) {
        cstate_rehash(st);
    } else {
        size_t mask = st->nslot - 1;
        size_t i = hash_name(name) & mask;
        while (st->slot[i])
            i = (i + 1) & mask;
        st->slot[i] = st->n;
    }
    return e;
}

static struct cstate *cstate_new(const char *source, bool embedded, bool defaults_only)
{
    struct cstate *st = xcalloc(1, sizeof(*st));
    st->source = xstrdup(source);
    st->embedded = embedded;
    st->defaults_only = defaults_only;
    for (size_t i = 0; i < param_count; i++)
        cstate_add(st, param_table[i].name, &param_table[i]);
    return st;
}

static void cstate_free(struct cstate *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++) {
        free(st->e[i].name);
        free(st->e[i].raw);
        free(st->e[i].value);
        free(st->e[i].def);
    }
    free(st->e);
    free(st->slot);
    free(st->source);
    free(st);
}

/* Record "name = raw" (the last assignment wins). */
static void cstate_set(struct cstate *st, const char *name, const char *raw, int line)
{
    struct centry *e = cstate_find(st, name);
    if (!e)
        e = cstate_add(st, name, NULL);
    free(e->raw);
    e->raw = xstrdup(raw);
    e->line = line;
}

/* ------------------------------------------------------------- reading */

char *config_read_file(const char *path, size_t max, size_t *len, struct buf *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        err_add(err, "cannot open %s: %s", path, strerror(e));
        errno = e;
        return NULL;
    }
    struct buf b = BUF_INIT;
    for (;;) {
        buf_reserve(&b, 65536);
        ssize_t n = read(fd, b.data + b.len, b.cap - b.len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            err_add(err, "cannot read %s: %s", path, strerror(e));
            close(fd);
            buf_free(&b);
            errno = e;
            return NULL;
        }
        if (n == 0)
            break;
        b.len += (size_t)n;
        b.data[b.len] = 0;
        if (b.len > max) {
            err_add(err, "%s: file is larger than %zu bytes", path, max);
            close(fd);
            buf_free(&b);
            errno = EFBIG;
            return NULL;
        }
    }
    close(fd);
    *len = b.len;
    return buf_steal(&b);
}

int config_split_lines(const char *text, size_t len, const char *name,
                       void (*fn)(void *arg, const struct config_line *l), void *arg,
                       struct buf *err)
{
    int problems = 0;
    int lineno = 0;
    struct buf logical = BUF_INIT;
    bool have = false;      /* a logical line is being collected */
    bool bad = false;       /* ...and it already had a problem: drop it */
    struct config_line l;
    memset(&l, 0, sizeof(l));
    size_t *part_start = NULL;
    int *part_line = NULL;
    size_t nparts = 0, part_cap = 0;
    size_t pos = 0;

    while (pos < len) {
        const char *start = text + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - start) : len - pos;
        pos += n + (nl ? 1 : 0);
        lineno++;

        const char *problem = NULL;
        char why[64];
        if (n > CONFIG_MAX_LINE) {
            snprintf(why, sizeof(why), "line is longer than %d bytes", CONFIG_MAX_LINE);
            problem = why;
        } else if (memchr(start, 0, n)) {
            problem = "NUL byte in line";
        } else {
            size_t i = 0;
            while (i < n && is_space((unsigned char)start[i]))
                i++;
            if (i == n || start[i] == '#')
                continue;   /* blank or comment, also between continued lines */
        }
        bool cont = n > 0 && is_space((unsigned char)start[0]);
        if (!cont) {
            if (have && !bad) {
                l.text = logical.data;
                l.len = logical.len;
                l.part_start = part_start;
                l.part_line = part_line;
                l.nparts = nparts;
                fn(arg, &l);
            }
            buf_reset(&logical);
            nparts = 0;
            have = true;
            bad = false;
            l.first = l.last = lineno;
        }
        if (problem) {
            err_add(err, "%s, line %d: %s", name, lineno, problem);
            problems++;
            bad = have;     /* drop the whole logical line it belongs to */
            continue;
        }
        while (n > 0 && is_space((unsigned char)start[n - 1]))
            n--;
        if (cont && !have) {
            err_add(err, "%s, line %d: text starts with whitespace but there is no line before it to continue",
                    name, lineno);
            problems++;
            continue;
        }
        if (nparts == part_cap) {
            part_cap = part_cap ? part_cap * 2 : 8;
            part_start = xrealloc(part_start, part_cap * sizeof(*part_start));
            part_line = xrealloc(part_line, part_cap * sizeof(*part_line));
        }
        part_start[nparts] = logical.len;
        part_line[nparts++] = lineno;
        buf_append(&logical, start, n);
        l.last = lineno;
    }
    if (have && !bad) {
        l.text = logical.data;
        l.len = logical.len;
        l.part_start = part_start;
        l.part_line = part_line;
        l.nparts = nparts;
        fn(arg, &l);
    }
    buf_free(&logical);
    free(part_start);
    free(part_line);
    return problems;
}

struct parse_ctx {
    struct cstate *st;
    struct buf *err;
    int errors;
};

static void parse_line(void *arg, const struct config_line *l)
{
    struct parse_ctx *pc = arg;
    char *eq = strchr(l->text, '=');
    if (!eq) {
        err_add(pc->err, "%s, line %d: missing '=' in \"%.60s%s\"", pc->st->source, l->first, l->text,
                l->len > 60 ? "..." : "");
        pc->errors++;
        return;
    }
    *eq = 0;
    char *name = str_trim(l->text);
    char *value = str_trim(eq + 1);
    if (!*name) {
        err_add(pc->err, "%s, line %d: missing parameter name before '='", pc->st->source, l->first);
        pc->errors++;
        return;
    }
    for (const char *c = name; *c; c++) {
        if (!is_name_char((unsigned char)*c)) {
            err_add(pc->err, "%s, line %d: bad parameter name \"%.60s\" (only letters, digits and _)",
                    pc->st->source, l->first, name);
            pc->errors++;
            return;
        }
    }
    cstate_set(pc->st, name, value, l->first);
}

/* ------------------------------------------------------------ expansion */

struct xctx {
    struct cstate *st;
    struct buf *err;
    int errors;
    int depth;
    struct centry *stack[CONFIG_MAX_NESTING + 1];
    int nstack;
    bool warn;              /* warn about unknown, unset $names */
    const char *text;       /* config_expand(): the text being expanded */
};

static int entry_value(struct xctx *x, struct centry *e, const char **out);

/* The innermost entry on the stack, from index from up, that was set in
 * the file: its line is the one to cite. NULL when all are defaults. */
static const struct centry *xctx_cited(const struct xctx *x, int from)
{
    for (int i = x->nstack - 1; i >= from; i--)
        if (x->stack[i]->raw)
            return x->stack[i];
    return NULL;
}

/* "FILE, line N" of e, or the file name alone. */
static void xctx_where(const struct xctx *x, const struct centry *e, struct buf *b)
{
    if (e && e->line > 0)
        buf_printf(b, "%s, line %d", x->st->source, e->line);
    else
        buf_puts(b, x->st->source);
}

static void PRINTF_LIKE(2, 3) xctx_error(struct xctx *x, const char *fmt, ...)
{
    struct buf msg = BUF_INIT;
    if (x->nstack == 0) {
        buf_printf(&msg, "cannot expand \"%.60s%s\": ", x->text ? x->text : "",
                   x->text && strlen(x->text) > 60 ? "..." : "");
    } else {
        xctx_where(x, xctx_cited(x, 0), &msg);
        buf_printf(&msg, ": cannot expand %s: ", x->stack[x->nstack - 1]->name);
    }
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    err_add(x->err, "%s", buf_str(&msg));
    buf_free(&msg);
    x->errors++;
}

static void xctx_loop_error(struct xctx *x, const struct centry *again)
{
    int from = 0;
    while (from < x->nstack && x->stack[from] != again)
        from++;
    /* Cite a line inside the loop, the named parameter's first: that is
     * what to edit. */
    const struct centry *cite = again->raw ? again : xctx_cited(x, from);
    if (!cite)
        cite = xctx_cited(x, 0);
    struct buf msg = BUF_INIT;
    xctx_where(x, cite, &msg);
    buf_printf(&msg, ": expansion loop in parameter %s: ", again->name);
    for (int i = from; i < x->nstack; i++)
        buf_printf(&msg, "%s -> ", x->stack[i]->name);
    buf_puts(&msg, again->name);
    err_add(x->err, "%s", buf_str(&msg));
    buf_free(&msg);
    x->errors++;
}

/* $name names nothing: usually a typo, so say so (the value is empty). */
static void xctx_warn_unknown(struct xctx *x, const char *name)
{
    if (x->st->warnings >= CONFIG_MAX_WARNINGS) {
        x->st->warnings++;      /* counted only: skip the suggestion search */
        return;
    }
    struct buf where = BUF_INIT;
    xctx_where(x, xctx_cited(x, 0), &where);
    const char *near = config_suggest(name);
    const char *top = x->nstack ? x->stack[x->nstack - 1]->name : "value";
    if (near)
        config_warn(x->st, "%s: %s refers to $%s, which is not set and not a known parameter (did you mean \"%s\"?)",
                    buf_str(&where), top, name, near);
    else
        config_warn(x->st, "%s: %s refers to $%s, which is not set and not a known parameter", buf_str(&where), top,
                    name);
    buf_free(&where);
}

static int expand_text(struct xctx *x, const char *text, size_t len, struct buf *out);

/* The expanded value of $name; "" for names neither known nor set. */
static int lookup_name(struct xctx *x, const char *name, bool warn_if_unknown, const char **out)
{
    struct centry *e = cstate_find(x->st, name);
    if (!e) {
        if (warn_if_unknown && x->warn && !x->st->defaults_only)
            xctx_warn_unknown(x, name);
        *out = "";
        return 0;
    }
    e->referenced = true;
    return entry_value(x, e, out);
}

/* Index just past the bracket matching text[open] (which is '{' or '('),
 * counting nesting of the same kind; 0 when unbalanced. */
static size_t match_bracket(const char *text, size_t len, size_t open)
{
    char o = text[open], c = o == '{' ? '}' : ')';
    int depth = 0;
    for (size_t i = open; i < len; i++) {
        if (text[i] == o)
            depth++;
        else if (text[i] == c && --depth == 0)
            return i + 1;
    }
    return 0;
}

static int append_checked(struct xctx *x, struct buf *out, const char *s, size_t n)
{
    if (n > CONFIG_MAX_VALUE || out->len > CONFIG_MAX_VALUE - n) {
        xctx_error(x, "value is longer than %d bytes after expansion", CONFIG_MAX_VALUE);
        return -1;
    }
    buf_append(out, s, n);
    return 0;
}

static int expand_nested(struct xctx *x, const char *text, size_t len, struct buf *out)
{
    if (x->depth >= CONFIG_MAX_NESTING) {
        xctx_error(x, "expansion nested more than %d deep", CONFIG_MAX_NESTING);
        return -1;
    }
    x->depth++;
    int rc = expand_text(x, text, len, out);
    x->depth--;
    return rc;
}

/* Whitespace just inside {value} is ignored (Postfix's extpar). */
static void trim_span(const char **p, size_t *len)
{
    while (*len > 0 && is_space((unsigned char)(*p)[0])) {
        (*p)++;
        (*len)--;
    }
    while (*len > 0 && is_space((unsigned char)(*p)[*len - 1]))
        (*len)--;
}

/*
 * The inside of ${...} or $(...): "name", "name?value", "name:value",
 * "name?{value}", "name:{value}", "name?{v1}:{v2}". Only the branch that is
 * chosen is expanded.
 */
static int expand_braced(struct xctx *x, const char *in, size_t len, struct buf *out)
{
    if (len > 0 && in[0] == '{') {
        xctx_error(x, "relational expressions ${{...}} are not supported");
        return -1;
    }
    size_t n = 0;
    while (n < len && is_name_char((unsigned char)in[n]))
        n++;
    if (n == 0) {
        xctx_error(x, "missing parameter name after \"${\" or \"$(\"");
        return -1;
    }
    char *name = xstrndup(in, n);
    const char *val;
    int rc = lookup_name(x, name, n == len, &val);
    free(name);
    if (rc)
        return -1;
    if (n == len)
        return append_checked(x, out, val, strlen(val));

    char op = in[n];
    if (op != '?' && op != ':') {
        xctx_error(x, "unexpected '%c' after parameter name in \"${%.*s}\"", op, (int)(len > 60 ? 60 : len), in);
        return -1;
    }
    const char *v1 = in + n + 1, *v2 = NULL;
    size_t v1len = len - n - 1, v2len = 0;
    size_t i = n + 1;
    while (i < len && is_space((unsigned char)in[i]))
        i++;
    if (i < len && in[i] == '{') {
        /* ${name?{value}} and ${name?{v1}:{v2}}: whitespace around {} is ignored */
        size_t end = match_bracket(in, len, i);
        if (!end) {
            xctx_error(x, "missing '}' in \"%.*s\"", (int)(len > 60 ? 60 : len), in);
            return -1;
        }
        v1 = in + i + 1;
        v1len = end - i - 2;
        trim_span(&v1, &v1len);
        i = end;
        while (i < len && is_space((unsigned char)in[i]))
            i++;
        if (i < len && in[i] == ':' && op == '?') {
            i++;
            while (i < len && is_space((unsigned char)in[i]))
                i++;
            size_t end2 = i < len && in[i] == '{' ? match_bracket(in, len, i) : 0;
            if (!end2) {
                xctx_error(x, "expected {value} after ':' in \"%.*s\"", (int)(len > 60 ? 60 : len), in);
                return -1;
            }
            v2 = in + i + 1;
            v2len = end2 - i - 2;
            trim_span(&v2, &v2len);
            i = end2;
            while (i < len && is_space((unsigned char)in[i]))
                i++;
        }
        if (i != len) {
            xctx_error(x, "unexpected text after {value} in \"%.*s\"", (int)(len > 60 ? 60 : len), in);
            return -1;
        }
    }
    bool set = *val != 0;
    if (op == '?') {
        if (set)
            return expand_nested(x, v1, v1len, out);
        if (v2)
            return expand_nested(x, v2, v2len, out);
        return 0;
    }
    return set ? 0 : expand_nested(x, v1, v1len, out);
}

static int expand_text(struct xctx *x, const char *text, size_t len, struct buf *out)
{
    size_t i = 0;
    while (i < len) {
        const char *dollar = memchr(text + i, '$', len - i);
        size_t lit = dollar ? (size_t)(dollar - (text + i)) : len - i;
        if (append_checked(x, out, text + i, lit))
            return -1;
        i += lit;
        if (i >= len)
            break;
        /* text[i] == '$' */
        if (i + 1 >= len) {
            xctx_error(x, "'$' at the end of the value (write $$ for a literal '$')");
            return -1;
        }
        char c = text[i + 1];
        if (c == '$') {
            if (append_checked(x, out, "$", 1))
                return -1;
            i += 2;
        } else if (c == '{' || c == '(') {
            size_t end = match_bracket(text, len, i + 1);
            if (!end) {
                xctx_error(x, "missing '%c' in \"%.*s\"", c == '{' ? '}' : ')',
                           (int)(len - i > 60 ? 60 : len - i), text + i);
                return -1;
            }
            if (expand_braced(x, text + i + 2, end - i - 3, out))
                return -1;
            i = end;
        } else if (is_name_char((unsigned char)c)) {
            size_t j = i + 1;
            while (j < len && is_name_char((unsigned char)text[j]))
                j++;
            char *name = xstrndup(text + i + 1, j - i - 1);
            const char *val;
            int rc = lookup_name(x, name, true, &val);
            free(name);
            if (rc || append_checked(x, out, val, strlen(val)))
                return -1;
            i = j;
        } else {
            xctx_error(x, "'$' must be followed by a parameter name, '{', '(' or '$' (write $$ for a literal '$')");
            return -1;
        }
    }
    return 0;
}

static const char *env_value(void *ctx, const char *name)
{
    struct xctx *x = ctx;
    const char *v;
    return lookup_name(x, name, true, &v) ? NULL : v;
}

static bool env_is_set(void *ctx, const char *name)
{
    struct xctx *x = ctx;
    struct centry *e = cstate_find(x->st, name);
    return e && e->raw;
}

/* The default of a table row as text: the row's def, or its computed value. */
static const char *entry_default(struct xctx *x, struct centry *e)
{
    if (!e->p)
        return NULL;
    if (e->p->def)
        return e->p->def;
    if (!e->def) {
        struct param_env env = {env_value, env_is_set, x};
        e->def = e->p->compute(&env);
    }
    return e->def;
}

static int entry_value(struct xctx *x, struct centry *e, const char **out)
{
    switch (e->state) {
    case E_DONE:
        *out = e->value;
        return 0;
    case E_FAILED:
        return -1;      /* already reported */
    case E_BUSY:
        xctx_loop_error(x, e);
        return -1;
    case E_NEW:
        break;
    }
    if (x->nstack >= CONFIG_MAX_NESTING || x->depth >= CONFIG_MAX_NESTING) {
        xctx_error(x, "parameters refer to each other more than %d deep", CONFIG_MAX_NESTING);
        return -1;
    }
    e->state = E_BUSY;
    x->stack[x->nstack++] = e;
    x->depth++;
    struct buf b = BUF_INIT;
    int rc = 0;
    if (e->p && e->p->noexpand && (e->raw || e->p->def)) {
        /* Per-delivery templates ($user, $home ...): kept as written. */
        buf_puts(&b, e->raw ? e->raw : e->p->def);
    } else if (e->raw) {
        rc = expand_text(x, e->raw, strlen(e->raw), &b);
    } else if (e->p && e->p->def) {
        rc = expand_text(x, e->p->def, strlen(e->p->def), &b);
    } else if (e->p) {
        const char *v = entry_default(x, e);
        if (v)
            buf_puts(&b, v);
        else
            rc = -1;
    }
    if (rc == 0 && b.len > CONFIG_MAX_TOTAL - x->st->total) {
        xctx_error(x, "all values together are longer than %d bytes after expansion", CONFIG_MAX_TOTAL);
        rc = -1;
    }
    x->depth--;
    x->nstack--;
    if (rc) {
        buf_free(&b);
        e->state = E_FAILED;
        return -1;
    }
    x->st->total += b.len;
    e->value = buf_steal(&b);
    e->state = E_DONE;
    *out = e->value;
    return 0;
}

/* ----------------------------------------------------------- validation */

static long time_unit_seconds(char u)
{
    switch (u) {
    case 's': return 1;
    case 'm': return 60;
    case 'h': return 3600;
    case 'd': return 86400;
    case 'w': return 7 * 86400;
    default: return 0;
    }
}

/* "300s", "5d", "300" (the row's unit). */
static bool parse_time(const char *v, char def_unit, long *secs)
{
    size_t n = strlen(v);
    if (n == 0)
        return false;
    char unit = def_unit;
    char digits[32];
    if (!(v[n - 1] >= '0' && v[n - 1] <= '9')) {
        unit = v[n - 1];
        n--;
    }
    if (n == 0 || n >= sizeof(digits))
        return false;
    for (size_t i = 0; i < n; i++)
        if (v[i] < '0' || v[i] > '9')
            return false;
    memcpy(digits, v, n);
    digits[n] = 0;
    long mult = time_unit_seconds(unit), num;
    if (!mult || !parse_long(digits, 0, LONG_MAX, &num) || num > LONG_MAX / mult)
        return false;
    *secs = num * mult;
    return true;
}

/* 3600 -> "1h", 90 -> "90s": bounds shown in the units people write. */
static void format_time(char *out, size_t len, long secs)
{
    static const char units[] = "wdhm";
    for (const char *u = units; *u; u++) {
        long m = time_unit_seconds(*u);
        if (secs != 0 && secs % m == 0) {
            snprintf(out, len, "%ld%c", secs / m, *u);
            return;
        }
    }
    snprintf(out, len, "%lds", secs);
}

static bool choice_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *c = choices; *c;) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && strncmp(c, v, n) == 0)
            return true;
        if (!bar)
            break;
        c = bar + 1;
    }
    return false;
}

static void value_error(struct cstate *st, struct centry *e, struct buf *err, const char *why)
{
    struct buf loc = BUF_INIT;
    if (e->raw && e->line > 0)
        buf_printf(&loc, "%s, line %d", st->source, e->line);
    else
        buf_puts(&loc, st->source);
    const char *shown = e->value;
    size_t n = strlen(shown);
    if (e->raw && strcmp(e->raw, e->value) != 0)
        err_add(err, "%s: bad value for %s: \"%.100s\" = \"%.100s%s\" (%s)", buf_str(&loc), e->name, e->raw, shown,
                n > 100 ? "..." : "", why);
    else if (!e->raw)
        err_add(err, "%s: bad value for %s (default \"%s\"): \"%.100s%s\" (%s)", buf_str(&loc), e->name,
                e->p->def ? e->p->def : "", shown, n > 100 ? "..." : "", why);
    else
        err_add(err, "%s: bad value for %s: \"%.100s%s\" (%s)", buf_str(&loc), e->name, shown, n > 100 ? "..." : "",
                why);
    buf_free(&loc);
}

static void range_error(struct cstate *st, struct centry *e, struct buf *err, bool is_time)
{
    char lo[32], hi[32], why[96];
    const struct param *p = e->p;
    if (is_time) {
        format_time(lo, sizeof(lo), p->min);
        format_time(hi, sizeof(hi), p->max);
    } else {
        snprintf(lo, sizeof(lo), "%ld", p->min);
        snprintf(hi, sizeof(hi), "%ld", p->max);
    }
    if (p->max >= LONG_MAX / 4)
        snprintf(why, sizeof(why), "must be at least %s", lo);
    else
        snprintf(why, sizeof(why), "must be between %s and %s", lo, hi);
    value_error(st, e, err, why);
}

/* Check one expanded table value and store it in its variable (when store
 * is set; a failed load stores nothing). */
static int check_value(struct cstate *st, struct centry *e, struct buf *err, bool store)
{
    const struct param *p = e->p;
    const char *v = e->value;
    long num = 0;
    switch (p->type) {
    case P_STR:
    case P_LIST:
        if (p->choices && !(*v == 0 && p->def && *p->def == 0) && !choice_ok(p->choices, v)) {
            struct buf why = BUF_INIT;
            buf_puts(&why, "expected one of: ");
            for (const char *c = p->choices; *c; c++) {
                if (*c == '|')
                    buf_puts(&why, ", ");
                else
                    buf_putc(&why, *c);
            }
            value_error(st, e, err, buf_str(&why));
            buf_free(&why);
            return -1;
        }
        if (store)
            *(char **)p->var = e->value;
        return 0;
    case P_BOOL: {
        bool b;
        if (ascii_strcasecmp(v, "yes") == 0 || ascii_strcasecmp(v, "true") == 0) {
            b = true;
        } else if (ascii_strcasecmp(v, "no") == 0 || ascii_strcasecmp(v, "false") == 0) {
            b = false;
        } else {
            value_error(st, e, err, "expected yes or no");
            return -1;
        }
        if (store)
            *(bool *)p->var = b;
        return 0;
    }
    case P_INT:
    case P_SIZE: {
        bool digits = *v != 0;
        for (const char *c = v; *c; c++)
            if (*c < '0' || *c > '9')
                digits = false;
        if (!digits || !parse_long(v, 0, LONG_MAX, &num)) {
            value_error(st, e, err, p->type == P_SIZE ? "expected a number of bytes" : "expected a whole number");
            return -1;
        }
        if (num < p->min || num > p->max) {
            range_error(st, e, err, false);
            return -1;
        }
        break;
    }
    case P_TIME:
        if (!parse_time(v, p->unit, &num)) {
            char why[128];
            snprintf(why, sizeof(why),
                     "expected a number with an optional unit s, m, h, d or w; without a unit it is in %c", p->unit);
            value_error(st, e, err, why);
            return -1;
        }
        if (num < p->min || num > p->max) {
            range_error(st, e, err, true);
            return -1;
        }
        break;
    }
    if (store)
        *(long *)p->var = num;
    return 0;
}

/* Relations between values that each look fine alone. */
static int check_relations(struct cstate *st, struct buf *err)
{
    struct centry *lo = cstate_find(st, "minimal_backoff_time");
    struct centry *hi = cstate_find(st, "maximal_backoff_time");
    long a, b;
    if (lo && hi && lo->state == E_DONE && hi->state == E_DONE && parse_time(lo->value, 's', &a) &&
        parse_time(hi->value, 's', &b) && a > b) {
        struct centry *at = hi->raw ? hi : lo;
        if (at->raw && at->line > 0)
            err_add(err, "%s, line %d: minimal_backoff_time (%s) is larger than maximal_backoff_time (%s)", st->source,
                    at->line, lo->value, hi->value);
        else
            err_add(err, "%s: minimal_backoff_time (%s) is larger than maximal_backoff_time (%s)", st->source,
                    lo->value, hi->value);
        return -1;
    }
    return 0;
}

/* Expand everything, check the table values, warn about unused unknown
 * names. Returns the number of errors. */
static int cstate_resolve(struct cstate *st, struct buf *err)
{
    struct xctx x;
    memset(&x, 0, sizeof(x));
    x.st = st;
    x.err = err;
    x.warn = true;
    const char *v;
    for (size_t i = 0; i < st->n; i++)
        (void)entry_value(&x, &st->e[i], &v);
    int errors = x.errors;
    for (size_t i = 0; i < st->n; i++) {
        struct centry *e = &st->e[i];
        if (e->p && e->state == E_DONE && check_value(st, e, err, false))
            errors++;
    }
    if (errors == 0 && check_relations(st, err))
        errors++;
    for (size_t i = 0; i < st->n; i++) {
        const struct centry *e = &st->e[i];
        if (e->p || e->referenced || !e->raw)
            continue;
        if (st->warnings >= CONFIG_MAX_WARNINGS) {
            st->warnings++;         /* counted only: skip the suggestion search */
            continue;
        }
        const char *near = config_suggest(e->name);
        if (near)
            config_warn(st, "%s, line %d: unknown parameter \"%s\" (did you mean \"%s\"?)", st->source, e->line,
                        e->name, near);
        else
            config_warn(st, "%s, line %d: unknown parameter \"%s\"", st->source, e->line, e->name);
    }
    if (st->warnings > CONFIG_MAX_WARNINGS)
        msg_warn("%s: %u more warnings not shown", st->source, st->warnings - CONFIG_MAX_WARNINGS);
    return errors;
}

/* ---------------------------------------------------------------- loading */

static void config_store_vars(struct cstate *st)
{
    for (size_t i = 0; i < st->n; i++)
        if (st->e[i].p)
            (void)check_value(st, &st->e[i], NULL, true);
}

static void config_clear_vars(void)
{
    for (size_t i = 0; i < param_count; i++) {
        const struct param *p = &param_table[i];
        if (p->type == P_STR || p->type == P_LIST)
            *(char **)p->var = NULL;
        else if (p->type == P_BOOL)
            *(bool *)p->var = false;
        else
            *(long *)p->var = 0;
    }
}

struct err_line {
    char *text;
    long line;
    size_t seq;
};

static int cmp_err_line(const void *a, const void *b)
{
    const struct err_line *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Problems in file order: expansion and value checks find them in table
 * order. Sorts the lines of err after offset from by their line number. */
static void sort_errors(struct buf *err, size_t from, const char *source)
{
    if (!err || err->len <= from)
        return;
    size_t start = from && err->data[from] == '\n' ? from + 1 : from;
    char *tail = xstrdup(err->data + start);
    size_t n = 1;
    for (const char *c = tail; *c; c++)
        n += *c == '\n';
    struct err_line *v = xmalloc(n * sizeof(*v));
    size_t slen = strlen(source), k = 0;
    for (char *line = tail, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        long num = 0;
        if (strncmp(line, source, slen) == 0 && strncmp(line + slen, ", line ", 7) == 0)
            num = strtol(line + slen + 7, NULL, 10);
        v[k].text = line;
        v[k].line = num;
        v[k].seq = k;
        k++;
    }
    qsort(v, k, sizeof(*v), cmp_err_line);
    err->len = start;
    err->data[start] = 0;
    for (size_t i = 0; i < k; i++) {
        if (i > 0)
            buf_putc(err, '\n');
        buf_puts(err, v[i].text);
    }
    free(v);
    free(tail);
}

/* Parse problems are reported together with expansion and value problems,
 * so one run shows everything to fix. */
static int config_install(struct cstate *st, int problems, struct buf *err)
{
    size_t from = err ? err->len : 0;
    if (cstate_resolve(st, err) + problems > 0) {
        sort_errors(err, from, st->source);
        cstate_free(st);
        return -1;
    }
    config_store_vars(st);
    cstate_free(cfg_cur);
    cfg_cur = st;
    return 0;
}

static int config_load_text(const char *text, size_t len, const char *name, struct buf *err)
{
    struct cstate *st = cstate_new(name, false, false);
    struct parse_ctx pc = {st, err, 0};
    size_t from = err ? err->len : 0;
    int problems = config_split_lines(text, len, name, parse_line, &pc, err);
    if (problems + pc.errors > 0) {
        /* config_install sorts only what it adds; sort all of it here. */
        int rc = config_install(st, problems + pc.errors, err);
        sort_errors(err, from, name);
        return rc;
    }
    return config_install(st, 0, err);
}

int config_load_string(const char *text, const char *name, struct buf *err)
{
    return config_load_text(text, strlen(text), name, err);
}

/* Escape '$' so a literal (a directory, a login name) survives expansion. */
static char *escape_dollars(const char *s)
{
    struct buf b = BUF_INIT;
    for (; *s; s++) {
        if (*s == '$')
            buf_putc(&b, '$');
        buf_putc(&b, *s);
    }
    return buf_steal(&b);
}

static int config_load_embedded(struct buf *err)
{
    char *cwd = getcwd(NULL, 0);
    if (!cwd) {
        err_add(err, "%s: cannot find the current directory: %s", CONFIG_EMBEDDED_NAME, strerror(errno));
        return -1;
    }
    struct cstate *st = cstate_new(CONFIG_EMBEDDED_NAME, true, false);
    char *dir = escape_dollars(strcmp(cwd, "/") == 0 ? "" : cwd);
    char *queue = xasprintf("%s/yubin-state/queue", dir);
    cstate_set(st, "queue_directory", queue, 0);
    free(queue);
    /* Mail for anyone@localhost lands in a Maildir per user under the state
     * folder, whether or not the user exists here: a newcomer can send a
     * test message and read it at once. */
    char *spool = xasprintf("%s/yubin-state/mail/", dir);
    cstate_set(st, "mail_spool_directory", spool, 0);
    free(spool);
    cstate_set(st, "local_recipient_maps", "", 0);
    cstate_set(st, "alias_maps", "", 0);
    cstate_set(st, "alias_database", "", 0);
    free(dir);
    free(cwd);
    cstate_set(st, "smtpd_listen", "127.0.0.1:2525", 0);
    cstate_set(st, "maillog_file", "/dev/stderr", 0);
    struct passwd *pw = getpwuid(getuid());
    char *owner = pw && pw->pw_name && *pw->pw_name ? escape_dollars(pw->pw_name)
                                                    : xasprintf("%lu", (unsigned long)getuid());
    cstate_set(st, "mail_owner", owner, 0);
    free(owner);
    return config_install(st, 0, err);
}

static int config_load_file(const char *path, struct buf *err)
{
    /* Postfix's -c names a directory: accept that habit too. */
    struct stat sb;
    char *file = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) ? xasprintf("%s/yubin.conf", path) : xstrdup(path);
    size_t len;
    char *text = config_read_file(file, CONFIG_MAX_FILE, &len, err);
    int rc = -1;
    if (text)
        rc = config_load_text(text, len, file, err);
    free(text);
    free(file);
    return rc;
}

int config_load(const char *path, struct buf *err)
{
    if (path && !*path) {
        err_add(err, "empty configuration file name");
        return -1;
    }
    if (!path) {
        const char *env = secure_getenv("YUBIN_CONFIG");
        if (env && *env)
            path = env;
    }
    if (path)
        return config_load_file(path, err);

    const char *def = secure_getenv("YUBIN_DEFAULT_CONFIG");
    if (!def || !*def)
        def = CONFIG_DEFAULT_PATH;
    struct buf open_err = BUF_INIT;
    size_t len;
    char *text = config_read_file(def, CONFIG_MAX_FILE, &len, &open_err);
    if (!text) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR) {
            buf_free(&open_err);
            return config_load_embedded(err);
        }
        err_add(err, "%s", buf_str(&open_err));
        buf_free(&open_err);
        return -1;
    }
    buf_free(&open_err);
    int rc = config_load_text(text, len, def, err);
    free(text);
    return rc;
}

void config_unload(void)
{
    cstate_free(cfg_cur);
    cstate_free(cfg_defaults);
    cfg_cur = cfg_defaults = NULL;
    config_clear_vars();
}

/* ----------------------------------------------------------------- access */

const char *config_source(void)
{
    return cfg_cur ? cfg_cur->source : NULL;
}

bool config_embedded(void)
{
    return cfg_cur && cfg_cur->embedded;
}

const char *config_raw(const char *name)
{
    struct centry *e = cstate_find(cfg_cur, name);
    return e ? e->raw : NULL;
}

const char *config_get(const char *name)
{
    struct centry *e = cstate_find(cfg_cur, name);
    if (!e)
        return NULL;
    struct xctx x;
    memset(&x, 0, sizeof(x));
    x.st = cfg_cur;
    const char *v;
    return entry_value(&x, e, &v) ? NULL : v;
}

char *config_expand(const char *text, struct buf *err)
{
    if (!cfg_cur) {
        err_add(err, "cannot expand \"%.60s\": no configuration loaded", text);
        return NULL;
    }
    struct xctx x;
    memset(&x, 0, sizeof(x));
    x.st = cfg_cur;
    x.err = err;
    x.text = text;
    struct buf b = BUF_INIT;
    if (expand_text(&x, text, strlen(text), &b)) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

bool config_origin(const char *name, const char **file, int *line)
{
    struct centry *e = cstate_find(cfg_cur, name);
    if (!e)
        return false;
    if (e->raw) {
        *file = cfg_cur->source;
        *line = e->line;
    } else {
        *file = NULL;
        *line = 0;
    }
    return true;
}

static struct cstate *defaults_state(void)
{
    if (!cfg_defaults) {
        cfg_defaults = cstate_new("(built-in defaults)", false, true);
        struct buf err = BUF_INIT;
        if (cstate_resolve(cfg_defaults, &err) > 0)
            msg_panic("the built-in defaults do not expand: %s", buf_str(&err));
        buf_free(&err);
    }
    return cfg_defaults;
}

const char *config_default(const char *name)
{
    struct cstate *st = defaults_state();
    struct centry *e = cstate_find(st, name);
    if (!e)
        return NULL;
    struct xctx x;
    memset(&x, 0, sizeof(x));
    x.st = st;
    return entry_default(&x, e);
}

/* ------------------------------------------------------------------ lists */

static bool is_list_sep(int c)
{
    return c == ',' || is_space(c);
}

void strlist_split(struct strlist *out, const char *value)
{
    size_t cap = 8;
    out->v = xmalloc(cap * sizeof(*out->v));
    out->n = 0;
    const char *p = value ? value : "";
    for (;;) {
        while (*p && is_list_sep((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *start = p;
        int depth = 0;
        /* Where the item's first '{' closes: a whole-item group if at the end. */
        const char *first_close = NULL;
        for (; *p; p++) {
            if (*p == '{') {
                depth++;
            } else if (*p == '}' && depth > 0) {
                if (--depth == 0 && !first_close)
                    first_close = p;
            } else if (depth == 0 && is_list_sep((unsigned char)*p)) {
                break;
            }
        }
        const char *end = p;
        char *item;
        if (*start == '{' && first_close == end - 1) {
            const char *a = start + 1, *b = end - 1;
            while (a < b && is_space((unsigned char)*a))
                a++;
            while (b > a && is_space((unsigned char)b[-1]))
                b--;
            item = xstrndup(a, (size_t)(b - a));
        } else {
            item = xstrndup(start, (size_t)(end - start));
        }
        if (out->n + 1 >= cap) {
            cap *= 2;
            out->v = xrealloc(out->v, cap * sizeof(*out->v));
        }
        out->v[out->n++] = item;
    }
    out->v[out->n] = NULL;
}

void strlist_free(struct strlist *l)
{
    if (!l->v)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* -------------------------------------------------------------- suggestion */

/* Optimal-string-alignment distance, case-insensitive: a swapped pair of
 * letters ("mydomian") counts as one edit, like a missing one. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t rows[3][130];
    size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            int ca = ascii_tolower((unsigned char)a[i - 1]), cb = ascii_tolower((unsigned char)b[j - 1]);
            size_t cost = ca == cb ? 0 : 1;
            size_t best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (prev[j - 1] + cost < best)
                best = prev[j - 1] + cost;
            if (i > 1 && j > 1 && ca == ascii_tolower((unsigned char)b[j - 2]) &&
                ascii_tolower((unsigned char)a[i - 2]) == cb && pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            cur[j] = best;
        }
        size_t *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

const char *config_suggest(const char *unknown)
{
    size_t len = strlen(unknown);
    if (len == 0 || len > 120)
        return NULL;
    size_t limit = len / 4;
    if (limit < 1)
        limit = 1;
    if (limit > 3)
        limit = 3;
    const char *best = NULL;
    size_t best_d = limit + 1;
    for (size_t i = 0; i < param_count; i++) {
        const char *name = param_table[i].name;
        if (strlen(name) > 120)
            continue;
        size_t d = edit_distance(unknown, name);
        if (d < best_d) {
            best_d = d;
            best = name;
        }
    }
    return best;
}

/* ---------------------------------------------------------------- printing */

static int cmp_entry_name(const void *a, const void *b)
{
    const struct centry *x = *(const struct centry *const *)a, *y = *(const struct centry *const *)b;
    return strcmp(x->name, y->name);
}

static void print_one(FILE *out, const char *name, const char *value, const char *doc,
                      const struct config_print_opts *o)
{
    if (o->doc && doc)
        fprintf(out, "# %s\n", doc);
    if (o->value_only)
        fprintf(out, "%s\n", value);
    else if (*value)
        fprintf(out, "%s = %s\n", name, value);
    else
        fprintf(out, "%s =\n", name);
}

/* The text to show for entry e of st: expanded or as written. */
static const char *shown_value(struct cstate *st, struct centry *e, bool expand)
{
    struct xctx x;
    memset(&x, 0, sizeof(x));
    x.st = st;
    if (expand) {
        const char *v;
        return entry_value(&x, e, &v) ? "" : v;
    }
    if (e->raw)
        return e->raw;
    const char *d = entry_default(&x, e);
    return d ? d : "";
}

void config_fprint(FILE *out, enum config_print mode, const struct config_print_opts *o)
{
    struct cstate *st = mode == CONFIG_PRINT_DEFAULTS ? defaults_state() : cfg_cur;
    if (!st)
        return;
    struct centry **list = xmalloc((st->n ? st->n : 1) * sizeof(*list));
    size_t n = 0;
    for (size_t i = 0; i < st->n; i++) {
        struct centry *e = &st->e[i];
        if (mode == CONFIG_PRINT_NONDEFAULT) {
            if (!e->raw)
                continue;
            /* Compare with the built-in default as written (a computed one as
             * computed without this file: setting mydomain changes the
             * computed myhostname, but mydomain is still a setting). */
            const char *d = e->p ? config_default(e->name) : NULL;
            if (d && strcmp(d, e->raw) == 0)
                continue;
        }
        list[n++] = e;
    }
    qsort(list, n, sizeof(*list), cmp_entry_name);
    for (size_t i = 0; i < n; i++)
        print_one(out, list[i]->name, shown_value(st, list[i], o->expand), list[i]->p ? list[i]->p->doc : NULL, o);
    free(list);
}

int config_fprint_names(FILE *out, char **names, int n, bool defaults, const struct config_print_opts *o)
{
    struct cstate *st = defaults ? defaults_state() : cfg_cur;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        struct centry *e = cstate_find(st, names[i]);
        if (!e) {
            const char *near = config_suggest(names[i]);
            if (near)
                msg_warn("%s: unknown parameter (did you mean \"%s\"?)", names[i], near);
            else
                msg_warn("%s: unknown parameter", names[i]);
            rc = 1;
            continue;
        }
        print_one(out, e->name, shown_value(st, e, o->expand), e->p ? e->p->doc : NULL, o);
    }
    return rc;
}

void config_print(enum config_print mode, bool expand)
{
    struct config_print_opts o = {.expand = expand};
    config_fprint(stdout, mode, &o);
}

int config_print_names(char **names, int n, bool expand, bool defaults)
{
    struct config_print_opts o = {.expand = expand};
    return config_fprint_names(stdout, names, n, defaults, &o);
}
