/*
 * qid.c - queue IDs (see qid.h): 12 upper-case hex digits of the
 * microsecond wall clock.
 *
 * 48 bits of microseconds wrap after about 8.9 years, long past any
 * message's queue lifetime, so IDs stay unique among queued messages and
 * sort by arrival. Within the process the value is forced to increase
 * strictly, so two messages in the same microsecond (or after the clock
 * stepped back) still get distinct IDs. Between processes (daemon and the
 * sendmail command) a clash is caught by O_EXCL when the file is created.
 *
 * Trusts: nothing.
 */
#include "queue/qid.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define QID_DIGITS 12
#define QID_MASK ((UINT64_C(1) << (4 * QID_DIGITS)) - 1)

static pthread_mutex_t qid_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t qid_last;

void qid_new(char out[QID_SIZE])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;

    pthread_mutex_lock(&qid_lock);
    if (now <= qid_last)
        now = qid_last + 1;
    qid_last = now;
    pthread_mutex_unlock(&qid_lock);

    snprintf(out, QID_SIZE, "%012llX", (unsigned long long)(now & QID_MASK));
}

bool qid_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
            return false;
        if (n >= 20)
            return false;
    }
    return n >= 6;
}
