/*
 * map.h - lookup tables named as in Postfix: "hash:/path", "texthash:/path"
 * (both read the text file itself; there is no compile step), "static:value",
 * "inline:{ key=value, key2=value2 }".
 *
 * A text table is "key whitespace value" per line, '#' comment lines, lines
 * starting with whitespace continue the previous one, keys folded to lower
 * case. Loaded into memory (a hash table) and reloaded when the file's mtime
 * or size changes (checked at most once a second), so edits take effect
 * without a restart. Errors name the file and line; a reload that fails
 * keeps the previous contents and logs a warning. Of two entries with the
 * same key the first wins (a warning names both lines), as with postmap.
 * "inline:{ k=v, { key = value with spaces } }" and "static:{ text }" take
 * braces as in Postfix.
 *
 * Trusts: configuration files written by the administrator.
 */
#ifndef YUBIN_MAP_H
#define YUBIN_MAP_H

#include <stdbool.h>
#include "lib/buf.h"

struct map;
/* Open "type:name"; NULL with a message in err. */
struct map *map_open(const char *spec, struct buf *err);
/* Exact-key lookup (key is folded to lower case). Returns the value or NULL.
 * *line (optional) gets the line number the entry came from. The returned
 * string is valid until the next lookup on this map. */
const char *map_lookup(struct map *m, const char *key, int *line);
const char *map_name(const struct map *m);   /* "hash:/etc/yubin/transport" */
const char *map_file(const struct map *m);   /* the file, or NULL */
/* Walk every entry (for checks and tests). */
void map_walk(struct map *m, void (*fn)(void *arg, const char *key, const char *value, int line), void *arg);
void map_close(struct map *m);

#endif
