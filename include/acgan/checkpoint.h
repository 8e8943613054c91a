/* checkpoint.h - HDF5 checkpoints: named float tensors plus run metadata, written atomically.
 *
 *   CkptTensor t[] = {{"G/params", g->params, g->n_params}, {"G/adam_m", opt->m, opt->n}, ...};
 *   ckpt_save("out/checkpoints/step_0000400.h5", t, n, &meta, config_ini, &err);  // tmp file + rename
 *   ckpt_load(path, t, n, &meta, NULL, 0, &err);   // every tensor must exist with the same count
 *
 * Names with '/' create groups. Tensors use HDF5's Fletcher32 checksum filter, so a corrupted file
 * is reported rather than silently loaded.
 */
#ifndef ACGAN_CHECKPOINT_H
#define ACGAN_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "acgan/common.h"

typedef struct {
    const char *name;
    float *data;
    size_t count;
} CkptTensor;

typedef struct {
    int64_t step;        /* optimizer steps completed */
    int64_t epoch;       /* epoch the next step belongs to */
    int64_t adam_t_g, adam_t_d;
    uint64_t seed;
    int32_t world_size;  /* ranks of the run that wrote it */
} CkptMeta;

AcganStatus ckpt_save(const char *path, const CkptTensor *t, int n_t, const CkptMeta *meta, const char *config_ini,
                      AcganError *err);
/* config_ini (may be NULL) receives the stored configuration text, truncated to cap. */
AcganStatus ckpt_load(const char *path, const CkptTensor *t, int n_t, CkptMeta *meta, char *config_ini, size_t cap,
                      AcganError *err);
/* Newest complete dir/step_NNNNNNN.h5 by step number; returns 0 and sets path, or -1 when none. */
int ckpt_find_latest(const char *dir, char *path, size_t cap);

#define CKPT_LIST_PATH 2048
/* Every dir/step_<digits>.h5 (no .tmp), newest first; returns how many were stored (at most cap), 0 when
 * dir does not exist, -1 when it exists but cannot be read (errno set). Files are not opened. */
int ckpt_list(const char *dir, char (*paths)[CKPT_LIST_PATH], int cap);
/* Opens path and reads every tensor in full (checking its checksums) and the metadata, without
 * knowing the model: ACGAN_OK for a complete, uncorrupted checkpoint. hash (may be NULL) receives a
 * 64-bit hash of every tensor's name and bits and of the metadata: equal hashes = identical states.
 * meta may be NULL. */
AcganStatus ckpt_verify(const char *path, CkptMeta *meta, uint64_t *hash, AcganError *err);

#endif
