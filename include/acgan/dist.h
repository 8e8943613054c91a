/* dist.h - the only module that talks to MPI.
 *
 *   dist_init(&argc, &argv);
 *   int r = dist_rank(), p = dist_size();
 *   size_t n; float *buf = model_sync_buffer(model, &n);  // gradients + BatchNorm statistics
 *   dist_allreduce_mean(buf, n);                          // one collective per model per step
 *   if (!dist_agree(status == ACGAN_OK, err.msg)) { dist_finalize(); return 1; }
 *   dist_finalize();
 *
 * Without dist_init (single-process unit tests) every call behaves as a world of one.
 */
#ifndef ACGAN_DIST_H
#define ACGAN_DIST_H

#include <stddef.h>
#include <stdint.h>

void dist_init(int *argc, char ***argv); /* MPI_Init; installs the MPI_Abort hook for ACGAN_ASSERT */
void dist_finalize(void);
int dist_rank(void);
int dist_size(void);
int dist_local_size(void); /* ranks on this node (shared-memory communicator) */

void dist_allreduce_mean(float *buf, size_t n); /* in place, sum / size */
void dist_allreduce_sum_double(double *buf, int n);
void dist_bcast(void *buf, size_t bytes, int root);
void dist_barrier(void);

/* Collective agreement: returns 1 when ok on every rank. Otherwise exactly one rank (the lowest
 * failing one) prints msg (when non-empty) to stderr, and every rank returns 0. */
int dist_agree(int ok, const char *msg);

/* Collective: 1 when every rank passes the same value. */
int dist_all_equal_u64(uint64_t v);
/* Collective: all[r] = v of rank r (all has dist_size() entries). */
void dist_allgather_u64(uint64_t v, uint64_t *all);
/* Collective: 1 when flag is nonzero on any rank. */
int dist_any(int flag);


#endif
