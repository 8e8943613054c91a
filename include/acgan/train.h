/* train.h - the training loop: data shard -> batches -> ACGAN steps -> metrics, samples, checkpoints.
 *
 *   Config cfg;  config_load(&cfg, "train.cfg", 0, NULL, &err);
 *   int rc = train_run(&cfg, &err);   // collective: every rank returns the same status
 *
 * Rank 0 writes OUT/metrics.csv, OUT/samples/step_NNNNNNN.png and OUT/checkpoints/step_NNNNNNN.h5.
 * Errors on any rank stop all ranks: the lowest failing rank prints its message.
 */
#ifndef ACGAN_TRAIN_H
#define ACGAN_TRAIN_H

#include "acgan/acgan.h"
#include "acgan/common.h"
#include "acgan/config.h"

/* Fills an AcganSpec from the config and the dataset's classes and channels. */
AcganStatus train_spec_from_config(const Config *cfg, int n_classes, int channels, AcganSpec *spec, AcganError *err);
/* Saves a complete training state (rank 0; every tensor must be finite). */
AcganStatus train_save_checkpoint(const char *path, Acgan *a, const Config *cfg, int64_t step, int64_t epoch,
                                  AcganError *err);

AcganStatus train_run(const Config *cfg, AcganError *err);

#endif
