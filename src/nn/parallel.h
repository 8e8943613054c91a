/* parallel.h - run a layer's independent tasks on the process's BLAS threads (private to src/nn).
 *
 *   int T = parallel_threads();                 // at layer creation: size per-worker scratch for T
 *   parallel_for(n, T, fn, ctx);                // fn(ctx, task, worker), task in [0, n), worker in [0, T)
 *
 * The thread count is OpenBLAS's (OPENBLAS_NUM_THREADS, or what main set from cores per rank), so ranks
 * that fill the cores run every task inline on the calling thread, and one process per node runs the
 * direct convolution on as many cores as its GEMMs. Tasks are handed out dynamically; a task must not
 * depend on which worker runs it except through per-worker buffers indexed by `worker`.
 */
#ifndef ACGAN_PARALLEL_H
#define ACGAN_PARALLEL_H

typedef void (*ParallelFn)(void *ctx, int task, int worker);

/* Threads parallel_for would use now (>= 1). */
int parallel_threads(void);

/* Runs fn for every task in [0, n_tasks) on at most max_workers threads (the caller is worker 0) and
 * returns when all have finished. Not reentrant: one parallel_for at a time per process. */
void parallel_for(int n_tasks, int max_workers, ParallelFn fn, void *ctx);

#endif
