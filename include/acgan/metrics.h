/* metrics.h - OUT/metrics.csv, written by rank 0.
 *
 *   Metrics m;
 *   metrics_open(&m, "out/metrics.csv", resume_step, &err);   // keeps rows with step <= resume_step
 *   metrics_log(&m, &row);
 *   metrics_close(&m);
 */
#ifndef ACGAN_METRICS_H
#define ACGAN_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "acgan/common.h"

typedef struct {
    int64_t step, epoch;
    double d_loss, g_loss;
    double d_real, d_fake; /* mean D probability of "real" on real and generated images */
    double aux_acc;        /* D's class accuracy on real + generated */
    double img_per_sec;
} MetricsRow;

typedef struct {
    FILE *f;
} Metrics;

#define METRICS_HEADER "step,epoch,d_loss,g_loss,d_real,d_fake,aux_acc,img_per_sec"

AcganStatus metrics_open(Metrics *m, const char *path, int64_t resume_step, AcganError *err);
void metrics_log(Metrics *m, const MetricsRow *r);
void metrics_close(Metrics *m);

#endif
