/* dataset.h - this rank's shard of an HDF5 image dataset.
 *
 *   Dataset ds;
 *   if (dataset_open_shard(&ds, "data/fashion-mnist-train.h5", rank, world, &err) != ACGAN_OK) ...
 *   dataset_batch(&ds, idx, n, x, y);    // pixels x / 127.5 - 1 into (n, C, H, W), labels into y
 *
 * File schema (see README): `images` uint8 (N, C, H, W); `labels` integer (N) in [0, n_classes);
 * attribute `n_classes` (integer) on the file root; optional `class_names` (strings, n_classes).
 * `paths` may list several files separated by commas: they are read as one concatenated dataset.
 * Rank r of p reads only samples [r*N/p, (r+1)*N/p) from disk.
 */
#ifndef ACGAN_DATASET_H
#define ACGAN_DATASET_H

#include <stdint.h>

#include "acgan/common.h"

#define DATASET_MAX_CLASSES 1000
#define DATASET_NAME_MAX 64
#define DATASET_MAX_SAMPLES ((int64_t)1 << 40) /* per file: keeps index arithmetic far from overflow */

typedef struct {
    int64_t n_total;      /* samples in all files together */
    int c, h, w;
    int n_classes;
    char (*class_names)[DATASET_NAME_MAX]; /* (n_classes), "" where unknown */
    int64_t shard_begin;  /* global index of this rank's first sample */
    int64_t shard_count;
    uint8_t *images;      /* (shard_count, c, h, w) */
    int32_t *labels;      /* (shard_count) */
} Dataset;

AcganStatus dataset_open_shard(Dataset *d, const char *paths, int rank, int world, AcganError *err);
void dataset_free(Dataset *d);
/* Copies samples idx[0..n) (shard-local indices) as floats x/127.5-1 and their labels. */
void dataset_batch(const Dataset *d, const int64_t *idx, int n, float *x, int32_t *y);

/* Writes a dataset file in the schema above (used by the IDX converter and tests). class_names may be NULL. */
AcganStatus dataset_write(const char *path, const uint8_t *images, const int32_t *labels, int64_t n, int c, int h,
                          int w, int n_classes, const char *const *class_names, AcganError *err);

#endif
