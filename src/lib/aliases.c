/*
 * aliases.c - parses /etc/aliases into an in-memory table (see aliases.h).
 *
 * Lines are split by config_split_lines() (the same logical-line rules as
 * yubin.conf); each logical line is "name: target, target, ...". Every
 * problem is collected with its file and line instead of stopping at the
 * first, because newaliases should show them all.
 *
 * Trusts: the file's author (root), but only as far as syntax goes: lengths
 * are bounded, nothing is executed or opened here.
 */
#include "lib/aliases.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct aliases {
    char *file;
    struct alias_entry *e;
    size_t n, cap;
    size_t *slot;           /* hash index: entry number + 1, 0 = free */
    size_t nslot;
    struct buf errors, warnings;
    size_t nerrors, nwarnings;
};

static void PRINTF_LIKE(3, 4) aliases_error(struct aliases *a, int line, const char *fmt, ...)
{
    if (a->errors.len)
        buf_putc(&a->errors, '\n');
    buf_printf(&a->errors, "%s, line %d: ", a->file, line);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&a->errors, fmt, ap);
    va_end(ap);
    a->nerrors++;
}

static bool is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static size_t hash_name(const char *s)
{
    size_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)ascii_tolower((unsigned char)*s)) * 16777619u;
    return h;
}

static size_t aliases_find(const struct aliases *a, const char *name)
{
    if (!a->nslot)
        return 0;
    size_t mask = a->nslot - 1;
    for (size_t i = hash_name(name) & mask;; i = (i + 1) & mask) {
        size_t s = a->slot[i];
        if (s == 0 || ascii_strcasecmp(a->e[s - 1].name, name) == 0)
            return s;
    }
}

static void aliases_index(struct aliases *a, size_t k)
{
    size_t mask = a->nslot - 1;
    size_t i = hash_name(a->e[k].name) & mask;
    while (a->slot[i])
        i = (i + 1) & mask;
    a->slot[i] = k + 1;
}

static void aliases_add(struct aliases *a, struct alias_entry *entry)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->e = xrealloc(a->e, a->cap * sizeof(*a->e));
    }
    a->e[a->n++] = *entry;
    if (a->n * 2 > a->nslot) {
        free(a->slot);
        a->nslot = a->nslot ? a->nslot * 2 : 128;
        a->slot = xcalloc(a->nslot, sizeof(*a->slot));
        for (size_t k = 0; k < a->n; k++)
            aliases_index(a, k);
    } else {
        aliases_index(a, a->n - 1);
    }
}

static void entry_free(struct alias_entry *e)
{
    for (size_t i = 0; i < e->ntargets; i++)
        free(e->targets[i].value);
    free(e->targets);
    free(e->name);
}

/* The physical line that offset off of a logical line came from. */
static int line_at(const struct config_line *l, size_t off)
{
    int line = l->first;
    for (size_t i = 0; i < l->nparts && l->part_start[i] <= off; i++)
        line = l->part_line[i];
    return line;
}

/* Remove the quotes (and backslash escapes) of a "..." string of n bytes. */
static char *unquote(const char *s, size_t n)
{
    struct buf b = BUF_INIT;
    for (size_t i = 1; i + 1 < n; i++) {
        if (s[i] == '\\' && i + 2 < n)
            i++;
        buf_putc(&b, s[i]);
    }
    return buf_steal(&b);
}

/* Does the whole token s[0..n) form one "..." string? */
static bool whole_quoted(const char *s, size_t n)
{
    if (n < 2 || s[0] != '"')
        return false;
    for (size_t i = 1; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n)
            i++;
        else if (s[i] == '"')
            return i == n - 1;
    }
    return false;
}

/* Whitespace or control characters outside "..." parts. */
static bool has_bare_space(const char *s)
{
    bool q = false;
    for (; *s; s++) {
        if (q && *s == '\\' && s[1])
            s++;
        else if (*s == '"')
            q = !q;
        else if (!q && is_space((unsigned char)*s))
            return true;
    }
    return false;
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return true;
    return false;
}

/* The '@' that starts the domain: the last one outside "...". */
static const char *domain_at(const char *s)
{
    const char *at = NULL;
    bool q = false;
    for (; *s; s++) {
        if (q && *s == '\\' && s[1])
            s++;
        else if (*s == '"')
            q = !q;
        else if (!q && *s == '@')
            at = s;
    }
    return at;
}

static bool domain_ok(const char *d)
{
    size_t n = strlen(d);
    if (n == 0 || n > 255)
        return false;
    if (d[0] == '[')
        return n > 2 && d[n - 1] == ']';
    if (d[0] == '.' || d[n - 1] == '.' || strstr(d, ".."))
        return false;
    for (; *d; d++) {
        unsigned char c = (unsigned char)*d;
        if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.'))
            return false;
    }
    return true;
}

/* Classify and check one target; false (with an error) when it is bad. */
static bool parse_target(struct aliases *a, const char *tok, size_t n, int line, struct alias_target *t)
{
    memset(t, 0, sizeof(*t));
    t->file = a->file;
    t->line = line;
    bool quoted = false;
    char *v;
    if (whole_quoted(tok, n)) {
        v = unquote(tok, n);
        quoted = true;
        /* A quoted address ("john doe"@x, "a b") keeps its quotes: they are
         * RFC 5322 syntax, not alias-file syntax. */
        if (v[0] != '|' && v[0] != '/' && !ascii_prefix(v, ":include:")) {
            free(v);
            v = xstrndup(tok, n);
            quoted = false;
        }
    } else {
        v = xstrndup(tok, n);
    }
    if (has_control(v)) {
        aliases_error(a, line, "control character in target \"%.60s\"", v);
        free(v);
        return false;
    }

    if (v[0] == '|') {
        t->kind = ALIAS_COMMAND;
        char *cmd = str_trim(v + 1);
        if (!*cmd) {
            aliases_error(a, line, "empty command after '|'");
            free(v);
            return false;
        }
        if (!quoted && has_bare_space(cmd)) {
            aliases_error(a, line, "a command with spaces must be quoted: \"|%.60s\"", cmd);
            free(v);
            return false;
        }
        t->value = xstrdup(cmd);
        free(v);
        return true;
    }
    if (ascii_prefix(v, ":include:")) {
        t->kind = ALIAS_INCLUDE;
        char *path = str_trim(v + strlen(":include:"));
        if (path[0] != '/') {
            aliases_error(a, line, "the :include: file must be an absolute path: \"%.60s\"", path);
            free(v);
            return false;
        }
        if (!quoted && has_bare_space(path)) {
            aliases_error(a, line, "a file name with spaces must be quoted: \":include:%.60s\"", path);
            free(v);
            return false;
        }
        t->value = xstrdup(path);
        free(v);
        return true;
    }
    if (v[0] == '/') {
        t->kind = ALIAS_FILE;
        if (!quoted && has_bare_space(v)) {
            aliases_error(a, line, "a file name with spaces must be quoted: \"%.60s\"", v);
            free(v);
            return false;
        }
        t->value = v;
        return true;
    }

    t->kind = ALIAS_ADDRESS;
    char *addr = v;
    if (addr[0] == '\\') {
        t->escaped = true;
        addr++;
    }
    size_t len = strlen(addr);
    if (len >= 2 && addr[0] == '<' && addr[len - 1] == '>') {
        addr[len - 1] = 0;
        addr++;
    }
    if (!*addr) {
        aliases_error(a, line, "empty address");
        free(v);
        return false;
    }
    if (has_bare_space(addr)) {
        aliases_error(a, line, "\"%.60s\" is not one address: separate targets with commas, "
                    "and quote commands and file names that contain spaces", addr);
        free(v);
        return false;
    }
    const char *at = domain_at(addr);
    if (at && (at == addr || !domain_ok(at + 1))) {
        aliases_error(a, line, "bad address \"%.60s\"", addr);
        free(v);
        return false;
    }
    if (strlen(addr) > 512) {
        aliases_error(a, line, "address longer than 512 bytes");
        free(v);
        return false;
    }
    t->value = xstrdup(addr);
    free(v);
    return true;
}

static void parse_alias_line(void *arg, const struct config_line *l)
{
    struct aliases *a = arg;
    char *text = l->text;
    size_t len = l->len;
    int errors_before = (int)a->nerrors;

    if (len > ALIASES_MAX_LOGICAL) {
        aliases_error(a, l->first, "alias definition is longer than %d bytes", ALIASES_MAX_LOGICAL);
        return;
    }
    /* A Sendmail habit that Postfix (and yubin) do not share. */
    for (size_t i = 0; i < l->nparts; i++) {
        size_t end = i + 1 < l->nparts ? l->part_start[i + 1] : len;
        if (end > l->part_start[i] && text[end - 1] == '\\') {
            aliases_error(a, l->part_line[i], "line ends with '\\', which does not continue it; "
                          "start the next line with whitespace instead");
            text[end - 1] = ' ';    /* reported once, not again as a bad target */
        }
    }

    /* The name: "quoted" or up to the first ':'. */
    char *name;
    size_t pos;
    bool quoted_name = false;
    if (text[0] == '"') {
        size_t i = 1;
        while (i < len && text[i] != '"') {
            if (text[i] == '\\' && i + 1 < len)
                i++;
            i++;
        }
        if (i >= len) {
            aliases_error(a, l->first, "missing '\"' at the end of the alias name");
            return;
        }
        name = unquote(text, i + 1);
        pos = i + 1;
        while (pos < len && is_space((unsigned char)text[pos]))
            pos++;
        if (pos >= len || text[pos] != ':') {
            aliases_error(a, l->first, "missing ':' after the alias name \"%.60s\"", name);
            free(name);
            return;
        }
        quoted_name = true;
    } else {
        char *colon = memchr(text, ':', len);
        if (!colon) {
            aliases_error(a, l->first, "missing ':' after the alias name in \"%.60s%s\"", text, len > 60 ? "..." : "");
            return;
        }
        name = xstrndup(text, (size_t)(colon - text));
        char *t = str_trim(name);
        memmove(name, t, strlen(t) + 1);
        pos = (size_t)(colon - text);
    }
    pos++;      /* past ':' */
    if (!*name) {
        aliases_error(a, l->first, "empty alias name");
        free(name);
        return;
    }
    if (!quoted_name && has_bare_space(name)) {
        aliases_error(a, l->first, "alias name \"%.60s\" contains whitespace (missing ':'? or quote the name)", name);
        free(name);
        return;
    }
    if (!quoted_name && strchr(name, '@')) {
        aliases_error(a, l->first, "alias name \"%.60s\" has a domain; aliases are local parts only", name);
        free(name);
        return;
    }
    ascii_lowercase(name);

    /* The targets: split at commas outside "...". */
    struct alias_entry entry = {.name = name, .line = l->first};
    size_t cap = 0;
    bool in_quote = false;
    size_t tok = pos;
    for (size_t i = pos; i <= len; i++) {
        if (i < len && in_quote && text[i] == '\\' && i + 1 < len) {
            i++;
            continue;
        }
        if (i < len && text[i] == '"') {
            in_quote = !in_quote;
            continue;
        }
        if (i < len && (in_quote || text[i] != ','))
            continue;
        if (i == len && in_quote) {
            aliases_error(a, line_at(l, tok), "missing '\"' at the end of a quoted target");
            break;
        }
        size_t s = tok, e = i;
        while (s < e && is_space((unsigned char)text[s]))
            s++;
        while (e > s && is_space((unsigned char)text[e - 1]))
            e--;
        tok = i + 1;
        if (s == e)
            continue;       /* "a,,b" and a trailing comma */
        struct alias_target t;
        if (!parse_target(a, text + s, e - s, line_at(l, s), &t))
            continue;
        if (entry.ntargets == cap) {
            cap = cap ? cap * 2 : 4;
            entry.targets = xrealloc(entry.targets, cap * sizeof(*entry.targets));
        }
        entry.targets[entry.ntargets++] = t;
    }
    if (entry.ntargets == 0 && (int)a->nerrors == errors_before)
        aliases_error(a, l->first, "alias \"%s\" has no targets", name);

    size_t prev = aliases_find(a, name);
    if (prev) {
        if (a->warnings.len)
            buf_putc(&a->warnings, '\n');
        buf_printf(&a->warnings, "%s, line %d: duplicate alias \"%s\" ignored; the definition on line %d is used",
                   a->file, l->first, name, a->e[prev - 1].line);
        a->nwarnings++;
        entry_free(&entry);
        return;
    }
    entry.broken = (int)a->nerrors != errors_before;
    aliases_add(a, &entry);
}

struct aliases *aliases_parse_string(const char *text, size_t len, const char *name)
{
    struct aliases *a = xcalloc(1, sizeof(*a));
    a->file = xstrdup(name);
    struct buf line_err = BUF_INIT;
    int problems = config_split_lines(text, len, name, parse_alias_line, a, &line_err);
    if (problems > 0) {
        if (a->errors.len)
            buf_putc(&a->errors, '\n');
        buf_append(&a->errors, line_err.data, line_err.len);
        a->nerrors += (size_t)problems;
    }
    buf_free(&line_err);
    return a;
}

struct aliases *aliases_parse_file(const char *path, struct buf *err)
{
    size_t len;
    char *text = config_read_file(path, ALIASES_MAX_FILE, &len, err);
    if (!text)
        return NULL;
    struct aliases *a = aliases_parse_string(text, len, path);
    free(text);
    return a;
}

void aliases_free(struct aliases *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        entry_free(&a->e[i]);
    free(a->e);
    free(a->slot);
    free(a->file);
    buf_free(&a->errors);
    buf_free(&a->warnings);
    free(a);
}

const struct alias_entry *aliases_lookup(const struct aliases *a, const char *name)
{
    size_t k = aliases_find(a, name);
    return k ? &a->e[k - 1] : NULL;
}

size_t aliases_count(const struct aliases *a)
{
    return a->n;
}

const struct alias_entry *aliases_entry(const struct aliases *a, size_t i)
{
    return i < a->n ? &a->e[i] : NULL;
}

const char *aliases_file(const struct aliases *a)
{
    return a->file;
}

size_t aliases_validate(const struct aliases *a, struct buf *err)
{
    if (a->nerrors && err) {
        if (err->len)
            buf_putc(err, '\n');
        buf_append(err, a->errors.data, a->errors.len);
    }
    return a->nerrors;
}

size_t aliases_warnings(const struct aliases *a, struct buf *out)
{
    if (a->nwarnings && out) {
        if (out->len)
            buf_putc(out, '\n');
        buf_append(out, a->warnings.data, a->warnings.len);
    }
    return a->nwarnings;
}

int aliases_check_file(const char *path, struct buf *err)
{
    struct aliases *a = aliases_parse_file(path, err);
    if (!a)
        return -1;
    struct buf warn = BUF_INIT;
    if (aliases_warnings(a, &warn)) {
        char *text = buf_steal(&warn);
        for (char *line = text, *next; line; line = next) {
            next = strchr(line, '\n');
            if (next)
                *next++ = 0;
            msg_warn("%s", line);
        }
        free(text);
    }
    buf_free(&warn);
    for (size_t i = 0; i < a->n; i++) {
        const struct alias_entry *e = &a->e[i];
        for (size_t j = 0; j < e->ntargets; j++) {
            const struct alias_target *t = &e->targets[j];
            struct stat st;
            if (t->kind == ALIAS_INCLUDE && stat(t->value, &st) != 0)
                msg_warn("%s, line %d: :include: file %s: %s", t->file, t->line, t->value, strerror(errno));
        }
    }
    int rc = aliases_validate(a, err) ? -1 : 0;
    aliases_free(a);
    return rc;
}

const char *aliases_kind_name(enum alias_kind k)
{
    switch (k) {
    case ALIAS_ADDRESS: return "address";
    case ALIAS_FILE: return "file";
    case ALIAS_COMMAND: return "command";
    case ALIAS_INCLUDE: return "include";
    }
    return "unknown";
}
