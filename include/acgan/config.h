/* config.h - the run configuration: an INI file (parsed with inih) plus command-line overrides.
 *
 *   Config c;
 *   AcganError err;
 *   if (config_load(&c, "train.cfg", argc - 2, argv + 2, &err) != ACGAN_OK) ...   // "section.key=value" overrides
 *   config_print_help(stdout);    // every key with its default and meaning
 *
 * Unknown sections or keys and unparsable values are errors naming the file and line (or the
 * override argument). Every key is listed in one table in config.c.
 */
#ifndef ACGAN_CONFIG_H
#define ACGAN_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "acgan/common.h"

#define CONFIG_PATH_MAX 1024

typedef struct {
    /* [data] */
    char data_train[CONFIG_PATH_MAX]; /* HDF5 file, or comma-separated shard files */
    /* [model] */
    int latent_dim;
    int img_size;
    double bn_eps;       /* eps of the BatchNorm layers after convolutions (design: 0.8) */
    double bn_momentum;  /* PyTorch convention: running = (1-m) running + m batch */
    char discriminator[16]; /* conv | mlp */
    char label_input[16];   /* concat | multiply */
    char aux_loss[24];      /* logits | softmax_then_ce */
    /* [train] */
    int batch_size;     /* global batch, split across ranks */
    int epochs;
    int64_t max_steps;  /* 0: no limit other than epochs */
    double lr, beta1, beta2;
    uint64_t seed;
    int log_interval;
    int check_interval; /* steps between replica hash comparisons; 0 = never */
    char nonfinite[8];  /* stop | skip */
    /* [output] */
    char out_dir[CONFIG_PATH_MAX];
    int sample_interval;
    int checkpoint_interval;
    char resume[CONFIG_PATH_MAX]; /* auto | never | path to a checkpoint */
} Config;

void config_defaults(Config *c);
/* Parses path (NULL: defaults only), then the overrides in order; later values win. */
AcganStatus config_load(Config *c, const char *path, int n_overrides, char **overrides, AcganError *err);
/* Sets one key from "section.key=value"; origin names the source in error messages. */
AcganStatus config_set(Config *c, const char *section, const char *key, const char *value, const char *origin,
                       AcganError *err);
void config_print_help(FILE *f);
/* Writes the whole configuration as INI text (stored in checkpoints). Returns bytes needed. */
size_t config_to_ini(const Config *c, char *buf, size_t cap);

#endif
