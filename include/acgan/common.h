/* common.h - status codes, error messages and the assert macro shared by every module.
 *
 *   AcganError err = {0};
 *   if (dataset_open_shard(&ds, path, rank, world, &err) != ACGAN_OK)
 *       fprintf(stderr, "%s\n", err.msg);      // "data/x.h5: dataset 'images': expected rank 4, got 3"
 *
 * Environment errors (files, configs, datasets) are returned as a status with a message.
 * Bugs and broken invariants use ACGAN_ASSERT, which prints file:line and the rank and aborts the
 * whole job (through the hook installed by dist_init, so no rank is left waiting in a collective).
 */
#ifndef ACGAN_COMMON_H
#define ACGAN_COMMON_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    ACGAN_OK = 0,
    ACGAN_ERR_ARG,     /* bad command line */
    ACGAN_ERR_CONFIG,  /* bad config file or value */
    ACGAN_ERR_DATA,    /* missing or malformed dataset */
    ACGAN_ERR_CKPT,    /* missing, corrupt or incompatible checkpoint */
    ACGAN_ERR_IO,      /* cannot read/write a file or directory */
    ACGAN_ERR_NOMEM,
    ACGAN_ERR_RUNTIME, /* training went wrong: replicas diverged, non-finite values */
    ACGAN_STOPPED,     /* not an error: stopped by SIGTERM/SIGUSR1 after writing a checkpoint */
} AcganStatus;

#define ACGAN_ERRMSG_MAX 1024

typedef struct {
    AcganStatus code;
    char msg[ACGAN_ERRMSG_MAX];
} AcganError;

/* Records code and a printf-style message in err (if err is non-NULL); returns code. */
AcganStatus acgan_fail(AcganError *err, AcganStatus code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The function called by ACGAN_ASSERT after printing; dist_init installs MPI_Abort here. */
typedef void (*AcganAbortFn)(int code);
void acgan_set_abort(AcganAbortFn fn, int rank);
_Noreturn void acgan_assert_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define ACGAN_ASSERT(cond, ...)                                                        \
    do {                                                                               \
        if (!(cond)) acgan_assert_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);        \
    } while (0)

/* malloc/calloc that assert on failure (out of memory is not recoverable mid-training). */
void *acgan_malloc(size_t bytes);
void *acgan_calloc(size_t count, size_t size);

/* Wall-clock seconds from a monotonic clock. */
double acgan_now(void);

#endif
