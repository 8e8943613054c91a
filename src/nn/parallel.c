/* parallel.c - a pool of worker threads for parallel_for, started on first use.
 *
 * Workers sleep on a condition variable between calls; a call publishes (fn, ctx, n_tasks) under the
 * mutex with a new generation number, wakes them, works on tasks itself, then waits until every worker
 * has finished the generation. Tasks are claimed with an atomic counter. The pool only grows; workers
 * whose index is not below the call's max_workers skip it. They are never joined: they hold no
 * resources but their stacks and end with the process.
 */
#include "parallel.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "acgan/common.h"

#define PARALLEL_MAX_THREADS 64

static struct {
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    int n_workers;               /* started threads besides callers, ids 1..n_workers */
    unsigned long generation;    /* bumped by every parallel_for */
    unsigned long spawn_gen;     /* generation before the call that started the newest workers */
    ParallelFn fn;
    void *ctx;
    int n_tasks, max_workers;
    atomic_int next;             /* next unclaimed task */
    int busy;                    /* workers yet to finish the current generation */
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .start = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

static void parallel_work(int worker)
{
    for (;;) {
        const int t = atomic_fetch_add(&pool.next, 1);
        if (t >= pool.n_tasks) return;
        pool.fn(pool.ctx, t, worker);
    }
}

static void *parallel_worker(void *arg)
{
    const int id = (int)(intptr_t)arg;
    pthread_mutex_lock(&pool.mu);
    /* Started inside a call that has already published its generation: take part in it. That call
     * cannot finish without this worker, so spawn_gen still belongs to it. */
    unsigned long seen = pool.spawn_gen;
    for (;;) {
        while (pool.generation == seen) pthread_cond_wait(&pool.start, &pool.mu);
        seen = pool.generation;
        const int run = id < pool.max_workers;
        pthread_mutex_unlock(&pool.mu);
        if (run) parallel_work(id);
        pthread_mutex_lock(&pool.mu);
        if (--pool.busy == 0) pthread_cond_signal(&pool.done);
    }
    return NULL;
}

int parallel_threads(void)
{
    int t = openblas_get_num_threads();
    if (t < 1) t = 1;
    return t < PARALLEL_MAX_THREADS ? t : PARALLEL_MAX_THREADS;
}

void parallel_for(int n_tasks, int max_workers, ParallelFn fn, void *ctx)
{
    int threads = parallel_threads();
    if (threads > max_workers) threads = max_workers;
    if (threads > n_tasks) threads = n_tasks;
    if (threads <= 1) {
        for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&pool.mu);
    if (pool.n_workers < threads - 1) pool.spawn_gen = pool.generation;
    while (pool.n_workers < threads - 1) {
        pthread_t th;
        const int id = pool.n_workers + 1;
        ACGAN_ASSERT(pthread_create(&th, NULL, parallel_worker, (void *)(intptr_t)id) == 0,
                     "parallel_for: cannot start worker thread %d", id);
        pthread_detach(th);
        pool.n_workers++;
    }
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n_tasks = n_tasks;
    pool.max_workers = threads;
    atomic_store(&pool.next, 0);
    pool.busy = pool.n_workers;
    pool.generation++;
    pthread_cond_broadcast(&pool.start);
    pthread_mutex_unlock(&pool.mu);

    parallel_work(0);

    pthread_mutex_lock(&pool.mu);
    while (pool.busy > 0) pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
}
