/*
 * map.c - lookup tables: "hash:" and "texthash:" (the text file itself, read
 * into an in-memory hash table), "static:value", "inline:{ k=v, ... }".
 *
 * A text table is reloaded when the file's identity (inode, size, mtime)
 * changes, checked at most once a second on lookup. A reload that fails
 * keeps the previous contents and logs a warning: a typo made while mail
 * is flowing must not empty the transport or alias table.
 *
 * Trusts: the table files, which the administrator writes. They are still
 * parsed with a line-length cap, and every error names the file and line.
 */
#include "lib/map.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A logical line longer than this is an error, not a memory sink. */
#define MAP_LINE_MAX (1024 * 1024)
/* Stop collecting errors after this many lines of them. */
#define MAP_ERRORS_MAX 20

enum map_kind { MAP_TEXT, MAP_STATIC, MAP_INLINE };

struct map_entry {
    char *key;          /* lower case */
    char *value;
    int line;
};

struct map_table {
    struct map_entry *ents;     /* in file order, for map_walk */
    size_t n, cap;
    size_t *slots;              /* open addressing: index + 1, 0 = empty */
    size_t nslots;              /* a power of two, at least 2n */
};

struct map_ident {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

struct map {
    char *name;                 /* "hash:/etc/yubin/transport" */
    enum map_kind kind;
    char *file;                 /* MAP_TEXT only */
    char *static_value;         /* MAP_STATIC only */
    struct map_table t;
    struct map_ident ident;     /* of the file last read (or tried) */
    double last_check;
    bool stat_warned;
};

static uint64_t map_hash(const char *key)
{
    uint64_t h = 14695981039346656037ULL;       /* FNV-1a */
    for (; *key; key++) {
        h ^= (unsigned char)ascii_tolower((unsigned char)*key);
        h *= 1099511628211ULL;
    }
    return h;
}

static void map_table_free(struct map_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->ents[i].key);
        free(t->ents[i].value);
    }
    free(t->ents);
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

static const struct map_entry *map_table_find(const struct map_table *t, const char *key)
{
    if (t->nslots == 0)
        return NULL;
    size_t mask = t->nslots - 1;
    for (size_t i = (size_t)map_hash(key) & mask;; i = (i + 1) & mask) {
        size_t s = t->slots[i];
        if (s == 0)
            return NULL;
        if (ascii_strcasecmp(t->ents[s - 1].key, key) == 0)
            return &t->ents[s - 1];
    }
}

static void map_table_rehash(struct map_table *t, size_t nslots)
{
    free(t->slots);
    t->slots = xcalloc(nslots, sizeof(*t->slots));
    t->nslots = nslots;
    for (size_t e = 0; e < t->n; e++) {
        size_t i = (size_t)map_hash(t->ents[e].key) & (nslots - 1);
        while (t->slots[i])
            i = (i + 1) & (nslots - 1);
        t->slots[i] = e + 1;
    }
}

/* Add key (already lower case) unless present. Returns the entry that was
 * there first, or NULL when added: Postfix's postmap also keeps the first
 * of two duplicate keys. */
static const struct map_entry *map_table_add(struct map_table *t, const char *key, const char *value, int line)
{
    const struct map_entry *old = map_table_find(t, key);
    if (old)
        return old;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->ents = xrealloc(t->ents, t->cap * sizeof(*t->ents));
    }
    t->ents[t->n++] = (struct map_entry){xstrdup(key), xstrdup(value), line};
    if (t->n * 2 > t->nslots)
        map_table_rehash(t, t->nslots ? t->nslots * 2 : 32);
    else {
        size_t i = (size_t)map_hash(key) & (t->nslots - 1);
        while (t->slots[i])
            i = (i + 1) & (t->nslots - 1);
        t->slots[i] = t->n;
    }
    return NULL;
}

static bool map_is_space(char c)
{
    return c == ' ' || c == '\t';
}

/*
 * One logical line: "key whitespace value", where the key may be a quoted
 * string ("a key with spaces", Postfix 3.2). Returns false with a message.
 */
static bool map_parse_entry(char *text, char **key, char **value, const char **why)
{
    char *p = text;

    if (*p == '"') {
        char *o = ++p;
        *key = o;
        for (;;) {
            if (*p == 0) {
                *why = "unterminated quoted key";
                return false;
            }
            if (*p == '"')
                break;
            if (*p == '\\' && p[1])
                p++;
            *o++ = *p++;
        }
        p++;
        if (*p && !map_is_space(*p)) {
            *why = "expected whitespace after quoted key";
            return false;
        }
        *o = 0;
        if (*p)
            p++;
    } else {
        *key = p;
        while (*p && !map_is_space(*p))
            p++;
        if (*p)
            *p++ = 0;
    }
    while (map_is_space(*p))
        p++;
    size_t n = strlen(p);
    while (n > 0 && map_is_space(p[n - 1]))
        p[--n] = 0;
    if (**key == 0 || n == 0) {
        *why = "expected format: key whitespace value";
        return false;
    }
    *value = p;
    ascii_lowercase(*key);
    return true;
}

struct map_loader {
    const char *file;
    struct map_table *t;
    struct buf *err;
    int errors;
};

static void map_line_error(struct map_loader *ld, int line, const char *msg)
{
    if (ld->errors++ >= MAP_ERRORS_MAX)
        return;
    if (ld->err->len)
        buf_putc(ld->err, '\n');
    buf_printf(ld->err, "%s, line %d: %s", ld->file, line, msg);
}

static void map_finish_line(struct map_loader *ld, struct buf *logical, int line)
{
    char *key, *value;
    const char *why;

    if (logical->len == 0)
        return;
    if (!map_parse_entry(logical->data, &key, &value, &why)) {
        map_line_error(ld, line, why);
    } else {
        const struct map_entry *dup = map_table_add(ld->t, key, value, line);
        if (dup)
            msg_warn("%s, line %d: duplicate entry \"%s\" (first at line %d) ignored",
                     ld->file, line, key, dup->line);
    }
    buf_reset(logical);
}

/* Read the file into t. -1 with messages in err. *id gets the identity
 * of what was read (also on a parse error, so a bad file is not retried
 * every second). */
static int map_load_file(const char *file, struct map_table *t, struct map_ident *id, struct buf *err)
{
    FILE *fp = fopen(file, "re");
    if (!fp) {
        buf_printf(err, "open %s: %s", file, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0) {
        buf_printf(err, "stat %s: %s", file, strerror(errno));
        fclose(fp);
        return -1;
    }
    *id = (struct map_ident){st.st_dev, st.st_ino, st.st_size, st.st_mtim};

    struct map_loader ld = {file, t, err, 0};
    struct buf logical = BUF_INIT;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int lineno = 0, start = 0;

    while ((got = getline(&line, &cap, fp)) >= 0) {
        size_t n = (size_t)got;
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (memchr(line, 0, n)) {
            map_line_error(&ld, lineno, "NUL byte in line");
            continue;
        }
        size_t i = 0;
        while (i < n && map_is_space(line[i]))
            i++;
        if (i == n || line[i] == '#')
            continue;
        if (i > 0) {
            /* leading whitespace continues the logical line */
            if (logical.len == 0) {
                map_line_error(&ld, lineno, "continuation line without a preceding entry");
                continue;
            }
        } else {
            map_finish_line(&ld, &logical, start);
            start = lineno;
        }
        if (logical.len + n > MAP_LINE_MAX) {
            map_line_error(&ld, start, "logical line too long");
            buf_reset(&logical);
            continue;
        }
        buf_append(&logical, line, n);
    }
    bool read_error = ferror(fp);
    map_finish_line(&ld, &logical, start);
    buf_free(&logical);
    free(line);
    fclose(fp);
    if (read_error) {
        if (err->len)
            buf_putc(err, '\n');
        buf_printf(err, "read %s: %s", file, strerror(EIO));
        return -1;
    }
    if (ld.errors > MAP_ERRORS_MAX)
        buf_printf(err, "\n%s: %d more errors", file, ld.errors - MAP_ERRORS_MAX);
    return ld.errors ? -1 : 0;
}

static bool map_ident_same(const struct map_ident *a, const struct stat *st)
{
    return a->dev == st->st_dev && a->ino == st->st_ino && a->size == st->st_size &&
           a->mtime.tv_sec == st->st_mtim.tv_sec && a->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static void map_maybe_reload(struct map *m)
{
    if (m->kind != MAP_TEXT)
        return;
    double now = time_monotonic();
    if (now - m->last_check < 1.0)
        return;
    m->last_check = now;

    struct stat st;
    if (stat(m->file, &st) != 0) {
        if (!m->stat_warned)
            msg_warn("%s: %s; keeping the previous contents", m->name, strerror(errno));
        m->stat_warned = true;
        return;
    }
    m->stat_warned = false;
    if (map_ident_same(&m->ident, &st))
        return;

    struct map_table t = {NULL, 0, 0, NULL, 0};
    struct buf err = BUF_INIT;
    if (map_load_file(m->file, &t, &m->ident, &err) == 0) {
        map_table_free(&m->t);
        m->t = t;
    } else {
        msg_warn("%s: reload failed, keeping the previous contents: %s", m->name, buf_str(&err));
        map_table_free(&t);
    }
    buf_free(&err);
}

static char *map_trim(char *s)
{
    while (map_is_space(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && map_is_space(s[n - 1]))
        s[--n] = 0;
    return s;
}

/* "inline:{ key=value, { key = value with spaces } }" */
static int map_load_inline(struct map *m, const char *body, struct buf *err)
{
    size_t n = strlen(body);
    if (n < 2 || body[0] != '{' || body[n - 1] != '}') {
        buf_printf(err, "%s: expected inline:{ key=value, ... }", m->name);
        return -1;
    }
    char *inner = xstrndup(body + 1, n - 2);
    struct strlist items = {NULL, 0};
    strlist_split(&items, inner);
    int rc = 0;
    for (size_t i = 0; i < items.n && rc == 0; i++) {
        char *eq = strchr(items.v[i], '=');
        if (!eq) {
            buf_printf(err, "%s: item \"%s\" has no '='", m->name, items.v[i]);
            rc = -1;
            break;
        }
        *eq = 0;
        char *key = map_trim(items.v[i]), *value = map_trim(eq + 1);
        if (!*key) {
            buf_printf(err, "%s: item %zu has an empty key", m->name, i + 1);
            rc = -1;
            break;
        }
        ascii_lowercase(key);
        if (map_table_add(&m->t, key, value, 0))
            msg_warn("%s: duplicate entry \"%s\" ignored", m->name, key);
    }
    strlist_free(&items);
    free(inner);
    return rc;
}

struct map *map_open(const char *spec, struct buf *err)
{
    const char *colon = strchr(spec, ':');
    if (!colon || colon == spec || !colon[1]) {
        buf_printf(err, "bad table name \"%s\": expected type:name", spec);
        return NULL;
    }
    size_t tlen = (size_t)(colon - spec);
    const char *arg = colon + 1;
    struct map *m = xcalloc(1, sizeof(*m));
    m->name = xstrdup(spec);

    if ((tlen == 4 && strncmp(spec, "hash", 4) == 0) || (tlen == 8 && strncmp(spec, "texthash", 8) == 0)) {
        m->kind = MAP_TEXT;
        m->file = xstrdup(arg);
        m->last_check = time_monotonic();
        if (map_load_file(m->file, &m->t, &m->ident, err) != 0)
            goto fail;
    } else if (tlen == 6 && strncmp(spec, "static", 6) == 0) {
        m->kind = MAP_STATIC;
        size_t n = strlen(arg);
        /* static:{text with spaces} */
        if (n >= 2 && arg[0] == '{' && arg[n - 1] == '}') {
            char *inner = xstrndup(arg + 1, n - 2);
            m->static_value = xstrdup(map_trim(inner));
            free(inner);
        } else
            m->static_value = xstrdup(arg);
    } else if (tlen == 6 && strncmp(spec, "inline", 6) == 0) {
        m->kind = MAP_INLINE;
        if (map_load_inline(m, arg, err) != 0)
            goto fail;
    } else {
        buf_printf(err, "unsupported table type \"%.*s\" in \"%s\" (supported: hash, texthash, static, inline)",
                   (int)tlen, spec, spec);
        goto fail;
    }
    return m;
fail:
    map_close(m);
    return NULL;
}

const char *map_lookup(struct map *m, const char *key, int *line)
{
    if (m->kind == MAP_STATIC) {
        if (line)
            *line = 0;
        return m->static_value;
    }
    map_maybe_reload(m);
    const struct map_entry *e = map_table_find(&m->t, key);
    if (!e)
        return NULL;
    if (line)
        *line = e->line;
    return e->value;
}

const char *map_name(const struct map *m)
{
    return m->name;
}

const char *map_file(const struct map *m)
{
    return m->file;
}

void map_walk(struct map *m, void (*fn)(void *arg, const char *key, const char *value, int line), void *arg)
{
    map_maybe_reload(m);
    for (size_t i = 0; i < m->t.n; i++)
        fn(arg, m->t.ents[i].key, m->t.ents[i].value, m->t.ents[i].line);
}

void map_close(struct map *m)
{
    if (!m)
        return;
    map_table_free(&m->t);
    free(m->name);
    free(m->file);
    free(m->static_value);
    free(m);
}
