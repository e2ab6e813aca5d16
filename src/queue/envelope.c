/*
 * envelope.c - life cycle of struct envelope (see envelope.h).
 *
 * Trusts: its callers; the strings it copies were validated where they
 * entered (addr.c, xtext.c, the queue file reader).
 */
#include "queue/envelope.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

void envelope_init(struct envelope *e)
{
    memset(e, 0, sizeof(*e));
    e->uid = -1;
}

static void envelope_free_rcpts(struct envelope *e)
{
    for (size_t i = 0; i < e->nrcpt; i++) {
        free(e->rcpt[i].addr);
        free(e->rcpt[i].orcpt);
    }
    free(e->rcpt);
    e->rcpt = NULL;
    e->nrcpt = e->rcpt_cap = 0;
}

void envelope_free(struct envelope *e)
{
    envelope_free_rcpts(e);
    free(e->sender);
    free(e->client_name);
    free(e->client_addr);
    free(e->helo);
    free(e->proto);
    free(e->tls);
    free(e->envid);
    free(e->origin);
    free(e->fullname);
    envelope_init(e);
}

void envelope_set(char **field, const char *value)
{
    /* Copy first: value may point into the old string. */
    char *copy = value ? xstrdup(value) : NULL;
    free(*field);
    *field = copy;
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void envelope_copy(struct envelope *dst, const struct envelope *src)
{
    struct envelope tmp = *src;
    tmp.sender = dup_or_null(src->sender);
    tmp.client_name = dup_or_null(src->client_name);
    tmp.client_addr = dup_or_null(src->client_addr);
    tmp.helo = dup_or_null(src->helo);
    tmp.proto = dup_or_null(src->proto);
    tmp.tls = dup_or_null(src->tls);
    tmp.envid = dup_or_null(src->envid);
    tmp.origin = dup_or_null(src->origin);
    tmp.fullname = dup_or_null(src->fullname);
    tmp.rcpt = NULL;
    tmp.nrcpt = tmp.rcpt_cap = 0;
    if (src->nrcpt > 0) {
        tmp.rcpt = xcalloc(src->nrcpt, sizeof(*tmp.rcpt));
        tmp.rcpt_cap = tmp.nrcpt = src->nrcpt;
        for (size_t i = 0; i < src->nrcpt; i++) {
            tmp.rcpt[i] = src->rcpt[i];
            tmp.rcpt[i].addr = dup_or_null(src->rcpt[i].addr);
            tmp.rcpt[i].orcpt = dup_or_null(src->rcpt[i].orcpt);
        }
    }
    /* dst may equal src only if the caller is confused; do not free first. */
    *dst = tmp;
}

size_t envelope_add_rcpt(struct envelope *e, const char *addr, const char *orcpt, unsigned notify)
{
    if (e->nrcpt == e->rcpt_cap) {
        size_t cap = e->rcpt_cap ? e->rcpt_cap * 2 : 4;
        if (cap > (size_t)-1 / sizeof(*e->rcpt))
            msg_panic("envelope_add_rcpt: recipient count overflow");
        e->rcpt = xrealloc(e->rcpt, cap * sizeof(*e->rcpt));
        e->rcpt_cap = cap;
    }
    struct rcpt *r = &e->rcpt[e->nrcpt];
    r->addr = xstrdup(addr);
    r->orcpt = dup_or_null(orcpt);
    r->notify = notify;
    r->status = RCPT_PENDING;
    r->status_off = -1;
    return e->nrcpt++;
}
