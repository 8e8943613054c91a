/* dist.c - the thin MPI layer: init, rank/size, allreduce-mean of an arena, broadcast, agreement, abort.
 * Before dist_init (unit tests) every function acts as a world of one without touching MPI. */
#include "acgan/dist.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "acgan/common.h"

static int g_on = 0; /* MPI initialised by dist_init */
static int g_rank = 0, g_size = 1, g_local = 1;

static void abort_job(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

void dist_init(int *argc, char ***argv)
{
    /* OpenBLAS and the layers' thread pool run threads, but only the main thread calls MPI. */
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    g_on = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &g_local);
    MPI_Comm_free(&node);
    /* Errors in MPI calls return to us only to be fatal anyway: keep the default abort-on-error. */
    acgan_set_abort(abort_job, g_rank);
    ACGAN_ASSERT(provided >= MPI_THREAD_FUNNELED, "the MPI library does not support MPI_THREAD_FUNNELED");
}

void dist_finalize(void)
{
    if (g_on) MPI_Finalize();
    g_on = 0;
}

int dist_rank(void) { return g_rank; }
int dist_size(void) { return g_size; }
int dist_local_size(void) { return g_local; }

void dist_allreduce_mean(float *buf, size_t n)
{
    if (!g_on || g_size == 1) return;
    for (size_t off = 0; off < n; off += INT_MAX / 2) {
        size_t len = n - off < (size_t)INT_MAX / 2 ? n - off : (size_t)INT_MAX / 2;
        MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)len, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
    const float inv = 1.0f / (float)g_size;
    for (size_t i = 0; i < n; i++) buf[i] *= inv;
}

void dist_allreduce_sum_double(double *buf, int n)
{
    if (!g_on || g_size == 1) return;
    MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

void dist_bcast(void *buf, size_t bytes, int root)
{
    if (!g_on || g_size == 1) return;
    char *p = buf;
    for (size_t off = 0; off < bytes; off += INT_MAX / 2) {
        size_t len = bytes - off < (size_t)INT_MAX / 2 ? bytes - off : (size_t)INT_MAX / 2;
        MPI_Bcast(p + off, (int)len, MPI_BYTE, root, MPI_COMM_WORLD);
    }
}

void dist_barrier(void)
{
    if (g_on) MPI_Barrier(MPI_COMM_WORLD);
}

int dist_agree(int ok, const char *msg)
{
    int first_bad = ok ? INT_MAX : g_rank;
    if (g_on && g_size > 1) MPI_Allreduce(MPI_IN_PLACE, &first_bad, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first_bad == INT_MAX) return 1;
    if (first_bad == g_rank && msg && msg[0]) {
        if (g_size > 1)
            fprintf(stderr, "acgan_mpi: error (rank %d): %s\n", g_rank, msg);
        else
            fprintf(stderr, "acgan_mpi: error: %s\n", msg);
        fflush(stderr);
    }
    return 0;
}

int dist_all_equal_u64(uint64_t v)
{
    if (!g_on || g_size == 1) return 1;
    uint64_t lo = v, hi = v;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    return lo == hi;
}

void dist_allgather_u64(uint64_t v, uint64_t *all)
{
    if (!g_on || g_size == 1) {
        all[0] = v;
        return;
    }
    MPI_Allgather(&v, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD);
}

int dist_any(int flag)
{
    if (!g_on || g_size == 1) return flag != 0;
    int v = flag != 0;
    MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return v;
}
