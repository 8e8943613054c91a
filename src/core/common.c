/* common.c - error messages, the assert hook, checked allocation, clock. */
#include "acgan/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static AcganAbortFn g_abort_fn = NULL; /* installed by dist_init: MPI_Abort on the whole job */
static int g_rank = 0;                 /* for messages only */

AcganStatus acgan_fail(AcganError *err, AcganStatus code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void acgan_set_abort(AcganAbortFn fn, int rank)
{
    g_abort_fn = fn;
    g_rank = rank;
}

void acgan_assert_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "acgan_mpi: rank %d: %s:%d: internal error: %s: ", g_rank, file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    if (g_abort_fn) g_abort_fn(70);
    abort();
}

/* Out of memory is an environment limit, not a bug: say so plainly, then end the whole job. */
static _Noreturn void out_of_memory(size_t bytes)
{
    fprintf(stderr, "acgan_mpi: rank %d: out of memory: cannot allocate %.2f GiB (reduce train.batch_size or "
            "model.img_size, or use more ranks)\n", g_rank, (double)bytes / (1024.0 * 1024.0 * 1024.0));
    fflush(stderr);
    if (g_abort_fn) g_abort_fn(1);
    exit(1);
}

void *acgan_malloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) out_of_memory(bytes);
    return p;
}

void *acgan_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) out_of_memory(SIZE_MAX);
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) out_of_memory(count * size);
    return p;
}

double acgan_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
